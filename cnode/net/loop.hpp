// The libuv loop: accepts connections, runs their handshakes
// (listener.hpp), owns every connection and reads every socket. It is run
// by whoever holds its lease (pool/loop_lease.hpp): an idle event worker,
// which then runs the requests it reads itself, or the loop thread, which
// runs it when no worker is idle, when a worker holds it too long while
// busy, and at shutdown (loop_turns.cpp).
//
// Other threads reach it through one door, a locked hand-off plus
// uv_async_send: a worker whose reply did not fit in a socket asks for its
// backlog to be written (waking the loop only when it may be asleep, see
// reply_queue.hpp). Workers send their replies themselves (outbox.hpp).
// Nothing here touches Python.
#pragma once

#include "app/options.hpp"
#include "app/stats.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "pool/job.hpp"
#include "pool/loop_lease.hpp"
#include "pool/reply_queue.hpp"
#include "pool/shared_loop.hpp"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pycnode::dispatch {
class Dispatcher;
}

namespace pycnode::net {

class Loop final : public pool::SharedLoop {
public:
    Loop(const Options& options, Stats& stats, HandshakeIdentity me);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Any thread: connection ids whose outbox has a backlog for the loop to write.
    pool::ReplyQueue<std::uint64_t>& backlogs() { return backlogs_; }

    // Accepts on `listen_fd` (taking it) and serves until SIGINT/SIGTERM,
    // then drains: returns once every request in flight is answered, or at
    // the drain deadline (then abandoned() is true). A second signal exits
    // the process at once.
    void run(dispatch::Dispatcher& dispatcher, int listen_fd);
    bool abandoned() const { return abandoned_; }

    // pool::SharedLoop: what an event worker holding the lease uses.
    pool::LoopLease& lease() override { return lease_; }
    int fd() const override { return uv_backend_fd(&loop_); }
    int timeout_ms() override;
    void run_turn() override;
    void arm_rescue(std::int64_t at_ns) override;
    void wake_loop_thread() override;
    // Before run(): the loop thread keeps the lease (it reads every request
    // and hands it to a worker).
    void keep_lease() { lease_.pin(); }

    // The lease's holder (loop thread or event worker).
    uv_loop_t* uv() { return &loop_; }
    dispatch::Dispatcher& dispatcher() { return *dispatcher_; }
    const Options& options() const { return options_; }
    Stats& stats() { return stats_; }
    std::vector<std::string_view> peers() const;
    void forget(std::uint64_t id);
    void stop();

private:
    void open_descriptors();
    void close_descriptors();
    void serve_turns();
    void on_rescue_timer();
    void watch(int fd, bool on);
    bool watchers_pending() const;
    void adopt(int fd, std::string peer);
    void write_backlogs(bool before_sleep);
    void check_connections();
    void begin_drain(int signum);
    void check_drain();
    bool all_drained() const;
    std::vector<std::uint64_t> connection_ids() const;

    const Options& options_;
    Stats& stats_;
    uv_loop_t loop_{};
    uv_async_t reply_async_{};
    uv_timer_t tick_timer_{};
    uv_timer_t drain_timer_{};
    uv_timer_t linger_timer_{};  // after stop(): closes connections whose peer did not close its side
    uv_signal_t sigint_{};
    uv_signal_t sigterm_{};

    pool::LoopLease lease_;
    int epoll_fd_ = -1;   // the loop thread sleeps here: rescue_fd_, lease_fd_, and the loop when it holds the lease
    int rescue_fd_ = -1;  // a timerfd: look at a busy holder
    int lease_fd_ = -1;   // an eventfd: a worker gave the lease back
    bool loop_watched_ = false;

    Listener listener_;
    pool::ReplyQueue<std::uint64_t> backlogs_;
    std::vector<std::uint64_t> backlog_batch_;

    dispatch::Dispatcher* dispatcher_ = nullptr;
    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_id_ = 1;
    bool stopping_ = false;
    bool draining_ = false;
    bool abandoned_ = false;  // the drain deadline passed with requests in flight
    std::uint64_t drain_deadline_ms_ = 0;
};

}  // namespace pycnode::net
