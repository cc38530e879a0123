// Requests answered on the loop thread: they touch no Python, so they cost
// one round trip and nothing else (ping is the floor of every benchmark).
#pragma once

#include "dispatch/requests.hpp"

namespace pycnode::dispatch {

term::Term answer_ping(const LoopContext& ctx, term::ByteArena& arena);
term::Term answer_stats(const LoopContext& ctx, term::ByteArena& arena);
// Whether each kind of worker can take work: not all of them stuck.
term::Term answer_health(const LoopContext& ctx, term::ByteArena& arena);

}  // namespace pycnode::dispatch
