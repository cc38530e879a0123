// The table of request kinds pycnode serves, and the cheap look at a
// request's head that picks one. Cheap requests (ping, stats) are answered on
// the loop thread; everything that runs Python goes to a worker.
// Adding a kind (asgi, wsgi, ...) is one row in requests.cpp.
#pragma once

#include "app/stats.hpp"
#include "pool/job.hpp"
#include "pool/worker_pool.hpp"
#include "python/runtime.hpp"
#include "term/term.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::dispatch {

// What the loop-thread handlers may read: references only, so that a ping
// costs nothing here; a handler asks for what it needs when it needs it.
struct LoopContext {
    const Stats& stats;
    const python::Runtime& python;
    const pool::WorkerPool& pool;
    const std::function<std::vector<std::string_view>()>& peers;
};

using LoopHandler = term::Term (*)(const LoopContext& ctx, term::ByteArena& arena);

// Which workers run a kind: event workers (many in flight each), blocking
// threads (one at a time each), or, for generic calls, whichever suits the
// function (python/call_routes.hpp).
enum class RouteBy : unsigned char { Event, Blocking, CallKind };

struct RequestKind {
    std::string_view name;   // the atom, alone or heading a tuple
    std::size_t arity;       // 0 for a bare atom, else the tuple's size
    std::string_view shape;  // how it must look, for bad_request details
    LoopHandler on_loop;     // exactly one of these two is set
    pool::WorkerHandler on_worker;
    RouteBy route = RouteBy::Event;
    std::uint8_t opts_at = 0;  // where its Opts map is in the tuple (0: none): its `timeout` is read
};

// Picks the kind of `request` (external format, no 131) from its head only;
// the rest is decoded and checked by the handler. Null with `detail` set when
// nothing matches.
const RequestKind* classify(std::string_view request, std::string& detail);

}  // namespace pycnode::dispatch
