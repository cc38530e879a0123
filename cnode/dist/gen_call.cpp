// The '$gen_call' request and its reply. Only the envelope is decoded here:
// From and Tag stay raw for the reply, the Request is located for its handler.
#include "dist/gen_call.hpp"

#include "dist/control.hpp"
#include "term/ext_format.hpp"
#include "term/term_writer.hpp"

namespace pycnode::dist {
namespace {

using term::DecodeError;
using term::TermReader;

constexpr DecodeError Ok = DecodeError::Ok;

// A tuple header of exactly `arity` elements; another arity is WrongType.
DecodeError expect_tuple(TermReader& r, std::size_t arity) {
    std::size_t actual = 0;
    DecodeError err = r.read_tuple_header(actual);
    if (err != Ok) return err;
    return actual == arity ? Ok : DecodeError::WrongType;
}

DecodeError expect_atom(TermReader& r, std::string_view name) {
    std::string_view actual;
    DecodeError err = r.read_atom(actual);
    if (err != Ok) return err;
    return actual == name ? Ok : DecodeError::WrongType;
}

// {From, Tag}: a reply can only be sent to a pid.
DecodeError read_from(TermReader& r, GenCall& out) {
    DecodeError err = expect_tuple(r, 2);
    if (err != Ok) return err;
    if (r.at_end()) return DecodeError::Truncated;
    if (!term::tag::is_pid(r.peek_tag())) return DecodeError::WrongType;
    err = r.skip(out.from_pid);
    if (err != Ok) return err;
    return r.skip(out.tag);
}

}  // namespace

term::DecodeError parse_gen_call(std::string_view packet, std::size_t message_offset, GenCall& out) {
    out = GenCall{};
    if (message_offset > packet.size()) return DecodeError::Truncated;
    TermReader r(packet.substr(message_offset));
    DecodeError err = expect_tuple(r, 3);
    if (err == Ok) err = expect_atom(r, "$gen_call");
    if (err == Ok) err = read_from(r, out);
    if (err != Ok) return err;
    // The Request is the rest of the packet. It is not read here: the loop
    // thread would walk every byte of it once more than needed. Whoever
    // decodes it (a worker, or a loop request) checks it, and that it is
    // exactly one term.
    out.request_offset = message_offset + r.position();
    out.request_size = packet.size() - out.request_offset;
    return Ok;
}

void append_reply(std::string& out, std::string_view from_pid, std::string_view tag, const term::Term& reply) {
    std::size_t start = begin_send(out, from_pid);
    term::TermWriter w(out);
    w.tuple_header(2);
    w.raw(tag);
    w.term(reply);
    finish_packet(out, start);
}

}  // namespace pycnode::dist
