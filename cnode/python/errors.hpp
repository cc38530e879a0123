// How failures reach the Erlang caller: always as an {error, Reason} value.
//
//   {error, {python, TypeName, Message, Traceback}}  the Python code raised
//   {error, {bad_request, Detail}}                   the request was malformed
//   {error, {bad_result, Detail}}                    the result has no Erlang form
//
// Every string in a reason is a UTF-8 binary.
#pragma once

#include "python/py_ref.hpp"
#include "term/term.hpp"

#include <string>
#include <string_view>

namespace pycnode::python {

class WorkerContext;

// Attached only, with a Python exception set: takes (clears) it and returns
// {error, {python, ...}} described by pyrunner.errors.describe. If that helper
// fails too, the reason still names the exception's type.
term::Term python_error_reply(WorkerContext& ctx, term::ByteArena& arena);

term::Term bad_request_reply(term::ByteArena& arena, std::string_view detail);
term::Term bad_result_reply(term::ByteArena& arena, std::string_view detail);
// {error, {bad_handle, Detail}}: a handle that is not live (docs/protocol.md).
term::Term bad_handle_reply(term::ByteArena& arena, std::string_view detail);

// Attached only: takes (clears) the current exception, normalized, with its
// traceback attached. Empty if none is set.
PyRef take_exception();

// Attached only: takes (clears) the current exception and returns
// "TypeName: message", for details and start-up errors. "" if none is set.
std::string take_exception_text();

// The UTF-8 bytes of a str; lone surrogates come out backslash-escaped, so
// this never fails on a str. Appends nothing and returns false otherwise.
bool append_utf8_lenient(PyObject* str, std::string& out);

}  // namespace pycnode::python
