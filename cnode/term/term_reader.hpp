// Bounds-checked reader of the Erlang external term format, in the cursor
// style of erl_interface's decode functions, but every read knows where the
// buffer ends: nothing a peer sends can make it read out of bounds.
#pragma once

#include "term/term.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pycnode::term {

enum class DecodeError : std::uint8_t {
    Ok = 0,
    Truncated,    // the buffer ends inside a term
    BadVersion,   // expected the 131 version byte
    UnknownTag,   // a tag we do not know (or ATOM_CACHE_REF: never negotiated)
    BadValue,     // a tag we know with an impossible payload (bad UTF-8 atom, NaN float...)
    TooDeep,      // nesting deeper than the reader's limit
    WrongType,    // a typed read (read_atom, read_tuple_header...) met another type
};

const char* describe(DecodeError e);

class TermReader {
public:
    static constexpr std::size_t default_max_depth = 512;

    // `max_depth` is the deepest nesting level accepted: the outermost term is
    // at level 0 and the elements of a level-n container at level n + 1.
    explicit TermReader(std::string_view data, std::size_t max_depth = default_max_depth)
        : data_(data), max_depth_(max_depth) {}

    std::size_t position() const { return pos_; }
    std::size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }
    std::string_view data() const { return data_; }

    // Typed reads: on error the position is unchanged. Headers are checked
    // against the bytes left (every element needs at least one byte), so a
    // count they return can be reserved without trusting the peer.
    DecodeError read_version();                          // the 131 byte
    DecodeError read_tuple_header(std::size_t& arity);   // SMALL/LARGE_TUPLE
    // LIST_EXT header (then `length` elements and a tail follow) or NIL_EXT
    // (length 0, nothing follows). STRING_EXT is WrongType here: use read_term.
    DecodeError read_list_header(std::size_t& length);
    DecodeError read_map_header(std::size_t& pairs);
    // Any atom encoding. ATOM_EXT / SMALL_ATOM_EXT are Latin-1 and the view
    // cannot be converted, so they are accepted only when pure ASCII (which
    // is then also UTF-8); other Latin-1 atoms are BadValue. Erlang sends
    // UTF-8 atoms on a connection that negotiated UTF8_ATOMS, as ours does.
    DecodeError read_atom(std::string_view& name);
    DecodeError read_binary(std::string_view& bytes);    // BINARY_EXT
    DecodeError read_integer(std::int64_t& value);       // any integer encoding whose value fits int64

    // Peeks at the tag of the next term without consuming it (0 at the end).
    std::uint8_t peek_tag() const { return at_end() ? 0 : static_cast<std::uint8_t>(data_[pos_]); }

    // Skips one whole term, checking it exactly as read_term would, without
    // allocating; `raw` receives its exact bytes (for re-encoding verbatim).
    DecodeError skip(std::string_view& raw);
    DecodeError skip() { std::string_view ignored; return skip(ignored); }

    // Decodes one whole term into a tree whose views point into the buffer.
    // Integers that fit int64 are Integer whatever their encoding; a
    // BigInteger's magnitude has no high zero bytes. Pids, references,
    // ports, funs, bitstrings and improper lists become Opaque after their
    // structure (lengths, node atom, fun fields) has been checked.
    // On error the position is unchanged and `out` is unspecified.
    DecodeError read_term(Term& out);

    // `data` as exactly one term, as a gen_call's Request must be (it is the
    // rest of its packet): bytes after it are BadValue.
    static DecodeError read_whole(std::string_view data, Term& out) { return read_whole(data, out, default_max_depth); }
    // The same with another depth limit; on TooDeep, `too_deep_path` (when
    // given) receives where: the element's index in each container from the
    // outermost down (a map's items count keys and values: 2k is the k-th
    // key, 2k+1 its value). It lets the caller name what was too deep.
    static DecodeError read_whole(std::string_view data, Term& out, std::size_t max_depth,
                                  std::vector<std::size_t>* too_deep_path = nullptr) {
        TermReader r(data, max_depth);
        r.too_deep_path_ = too_deep_path;
        DecodeError err = r.read_term(out);
        return err != DecodeError::Ok ? err : r.at_end() ? DecodeError::Ok : DecodeError::BadValue;
    }
    static DecodeError check_whole(std::string_view data) {
        TermReader r(data);
        DecodeError err = r.skip();
        return err != DecodeError::Ok ? err : r.at_end() ? DecodeError::Ok : DecodeError::BadValue;
    }

private:
    // The decoding itself works on a copy of the cursor (term_reader.cpp)
    // that is committed only on success.
    std::string_view data_;
    std::size_t pos_ = 0;
    std::size_t max_depth_;
    std::vector<std::size_t>* too_deep_path_ = nullptr;
};

}  // namespace pycnode::term
