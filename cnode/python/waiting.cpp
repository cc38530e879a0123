#include "python/waiting.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"
#include "python/worker_context.hpp"

namespace pycnode::python {
namespace {

constexpr const char* capsule_name = "pycnode.waiting";

Waiting* from_capsule(PyObject* capsule) {
    return static_cast<Waiting*>(PyCapsule_GetPointer(capsule, capsule_name));
}

void delete_waiting(PyObject* capsule) { delete from_capsule(capsule); }

// on_done(value, exception): what DrivenTask calls when the coroutine ends.
PyObject* on_done(PyObject* capsule, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "on_done(value, exception)");
        return nullptr;
    }
    Waiting* waiting = from_capsule(capsule);
    if (!waiting) return nullptr;
    waiting->done(args[0], args[1] == Py_None ? nullptr : args[1]);
    Py_RETURN_NONE;
}

PyMethodDef on_done_def = {"on_done", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&on_done)),
                           METH_FASTCALL, nullptr};

}  // namespace

Waiting::~Waiting() {
    if (!finished_) ctx_.remove_waiting(key());
}

void Waiting::done(PyObject* value, PyObject* error) {
    if (finished_) return;
    finished_ = true;
    ctx_.remove_waiting(key());
    if (error) PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error)), error);
    term::ByteArena arena;
    term::Term reply = finish_(ctx_, state_.get(), error ? nullptr : value, arena);
    if (PyErr_Occurred()) log::warning("a waiting request left an exception: {}", take_exception_text());
    reply_->send(ctx_, reply);
    task_.reset();
}

void Waiting::cancel() {
    if (!finished_ && task_) cancel_(ctx_, state_.get(), task_.get());
}

void Waiting::time_out() {
    if (finished_) return;
    reply_->time_out(ctx_);  // sent now: the task's own end sends nothing
    if (task_) cancel_(ctx_, state_.get(), task_.get());
}

void cancel_task(WorkerContext&, PyObject*, PyObject* task) {
    PyRef cancelled = PyRef::steal(PyObject_CallMethod(task, "cancel", nullptr));
    if (!cancelled) log::warning("cancelling an abandoned request failed: {}", take_exception_text());
}

Awaited await_or_defer(WorkerContext& ctx, PyObject* awaitable, PyRef& result, PyObject* state, FinishReply finish,
                       CancelWaiting cancel) {
    EventLoop* loop = ctx.event_loop();
    if (!loop) return Awaited::Done;  // the exception is set
    EventLoop::Suspended suspended;
    switch (loop->start(awaitable, result, suspended)) {
        case EventLoop::Step::Returned:
        case EventLoop::Step::Raised: return Awaited::Done;
        case EventLoop::Step::Waits: break;
    }
    std::unique_ptr<PendingReply> reply = ctx.defer_reply();
    if (!reply) {
        result = loop->finish_here(suspended);
        return Awaited::Done;
    }
    const void* key = reply->key();
    auto* waiting = new Waiting(ctx, std::move(reply), state ? state : Py_None, finish, cancel);
    PyRef capsule = PyRef::steal(PyCapsule_New(waiting, capsule_name, &delete_waiting));
    if (!capsule) delete waiting;
    PyRef callback = capsule ? PyRef::steal(PyCFunction_New(&on_done_def, capsule.get())) : PyRef();
    PyRef task = callback ? loop->adopt(suspended, callback.get()) : PyRef();
    if (!task) {
        // Nothing will call on_done: answer with the error now, through the pending reply.
        if (capsule) waiting->done(nullptr, nullptr);
        return Awaited::Deferred;
    }
    waiting->set_task(std::move(task));
    ctx.add_waiting(key, waiting);
    if (waiting->abandoned()) waiting->cancel();  // the caller gave up while it ran
    return Awaited::Deferred;
}

}  // namespace pycnode::python
