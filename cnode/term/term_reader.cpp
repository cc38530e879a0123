// Bounds-checked decoding of the external term format. Every length a peer
// announces is checked against the bytes actually left before anything is
// read or reserved, and nesting is bounded, so no input can make the reader
// read out of bounds, allocate more than the input justifies or overflow the
// stack.
#include "term/term_reader.hpp"

#include "term/ext_format.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

namespace pycnode::term {
namespace {

constexpr DecodeError Ok = DecodeError::Ok;
constexpr DecodeError Truncated = DecodeError::Truncated;
constexpr DecodeError BadValue = DecodeError::BadValue;
constexpr DecodeError WrongType = DecodeError::WrongType;

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

// The decoding state of one TermReader call. TermReader copies its position
// in and takes `pos` back only on success, so nothing here has to undo a
// partial read. `out == nullptr` means "check and skip": the same code path
// validates for skip() and builds for read_term().
class Decoder {
public:
    Decoder(std::string_view data, std::size_t pos, std::size_t max_depth)
        : pos(pos), data_(data), max_depth_(max_depth) {}

    DecodeError term(Term* out, std::size_t depth);
    DecodeError integer(Term* out);
    DecodeError atom(std::string_view& name);
    DecodeError tuple_header(std::size_t& arity);
    DecodeError list_header(std::size_t& length);  // LIST_EXT only
    DecodeError map_header(std::size_t& pairs);
    DecodeError binary(std::string_view& bytes);

    std::size_t pos;

private:
    std::size_t left() const { return data_.size() - pos; }
    bool has(std::size_t n) const { return left() >= n; }
    std::uint8_t byte(std::size_t offset) const { return static_cast<std::uint8_t>(data_[pos + offset]); }
    std::uint32_t be(std::size_t offset, std::size_t bytes) const { return ext::load_be(data_.data() + pos + offset, bytes); }
    DecodeError skip_bytes(std::size_t n);

    DecodeError sized(std::size_t len_bytes, std::size_t extra, std::string_view& payload);
    DecodeError counted(std::size_t len_bytes, std::uint64_t per_item, std::size_t trailing, std::size_t& count);
    DecodeError big(Term* out, std::size_t len_bytes);
    DecodeError atom_term(Term* out);
    DecodeError binary_term(Term* out);
    DecodeError tuple(Term* out, std::size_t depth);
    DecodeError map(Term* out, std::size_t depth);
    DecodeError opaque_term(Term* out, std::size_t depth);
    DecodeError real(Term* out);
    DecodeError items(Term* out, Kind kind, std::size_t count, std::size_t depth);
    DecodeError list(Term* out, std::size_t depth);
    DecodeError string(Term* out);
    DecodeError opaque(std::size_t depth);
    DecodeError inner_atom();
    DecodeError node_and(std::size_t fixed);
    DecodeError reference(std::size_t creation_bytes);
    DecodeError export_fun();
    DecodeError new_fun(std::size_t depth);
    DecodeError fun_header_terms(std::size_t depth);
    DecodeError small_old_integer();
    DecodeError bitstring();

    std::string_view data_;
    std::size_t max_depth_;
};

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
        if (err != Ok) return err;
    }
    return Ok;
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
    if (err != Ok) return err;
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

// Pids, references, ports, funs and bitstrings: their structure is checked
// so that what pycnode sends back verbatim is well formed.
DecodeError Decoder::opaque(std::size_t depth) {
    switch (byte(0)) {
    case tag::pid: return node_and(9);         // ID, Serial, Creation(1)
    case tag::new_pid: return node_and(12);    // ID, Serial, Creation(4)
    case tag::reference: return node_and(5);   // ID, Creation(1)
    case tag::port: return node_and(5);        // ID, Creation(1)
    case tag::new_port: return node_and(8);    // ID, Creation(4)
    case tag::v4_port: return node_and(12);    // ID(8), Creation(4)
    case tag::new_reference: return reference(1);
    case tag::newer_reference: return reference(4);
    case tag::export_fun: return export_fun();
    case tag::new_fun: return new_fun(depth);
    case tag::bit_binary: return bitstring();
    default: return DecodeError::UnknownTag;  // ATOM_CACHE_REF, DIST_HEADER, compressed, unknown
    }
}

// An atom inside a pid, port, reference or fun (node, module, function
// names): anything but an atom there is malformed.
DecodeError Decoder::inner_atom() {
    std::string_view node;
    DecodeError err = atom(node);
    return err == WrongType ? BadValue : err;
}

// The tag, the node atom, then `fixed` bytes.
DecodeError Decoder::node_and(std::size_t fixed) {
    ++pos;
    DecodeError err = inner_atom();
    return err != Ok ? err : skip_bytes(fixed);
}

// The tag, a count of 32-bit ID words, the node atom, Creation, the words.
DecodeError Decoder::reference(std::size_t creation_bytes) {
    if (!has(3)) return Truncated;
    std::size_t words = be(1, 2);
    pos += 3;
    DecodeError err = inner_atom();
    return err != Ok ? err : skip_bytes(creation_bytes + 4 * words);
}

// EXPORT_EXT: Module and Function atoms, Arity as a small integer.
DecodeError Decoder::export_fun() {
    ++pos;
    for (int i = 0; i < 2; ++i) {
        DecodeError err = inner_atom();
        if (err != Ok) return err;
    }
    if (!has(2)) return Truncated;
    if (byte(0) != tag::small_integer) return BadValue;
    pos += 2;
    return Ok;
}

// NEW_FUN_EXT: Size counts itself and all that follows, so the whole fun is
// 1 + Size bytes; the fields inside must end exactly there.
DecodeError Decoder::new_fun(std::size_t depth) {
    constexpr std::size_t fixed = 1 + 4 + 1 + 16 + 4 + 4;  // tag Size Arity Uniq Index NumFree
    if (!has(5)) return Truncated;
    std::size_t size = be(1, 4);
    if (size > left() - 1) return Truncated;
    std::size_t end = pos + 1 + size;
    if (1 + size < fixed) return BadValue;
    std::size_t num_free = be(fixed - 4, 4);
    pos += fixed;
    DecodeError err = fun_header_terms(depth);
    if (err != Ok) return err;
    if (pos > end || num_free > end - pos) return BadValue;
    for (std::size_t i = 0; i < num_free; ++i) {
        err = term(nullptr, depth + 1);
        if (err != Ok) return err;
    }
    return pos == end ? Ok : BadValue;
}

// Module atom, OldIndex, OldUniq, Pid.
DecodeError Decoder::fun_header_terms(std::size_t depth) {
    DecodeError err = inner_atom();
    if (err == Ok) err = small_old_integer();
    if (err == Ok) err = small_old_integer();
    if (err != Ok) return err;
    if (!has(1)) return Truncated;
    if (!tag::is_pid(byte(0))) return BadValue;
    return opaque(depth);
}

// OldIndex and OldUniq are SMALL_INTEGER_EXT or INTEGER_EXT.
DecodeError Decoder::small_old_integer() {
    if (!has(1)) return Truncated;
    if (byte(0) != tag::small_integer && byte(0) != tag::integer) return BadValue;
    return integer(nullptr);
}

// BIT_BINARY_EXT: Len bytes of which the last holds Bits (1..8) bits; an
// empty one has Bits 0. Erlang's own decoder enforces the same.
DecodeError Decoder::bitstring() {
    std::size_t bits_at = pos + 5;
    std::string_view bytes;
    DecodeError err = sized(4, 1, bytes);
    if (err != Ok) return err;
    auto bits = static_cast<std::uint8_t>(data_[bits_at]);
    if ((bits == 0) != bytes.empty() || bits > 8) return BadValue;
    return Ok;
}

// Runs `decode` on a copy of the position and commits it only on success:
// that is what leaves a TermReader's position unchanged on error.
template <class Decode>
DecodeError run(std::string_view data, std::size_t& pos, std::size_t max_depth, Decode&& decode) {
    Decoder d(data, pos, max_depth);
    DecodeError err = decode(d);
    if (err == Ok) pos = d.pos;
    return err;
}

}  // namespace

const char* describe(DecodeError e) {
    switch (e) {
    case DecodeError::Ok: return "ok";
    case DecodeError::Truncated: return "truncated term";
    case DecodeError::BadVersion: return "bad version byte";
    case DecodeError::UnknownTag: return "unknown or unsupported term tag";
    case DecodeError::BadValue: return "malformed term value";
    case DecodeError::TooDeep: return "term nested too deeply";
    case DecodeError::WrongType: return "unexpected term type";
    }
    return "unknown decode error";
}

DecodeError TermReader::read_version() {
    if (at_end()) return Truncated;
    if (peek_tag() != tag::version) return DecodeError::BadVersion;
    ++pos_;
    return Ok;
}

DecodeError TermReader::read_tuple_header(std::size_t& arity) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.tuple_header(arity); });
}

DecodeError TermReader::read_list_header(std::size_t& length) {
    if (peek_tag() != tag::nil)
        return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.list_header(length); });
    length = 0;
    ++pos_;
    return Ok;
}

DecodeError TermReader::read_map_header(std::size_t& pairs) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.map_header(pairs); });
}

DecodeError TermReader::read_atom(std::string_view& name) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.atom(name); });
}

DecodeError TermReader::read_binary(std::string_view& bytes) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.binary(bytes); });
}

// Only values that fit int64: a BigInteger is another type for this read.
DecodeError TermReader::read_integer(std::int64_t& value) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) {
        Term t;
        DecodeError err = d.integer(&t);
        if (err != Ok) return err;
        if (t.kind != Kind::Integer) return WrongType;
        value = t.integer;
        return Ok;
    });
}

DecodeError TermReader::skip(std::string_view& raw) {
    std::size_t start = pos_;
    DecodeError err = run(data_, pos_, max_depth_, [](Decoder& d) { return d.term(nullptr, 0); });
    if (err == Ok) raw = data_.substr(start, pos_ - start);
    return err;
}

DecodeError TermReader::read_term(Term& out) {
    out = Term{};
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.term(&out, 0); });
}

}  // namespace pycnode::term
