// What a generic call and a method call on a handle share (call.cpp,
// handle_requests.cpp): arguments to Python, one vectorcall, the result
// back as a term or a handle.
#pragma once

#include "python/call_options.hpp"
#include "python/pending_reply.hpp"
#include "term/term.hpp"

#include <Python.h>

#include <string>
#include <vector>

namespace pycnode::python {

class WorkerContext;

// Why the arguments could not be converted; empty detail: they were.
struct ArgumentProblem {
    std::string detail;
    bool bad_handle = false;  // a handle among them is not live
};

// Attached. Calls `callable` with the arguments and keyword arguments and
// returns the reply; an awaitable result is awaited (`was_awaitable` set),
// and the reply is then empty if it comes later, from the worker's loop.
term::Term call_and_reply(WorkerContext& ctx, PyObject* callable, const std::vector<term::Term>& arg_terms,
                          const CallOptions& options, term::ByteArena& arena, bool& was_awaitable);

// Attached. {ok, Term}, {ok, Handle} with `result => handle`, or the error
// (a null `result`: the exception that is set).
term::Term result_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena, const CallOptions& options);
term::Term value_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena, bool nil_as_none);
term::Term handle_reply(PyObject* result, const Caller& caller, term::ByteArena& arena);
// Who owns a handle result: the `owner` option, else the caller.
Caller handle_owner(WorkerContext& ctx, const CallOptions& options);
// Empty if the `owner` option (if any) can own handles, else why not.
std::string check_owner(WorkerContext& ctx, const CallOptions& options);
term::Term argument_error_reply(term::ByteArena& arena, const ArgumentProblem& problem);

// Whether calling `callable` returns a coroutine (then an event worker runs it).
bool is_coroutine_function(PyObject* callable);

}  // namespace pycnode::python
