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
    std::string_view from;     // raw external term of the sending pid (REG_SEND, LINK, EXIT*, UNLINK_ID, MONITOR_P)
    std::string_view to;       // raw external term of the target pid (SEND*, LINK, EXIT*, UNLINK_ID), or of the monitored proc (MONITOR_P)
    std::string_view to_name;  // REG_SEND*: the registered name (atom text)
    std::string_view id;       // UNLINK_ID: the id; MONITOR_P / DEMONITOR_P: the reference (raw external terms)
    bool has_message = false;  // a 131 + message follows the control tuple
    std::size_t message_offset = 0;  // offset in the packet of the message term, after its 131
};

// Parses a whole packet payload (as FrameReader yields it: no length prefix).
// Unknown operations parse fine (op set, other fields empty) so the caller can
// log and ignore them; malformed packets return an error.
term::DecodeError parse_packet(std::string_view packet, ControlMessage& out);

// Outgoing packets, each complete with its 4-byte length prefix, appended to `out`.
void append_tick(std::string& out);
// SEND {2, '', ToPid} + message.
void append_send(std::string& out, std::string_view to_pid, const term::Term& message);
// EXIT {3, FromPid, ToPid, Reason}.
void append_exit(std::string& out, std::string_view from_pid, std::string_view to_pid, const term::Term& reason);
// UNLINK_ID_ACK {36, Id, FromPid, ToPid}: `from_pid` is ours (the UNLINK_ID's To), `to_pid` theirs.
void append_unlink_id_ack(std::string& out, std::string_view id, std::string_view from_pid, std::string_view to_pid);
// MONITOR_P_EXIT {21, FromProc, ToPid, Ref, Reason}.
void append_monitor_exit(std::string& out, std::string_view from_proc, std::string_view to_pid,
                         std::string_view ref, const term::Term& reason);

}  // namespace pycnode::dist
