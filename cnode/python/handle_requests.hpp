// The requests on object handles (handles.hpp, docs/protocol.md):
//
//   {call_method, Handle, Method, Args[, Opts]}  Handle.Method(*Args, **kwargs)
//   {getattr, Handle, Name[, Opts]}              Handle.Name
//   {release, Handle}                            drops the handle
//
// Worker handlers with run_call's signature (pool/job.hpp).
#pragma once

#include "term/term.hpp"

namespace pycnode::python {

class WorkerContext;

term::Term run_call_method(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);
term::Term run_getattr(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);
term::Term run_release(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);

}  // namespace pycnode::python
