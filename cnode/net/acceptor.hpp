// Accepts distribution connections and runs their handshakes off the loop.
//
// ei's handshake blocks, so it never runs on the loop thread: one thread
// accepts sockets, and a few handshake threads run ei_accept_tmo on them in
// parallel (net/handoff_socket.hpp), each step bounded by the handshake
// timeout. A silent or hostile peer therefore holds up one handshake thread
// for a bounded time, never a connected node and never the other
// handshakes. A failed handshake (wrong cookie, garbage, a port scanner) is
// logged and counted.
#pragma once

#include "app/stats.hpp"
#include "net/node.hpp"
#include "pool/job_queue.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace pycnode::net {

class Acceptor {
public:
    using Adopt = std::function<void(int fd, std::string peer)>;

    Acceptor(Node& node, unsigned handshake_timeout_ms, unsigned handshake_threads, Stats& stats, Adopt adopt);
    ~Acceptor();  // stops and joins

    void stop();

private:
    void accept_connections();
    void run_handshakes(unsigned index);
    void handshake(ei_cnode& ec, int listen_fd, struct HandoffSlot& slot, int fd);

    Node& node_;
    unsigned timeout_ms_;
    Stats& stats_;
    Adopt adopt_;
    std::atomic<bool> stopping_{false};
    pool::JobQueue<int> accepted_;
    std::vector<std::thread> handshakers_;
    std::thread acceptor_;
};

}  // namespace pycnode::net
