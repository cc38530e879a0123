// The bounded queue between the loop thread (one producer) and the Python
// workers (many consumers). Bounded so that a flood of requests turns into
// {error, overloaded} replies instead of unbounded memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace pycnode::pool {

template <class T>
class JobQueue {
public:
    explicit JobQueue(std::size_t limit) : limit_(limit) {}

    // False when the queue is full or closed; `item` is then left untouched.
    bool push(T&& item) {
        {
            std::lock_guard lock(mutex_);
            if (closed_ || items_.size() >= limit_) return false;
            items_.push_back(std::move(item));
        }
        ready_.notify_one();
        return true;
    }

    // Blocks until an item arrives; false once the queue is closed and drained.
    bool pop(T& out) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !items_.empty(); });
        if (items_.empty()) return false;
        out = std::move(items_.front());
        items_.pop_front();
        return true;
    }

    // Wakes every waiting consumer; items already queued are still handed out.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

    std::size_t limit() const { return limit_; }

private:
    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<T> items_;
    bool closed_ = false;
};

}  // namespace pycnode::pool
