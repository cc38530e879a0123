// Replies from the workers to the loop thread: many producers, one consumer.
//
// Producers append under a short lock and wake the loop only when the queue
// goes from empty to non-empty; the loop swaps the whole batch out and writes
// it without the lock (a double-buffered defer queue). The wake-up itself is
// a callable so the queue stays free of libuv and can be unit-tested.
#pragma once

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
        if (was_empty) wake_();
    }

    // Moves every pending item into `out` (which is cleared first).
    void drain(std::vector<T>& out) {
        out.clear();
        std::lock_guard lock(mutex_);
        std::swap(out, items_);
    }

private:
    Wake wake_;
    std::mutex mutex_;
    std::vector<T> items_;
};

}  // namespace pycnode::pool
