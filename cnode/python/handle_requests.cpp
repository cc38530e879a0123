#include "python/handle_requests.hpp"

#include "python/call.hpp"
#include "python/errors.hpp"
#include "python/handles.hpp"
#include "python/request_checks.hpp"
#include "python/worker_context.hpp"

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

constexpr std::string_view not_live =
    "target: not a live handle of this node (released, its owner exited, or made elsewhere)";

// Empty when `request` is {Name, Handle, ...} of `arity` (or `arity` + 1
// with an Opts map last, if `with_opts`), else what it should be.
std::string check_shape(const Term& request, std::string_view shape, std::size_t arity, bool with_opts) {
    std::size_t size = request.kind == Kind::Tuple ? request.items.size() : 0;
    std::string_view reference;
    if (size != arity && !(with_opts && size == arity + 1)) return "expected " + std::string(shape);
    if (!is_handle_term(request.items[1], reference)) return "Handle must be {'$pycnode_handle', Ref}";
    if (size == arity + 1 && request.items[arity].kind != Kind::Map) return "Opts must be a map";
    return {};
}

std::string_view reference_of(const Term& handle) {
    std::string_view reference;
    is_handle_term(handle, reference);
    return reference;
}

// Attached: obj.name, or null with the exception set.
PyRef attribute(PyObject* obj, std::string_view utf8_name) {
    PyRef key = PyRef::steal(PyUnicode_FromStringAndSize(utf8_name.data(), static_cast<Py_ssize_t>(utf8_name.size())));
    return key ? PyRef::steal(PyObject_GetAttr(obj, key.get())) : PyRef();
}

}  // namespace

term::Term run_call_method(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    std::string problem = check_shape(request, "{call_method, Handle, Method, Args, Opts}", 4, true);
    if (problem.empty() && !is_name(request.items[2])) problem = "Method must be a non-empty UTF-8 binary";
    if (problem.empty() && request.items[3].kind != Kind::List) problem = "Args must be a proper list";
    CallOptions options;
    if (problem.empty()) problem = read_call_options(request, options);
    if (!problem.empty()) return bad_request_reply(arena, problem);

    WorkerContext::Attached attached(ctx);
    PyRef target = handles().find(reference_of(request.items[1]));
    if (!target) return bad_handle_reply(arena, not_live);
    PyRef method = attribute(target.get(), request.items[2].bytes);
    if (!method) return python_error_reply(ctx, arena);
    // As for a call: a sync method may block, so an event worker hands it over.
    if (!is_coroutine_function(method.get()) && ctx.hand_to_blocking()) return {};
    bool was_awaitable = false;
    return call_and_reply(ctx, method.get(), request.items[3].items, options, arena, was_awaitable);
}

term::Term run_getattr(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    std::string problem = check_shape(request, "{getattr, Handle, Name, Opts}", 3, true);
    if (problem.empty() && !is_name(request.items[2])) problem = "Name must be a non-empty UTF-8 binary";
    CallOptions options;
    if (problem.empty()) problem = read_call_options(request, options, 3, /*with_kwargs=*/false);
    if (problem.empty()) problem = check_owner(ctx, options);
    if (!problem.empty()) return bad_request_reply(arena, problem);

    WorkerContext::Attached attached(ctx);
    PyRef target = handles().find(reference_of(request.items[1]));
    if (!target) return bad_handle_reply(arena, not_live);
    PyRef value = attribute(target.get(), request.items[2].bytes);
    return result_reply(ctx, value.get(), arena, options);
}

term::Term run_release(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena) {
    if (std::string problem = check_shape(request, "{release, Handle}", 2, false); !problem.empty())
        return bad_request_reply(arena, problem);
    WorkerContext::Attached attached(ctx);  // the object's last reference may go here
    if (!handles().release(reference_of(request.items[1]))) return bad_handle_reply(arena, not_live);
    return Term::make_atom("ok");
}

}  // namespace pycnode::python
