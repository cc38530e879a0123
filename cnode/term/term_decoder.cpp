// Bounds-checked decoding of the external term format. Every length a peer
// announces is checked against the bytes actually left before anything is
// read or reserved, and nesting is bounded, so no input can make the reader
// read out of bounds, allocate more than the input justifies or overflow the
// stack.
#include "term/term_decoder.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

namespace pycnode::term::detail {
namespace {

// The Decoder fills Terms that are freshly constructed (read_term resets
// the root, items are emplaced empty), so setting the fields of the kind is
// enough: no temporary Term is built and moved on the hot path.
void set_integer(Term* out, std::int64_t v) {
    if (!out) return;
    out->kind = Kind::Integer;
    out->integer = v;
}

void set_bytes(Term* out, Kind kind, std::string_view bytes) {
    if (!out) return;
    out->kind = kind;
    out->bytes = bytes;
}

// Erlang itself never encodes NaN or infinities; a peer that does is broken.
DecodeError set_finite(Term* out, double v) {
    if (!std::isfinite(v)) return BadValue;
    if (out) {
        out->kind = Kind::Float;
        out->real = v;
    }
    return Ok;
}


}  // namespace


DecodeError Decoder::skip_bytes(std::size_t n) {
    if (!has(n)) return Truncated;
    pos += n;
    return Ok;
}

// A tag, a big-endian length of `len_bytes`, `extra` more header bytes, then
// `length` bytes of payload.
DecodeError Decoder::sized(std::size_t len_bytes, std::size_t extra, std::string_view& payload) {
    std::size_t header = 1 + len_bytes + extra;
    if (!has(header)) return Truncated;
    std::size_t length = be(1, len_bytes);
    if (length > left() - header) return Truncated;
    payload = data_.substr(pos + header, length);
    pos += header + length;
    return Ok;
}

// A tag and a count of elements. Each element takes at least one byte, so a
// count the remaining bytes cannot hold is refused before anyone reserves it.
DecodeError Decoder::counted(std::size_t len_bytes, std::uint64_t per_item, std::size_t trailing,
                             std::size_t& count) {
    std::size_t header = 1 + len_bytes;
    if (!has(header)) return Truncated;
    std::uint64_t n = be(1, len_bytes);
    if (n * per_item + trailing > left() - header) return Truncated;
    count = static_cast<std::size_t>(n * per_item);
    pos += header;
    return Ok;
}

DecodeError Decoder::term(Term* out, std::size_t depth) {
    if (!has(1)) return Truncated;
    if (depth > max_depth_) return DecodeError::TooDeep;
    switch (byte(0)) {
    case tag::small_integer: case tag::integer: case tag::small_big: case tag::large_big:
        return integer(out);
    case tag::new_float: case tag::old_float:
        return real(out);
    case tag::atom_latin1: case tag::small_atom_latin1: case tag::atom_utf8: case tag::small_atom_utf8:
        return atom_term(out);
    case tag::binary:
        return binary_term(out);
    case tag::nil:
        if (out) out->kind = Kind::List;
        return skip_bytes(1);
    case tag::string:
        return string(out);
    case tag::small_tuple: case tag::large_tuple:
        return tuple(out, depth);
    case tag::list:
        return list(out, depth);
    case tag::map:
        return map(out, depth);
    default:
        return opaque_term(out, depth);
    }
}

DecodeError Decoder::atom_term(Term* out) {
    std::string_view name;
    DecodeError err = atom(name);
    if (err == Ok) set_bytes(out, Kind::Atom, name);
    return err;
}

DecodeError Decoder::binary_term(Term* out) {
    std::string_view bytes;
    DecodeError err = binary(bytes);
    if (err == Ok) set_bytes(out, Kind::Binary, bytes);
    return err;
}

DecodeError Decoder::tuple(Term* out, std::size_t depth) {
    std::size_t arity = 0;
    DecodeError err = tuple_header(arity);
    return err != Ok ? err : items(out, Kind::Tuple, arity, depth);
}

DecodeError Decoder::map(Term* out, std::size_t depth) {
    std::size_t pairs = 0;
    DecodeError err = map_header(pairs);
    return err != Ok ? err : items(out, Kind::Map, 2 * pairs, depth);
}

DecodeError Decoder::opaque_term(Term* out, std::size_t depth) {
    std::size_t start = pos;
    DecodeError err = opaque(depth);
    if (err == Ok) set_bytes(out, Kind::Opaque, data_.substr(start, pos - start));
    return err;
}

DecodeError Decoder::integer(Term* out) {
    if (!has(1)) return Truncated;
    switch (byte(0)) {
    case tag::small_integer:
        if (!has(2)) return Truncated;
        set_integer(out, byte(1));
        pos += 2;
        return Ok;
    case tag::integer:
        if (!has(5)) return Truncated;
        set_integer(out, static_cast<std::int32_t>(be(1, 4)));
        pos += 5;
        return Ok;
    case tag::small_big:
        return big(out, 1);
    case tag::large_big:
        return big(out, 4);
    default:
        return WrongType;
    }
}

// Digits are little-endian bytes after a sign byte. High zero bytes (Erlang
// never sends them, but they are legal) are dropped from the view so that a
// BigInteger is canonical: no high zeros and never a value that fits int64.
DecodeError Decoder::big(Term* out, std::size_t len_bytes) {
    std::size_t sign_at = pos + 1 + len_bytes;
    std::string_view digits;
    DecodeError err = sized(len_bytes, 1, digits);
    if (err != Ok) return err;
    auto sign = static_cast<std::uint8_t>(data_[sign_at]);
    if (sign > 1) return BadValue;
    std::string_view magnitude = ext::strip_high_zeros(digits);
    std::int64_t value = 0;
    if (ext::fits_int64(sign == 1, magnitude, value)) {
        set_integer(out, value);
        return Ok;
    }
    set_bytes(out, Kind::BigInteger, magnitude);
    if (out) out->negative = sign == 1;
    return Ok;
}

// NEW_FLOAT_EXT is an IEEE double; the old FLOAT_EXT is "%.20e" text in 31
// NUL-padded bytes. from_chars parses it like strtod but ignores the locale,
// which an embedded Python application may change.
DecodeError Decoder::real(Term* out) {
    if (byte(0) == tag::new_float) {
        if (!has(9)) return Truncated;
        double v = std::bit_cast<double>(ext::load_be64(data_.data() + pos + 1));
        pos += 9;
        return set_finite(out, v);
    }
    constexpr std::size_t text_size = 31;
    if (!has(1 + text_size)) return Truncated;
    const char* text = data_.data() + pos + 1;
    const char* end = std::find(text, text + text_size, '\0');
    double v = 0;
    auto [parsed_end, ec] = std::from_chars(text, end, v);
    if (ec != std::errc{} || parsed_end != end) return BadValue;
    pos += 1 + text_size;
    return set_finite(out, v);
}

DecodeError Decoder::atom(std::string_view& name) {
    if (!has(1)) return Truncated;
    std::uint8_t t = byte(0);
    if (!tag::is_atom(t)) return WrongType;
    bool small = t == tag::small_atom_utf8 || t == tag::small_atom_latin1;
    bool utf8 = t == tag::small_atom_utf8 || t == tag::atom_utf8;
    DecodeError err = sized(small ? 1 : 2, 0, name);
    if (err != Ok) return err;
    bool valid = utf8 ? ext::valid_utf8_atom(name) : ext::valid_ascii_atom(name);
    return valid ? Ok : BadValue;
}

DecodeError Decoder::tuple_header(std::size_t& arity) {
    if (!has(1)) return Truncated;
    if (byte(0) == tag::small_tuple) return counted(1, 1, 0, arity);
    if (byte(0) == tag::large_tuple) return counted(4, 1, 0, arity);
    return WrongType;
}

// A LIST_EXT header is followed by its elements and then a tail term.
DecodeError Decoder::list_header(std::size_t& length) {
    if (!has(1)) return Truncated;
    if (byte(0) != tag::list) return WrongType;
    return counted(4, 1, 1, length);
}

DecodeError Decoder::map_header(std::size_t& pairs) {
    if (!has(1)) return Truncated;
    if (byte(0) != tag::map) return WrongType;
    std::size_t count = 0;
    DecodeError err = counted(4, 2, 0, count);
    if (err == Ok) pairs = count / 2;
    return err;
}

DecodeError Decoder::binary(std::string_view& bytes) {
    if (!has(1)) return Truncated;
    if (byte(0) != tag::binary) return WrongType;
    return sized(4, 0, bytes);
}

// `count` elements, reserved exactly: the caller checked the bytes left can hold them.
DecodeError Decoder::items(Term* out, Kind kind, std::size_t count, std::size_t depth) {
    if (out) {
        out->kind = kind;
        out->items.reserve(count);
    }
    for (std::size_t i = 0; i < count; ++i) {
        Term* item = out ? &out->items.emplace_back() : nullptr;
        DecodeError err = term(item, depth + 1);
        if (err != Ok) return note_too_deep(err, i);
    }
    return Ok;
}

DecodeError Decoder::note_too_deep(DecodeError err, std::size_t index) {
    if (err == DecodeError::TooDeep && too_deep_path) too_deep_path->push_back(index);
    return err;
}

// A proper list ends with NIL_EXT. Anything else as the tail makes it an
// improper list (such as a gen_server [alias|Ref] tag), kept Opaque.
DecodeError Decoder::list(Term* out, std::size_t depth) {
    std::size_t start = pos;
    std::size_t length = 0;
    DecodeError err = list_header(length);
    if (err == Ok) err = items(out, Kind::List, length, depth);
    if (err != Ok) return err;
    if (has(1) && byte(0) == tag::nil) return skip_bytes(1);
    err = term(nullptr, depth + 1);
    if (err != Ok) return note_too_deep(err, length);  // the tail comes after the elements
    if (out) out->items = {};
    set_bytes(out, Kind::Opaque, data_.substr(start, pos - start));
    return Ok;
}

// STRING_EXT: a list of small integers sent as bytes.
DecodeError Decoder::string(Term* out) {
    std::string_view bytes;
    DecodeError err = sized(2, 0, bytes);
    if (err != Ok || !out) return err;
    out->kind = Kind::List;
    out->items.reserve(bytes.size());
    for (char c : bytes) set_integer(&out->items.emplace_back(), static_cast<std::uint8_t>(c));
    return Ok;
}


}  // namespace pycnode::term::detail
