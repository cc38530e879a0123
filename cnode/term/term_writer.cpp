// Encoding into the external term format. Every method emits one complete,
// well-formed piece. Each piece's size is known up front: fixed-size pieces
// are written through one extend() of the buffer rather than byte by byte,
// and payloads (binaries, atom text, bignum digits) are reserved for, then
// appended with a single copy.
#include "term/term_writer.hpp"

#include "term/ext_format.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>

namespace pycnode::term {

// std::string grows geometrically on resize, so many small extends stay
// amortised O(1); the caller overwrites the few zeroed bytes at once.
char* TermWriter::extend(std::size_t n) {
    std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
}

// A tag and a big-endian number of `number_bytes` bytes: a length, an arity,
// a small integer or a float's bits.
void TermWriter::header(std::uint8_t tag, std::uint64_t number, std::size_t number_bytes) {
    char* p = extend(1 + number_bytes);
    p[0] = static_cast<char>(tag);
    ext::store_be(p + 1, number, number_bytes);
}

// One allocation at most for a header and its payload, which is appended
// rather than extended into when large: resize would first zero what is
// copied next, a waste on a 10 MiB body.
void TermWriter::reserve_more(std::size_t n) {
    if (out_.capacity() - out_.size() >= n) return;
    out_.reserve(std::max(out_.size() + n, 2 * out_.capacity()));
}

// A tag, the payload's length in `len_bytes` bytes, then the payload.
void TermWriter::sized(std::uint8_t tag, std::size_t len_bytes, std::string_view payload) {
    constexpr std::size_t small_payload = 256;
    assert(payload.size() < (std::uint64_t{1} << (8 * len_bytes)));
    if (payload.size() < small_payload) {
        char* p = extend(1 + len_bytes + payload.size());
        p[0] = static_cast<char>(tag);
        ext::store_be(p + 1, payload.size(), len_bytes);
        payload.copy(p + 1 + len_bytes, payload.size());
        return;
    }
    reserve_more(1 + len_bytes + payload.size());
    header(tag, payload.size(), len_bytes);
    out_.append(payload);
}

void TermWriter::version() {
    out_.push_back(static_cast<char>(tag::version));
}

void TermWriter::tuple_header(std::size_t arity) {
    if (arity <= 0xFF) header(tag::small_tuple, arity, 1);
    else header(tag::large_tuple, arity, 4);
}

// Writing nothing for an empty list keeps the calling pattern the same for
// every length: list_header(n), n terms, nil(). Those three then produce
// exactly NIL_EXT when n == 0, which is how Erlang encodes [].
void TermWriter::list_header(std::size_t length) {
    if (length > 0) header(tag::list, length, 4);
}

void TermWriter::nil() {
    out_.push_back(static_cast<char>(tag::nil));
}

void TermWriter::map_header(std::size_t pairs) {
    header(tag::map, pairs, 4);
}

void TermWriter::atom(std::string_view utf8_name) {
    assert(utf8_name.size() <= 0xFFFF);
    if (utf8_name.size() <= 0xFF) sized(tag::small_atom_utf8, 1, utf8_name);
    else sized(tag::atom_utf8, 2, utf8_name);
}

void TermWriter::binary(std::string_view bytes) {
    sized(tag::binary, 4, bytes);
}

void TermWriter::integer(std::int64_t value) {
    if (value >= 0 && value <= 0xFF) {
        header(tag::small_integer, static_cast<std::uint64_t>(value), 1);
        return;
    }
    if (value >= std::numeric_limits<std::int32_t>::min() && value <= std::numeric_limits<std::int32_t>::max()) {
        header(tag::integer, static_cast<std::uint32_t>(value), 4);
        return;
    }
    // Wider values go out as SMALL_BIG_EXT, as Erlang sends them. Negating
    // in unsigned arithmetic gives INT64_MIN's magnitude (2^63) exactly.
    auto magnitude = static_cast<std::uint64_t>(value);
    if (value < 0) magnitude = ~magnitude + 1;
    std::size_t digits = (static_cast<std::size_t>(std::bit_width(magnitude)) + 7) / 8;
    char* p = extend(3 + digits);
    p[0] = static_cast<char>(tag::small_big);
    p[1] = static_cast<char>(digits);
    p[2] = value < 0 ? 1 : 0;
    for (std::size_t i = 3; i < 3 + digits; ++i, magnitude >>= 8) p[i] = static_cast<char>(magnitude);
}

// Bignums are normalised so that equal values always encode the same way:
// no high zero bytes, and the int64 encodings whenever the value fits.
void TermWriter::big_integer(bool negative, std::string_view magnitude_le) {
    std::string_view magnitude = ext::strip_high_zeros(magnitude_le);
    std::int64_t small = 0;
    if (ext::fits_int64(negative, magnitude, small)) {
        integer(small);
        return;
    }
    bool fits_small_big = magnitude.size() <= 0xFF;
    reserve_more(6 + magnitude.size());
    header(fits_small_big ? tag::small_big : tag::large_big, magnitude.size(), fits_small_big ? 1 : 4);
    out_.push_back(negative ? 1 : 0);
    out_.append(magnitude);
}

void TermWriter::real(double value) {
    assert(std::isfinite(value));
    header(tag::new_float, std::bit_cast<std::uint64_t>(value), 8);
}

void TermWriter::raw(std::string_view ext) {
    out_.append(ext);
}

void TermWriter::items(const std::vector<Term>& items, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) term(items[i]);
}

void TermWriter::term(const Term& t) {
    switch (t.kind) {
    case Kind::Integer: integer(t.integer); return;
    case Kind::BigInteger: big_integer(t.negative, t.bytes); return;
    case Kind::Float: real(t.real); return;
    case Kind::Atom: atom(t.bytes); return;
    case Kind::Binary: binary(t.bytes); return;
    case Kind::Opaque: raw(t.bytes); return;
    case Kind::List:
        list_header(t.items.size());
        items(t.items, t.items.size());
        nil();
        return;
    case Kind::Tuple:
        tuple_header(t.items.size());
        items(t.items, t.items.size());
        return;
    case Kind::Map:
        // An odd trailing key would make the whole message undecodable: it is dropped.
        assert(t.items.size() % 2 == 0);
        map_header(t.items.size() / 2);
        items(t.items, t.items.size() / 2 * 2);
        return;
    }
}

}  // namespace pycnode::term
