// One ASGI request, top to bottom: check the request (detached), attach,
// find the app and its lifespan, build the scope, run the app on the
// worker's event loop (on the native cycle, asgi_cycle.cpp, or through the
// runner's run_asgi), turn the response into the reply.
#include "asgi/asgi_request.hpp"

#include "app/running.hpp"
#include "asgi/asgi_native_run.hpp"
#include "asgi/asgi_response.hpp"
#include "asgi/asgi_worker.hpp"
#include "asgi/scope_store.hpp"
#include "python/errors.hpp"
#include "python/request_checks.hpp"
#include "python/waiting.hpp"
#include "python/worker_context.hpp"
#include "term/ext_format.hpp"

#include <fmt/format.h>

#include <memory>
#include <vector>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

struct AsgiRequest {
    std::string_view module;
    std::string_view callable;
    std::string_view body;
    std::string_view runner;  // empty: the native path
    ScopeSpec own_spec;       // parsed from the request's map
    std::shared_ptr<const PreparedScope> prepared;  // or found by reference
    const ScopeSpec* spec = nullptr;
};


// Opts: a map; `runner` (atom or binary key) names a module. Others are ignored.
std::string parse_opts(const Term& opts, std::string_view& runner) {
    if (opts.kind != Kind::Map) return "Opts must be a map";
    for (std::size_t i = 0; i + 1 < opts.items.size(); i += 2) {
        const Term& key = opts.items[i];
        if ((key.kind != Kind::Atom && key.kind != Kind::Binary) || key.bytes != "runner") continue;
        if (!is_name(opts.items[i + 1])) return "Opts: runner must be a module name (a non-empty UTF-8 binary)";
        runner = opts.items[i + 1].bytes;
    }
    return {};
}

// Empty when the request is well formed, else the detail of bad_request.
// A reference that names no live scope leaves `out.spec` null.
std::string parse_request(const Term& request, AsgiRequest& out) {
    if (request.kind != Kind::Tuple || request.items.size() != 6 || !request.items[0].is_atom("asgi"))
        return "expected {asgi, Module, Callable, ScopeOrRef, Body, Opts}";
    const auto& items = request.items;
    if (!is_name(items[1])) return "Module must be a non-empty UTF-8 binary";
    if (!is_name(items[2])) return "Callable must be a non-empty UTF-8 binary";
    if (items[4].kind != Kind::Binary) return "Body must be a binary";
    if (std::string problem = parse_opts(items[5], out.runner); !problem.empty()) return problem;
    out.module = items[1].bytes;
    out.callable = items[2].bytes;
    out.body = items[4].bytes;
    if (items[3].kind == Kind::Map) {
        out.spec = &out.own_spec;
        return parse_scope(items[3], out.own_spec);
    }
    auto tag = items[3].kind == Kind::Opaque && !items[3].bytes.empty() ? static_cast<std::uint8_t>(items[3].bytes[0]) : 0;
    bool reference = tag == term::tag::newer_reference || tag == term::tag::new_reference || tag == term::tag::reference;
    if (!reference) return "the scope must be a map or a reference from build_scope";
    out.prepared = scope_store().find(items[3].bytes);
    if (out.prepared) out.spec = &out.prepared->spec();
    return {};
}

PyRef call3(PyObject* fn, PyObject* a, PyObject* b, PyObject* c) {
    PyObject* args[] = {nullptr, a, b, c};
    return PyRef::steal(PyObject_Vectorcall(fn, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
}

// Attached. The coroutine of the custom runner's run_asgi (imported once
// per worker). Null with an exception set, or with `bad_result` set when
// the runner returns something that cannot be awaited.
PyRef start_runner(WorkerContext& ctx, const AsgiRequest& req, PyObject* app, PyObject* scope, PyObject* body,
                   std::string& bad_result) {
    PyObject* run_asgi = ctx.callable(req.runner, "run_asgi");
    PyRef awaitable = run_asgi ? call3(run_asgi, app, scope, body) : PyRef();
    if (!awaitable || PyCoro_CheckExact(awaitable.get())) return awaitable;
    PyTypeObject* type = Py_TYPE(awaitable.get());
    if (type->tp_as_async && type->tp_as_async->am_await) return awaitable;
    bad_result = fmt::format("{}.run_asgi must be a coroutine function (async def); it returned {}", req.runner,
                             type->tp_name);
    return {};
}

// A custom runner's run_asgi returns (status, headers, body), or raises.
term::Term finish_runner(WorkerContext& ctx, PyObject*, PyObject* result, term::ByteArena& arena) {
    if (!result) return asgi_error_reply(ctx, *ctx.extension<AsgiWorker>(), arena);
    return asgi_response_reply(ctx, result, arena);
}

}  // namespace

term::Term run_asgi(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    AsgiRequest req;
    if (std::string problem = parse_request(request, req); !problem.empty()) return bad_request_reply(arena, problem);
    if (!req.spec) return asgi_unknown_scope_reply();
    running::add_http(req.spec->method, req.spec->path);  // for a crash report

    // Declared first, so every Python reference below is dropped attached.
    WorkerContext::Attached attached(ctx);
    AsgiWorker* asgi = ctx.extension<AsgiWorker>();
    PyObject* app = asgi ? ctx.callable(req.module, req.callable) : nullptr;
    const LifespanOutcome* lifespan = app ? asgi->lifespan(app) : nullptr;
    if (!lifespan) return python_error_reply(ctx, arena);
    if (lifespan->failed) return asgi_lifespan_failed_reply(arena, lifespan->message);

    std::string problem;
    PyRef scope = asgi->scopes().build(ctx, *req.spec, lifespan->state.get(), problem);
    if (!scope) return bad_request_reply(arena, problem);
    // The one copy of the body: from the request packet into a bytes object.
    PyRef body = PyRef::steal(PyBytes_FromStringAndSize(req.body.data(), static_cast<Py_ssize_t>(req.body.size())));
    if (!body) return python_error_reply(ctx, arena);

    if (req.runner.empty()) return run_native_cycle(ctx, *asgi, app, scope.get(), body.get(), arena);
    std::string bad_result;
    PyRef awaitable = start_runner(ctx, req, app, scope.get(), body.get(), bad_result);
    if (!bad_result.empty()) return bad_result_reply(arena, bad_result);
    if (!awaitable) return asgi_error_reply(ctx, *asgi, arena);
    PyRef result;
    if (await_or_defer(ctx, awaitable.get(), result, nullptr, &finish_runner, &cancel_task) == Awaited::Deferred)
        return {};
    return finish_runner(ctx, nullptr, result.get(), arena);
}

term::Term run_build_scope(WorkerContext&, const term::Term& request, term::ByteArena& arena) {
    if (request.kind != Kind::Tuple || request.items.size() != 3 || !request.items[0].is_atom("build_scope"))
        return bad_request_reply(arena, "expected {build_scope, Scope, Opts}");
    if (request.items[2].kind != Kind::Map) return bad_request_reply(arena, "Opts must be a map");
    std::string problem;
    auto prepared = PreparedScope::make(request.items[1], problem);
    if (!prepared) return bad_request_reply(arena, problem);
    std::string_view reference = arena.keep(scope_store().insert(std::move(prepared)));
    std::vector<Term> reply;
    reply.push_back(Term::make_atom("ok"));
    reply.push_back(Term::make_opaque(reference));
    return Term::make_tuple(std::move(reply));
}

}  // namespace pycnode::python
