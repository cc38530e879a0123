// Distribution packets after the handshake: 'p' (112), 131 + control tuple,
// then, for the send operations, 131 + the message.
// Parsing here is pure and bounds-checked; building only emits well-formed terms.
#pragma once

#include "term/term.hpp"
#include "term/term_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pycnode::dist {

// Control message operations (erts/emulator/beam/dist.h). Only those a
// C-node can be sent are named.
enum class Op : std::int64_t {
    Link = 1,
    Send = 2,
    Exit = 3,
    Unlink = 4,
    RegSend = 6,
    GroupLeader = 7,
    Exit2 = 8,
    SendTT = 12,
    ExitTT = 13,
    RegSendTT = 16,
    Exit2TT = 18,
    MonitorP = 19,
    DemonitorP = 20,
    MonitorPExit = 21,
    SendSender = 22,
    SendSenderTT = 23,
    PayloadExit = 24,
    PayloadExitTT = 25,
    PayloadExit2 = 26,
    PayloadExit2TT = 27,
    PayloadMonitorPExit = 28,
    UnlinkId = 35,
    UnlinkIdAck = 36,
};

struct ControlMessage {
    std::int64_t op = 0;
    // All fields view the packet. Every op whose tuple names a sender or a
    // target fills from / to (see the table in control.cpp); SEND and
    // REG_SEND leave the unused one empty.
    std::string_view from;     // raw external term of the sending pid (a pid or a name for MONITOR_P_EXIT)
    std::string_view to;       // raw external term of the target pid (a pid or a name for MONITOR_P / DEMONITOR_P)
    std::string_view to_name;  // REG_SEND*: the registered name (atom text)
    std::string_view id;       // UNLINK_ID*: the id; *MONITOR_P*: the reference (raw external terms)
    bool has_message = false;  // a 131 + message follows the control tuple
    std::size_t message_offset = 0;  // offset in the packet of the message term, after its 131
};

// Parses a whole packet payload (as FrameReader yields it: no length prefix).
// Unknown operations parse fine (op set, other fields empty) so the caller can
// log and ignore them; malformed packets return an error: BadVersion if the
// first byte is not 'p' or the 131s are missing, BadValue for a known op with
// the wrong arity or bytes after a control tuple that has no message,
// WrongType where a pid (or name) is expected and something else is found.
// The message itself is only located, not decoded.
term::DecodeError parse_packet(std::string_view packet, ControlMessage& out);

// Outgoing packets, each complete with its 4-byte length prefix, appended to
// `out`. Pids, ids and references are raw external terms (no 131), as parsed.
void append_tick(std::string& out);
// SEND {2, '', ToPid} + message.
void append_send(std::string& out, std::string_view to_pid, const term::Term& message);
// EXIT {3, FromPid, ToPid, Reason}.
void append_exit(std::string& out, std::string_view from_pid, std::string_view to_pid, const term::Term& reason);
// UNLINK_ID_ACK {36, Id, FromPid, ToPid}: `from_pid` is ours (the UNLINK_ID's To), `to_pid` theirs.
void append_unlink_id_ack(std::string& out, std::string_view id, std::string_view from_pid, std::string_view to_pid);
// MONITOR_P {19, FromPid, ToProc, Ref}: `from_pid` and `ref` are ours.
void append_monitor(std::string& out, std::string_view from_pid, std::string_view to_proc, std::string_view ref);
// MONITOR_P_EXIT {21, FromProc, ToPid, Ref, Reason}.
void append_monitor_exit(std::string& out, std::string_view from_proc, std::string_view to_pid,
                         std::string_view ref, const term::Term& reason);

// The two halves of append_send, for messages that are not one Term tree
// (gen_call's reply writes its Tag verbatim): begin_send appends the length
// placeholder, 'p', 131 {2, '', ToPid} and the message's 131, and returns
// where the packet starts; write the message with a TermWriter on `out`;
// finish_packet(out, start) then fills in the length.
std::size_t begin_send(std::string& out, std::string_view to_pid);
void finish_packet(std::string& out, std::size_t start);

}  // namespace pycnode::dist
