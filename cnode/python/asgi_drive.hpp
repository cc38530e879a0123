// Running an ASGI coroutine on a worker without running the event loop for
// every request (pyrunner/asgi_loop.py explains the whole scheme).
//
// The coroutine is driven directly with PyIter_Send while it awaits only
// what is already done. Meanwhile asyncio sees what it sees inside a task:
// the worker's loop is running (events._set_running_loop) and the worker's
// DrivenTask is current (tasks._enter_task), and the coroutine runs in a
// fresh copy of the worker's contextvars context, as a new Task would. All
// three are undone after every send, errors included. When the coroutine
// yields (it waits for a Future, or a bare `yield` from asyncio.sleep(0)),
// WorkerLoop.hand_off resumes it on the loop, in the same task and context,
// until it finishes.
#pragma once

#include "python/py_ref.hpp"

#include <memory>

namespace pycnode::python {

class AsgiDriver {
public:
    // Attached only. `worker_loop` is this worker's pyrunner.asgi_loop.WorkerLoop.
    // Null with a Python exception set on failure.
    static std::unique_ptr<AsgiDriver> create(PyObject* worker_loop);

    // Attached only. Runs `awaitable` to completion and returns its result,
    // or null with its exception set.
    PyRef run(PyObject* awaitable);

private:
    AsgiDriver() = default;
    bool load(PyObject* worker_loop);
    int send_directly(PyObject* iterator, PyObject* context, PyRef& value);
    void after_request();

    PyRef loop_, task_;
    PyRef set_running_loop_, enter_task_, leave_task_;  // asyncio's own (C) functions
    PyRef hand_off_, settle_, reset_task_;              // the WorkerLoop's bound methods
    PyRef ready_;                                       // loop._ready: a deque for the loop's life
    PyRef scheduled_name_, cancel_requested_name_;
};

// Attached only: the iterator that `await awaitable` would drive (the
// coroutine itself, or what __await__ returns). Null with TypeError set if
// it cannot be awaited.
PyRef await_iterator(PyObject* awaitable);

}  // namespace pycnode::python
