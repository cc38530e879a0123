// What Erlang's decoder refuses beyond malformed bytes, and when Erlang
// considers two terms equal.
//
// TermReader checks that bytes are one well-formed term. Erlang refuses more:
// a map with two keys it considers equal (whatever their encodings), and a
// few out-of-range fields in pids, ports and references. pycnode sends
// Opaque.ext verbatim, and on a distribution connection a term Erlang
// refuses costs the whole connection with every call in flight, so such
// bytes must be refused here first (check_ext).
//
// Equality is decided on a canonical encoding: the term re-encoded with
// TermWriter (which has one encoding per value for numbers, atoms, binaries,
// lists and tuples), map pairs sorted by key, and the opaque kinds reduced
// to the fields that Erlang compares. Measured on OTP 25 with
// binary_to_term of maps holding both forms as keys:
//   - PID_EXT = NEW_PID_EXT; PORT_EXT = NEW_PORT_EXT = V4_PORT_EXT;
//     REFERENCE_EXT = NEW_REFERENCE_EXT = NEWER_REFERENCE_EXT; node atoms in
//     any atom encoding;
//   - references: only the low 18 bits of REFERENCE_EXT's ID and of
//     NEW_REFERENCE_EXT's first word count, and trailing zero words do not
//     ([1] = [1,0,0]);
//   - a bitstring of whole bytes is a binary, and the unused low bits of a
//     bitstring's last byte do not count;
//   - nested list tails: [1|[2|3]] = [1,2|3], [1|[2]] = [1,2], and a
//     LIST_EXT of no elements is its tail;
//   - local funs (NEW_FUN_EXT): the module, Index and the free variables
//     count; Uniq, OldIndex and the creator pid do not (OldUniq does on
//     OTP 25; it is left out too, see below);
//   - floats: -0.0 and 0.0 are the same key (OTP 25; they differ from
//     OTP 27 on).
// Where releases differ or the rule is unknown, the canonical form merges
// more rather than less: the price is refusing a map Erlang would have
// accepted, never sending one it refuses.
//
// Also refused, as Erlang does: a creation over 3 in the old 1-byte
// creation fields (PID_EXT, PORT_EXT, REFERENCE_EXT, NEW_REFERENCE_EXT) and
// references of more than 5 words. Not checked: limits that depend on the
// receiving node (a pid, port or reference that names the receiver itself
// must also exist there, or at least be in its local ranges); pycnode does
// not know which node will decode the term.
//
// Header-only and pure; the walk recurses once or twice per nesting level,
// and TermReader bounds nesting (512 levels by default).
#pragma once

#include "term/ext_format.hpp"
#include "term/term.hpp"
#include "term/term_reader.hpp"
#include "term/term_writer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::term {

namespace check_detail {

inline constexpr std::uint64_t max_tiny_creation = 3;   // the 1-byte creation fields
inline constexpr std::uint64_t max_ref_words = 5;       // ERTS_MAX_REF_NUMBERS
inline constexpr std::uint64_t old_ref_word_mask = 0x3FFFF;

inline constexpr const char* duplicate_keys = "a map with two keys that Erlang considers equal";
inline constexpr const char* malformed = "malformed opaque term";
inline constexpr const char* bad_creation = "a creation over 3 in a 1-byte creation field";
inline constexpr const char* too_many_ref_words = "a reference of more than 5 words";

inline void put_be(std::string& out, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = bytes; i > 0; --i) out.push_back(static_cast<char>(v >> (8 * (i - 1))));
}

// A cursor over the bytes of an opaque term. The reader has already checked
// them, but every read is bounds-checked all the same, so that an opaque
// Term built by hand cannot make it read out of bounds: a failed read makes
// ok() false and returns zeros.
class Fields {
public:
    explicit Fields(std::string_view raw) : raw_(raw) {}

    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && pos_ == raw_.size(); }
    std::uint8_t peek() const { return ok_ && pos_ < raw_.size() ? static_cast<std::uint8_t>(raw_[pos_]) : 0; }

    std::uint64_t number(std::size_t bytes) {
        if (!ok_ || raw_.size() - pos_ < bytes) return fail(), 0;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(raw_[pos_ + i]);
        pos_ += bytes;
        return v;
    }
    std::string_view bytes(std::size_t n) {
        if (!ok_ || raw_.size() - pos_ < n) return fail(), std::string_view{};
        std::string_view v = raw_.substr(pos_, n);
        pos_ += n;
        return v;
    }
    std::string_view atom() {
        std::string_view name;
        read([&](TermReader& r) { return r.read_atom(name); });
        return name;
    }
    // One whole term, decoded (its views point into the same bytes).
    bool term(Term& out) {
        read([&](TermReader& r) { return r.read_term(out); });
        return ok_;
    }
    // A LIST_EXT header (not NIL_EXT or STRING_EXT).
    std::uint64_t list_header() {
        std::size_t length = 0;
        if (peek() != tag::list) return fail(), 0;
        read([&](TermReader& r) { return r.read_list_header(length); });
        return length;
    }

private:
    void fail() { ok_ = false; }
    template <class Read>
    void read(Read&& op) {
        if (!ok_) return;
        TermReader r(raw_.substr(pos_));
        if (op(r) != DecodeError::Ok) return fail();
        pos_ += r.position();
    }

    std::string_view raw_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// The walk. Each function checks its term and, when `canon` is not null,
// appends the canonical encoding to it; it returns why Erlang would refuse
// the term, or nullptr.
inline const char* check(const Term& t, std::string* canon);
inline const char* opaque_at(Fields& f, std::string* canon);

inline const char* map(const Term& t, std::string* canon) {
    std::size_t pairs = t.items.size() / 2;
    if (t.items.size() % 2 != 0) return malformed;
    std::vector<std::string> keys(pairs), values(canon ? pairs : 0);
    for (std::size_t i = 0; i < pairs; ++i) {
        if (const char* e = check(t.items[2 * i], &keys[i])) return e;
        if (const char* e = check(t.items[2 * i + 1], canon ? &values[i] : nullptr)) return e;
    }
    std::vector<std::size_t> order(pairs);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
    for (std::size_t i = 1; i < pairs; ++i)
        if (keys[order[i - 1]] == keys[order[i]]) return duplicate_keys;
    if (canon) {
        TermWriter(*canon).map_header(pairs);
        for (std::size_t i : order) *canon += keys[i], *canon += values[i];
    }
    return nullptr;
}

inline const char* check(const Term& t, std::string* canon) {
    switch (t.kind) {
    case Kind::Map: return map(t, canon);
    case Kind::Opaque: {
        Fields f(t.bytes);
        const char* e = opaque_at(f, canon);
        return e ? e : (f.at_end() ? nullptr : malformed);
    }
    case Kind::List: case Kind::Tuple: {
        if (canon) {
            TermWriter w(*canon);
            if (t.kind == Kind::List) w.list_header(t.items.size());
            else w.tuple_header(t.items.size());
        }
        for (const Term& item : t.items)
            if (const char* e = check(item, canon)) return e;
        if (canon && t.kind == Kind::List) TermWriter(*canon).nil();
        return nullptr;
    }
    default: break;
    }
    if (!canon) return nullptr;
    TermWriter w(*canon);
    switch (t.kind) {
    case Kind::Integer: w.integer(t.integer); break;
    case Kind::BigInteger: w.big_integer(t.negative, t.bytes); break;
    case Kind::Float: w.real(t.real == 0.0 ? 0.0 : t.real); break;  // -0.0 as 0.0
    case Kind::Atom: w.atom(t.bytes); break;
    case Kind::Binary: w.binary(t.bytes); break;
    default: break;
    }
    return nullptr;
}

// PID_EXT / NEW_PID_EXT: node, ID, Serial, Creation (1 or 4 bytes).
inline const char* pid(Fields& f, std::string* canon) {
    bool old = f.number(1) == tag::pid;
    std::string_view node = f.atom();
    std::uint64_t id = f.number(4), serial = f.number(4), creation = f.number(old ? 1 : 4);
    if (!f.ok()) return malformed;
    if (old && creation > max_tiny_creation) return bad_creation;
    if (canon) {
        canon->push_back(static_cast<char>(tag::new_pid));
        TermWriter(*canon).atom(node);
        put_be(*canon, id, 4), put_be(*canon, serial, 4), put_be(*canon, creation, 4);
    }
    return nullptr;
}

// PORT_EXT (ID 4, Creation 1), NEW_PORT_EXT (4, 4), V4_PORT_EXT (8, 4).
inline const char* port(Fields& f, std::string* canon) {
    std::uint8_t t = static_cast<std::uint8_t>(f.number(1));
    std::string_view node = f.atom();
    std::uint64_t id = f.number(t == tag::v4_port ? 8 : 4), creation = f.number(t == tag::port ? 1 : 4);
    if (!f.ok()) return malformed;
    if (t == tag::port && creation > max_tiny_creation) return bad_creation;
    if (canon) {
        canon->push_back(static_cast<char>(tag::v4_port));
        TermWriter(*canon).atom(node);
        put_be(*canon, id, 8), put_be(*canon, creation, 4);
    }
    return nullptr;
}

// REFERENCE_EXT: node, ID, Creation(1). NEW_REFERENCE_EXT: Len, node,
// Creation(1), Len words. NEWER_REFERENCE_EXT: the same with Creation(4).
inline const char* reference(Fields& f, std::string* canon) {
    std::uint8_t t = static_cast<std::uint8_t>(f.number(1));
    std::uint64_t count = t == tag::reference ? 1 : f.number(2);
    std::string_view node = f.atom();
    std::uint64_t creation = 0;
    if (t != tag::reference) creation = f.number(t == tag::newer_reference ? 4 : 1);
    if (!f.ok() || count > max_ref_words) return f.ok() ? too_many_ref_words : malformed;
    std::uint64_t words[max_ref_words] = {};
    for (std::uint64_t i = 0; i < count; ++i) words[i] = f.number(4);
    if (t == tag::reference) creation = f.number(1);
    if (!f.ok()) return malformed;
    if (t != tag::newer_reference) {
        if (creation > max_tiny_creation) return bad_creation;
        words[0] &= old_ref_word_mask;
    }
    while (count > 0 && words[count - 1] == 0) --count;
    if (canon) {
        canon->push_back(static_cast<char>(tag::newer_reference));
        put_be(*canon, count, 2);
        TermWriter(*canon).atom(node);
        put_be(*canon, creation, 4);
        for (std::uint64_t i = 0; i < count; ++i) put_be(*canon, words[i], 4);
    }
    return nullptr;
}

// EXPORT_EXT: Module, Function, Arity (SMALL_INTEGER_EXT).
inline const char* export_fun(Fields& f, std::string* canon) {
    f.number(1);
    std::string_view module = f.atom(), function = f.atom();
    std::uint64_t arity_tag = f.number(1), arity = f.number(1);
    if (!f.ok() || arity_tag != tag::small_integer) return malformed;
    if (canon) {
        canon->push_back(static_cast<char>(tag::export_fun));
        TermWriter w(*canon);
        w.atom(module), w.atom(function), w.integer(static_cast<std::int64_t>(arity));
    }
    return nullptr;
}

// NEW_FUN_EXT: Size, Arity, Uniq, Index, NumFree, Module, OldIndex, OldUniq,
// Pid, free variables. The free variables are terms like any other: a map
// among them is checked too.
inline const char* new_fun(Fields& f, std::string* canon) {
    f.number(1 + 4 + 1);  // tag, Size, Arity
    f.bytes(16);           // Uniq
    std::uint64_t index = f.number(4), num_free = f.number(4);
    std::string_view module = f.atom();
    Term old_index, old_uniq;
    if (!f.term(old_index) || !f.term(old_uniq) || old_index.kind != Kind::Integer ||
        old_uniq.kind != Kind::Integer || !tag::is_pid(f.peek()))
        return malformed;
    if (const char* e = pid(f, nullptr)) return e;
    if (canon) {
        canon->push_back(static_cast<char>(tag::new_fun));
        TermWriter(*canon).atom(module);
        put_be(*canon, index, 4), put_be(*canon, num_free, 4);
    }
    for (std::uint64_t i = 0; i < num_free; ++i) {
        Term value;
        if (!f.term(value)) return malformed;
        if (const char* e = check(value, canon)) return e;
    }
    return nullptr;
}

// BIT_BINARY_EXT: Len, Bits, the bytes; Bits (1..8) bits of the last byte count.
inline const char* bitstring(Fields& f, std::string* canon) {
    f.number(1);
    std::uint64_t length = f.number(4), bits = f.number(1);
    std::string_view bytes = f.bytes(static_cast<std::size_t>(std::min<std::uint64_t>(length, SIZE_MAX)));
    if (!f.ok() || bits > 8 || (bits == 0) != bytes.empty()) return malformed;
    if (!canon) return nullptr;
    if (bits == 8 || bytes.empty()) {
        TermWriter(*canon).binary(bytes);
        return nullptr;
    }
    canon->push_back(static_cast<char>(tag::bit_binary));
    put_be(*canon, length, 4), put_be(*canon, bits, 1);
    canon->append(bytes.substr(0, bytes.size() - 1));
    canon->push_back(static_cast<char>(static_cast<std::uint8_t>(bytes.back()) & (0xFF00u >> bits)));
    return nullptr;
}

// LIST_EXT whose tail is not NIL_EXT: an improper list, or a proper one
// written with nested tails. Tails that are lists are flattened into it.
inline const char* list(Fields& f, std::string* canon) {
    std::vector<Term> items;
    Term tail;
    bool proper = false;
    while (f.ok() && f.peek() == tag::list) {
        std::uint64_t length = f.list_header();
        for (std::uint64_t i = 0; i < length && f.ok(); ++i) f.term(items.emplace_back());
    }
    if (!f.ok()) return malformed;
    if (f.peek() == tag::nil || f.peek() == tag::string) {
        Term rest;  // [] or a string: the list is proper after all
        if (!f.term(rest)) return malformed;
        for (Term& item : rest.items) items.push_back(std::move(item));
        proper = true;
    } else if (!f.term(tail)) {
        return malformed;
    }
    if (canon && (proper || !items.empty())) TermWriter(*canon).list_header(items.size());
    for (const Term& item : items)
        if (const char* e = check(item, canon)) return e;
    if (proper) {
        if (canon) TermWriter(*canon).nil();
        return nullptr;
    }
    return check(tail, canon);
}

// One opaque term (as TermReader makes them) starting at the cursor.
inline const char* opaque_at(Fields& f, std::string* canon) {
    switch (f.peek()) {
    case tag::pid: case tag::new_pid: return pid(f, canon);
    case tag::port: case tag::new_port: case tag::v4_port: return port(f, canon);
    case tag::reference: case tag::new_reference: case tag::newer_reference: return reference(f, canon);
    case tag::export_fun: return export_fun(f, canon);
    case tag::new_fun: return new_fun(f, canon);
    case tag::bit_binary: return bitstring(f, canon);
    case tag::list: return list(f, canon);
    default: break;
    }
    // Anything else is a plain term someone wrapped as opaque.
    Term t;
    if (!f.term(t) || t.kind == Kind::Opaque) return malformed;
    return check(t, canon);
}

}  // namespace check_detail

// Why Erlang would refuse a decoded term (nullptr if it would not): a map,
// at any depth (inside improper lists and funs' free variables too), with
// two keys Erlang considers equal, or a refused field in an opaque term.
inline const char* check_term(const Term& t) {
    return check_detail::check(t, nullptr);
}

// Appends a canonical encoding of `t`: two terms Erlang considers equal
// (=:=) get the same bytes (and, within the rules above, only they do).
// Returns why Erlang would refuse `t`, or nullptr; `out` is then complete.
inline const char* canonical_encoding(const Term& t, std::string& out) {
    return check_detail::check(t, &out);
}

// `ext` (without the 131) must be exactly one term that Erlang's decoder
// accepts. Returns nullptr if so, else what is wrong.
inline const char* check_ext(std::string_view ext) {
    TermReader reader(ext);
    Term t;
    if (DecodeError err = reader.read_term(t); err != DecodeError::Ok) return describe(err);
    if (!reader.at_end()) return "bytes after the term";
    return check_term(t);
}

// Whether the keys of a Map's items (k0, v0, k1, v1, ...) include two that
// Erlang considers equal, or one it would refuse.
inline bool has_equal_keys(const std::vector<Term>& kv) {
    std::vector<std::string> keys(kv.size() / 2);
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (canonical_encoding(kv[2 * i], keys[i])) return true;
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

}  // namespace pycnode::term
