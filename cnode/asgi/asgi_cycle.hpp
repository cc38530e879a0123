// The ASGI HTTP cycle of the native path ({asgi, ...} without a runner),
// in C++: the receive and send callables the app gets, and the response
// they gather (asgi_native_run.cpp runs the app with one).
//
// It behaves exactly as pyrunner.asgi.HTTPCycle and default_asgi_handler
// (the reference, which custom runners await), event for event and error
// message for error message; only the rare wait of a second receive() goes
// back to Python (pyrunner.asgi.receive_after_body). What it saves per
// request: the handler's coroutine, one coroutine per send() and receive(),
// and the Python bytecode of the checks (measured in docs/performance.md).
// `await send(event)` completes at once: send() returns an awaitable that
// is already done, as CPython's own asyncio does for ready results.
#pragma once

#include "python/py_ref.hpp"

#include <memory>

namespace pycnode::python {

// One worker's types and constants for its cycles (made on its thread, used
// by it alone; a cycle keeps the kit alive through a capsule).
class CycleKit {
public:
    // Attached only. `protocol_error` and `no_response` are pyrunner.asgi's
    // ASGIProtocolError and NoResponse (the AsgiWorker's). Null with a
    // Python exception set on failure.
    static PyRef create(PyObject* protocol_error, PyObject* no_response);
};

// Everything below: attached only, `cycle` made by make_cycle.

// A new cycle holding the request `body`, and its receive and send
// callables for the app. Null with an exception set on failure.
PyRef make_cycle(PyObject* kit, PyObject* body, PyRef& receive, PyRef& send);

// The app raised (its exception is set): true if its response stands anyway
// (it was complete, or a protocol error is the answer); the exception is
// then taken, and logged if it came after a complete response.
bool cycle_keeps_response(PyObject* cycle);

// What the app sent: (status, headers, body), or null with the reason set
// (ASGIProtocolError, NoResponse, or "response incomplete").
PyRef cycle_result(PyObject* cycle);

// The caller gave up: receive() says http.disconnect from now on, and a
// receive() waiting for the response's end wakes. -1 with an exception set
// if waking it failed.
int cycle_disconnect(PyObject* cycle);

}  // namespace pycnode::python
