// Runs distribution handshakes on a thread of its own.
//
// ei_accept_tmo performs the whole handshake and blocks while doing it, so it
// must never run on the loop thread: a slow or hostile peer would stall every
// connected node. Each step is bounded by the handshake timeout; a failed
// handshake (wrong cookie, garbage, a port scanner) is logged and forgotten.
#pragma once

#include "net/node.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace pycnode::net {

class Acceptor {
public:
    using Adopt = std::function<void(int fd, std::string peer)>;

    Acceptor(Node& node, unsigned handshake_timeout_ms, Adopt adopt);
    ~Acceptor();  // stops and joins

    void stop();
    std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

private:
    void run();

    Node& node_;
    unsigned timeout_ms_;
    Adopt adopt_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> refused_{0};
    std::thread thread_;
};

}  // namespace pycnode::net
