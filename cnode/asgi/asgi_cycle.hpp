// The ASGI HTTP cycle of the native path ({asgi, ...} without a runner),
// in C++: the receive and send callables the app gets, and the response
// they gather.
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
#include "term/term.hpp"

#include <memory>

namespace pycnode::python {

class AsgiWorker;
class WorkerContext;

// One worker's types and constants for its cycles (made on its thread, used
// by it alone; a cycle keeps the kit alive through a capsule).
class CycleKit {
public:
    // Attached only. `protocol_error` and `no_response` are pyrunner.asgi's
    // ASGIProtocolError and NoResponse (the AsgiWorker's). Null with a
    // Python exception set on failure.
    static PyRef create(PyObject* protocol_error, PyObject* no_response);
};

// Attached only. Runs `app(scope, receive, send)` to completion on the
// worker's loop with a new cycle holding `body`, and turns what it sent (or
// raised) into the reply.
term::Term run_native_cycle(WorkerContext& ctx, AsgiWorker& asgi, PyObject* app, PyObject* scope, PyObject* body,
                            term::ByteArena& arena);

}  // namespace pycnode::python
