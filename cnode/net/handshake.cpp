#include "net/handshake.hpp"

#include "net/md5.hpp"
#include "net/node_name.hpp"

#include <fmt/format.h>

namespace pycnode::net {
namespace {

// OTP 25 refuses peers without these (dist.hrl's MANDATORY_DFLAGS_25); a
// peer may also send MANDATORY_25_DIGEST, which stands for all of them.
constexpr std::uint64_t mandatory_25 = dflag::extended_references | dflag::fun_tags | dflag::extended_pids_ports |
                                       dflag::new_fun_tags | dflag::export_ptr_tag | dflag::bit_binaries |
                                       dflag::new_floats | dflag::utf8_atoms | dflag::map_tag |
                                       dflag::big_creation | dflag::handshake_23;

std::uint64_t read_be(std::string_view s, std::size_t at, std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
    return v;
}

void write_be(std::string& out, std::uint64_t v, std::size_t width) {
    for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_message(std::string& out, std::string_view body) {
    write_be(out, body.size(), 2);
    out.append(body);
}

Md5Digest digest(std::string_view cookie, std::uint32_t challenge) {
    std::string text(cookie);
    text += std::to_string(challenge);
    return md5(text);
}

// Compares without an early exit, so timing says nothing about the digest.
bool same_digest(std::string_view got, const Md5Digest& expected) {
    unsigned diff = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) diff |= static_cast<unsigned char>(got[i]) ^ expected[i];
    return diff == 0;
}

}  // namespace

std::uint64_t Handshake::offered_flags(bool monitor_name) {
    // What ei offers (OTP 25), plus monitors by name when asked. Not offered:
    // PUBLISHED (pycnode is a hidden node), ATOM_CACHE, FRAGMENTS, SPAWN, ALIAS.
    std::uint64_t flags = mandatory_25 | dflag::dist_monitor | dflag::small_atom_tags | dflag::unlink_id |
                          dflag::mandatory_25_digest | dflag::v4_nc;
    return monitor_name ? flags | dflag::dist_monitor_name : flags;
}

Handshake::Handshake(const HandshakeIdentity& me, std::uint32_t challenge) : me_(me), challenge_(challenge) {}

Handshake::State Handshake::feed(std::string_view bytes, std::string& out) {
    if (state_ == State::Done || state_ == State::Failed) {
        if (!bytes.empty() && state_ == State::Done) fail("sent data before the handshake was acknowledged");
        return state_;
    }
    if (input_.size() + bytes.size() > max_message + 2) {
        fail("sent an oversize handshake message");
        return state_;
    }
    input_.append(bytes);
    while (state_ != State::Failed && input_.size() >= 2) {
        std::size_t length = read_be(input_, 0, 2);
        if (length > max_message) {
            fail("announced an oversize handshake message");  // an HTTP request lands here
            break;
        }
        if (input_.size() < 2 + length) break;
        if (state_ == State::Done) {
            fail("sent data before the handshake was acknowledged");
            break;
        }
        std::string body = input_.substr(2, length);
        input_.erase(0, 2 + length);
        on_message(body, out);
    }
    return state_;
}

void Handshake::on_message(std::string_view body, std::string& out) {
    if (body.empty()) return fail("sent an empty handshake message");
    switch (state_) {
        case State::AwaitName: return on_name(body, out);
        case State::AwaitComplement: return on_complement(body);
        case State::AwaitReply: return on_reply(body, out);
        default: return fail("sent a message after the handshake");
    }
}

void Handshake::on_name(std::string_view body, std::string& out) {
    bool modern = body[0] == 'N';
    if (modern) {
        if (body.size() < 15) return fail("sent a truncated send_name");
        peer_flags_ = read_be(body, 1, 8);
        std::size_t length = read_be(body, 13, 2);
        if (body.size() != 15 + length) return fail("sent a send_name of the wrong length");
        peer_name_ = body.substr(15);
    } else if (body[0] == 'n') {
        if (body.size() < 7) return fail("sent a truncated send_name");
        peer_flags_ = read_be(body, 3, 4);
        peer_name_ = body.substr(7);
    } else {
        return fail("is not an Erlang node (no send_name)");
    }
    if (!valid_node_name(peer_name_)) {
        bad_name_ = true;
        peer_name_.clear();
        return fail("the name it presented is not a node name (Alive@Host, UTF-8)");
    }
    if (!(peer_flags_ & dflag::handshake_23))
        return fail(fmt::format("{} is older than OTP 23 (no HANDSHAKE_23)", peer_name_));
    if (!(peer_flags_ & dflag::mandatory_25_digest) && (peer_flags_ & mandatory_25) != mandatory_25)
        return fail(fmt::format("{} lacks distribution flags OTP 25 requires", peer_name_));

    append_message(out, "sok");
    std::string challenge{"N"};
    write_be(challenge, offered_flags(me_.offer_monitor_name), 8);
    write_be(challenge, challenge_, 4);
    write_be(challenge, me_.creation, 4);
    write_be(challenge, me_.node_name.size(), 2);
    challenge += me_.node_name;
    append_message(out, challenge);
    // A peer that sent the older 'n' learns our new-style challenge and
    // completes its flags and creation with send_complement.
    state_ = modern ? State::AwaitReply : State::AwaitComplement;
}

void Handshake::on_complement(std::string_view body) {
    if (body[0] != 'c' || body.size() != 9) return fail("sent no send_complement");
    peer_flags_ |= read_be(body, 1, 4) << 32;
    state_ = State::AwaitReply;
}

void Handshake::on_reply(std::string_view body, std::string& out) {
    if (body[0] != 'r' || body.size() != 21) return fail("sent no challenge reply");
    if (!same_digest(body.substr(5), digest(me_.cookie, challenge_)))
        return fail(fmt::format("{} does not have our cookie", peer_name_));
    auto ack = digest(me_.cookie, static_cast<std::uint32_t>(read_be(body, 1, 4)));
    std::string message{"a"};
    message.append(reinterpret_cast<const char*>(ack.data()), ack.size());
    append_message(out, message);
    state_ = State::Done;
}

void Handshake::fail(std::string why) {
    if (state_ == State::Failed) return;
    state_ = State::Failed;
    failure_ = std::move(why);
}

}  // namespace pycnode::net
