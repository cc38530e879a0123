// Helpers shared by the codec tests and the fuzz target: whole-buffer
// encode/decode and a structural comparison of term trees.
#pragma once

#include "term/term.hpp"
#include "term/term_reader.hpp"
#include "term/term_writer.hpp"

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace term_testing {

using pycnode::term::DecodeError;
using pycnode::term::Kind;
using pycnode::term::Term;

// Floats compare by their bits, so that -0.0 and 0.0 differ as they do on the wire.
inline bool same_term(const Term& a, const Term& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case Kind::Integer: return a.integer == b.integer;
    case Kind::BigInteger: return a.negative == b.negative && a.bytes == b.bytes;
    case Kind::Float: return std::bit_cast<std::uint64_t>(a.real) == std::bit_cast<std::uint64_t>(b.real);
    case Kind::Atom: case Kind::Binary: case Kind::Opaque: return a.bytes == b.bytes;
    case Kind::List: case Kind::Tuple: case Kind::Map: break;
    }
    if (a.items.size() != b.items.size()) return false;
    for (std::size_t i = 0; i < a.items.size(); ++i)
        if (!same_term(a.items[i], b.items[i])) return false;
    return true;
}

// 131 + the term, as term_to_binary would frame it.
inline std::string encode(const Term& t) {
    std::string out;
    pycnode::term::TermWriter w(out);
    w.version();
    w.term(t);
    return out;
}

// Decodes 131 + one term that must fill the whole buffer.
inline DecodeError decode(std::string_view bytes, Term& out,
                          std::size_t max_depth = pycnode::term::TermReader::default_max_depth) {
    pycnode::term::TermReader r(bytes, max_depth);
    DecodeError err = r.read_version();
    if (err == DecodeError::Ok) err = r.read_term(out);
    if (err == DecodeError::Ok && !r.at_end()) err = DecodeError::BadValue;
    return err;
}

}  // namespace term_testing
