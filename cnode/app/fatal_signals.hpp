// What pycnode says when a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGABRT) ends it, for instance a crash in a C extension: one log line
// naming the signal, the thread and the request that thread was running,
// one line per other thread that was running a request (app/running.hpp),
// and how many requests were in flight. Python's faulthandler prints the
// Python tracebacks just before (python/runtime.cpp enables it). The
// process then ends by the signal, as it would have without us.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pycnode::fatal_signals {

// Main thread, before the interpreter starts: faulthandler must find our
// handlers in place to chain to them (fatal_signals.cpp says how).
void install();

// While it lives, the report says how many requests were in flight,
// read from `in_flight` (Stats::in_flight).
class InFlightReported {
public:
    explicit InFlightReported(const std::atomic<std::uint64_t>& in_flight);
    ~InFlightReported();
    InFlightReported(const InFlightReported&) = delete;
    InFlightReported& operator=(const InFlightReported&) = delete;
};

// Held by a thread that runs requests, for its life: claims the thread's
// slot in the running table, named `name`, and gives the thread an
// alternate signal stack, so that a stack overflow on it is reported too
// (the handler cannot run on a stack that is full).
class WatchedThread {
public:
    explicit WatchedThread(std::string_view name);
    ~WatchedThread();
    WatchedThread(const WatchedThread&) = delete;
    WatchedThread& operator=(const WatchedThread&) = delete;

private:
    char* stack_ = nullptr;
};

}  // namespace pycnode::fatal_signals
