// Python objects to Erlang terms (results on their way out).
//
//   None -> undefined   True/False -> true/false   int -> integer
//   float -> float (finite only)   pyrunner.Atom -> atom   str -> UTF-8 binary
//   bytes, bytearray, contiguous memoryview -> binary
//   list -> list   tuple -> tuple   dict -> map   pyrunner.Opaque -> the term it holds
//
// Anything else is an error. docs/terms.md has the whole table, both ways.
#pragma once

#include "python/conversion.hpp"
#include "term/term.hpp"

#include <Python.h>

namespace pycnode::python {

class WorkerContext;

// Attached only. On success `out` is a term whose bytes live in `arena`; on
// failure the status says why ("cannot convert set to an Erlang term") and
// no Python exception is left set.
// With `nil_as_none`, None becomes nil instead of undefined.
ConversionStatus from_python(WorkerContext& ctx, PyObject* obj, term::ByteArena& arena, term::Term& out,
                             bool nil_as_none = false);

}  // namespace pycnode::python
