// The libuv loop thread: accepts connections, runs their handshakes
// (listener.hpp), owns every connection and reads every socket.
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
#include "pool/reply_queue.hpp"

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

class Loop {
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

    // Loop thread.
    uv_loop_t* uv() { return &loop_; }
    dispatch::Dispatcher& dispatcher() { return *dispatcher_; }
    const Options& options() const { return options_; }
    Stats& stats() { return stats_; }
    std::vector<std::string_view> peers() const;
    void forget(std::uint64_t id);
    void stop();

private:
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
    uv_prepare_t before_sleep_{};  // the last callback before the loop blocks: writes backlogs
    uv_timer_t tick_timer_{};
    uv_timer_t drain_timer_{};
    uv_timer_t linger_timer_{};  // after stop(): closes connections whose peer did not close its side
    uv_signal_t sigint_{};
    uv_signal_t sigterm_{};

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
