// The libuv loop run in turns by whoever holds its lease (pool/loop_lease.hpp),
// and the loop thread's side of that lease.
//
// libuv is not thread-safe, but one loop may be run by different threads
// one after the other: each turn is uv_run(UV_RUN_NOWAIT), and the thread
// sleeps in its own epoll_wait on the loop's backend descriptor (libuv's
// epoll set, readable when a socket, a signal or uv_async_send has work for
// it), with the loop's next timer as timeout. The lease's atomic word
// orders one runner's turns before the next one's.
#include "app/log.hpp"
#include "net/loop.hpp"
#include "pool/event_queue.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pycnode::net {
namespace {

// Turns in a row while the last one left a watcher change unregistered.
constexpr int max_turns = 4;

}  // namespace

void Loop::open_descriptors() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    rescue_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    lease_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || rescue_fd_ < 0 || lease_fd_ < 0)
        throw std::runtime_error(fmt::format("cannot create the loop thread's descriptors: {}", std::strerror(errno)));
    watch(rescue_fd_, true);
    watch(lease_fd_, true);
}

void Loop::close_descriptors() {
    for (int fd : {epoll_fd_, rescue_fd_, lease_fd_})
        if (fd >= 0) ::close(fd);
}

void Loop::watch(int fd, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) < 0)
        throw std::runtime_error(fmt::format("loop thread: epoll_ctl: {}", std::strerror(errno)));
}

// libuv hands a watcher's change (a read started, a write left waiting) to
// the kernel at the start of its next poll. A turn that changed one must be
// followed by another before anyone sleeps on the backend descriptor, or
// that watcher's events would wake nobody. The changes wait in
// watcher_queue, a field of uv_loop_t on Unix: a circular list whose head
// points at itself when empty.
bool Loop::watchers_pending() const {
    const void* head = &loop_.watcher_queue;
    return *static_cast<void* const*>(head) != head;
}

void Loop::run_turn() {
    for (int i = 0; i < max_turns; ++i) {
        uv_run(&loop_, UV_RUN_NOWAIT);
        write_backlogs(true);
        if (!watchers_pending()) return;
    }
}

int Loop::timeout_ms() {
    if (watchers_pending()) return 0;
    uv_update_time(&loop_);
    return uv_backend_timeout(&loop_);
}

void Loop::arm_rescue(std::int64_t at_ns) {
    itimerspec when{};
    when.it_value.tv_sec = at_ns / 1'000'000'000;
    when.it_value.tv_nsec = at_ns % 1'000'000'000;
    if (::timerfd_settime(rescue_fd_, TFD_TIMER_ABSTIME, &when, nullptr) < 0)
        log::error("cannot arm the loop's rescue timer: {}", std::strerror(errno));
}

void Loop::wake_loop_thread() { pool::wake_fd(lease_fd_); }

// The loop thread: runs the loop while it holds the lease; sleeps on the
// rescue timer and lease_fd_ while a worker holds it. Returns when the loop
// has nothing left (stopped, every handle closed): only the loop thread
// holds the lease by then (it is pinned there when the drain begins).
void Loop::serve_turns() {
    for (;;) {
        int timeout = -1;
        bool mine = lease_.loop_enter();
        if (mine) {
            run_turn();
            if (!uv_loop_alive(&loop_)) return;
            timeout = timeout_ms();  // before loop_idle(): a worker may take the loop from there
            lease_.loop_idle();
        }
        if (mine != loop_watched_) {
            watch(fd(), mine);
            loop_watched_ = mine;
        }
        epoll_event events[3];
        int n = ::epoll_wait(epoll_fd_, events, 3, timeout);
        for (int i = 0; i < n; ++i) {
            std::uint64_t count;
            if (events[i].data.fd == rescue_fd_) {
                (void)!::read(rescue_fd_, &count, sizeof count);
                on_rescue_timer();
            } else if (events[i].data.fd == lease_fd_) {
                (void)!::read(lease_fd_, &count, sizeof count);  // given back: loop_enter() will see it
            }
        }
    }
}

// A worker holding the lease has been busy in Python since the timer was
// armed: past LoopLease's limit the loop thread reads in its place.
void Loop::on_rescue_timer() {
    std::int64_t at = 0;
    switch (lease_.rescue(pool::LoopLease::now_ns(), &at)) {
    case pool::LoopLease::Rescue::Rescued:
        stats_.loop_takeovers.fetch_add(1, std::memory_order_relaxed);
        break;
    case pool::LoopLease::Rescue::Rearm: arm_rescue(at); break;
    case pool::LoopLease::Rescue::Nothing: break;
    }
}

}  // namespace pycnode::net
