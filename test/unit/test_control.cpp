// Distribution packets: control tuples of every operation, the gen_call
// envelope, and the packets pycnode sends, checked against real Erlang bytes.
#include "dist/control.hpp"
#include "dist/gen_call.hpp"
#include "golden.hpp"
#include "term_testing.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace pycnode::dist;
using pycnode::term::DecodeError;
using pycnode::term::Kind;
using pycnode::term::Term;
using pycnode::term::TermReader;
using term_testing::encode;

namespace {

const std::string_view pid1 = std::string_view(golden::pid).substr(1);
const std::string pid2_storage = golden::bytes({88, 119, 3, 'x', '@', 'y', 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 1});
const std::string_view pid2 = pid2_storage;
const std::string_view ref = std::string_view(golden::ref).substr(1);

Term raw(std::string_view ext) { return Term::make_opaque(ext); }
Term op(std::int64_t value) { return Term::make_integer(value); }

// 'p', 131 + the control tuple, and 131 + the message if there is one.
std::string packet(const Term& control, const Term* message = nullptr) {
    std::string p = "p" + encode(control);
    if (message) p += encode(*message);
    return p;
}

// The payload of one complete outgoing packet, after checking its length prefix.
std::string_view payload_of(const std::string& out) {
    REQUIRE(out.size() >= 4);
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<std::uint8_t>(out[i]);
    REQUIRE(length == out.size() - 4);
    return std::string_view(out).substr(4);
}

Term decode_message(std::string_view packet, const ControlMessage& control) {
    REQUIRE(control.has_message);
    Term t;
    TermReader r(packet.substr(control.message_offset));
    REQUIRE(r.read_term(t) == DecodeError::Ok);
    CHECK(r.at_end());
    return t;
}

}  // namespace

TEST_CASE("net_adm:ping's REG_SEND and its gen_call") {
    std::string p = "p" + golden::reg_send_ctl + golden::gen_call_is_auth;
    ControlMessage control;
    REQUIRE(parse_packet(p, control) == DecodeError::Ok);
    CHECK(control.op == static_cast<std::int64_t>(Op::RegSend));
    CHECK(control.from == pid1);
    CHECK(control.to_name == "net_kernel");
    CHECK(control.to.empty());
    CHECK(control.has_message);
    CHECK(control.message_offset == 1 + golden::reg_send_ctl.size() + 1);

    GenCall call;
    REQUIRE(parse_gen_call(p, control.message_offset, call) == DecodeError::Ok);
    CHECK(call.from_pid == pid1);
    CHECK(call.tag == std::string_view(golden::alias_tag).substr(1));
    std::string request = golden::bytes({104, 2, 119, 7, 'i', 's', '_', 'a', 'u', 't', 'h',
                                         119, 9, 'g', 'o', 'l', 'd', 'e', 'n', '@', 'v', 'm'});
    CHECK(std::string_view(p).substr(call.request_offset, call.request_size) == request);
    CHECK(call.request_offset + call.request_size == p.size());

    SUBCASE("every strict prefix is Truncated, by the envelope or by the Request's decoder") {
        // parse_packet only locates the message; parse_gen_call reads the
        // envelope and locates the Request, which its decoder checks.
        const std::size_t message_offset = control.message_offset;
        const std::size_t request_offset = call.request_offset;
        for (std::size_t size = 0; size < p.size(); ++size) {
            CAPTURE(size);
            std::string_view prefix = std::string_view(p).substr(0, size);
            if (size <= message_offset) {
                CHECK(parse_packet(prefix, control) == DecodeError::Truncated);
                continue;
            }
            CHECK(parse_packet(prefix, control) == DecodeError::Ok);
            if (size < request_offset) {
                CHECK(parse_gen_call(prefix, message_offset, call) == DecodeError::Truncated);
                continue;
            }
            REQUIRE(parse_gen_call(prefix, message_offset, call) == DecodeError::Ok);
            CHECK(call.request_offset + call.request_size == size);
            std::string_view located = prefix.substr(call.request_offset, call.request_size);
            Term term;
            CHECK(TermReader::read_whole(located, term) == DecodeError::Truncated);
            CHECK(TermReader::check_whole(located) == DecodeError::Truncated);
        }
    }
}

TEST_CASE("the reply to ping is byte for byte what Erlang sends") {
    std::string out = "kept";
    append_reply(out, pid1, std::string_view(golden::alias_tag).substr(1), Term::make_atom("yes"));
    CHECK(out.substr(0, 4) == "kept");
    out.erase(0, 4);
    std::string_view p = payload_of(out);
    CHECK(p == "p" + golden::send_ctl + golden::reply_yes);

    ControlMessage control;
    REQUIRE(parse_packet(p, control) == DecodeError::Ok);
    CHECK(control.op == static_cast<std::int64_t>(Op::Send));
    CHECK(control.to == pid1);
    Term reply = decode_message(p, control);
    REQUIRE(reply.items.size() == 2);
    CHECK(reply.items[0].bytes == std::string_view(golden::alias_tag).substr(1));
    CHECK(reply.items[1].is_atom("yes"));
}

TEST_CASE("the fields of every operation") {
    struct Case {
        Op op;
        std::vector<Term> fields;
        bool message;
        std::string_view from, to, to_name, id;
    };
    const Term empty = Term::make_atom(""), name = Term::make_atom("my_server"), token = Term::make_atom("token"),
               reason = Term::make_atom("normal"), id = Term::make_integer(12345678901234);
    const std::string id_raw = encode(id).substr(1);
    const Case cases[] = {
        {Op::Link, {raw(pid1), raw(pid2)}, false, pid1, pid2, "", ""},
        {Op::Send, {empty, raw(pid2)}, true, "", pid2, "", ""},
        {Op::Exit, {raw(pid1), raw(pid2), reason}, false, pid1, pid2, "", ""},
        {Op::Unlink, {raw(pid1), raw(pid2)}, false, pid1, pid2, "", ""},
        {Op::RegSend, {raw(pid1), empty, name}, true, pid1, "", "my_server", ""},
        {Op::GroupLeader, {raw(pid1), raw(pid2)}, false, pid1, pid2, "", ""},
        {Op::Exit2, {raw(pid1), raw(pid2), reason}, false, pid1, pid2, "", ""},
        {Op::SendTT, {empty, raw(pid2), token}, true, "", pid2, "", ""},
        {Op::ExitTT, {raw(pid1), raw(pid2), token, reason}, false, pid1, pid2, "", ""},
        {Op::RegSendTT, {raw(pid1), empty, name, token}, true, pid1, "", "my_server", ""},
        {Op::Exit2TT, {raw(pid1), raw(pid2), token, reason}, false, pid1, pid2, "", ""},
        {Op::MonitorP, {raw(pid1), raw(pid2), raw(ref)}, false, pid1, pid2, "", ref},
        {Op::DemonitorP, {raw(pid1), raw(pid2), raw(ref)}, false, pid1, pid2, "", ref},
        {Op::MonitorPExit, {raw(pid2), raw(pid1), raw(ref), reason}, false, pid2, pid1, "", ref},
        {Op::SendSender, {raw(pid1), raw(pid2)}, true, pid1, pid2, "", ""},
        {Op::SendSenderTT, {raw(pid1), raw(pid2), token}, true, pid1, pid2, "", ""},
        {Op::PayloadExit, {raw(pid1), raw(pid2)}, true, pid1, pid2, "", ""},
        {Op::PayloadExitTT, {raw(pid1), raw(pid2), token}, true, pid1, pid2, "", ""},
        {Op::PayloadExit2, {raw(pid1), raw(pid2)}, true, pid1, pid2, "", ""},
        {Op::PayloadExit2TT, {raw(pid1), raw(pid2), token}, true, pid1, pid2, "", ""},
        {Op::PayloadMonitorPExit, {raw(pid2), raw(pid1), raw(ref)}, true, pid2, pid1, "", ref},
        {Op::UnlinkId, {id, raw(pid1), raw(pid2)}, false, pid1, pid2, "", id_raw},
        {Op::UnlinkIdAck, {id, raw(pid1), raw(pid2)}, false, pid1, pid2, "", id_raw},
    };
    const Term message = Term::make_tuple({Term::make_atom("hello"), Term::make_binary("world")});
    for (const Case& c : cases) {
        CAPTURE(static_cast<int>(c.op));
        std::vector<Term> items{op(static_cast<std::int64_t>(c.op))};
        items.insert(items.end(), c.fields.begin(), c.fields.end());
        std::string p = packet(Term::make_tuple(items), c.message ? &message : nullptr);
        ControlMessage control;
        REQUIRE(parse_packet(p, control) == DecodeError::Ok);
        CHECK(control.op == static_cast<std::int64_t>(c.op));
        CHECK(control.from == c.from);
        CHECK(control.to == c.to);
        CHECK(control.to_name == c.to_name);
        CHECK(control.id == c.id);
        CHECK(control.has_message == c.message);
        if (c.message) CHECK(term_testing::same_term(decode_message(p, control), message));
        // A message where none belongs, or none where one does, is refused.
        std::string other = packet(Term::make_tuple(items), c.message ? nullptr : &message);
        CHECK(parse_packet(other, control) != DecodeError::Ok);
    }
}

TEST_CASE("monitors may name the process instead of giving its pid") {
    Term name = Term::make_atom("my_server");
    ControlMessage control;
    std::string p = packet(Term::make_tuple({op(19), raw(pid1), name, raw(ref)}));
    REQUIRE(parse_packet(p, control) == DecodeError::Ok);
    CHECK(control.to == "\x77\x09my_server");
    p = packet(Term::make_tuple({op(21), name, raw(pid1), raw(ref), Term::make_atom("noproc")}));
    REQUIRE(parse_packet(p, control) == DecodeError::Ok);
    CHECK(control.from == "\x77\x09my_server");
}

TEST_CASE("malformed packets are refused, unknown operations are not") {
    ControlMessage control;
    Term message = Term::make_atom("m");
    CHECK(parse_packet("", control) == DecodeError::Truncated);
    CHECK(parse_packet("q" + golden::send_ctl + encode(message), control) == DecodeError::BadVersion);
    CHECK(parse_packet("p" + golden::send_ctl.substr(1) + encode(message), control) == DecodeError::BadVersion);
    CHECK(parse_packet("p" + golden::send_ctl + encode(message).substr(1), control) == DecodeError::BadVersion);
    CHECK(parse_packet(packet(Term::make_tuple({})), control) == DecodeError::BadValue);
    CHECK(parse_packet(packet(Term::make_tuple({op(1), raw(pid1)})), control) == DecodeError::BadValue);
    CHECK(parse_packet(packet(Term::make_tuple({op(1), raw(pid1), Term::make_atom("x")})), control) ==
          DecodeError::WrongType);
    CHECK(parse_packet(packet(Term::make_tuple({op(2), Term::make_atom(""), Term::make_atom("x")}), &message),
                       control) == DecodeError::WrongType);
    CHECK(parse_packet(packet(Term::make_tuple({Term::make_atom("op")})), control) == DecodeError::WrongType);
    CHECK(parse_packet(packet(Term::make_list({op(1)})), control) == DecodeError::WrongType);
    CHECK(parse_packet(packet(Term::make_tuple({op(1), raw(pid1), raw(pid2)})) + "\x6A", control) ==
          DecodeError::BadValue);

    // SPAWN_REQUEST (29) is not ours: parsed as far as its op, for the caller to log.
    std::string spawn = packet(Term::make_tuple({op(29), Term::make_atom("anything")}), &message);
    REQUIRE(parse_packet(spawn, control) == DecodeError::Ok);
    CHECK(control.op == 29);
    CHECK_FALSE(control.has_message);
}

TEST_CASE("outgoing packets parse back to what was written") {
    std::string out;
    append_tick(out);
    CHECK(out == std::string(4, '\0'));

    Term message = Term::make_map({Term::make_atom("k"), Term::make_list({Term::make_float(0.5)})});
    Term reason = Term::make_tuple({Term::make_atom("shutdown"), Term::make_integer(-3)});
    ControlMessage control;

    out.clear();
    append_send(out, pid2, message);
    std::string_view p = payload_of(out);
    REQUIRE(parse_packet(p, control) == DecodeError::Ok);
    CHECK((control.op == 2 && control.to == pid2));
    CHECK(term_testing::same_term(decode_message(p, control), message));

    out.clear();
    append_exit(out, pid1, pid2, reason);
    REQUIRE(parse_packet(payload_of(out), control) == DecodeError::Ok);
    CHECK((control.op == 3 && control.from == pid1 && control.to == pid2 && !control.has_message));
    CHECK(payload_of(out) == packet(Term::make_tuple({op(3), raw(pid1), raw(pid2), reason})));

    out.clear();
    std::string id = encode(Term::make_integer(77)).substr(1);
    append_unlink_id_ack(out, id, pid1, pid2);
    REQUIRE(parse_packet(payload_of(out), control) == DecodeError::Ok);
    CHECK((control.op == 36 && control.id == id && control.from == pid1 && control.to == pid2));

    out.clear();
    append_monitor_exit(out, pid1, pid2, ref, reason);
    REQUIRE(parse_packet(payload_of(out), control) == DecodeError::Ok);
    CHECK((control.op == 21 && control.from == pid1 && control.to == pid2 && control.id == ref));
    CHECK(payload_of(out) == packet(Term::make_tuple({op(21), raw(pid1), raw(pid2), raw(ref), reason})));
}

TEST_CASE("gen_call envelopes that are not well formed") {
    GenCall call;
    auto parse = [&](const Term& message) {
        std::string p = golden::send_ctl + encode(message);
        return parse_gen_call(p, golden::send_ctl.size() + 1, call);
    };
    Term from = Term::make_tuple({raw(pid1), raw(ref)});
    Term gen_call = Term::make_atom("$gen_call"), req = Term::make_atom("ping");
    CHECK(parse(Term::make_tuple({gen_call, from, req})) == DecodeError::Ok);
    CHECK(parse(Term::make_tuple({Term::make_atom("$gen_cast"), req})) == DecodeError::WrongType);
    CHECK(parse(Term::make_tuple({Term::make_atom("$gen_cast"), from, req})) == DecodeError::WrongType);
    CHECK(parse(Term::make_tuple({gen_call, Term::make_tuple({raw(ref), raw(ref)}), req})) == DecodeError::WrongType);
    CHECK(parse(Term::make_tuple({gen_call, Term::make_tuple({raw(pid1)}), req})) == DecodeError::WrongType);
    CHECK(parse(Term::make_list({gen_call, from, req})) == DecodeError::WrongType);
    CHECK(parse(Term::make_binary("x")) == DecodeError::WrongType);
    // Bytes after the Request are part of what is located, and its decoder
    // refuses them.
    std::string trailing = "p" + golden::gen_call_is_auth + "\x6A";
    REQUIRE(parse_gen_call(trailing, 2, call) == DecodeError::Ok);
    std::string_view located = std::string_view(trailing).substr(call.request_offset, call.request_size);
    Term term;
    CHECK(TermReader::read_whole(located, term) == DecodeError::BadValue);
    CHECK(TermReader::check_whole(located) == DecodeError::BadValue);
    CHECK(TermReader::check_whole(located.substr(0, located.size() - 1)) == DecodeError::Ok);
    CHECK(parse_gen_call("p", 5, call) == DecodeError::Truncated);
}

TEST_CASE("random and mutated packets never crash the parsers") {
    std::mt19937 rng(99);
    const std::string ping = "p" + golden::reg_send_ctl + golden::gen_call_is_auth;
    for (int i = 0; i < 20000; ++i) {
        std::string p = ping;
        for (int flips = 1 + rng() % 4; flips > 0; --flips) p[rng() % p.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) p.resize(rng() % (p.size() + 1));
        ControlMessage control;
        if (parse_packet(p, control) != DecodeError::Ok || !control.has_message) continue;
        REQUIRE(control.message_offset <= p.size());
        GenCall call;
        if (parse_gen_call(p, control.message_offset, call) != DecodeError::Ok) continue;
        CHECK(call.request_offset + call.request_size == p.size());
    }
}
