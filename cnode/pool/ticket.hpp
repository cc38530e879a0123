// The shared fate of one request, between the loop thread (which learns
// that the caller gave up), the worker that runs it, and the watchdog
// (which answers {error, timeout} for a worker stuck past the deadline).
//
// Every transition is one compare-and-swap, so exactly one side decides:
// a worker starts a request only if it is still queued, answers it only if
// it is still running (as the watchdog does), and the loop cancels it only
// if neither happened.
#pragma once

#include <atomic>
#include <cstdint>

namespace pycnode::pool {

enum class Fate : std::uint8_t { Queued, Running, Answered, Cancelled };

class Ticket {
public:
    // Worker: about to run it. `worker` is the event worker to notify if
    // the caller gives up while it runs (-1: nobody, a blocking thread).
    // False if it was cancelled while queued: drop it.
    bool start(int worker) {
        // Stored before the swap, so that a cancel() that sees Running reads
        // it; put back if the swap fails, so a worker that never ran the
        // request is never named.
        int previous = worker_.exchange(worker, std::memory_order_relaxed);
        Fate expected = Fate::Queued;
        if (fate_.compare_exchange_strong(expected, Fate::Running, std::memory_order_acq_rel)) return true;
        worker_.store(previous, std::memory_order_relaxed);
        return false;
    }

    // Worker: its reply is ready. False if the caller gave up: drop it.
    bool answer() {
        Fate expected = Fate::Running;
        return fate_.compare_exchange_strong(expected, Fate::Answered, std::memory_order_acq_rel);
    }

    // Worker: the job goes to another worker before it ran (an event worker
    // hands a sync call to the blocking threads). No-op if cancelled.
    void requeue() {
        Fate expected = Fate::Running;
        fate_.compare_exchange_strong(expected, Fate::Queued, std::memory_order_acq_rel);
    }

    // Loop thread: the caller gave up. Returns the fate it had: Queued (the
    // worker that pops it drops it), Running (tell worker() to stop it), or
    // Answered/Cancelled (nothing to do).
    Fate cancel() {
        Fate seen = fate_.load(std::memory_order_acquire);
        while ((seen == Fate::Queued || seen == Fate::Running) &&
               !fate_.compare_exchange_weak(seen, Fate::Cancelled, std::memory_order_acq_rel)) {
        }
        return seen;
    }

    bool cancelled() const { return fate_.load(std::memory_order_acquire) == Fate::Cancelled; }
    bool answered() const { return fate_.load(std::memory_order_acquire) == Fate::Answered; }
    // Valid once cancel() returned Running (start() stored it before).
    int worker() const { return worker_.load(std::memory_order_relaxed); }

private:
    std::atomic<Fate> fate_{Fate::Queued};
    std::atomic<int> worker_{-1};
};

}  // namespace pycnode::pool
