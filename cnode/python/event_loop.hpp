// The C++ face of a worker's asyncio loop (pyrunner/worker_loop.py says
// the whole scheme): drive a coroutine directly, make it a task on the
// loop when it waits, and let the worker run the loop one iteration at a
// time between its jobs.
//
// Driving directly: while the coroutine awaits only what is already done it
// is sent into with PyIter_Send, with what asyncio sees inside a task set
// around each send (the running loop, the worker's current DrivenTask, a
// fresh copy of the contextvars context) and undone after it, errors
// included.
//
// Made on first use by the WorkerContext that owns it, used by its thread
// only; destroyed attached (WorkerLoop.close: close hooks such as lifespan
// shutdowns, then the tasks left are cancelled).
#pragma once

#include "python/py_ref.hpp"

#include <memory>

namespace pycnode::python {

class EventLoop {
public:
    // Attached only. Null with a Python exception set on failure.
    static std::unique_ptr<EventLoop> create();
    ~EventLoop();  // attached only
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    PyObject* worker_loop() const { return worker_loop_.get(); }  // pyrunner.worker_loop.WorkerLoop
    PyObject* loop() const { return loop_.get(); }                // its asyncio loop

    // A coroutine stopped at its first real wait, not yet a task.
    struct Suspended {
        PyRef iterator, yielded, context;
    };

    enum class Step { Returned, Raised, Waits };
    // Attached only. Drives `awaitable` directly. Returned: `out` is its
    // result. Raised: its exception is set. Waits: it awaits something not
    // yet done; `suspended` holds it, for adopt() or finish_here().
    Step start(PyObject* awaitable, PyRef& out, Suspended& suspended);

    // Attached only. The suspended coroutine runs on as a task of the loop;
    // `on_done(value, exception)` is called when it ends. The task, or null
    // with an exception set.
    PyRef adopt(Suspended& suspended, PyObject* on_done);

    // Attached only, loop not running: runs the suspended coroutine to its
    // end, running the loop while it waits (a blocking thread's way). Its
    // result, or null with its exception set.
    PyRef finish_here(Suspended& suspended);

    // start() then finish_here() if it waits.
    PyRef run(PyObject* awaitable);

    // The event worker's side (attached only).
    int selector_fd() const { return selector_fd_; }
    // Milliseconds until the loop has something to run: 0 now, -1 nothing
    // until I/O or a job. Costs no Python call when nothing is scheduled.
    int timeout_ms();
    // One iteration that does not block; exceptions are logged.
    void run_ready();
    // An event worker's loop: from now on it stays the thread's running
    // loop, also between requests and turns (as under run_forever), so that
    // driving a request directly need not set and unset it.
    void hold_running();

private:
    EventLoop() = default;
    bool load();
    int send_directly(PyObject* iterator, PyObject* context, PyRef& value);
    void forget_direct_cancel();
    void take_fresh_task();

    PyRef worker_loop_, loop_, task_;
    PyRef set_running_loop_, enter_task_, leave_task_;  // asyncio's own (C) functions
    PyRef adopt_, hand_off_, settle_, reset_task_, run_ready_, hold_running_, next_timeout_;
    bool held_running_ = false;  // the loop stays this thread's running loop (hold_running)
    PyRef ready_;  // loop._ready: a deque for the loop's life
    PyRef scheduled_name_, cancel_requested_name_, task_name_;
    int selector_fd_ = -1;
};

// Attached only: the iterator that `await awaitable` would drive (the
// coroutine itself, or what __await__ returns). Null with TypeError set if
// it cannot be awaited.
PyRef await_iterator(PyObject* awaitable);

// Attached only: whether `obj` can be awaited (a coroutine or has __await__).
bool is_awaitable(PyObject* obj);

}  // namespace pycnode::python
