// What the watchdog (pool/watchdog.hpp) sees of one worker thread: whether
// it is inside a step that runs Python (one request driven by an event
// worker, one whole request on a blocking thread, or one turn of an event
// loop) and when that step's deadline is.
//
// A step past its deadline is stuck: Python code cannot be stopped safely
// from outside (a `while True: pass`, a deadlock, a C call that never
// returns). The watchdog marks it, and may give its kind of worker a fresh
// thread; the stuck thread, if it ever returns, learns here whether it was
// replaced, and then exits instead of taking more work.
//
// The worker's cost per step: two stores in begin(), one exchange in end().
// Only a stuck step takes the slot's mutex, on both sides: the watchdog
// holds it while it reads the step's job and decides; the returning worker
// takes it to learn that decision, so it never frees that job while the
// watchdog reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace pycnode::pool {

struct Job;

// Stuck threads of one kind of worker (event workers, blocking threads).
// Written under a slot's mutex, read by any thread (stats, health).
struct StuckCounts {
    std::atomic<unsigned> replaced{0};    // stuck, not returned, a fresh thread took its place
    std::atomic<unsigned> unreplaced{0};  // stuck, not returned, not replaced: capacity lost
    std::atomic<std::uint64_t> detected{0};  // ever marked stuck

    unsigned stuck() const {
        return replaced.load(std::memory_order_relaxed) + unreplaced.load(std::memory_order_relaxed);
    }
};

class BusySlot {
public:
    using Clock = std::chrono::steady_clock;
    enum class Ended : std::uint8_t { Normally, Unstuck, Retired };

    explicit BusySlot(StuckCounts& counts) : counts_(counts) {}
    BusySlot(const BusySlot&) = delete;
    BusySlot& operator=(const BusySlot&) = delete;

    // Worker thread: a step starts at `now`, for `job` (null: an event loop
    // turn), and must end by `deadline` (max(): it has none, never stuck).
    void begin(Clock::time_point now, Clock::time_point deadline, const Job* job) {
        job_ = job;
        since_.store(ticks(now), std::memory_order_relaxed);
        state_.store(deadline == Clock::time_point::max() ? idle : ticks(deadline), std::memory_order_release);
    }

    // Worker thread: the step ended. Unstuck: it had been marked stuck and
    // not replaced; the thread goes on. Retired: a fresh thread took its
    // place; this one must take no more work.
    Ended end() {
        if (state_.exchange(idle, std::memory_order_acq_rel) != stuck_mark) return Ended::Normally;
        std::lock_guard lock(mutex_);  // the watchdog may still be reading this step's job
        if (replaced_) {
            retired_ = true;
            counts_.replaced.fetch_sub(1, std::memory_order_relaxed);
            return Ended::Retired;
        }
        counts_.unreplaced.fetch_sub(1, std::memory_order_relaxed);
        return Ended::Unstuck;
    }

    bool retired() const { return retired_; }  // worker thread only
    void exited() { exited_.store(true, std::memory_order_release); }  // worker thread, last thing it does
    bool has_exited() const { return exited_.load(std::memory_order_acquire); }
    bool stuck() const { return state_.load(std::memory_order_acquire) == stuck_mark; }

    // Watchdog: a lock-free look; mark_stuck() decides.
    bool overdue(Clock::time_point now) const {
        std::int64_t seen = state_.load(std::memory_order_relaxed);
        return seen != idle && seen != stuck_mark && seen <= ticks(now);
    }

    // Watchdog: marks the step stuck if it still runs past its deadline at
    // `now`. The thread is to be replaced if fewer than `max_replaced`
    // stuck threads of its kind are (`replaced` says). `pin(job, since)` runs
    // while the step's job cannot go away. False if the step ended first.
    template <class Pin>
    bool mark_stuck(Clock::time_point now, unsigned max_replaced, bool& replaced, Pin&& pin) {
        std::lock_guard lock(mutex_);
        std::int64_t seen = state_.load(std::memory_order_acquire);
        if (seen == idle || seen == stuck_mark || seen > ticks(now)) return false;
        if (!state_.compare_exchange_strong(seen, stuck_mark, std::memory_order_acq_rel)) return false;
        replaced = replaced_ = counts_.replaced.load(std::memory_order_relaxed) < max_replaced;
        (replaced ? counts_.replaced : counts_.unreplaced).fetch_add(1, std::memory_order_relaxed);
        counts_.detected.fetch_add(1, std::memory_order_relaxed);
        pin(job_, Clock::time_point(Clock::duration(since_.load(std::memory_order_relaxed))));
        return true;
    }

private:
    static constexpr std::int64_t idle = 0;         // no step, or one without a deadline
    static constexpr std::int64_t stuck_mark = -1;  // else: the step's deadline, in clock ticks
    static std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

    StuckCounts& counts_;
    std::atomic<std::int64_t> state_{idle};
    std::atomic<std::int64_t> since_{0};
    const Job* job_ = nullptr;  // written before state_ (release); read after a won compare-exchange
    std::mutex mutex_;
    bool replaced_ = false;     // under mutex_
    bool retired_ = false;      // worker thread only
    std::atomic<bool> exited_{false};
};

}  // namespace pycnode::pool
