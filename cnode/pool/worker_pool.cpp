#include "pool/worker_pool.hpp"

#include "app/fatal_signals.hpp"
#include "app/log.hpp"
#include "pool/job_runner.hpp"
#include "python/worker_context.hpp"

#include <pthread.h>

#include <chrono>
#include <exception>

namespace pycnode::pool {

WorkerPool::WorkerPool(python::Runtime& runtime, PoolSizes sizes, Stats& stats, SharedLoop* shared_loop)
    : runtime_(runtime), sizes_(sizes), shared_loop_(shared_loop), stats_(stats), outlet_(stats), event_jobs_(sizes.queue_limit),
      blocking_jobs_(sizes.queue_limit),
      watchdog_(outlet_, sizes.max_stuck, {[this] { return survey(); }, [this](WorkerKind kind) { replace(kind); }}) {
    std::lock_guard lock(members_mutex_);
    for (unsigned i = 0; i < sizes.blocking_threads; ++i) start_blocking_thread();
    for (unsigned i = 0; i < sizes.event_workers; ++i) start_event_worker();
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(Job&& job) {
    stats_.in_flight.fetch_add(1, std::memory_order_relaxed);
    return resume(std::move(job));
}

bool WorkerPool::resume(Job&& job) {
    if (push(std::move(job))) return true;
    stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

bool WorkerPool::push(Job&& job) {
    return job.route == Route::Blocking ? blocking_jobs_.push(std::move(job)) : event_jobs_.push(std::move(job));
}

bool WorkerPool::submit_blocking(Job&& job) { return blocking_jobs_.push(std::move(job)); }

void WorkerPool::cancel(const std::shared_ptr<Ticket>& ticket) {
    if (ticket->cancel() != Fate::Running) return;  // queued: dropped when popped; done: nothing to do
    int worker = ticket->worker();
    std::lock_guard lock(members_mutex_);
    if (worker >= 0 && static_cast<std::size_t>(worker) < event_workers_.size() && event_workers_[worker])
        event_workers_[static_cast<std::size_t>(worker)]->cancel(ticket);
}

unsigned WorkerPool::available(WorkerKind kind) const {
    unsigned size = kind == WorkerKind::Event ? sizes_.event_workers : sizes_.blocking_threads;
    unsigned lost = stuck(kind).unreplaced.load(std::memory_order_relaxed);
    return lost < size ? size - lost : 0;
}

void WorkerPool::stop() {
    {
        std::lock_guard lock(members_mutex_);
        if (stopping_) return;
        stopping_ = true;  // from here on the lists do not change
    }
    watchdog_.stop_replacing();  // it goes on marking stuck steps: finish() waits for either
    std::vector<std::size_t> left_workers, left_threads;
    event_jobs_.close();
    for (std::size_t i = 0; i < event_workers_.size(); ++i) {
        if (!event_workers_[i]) continue;
        if (finish(event_workers_[i]->slot())) event_workers_[i]->join();
        else left_workers.push_back(i);
    }
    // After the event workers: they may still hand sync calls over.
    blocking_jobs_.close();
    for (std::size_t i = 0; i < threads_.size(); ++i) {
        if (!threads_[i]) continue;
        if (finish(threads_[i]->slot)) threads_[i]->thread.join();
        else left_threads.push_back(i);
    }
    watchdog_.stop();
    // A thread left running may still use what it was given: never destroyed.
    for (std::size_t i : left_workers) {
        event_workers_[i]->detach();
        (void)event_workers_[i].release();
    }
    for (std::size_t i : left_threads) {
        threads_[i]->thread.detach();
        (void)threads_[i].release();
    }
}

// Waits until the thread exited or is stuck. A thread running a request
// without a deadline is waited for as long as it runs.
bool WorkerPool::finish(BusySlot& slot) {
    for (;;) {
        if (slot.has_exited()) return true;
        if (slot.stuck()) {
            ++left_stuck_;
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::vector<Watched> WorkerPool::survey() {
    std::lock_guard lock(members_mutex_);
    std::vector<Watched> out;
    out.reserve(event_workers_.size() + threads_.size());
    for (auto& worker : event_workers_) {
        // Before stop(), only a replaced thread exits: forget it.
        if (worker && !stopping_ && worker->slot().has_exited()) {
            worker->join();
            worker.reset();
        }
        if (worker) out.push_back({&worker->slot(), &worker->parked(), WorkerKind::Event, worker->index()});
    }
    for (auto& thread : threads_) {
        if (thread && !stopping_ && thread->slot.has_exited()) {
            thread->thread.join();
            thread.reset();
        }
        if (thread) out.push_back({&thread->slot, nullptr, WorkerKind::Blocking, thread->index});
    }
    return out;
}

void WorkerPool::replace(WorkerKind kind) {
    std::lock_guard lock(members_mutex_);
    if (stopping_) return;
    try {
        if (kind == WorkerKind::Event) start_event_worker();
        else start_blocking_thread();
    } catch (const std::exception& e) {
        log::error("cannot start a fresh {}: {}", kind == WorkerKind::Event ? "event worker" : "blocking thread",
                   e.what());
    }
}

// New workers get new indexes: a ticket names the event worker that runs
// its request, replaced or not.
void WorkerPool::start_event_worker() {
    auto index = static_cast<unsigned>(event_workers_.size());
    event_workers_.push_back(std::make_unique<EventWorker>(
        index, runtime_, event_jobs_, outlet_, [this](Job&& job) { return submit_blocking(std::move(job)); },
        stuck_[static_cast<int>(WorkerKind::Event)], sizes_.request_timeout_ms, shared_loop_));
}

void WorkerPool::start_blocking_thread() {
    auto index = static_cast<unsigned>(threads_.size());
    auto thread = std::make_unique<BlockingThread>(stuck_[static_cast<int>(WorkerKind::Blocking)], index);
    BlockingThread& self = *thread;
    threads_.push_back(std::move(thread));
    self.thread = std::thread([this, &self] { run_blocking(self); });
}

void WorkerPool::run_blocking(BlockingThread& self) {
    std::string name = fmt::format("pythread-{}", self.index);
    pthread_setname_np(pthread_self(), name.c_str());
    fatal_signals::WatchedThread watched(name);
    {
        python::WorkerContext ctx(runtime_);
        JobRunner runner(outlet_, /*can_defer=*/false, nullptr, self.slot, nullptr, sizes_.request_timeout_ms);
        ctx.set_job_hooks(&runner);
        Job job;
        // A thread replaced while stuck exits when it returns: the pool keeps its size.
        while (!self.slot.retired() && blocking_jobs_.pop(job)) {
            runner.run(ctx, job, -1);
            outlet_.flush();
            job = Job{};  // release the request packet now, not when the next job arrives
        }
        ctx.set_job_hooks(nullptr);
        outlet_.flush();
    }
    self.slot.exited();
}

}  // namespace pycnode::pool
