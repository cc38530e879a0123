// Control messages of the distribution protocol. Parsing is driven by one
// table that says, per operation, the tuple's arity, what each element is and
// whether a message follows, so every operation is checked the same way.
#include "dist/control.hpp"

#include "term/ext_format.hpp"
#include "term/term_writer.hpp"

#include <cassert>
#include <limits>

namespace pycnode::dist {
namespace {

using term::DecodeError;
using term::TermReader;
using term::TermWriter;
namespace tag = term::tag;

constexpr DecodeError Ok = DecodeError::Ok;

// What an element of a control tuple is, and where it goes in ControlMessage.
enum class Field : std::uint8_t {
    Any,       // unused or not needed (trace tokens, reasons): checked and skipped
    FromPid,   // a pid -> from
    ToPid,     // a pid -> to
    FromProc,  // a pid or a registered name -> from
    ToProc,    // a pid or a registered name -> to
    ToName,    // an atom -> to_name
    Id,        // any term (unlink id, monitor reference) -> id
};

struct Shape {
    Op op;
    std::uint8_t arity;     // of the whole tuple, the op included
    bool message;           // 131 + a message follows the control tuple
    Field fields[4];        // the elements after the op
};

using enum Field;

// From the distribution protocol documentation (erts/doc/src/erl_dist_protocol.xml).
constexpr Shape shapes[] = {
    {Op::Link, 3, false, {FromPid, ToPid}},
    {Op::Send, 3, true, {Any, ToPid}},
    {Op::Exit, 4, false, {FromPid, ToPid, Any}},
    {Op::Unlink, 3, false, {FromPid, ToPid}},
    {Op::RegSend, 4, true, {FromPid, Any, ToName}},
    {Op::GroupLeader, 3, false, {FromPid, ToPid}},
    {Op::Exit2, 4, false, {FromPid, ToPid, Any}},
    {Op::SendTT, 4, true, {Any, ToPid, Any}},
    {Op::ExitTT, 5, false, {FromPid, ToPid, Any, Any}},
    {Op::RegSendTT, 5, true, {FromPid, Any, ToName, Any}},
    {Op::Exit2TT, 5, false, {FromPid, ToPid, Any, Any}},
    {Op::MonitorP, 4, false, {FromPid, ToProc, Id}},
    {Op::DemonitorP, 4, false, {FromPid, ToProc, Id}},
    {Op::MonitorPExit, 5, false, {FromProc, ToPid, Id, Any}},
    {Op::SendSender, 3, true, {FromPid, ToPid}},
    {Op::SendSenderTT, 4, true, {FromPid, ToPid, Any}},
    // The PAYLOAD_* exits carry their reason as the message.
    {Op::PayloadExit, 3, true, {FromPid, ToPid}},
    {Op::PayloadExitTT, 4, true, {FromPid, ToPid, Any}},
    {Op::PayloadExit2, 3, true, {FromPid, ToPid}},
    {Op::PayloadExit2TT, 4, true, {FromPid, ToPid, Any}},
    {Op::PayloadMonitorPExit, 4, true, {FromProc, ToPid, Id}},
    {Op::UnlinkId, 4, false, {Id, FromPid, ToPid}},
    {Op::UnlinkIdAck, 4, false, {Id, FromPid, ToPid}},
};

const Shape* find_shape(std::int64_t op) {
    for (const Shape& s : shapes)
        if (static_cast<std::int64_t>(s.op) == op) return &s;
    return nullptr;
}

// A pid, or with `or_name` also an atom; anything else there is WrongType.
DecodeError read_process(TermReader& r, bool or_name, std::string_view& raw) {
    if (r.at_end()) return DecodeError::Truncated;
    std::uint8_t t = r.peek_tag();
    if (!tag::is_pid(t) && !(or_name && tag::is_atom(t))) return DecodeError::WrongType;
    return r.skip(raw);
}

DecodeError read_field(TermReader& r, Field field, ControlMessage& out) {
    switch (field) {
    case Any: return r.skip();
    case FromPid: return read_process(r, false, out.from);
    case ToPid: return read_process(r, false, out.to);
    case FromProc: return read_process(r, true, out.from);
    case ToProc: return read_process(r, true, out.to);
    case ToName: return r.read_atom(out.to_name);
    case Id: return r.skip(out.id);
    }
    return DecodeError::BadValue;
}

DecodeError read_fields(TermReader& r, const Shape& shape, ControlMessage& out) {
    for (std::size_t i = 0; i + 1 < shape.arity; ++i) {
        DecodeError err = read_field(r, shape.fields[i], out);
        if (err != Ok) return err;
    }
    return Ok;
}

// The message is only located here; its decoder checks it.
DecodeError read_message_start(TermReader& r, bool expected, ControlMessage& out) {
    if (!expected) return r.at_end() ? Ok : DecodeError::BadValue;
    DecodeError err = r.read_version();
    if (err != Ok) return err;
    if (r.at_end()) return DecodeError::Truncated;
    out.has_message = true;
    out.message_offset = 1 + r.position();  // the reader starts after 'p'
    return Ok;
}

std::size_t begin_packet(std::string& out) {
    std::size_t start = out.size();
    out.append(4, '\0');
    out.push_back(static_cast<char>(tag::pass_through));
    out.push_back(static_cast<char>(tag::version));
    return start;
}

}  // namespace

term::DecodeError parse_packet(std::string_view packet, ControlMessage& out) {
    out = ControlMessage{};
    if (packet.empty()) return DecodeError::Truncated;
    if (static_cast<std::uint8_t>(packet[0]) != tag::pass_through) return DecodeError::BadVersion;
    TermReader r(packet.substr(1));
    std::size_t arity = 0;
    DecodeError err = r.read_version();
    if (err == Ok) err = r.read_tuple_header(arity);
    if (err != Ok) return err;
    if (arity == 0) return DecodeError::BadValue;
    err = r.read_integer(out.op);
    if (err != Ok) return err;
    const Shape* shape = find_shape(out.op);
    if (!shape) return Ok;  // not ours to handle: the caller logs and ignores it
    if (arity != shape->arity) return DecodeError::BadValue;
    err = read_fields(r, *shape, out);
    if (err != Ok) return err;
    return read_message_start(r, shape->message, out);
}

void finish_packet(std::string& out, std::size_t start) {
    std::size_t length = out.size() - start - 4;
    assert(length <= std::numeric_limits<std::uint32_t>::max());
    for (std::size_t i = 0; i < 4; ++i) out[start + i] = static_cast<char>(length >> (24 - 8 * i));
}

std::size_t begin_send(std::string& out, std::string_view to_pid) {
    std::size_t start = begin_packet(out);
    TermWriter w(out);
    w.tuple_header(3);
    w.integer(static_cast<std::int64_t>(Op::Send));
    w.atom("");
    w.raw(to_pid);
    w.version();
    return start;
}

void append_tick(std::string& out) {
    out.append(4, '\0');
}

void append_send(std::string& out, std::string_view to_pid, const term::Term& message) {
    std::size_t start = begin_send(out, to_pid);
    TermWriter(out).term(message);
    finish_packet(out, start);
}

void append_exit(std::string& out, std::string_view from_pid, std::string_view to_pid, const term::Term& reason) {
    std::size_t start = begin_packet(out);
    TermWriter w(out);
    w.tuple_header(4);
    w.integer(static_cast<std::int64_t>(Op::Exit));
    w.raw(from_pid);
    w.raw(to_pid);
    w.term(reason);
    finish_packet(out, start);
}

void append_unlink_id_ack(std::string& out, std::string_view id, std::string_view from_pid, std::string_view to_pid) {
    std::size_t start = begin_packet(out);
    TermWriter w(out);
    w.tuple_header(4);
    w.integer(static_cast<std::int64_t>(Op::UnlinkIdAck));
    w.raw(id);
    w.raw(from_pid);
    w.raw(to_pid);
    finish_packet(out, start);
}

void append_monitor(std::string& out, std::string_view from_pid, std::string_view to_proc, std::string_view ref) {
    std::size_t start = begin_packet(out);
    TermWriter w(out);
    w.tuple_header(4);
    w.integer(static_cast<std::int64_t>(Op::MonitorP));
    w.raw(from_pid);
    w.raw(to_proc);
    w.raw(ref);
    finish_packet(out, start);
}

void append_monitor_exit(std::string& out, std::string_view from_proc, std::string_view to_pid,
                         std::string_view ref, const term::Term& reason) {
    std::size_t start = begin_packet(out);
    TermWriter w(out);
    w.tuple_header(5);
    w.integer(static_cast<std::int64_t>(Op::MonitorPExit));
    w.raw(from_proc);
    w.raw(to_pid);
    w.raw(ref);
    w.term(reason);
    finish_packet(out, start);
}

}  // namespace pycnode::dist
