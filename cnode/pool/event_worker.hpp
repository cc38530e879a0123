// One event worker: a thread with its own asyncio loop that keeps many
// requests in flight (ASGI requests, async calls).
//
// It never sleeps while it has something to do, and wakes for either kind
// of work: it blocks in one epoll_wait on its eventfd (new jobs, cancel
// notices) and on its event loop's selector (I/O the loop waits for), with
// the timeout of the loop's next timer or the next deadline of a waiting
// request. Awake, it alternates: cancel notices, a batch of jobs (each
// driven directly; one that waits becomes a task), the waiting requests
// past their deadline (answered {error, timeout}), one non-blocking loop
// iteration if the loop has work.
//
// An idle event worker may hold the libuv loop's lease (loop_lease.hpp):
// it then sleeps on the loop's sockets too, reads a request when it comes
// and runs it on the same thread. While it holds the lease it runs Python
// in slices (reading_slice), polling the sockets between them.
//
// Each job and each loop iteration is a step of its BusySlot, watched by
// the watchdog. If a step was stuck and the worker was replaced meanwhile,
// the worker, when the step returns, takes no more jobs: it serves the
// requests still waiting on its loop, then exits.
#pragma once

#include "pool/busy_slot.hpp"
#include "pool/event_queue.hpp"
#include "pool/job.hpp"
#include "pool/job_runner.hpp"
#include "pool/outlet.hpp"
#include "pool/parked_replies.hpp"
#include "pool/shared_loop.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pycnode::python {
class EventLoop;
class Runtime;
class WorkerContext;
}

namespace pycnode::pool {

class EventWorker {
public:
    // `stuck`: its kind's counts; `request_timeout_ms`: JobRunner's;
    // `shared_loop`: the loop whose lease it may hold (null: never reads).
    EventWorker(unsigned index, python::Runtime& runtime, EventQueue<Job>& jobs, Outlet& outlet,
                std::function<bool(Job&&)> to_blocking, StuckCounts& stuck, std::uint32_t request_timeout_ms,
                SharedLoop* shared_loop);
    ~EventWorker();  // joins (after EventQueue::close)
    EventWorker(const EventWorker&) = delete;
    EventWorker& operator=(const EventWorker&) = delete;

    // Any thread: the caller of a request this worker runs gave up.
    void cancel(std::shared_ptr<Ticket> ticket);
    void join();
    // Leaves a stuck thread running: nothing may then destroy this worker.
    void detach() { thread_.detach(); }

    BusySlot& slot() { return slot_; }
    ParkedReplies& parked() { return parked_; }
    unsigned index() const { return index_; }

private:
    void run();
    void serve(python::WorkerContext& ctx);
    bool run_jobs(python::WorkerContext& ctx);
    void run_cancels(python::WorkerContext& ctx);
    void run_ready_labelled(python::EventLoop& loop);
    void watch_event_loop(python::WorkerContext& ctx);
    int run_event_loop(python::WorkerContext& ctx);
    int sleep(int timeout_ms);  // detached; returns what woke it
    // The loop's lease (detached): before and after sleeping.
    bool lease_before_sleep(int timeout_ms);
    void lease_after_sleep(bool loop_ready);
    void watch_loop(bool on);
    bool watch(int fd, bool on, const char* what);
    void give_back_lease();
    bool holds_lease() const { return shared_ && shared_->lease().held_by(wake_fd_); }

    const unsigned index_;
    python::Runtime& runtime_;
    EventQueue<Job>& jobs_;
    Outlet& outlet_;
    BusySlot slot_;
    ParkedReplies parked_;
    JobRunner runner_;
    int wake_fd_ = -1;
    int epoll_fd_ = -1;
    int selector_fd_ = -1;  // the event loop's, once it exists
    bool loop_io_ = false;  // the selector was readable: run the loop once
    SharedLoop* const shared_;
    bool loop_watched_ = false;  // the libuv loop's descriptor is in epoll_fd_
    std::mutex mail_mutex_;
    std::vector<std::shared_ptr<Ticket>> cancels_;
    std::thread thread_;
};

}  // namespace pycnode::pool
