#include "net/loop.hpp"

#include "app/log.hpp"
#include "dispatch/dispatcher.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <stdexcept>

namespace pycnode::net {
namespace {

template <class Handle>
uv_handle_t* as_handle(Handle* h) {
    return reinterpret_cast<uv_handle_t*>(h);
}

// How long, once stopping, a connection may wait for its peer's FIN.
constexpr std::uint64_t linger_ms = 2000;

void check(int err, const char* what) {
    if (err) throw std::runtime_error(fmt::format("{}: {}", what, uv_strerror(err)));
}

}  // namespace

Loop::Loop(const Options& options, Stats& stats, HandshakeIdentity me)
    : options_(options), stats_(stats), lease_(std::chrono::milliseconds(2)),
      listener_(&loop_, std::move(me),
                {options.handshake_timeout_ms, options.max_handshakes, options.max_handshakes_per_address}, stats,
                [this](int fd, std::string peer) { adopt(fd, std::move(peer)); }),
      backlogs_([this] { uv_async_send(&reply_async_); }) {
    check(uv_loop_init(&loop_), "uv_loop_init");
    loop_.data = this;
    check(uv_async_init(&loop_, &reply_async_,
                        [](uv_async_t* a) {
                            auto* self = static_cast<Loop*>(a->loop->data);
                            self->backlogs_.consumer_awake();
                            self->write_backlogs(false);
                        }),
          "uv_async_init");
    open_descriptors();
    check(uv_timer_init(&loop_, &tick_timer_), "uv_timer_init");
    check(uv_timer_init(&loop_, &drain_timer_), "uv_timer_init");
    check(uv_timer_init(&loop_, &linger_timer_), "uv_timer_init");
    check(uv_signal_init(&loop_, &sigint_), "uv_signal_init");
    check(uv_signal_init(&loop_, &sigterm_), "uv_signal_init");
}

Loop::~Loop() {
    // Workers are joined by now, so nobody can post a reply any more.
    if (!uv_is_closing(as_handle(&reply_async_))) uv_close(as_handle(&reply_async_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    close_descriptors();
}

void Loop::run(dispatch::Dispatcher& dispatcher, int listen_fd) {
    dispatcher_ = &dispatcher;
    listener_.start(listen_fd);
    auto on_signal = [](uv_signal_t* s, int signum) { static_cast<Loop*>(s->loop->data)->begin_drain(signum); };
    check(uv_signal_start(&sigint_, on_signal, SIGINT), "uv_signal_start");
    check(uv_signal_start(&sigterm_, on_signal, SIGTERM), "uv_signal_start");
    // Erlang ticks every net_ticktime/4 and gives up after net_ticktime.
    std::uint64_t tick_ms = std::max<std::uint64_t>(options_.net_ticktime * 1000ull / 4, 100);
    // Often enough for the ticks and for --output-stall-timeout.
    std::uint64_t every_ms = std::min<std::uint64_t>(tick_ms / 2, options_.output_stall_s * 1000ull / 4);
    uv_timer_start(&tick_timer_, [](uv_timer_t* t) { static_cast<Loop*>(t->loop->data)->check_connections(); },
                   every_ms, every_ms);
    serve_turns();
}

void Loop::stop() {
    if (stopping_) return;
    stopping_ = true;
    listener_.stop();
    // Each connection sends FIN after its last write and closes when the
    // peer closes its side (an Erlang node does at once); the linger timer
    // closes the rest.
    for (std::uint64_t id : connection_ids()) connections_.at(id)->finish("pycnode is stopping");
    uv_timer_start(&linger_timer_,
                   [](uv_timer_t* t) {
                       auto* self = static_cast<Loop*>(t->loop->data);
                       for (std::uint64_t id : self->connection_ids())
                           self->connections_.at(id)->close("pycnode is stopping");
                       uv_close(as_handle(t), nullptr);
                   },
                   linger_ms, 0);
    if (connections_.empty()) uv_close(as_handle(&linger_timer_), nullptr);
    uv_close(as_handle(&tick_timer_), nullptr);
    uv_close(as_handle(&drain_timer_), nullptr);
    uv_close(as_handle(&sigint_), nullptr);
    uv_close(as_handle(&sigterm_), nullptr);
    // Workers may still post replies until they are joined: keep that door
    // (reply_async_) open but let the loop end without it.
    uv_unref(as_handle(&reply_async_));
}

// Graceful shutdown, as gunicorn's graceful timeout: no new connections,
// new requests refused with {error, shutting_down} (dispatcher), requests in
// flight answered on connections kept open, then stop. A second signal
// means "now": nothing is waited for, not even a stuck worker.
void Loop::begin_drain(int signum) {
    if (draining_) {
        log::warning("signal {} again: exiting now, {} requests unanswered", signum,
                     stats_.in_flight.load(std::memory_order_relaxed));
        std::_Exit(1);
    }
    draining_ = true;
    lease_.pin();  // the loop thread ends the loop: workers give the lease back after this turn
    stats_.shutting_down.store(true, std::memory_order_relaxed);
    listener_.stop();
    log::info("signal {}: stopping; {} requests in flight get up to {} ms to finish (a second signal exits at once)",
              signum, stats_.in_flight.load(std::memory_order_relaxed), options_.drain_timeout_ms);
    drain_deadline_ms_ = uv_now(&loop_) + options_.drain_timeout_ms;
    check_drain();
    if (!stopping_)
        uv_timer_start(&drain_timer_, [](uv_timer_t* t) { static_cast<Loop*>(t->loop->data)->check_drain(); }, 5, 5);
}

void Loop::check_drain() {
    if (stopping_) return;
    if (all_drained()) {
        log::info("every request in flight was answered");
        return stop();
    }
    if (uv_now(&loop_) < drain_deadline_ms_) return;
    abandoned_ = true;
    log::warning("drain deadline passed with {} requests unanswered: closing connections",
                 stats_.in_flight.load(std::memory_order_relaxed));
    stop();
}

// No request in flight, no reply held by a worker, and every reply handed
// to a connection has left.
bool Loop::all_drained() const {
    if (!dispatcher_->idle()) return false;
    return std::all_of(connections_.begin(), connections_.end(), [](const auto& c) { return c.second->drained(); });
}

std::vector<std::string_view> Loop::peers() const {
    std::vector<std::string_view> names;
    names.reserve(connections_.size());
    for (const auto& [id, conn] : connections_)
        if (!conn->closing()) names.push_back(conn->peer());
    return names;
}

// A copy: closing a connection may forget it (erase it from the map).
std::vector<std::uint64_t> Loop::connection_ids() const {
    std::vector<std::uint64_t> ids;
    ids.reserve(connections_.size());
    for (const auto& entry : connections_) ids.push_back(entry.first);
    return ids;
}

void Loop::forget(std::uint64_t id) {
    connections_.erase(id);
    // Stopping and every peer has closed: nothing left to linger for.
    if (stopping_ && connections_.empty() && !uv_is_closing(as_handle(&linger_timer_)))
        uv_close(as_handle(&linger_timer_), nullptr);
}

void Loop::adopt(int fd, std::string peer) {
    std::uint64_t id = next_id_++;
    auto conn = std::make_unique<Connection>(*this, id, std::move(peer), options_.max_packet);
    Connection& ref = *conn;
    connections_.emplace(id, std::move(conn));
    if (!ref.open(fd)) ref.close("could not start serving it");
}

// before_sleep: called at the end of each turn (run_turn), the last thing
// before the holder sleeps or runs Python. Nothing from here to then may
// call consumer_awake().
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
