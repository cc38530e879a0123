// Writer of the Erlang external term format into a growable byte buffer.
// It only ever produces well-formed terms: a corrupt term makes the Erlang
// side log and drop the whole message.
#pragma once

#include "term/term.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::term {

class TermWriter {
public:
    explicit TermWriter(std::string& out) : out_(out) {}

    void version();                              // 131
    void tuple_header(std::size_t arity);        // follow with `arity` terms

    // A list is ALWAYS written as list_header(n), then n terms, then nil(),
    // whatever n is. list_header(0) writes nothing, so an empty list comes
    // out as the single NIL_EXT byte that Erlang uses for [].
    void list_header(std::size_t length);
    void nil();

    void map_header(std::size_t pairs);          // follow with key, value, key, value...
    // SMALL_ATOM_UTF8 / ATOM_UTF8. Erlang refuses atoms over 255 characters
    // (and drops the whole message): checking that is the caller's job.
    void atom(std::string_view utf8_name);
    void binary(std::string_view bytes);
    void integer(std::int64_t value);            // SMALL_INTEGER, INTEGER or SMALL_BIG: the smallest that fits
    // Strips high zero bytes; a value that fits int64 goes through integer().
    void big_integer(bool negative, std::string_view magnitude_le);
    // NEW_FLOAT_EXT. NaN and infinities have no Erlang form: the caller's error.
    void real(double value);
    void raw(std::string_view ext);              // an already encoded term (no 131)
    void term(const Term& t);                    // a whole tree; an empty List is NIL_EXT

    std::string& buffer() { return out_; }

private:
    char* extend(std::size_t n);
    void header(std::uint8_t tag, std::uint64_t number, std::size_t number_bytes);
    void reserve_more(std::size_t n);
    void sized(std::uint8_t tag, std::size_t len_bytes, std::string_view payload);
    void items(const std::vector<Term>& items, std::size_t count);

    std::string& out_;
};

}  // namespace pycnode::term
