#include "pool/event_worker.hpp"

#include "app/fatal_signals.hpp"
#include "app/log.hpp"
#include "pool/deadline.hpp"
#include "pool/watchdog.hpp"
#include "app/running.hpp"
#include "python/event_loop.hpp"
#include "python/worker_context.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pycnode::pool {
namespace {

// Jobs run per turn before the loop gets one iteration: enough to batch a
// burst, few enough that tasks made runnable meanwhile are not starved.
constexpr int jobs_per_turn = 64;

// Replies made in a row before they are sent, when more jobs wait, and
// their size (large replies gain nothing from waiting for each other).
constexpr int replies_per_send = 16;
constexpr std::size_t unsent_bytes_max = 64 * 1024;

// While it holds the loop's lease, a worker reads nothing while it runs
// Python: it polls the sockets at least this often between jobs.
constexpr std::chrono::microseconds reading_slice{500};

// A loop turn runs the requests waiting on the loop, so its deadline is the
// earliest of theirs; but a deadline that passes during a short turn is the
// next turn's to answer, not a sign of a stuck one. A turn is stuck only
// once it has also run this long (asyncio calls a callback of 0.1 s slow).
constexpr std::chrono::seconds stuck_turn{1};

Clock::time_point turn_deadline(Clock::time_point now, Clock::time_point earliest) {
    return earliest == no_deadline ? no_deadline : std::max(earliest, now + stuck_turn);
}

}  // namespace

EventWorker::EventWorker(unsigned index, python::Runtime& runtime, EventQueue<Job>& jobs, Outlet& outlet,
                         std::function<bool(Job&&)> to_blocking, StuckCounts& stuck, std::uint32_t request_timeout_ms,
                         SharedLoop* shared_loop)
    : index_(index), runtime_(runtime), jobs_(jobs), outlet_(outlet), slot_(stuck),
      runner_(outlet, /*can_defer=*/true, std::move(to_blocking), slot_, &parked_, request_timeout_ms),
      shared_(shared_loop) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (wake_fd_ < 0 || epoll_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0)
        throw std::runtime_error("cannot create an event worker's eventfd/epoll");
    thread_ = std::thread([this] { run(); });
}

EventWorker::~EventWorker() {
    join();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventWorker::join() {
    if (thread_.joinable()) thread_.join();
}

void EventWorker::cancel(std::shared_ptr<Ticket> ticket) {
    {
        std::lock_guard lock(mail_mutex_);
        cancels_.push_back(std::move(ticket));
    }
    wake_fd(wake_fd_);
}

void EventWorker::run() {
    std::string name = fmt::format("pyworker-{}", index_);
    pthread_setname_np(pthread_self(), name.c_str());
    fatal_signals::WatchedThread watched(name);
    try {
        python::WorkerContext ctx(runtime_);
        ctx.set_job_hooks(&runner_);
        serve(ctx);
        ctx.set_job_hooks(nullptr);
    } catch (const std::exception& e) {
        log::error("event worker {} stopped: {}", index_, e.what());
    }
    give_back_lease();  // before it exits, if it still holds it
    outlet_.flush();  // the replies of requests cancelled when the loop closed
    slot_.exited();
}

void EventWorker::serve(python::WorkerContext& ctx) {
    for (;;) {
        int timeout = -1;
        bool more_jobs = false;
        {
            python::WorkerContext::Attached attached(ctx);
            run_cancels(ctx);
            if (!slot_.retired()) more_jobs = run_jobs(ctx);
            watch_event_loop(ctx);
            timeout = run_event_loop(ctx);
        }
        if (more_jobs || timeout == 0) {
            if (holds_lease()) sleep(0);  // reads what came meanwhile
            continue;
        }
        if (slot_.retired()) {
            // Replaced while stuck: it no longer takes jobs (nor wake-ups
            // meant for the workers that do), and goes once nothing waits.
            give_back_lease();
            if (ctx.waiting_count() == 0 || jobs_.closed()) return;
            sleep(timeout);
            continue;
        }
        if (!jobs_.prepare_sleep(wake_fd_)) {
            if (jobs_.closed() && jobs_.size() == 0) return;  // the tasks left are cancelled with the loop
            continue;
        }
        sleep(timeout);
        jobs_.woke(wake_fd_);
    }
}

// True if jobs may be left: the turn ended on the batch limit.
// While it holds the lease, also when its reading slice is over.
//
// Replies leave when the queue is empty (one caller: at once) or every
// replies_per_send jobs or unsent_bytes_max: under load each sendmsg then carries several
// replies, and the caller's node reads them in one go.
bool EventWorker::run_jobs(python::WorkerContext& ctx) {
    Job job;
    bool reading = holds_lease();
    Clock::time_point start = reading ? Clock::now() : Clock::time_point{};
    int unsent = 0;
    bool more = true;
    for (int n = 0; n < jobs_per_turn; ++n) {
        if (slot_.retired() || !jobs_.try_pop(job)) {
            more = false;
            break;
        }
        runner_.run(ctx, job, static_cast<int>(index_));
        job = Job{};  // release the request packet now, not when the next job arrives
        if (++unsent == replies_per_send || outlet_.unsent_bytes() >= unsent_bytes_max) {
            outlet_.flush();
            unsent = 0;
        }
        if (reading && Clock::now() - start >= reading_slice) break;
    }
    outlet_.flush();
    return more;
}

// Answers the waiting requests past their deadline, and runs one loop
// iteration if the loop has work, as a step (turn_deadline). Returns how
// long the worker may sleep:
// until the loop's next timer or the next deadline (-1: until woken).
int EventWorker::run_event_loop(python::WorkerContext& ctx) {
    Clock::time_point now = Clock::now();
    if (ctx.next_deadline() <= now) {
        ctx.time_out_waiting(now);
        outlet_.flush();
    }
    python::EventLoop* loop = ctx.existing_event_loop();
    if (!loop) return -1;
    if (loop_io_ || loop->timeout_ms() == 0) {
        loop_io_ = false;
        slot_.begin(now, turn_deadline(now, ctx.next_deadline()), nullptr);
        run_ready_labelled(*loop);
        note_return(slot_.end(), "an event worker", now);
        outlet_.flush();  // requests that ended on the loop
    }
    int timer = loop->timeout_ms();
    int deadline = ms_until(ctx.next_deadline(), Clock::now());
    return timer < 0 ? deadline : deadline < 0 ? timer : std::min(timer, deadline);
}

// A step of a waiting request's task names that request in the crash
// report (pyrunner/worker_loop.py); anything else the loop runs meanwhile
// is named as the loop.
void EventWorker::run_ready_labelled(python::EventLoop& loop) {
    if (running::Label* label = running::own_label()) {
        label->kind = running::Kind::EventLoop;
        running::publish();
    }
    loop.run_ready();
    running::clear();
}

void EventWorker::run_cancels(python::WorkerContext& ctx) {
    std::vector<std::shared_ptr<Ticket>> cancels;
    {
        std::lock_guard lock(mail_mutex_);
        if (cancels_.empty()) return;
        cancels.swap(cancels_);
    }
    for (const auto& ticket : cancels) ctx.cancel_waiting(ticket.get());
}

// The loop is made by the first request that needs it; from then on it
// stays the thread's running loop (EventLoop::hold_running) and its
// selector is watched with the eventfd.
void EventWorker::watch_event_loop(python::WorkerContext& ctx) {
    if (selector_fd_ >= 0) return;
    python::EventLoop* loop = ctx.existing_event_loop();
    if (!loop) return;
    loop->hold_running();
    if (loop->selector_fd() >= 0 && watch(loop->selector_fd(), true, "its event loop's selector"))
        selector_fd_ = loop->selector_fd();
}

int EventWorker::sleep(int timeout_ms) {
    bool reading = lease_before_sleep(timeout_ms);
    if (reading) {
        int loop_timeout = shared_->timeout_ms();
        if (loop_timeout >= 0 && (timeout_ms < 0 || loop_timeout < timeout_ms)) timeout_ms = loop_timeout;
    }
    epoll_event events[3];
    int n = ::epoll_wait(epoll_fd_, events, 3, timeout_ms);
    bool loop_ready = n == 0;  // timed out: perhaps for the loop's timer
    for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_fd_) {
            std::uint64_t count;
            (void)!::read(wake_fd_, &count, sizeof count);
        } else if (events[i].data.fd == selector_fd_) {
            loop_io_ = true;
        } else {
            loop_ready = true;
        }
    }
    if (reading) lease_after_sleep(loop_ready);
    return n;
}

// The lease, before it sleeps: a holder settles (Idle: it sleeps on the
// loop's descriptor too); a worker about to sleep for real takes the lease
// if the loop thread has it idle. True if it holds the lease.
bool EventWorker::lease_before_sleep(int timeout_ms) {
    if (!shared_) return false;
    LoopLease& lease = shared_->lease();
    bool holds = lease.settle(wake_fd_);
    if (!holds && timeout_ms != 0 && !slot_.retired()) holds = lease.take_from_loop(wake_fd_);
    watch_loop(holds);
    if (holds && !loop_watched_) {  // it could not watch the loop: someone else must
        give_back_lease();
        return false;
    }
    return holds;
}

// The lease, awake: the holder runs a turn of the loop if it has work, and
// is Busy from here until it sleeps again (the loop thread takes the lease
// if that lasts).
void EventWorker::lease_after_sleep(bool loop_ready) {
    LoopLease& lease = shared_->lease();
    if (!lease.enter(wake_fd_)) return watch_loop(false);  // taken back meanwhile
    if (loop_ready) {
        pusher_pops_next = true;
        shared_->run_turn();
        pusher_pops_next = false;
    }
    if (lease.pinned()) return give_back_lease();  // shutting down: the loop thread ends the loop
    std::int64_t now = LoopLease::now_ns();
    if (lease.busy(wake_fd_, now)) shared_->arm_rescue(now + lease.rescue_after_ns());
}

void EventWorker::give_back_lease() {
    if (shared_ && shared_->lease().give_back(wake_fd_)) shared_->wake_loop_thread();
    watch_loop(false);
}

void EventWorker::watch_loop(bool on) {
    if (on != loop_watched_ && watch(shared_->fd(), on, "the loop's descriptor")) loop_watched_ = on;
}

// Adds `fd` to (or removes it from) the descriptors the worker sleeps on.
bool EventWorker::watch(int fd, bool on, const char* what) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) == 0) return true;
    log::error("event worker {}: cannot {} {}: {}", index_, on ? "watch" : "unwatch", what, std::strerror(errno));
    return false;
}

}  // namespace pycnode::pool
