// Writer of the Erlang external term format into a growable byte buffer.
// It only ever produces well-formed terms: a corrupt term makes the Erlang
// side log and drop the whole message.
#pragma once

#include "term/term.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pycnode::term {

class TermWriter {
public:
    explicit TermWriter(std::string& out) : out_(out) {}

    void version();                              // 131
    void tuple_header(std::size_t arity);
    void list_header(std::size_t length);        // follow with `length` terms, then nil()
    void nil();
    void map_header(std::size_t pairs);
    void atom(std::string_view utf8_name);       // SMALL_ATOM_UTF8 / ATOM_UTF8 (names over 255 chars are the caller's error)
    void binary(std::string_view bytes);
    void integer(std::int64_t value);            // smallest encoding that fits
    void big_integer(bool negative, std::string_view magnitude_le);  // normalises to integer() when it fits
    void real(double value);                     // NEW_FLOAT_EXT
    void raw(std::string_view ext);              // an already encoded term (no 131)
    void term(const Term& t);                    // a whole tree

    std::string& buffer() { return out_; }

private:
    void put8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void put16(std::uint16_t v);
    void put32(std::uint32_t v);

    std::string& out_;
};

}  // namespace pycnode::term
