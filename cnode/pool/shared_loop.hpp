// The libuv loop as an event worker sees it: a descriptor to sleep on and a
// turn to run, while the worker holds the loop's lease (loop_lease.hpp).
// net/loop.hpp implements it; the pool knows nothing else of the network.
#pragma once

#include "pool/loop_lease.hpp"

#include <cstdint>

namespace pycnode::pool {

class SharedLoop {
public:
    virtual LoopLease& lease() = 0;
    // Readable when the loop has I/O to run (libuv's backend descriptor).
    virtual int fd() const = 0;
    // The holder: milliseconds until the loop must run again (-1: only on I/O).
    virtual int timeout_ms() = 0;
    // The holder, in the InLoop phase: one turn of the loop that never blocks.
    virtual void run_turn() = 0;
    // Any thread: the loop thread looks at the lease at `at_ns` (steady clock).
    virtual void arm_rescue(std::int64_t at_ns) = 0;
    // After LoopLease::give_back: the loop thread holds the lease now.
    virtual void wake_loop_thread() = 0;

protected:
    ~SharedLoop() = default;
};

}  // namespace pycnode::pool
