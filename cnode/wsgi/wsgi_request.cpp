#include "wsgi/wsgi_request.hpp"

#include "app/log.hpp"
#include "app/running.hpp"
#include "python/errors.hpp"
#include "python/request_checks.hpp"
#include "python/worker_context.hpp"
#include "term/ext_format.hpp"
#include "wsgi/wsgi_environ.hpp"
#include "wsgi/wsgi_response.hpp"
#include "wsgi/wsgi_state.hpp"

#include <fmt/format.h>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;
using namespace wsgi;

// "" when the request is well formed (then `runner` is Opts' runner, or
// empty), else what is wrong with it.
std::string check_request(const Term& request, std::string_view& runner) {
    if (request.kind != Kind::Tuple || request.items.size() != 5 || !request.items[0].is_atom("wsgi"))
        return "expected {wsgi, Module, Callable, Environ, Opts}";
    if (!is_name(request.items[1])) return "Module must be a non-empty UTF-8 binary";
    if (!is_name(request.items[2])) return "Callable must be a non-empty UTF-8 binary";
    if (request.items[3].kind != Kind::Map) return "Environ must be a map with binary keys";
    const Term& opts = request.items[4];
    if (opts.kind != Kind::Map) return "Opts must be a map";
    for (std::size_t i = 0; i + 1 < opts.items.size(); i += 2) {
        if (!opts.items[i].is_atom("runner")) continue;  // unknown keys are ignored
        if (!is_name(opts.items[i + 1])) return "Opts runner must be a non-empty UTF-8 binary (a module name)";
        runner = opts.items[i + 1].bytes;
    }
    return {};
}

Term tagged(std::string_view tag, Term value) {
    std::vector<Term> items;
    items.reserve(2);
    items.push_back(Term::make_atom(tag));
    items.push_back(std::move(value));
    return Term::make_tuple(std::move(items));
}

Term binary(term::ByteArena& arena, std::string text) { return Term::make_binary(arena.keep(std::move(text))); }

Term protocol_error_reply(term::ByteArena& arena, std::string detail) {
    return tagged("error", tagged("wsgi_protocol", binary(arena, std::move(detail))));
}

Term ok_reply(term::ByteArena& arena, ResponseParts&& parts) {
    std::vector<Term> headers;
    headers.reserve(parts.headers.size());
    for (auto& [name, value] : parts.headers)
        headers.push_back(Term::make_tuple({binary(arena, std::move(name)), binary(arena, std::move(value))}));
    std::vector<Term> response;
    response.reserve(3);
    response.push_back(binary(arena, std::move(parts.status)));
    response.push_back(Term::make_list(std::move(headers)));
    response.push_back(binary(arena, std::move(parts.body)));
    return tagged("ok", Term::make_tuple(std::move(response)));
}

// An exception that ended the request: a WSGIProtocolError (from a runner,
// or re-raised by one) is a breach of PEP 3333, anything else the app's own.
Term exception_reply(WorkerContext& ctx, WsgiState& state, term::ByteArena& arena, PyRef error) {
    if (PyErr_GivenExceptionMatches(error.get(), state.protocol_error())) {
        PyRef text = PyRef::steal(PyObject_Str(error.get()));
        std::string detail;
        if (!text || !append_utf8_lenient(text.get(), detail)) PyErr_Clear();
        return protocol_error_reply(arena, std::move(detail));
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(error.release());
#else
    PyObject* exc = error.release();
    PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exc))), exc, PyException_GetTraceback(exc));
#endif
    return python_error_reply(ctx, arena);
}

PyRef call2(PyObject* callable, PyObject* first, PyObject* second) {
    PyObject* args[] = {nullptr, first, second};
    return PyRef::steal(PyObject_Vectorcall(callable, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
}

// Every item of the result into the response. False when an exception is
// set, or (none set) a breach was recorded.
bool collect(WsgiState& state, PyObject* response, PyObject* result) {
    if (PyBytes_Check(result) || PyUnicode_Check(result)) {
        record_violation(response, fmt::format("the application returned {}; it must return an iterable of "
                                               "bytes, such as [body]",
                                               type_name_of(result)));
        return false;
    }
    // wsgi.file_wrapper: the rest of the file in one read, not in blocks.
    if (Py_IS_TYPE(result, reinterpret_cast<PyTypeObject*>(state.file_wrapper()))) {
        PyRef data = PyRef::steal(PyObject_CallMethodNoArgs(result, state.name_read_all()));
        return data && append_body(response, data.get());
    }
    PyRef iterator = PyRef::steal(PyObject_GetIter(result));
    if (!iterator) return false;
    while (PyRef item = PyRef::steal(PyIter_Next(iterator.get())))
        if (!append_body(response, item.get())) return false;
    return !PyErr_Occurred();
}

// result.close, or empty (no exception set) if it has none.
PyRef close_method(WsgiState& state, PyObject* result) {
    PyObject* close = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
    PyObject_GetOptionalAttr(result, state.name_close(), &close);
#else
    _PyObject_LookupAttr(result, state.name_close(), &close);
#endif
    return PyRef::steal(close);
}

// PEP 3333: close() is called whenever the result has one, whatever
// happened. Its own exception counts only if nothing failed before it.
void close_result(WsgiState& state, PyObject* result, bool failed, PyRef& error) {
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) return;  // no close(), no lookup
    PyRef close = close_method(state, result);
    if (close && PyRef::steal(PyObject_CallNoArgs(close.get()))) return;
    if (!PyErr_Occurred()) return;
    if (!failed) {
        error = take_exception();
        return;
    }
    log::warning("WSGI: close() raised after an earlier error: {}", take_exception_text());
}

// The native path: the app called with our start_response, its result
// collected and closed. A recorded breach outranks everything else, even an
// exception that followed it (the app may have caught ours).
Term run_native(WorkerContext& ctx, WsgiState& state, PyObject* app, PyObject* environ, term::ByteArena& arena) {
    PyRef response = new_response(state.response_type(), state.protocol_error());
    PyRef start = response ? start_response_of(response.get()) : PyRef();
    if (!start) return python_error_reply(ctx, arena);
    PyRef error;
    if (PyRef result = call2(app, environ, start.get())) {
        bool collected = collect(state, response.get(), result.get());
        if (!collected) error = take_exception();  // none after a recorded breach
        close_result(state, result.get(), !collected, error);
    } else {
        error = take_exception();
    }
    ResponseParts parts;
    std::string violation;
    bool started = finish_response(response.get(), parts, violation);
    if (!violation.empty()) return protocol_error_reply(arena, std::move(violation));
    if (error) return exception_reply(ctx, state, arena, std::move(error));
    if (!started) return protocol_error_reply(arena, "start_response was not called");
    return ok_reply(arena, std::move(parts));
}

std::string read_body(PyObject* body, std::string& out) {
    Py_buffer view;
    if (PyUnicode_Check(body) || PyObject_GetBuffer(body, &view, PyBUF_CONTIG_RO) < 0) {
        PyErr_Clear();
        return fmt::format("run_wsgi result: body must be bytes, not {}", type_name_of(body));
    }
    out.assign(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
    PyBuffer_Release(&view);
    return {};
}

// A runner returns (status, headers, body): checked by the same rules as
// start_response, with bytes allowed too.
std::string read_runner_result(PyObject* result, ResponseParts& parts) {
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 3)
        return fmt::format("run_wsgi must return a (status, headers, body) tuple, not {}", type_name_of(result));
    std::string problem =
        read_status(PyTuple_GET_ITEM(result, 0), Strictness::RunnerResult, "run_wsgi result", parts.status);
    if (problem.empty())
        problem = read_headers(PyTuple_GET_ITEM(result, 1), Strictness::RunnerResult, "run_wsgi result", parts.headers);
    if (problem.empty()) problem = read_body(PyTuple_GET_ITEM(result, 2), parts.body);
    return problem;
}

Term run_runner(WorkerContext& ctx, WsgiState& state, std::string_view runner, PyObject* app, PyObject* environ,
                term::ByteArena& arena) {
    PyObject* run = ctx.callable(runner, "run_wsgi");
    if (!run) return python_error_reply(ctx, arena);
    PyRef result = call2(run, app, environ);
    if (!result) return exception_reply(ctx, state, arena, take_exception());
    ResponseParts parts;
    if (std::string problem = read_runner_result(result.get(), parts); !problem.empty())
        return bad_result_reply(arena, problem);
    return ok_reply(arena, std::move(parts));
}

// For a crash report: the method and path the request names.
void add_http_to_label(const EnvironPlan& plan) {
    std::string_view method = "GET", path_info;
    for (const auto& item : plan.cgi) {
        if (item.key == "REQUEST_METHOD") method = item.value;
        else if (item.key == "PATH_INFO") path_info = item.value;
    }
    running::add_http(method, plan.fields.script_name, path_info);
}

}  // namespace

term::Term run_wsgi(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    std::string_view runner;
    if (std::string problem = check_request(request, runner); !problem.empty()) return bad_request_reply(arena, problem);
    EnvironPlan plan;
    if (std::string problem = plan_environ(request.items[3], plan); !problem.empty())
        return bad_request_reply(arena, problem);
    add_http_to_label(plan);

    // Declared first, so every Python reference below is dropped attached.
    WorkerContext::Attached attached(ctx);
    WsgiState* state = ctx.extension<WsgiState>();
    if (!state) return python_error_reply(ctx, arena);
    PyObject* app = ctx.callable(request.items[1].bytes, request.items[2].bytes);
    if (!app) return python_error_reply(ctx, arena);
    std::string problem;
    PyRef environ = build_environ(ctx, *state, plan, problem);
    if (!environ) return bad_request_reply(arena, problem);
    Term reply = runner.empty() ? run_native(ctx, *state, app, environ.get(), arena)
                                : run_runner(ctx, *state, runner, app, environ.get(), arena);
    state->flush_errors();
    return reply;
}

}  // namespace pycnode::python
