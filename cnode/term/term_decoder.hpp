// The decoding engine behind TermReader, shared by the files that
// implement it: term_decoder.cpp (numbers, atoms, containers) and
// term_opaque.cpp (pids, references, ports, funs, bitstrings).
// Internal to the term library.
#pragma once

#include "term/term_reader.hpp"

#include "term/ext_format.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pycnode::term::detail {

inline constexpr DecodeError Ok = DecodeError::Ok;
inline constexpr DecodeError Truncated = DecodeError::Truncated;
inline constexpr DecodeError BadValue = DecodeError::BadValue;
inline constexpr DecodeError WrongType = DecodeError::WrongType;

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
    // When set, a TooDeep error leaves here the index of each container's
    // element it passed through, innermost first (TermReader reverses it).
    std::vector<std::size_t>* too_deep_path = nullptr;

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
    DecodeError note_too_deep(DecodeError err, std::size_t index);
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

}  // namespace pycnode::term::detail
