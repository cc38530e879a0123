// What travels between the loop thread and the Python workers.
//
// A Job owns the packet its request arrived in; the decoded request term
// views those bytes, so they are never copied. Spans are offsets into it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/outbox.hpp"
#include "net/packet.hpp"
#include "pool/ticket.hpp"
#include "term/term.hpp"

namespace pycnode::python {
class WorkerContext;
}

namespace pycnode::pool {

struct Span {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    std::string_view in(std::string_view s) const { return s.substr(offset, size); }
};

// Runs one request on a worker and returns its reply ({ok, _} | {error, _}),
// built in `arena`. The request table (dispatch/requests.cpp) picks it.
using WorkerHandler = term::Term (*)(python::WorkerContext& ctx, const term::Term& request,
                                     term::ByteArena& arena);

// Where a job runs: on an event worker (ASGI, async calls: many in flight
// each), on a blocking thread (WSGI, sync calls: one at a time each).
enum class Route : std::uint8_t { Event, Blocking };

struct Job {
    WorkerHandler handler = nullptr;
    std::string_view shape;  // the request kind's shape (dispatch/requests.cpp), to name what is wrong in it
    Route route = Route::Event;
    std::shared_ptr<Ticket> ticket;  // set when the caller monitors the call: it can cancel
    std::shared_ptr<net::Outbox> outbox;  // where the reply goes: the caller's connection
    net::Packet packet;  // the whole distribution packet the request came in
    Span request;        // the request term (external format, no 131)
    Span reply_to;       // the caller's pid (external format)
    Span tag;            // the gen_server tag, re-sent exactly as received
    std::chrono::steady_clock::time_point received;
    // Where the request's Opts map sits in its tuple (0: it has none); its
    // `timeout` sets the deadline (pool/deadline.hpp).
    std::uint8_t opts_at = 0;
    // When the caller gets {error, timeout}; set by the worker when it
    // decodes the request. max(): none.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

}  // namespace pycnode::pool
