// Accepts distribution connections and runs their handshakes, all on the
// loop thread, none of them blocking.
//
// A connection that has not finished its handshake is a pending handshake:
// a libuv TCP handle, a state machine (net/handshake.hpp) and a few hundred
// bytes. Pending handshakes are bounded three ways, so that silent or
// trickling sockets cannot keep anyone out: the whole handshake has a
// deadline (--handshake-timeout); at most --max-handshakes are pending; at
// most --max-handshakes-per-address come from one address. Past a bound the
// oldest pending handshake (of that address, or overall) is dropped to make
// room: a peer that is slow on purpose loses its place to one that is not.
// What is refused or dropped is logged, within the log's per-line budget.
// A finished handshake becomes a Connection (net/connection.hpp).
#pragma once

#include "app/stats.hpp"
#include "net/handshake.hpp"

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

namespace pycnode::net {

struct HandshakeLimits {
    unsigned timeout_ms = 5000;
    std::size_t max_pending = 1024;
    std::size_t max_pending_per_address = 64;
};

class Listener {
public:
    // A finished handshake: a connected socket (ours to keep) and the peer's name.
    using Accepted = std::function<void(int fd, std::string peer)>;

    Listener(uv_loop_t* loop, HandshakeIdentity me, HandshakeLimits limits, Stats& stats, Accepted accepted);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Takes the listening socket and starts accepting. Throws on failure.
    void start(int listen_fd);
    // Stops accepting and drops every pending handshake. Idempotent.
    void stop();
    std::size_t pending() const { return pending_.size(); }

    struct Pending;  // one handshake in progress (listener.cpp)

private:

    void on_connection();
    void make_room(const std::string& address);
    void on_read(Pending& p, ssize_t nread);
    void finish(Pending& p);
    void refuse(Pending& p, const std::string& why);
    void drop(Pending& p);
    void expire();

    uv_loop_t* loop_;
    const HandshakeIdentity me_;
    const HandshakeLimits limits_;
    Stats& stats_;
    Accepted accepted_;
    uv_tcp_t server_{};
    uv_timer_t deadline_timer_{};
    bool started_ = false;
    bool stopped_ = false;
    std::list<Pending*> pending_;  // oldest first
    std::unordered_map<std::string, std::size_t> per_address_;
    std::array<char, 2048> read_buffer_{};  // every read callback is synchronous: one buffer serves all
};

}  // namespace pycnode::net
