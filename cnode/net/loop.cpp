#include "net/loop.hpp"

#include "app/log.hpp"

#include <unistd.h>

#include <csignal>
#include <stdexcept>

namespace pycnode::net {
namespace {

template <class Handle>
uv_handle_t* as_handle(Handle* h) {
    return reinterpret_cast<uv_handle_t*>(h);
}

void check(int err, const char* what) {
    if (err) throw std::runtime_error(fmt::format("{}: {}", what, uv_strerror(err)));
}

}  // namespace

Loop::Loop(const Options& options, Stats& stats)
    : options_(options), stats_(stats), backlogs_([this] { uv_async_send(&reply_async_); }) {
    check(uv_loop_init(&loop_), "uv_loop_init");
    loop_.data = this;
    check(uv_async_init(&loop_, &adopt_async_, [](uv_async_t* a) { static_cast<Loop*>(a->loop->data)->adopt_pending(); }),
          "uv_async_init");
    check(uv_async_init(&loop_, &reply_async_,
                        [](uv_async_t* a) {
                            auto* self = static_cast<Loop*>(a->loop->data);
                            self->backlogs_.consumer_awake();
                            self->write_backlogs(false);
                        }),
          "uv_async_init");
    // libuv runs prepare callbacks last before it blocks for I/O, and every
    // I/O callback (reply_async_, socket reads) after waking and before the
    // next prepare: the loop tells the reply queue it is awake in those and
    // about to sleep in this one. Unref'd: it must not keep uv_run going.
    check(uv_prepare_init(&loop_, &before_sleep_), "uv_prepare_init");
    uv_unref(as_handle(&before_sleep_));
    check(uv_timer_init(&loop_, &tick_timer_), "uv_timer_init");
    check(uv_signal_init(&loop_, &sigint_), "uv_signal_init");
    check(uv_signal_init(&loop_, &sigterm_), "uv_signal_init");
}

Loop::~Loop() {
    // Workers are joined by now, so nobody can post a reply any more.
    for (uv_handle_t* h : {as_handle(&reply_async_), as_handle(&before_sleep_)})
        if (!uv_is_closing(h)) uv_close(h, nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    for (auto& [fd, peer] : adopt_queue_) ::close(fd);
}

void Loop::adopt(int fd, std::string peer) {
    {
        std::lock_guard lock(adopt_mutex_);
        if (accepting_) {
            adopt_queue_.emplace_back(fd, std::move(peer));
            uv_async_send(&adopt_async_);
            return;
        }
    }
    ::close(fd);
}

void Loop::run(dispatch::Dispatcher& dispatcher, std::function<void()> on_stop) {
    dispatcher_ = &dispatcher;
    on_stop_ = std::move(on_stop);
    auto on_signal = [](uv_signal_t* s, int signum) {
        log::info("signal {}: stopping", signum);
        static_cast<Loop*>(s->loop->data)->stop();
    };
    check(uv_signal_start(&sigint_, on_signal, SIGINT), "uv_signal_start");
    check(uv_signal_start(&sigterm_, on_signal, SIGTERM), "uv_signal_start");
    // Erlang ticks every net_ticktime/4 and gives up after net_ticktime.
    std::uint64_t tick_ms = std::max<std::uint64_t>(options_.net_ticktime * 1000ull / 4, 100);
    // Often enough for the ticks and for --output-stall-timeout.
    std::uint64_t every_ms = std::min<std::uint64_t>(tick_ms / 2, options_.output_stall_s * 1000ull / 4);
    uv_timer_start(&tick_timer_, [](uv_timer_t* t) { static_cast<Loop*>(t->loop->data)->check_connections(); },
                   every_ms, every_ms);
    check(uv_prepare_start(&before_sleep_,
                           [](uv_prepare_t* p) { static_cast<Loop*>(p->loop->data)->write_backlogs(true); }),
          "uv_prepare_start");
    uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::stop() {
    if (stopping_) return;
    stopping_ = true;
    if (on_stop_) on_stop_();
    {
        std::lock_guard lock(adopt_mutex_);
        accepting_ = false;
    }
    for (auto& [id, conn] : connections_) conn->close("pycnode is stopping");
    uv_close(as_handle(&adopt_async_), nullptr);
    uv_close(as_handle(&tick_timer_), nullptr);
    uv_close(as_handle(&sigint_), nullptr);
    uv_close(as_handle(&sigterm_), nullptr);
    // Workers may still post replies until they are joined: keep that door
    // (reply_async_ and before_sleep_) open but let uv_run return without it.
    uv_unref(as_handle(&reply_async_));
}

std::vector<std::string_view> Loop::peers() const {
    std::vector<std::string_view> names;
    names.reserve(connections_.size());
    for (const auto& [id, conn] : connections_)
        if (!conn->closing()) names.push_back(conn->peer());
    return names;
}

void Loop::forget(std::uint64_t id) { connections_.erase(id); }

void Loop::adopt_pending() {
    std::vector<std::pair<int, std::string>> pending;
    {
        std::lock_guard lock(adopt_mutex_);
        pending.swap(adopt_queue_);
    }
    for (auto& [fd, peer] : pending) {
        std::uint64_t id = next_id_++;
        auto conn = std::make_unique<Connection>(*this, id, std::move(peer), options_.max_packet);
        Connection& ref = *conn;
        connections_.emplace(id, std::move(conn));
        if (!ref.open(fd)) ref.close("could not start serving it");
    }
}

// before_sleep: called by the prepare handle, the last thing before the loop
// blocks. Nothing from here to the block may call consumer_awake().
void Loop::write_backlogs(bool before_sleep) {
    if (before_sleep) backlogs_.drain_before_sleep(backlog_batch_);
    else backlogs_.drain(backlog_batch_);
    for (std::uint64_t id : backlog_batch_) {
        auto it = connections_.find(id);
        if (it != connections_.end()) it->second->write_backlog();
    }
    backlog_batch_.clear();
}

void Loop::check_connections() {
    std::uint64_t now = uv_now(&loop_);
    std::uint64_t tick_ms = std::max<std::uint64_t>(options_.net_ticktime * 1000ull / 4, 100);
    std::uint64_t timeout_ms = options_.net_ticktime * 1000ull;
    // close() may erase from the map later (in the close callback), never during this walk.
    for (auto& [id, conn] : connections_) conn->check_liveness(now, tick_ms, timeout_ms);
}

}  // namespace pycnode::net
