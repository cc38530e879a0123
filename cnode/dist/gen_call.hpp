// The gen_server call protocol as it crosses the wire:
//   request  {'$gen_call', {From, Tag}, Request}
//   reply    {Tag, Reply} sent to From
// Tag is kept as raw bytes and re-sent verbatim: it may be a reference or
// [alias|Ref] (an improper list), and must come back exactly as it came.
#pragma once

#include "term/term.hpp"
#include "term/term_reader.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace pycnode::dist {

struct GenCall {
    std::string_view from_pid;  // raw external term
    std::string_view tag;       // raw external term
    std::size_t request_offset = 0;  // offset of Request in the packet
    std::size_t request_size = 0;
};

// Parses the envelope of the message at `message_offset` of `packet` (after
// its 131 byte): {'$gen_call', {From, Tag}, Request}. An envelope that is
// not well formed (From not a pid included) returns WrongType or the
// decoder's error. The Request is located, not checked: it is the rest of
// the packet, and whoever decodes it must check that it is exactly one
// well-formed term (term::read_whole). Nothing is read out of bounds.
term::DecodeError parse_gen_call(std::string_view packet, std::size_t message_offset, GenCall& out);

// Appends the complete reply packet: length, 'p', 131 {2,'',From}, 131 {Tag, Reply}.
void append_reply(std::string& out, std::string_view from_pid, std::string_view tag, const term::Term& reply);

}  // namespace pycnode::dist
