// Checks every worker request makes of its arguments before attaching.
#pragma once

#include "term/ext_format.hpp"
#include "term/term.hpp"

namespace pycnode::python {

// A module, function or callable name: a non-empty UTF-8 binary.
inline bool is_name(const term::Term& t) {
    return t.kind == term::Kind::Binary && !t.bytes.empty() && term::ext::valid_utf8(t.bytes);
}

}  // namespace pycnode::python
