// The accepting side of the Erlang distribution handshake, as a pure state
// machine: bytes in, bytes out, no socket and no clock. net/listener.cpp
// runs many of them at once on the loop thread, so a peer that never
// finishes costs a few hundred bytes and blocks nobody.
//
// The protocol (https://www.erlang.org/doc/apps/erts/erl_dist_protocol.html,
// "Distribution Handshake"), every message behind a 2-byte length:
//   peer -> us  send_name       'N' Flags:64 Creation:32 Nlen:16 Name
//                               (or the older 'n' Version:16 Flags:32 Name)
//   us -> peer  send_status     's' "ok"
//   us -> peer  send_challenge  'N' Flags:64 Challenge:32 Creation:32 Nlen:16 Name
//   peer -> us  send_complement 'c' FlagsHigh:32 Creation:32   (only after 'n')
//   peer -> us  challenge_reply 'r' ChallengeB:32 MD5(Cookie ++ decimal(Challenge))
//   us -> peer  challenge_ack   'a' MD5(Cookie ++ decimal(ChallengeB))
// Peers must speak the OTP 23+ handshake (HANDSHAKE_23) and have OTP 25's
// mandatory flags, as an OTP 25 node requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pycnode::net {

// Distribution flags (erts' dist.h); those pycnode offers are in
// handshake.cpp.
namespace dflag {
constexpr std::uint64_t extended_references = 0x4;
constexpr std::uint64_t dist_monitor = 0x8;
constexpr std::uint64_t fun_tags = 0x10;
constexpr std::uint64_t dist_monitor_name = 0x20;
constexpr std::uint64_t new_fun_tags = 0x80;
constexpr std::uint64_t extended_pids_ports = 0x100;
constexpr std::uint64_t export_ptr_tag = 0x200;
constexpr std::uint64_t bit_binaries = 0x400;
constexpr std::uint64_t new_floats = 0x800;
constexpr std::uint64_t small_atom_tags = 0x4000;
constexpr std::uint64_t utf8_atoms = 0x10000;
constexpr std::uint64_t map_tag = 0x20000;
constexpr std::uint64_t big_creation = 0x40000;
constexpr std::uint64_t handshake_23 = 0x1000000;
constexpr std::uint64_t unlink_id = 0x2000000;
constexpr std::uint64_t mandatory_25_digest = 0x4000000;
constexpr std::uint64_t v4_nc = std::uint64_t{0x4} << 32;
}  // namespace dflag

struct HandshakeIdentity {
    std::string node_name;  // ours, Alive@Host
    std::string cookie;
    std::uint32_t creation = 0;
    bool offer_monitor_name = true;  // DIST_MONITOR_NAME: callers' nodes tell us when they give up
};

class Handshake {
public:
    enum class State { AwaitName, AwaitComplement, AwaitReply, Done, Failed };

    // `challenge` must be unpredictable to the peer (a fresh random number).
    Handshake(const HandshakeIdentity& me, std::uint32_t challenge);

    // Takes bytes the peer sent; appends what to send back to `out`. Bytes
    // past the challenge reply are a protocol error: an honest peer waits for
    // our ack before it sends anything else.
    State feed(std::string_view bytes, std::string& out);

    State state() const { return state_; }
    const std::string& peer_name() const { return peer_name_; }
    std::uint64_t peer_flags() const { return peer_flags_; }
    // Why it failed, for the log; refers to the peer's name only once it is
    // known to be a node name (a bad one is never logged).
    const std::string& failure() const { return failure_; }
    // The peer's name was not a node name (counted apart in the log).
    bool bad_name() const { return bad_name_; }

    // The flags pycnode offers (and the digest uses nothing else).
    static std::uint64_t offered_flags(bool monitor_name);
    // Largest message accepted: send_name with a 255-byte name, and margin.
    static constexpr std::size_t max_message = 1024;

private:
    void on_message(std::string_view body, std::string& out);
    void on_name(std::string_view body, std::string& out);
    void on_complement(std::string_view body);
    void on_reply(std::string_view body, std::string& out);
    void fail(std::string why);

    const HandshakeIdentity& me_;
    const std::uint32_t challenge_;
    State state_ = State::AwaitName;
    std::string input_;
    std::string peer_name_;
    std::uint64_t peer_flags_ = 0;
    std::string failure_;
    bool bad_name_ = false;
};

}  // namespace pycnode::net
