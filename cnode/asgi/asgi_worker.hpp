// What one worker keeps for ASGI: its scope builder, pyrunner.asgi's
// objects, and the lifespan of each app it ran (on the worker's event loop,
// python/event_loop.hpp).
//
// Made on the worker's first ASGI request and owned by its WorkerContext
// (ctx.extension<AsgiWorker>()), so it is used by one thread only and needs
// no lock, with or without the GIL. The apps' lifespans are shut down when
// the worker's loop closes (bounded by pyrunner.worker_loop.SHUTDOWN_TIMEOUT).
#pragma once

#include "asgi/scope_builder.hpp"
#include "python/py_ref.hpp"
#include "python/worker_context.hpp"

#include <memory>
#include <string>
#include <unordered_map>

namespace pycnode::python {

struct LifespanOutcome {
    PyRef state;          // the state dict after lifespan.startup.complete; null: no lifespan
    bool failed = false;  // lifespan.startup.failed: every request gets {error, {lifespan_failed, message}}
    std::string message;
};

class AsgiWorker : public WorkerExtension {
public:
    // Attached only. Null with a Python exception set on failure.
    static std::unique_ptr<AsgiWorker> create(WorkerContext& ctx);
    ~AsgiWorker() override = default;  // attached only
    AsgiWorker(const AsgiWorker&) = delete;
    AsgiWorker& operator=(const AsgiWorker&) = delete;

    ScopeBuilder& scopes() { return *scopes_; }
    PyObject* cycle_kit() const { return cycle_kit_.get(); }      // for run_native_cycle
    PyObject* protocol_error() const { return protocol_error_.get(); }
    PyObject* no_response() const { return no_response_.get(); }

    // The lifespan of `app` on this worker, run at its first request here.
    // Null with a Python exception set if the lifespan machinery itself
    // failed (then it is tried again at the next request).
    const LifespanOutcome* lifespan(PyObject* app);

private:
    AsgiWorker() = default;
    bool load(WorkerContext& ctx);

    PyRef protocol_error_, no_response_, lifespan_failed_, lifespan_state_, cycle_kit_;
    std::unique_ptr<ScopeBuilder> scopes_;
    struct AppLifespan {
        PyRef app;  // keeps the key alive
        LifespanOutcome outcome;
    };
    std::unordered_map<PyObject*, AppLifespan> lifespans_;
};

}  // namespace pycnode::python
