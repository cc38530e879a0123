// The in-memory shape of an Erlang term, as pycnode's codec reads and writes it.
//
// A Term never owns its bytes: `bytes` views either the packet it was decoded
// from (kept alive by the job that carries it) or a ByteArena filled while a
// reply is built. That keeps decoding zero-copy and makes Term cheap to move.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::term {

enum class Kind : std::uint8_t {
    Integer,     // fits in int64: `integer`
    BigInteger,  // `bytes` = magnitude, little-endian; `negative` = sign
    Float,       // `real`
    Atom,        // `bytes` = UTF-8 name
    Binary,      // `bytes` = contents
    List,        // proper list: `items` (STRING_EXT arrives as a List of Integers)
    Tuple,       // `items`
    Map,         // `items` = k0, v0, k1, v1, ...
    Opaque,      // pid, reference, port, fun, bitstring, improper list:
                 // `bytes` = its raw external format (no 131), re-encoded verbatim
};

struct Term {
    Kind kind = Kind::Atom;
    bool negative = false;
    std::int64_t integer = 0;
    double real = 0.0;
    std::string_view bytes;
    std::vector<Term> items;

    static Term make_integer(std::int64_t v) { Term t; t.kind = Kind::Integer; t.integer = v; return t; }
    static Term make_float(double v) { Term t; t.kind = Kind::Float; t.real = v; return t; }
    static Term make_atom(std::string_view name) { Term t; t.kind = Kind::Atom; t.bytes = name; return t; }
    static Term make_binary(std::string_view b) { Term t; t.kind = Kind::Binary; t.bytes = b; return t; }
    static Term make_opaque(std::string_view ext) { Term t; t.kind = Kind::Opaque; t.bytes = ext; return t; }
    // Moves its elements in; a braced list ({a, b}) would copy them, since
    // the elements of an initializer_list are const.
    template <class... T>
    static Term tuple_of(T... items) {
        Term t;
        t.kind = Kind::Tuple;
        t.items.reserve(sizeof...(T));
        (t.items.push_back(std::move(items)), ...);
        return t;
    }
    static Term make_tuple(std::vector<Term> items) { Term t; t.kind = Kind::Tuple; t.items = std::move(items); return t; }
    static Term make_list(std::vector<Term> items) { Term t; t.kind = Kind::List; t.items = std::move(items); return t; }
    static Term make_map(std::vector<Term> kv) { Term t; t.kind = Kind::Map; t.items = std::move(kv); return t; }

    bool is_atom(std::string_view name) const { return kind == Kind::Atom && bytes == name; }
};

// Stable storage for bytes of terms built in memory (replies). std::deque never
// moves its elements, so views handed out stay valid for the arena's life.
class ByteArena {
public:
    std::string_view keep(std::string s) {
        strings_.push_back(std::move(s));
        return strings_.back();
    }
    std::string_view copy(const void* data, std::size_t size) {
        return keep(std::string(static_cast<const char*>(data), size));
    }

private:
    std::deque<std::string> strings_;
};

}  // namespace pycnode::term
