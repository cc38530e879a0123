// The state of a native ASGI HTTP cycle, shared by the two files that
// implement it: asgi_cycle.cpp (its Python face: receive, send, the type)
// and asgi_cycle_events.cpp (what each event sent does to it). Internal to
// cnode/asgi/.
#pragma once

#include "python/py_ref.hpp"

namespace pycnode::python::cycle {

// pyrunner.asgi.HTTPCycle's phases, in order.
enum Phase : int { NotStarted, SendingBody, SendingTrailers, Complete };

inline constexpr long lowest_status = 100;
inline constexpr long highest_status = 999;

// What a worker's cycles share. Owned by a capsule; every cycle holds the
// capsule, so the kit outlives any cycle an app keeps.
struct Kit {
    PyRef cycle_type, ready_type;
    PyRef ready_none;  // what send() returns: an awaitable already done, with None
    PyRef type, body, more_body, status, headers, trailers, more_trailers, get;
    PyRef http_request, http_disconnect, response_start, response_body, response_trailers;
    PyRef empty_bytes, empty_tuple;
    PyRef protocol_error, no_response;
    PyRef receive_after_body, check_headers, log_after_response;  // pyrunner.asgi's
};

struct Cycle {
    PyObject_HEAD
    PyObject* capsule;
    const Kit* kit;
    PyObject* body;     // the request body, until receive() hands it out
    PyObject* first;    // the first non-empty response body chunk
    PyObject* more;     // a list of the later chunks, or null
    PyObject* status;
    PyObject* headers;
    PyObject* error;    // str: the first protocol error, sticky
    PyObject* waiter;   // a Future resolved when the response completes
    int phase;
    bool trailers;
    bool disconnected;  // the caller gave up: receive() says http.disconnect
};

inline Cycle* as_cycle(PyObject* self) { return reinterpret_cast<Cycle*>(self); }

// --- what an event does (asgi_cycle_events.cpp); -1 with an exception set on error ---

// Resolves the waiter of a receive() that waits for the response.
int wake_waiter(Cycle* self);
// Records the first protocol error (sticky) and raises ASGIProtocolError.
// Steals `detail`; always returns null.
PyObject* fail(Cycle* self, PyObject* detail);
PyObject* fail(Cycle* self, const char* detail);
int on_start(Cycle* self, PyObject* message);
int on_body(Cycle* self, PyObject* message);
int on_trailers(Cycle* self, PyObject* message);

}  // namespace pycnode::python::cycle
