#include "asgi/asgi_worker.hpp"

#include "asgi/asgi_cycle.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"
#include "python/event_loop.hpp"
#include "python/worker_context.hpp"

namespace pycnode::python {
namespace {

PyRef import_attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? PyRef::steal(PyObject_GetAttrString(owner.get(), name)) : PyRef();
}

}  // namespace

std::unique_ptr<AsgiWorker> AsgiWorker::create(WorkerContext& ctx) {
    std::unique_ptr<AsgiWorker> worker(new AsgiWorker());
    if (!worker->load(ctx)) return nullptr;
    return worker;
}

bool AsgiWorker::load(WorkerContext& ctx) {
    protocol_error_ = import_attribute("pyrunner.asgi", "ASGIProtocolError");
    no_response_ = import_attribute("pyrunner.asgi", "NoResponse");
    lifespan_failed_ = import_attribute("pyrunner.asgi", "LifespanFailed");
    PyRef lifespans_type = import_attribute("pyrunner.asgi_loop", "AsgiLifespans");
    EventLoop* loop = ctx.event_loop();
    if (!protocol_error_ || !no_response_ || !lifespan_failed_ || !lifespans_type || !loop) return false;
    cycle_kit_ = CycleKit::create(protocol_error_.get(), no_response_.get());
    if (!cycle_kit_) return false;
    PyRef lifespans = PyRef::steal(PyObject_CallOneArg(lifespans_type.get(), loop->worker_loop()));
    lifespan_state_ = lifespans ? PyRef::steal(PyObject_GetAttrString(lifespans.get(), "state")) : PyRef();
    if (!lifespan_state_) return false;
    scopes_ = ScopeBuilder::create();
    return scopes_ != nullptr;
}

const LifespanOutcome* AsgiWorker::lifespan(PyObject* app) {
    if (auto hit = lifespans_.find(app); hit != lifespans_.end()) return &hit->second.outcome;
    PyObject* args[] = {nullptr, app};
    PyRef state = PyRef::steal(
        PyObject_Vectorcall(lifespan_state_.get(), args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
    LifespanOutcome outcome;
    if (state) {
        if (state.get() != Py_None) outcome.state = std::move(state);
    } else if (PyErr_ExceptionMatches(lifespan_failed_.get())) {
        PyRef exc = take_exception();
        PyRef message = PyRef::steal(PyObject_Str(exc.get()));
        if (!message || !append_utf8_lenient(message.get(), outcome.message)) outcome.message = "<unprintable>";
        PyErr_Clear();
        outcome.failed = true;
    } else {
        return nullptr;
    }
    auto [entry, inserted] = lifespans_.emplace(app, AppLifespan{PyRef::borrow(app), std::move(outcome)});
    return &entry->second.outcome;
}

}  // namespace pycnode::python
