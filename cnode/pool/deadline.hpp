// A request's deadline: when its caller gets {error, timeout} if it has no
// answer yet. The request's own `timeout` option (milliseconds, in its Opts
// map) if it gives one, else the node's --request-timeout; both count from
// the moment the loop thread received the request.
#pragma once

#include "term/term.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace pycnode::pool {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point no_deadline = Clock::time_point::max();

// `request` is the decoded request; its Opts map is element `opts_at` of its
// tuple (0: the kind has none, or this form omits it). `node_default_ms` 0
// means no deadline. Returns "" and sets `deadline`, or what is wrong with
// the `timeout` option (a bad_request detail).
std::string request_deadline(const term::Term& request, std::uint8_t opts_at, Clock::time_point received,
                             std::uint32_t node_default_ms, Clock::time_point& deadline);

// Milliseconds from `now` until `deadline`, rounded up, for a poll timeout:
// -1 for none, 0 if it passed, at most an hour.
int ms_until(Clock::time_point deadline, Clock::time_point now);

}  // namespace pycnode::pool
