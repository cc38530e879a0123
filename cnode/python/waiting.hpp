// A request that waits on its worker's event loop: what turns its task's
// end into the reply, and what stops it when its caller gives up.
//
// await_or_defer() is the one door: a handler gives it the awaitable of
// its request; if the awaitable finishes while driven directly (nearly
// always) the handler replies at once as before, else the request becomes
// a task and its reply is sent when the task ends.
#pragma once

#include "python/event_loop.hpp"
#include "python/pending_reply.hpp"
#include "python/py_ref.hpp"
#include "term/term.hpp"

#include <chrono>
#include <memory>

namespace pycnode::python {

class WorkerContext;

// Builds the reply once the task ended: `value` is what the coroutine
// returned, or null with its exception set; `state` is what the handler
// gave await_or_defer (an ASGI cycle, say). Attached.
using FinishReply = term::Term (*)(WorkerContext& ctx, PyObject* state, PyObject* value, term::ByteArena& arena);
// Stops the task of a request whose caller gave up. Attached.
using CancelWaiting = void (*)(WorkerContext& ctx, PyObject* state, PyObject* task);

class Waiting {
public:
    Waiting(WorkerContext& ctx, std::unique_ptr<PendingReply> reply, PyObject* state, FinishReply finish,
            CancelWaiting cancel)
        : ctx_(ctx), reply_(std::move(reply)), state_(PyRef::borrow(state)), finish_(finish), cancel_(cancel) {}
    ~Waiting();  // attached

    // The task ended (pyrunner's DrivenTask calls its on_done).
    void done(PyObject* value, PyObject* error);
    // The caller gave up.
    void cancel();
    // Past its deadline: the caller gets {error, timeout} now, and the task
    // is stopped as for a caller that gave up.
    void time_out();
    std::chrono::steady_clock::time_point deadline() const { return reply_->deadline(); }
    void set_task(PyRef task) { task_ = std::move(task); }
    const void* key() const { return reply_->key(); }
    bool abandoned() const { return reply_->abandoned(); }

private:
    WorkerContext& ctx_;
    std::unique_ptr<PendingReply> reply_;
    PyRef state_;
    FinishReply finish_;
    CancelWaiting cancel_;
    PyRef task_;
    bool finished_ = false;
};

enum class Awaited { Done, Deferred };

// Attached only. Drives `awaitable`. Done: `result` is its value, or null
// with its exception set; the caller replies. Deferred: it waits on the
// loop and `finish` will build its reply (sent through the job's
// PendingReply); the caller's own return value is ignored. On a worker that
// cannot defer (a blocking thread) it runs to its end here: always Done.
Awaited await_or_defer(WorkerContext& ctx, PyObject* awaitable, PyRef& result, PyObject* state, FinishReply finish,
                       CancelWaiting cancel);

// The CancelWaiting of plain coroutines: task.cancel().
void cancel_task(WorkerContext& ctx, PyObject* state, PyObject* task);

}  // namespace pycnode::python
