// An awaitable that is already done: `await ready` gives its value at once,
// with no coroutine frame and no exception. The native ASGI cycle's send()
// and receive() return these (asgi_cycle.cpp). It also has send, throw and
// close, which makes it a collections.abc.Coroutine, so
// asyncio.create_task(receive()) works as with a coroutine.
#pragma once

#include "python/py_ref.hpp"

namespace pycnode::python {

// Attached only. The type (one per worker's cycle kit); null with an
// exception set on failure.
PyRef make_ready_type();

// Attached only. A new awaitable of `ready_type` that gives `value`.
PyObject* new_ready(PyObject* ready_type, PyObject* value);

}  // namespace pycnode::python
