// The workers that run Python, in two kinds, each fed by its own queue:
//
// - event workers (--workers): each an asyncio loop keeping many requests
//   in flight: ASGI requests, async calls (event_worker.hpp);
// - blocking threads (--threads): each runs one request at a time to its
//   end: WSGI requests, sync calls, which may block in C or in time.sleep
//   without holding up anything but their own thread.
//
// Each worker sends its replies itself (outlet.hpp).
#pragma once

#include "app/stats.hpp"
#include "pool/event_queue.hpp"
#include "pool/event_worker.hpp"
#include "pool/job.hpp"
#include "pool/job_queue.hpp"
#include "pool/outlet.hpp"

#include <memory>
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
};

class WorkerPool {
public:
    WorkerPool(python::Runtime& runtime, PoolSizes sizes, Stats& stats);
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
    // Lets queued jobs finish, then joins every worker.
    void stop();

    // Whether a worker holds a reply it has not sent yet (graceful shutdown).
    bool replies_held() const { return outlet_.replies_held(); }
    std::size_t queue_length() const { return event_jobs_.size() + blocking_jobs_.size(); }
    unsigned workers() const { return static_cast<unsigned>(event_workers_.size()); }
    unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

private:
    bool push(Job&& job);
    bool submit_blocking(Job&& job);
    void run_blocking(unsigned index);

    python::Runtime& runtime_;
    Stats& stats_;
    Outlet outlet_;
    EventQueue<Job> event_jobs_;
    JobQueue<Job> blocking_jobs_;
    std::vector<std::unique_ptr<EventWorker>> event_workers_;
    std::vector<std::thread> threads_;
};

}  // namespace pycnode::pool
