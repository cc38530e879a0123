// Erlang terms to Python objects (arguments on their way in).
//
//   integer -> int          float -> float        binary -> bytes (str if asked)
//   true/false -> True/False, undefined -> None (nil too if asked),
//   other atoms -> pyrunner.Atom
//   list -> list   tuple -> tuple   map -> dict
//   pid, reference, port, fun, bitstring, improper list -> pyrunner.Opaque
//
// docs/terms.md has the whole table, both ways.
#pragma once

#include "python/conversion.hpp"
#include "python/py_ref.hpp"
#include "term/term.hpp"

namespace pycnode::python {

class WorkerContext;

// Attached only. On success `out` holds a new object; on failure the status
// says why (a map key Python cannot hash, nesting too deep...) and no Python
// exception is left set.
ConversionStatus to_python(WorkerContext& ctx, const term::Term& term, PyRef& out,
                           const ConversionOptions& options = {});

}  // namespace pycnode::python
