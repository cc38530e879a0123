#include "python/asgi_worker.hpp"

#include "python/asgi_cycle.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"

namespace pycnode::python {
namespace {

PyRef import_attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? PyRef::steal(PyObject_GetAttrString(owner.get(), name)) : PyRef();
}

}  // namespace

std::unique_ptr<AsgiWorker> AsgiWorker::create() {
    std::unique_ptr<AsgiWorker> worker(new AsgiWorker());
    if (!worker->load()) return nullptr;
    return worker;
}

bool AsgiWorker::load() {
    protocol_error_ = import_attribute("pyrunner.asgi", "ASGIProtocolError");
    no_response_ = import_attribute("pyrunner.asgi", "NoResponse");
    lifespan_failed_ = import_attribute("pyrunner.asgi", "LifespanFailed");
    PyRef loop_type = import_attribute("pyrunner.asgi_loop", "WorkerLoop");
    if (!protocol_error_ || !no_response_ || !lifespan_failed_ || !loop_type) return false;
    cycle_kit_ = CycleKit::create(protocol_error_.get(), no_response_.get());
    if (!cycle_kit_) return false;
    // Made here, on the worker's own thread: the loop belongs to it.
    worker_loop_ = PyRef::steal(PyObject_CallNoArgs(loop_type.get()));
    lifespan_state_ = worker_loop_ ? PyRef::steal(PyObject_GetAttrString(worker_loop_.get(), "lifespan_state")) : PyRef();
    if (!lifespan_state_) return false;
    scopes_ = ScopeBuilder::create();
    driver_ = scopes_ ? AsgiDriver::create(worker_loop_.get()) : nullptr;
    return driver_ != nullptr;
}

AsgiWorker::~AsgiWorker() {
    if (!worker_loop_) return;
    PyRef closed = PyRef::steal(PyObject_CallMethod(worker_loop_.get(), "close", nullptr));
    if (!closed) log::warning("asgi: closing the worker's event loop failed: {}", take_exception_text());
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
