// Tag bytes and byte-level helpers of the Erlang external term format
// (erts/emulator/beam/external.h), shared by the reader, the writer and the
// distribution packet code. Not part of the codec's public interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace pycnode::term::tag {

inline constexpr std::uint8_t version = 131;

inline constexpr std::uint8_t new_float = 70;
inline constexpr std::uint8_t bit_binary = 77;
inline constexpr std::uint8_t compressed = 80;
inline constexpr std::uint8_t atom_cache_ref = 82;
inline constexpr std::uint8_t new_pid = 88;
inline constexpr std::uint8_t new_port = 89;
inline constexpr std::uint8_t newer_reference = 90;
inline constexpr std::uint8_t small_integer = 97;
inline constexpr std::uint8_t integer = 98;
inline constexpr std::uint8_t old_float = 99;
inline constexpr std::uint8_t atom_latin1 = 100;
inline constexpr std::uint8_t reference = 101;
inline constexpr std::uint8_t port = 102;
inline constexpr std::uint8_t pid = 103;
inline constexpr std::uint8_t small_tuple = 104;
inline constexpr std::uint8_t large_tuple = 105;
inline constexpr std::uint8_t nil = 106;
inline constexpr std::uint8_t string = 107;
inline constexpr std::uint8_t list = 108;
inline constexpr std::uint8_t binary = 109;
inline constexpr std::uint8_t small_big = 110;
inline constexpr std::uint8_t large_big = 111;
inline constexpr std::uint8_t new_fun = 112;
inline constexpr std::uint8_t export_fun = 113;
inline constexpr std::uint8_t new_reference = 114;
inline constexpr std::uint8_t small_atom_latin1 = 115;
inline constexpr std::uint8_t map = 116;
inline constexpr std::uint8_t atom_utf8 = 118;
inline constexpr std::uint8_t small_atom_utf8 = 119;
inline constexpr std::uint8_t v4_port = 120;

// The first byte of every distribution packet after the handshake ('p').
inline constexpr std::uint8_t pass_through = 112;

inline constexpr bool is_pid(std::uint8_t t) { return t == new_pid || t == pid; }
inline constexpr bool is_atom(std::uint8_t t) {
    return t == atom_latin1 || t == small_atom_latin1 || t == atom_utf8 || t == small_atom_utf8;
}

}  // namespace pycnode::term::tag

namespace pycnode::term::ext {

// Multi-byte lengths and integers are big-endian on the wire.
inline std::uint32_t load_be(const char* p, std::size_t bytes) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return v;
}
inline std::uint64_t load_be64(const char* p) {
    return (std::uint64_t{load_be(p, 4)} << 32) | load_be(p + 4, 4);
}
inline void store_be(char* p, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = bytes; i > 0; --i, v >>= 8) p[i - 1] = static_cast<char>(v);
}

// Bignum digits are little-endian bytes; high zero bytes carry no value.
inline std::string_view strip_high_zeros(std::string_view digits_le) {
    std::size_t n = digits_le.size();
    while (n > 0 && digits_le[n - 1] == 0) --n;
    return digits_le.substr(0, n);
}

// Whether sign + magnitude fit an int64 (the magnitude must be stripped);
// INT64_MIN's magnitude, 2^63, fits only when negative.
inline bool fits_int64(bool negative, std::string_view magnitude_le, std::int64_t& value) {
    if (magnitude_le.size() > 8) return false;
    std::uint64_t m = 0;
    for (std::size_t i = magnitude_le.size(); i > 0; --i)
        m = (m << 8) | static_cast<std::uint8_t>(magnitude_le[i - 1]);
    constexpr std::uint64_t max = std::numeric_limits<std::int64_t>::max();
    if (!negative || m == 0) {
        if (m > max) return false;
        value = static_cast<std::int64_t>(m);
        return true;
    }
    if (m > max + 1) return false;
    // Negating in unsigned arithmetic then converting is exact for 2^63 too.
    value = static_cast<std::int64_t>(~m + 1);
    return true;
}

// Erlang refuses atoms of more than 255 characters (MAX_ATOM_CHARACTERS).
inline constexpr std::size_t max_atom_chars = 255;

// Where the first byte of `s` at or past `from` with its high bit set is
// (s.size() if none), eight bytes at a time: atoms (node names in every
// pid of every request) and most strings are ASCII, and this check is on
// the hot path of each request.
inline std::size_t ascii_prefix(std::string_view s, std::size_t from = 0) {
    std::size_t i = from;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, s.data() + i, 8);
        if (word & 0x8080808080808080ull) break;
    }
    while (i < s.size() && static_cast<std::uint8_t>(s[i]) < 0x80) ++i;
    return i;
}

// Latin-1 atoms are taken only when pure ASCII, so that their bytes are UTF-8 too.
inline bool valid_ascii_atom(std::string_view s) {
    return s.size() <= max_atom_chars && ascii_prefix(s) == s.size();
}

// Moves `i` past one UTF-8 sequence; false if it is malformed, overlong, a
// surrogate or beyond U+10FFFF (all of which Erlang refuses in atoms).
inline bool next_code_point(std::string_view s, std::size_t& i) {
    auto lead = static_cast<std::uint8_t>(s[i]);
    if (lead < 0x80) {
        ++i;
        return true;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if ((lead & 0xE0) == 0xC0) { len = 2; cp = lead & 0x1F; min = 0x80; }
    else if ((lead & 0xF0) == 0xE0) { len = 3; cp = lead & 0x0F; min = 0x800; }
    else if ((lead & 0xF8) == 0xF0) { len = 4; cp = lead & 0x07; min = 0x10000; }
    else return false;
    if (len > s.size() - i) return false;
    for (std::size_t k = 1; k < len; ++k) {
        auto cont = static_cast<std::uint8_t>(s[i + k]);
        if ((cont & 0xC0) != 0x80) return false;
        cp = (cp << 6) | (cont & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
    return true;
}

// Strict UTF-8, as Python and Erlang decode it.
inline bool valid_utf8(std::string_view s) {
    for (std::size_t i = ascii_prefix(s); i < s.size(); i = ascii_prefix(s, i))
        if (!next_code_point(s, i)) return false;
    return true;
}

inline bool valid_utf8_atom(std::string_view s) {
    if (s.size() <= max_atom_chars && ascii_prefix(s) == s.size()) return true;
    std::size_t i = 0;
    for (std::size_t chars = 0; i < s.size(); ++chars) {
        if (chars == max_atom_chars) return false;
        if (!next_code_point(s, i)) return false;
    }
    return true;
}

}  // namespace pycnode::term::ext
