// The ASGI requests (docs/protocol.md, "Web requests: ASGI and WSGI"):
//
//   {asgi, Module, Callable, ScopeOrRef, Body, Opts}
//       -> {ok, {Status, [{Name, Value}], Body}} | {error, Reason}
//   {build_scope, Scope, Opts} -> {ok, ScopeRef} | {error, Reason}
//
// Worker handlers with run_call's signature (pool/job.hpp): called
// detached; they check the request first and attach only to run Python.
#pragma once

#include "term/term.hpp"

namespace pycnode::python {

class WorkerContext;

term::Term run_asgi(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);
term::Term run_build_scope(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);

}  // namespace pycnode::python
