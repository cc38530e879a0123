// {call, Module, Function, Args} and {call, Module, Function, Args, Opts}:
// apply a Python function, as erlang:apply/3.
//
// The request is checked before attaching (a malformed one costs no Python
// time), then: the callable from the worker's cache, arguments to Python,
// one vectorcall, the result back to a term. A sync function runs on a
// blocking thread; an async one (or any call that returns an awaitable) is
// awaited on an event worker's loop, many at once (call_routes.hpp says
// how a call finds its kind of worker). With `result => handle` the result
// is kept in the handle table (handles.hpp) instead of converted; a method
// call on a handle (handle_requests.cpp) shares all of this (call.hpp).
#include "python/call.hpp"

#include "dist/node_terms.hpp"
#include "python/call_routes.hpp"
#include "python/errors.hpp"
#include "python/event_loop.hpp"
#include "python/waiting.hpp"
#include "python/from_python.hpp"
#include "python/handles.hpp"
#include "python/request_checks.hpp"
#include "python/runtime.hpp"
#include "python/to_python.hpp"
#include "python/worker_context.hpp"

#include <fmt/format.h>

#include <array>
#include <vector>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;


// Empty when the request is well formed, else what is wrong with it.
std::string check_request(const Term& request) {
    std::size_t size = request.kind == Kind::Tuple ? request.items.size() : 0;
    if ((size != 4 && size != 5) || !request.items[0].is_atom("call"))
        return "expected {call, Module, Function, Args} or {call, Module, Function, Args, Opts}";
    if (!is_name(request.items[1])) return "Module must be a non-empty UTF-8 binary";
    if (!is_name(request.items[2])) return "Function must be a non-empty UTF-8 binary";
    if (request.items[3].kind != Kind::List) return "Args must be a proper list";
    if (size == 5 && request.items[4].kind != Kind::Map) return "Opts must be a map";
    return {};
}

// The argument array for PyObject_Vectorcall, with the spare slot in front
// that PY_VECTORCALL_ARGUMENTS_OFFSET promises the callee. Calls with few
// arguments (nearly all of them) allocate nothing.
class ArgumentVector {
public:
    explicit ArgumentVector(std::size_t count) : count_(count) {
        if (count_ > inline_capacity) {
            heap_refs_.resize(count_);
            heap_slots_.resize(count_ + 1);
        }
    }

    void set(std::size_t index, PyRef arg) {
        slots()[index + 1] = arg.get();
        refs()[index] = std::move(arg);
    }
    PyObject* const* args() { return slots() + 1; }
    // Positional arguments only: keyword values follow them in args().
    std::size_t nargsf(std::size_t positional) const { return positional | PY_VECTORCALL_ARGUMENTS_OFFSET; }

private:
    static constexpr std::size_t inline_capacity = 8;

    bool inline_storage() const { return count_ <= inline_capacity; }
    PyRef* refs() { return inline_storage() ? inline_refs_.data() : heap_refs_.data(); }
    PyObject** slots() { return inline_storage() ? inline_slots_.data() : heap_slots_.data(); }

    std::size_t count_;
    std::array<PyRef, inline_capacity> inline_refs_{};
    std::array<PyObject*, inline_capacity + 1> inline_slots_{};
    std::vector<PyRef> heap_refs_;
    std::vector<PyObject*> heap_slots_;
};

// {ok, Value} without copying Value, which may be a large tree.
Term ok_reply(Term value) { return Term::tuple_of(Term::make_atom("ok"), std::move(value)); }

// Attached only. Empty when every argument converted, else the detail,
// naming the argument.
ArgumentProblem convert_arguments(WorkerContext& ctx, const std::vector<Term>& terms, const CallOptions& options,
                                  ArgumentVector& args) {
    for (std::size_t i = 0; i < terms.size(); ++i) {
        PyRef arg;
        if (auto status = to_python(ctx, terms[i], arg, options.conversion); !status)
            return {fmt::format("argument {}: {}", i + 1, status.detail()), status.is_bad_handle()};
        args.set(i, std::move(arg));
    }
    return {};
}

// Attached only. Keyword arguments go after the positional ones in `args`,
// their names in `kwnames` (the vectorcall convention).
ArgumentProblem convert_keywords(WorkerContext& ctx, const CallOptions& options, std::size_t first,
                                 ArgumentVector& args, PyRef& kwnames) {
    const std::vector<Keyword>& keywords = options.keywords;
    if (keywords.empty()) return {};
    kwnames = PyRef::steal(PyTuple_New(static_cast<Py_ssize_t>(keywords.size())));
    if (!kwnames) return {"keyword names: " + take_exception_text()};
    for (std::size_t i = 0; i < keywords.size(); ++i) {
        PyObject* name = PyUnicode_FromStringAndSize(keywords[i].name.data(),
                                                     static_cast<Py_ssize_t>(keywords[i].name.size()));
        if (!name) return {"keyword names: " + take_exception_text()};
        PyUnicode_InternInPlace(&name);
        PyTuple_SET_ITEM(kwnames.get(), static_cast<Py_ssize_t>(i), name);
        PyRef value;
        if (auto status = to_python(ctx, *keywords[i].value, value, options.conversion); !status)
            return {fmt::format("keyword argument {}: {}", keywords[i].name, status.detail()), status.is_bad_handle()};
        args.set(first + i, std::move(value));
    }
    return {};
}

}  // namespace

// `async def` functions and methods without a Python call; anything else
// (functools.partial, callables with __call__) through inspect.
bool is_coroutine_function(PyObject* callable) {
    PyObject* fn = PyMethod_Check(callable) ? PyMethod_GET_FUNCTION(callable) : callable;
    if (PyFunction_Check(fn))
        return (reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(fn))->co_flags & CO_COROUTINE) != 0;
    PyRef inspect = PyRef::steal(PyImport_ImportModule("inspect"));
    PyRef answer = inspect ? PyRef::steal(PyObject_CallMethod(inspect.get(), "iscoroutinefunction", "O", callable))
                           : PyRef();
    int is = answer ? PyObject_IsTrue(answer.get()) : -1;
    if (is < 0) PyErr_Clear();  // not knowing costs a hand-over, nothing else
    return is > 0;
}

namespace {

// What an async call whose result becomes a handle needs after its await:
// its caller (the job is gone by then). Held by a capsule.
struct AsyncResult {
    Caller caller;
    std::string pid;  // caller.pid views the job's packet: this copy outlives it
};

void free_async_result(PyObject* capsule) {
    delete static_cast<AsyncResult*>(PyCapsule_GetPointer(capsule, "pycnode.AsyncResult"));
}

// `state`: Py_True when None goes back as nil, nullptr when as undefined
// (no allocation for the usual async call), an AsyncResult capsule when
// the result becomes a handle.
term::Term finish_async_call(WorkerContext& ctx, PyObject* state, PyObject* result, term::ByteArena& arena) {
    if (!state || !PyCapsule_CheckExact(state)) return value_reply(ctx, result, arena, state == Py_True);
    auto* async = static_cast<AsyncResult*>(PyCapsule_GetPointer(state, "pycnode.AsyncResult"));
    if (!result) return python_error_reply(ctx, arena);
    return handle_reply(result, async->caller, arena);
}

// Null with an exception set if it cannot be made.
PyRef async_state(WorkerContext& ctx, const CallOptions& options) {
    if (!options.result_as_handle) return PyRef::borrow(options.conversion.nil_as_none ? Py_True : nullptr);
    Caller caller = handle_owner(ctx, options);
    auto* async = new AsyncResult{{}, std::string(caller.pid)};
    async->caller = {async->pid, std::move(caller.outbox)};
    PyRef capsule = PyRef::steal(PyCapsule_New(async, "pycnode.AsyncResult", &free_async_result));
    if (!capsule) delete async;
    return capsule;
}

}  // namespace

term::Term value_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena, bool nil_as_none) {
    if (!result) return python_error_reply(ctx, arena);
    Term value;
    if (auto status = from_python(ctx, result, arena, value, nil_as_none); !status)
        return bad_result_reply(arena, status.detail());
    return ok_reply(std::move(value));
}

term::Term handle_reply(PyObject* result, const Caller& caller, term::ByteArena& arena) {
    std::string reference = handles().insert(result, caller);
    if (reference.empty()) return bad_handle_reply(arena, "the caller's connection closed");
    return ok_reply(handle_term(arena.keep(std::move(reference))));
}

Caller handle_owner(WorkerContext& ctx, const CallOptions& options) {
    Caller caller = ctx.caller();
    if (!options.owner.empty()) caller.pid = options.owner;
    return caller;
}

std::string check_owner(WorkerContext& ctx, const CallOptions& options) {
    if (options.owner.empty()) return {};
    // Monitored over the caller's connection: it must be a process there.
    if (dist::pid_node(options.owner) != dist::pid_node(ctx.caller().pid))
        return "option owner must be a pid on the caller's node";
    return {};
}

term::Term result_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena, const CallOptions& options) {
    if (!result || !options.result_as_handle) return value_reply(ctx, result, arena, options.conversion.nil_as_none);
    return handle_reply(result, handle_owner(ctx, options), arena);
}

term::Term argument_error_reply(term::ByteArena& arena, const ArgumentProblem& problem) {
    return problem.bad_handle ? bad_handle_reply(arena, problem.detail) : bad_request_reply(arena, problem.detail);
}

term::Term call_and_reply(WorkerContext& ctx, PyObject* callable, const std::vector<term::Term>& arg_terms,
                          const CallOptions& options, term::ByteArena& arena, bool& was_awaitable) {
    was_awaitable = false;
    if (std::string problem = check_owner(ctx, options); !problem.empty()) return bad_request_reply(arena, problem);
    ArgumentVector args(arg_terms.size() + options.keywords.size());
    PyRef kwnames;
    ArgumentProblem problem = convert_arguments(ctx, arg_terms, options, args);
    if (problem.detail.empty()) problem = convert_keywords(ctx, options, arg_terms.size(), args, kwnames);
    if (!problem.detail.empty()) return argument_error_reply(arena, problem);
    PyRef result =
        PyRef::steal(PyObject_Vectorcall(callable, args.args(), args.nargsf(arg_terms.size()), kwnames.get()));
    if (!result || !is_awaitable(result.get())) return result_reply(ctx, result.get(), arena, options);

    was_awaitable = true;
    PyRef state = async_state(ctx, options);
    if (options.result_as_handle && !state) return python_error_reply(ctx, arena);
    PyRef awaited;
    if (await_or_defer(ctx, result.get(), awaited, state.get(), &finish_async_call, &cancel_task) ==
        Awaited::Deferred)
        return {};
    return result_reply(ctx, awaited.get(), arena, options);
}

term::Term run_call(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    if (std::string problem = check_request(request); !problem.empty()) return bad_request_reply(arena, problem);
    CallOptions options;
    if (std::string problem = read_call_options(request, options); !problem.empty())
        return bad_request_reply(arena, problem);
    const auto& module = request.items[1].bytes;
    const auto& function = request.items[2].bytes;

    // Declared first, so every Python reference below is dropped attached.
    WorkerContext::Attached attached(ctx);
    PyObject* callable = ctx.callable(module, function);
    if (!callable) return python_error_reply(ctx, arena);
    if (call_routes().find(module, function) != CallKind::Async) {
        if (is_coroutine_function(callable)) {
            call_routes().record(module, function, CallKind::Async);
        } else if (ctx.hand_to_blocking()) {  // an event worker: this one may block
            call_routes().record(module, function, CallKind::Sync);
            return {};
        }
    }
    bool was_awaitable = false;
    Term reply = call_and_reply(ctx, callable, request.items[3].items, options, arena, was_awaitable);
    // A sync function that returned an awaitable: next time, an event worker.
    if (was_awaitable) call_routes().record(module, function, CallKind::Async);
    return reply;
}

}  // namespace pycnode::python
