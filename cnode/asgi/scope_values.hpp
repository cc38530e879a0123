// The "asgi" and "extensions" entries of a scope: text, not data.
//
// docs/terms.md turns binaries into bytes and atoms into pyrunner.Atom,
// which suits function arguments. ASGI wants str there ({"version": "3.0"},
// {"http.response.trailers": {}}), so in these two maps binaries and atoms
// become str (true, false and undefined as values stay True, False and
// None), at any depth; numbers, lists and tuples convert as usual, and
// anything else as docs/terms.md says.
#pragma once

#include "python/py_ref.hpp"
#include "term/term.hpp"

#include <string>

namespace pycnode::python {

class WorkerContext;

// Attached only. Empty with `error` set (and no exception) on failure: a
// binary that is not UTF-8, a key Python cannot hash, nesting too deep.
PyRef text_term_to_python(WorkerContext& ctx, const term::Term& term, std::string& error);

}  // namespace pycnode::python
