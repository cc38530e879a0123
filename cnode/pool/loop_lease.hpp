// Who may run the libuv loop (read the sockets, run the loop's callbacks)
// right now: the loop thread, or one idle event worker.
//
// Why: a request read by the loop thread and run by a worker costs two
// wake-ups, each a sleep and a wake on another CPU. An idle event worker
// that holds the lease sleeps on the loop's sockets itself; when a request
// arrives it reads it and runs it on the same thread: one wake-up. While
// it runs Python nobody reads; a worker busy longer than `rescue_after`
// loses the lease to the loop thread, which reads on until a worker is idle
// again and takes the lease back (leader/followers, with the loop thread as
// the follower of last resort).
//
// The lease is one atomic word: holder, phase, sequence. Every change is a
// compare-and-swap on the whole word, so a change meant for one phase of
// one holder never applies to a later one. Acquire/release on the word
// orders everything the loop's callbacks touch between its successive
// runners (libuv itself is not thread-safe, only run by one thread at a
// time).
//
//   holder's phase   meaning                          who may take it
//   Idle             asleep on the loop's sockets     a worker from the loop
//                                                     thread (take_from_loop),
//                                                     the loop thread when
//                                                     pinned (take_back)
//   InLoop           running the loop's callbacks     nobody
//   Busy             running Python since `since`     the loop thread, after
//                                                     rescue_after (rescue),
//                                                     or when pinned
//
// Pinned (graceful shutdown): the lease goes back to the loop thread and
// stays there; the loop thread ends the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pycnode::pool {

class LoopLease {
public:
    using Holder = std::int32_t;
    static constexpr Holder loop_thread = -1;  // workers are named by their eventfd (>= 0)
    enum class Phase : std::uint8_t { Idle = 0, InLoop = 1, Busy = 2 };

    explicit LoopLease(std::chrono::nanoseconds rescue_after) : rescue_after_(rescue_after.count()) {}

    // The lease's clock, for busy() and rescue(): steady_clock, which is
    // CLOCK_MONOTONIC, the clock of the loop thread's rescue timer.
    static std::int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }

    // Any thread (acquire): does `who` hold it?
    bool held_by(Holder who) const { return holder(word_.load(std::memory_order_acquire)) == who; }

    // The holder, about to run the loop: Idle or Busy -> InLoop. False if
    // `who` no longer holds it (taken meanwhile).
    bool enter(Holder who) { return change_if_held(who, who, Phase::InLoop); }

    // The holder, done with the loop, about to run Python: InLoop -> Busy,
    // from `now_ns` (a steady clock). True if the rescue timer must be
    // armed (it is not already).
    bool busy(Holder who, std::int64_t now_ns) {
        since_.store(now_ns, std::memory_order_relaxed);  // published by the store below
        word_.store(make(who, Phase::Busy, word_.load(std::memory_order_relaxed)), std::memory_order_release);
        return !armed_.exchange(true);
    }

    // The holder, done with the loop or with Python, about to sleep on the
    // loop's sockets: InLoop/Busy -> Idle. False if it lost the lease.
    bool settle(Holder who) { return change_if_held(who, who, Phase::Idle); }

    // The holder gives the lease to the loop thread (pinned, retired, or
    // exiting): the caller then wakes the loop thread.
    bool give_back(Holder who) { return change_if_held(who, loop_thread, Phase::Idle); }

    // An event worker about to sleep: takes the lease if the loop thread
    // holds it, idle, and it is not pinned there.
    bool take_from_loop(Holder who) {
        std::uint64_t w = word_.load(std::memory_order_acquire);
        if (holder(w) != loop_thread || phase(w) != Phase::Idle) return false;
        // After the word: a pin made in the loop thread's turn before this
        // Idle is visible here, and one made after it changed the word.
        if (pinned_.load(std::memory_order_acquire)) return false;
        return word_.compare_exchange_strong(w, make(who, Phase::Idle, w), std::memory_order_acq_rel,
                                             std::memory_order_acquire);
    }

    // The rescue timer fired (loop thread). Clears the armed flag, then:
    // Rescued: the loop thread holds the lease now (the holder was busy for
    // rescue_after, or the lease is pinned and its holder not in the loop);
    // Rearm: a holder is busy, not yet for long; arm again for `*at_ns`;
    // Nothing: no holder is busy.
    enum class Rescue { Rescued, Rearm, Nothing };
    Rescue rescue(std::int64_t now_ns, std::int64_t* at_ns) {
        armed_.store(false);
        std::uint64_t w = word_.load(std::memory_order_acquire);
        if (holder(w) == loop_thread) return Rescue::Nothing;
        bool pinned = pinned_.load(std::memory_order_acquire);
        if (phase(w) == Phase::InLoop || (phase(w) == Phase::Idle && !pinned)) return Rescue::Nothing;
        std::int64_t due = since_.load(std::memory_order_relaxed) + rescue_after_;
        if (phase(w) == Phase::Busy && !pinned && now_ns < due) {
            armed_.store(true);
            *at_ns = due;
            return Rescue::Rearm;
        }
        if (word_.compare_exchange_strong(w, make(loop_thread, Phase::InLoop, w), std::memory_order_acq_rel,
                                          std::memory_order_acquire))
            return Rescue::Rescued;
        return Rescue::Nothing;  // its holder moved on meanwhile: it is not stuck
    }

    // The loop thread, holding the lease: done with the loop, about to sleep.
    void loop_idle() { settle(loop_thread); }
    // The loop thread: about to run the loop (it holds the lease).
    bool loop_enter() { return enter(loop_thread); }

    // Graceful shutdown: the lease goes to the loop thread and stays there.
    void pin() { pinned_.store(true, std::memory_order_release); }
    bool pinned() const { return pinned_.load(std::memory_order_acquire); }
    std::int64_t rescue_after_ns() const { return rescue_after_; }

private:
    // While `who` holds the lease, in any phase: hand it to `to`, in `next`.
    bool change_if_held(Holder who, Holder to, Phase next) {
        std::uint64_t w = word_.load(std::memory_order_acquire);
        for (;;) {
            if (holder(w) != who) return false;
            if (word_.compare_exchange_weak(w, make(to, next, w), std::memory_order_acq_rel, std::memory_order_acquire))
                return true;
        }
    }

    // holder (32 bits, as unsigned) | phase (2 bits) | sequence (30 bits)
    static Holder holder(std::uint64_t w) { return static_cast<Holder>(static_cast<std::uint32_t>(w >> 32)); }
    static Phase phase(std::uint64_t w) { return static_cast<Phase>((w >> 30) & 3); }
    static std::uint64_t make(Holder who, Phase p, std::uint64_t previous) {
        std::uint64_t seq = (previous + 1) & ((1ull << 30) - 1);
        return (std::uint64_t{static_cast<std::uint32_t>(who)} << 32) | (std::uint64_t{static_cast<std::uint8_t>(p)} << 30) |
               seq;
    }

    const std::int64_t rescue_after_;
    // Starts with the loop thread, in the loop (it sets the loop up): the
    // first worker to go idle after the loop thread's first turn takes it.
    std::atomic<std::uint64_t> word_{make(loop_thread, Phase::InLoop, 0)};
    std::atomic<std::int64_t> since_{0};
    std::atomic<bool> armed_{false};
    std::atomic<bool> pinned_{false};
};

}  // namespace pycnode::pool
