// The watchdog: a small thread that looks at every worker thread's BusySlot
// each tick and marks stuck the steps past their deadline (busy_slot.hpp).
//
// For a stuck step it answers the request it runs {error, timeout} (its
// ticket deciding against the worker's own late reply), logs which request
// and for how long, and asks the pool for a fresh thread of that kind, up
// to --max-stuck replaced at a time per kind. While an event worker is
// stuck, it also answers {error, timeout} to the requests waiting on that
// worker's loop as their deadlines pass: nobody else can.
//
// Why a thread and not a timer on the loop thread: it reads only atomics
// and takes the pool's lock, so it needs nothing of the loop, and it keeps
// working while the loop thread is stopping.
#pragma once

#include "pool/busy_slot.hpp"
#include "pool/deadline.hpp"
#include "pool/outlet.hpp"
#include "pool/parked_replies.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace pycnode::pool {

enum class WorkerKind : std::uint8_t { Event = 0, Blocking = 1 };

// One worker thread, as the watchdog sees it.
struct Watched {
    BusySlot* slot;
    ParkedReplies* parked;  // an event worker's waiting requests; null for a blocking thread
    WorkerKind kind;
    unsigned index;
};

class Watchdog {
public:
    static constexpr std::chrono::milliseconds tick{100};

    struct Hooks {
        // The worker threads to look at now. Their slots stay valid until
        // the next call (the pool forgets threads only inside it).
        std::function<std::vector<Watched>()> survey;
        // A fresh thread for a stuck one of this kind (the watchdog's thread).
        std::function<void(WorkerKind)> replace;
    };

    Watchdog(Outlet& outlet, unsigned max_stuck, Hooks hooks);
    ~Watchdog();  // stop()
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    // The pool is stopping: stuck steps are still marked, none replaced.
    void stop_replacing() { replacing_.store(false, std::memory_order_relaxed); }
    void stop();

private:
    void run();
    void check(const Watched& watched, Clock::time_point now);

    Outlet& outlet_;
    const unsigned max_stuck_;
    Hooks hooks_;
    std::atomic<bool> replacing_{true};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // under mutex_
    std::thread thread_;
};

// A worker thread whose step ended (BusySlot::end) logs a return from a
// stuck step: `who` names the thread's kind, `since` is when the step began.
void note_return(BusySlot::Ended ended, std::string_view who, Clock::time_point since);

}  // namespace pycnode::pool
