// Duplicate keys in a map built from a Python dict.
//
// Distinct dict keys can become equal terms: 'a' and b'a' are both the binary
// <<"a">>, None and Atom('undefined') both the atom undefined, Opaque(b'a\x01')
// and 1 both the integer 1, and two Opaque pids in different encodings the
// same pid. Erlang refuses a map with duplicate keys in the external format,
// and on a distribution connection an undecodable message costs the whole
// connection, so such a dict must be an error on our side.
#pragma once

#include "term/term.hpp"
#include "term/term_check.hpp"

#include <vector>

namespace pycnode::python {

// `kv` is k0, v0, k1, v1, ... as in a Map term. Keys are compared by their
// canonical encodings (term_check.hpp), which are equal exactly when Erlang
// considers the terms equal.
inline bool has_duplicate_keys(const std::vector<term::Term>& kv) {
    return term::has_equal_keys(kv);
}

}  // namespace pycnode::python
