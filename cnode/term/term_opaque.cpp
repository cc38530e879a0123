// The terms pycnode never looks inside but must send back verbatim: their
// structure is checked so that nothing malformed ever reaches a peer.
#include "term/term_decoder.hpp"

namespace pycnode::term::detail {

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

}  // namespace pycnode::term::detail
