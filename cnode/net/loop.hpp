// The libuv loop thread: owns every connection and reads every socket.
//
// Other threads reach it only through two doors, each a locked hand-off plus
// uv_async_send: the acceptor adopts new sockets, and a worker whose reply
// did not fit in a socket asks for its backlog to be written (waking the
// loop only when it may be asleep, see reply_queue.hpp). Workers send their
// replies themselves (outbox.hpp).
// Nothing here touches Python.
#pragma once

#include "app/options.hpp"
#include "app/stats.hpp"
#include "net/connection.hpp"
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
    Loop(const Options& options, Stats& stats);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Any thread.
    void adopt(int fd, std::string peer);
    // Connection ids whose outbox has a backlog for the loop to write.
    pool::ReplyQueue<std::uint64_t>& backlogs() { return backlogs_; }

    // Runs until SIGINT/SIGTERM; `on_stop` runs first thing when stopping.
    void run(dispatch::Dispatcher& dispatcher, std::function<void()> on_stop);

    // Loop thread.
    uv_loop_t* uv() { return &loop_; }
    dispatch::Dispatcher& dispatcher() { return *dispatcher_; }
    const Options& options() const { return options_; }
    Stats& stats() { return stats_; }
    std::vector<std::string_view> peers() const;
    void forget(std::uint64_t id);
    void stop();

private:
    void adopt_pending();
    void write_backlogs(bool before_sleep);
    void check_connections();

    const Options& options_;
    Stats& stats_;
    uv_loop_t loop_{};
    uv_async_t adopt_async_{};
    uv_async_t reply_async_{};
    uv_prepare_t before_sleep_{};  // the last callback before the loop blocks: writes backlogs
    uv_timer_t tick_timer_{};
    uv_signal_t sigint_{};
    uv_signal_t sigterm_{};

    std::mutex adopt_mutex_;
    std::vector<std::pair<int, std::string>> adopt_queue_;
    bool accepting_ = true;  // under adopt_mutex_

    pool::ReplyQueue<std::uint64_t> backlogs_;
    std::vector<std::uint64_t> backlog_batch_;

    dispatch::Dispatcher* dispatcher_ = nullptr;
    std::function<void()> on_stop_;
    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_id_ = 1;
    bool stopping_ = false;
};

}  // namespace pycnode::net
