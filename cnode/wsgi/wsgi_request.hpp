// {wsgi, Module, Callable, Environ, Opts}: one HTTP request through a WSGI
// application (PEP 3333), as docs/protocol.md ("Web requests: ASGI and
// WSGI") specifies.
//
// The flow, by file:
//   wsgi_request.cpp   checks the request, then runs it natively or through
//                      Opts' runner module, and builds the reply
//   wsgi_environ.cpp   the environ: checked detached, built attached
//   wsgi_template.cpp  per-worker environ templates, keyed on every field
//   wsgi_response.cpp  start_response and write, and what they gather
//   wsgi_headers.cpp   the rules on status lines and headers
//   wsgi_state.cpp     what each worker keeps (keys, constants, objects)
//   pyrunner/wsgi.py   wsgi.errors, wsgi.file_wrapper, default_wsgi_handler
#pragma once

#include "term/term.hpp"

namespace pycnode::python {

class WorkerContext;

// Replies {ok, {StatusLine, [{Name, Value}], Body}} (all binaries) or
// {error, Reason}: {bad_request, _}, {python, ...}, {wsgi_protocol, Detail},
// {bad_result, _} (a runner's result). Called detached; attaches only after
// the request and its environ have been checked.
term::Term run_wsgi(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);

}  // namespace pycnode::python
