// The accepting side of the distribution handshake (net/handshake.hpp) and
// the MD5 it needs (net/md5.hpp). The end-to-end check, against real Erlang
// nodes, is the integration suite; these pin the messages byte by byte.
#include "net/handshake.hpp"
#include "net/md5.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

using namespace pycnode::net;

namespace {

std::string hex(const Md5Digest& d) {
    std::string out;
    char b[3];
    for (auto byte : d) std::snprintf(b, sizeof b, "%02x", byte), out += b;
    return out;
}

std::string be(std::uint64_t v, int width) {
    std::string out;
    for (int i = width; i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return out;
}

std::string message(const std::string& body) { return be(body.size(), 2) + body; }

std::string digest_bytes(const std::string& cookie, std::uint32_t challenge) {
    auto d = md5(cookie + std::to_string(challenge));
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// What an OTP 25 node sends (dist_util: its flags include MANDATORY_25_DIGEST).
const std::uint64_t erlang_flags = 0x4 | 0x8 | 0x10 | 0x20 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x4000 |
                                   0x10000 | 0x20000 | 0x40000 | 0x1000000 | 0x2000000 | 0x4000000;

std::string send_name_new(const std::string& name, std::uint64_t flags = erlang_flags) {
    return message("N" + be(flags, 8) + be(7, 4) + be(name.size(), 2) + name);
}

const HandshakeIdentity me{"py@host", "secret", 0x11223344, true};
constexpr std::uint32_t our_challenge = 3000000000u;  // past 2^31: printed unsigned

}  // namespace

TEST_CASE("md5: RFC 1321 test suite") {
    CHECK(hex(md5("")) == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(hex(md5("abc")) == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(hex(md5("message digest")) == "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK(hex(md5("abcdefghijklmnopqrstuvwxyz")) == "c3fcd3d76192e4007dfb496cca67e13b");
    CHECK(hex(md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")) ==
          "57edf4a22be3c955ac49da2e2107b67a");
    // 55 and 56 bytes: the length does or does not fit in the last block.
    CHECK(hex(md5(std::string(55, 'a'))) == "ef1772b6dff9a122358552954ad0df65");
    CHECK(hex(md5(std::string(56, 'a'))) == "3b0c8ac703f828b04c6c197006d17218");
}

TEST_CASE("handshake: an OTP 23+ peer ('N'), whole messages") {
    Handshake hs(me, our_challenge);
    std::string out;
    CHECK(hs.feed(send_name_new("erl@host"), out) == Handshake::State::AwaitReply);
    CHECK(hs.peer_name() == "erl@host");
    std::string status = message("sok");
    REQUIRE(out.size() > status.size());
    CHECK(out.substr(0, status.size()) == status);
    std::string challenge = out.substr(status.size());
    std::string expected_body = "N" + be(Handshake::offered_flags(true), 8) + be(our_challenge, 4) +
                                be(me.creation, 4) + be(me.node_name.size(), 2) + me.node_name;
    CHECK(challenge == message(expected_body));
    CHECK((Handshake::offered_flags(true) & dflag::dist_monitor_name) != 0);
    CHECK((Handshake::offered_flags(false) & dflag::dist_monitor_name) == 0);
    CHECK((Handshake::offered_flags(true) & 0x1) == 0);  // never PUBLISHED: a hidden node

    out.clear();
    CHECK(hs.feed(message("r" + be(42, 4) + digest_bytes("secret", our_challenge)), out) ==
          Handshake::State::Done);
    CHECK(out == message("a" + digest_bytes("secret", 42)));
    // Anything before our ack reached the peer is a protocol error.
    out.clear();
    CHECK(hs.feed("x", out) == Handshake::State::Failed);
}

TEST_CASE("handshake: bytes arriving one at a time") {
    Handshake hs(me, our_challenge);
    std::string all = send_name_new("erl@host") + message("r" + be(1, 4) + digest_bytes("secret", our_challenge));
    std::string out;
    Handshake::State state = Handshake::State::AwaitName;
    for (char c : all) state = hs.feed(std::string_view(&c, 1), out);
    CHECK(state == Handshake::State::Done);
    CHECK(out.substr(out.size() - 19) == message("a" + digest_bytes("secret", 1)));
}

TEST_CASE("handshake: the older 'n' send_name, completed by send_complement") {
    Handshake hs(me, our_challenge);
    std::string out;
    std::string name = "erl@host";
    CHECK(hs.feed(message("n" + be(5, 2) + be(erlang_flags, 4) + name), out) == Handshake::State::AwaitComplement);
    CHECK(hs.feed(message("c" + be(0x4, 4) + be(9, 4)), out) == Handshake::State::AwaitReply);
    CHECK((hs.peer_flags() & dflag::v4_nc) != 0);
    CHECK(hs.feed(message("r" + be(5, 4) + digest_bytes("secret", our_challenge)), out) == Handshake::State::Done);
}

TEST_CASE("handshake: refusals") {
    std::string out;
    SUBCASE("a wrong cookie") {
        Handshake hs(me, our_challenge);
        hs.feed(send_name_new("erl@host"), out);
        CHECK(hs.feed(message("r" + be(1, 4) + digest_bytes("other", our_challenge)), out) ==
              Handshake::State::Failed);
        CHECK(hs.failure().find("cookie") != std::string::npos);
    }
    SUBCASE("a name that is not a node name, never repeated in the failure") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed(send_name_new("b\xff" "d@host"), out) == Handshake::State::Failed);
        CHECK(hs.bad_name());
        CHECK(out.empty());
        CHECK(hs.failure().find("\xff") == std::string::npos);
    }
    SUBCASE("a peer older than OTP 23") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed(message("n" + be(5, 2) + be(0x7fff4, 4) + "old@host"), out) == Handshake::State::Failed);
    }
    SUBCASE("missing mandatory flags") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed(send_name_new("erl@host", 0x1000000 | 0x4), out) == Handshake::State::Failed);
    }
    SUBCASE("not a distribution peer") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed("GET / HTTP/1.1\r\n\r\n", out) == Handshake::State::Failed);
    }
    SUBCASE("an oversize message, refused before it is all in") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed(be(60000, 2) + std::string(2000, 'N'), out) == Handshake::State::Failed);
    }
    SUBCASE("a send_name whose name length lies") {
        Handshake hs(me, our_challenge);
        CHECK(hs.feed(message("N" + be(erlang_flags, 8) + be(7, 4) + be(50, 2) + "a@b"), out) ==
              Handshake::State::Failed);
    }
}
