// The reply to an {asgi, ...} request, from what the run returned or raised.
//
//   (status, headers, body)  -> {ok, {Status, [{Name, Value}], Body}}
//   not that shape           -> {error, {bad_result, Detail}}  (a custom runner's mistake)
//   a header that breaks HTTP -> {error, {asgi_protocol, Detail}} (a name that is not a
//                               token, a value with CR, LF or another control character)
//   ASGIProtocolError        -> {error, {asgi_protocol, Detail}}
//   NoResponse               -> {error, no_response}
//   any other exception      -> {error, {python, Type, Message, Traceback}}
#pragma once

#include "term/term.hpp"

#include <Python.h>

#include <string_view>

namespace pycnode::python {

class AsgiWorker;
class WorkerContext;

// Attached only. `result` is what default_asgi_handler or a runner returned:
// status an int from 100 to 999, headers an iterable (list or tuple) of
// 2-item lists or tuples of bytes-like objects, body bytes-like.
// A large bytes body is not copied: the reply points into it, and `ctx`
// holds it until the reply is encoded (WorkerContext::release_held).
term::Term asgi_response_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena);

// Attached only, with the run's exception set (it is taken).
term::Term asgi_error_reply(WorkerContext& ctx, AsgiWorker& asgi, term::ByteArena& arena);

// {error, Reason} for the reasons that carry no Python: {error, unknown_scope},
// {error, {lifespan_failed, Message}}.
term::Term asgi_unknown_scope_reply();
term::Term asgi_lifespan_failed_reply(term::ByteArena& arena, std::string_view message);

}  // namespace pycnode::python
