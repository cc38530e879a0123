// Replies from the workers to the loop thread: many producers, one consumer.
//
// Producers append under a short lock; the loop swaps the whole batch out and
// writes it without the lock (a double-buffered defer queue). A producer
// wakes the loop only when its push made the queue non-empty and the loop may
// be asleep: an awake loop drains again before it sleeps, so waking it would
// cost an eventfd write and a loop turn for nothing. The wake-up itself is a
// callable so the queue stays free of libuv and can be unit-tested.
//
// The consumer calls consumer_awake() whenever it runs after a sleep (any
// time before its next drain_before_sleep() will do; never calling it only
// costs wake-ups), drain() whenever it likes, and drain_before_sleep() as the
// last thing before it blocks; from there to blocking it must not call
// consumer_awake(). asleep_ starts true: until the consumer says otherwise,
// every first push wakes it.
//
// Why no item can sit in the queue while the consumer sleeps with no wake-up
// on its way. Take a push P that finds the queue empty; the pushes after it,
// up to the next drain, find it non-empty, do not wake, and go out with P's
// item. So it is enough that P wakes the consumer or that some drain follows
// P before the consumer sleeps. P loads asleep_ after its push:
// - true: P wakes the consumer, and the woken consumer drains, after P.
// - false: the last store to asleep_ before P's load was a consumer_awake().
//   The consumer's next drain_before_sleep() stores true, then drains. Had
//   that drain taken the lock before P, the store would happen before P's
//   load (the drain's unlock is what P's lock acquires), so true, not false,
//   would be the last store before it. So that drain comes after P, and
//   before the consumer sleeps.
// The mutex gives the ordering; seq_cst gives the stores one order to speak
// of as "the last".
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace pycnode::pool {

template <class T>
class ReplyQueue {
public:
    using Wake = std::function<void()>;

    explicit ReplyQueue(Wake wake) : wake_(std::move(wake)) {}

    void push(T&& item) {
        bool was_empty;
        {
            std::lock_guard lock(mutex_);
            was_empty = items_.empty();
            items_.push_back(std::move(item));
        }
        if (was_empty && asleep_.load()) wake_();
    }

    // Consumer only. Moves every pending item into `out` (which is cleared first).
    void drain(std::vector<T>& out) {
        out.clear();
        std::lock_guard lock(mutex_);
        std::swap(out, items_);
    }

    // Consumer only: it is running and will call drain_before_sleep() before it blocks.
    void consumer_awake() { asleep_.store(false); }

    // Consumer only, the last thing before it blocks: from now on producers
    // wake it; then drains what came before.
    void drain_before_sleep(std::vector<T>& out) {
        asleep_.store(true);
        drain(out);
    }

private:
    Wake wake_;
    std::atomic<bool> asleep_{true};
    std::mutex mutex_;
    std::vector<T> items_;
};

}  // namespace pycnode::pool
