#include "asgi/asgi_native_run.hpp"

#include "app/log.hpp"
#include "asgi/asgi_cycle.hpp"
#include "asgi/asgi_response.hpp"
#include "asgi/asgi_worker.hpp"
#include "python/errors.hpp"
#include "python/event_loop.hpp"
#include "python/waiting.hpp"
#include "python/worker_context.hpp"

namespace pycnode::python {
namespace {

PyRef call3(PyObject* fn, PyObject* a, PyObject* b, PyObject* c) {
    PyObject* args[] = {nullptr, a, b, c};
    return PyRef::steal(PyObject_Vectorcall(fn, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
}

// The reply of a cycle whose app returned `returned`, or raised (null, its
// exception set).
term::Term finish_cycle(WorkerContext& ctx, PyObject* cycle, PyObject* returned, term::ByteArena& arena) {
    AsgiWorker& asgi = *ctx.extension<AsgiWorker>();  // made before the cycle, it outlives the worker's loop
    if (!returned && !cycle_keeps_response(cycle)) return asgi_error_reply(ctx, asgi, arena);
    PyRef result = cycle_result(cycle);
    if (!result) return asgi_error_reply(ctx, asgi, arena);
    return asgi_response_reply(ctx, result.get(), arena);
}

// The caller gave up: the app's receive() says http.disconnect now, and
// its task is cancelled after the grace period unless it ends first.
void disconnect_cycle(WorkerContext& ctx, PyObject* cycle, PyObject* task) {
    if (cycle_disconnect(cycle) < 0)
        log::warning("asgi: waking a disconnected request failed: {}", take_exception_text());
    EventLoop* loop = ctx.existing_event_loop();
    unsigned grace = ctx.cancel_grace_ms();
    if (!loop || grace == 0) return cancel_task(ctx, cycle, task);
    PyRef cancel = PyRef::steal(PyObject_GetAttrString(task, "cancel"));
    PyRef timer = cancel ? PyRef::steal(PyObject_CallMethod(loop->loop(), "call_later", "dO", grace / 1000.0,
                                                            cancel.get()))
                         : PyRef();
    if (!timer) log::warning("asgi: scheduling the cancel of an abandoned request failed: {}", take_exception_text());
}

}  // namespace

term::Term run_native_cycle(WorkerContext& ctx, AsgiWorker& asgi, PyObject* app, PyObject* scope, PyObject* body,
                            term::ByteArena& arena) {
    PyRef receive, send;
    PyRef cycle = make_cycle(asgi.cycle_kit(), body, receive, send);
    if (!cycle) return asgi_error_reply(ctx, asgi, arena);
    PyRef awaitable = call3(app, scope, receive.get(), send.get());
    if (!awaitable) return finish_cycle(ctx, cycle.get(), nullptr, arena);
    PyRef returned;
    if (await_or_defer(ctx, awaitable.get(), returned, cycle.get(), &finish_cycle, &disconnect_cycle) ==
        Awaited::Deferred)
        return {};
    return finish_cycle(ctx, cycle.get(), returned.get(), arena);
}

}  // namespace pycnode::python
