// The workers that run Python, in two kinds, each fed by its own queue:
//
// - event workers (--workers): each an asyncio loop keeping many requests
//   in flight: ASGI requests, async calls (event_worker.hpp);
// - blocking threads (--threads): each runs one request at a time to its
//   end: WSGI requests, sync calls, which may block in C or in time.sleep
//   without holding up anything but their own thread.
//
// Each worker sends its replies itself (outlet.hpp). The watchdog
// (watchdog.hpp) replaces a thread stuck past a request's deadline with a
// fresh one; the stuck one is left to finish (then it exits) or to die with
// the process.
#pragma once

#include "app/stats.hpp"
#include "pool/busy_slot.hpp"
#include "pool/event_queue.hpp"
#include "pool/event_worker.hpp"
#include "pool/job.hpp"
#include "pool/job_queue.hpp"
#include "pool/outlet.hpp"
#include "pool/shared_loop.hpp"
#include "pool/watchdog.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pycnode::python {
class Runtime;
}

namespace pycnode::pool {

struct PoolSizes {
    unsigned event_workers = 1;
    unsigned blocking_threads = 1;
    std::size_t queue_limit = 65536;  // per queue: jobs not yet started
    std::uint32_t request_timeout_ms = 0;  // the deadline of requests that set none; 0: none
    unsigned max_stuck = 0;                // stuck threads replaced at a time, per kind
};

class WorkerPool {
public:
    // `shared_loop`: the loop whose lease idle event workers take (null: none).
    WorkerPool(python::Runtime& runtime, PoolSizes sizes, Stats& stats, SharedLoop* shared_loop);
    ~WorkerPool();  // stop()

    // Loop thread. False if the job's queue is full (or closed): the caller
    // answers {error, overloaded}; `job` is then left untouched.
    bool submit(Job&& job);
    // Loop thread: a job its connection's outbox held goes to its queue
    // again (it is still in flight). False as for submit(), and then it is
    // no longer counted in flight.
    bool resume(Job&& job);
    // Loop thread: a held job whose connection closed ends unanswered.
    void drop(Job& job) { outlet_.unanswered(job.ticket.get()); }
    // Loop thread: the caller of a request gave up.
    void cancel(const std::shared_ptr<Ticket>& ticket);
    // Lets queued jobs finish, then joins every worker, except those stuck
    // past a deadline (now or while it waits for them): those are left running.
    void stop();
    // After stop(): a stuck thread was left running, maybe inside Python.
    // The process must then end without finalizing Python nor destroying
    // this pool (std::_Exit).
    bool has_stuck() const { return left_stuck_ > 0; }

    // Whether a worker holds a reply it has not sent yet (graceful shutdown).
    bool replies_held() const { return outlet_.replies_held(); }
    std::size_t queue_length() const { return event_jobs_.size() + blocking_jobs_.size(); }
    unsigned workers() const { return sizes_.event_workers; }
    unsigned threads() const { return sizes_.blocking_threads; }
    // Any thread: stuck threads of each kind, and how many workers of each
    // kind take work (those stuck and not replaced do not).
    const StuckCounts& stuck(WorkerKind kind) const { return stuck_[static_cast<int>(kind)]; }
    unsigned available(WorkerKind kind) const;

private:
    bool push(Job&& job);
    struct BlockingThread {
        BlockingThread(StuckCounts& stuck, unsigned i) : slot(stuck), index(i) {}
        BusySlot slot;
        unsigned index;
        std::thread thread;
    };

    bool submit_blocking(Job&& job);
    void run_blocking(BlockingThread& self);
    void start_event_worker();     // under members_mutex_
    void start_blocking_thread();  // under members_mutex_
    std::vector<Watched> survey();  // the watchdog's hooks
    void replace(WorkerKind kind);
    bool finish(BusySlot& slot);  // stop(): true once exited, false if stuck

    python::Runtime& runtime_;
    const PoolSizes sizes_;
    SharedLoop* const shared_loop_;
    Stats& stats_;
    Outlet outlet_;
    EventQueue<Job> event_jobs_;
    JobQueue<Job> blocking_jobs_;
    StuckCounts stuck_[2];  // by WorkerKind
    // The two lists, by index (null once a replaced thread exited): changed
    // by the watchdog (replace, reap) until stop(); read by the loop (cancel).
    std::mutex members_mutex_;
    std::vector<std::unique_ptr<EventWorker>> event_workers_;
    std::vector<std::unique_ptr<BlockingThread>> threads_;
    bool stopping_ = false;  // under members_mutex_: the lists no longer change
    unsigned left_stuck_ = 0;
    Watchdog watchdog_;  // last: it calls survey() from its own thread
};

}  // namespace pycnode::pool
