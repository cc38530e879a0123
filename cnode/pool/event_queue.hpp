// The queue between the loop thread (its producer) and the event workers
// (its consumers, which never block on it).
//
// An event worker sleeps in epoll_wait on its own eventfd and its event
// loop's selector, not on a condition variable, because it must wake for
// either. Before it sleeps it registers its eventfd here (prepare_sleep);
// a push wakes one registered sleeper, outside the lock. A worker that is
// awake finds new jobs by polling try_pop between loop iterations, so it
// costs nobody a wake-up.
//
// An event worker that reads requests itself (it holds the loop's lease,
// loop_lease.hpp) pops what it pushed right after: its first push wakes
// nobody, the next ones wake sleepers to share the burst.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace pycnode::pool {

// Writes one event to an eventfd: the way every sleeper here is woken.
inline void wake_fd(int fd) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
}

// Set on an event worker while it runs the libuv loop: it pops next.
inline thread_local bool pusher_pops_next = false;

template <class T>
class EventQueue {
public:
    explicit EventQueue(std::size_t limit) : limit_(limit) {}

    // False when full or closed; `item` is then left untouched.
    bool push(T&& item) {
        int sleeper = -1;
        {
            std::lock_guard lock(mutex_);
            if (closed_ || items_.size() >= limit_) return false;
            items_.push_back(std::move(item));
            if (!sleepers_.empty() && (!pusher_pops_next || items_.size() > 1)) {
                sleeper = sleepers_.back();
                sleepers_.pop_back();
            }
        }
        if (sleeper >= 0) wake_fd(sleeper);
        return true;
    }

    bool try_pop(T& out) {
        std::lock_guard lock(mutex_);
        if (items_.empty()) return false;
        out = std::move(items_.front());
        items_.pop_front();
        return true;
    }

    // True: `fd` is registered and will be woken by the next push (or
    // close). False: there is work (or the queue is closed): do not sleep.
    bool prepare_sleep(int fd) {
        std::lock_guard lock(mutex_);
        if (!items_.empty() || closed_) return false;
        sleepers_.push_back(fd);
        return true;
    }

    // After waking for any reason: no longer a sleeper.
    void woke(int fd) {
        std::lock_guard lock(mutex_);
        sleepers_.erase(std::remove(sleepers_.begin(), sleepers_.end(), fd), sleepers_.end());
    }

    // Refuses new items and wakes every sleeper; queued items are still handed out.
    void close() {
        std::vector<int> sleepers;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            sleepers.swap(sleepers_);
        }
        for (int fd : sleepers) wake_fd(fd);
    }

    bool closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

private:
    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::deque<T> items_;
    std::vector<int> sleepers_;  // eventfds of the workers asleep, last in first woken
    bool closed_ = false;
};

}  // namespace pycnode::pool
