// The native path of {asgi, ...} (no runner): the app run with a C++ cycle
// (asgi_cycle.hpp) on the worker's event loop, its reply made from what the
// cycle gathered (asgi_response.cpp) when the app ends, at once or later.
#pragma once

#include "term/term.hpp"

#include <Python.h>

namespace pycnode::python {

class AsgiWorker;
class WorkerContext;

// Attached only. Runs `app(scope, receive, send)` with a new cycle holding
// `body`; the reply, or, if the app waits, an ignored term (its reply is
// sent when it ends: python/waiting.hpp).
term::Term run_native_cycle(WorkerContext& ctx, AsgiWorker& asgi, PyObject* app, PyObject* scope, PyObject* body,
                            term::ByteArena& arena);

}  // namespace pycnode::python
