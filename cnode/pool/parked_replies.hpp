// The replies of the requests waiting on one event worker's loop, where the
// watchdog can reach them. A worker answers its own waiting requests at
// their deadline; when it is stuck, nobody could, so the watchdog does
// (Outlet::expire_parked), their tickets deciding who answers.
//
// An intrusive list: adding or removing an entry allocates nothing, and
// costs one uncontended lock on the worker's side.
#pragma once

#include <mutex>

namespace pycnode::pool {

class ParkedReplies {
public:
    struct Entry {
        Entry* prev = nullptr;
        Entry* next = nullptr;
    };

    void add(Entry& e) {
        std::lock_guard lock(mutex_);
        e.prev = nullptr;
        e.next = head_;
        if (head_) head_->prev = &e;
        head_ = &e;
    }

    void remove(Entry& e) {
        std::lock_guard lock(mutex_);
        (e.prev ? e.prev->next : head_) = e.next;
        if (e.next) e.next->prev = e.prev;
        e.prev = e.next = nullptr;
    }

    // `f(entry)` for each entry, under the lock: an entry is not removed
    // (nor its owner destroyed) while `f` looks at it.
    template <class F>
    void for_each(F&& f) {
        std::lock_guard lock(mutex_);
        for (Entry* e = head_; e; e = e->next) f(*e);
    }

private:
    std::mutex mutex_;
    Entry* head_ = nullptr;
};

}  // namespace pycnode::pool
