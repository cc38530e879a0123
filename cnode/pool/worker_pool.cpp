#include "pool/worker_pool.hpp"

#include "app/fatal_signals.hpp"
#include "app/log.hpp"
#include "pool/job_runner.hpp"
#include "python/worker_context.hpp"

#include <pthread.h>

namespace pycnode::pool {

WorkerPool::WorkerPool(python::Runtime& runtime, PoolSizes sizes, Stats& stats)
    : runtime_(runtime), stats_(stats), outlet_(stats), event_jobs_(sizes.queue_limit),
      blocking_jobs_(sizes.queue_limit) {
    threads_.reserve(sizes.blocking_threads);
    for (unsigned i = 0; i < sizes.blocking_threads; ++i) threads_.emplace_back([this, i] { run_blocking(i); });
    event_workers_.reserve(sizes.event_workers);
    for (unsigned i = 0; i < sizes.event_workers; ++i)
        event_workers_.push_back(std::make_unique<EventWorker>(
            i, runtime_, event_jobs_, outlet_, [this](Job&& job) { return submit_blocking(std::move(job)); }));
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(Job&& job) {
    stats_.in_flight.fetch_add(1, std::memory_order_relaxed);
    bool queued = job.route == Route::Blocking ? blocking_jobs_.push(std::move(job)) : event_jobs_.push(std::move(job));
    if (!queued) stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return queued;
}

bool WorkerPool::submit_blocking(Job&& job) { return blocking_jobs_.push(std::move(job)); }

void WorkerPool::cancel(const std::shared_ptr<Ticket>& ticket) {
    if (ticket->cancel() != Fate::Running) return;  // queued: dropped when popped; done: nothing to do
    int worker = ticket->worker();
    if (worker >= 0 && static_cast<std::size_t>(worker) < event_workers_.size())
        event_workers_[static_cast<std::size_t>(worker)]->cancel(ticket);
}

void WorkerPool::stop() {
    event_jobs_.close();
    for (auto& worker : event_workers_) worker->join();
    // After the event workers: they may still hand sync calls over.
    blocking_jobs_.close();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void WorkerPool::run_blocking(unsigned index) {
    std::string name = fmt::format("pythread-{}", index);
    pthread_setname_np(pthread_self(), name.c_str());
    fatal_signals::WatchedThread watched(name);
    python::WorkerContext ctx(runtime_);
    JobRunner runner(outlet_, /*can_defer=*/false, nullptr);
    ctx.set_job_hooks(&runner);
    Job job;
    while (blocking_jobs_.pop(job)) {
        runner.run(ctx, job, -1);
        outlet_.flush();
        job = Job{};  // release the request packet now, not when the next job arrives
    }
    ctx.set_job_hooks(nullptr);
    outlet_.flush();
}

}  // namespace pycnode::pool
