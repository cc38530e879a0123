// Counters shared by the loop thread and the workers. Relaxed atomics: each
// counter is read on its own, for reporting; no decision depends on two of
// them agreeing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pycnode {

struct Stats {
    const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> served{0};      // answered, successfully or not
    std::atomic<std::uint64_t> failed{0};      // answered with {error, _}
    std::atomic<std::uint64_t> in_flight{0};   // handed to a worker, not yet answered nor cancelled
    std::atomic<std::uint64_t> overloaded{0};  // refused: too many in flight, or the queue was full
    std::atomic<std::uint64_t> cancelled{0};   // the caller gave up: stopped or dropped, not answered
    std::atomic<std::uint64_t> timed_out{0};   // answered {error, timeout}: past its deadline
    std::atomic<std::uint64_t> dropped_replies{0};  // the caller's connection was gone
    std::atomic<std::uint64_t> handshakes_refused{0};  // failed, timed out or closed by the peer
    std::atomic<std::uint64_t> handshakes_evicted{0};  // dropped to make room (a bound was reached)
    std::atomic<std::uint64_t> handshakes_pending{0};  // accepted sockets still in their handshake
    std::atomic<bool> shutting_down{false};  // draining after SIGTERM/SIGINT: new requests are refused
    std::atomic<std::uint64_t> output_queued{0};   // bytes waiting in outboxes for their sockets
    std::atomic<std::uint64_t> closed_stalled{0};  // connections closed: over --max-output-mb, not read
    std::atomic<std::uint64_t> loop_takeovers{0};  // the loop thread read in place of a worker busy too long

    void answered(bool is_error) {
        served.fetch_add(1, std::memory_order_relaxed);
        if (is_error) failed.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t uptime_ms() const {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - started)
                                              .count());
    }
};

}  // namespace pycnode
