// Duplicate keys in a map built from a Python dict.
//
// Distinct dict keys can become equal terms: 'a' and b'a' are both the binary
// <<"a">>, None and Atom('undefined') both the atom undefined. Erlang refuses
// a map with duplicate keys in the external format, and on a distribution
// connection an undecodable message costs the whole connection, so such a
// dict must be an error on our side.
#pragma once

#include "term/term.hpp"

#include <algorithm>
#include <vector>

namespace pycnode::python {

// A total order on terms, only for finding equal ones (not Erlang's order).
inline int compare_terms(const term::Term& a, const term::Term& b) {
    auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
    if (int c = three_way(a.kind, b.kind)) return c;
    if (int c = three_way(a.negative, b.negative)) return c;
    if (int c = three_way(a.integer, b.integer)) return c;
    if (int c = three_way(a.real, b.real)) return c;  // never NaN: refused before
    if (int c = a.bytes.compare(b.bytes)) return c < 0 ? -1 : 1;
    if (int c = three_way(a.items.size(), b.items.size())) return c;
    for (std::size_t i = 0; i < a.items.size(); ++i)
        if (int c = compare_terms(a.items[i], b.items[i])) return c;
    return 0;
}

// `kv` is k0, v0, k1, v1, ... as in a Map term.
inline bool has_duplicate_keys(const std::vector<term::Term>& kv) {
    std::vector<const term::Term*> keys;
    keys.reserve(kv.size() / 2);
    for (std::size_t i = 0; i < kv.size(); i += 2) keys.push_back(&kv[i]);
    std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return compare_terms(*a, *b) < 0; });
    return std::adjacent_find(keys.begin(), keys.end(),
                              [](auto* a, auto* b) { return compare_terms(*a, *b) == 0; }) != keys.end();
}

}  // namespace pycnode::python
