// The term codec: round trips of every kind, byte-exact agreement with real
// Erlang, and robustness against truncated, random and hostile input.
#include "golden.hpp"
#include "term/term_check.hpp"
#include "term_testing.hpp"

#include <doctest/doctest.h>

#include <cfloat>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace pycnode::term;
using term_testing::decode;
using term_testing::encode;
using term_testing::same_term;

namespace {

void check_round_trip(const Term& t) {
    std::string bytes = encode(t);
    Term back;
    REQUIRE(decode(bytes, back) == DecodeError::Ok);
    CHECK(same_term(t, back));
}

std::uint8_t first_tag(const Term& t) {
    return static_cast<std::uint8_t>(encode(t)[1]);
}

Term big(bool negative, std::string_view magnitude) {
    Term t;
    t.kind = Kind::BigInteger;
    t.negative = negative;
    t.bytes = magnitude;
    return t;
}

DecodeError decode_error(const std::string& bytes) {
    Term ignored;
    return decode(bytes, ignored);
}

// Decodes a golden term and checks that encoding it again gives Erlang's bytes.
Term check_golden_round_trip(const std::string& golden) {
    Term t;
    REQUIRE(decode(golden, t) == DecodeError::Ok);
    CHECK(encode(t) == golden);
    return t;
}

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("integers use the smallest encoding at every boundary") {
    struct Case { std::int64_t value; std::uint8_t tag; };
    constexpr auto i32 = std::numeric_limits<std::int32_t>();
    constexpr auto i64 = std::numeric_limits<std::int64_t>();
    const Case cases[] = {
        {0, 97}, {255, 97}, {256, 98}, {-1, 98}, {i32.max(), 98}, {i32.min(), 98},
        {std::int64_t{i32.max()} + 1, 110}, {std::int64_t{i32.min()} - 1, 110}, {i64.max(), 110}, {i64.min(), 110},
    };
    for (const Case& c : cases) {
        CAPTURE(c.value);
        Term t = Term::make_integer(c.value);
        CHECK(first_tag(t) == c.tag);
        check_round_trip(t);
    }
    CHECK(check_golden_round_trip(golden::int64_min).integer == i64.min());
    CHECK(check_golden_round_trip(golden::int64_max).integer == i64.max());
}

TEST_CASE("bignums") {
    Term t = check_golden_round_trip(golden::big_2_64);
    CHECK(t.kind == Kind::BigInteger);
    CHECK_FALSE(t.negative);
    CHECK(t.bytes == std::string("\0\0\0\0\0\0\0\0\1", 9));
    t = check_golden_round_trip(golden::big_neg_2_64);
    CHECK(t.negative);
    t = check_golden_round_trip(golden::big_300);
    CHECK(t.bytes.size() == 300);
    std::string magnitude(300, '\xA5');
    check_round_trip(big(true, magnitude));
    check_round_trip(big(false, magnitude));

    SUBCASE("the writer normalises to the int64 encodings") {
        std::string one("\1\0\0\0", 4), two_63("\0\0\0\0\0\0\0\x80", 8);
        CHECK(encode(big(false, one)) == encode(Term::make_integer(1)));
        CHECK(encode(big(true, "")) == encode(Term::make_integer(0)));
        CHECK(encode(big(true, two_63)) == encode(Term::make_integer(std::numeric_limits<std::int64_t>::min())));
        CHECK(encode(big(false, two_63)) == golden::bytes({131, 110, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128}));
        CHECK(encode(big(false, magnitude + std::string(3, '\0'))) == encode(big(false, magnitude)));
    }
    SUBCASE("the reader handles zero digits and high zeros") {
        Term v;
        REQUIRE(decode(golden::bytes({131, 110, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}), v) == DecodeError::Ok);
        CHECK((v.kind == Kind::Integer && v.integer == 1));
        REQUIRE(decode(golden::bytes({131, 110, 0, 0}), v) == DecodeError::Ok);
        CHECK((v.kind == Kind::Integer && v.integer == 0));
        REQUIRE(decode(golden::bytes({131, 110, 2, 1, 0, 0}), v) == DecodeError::Ok);
        CHECK((v.kind == Kind::Integer && v.integer == 0));
        std::string high_zeros = golden::bytes({131, 111, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
        REQUIRE(decode(high_zeros, v) == DecodeError::Ok);
        CHECK((v.kind == Kind::BigInteger && v.bytes == std::string_view(high_zeros).substr(7, 9)));
        CHECK(decode_error(golden::bytes({131, 110, 1, 2, 5})) == DecodeError::BadValue);
    }
}

TEST_CASE("floats") {
    for (double v : {0.0, -0.0, 1.5, -2.25e300, DBL_MIN, DBL_MAX, std::numeric_limits<double>::denorm_min()}) {
        CAPTURE(v);
        CHECK(first_tag(Term::make_float(v)) == 70);
        check_round_trip(Term::make_float(v));
    }
    CHECK(check_golden_round_trip(golden::pi).real == 3.141592653589793);
    Term t;
    REQUIRE(decode(golden::old_float, t) == DecodeError::Ok);
    CHECK((t.kind == Kind::Float && t.real == 1.5));

    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        std::string bytes = golden::bytes({131, 70, 0, 0, 0, 0, 0, 0, 0, 0});
        auto bits = std::bit_cast<std::uint64_t>(bad);
        for (int i = 0; i < 8; ++i) bytes[2 + i] = static_cast<char>(bits >> (56 - 8 * i));
        CHECK(decode_error(bytes) == DecodeError::BadValue);
    }
    for (std::string text : {"inf", "nan", "1.5x", "", " 1.5", "0x1p3"}) {
        CAPTURE(text);
        std::string bytes = golden::bytes({131, 99}) + text + std::string(31 - text.size(), '\0');
        CHECK(decode_error(bytes) == DecodeError::BadValue);
    }
}

TEST_CASE("atoms") {
    CHECK(encode(Term::make_atom("")) == golden::bytes({131, 119, 0}));
    CHECK(check_golden_round_trip(golden::utf8_atom).bytes == "héllo_日本");
    Term t;
    REQUIRE(decode(golden::latin1_atom, t) == DecodeError::Ok);
    CHECK(t.is_atom("hello"));

    std::string ascii_255(255, 'a'), e_128 = repeat("é", 128), e_255 = repeat("é", 255);
    CHECK(first_tag(Term::make_atom(ascii_255)) == 119);
    check_round_trip(Term::make_atom(ascii_255));
    CHECK(first_tag(Term::make_atom(e_128)) == 118);  // 256 bytes, 128 characters
    check_round_trip(Term::make_atom(e_128));
    check_round_trip(Term::make_atom(e_255));

    // Erlang refuses atoms of more than 255 characters; so does the reader.
    CHECK(decode_error(encode(Term::make_atom(repeat("é", 256)))) == DecodeError::BadValue);
    CHECK(decode_error(encode(Term::make_atom(std::string(256, 'a')))) == DecodeError::BadValue);
    // Latin-1 atoms are accepted only when ASCII (see TermReader::read_atom).
    CHECK(decode_error(golden::bytes({131, 100, 0, 2, 'o', 0xE9})) == DecodeError::BadValue);
    CHECK(decode_error(golden::bytes({131, 115, 2, 'o', 0xE9})) == DecodeError::BadValue);
    std::string small_latin1 = golden::bytes({131, 115, 2, 'o', 'k'});
    REQUIRE(decode(small_latin1, t) == DecodeError::Ok);
    CHECK(t.is_atom("ok"));
    // Malformed UTF-8: overlong, surrogate, beyond U+10FFFF, cut short, stray continuation.
    for (auto bad : {golden::bytes({0xC0, 0x80}), golden::bytes({0xED, 0xA0, 0x80}),
                     golden::bytes({0xF4, 0x90, 0x80, 0x80}), golden::bytes({'a', 0xE6, 0x97}),
                     golden::bytes({0x80}), golden::bytes({0xFF})}) {
        CHECK(decode_error(golden::bytes({131, 119, static_cast<int>(bad.size())}) + bad) == DecodeError::BadValue);
    }
}

TEST_CASE("binaries") {
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    std::string large(100000, 'x');
    for (const std::string* b : {&all_bytes, &large}) check_round_trip(Term::make_binary(*b));
    CHECK(encode(Term::make_binary("")) == golden::bytes({131, 109, 0, 0, 0, 0}));
    check_round_trip(Term::make_binary(""));
}

TEST_CASE("lists, tuples and maps") {
    CHECK(encode(Term::make_list({})) == golden::bytes({131, 106}));
    CHECK(encode(Term::make_tuple({})) == golden::bytes({131, 104, 0}));
    CHECK(encode(Term::make_map({})) == golden::bytes({131, 116, 0, 0, 0, 0}));
    Term nested = Term::make_tuple({
        Term::make_list({Term::make_integer(1), Term::make_tuple({}), Term::make_list({}),
                         Term::make_map({Term::make_atom("k"), Term::make_binary("v")})}),
        Term::make_map({Term::make_list({Term::make_float(2.5)}), Term::make_tuple({Term::make_atom("x")})}),
    });
    check_round_trip(nested);

    std::vector<Term> many(300, Term::make_atom("a"));
    CHECK(first_tag(Term::make_tuple(many)) == 105);
    check_round_trip(Term::make_tuple(many));
    check_round_trip(Term::make_list(std::vector<Term>(70000, Term::make_integer(-7))));

    Term t = check_golden_round_trip(golden::tuple);
    CHECK(t.items.size() == 5);
    t = check_golden_round_trip(golden::map);
    CHECK((t.kind == Kind::Map && t.items.size() == 4 && t.items[0].is_atom("a")));
    t = check_golden_round_trip(golden::int_list);
    CHECK((t.items.size() == 3 && t.items[2].integer == 70000));

    // STRING_EXT is a list of integers; it is written back as LIST_EXT.
    REQUIRE(decode(golden::string, t) == DecodeError::Ok);
    CHECK((t.kind == Kind::List && t.items.size() == 3 && t.items[1].integer == 'b'));
    CHECK(encode(t) == golden::bytes({131, 108, 0, 0, 0, 3, 97, 'a', 97, 'b', 97, 'c', 106}));
    REQUIRE(decode(golden::bytes({131, 108, 0, 0, 0, 0, 106}), t) == DecodeError::Ok);
    CHECK((t.kind == Kind::List && t.items.empty()));
}

TEST_CASE("opaque terms are re-encoded byte for byte") {
    for (const std::string* g : {&golden::pid, &golden::ref, &golden::port, &golden::export_fun, &golden::bitstring,
                                 &golden::local_fun, &golden::alias_tag, &golden::improper}) {
        CAPTURE(*g);
        Term t = check_golden_round_trip(*g);
        CHECK(t.kind == Kind::Opaque);
        CHECK(t.bytes == std::string_view(*g).substr(1));
    }
    Term call = check_golden_round_trip(golden::gen_call_is_auth);
    REQUIRE(call.items.size() == 3);
    CHECK(call.items[0].is_atom("$gen_call"));
    CHECK(call.items[1].items[0].bytes == std::string_view(golden::pid).substr(1));
    CHECK(call.items[1].items[1].bytes == std::string_view(golden::alias_tag).substr(1));
    CHECK(call.items[2].items[1].is_atom("golden@vm"));

    // The older encodings (PID_EXT, REFERENCE_EXT, NEW_REFERENCE_EXT, PORT_EXT, V4_PORT_EXT).
    const std::string node = golden::bytes({119, 3, 'n', '@', 'h'});
    for (std::string bytes : {golden::bytes({131, 103}) + node + std::string(9, '\1'),
                              golden::bytes({131, 101}) + node + std::string(5, '\1'),
                              golden::bytes({131, 114, 0, 2}) + node + std::string(9, '\1'),
                              golden::bytes({131, 102}) + node + std::string(5, '\1'),
                              golden::bytes({131, 120}) + node + std::string(12, '\1')}) {
        CAPTURE(bytes);
        CHECK(check_golden_round_trip(bytes).kind == Kind::Opaque);
    }
    SUBCASE("their structure is checked") {
        CHECK(decode_error(golden::bytes({131, 88, 97, 1}) + std::string(12, '\0')) == DecodeError::BadValue);
        CHECK(decode_error(golden::bytes({131, 77, 0, 0, 0, 1, 0, 1})) == DecodeError::BadValue);
        CHECK(decode_error(golden::bytes({131, 77, 0, 0, 0, 1, 9, 1})) == DecodeError::BadValue);
        CHECK(decode_error(golden::bytes({131, 77, 0, 0, 0, 0, 1})) == DecodeError::BadValue);
        CHECK(decode_error(golden::bytes({131, 77, 0, 0, 0, 0, 0})) == DecodeError::Ok);
        CHECK(decode_error(golden::bytes({131, 113, 119, 1, 'm', 119, 1, 'f', 98, 0, 0, 0, 1})) == DecodeError::BadValue);
        std::string fun = golden::local_fun;
        fun[5] = static_cast<char>(fun[5] + 1);  // Size one larger than the fields
        fun.push_back('\0');
        CHECK(decode_error(fun) == DecodeError::BadValue);
    }
}

TEST_CASE("typed reads leave the position unchanged on error") {
    std::string bytes = golden::bytes({131, 109, 0, 0, 0, 1, 'x', 106});
    TermReader r(bytes);
    REQUIRE(r.read_version() == DecodeError::Ok);
    std::string_view name;
    std::int64_t value = 0;
    std::size_t count = 0;
    CHECK(r.read_atom(name) == DecodeError::WrongType);
    CHECK(r.read_integer(value) == DecodeError::WrongType);
    CHECK(r.read_tuple_header(count) == DecodeError::WrongType);
    CHECK(r.read_map_header(count) == DecodeError::WrongType);
    CHECK(r.read_list_header(count) == DecodeError::WrongType);
    CHECK(r.read_version() == DecodeError::BadVersion);
    CHECK(r.position() == 1);
    std::string_view binary;
    CHECK(r.read_binary(binary) == DecodeError::Ok);
    CHECK(binary == "x");
    CHECK(r.read_list_header(count) == DecodeError::Ok);
    CHECK(count == 0);
    CHECK(r.at_end());
    CHECK(r.read_list_header(count) == DecodeError::Truncated);

    TermReader big_reader(golden::big_2_64);
    REQUIRE(big_reader.read_version() == DecodeError::Ok);
    CHECK(big_reader.read_integer(value) == DecodeError::WrongType);
    CHECK(big_reader.position() == 1);
    TermReader string_reader(golden::string);
    REQUIRE(string_reader.read_version() == DecodeError::Ok);
    CHECK(string_reader.read_list_header(count) == DecodeError::WrongType);

    TermReader call(golden::gen_call_is_auth);
    REQUIRE(call.read_version() == DecodeError::Ok);
    REQUIRE(call.read_tuple_header(count) == DecodeError::Ok);
    CHECK(count == 3);
    REQUIRE(call.read_atom(name) == DecodeError::Ok);
    CHECK(name == "$gen_call");
    std::string_view raw;
    REQUIRE(call.skip(raw) == DecodeError::Ok);
    CHECK(raw.size() == 2 + (golden::pid.size() - 1) + (golden::alias_tag.size() - 1));
    REQUIRE(call.skip() == DecodeError::Ok);
    CHECK(call.at_end());
}

TEST_CASE("every strict prefix of a valid encoding is Truncated") {
    std::string magnitude(300, '\x5A'), ascii(255, 'q');
    Term nested = Term::make_map({Term::make_atom(ascii), Term::make_list({big(true, magnitude), Term::make_float(1.0),
                                                                           Term::make_tuple({Term::make_binary("bin")})})});
    const std::string encodings[] = {
        golden::pid, golden::ref, golden::alias_tag, golden::gen_call_is_auth, golden::port, golden::export_fun,
        golden::bitstring, golden::improper, golden::int_list, golden::string, golden::map, golden::tuple,
        golden::utf8_atom, golden::big_2_64, golden::big_300, golden::pi, golden::old_float,
        golden::latin1_atom, golden::local_fun, encode(nested), encode(Term::make_integer(-5)),
    };
    for (const std::string& full : encodings) {
        for (std::size_t size = 1; size < full.size(); ++size) {
            TermReader r(std::string_view(full).substr(0, size));
            REQUIRE(r.read_version() == DecodeError::Ok);
            Term t;
            CAPTURE(full);
            CAPTURE(size);
            CHECK(r.read_term(t) == DecodeError::Truncated);
            CHECK(r.skip() == DecodeError::Truncated);
            CHECK(r.position() == 1);
        }
    }
}

TEST_CASE("tags that are never negotiated or unknown are refused") {
    for (int tag : {82, 68, 80, 0, 1, 117, 255}) {
        CAPTURE(tag);
        CHECK(decode_error(golden::bytes({131, tag, 0, 0, 0, 0, 0, 0, 0, 0})) == DecodeError::UnknownTag);
    }
    CHECK(decode_error(golden::bytes({130, 106})) == DecodeError::BadVersion);
}

TEST_CASE("huge announced lengths fail before anything is allocated") {
    // Under ASan an attempt to reserve what these announce would abort the test.
    const std::string hostile[] = {
        golden::bytes({131, 108, 255, 255, 255, 255, 106}),
        golden::bytes({131, 105, 255, 255, 255, 255, 97, 1}),
        golden::bytes({131, 116, 255, 255, 255, 255, 97, 1}),
        golden::bytes({131, 109, 255, 255, 255, 255, 0}),
        golden::bytes({131, 111, 255, 255, 255, 255, 0, 1}),
        golden::bytes({131, 107, 255, 255, 97}),
        golden::bytes({131, 118, 255, 255, 97}),
        golden::bytes({131, 90, 255, 255, 119, 1, 'n', 0, 0, 0, 0}),
        golden::bytes({131, 112, 255, 255, 255, 255, 0}),
        golden::bytes({131, 77, 255, 255, 255, 255, 8, 0}),
        golden::bytes({131, 108, 0, 0, 0, 2, 97, 1, 97, 2}),  // no room left for the tail
        golden::bytes({131, 116, 0, 0, 0, 1, 97}),            // a pair needs two terms
    };
    for (const std::string& bytes : hostile) {
        CAPTURE(bytes);
        CHECK(decode_error(bytes) == DecodeError::Truncated);
        TermReader r(bytes);
        REQUIRE(r.read_version() == DecodeError::Ok);
        CHECK(r.skip() == DecodeError::Truncated);
    }
}

TEST_CASE("nesting is bounded without using the stack for it") {
    constexpr std::size_t deep = 100000;
    std::string lists = "\x83" + repeat(golden::bytes({108, 0, 0, 0, 1}), deep) + std::string(deep + 1, '\x6A');
    std::string tuples = "\x83" + repeat(golden::bytes({104, 1}), deep) + "\x6A";
    for (const std::string* bytes : {&lists, &tuples}) {
        CHECK(decode_error(*bytes) == DecodeError::TooDeep);
        TermReader r(*bytes);
        REQUIRE(r.read_version() == DecodeError::Ok);
        CHECK(r.skip() == DecodeError::TooDeep);
    }
    auto nest = [](std::size_t levels) {
        return "\x83" + repeat(golden::bytes({108, 0, 0, 0, 1}), levels) + "\x61\x01" + std::string(levels, '\x6A');
    };
    Term t;
    CHECK(decode(nest(TermReader::default_max_depth), t) == DecodeError::Ok);
    CHECK(decode(nest(TermReader::default_max_depth + 1), t) == DecodeError::TooDeep);
    CHECK(decode(nest(2), t, 2) == DecodeError::Ok);
    CHECK(decode(nest(3), t, 2) == DecodeError::TooDeep);
}

// Whatever the bytes, read_term and skip agree, nothing crashes, and what
// decodes re-encodes to something that decodes to the same tree.
void check_arbitrary_bytes(std::string_view bytes) {
    TermReader tree_reader(bytes), skip_reader(bytes);
    Term t;
    DecodeError tree_err = tree_reader.read_term(t);
    DecodeError skip_err = skip_reader.skip();
    if (tree_err != skip_err || tree_reader.position() != skip_reader.position()) {
        FAIL_CHECK("read_term and skip disagree on " << std::string(bytes));
    }
    if (tree_err != DecodeError::Ok) return;
    std::string again = encode(t);
    Term back;
    if (decode(again, back) != DecodeError::Ok || !same_term(t, back)) FAIL_CHECK("no round trip for " << std::string(bytes));
}

TEST_CASE("random and mutated input never crashes") {
    std::mt19937 rng(20240601);
    const std::uint8_t tags[] = {70, 77, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
                                 108, 109, 110, 111, 112, 113, 114, 115, 116, 118, 119, 120};
    for (int i = 0; i < 20000; ++i) {
        std::string bytes(rng() % 48, '\0');
        for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? tags[rng() % std::size(tags)] : rng() % 8);
        if (!bytes.empty() && rng() % 2) bytes[0] = static_cast<char>(tags[rng() % std::size(tags)]);
        check_arbitrary_bytes(bytes);
    }
    const std::string* seeds[] = {&golden::gen_call_is_auth, &golden::local_fun, &golden::map, &golden::big_300,
                                  &golden::alias_tag, &golden::tuple, &golden::old_float, &golden::bitstring};
    for (int i = 0; i < 20000; ++i) {
        std::string bytes = seeds[rng() % std::size(seeds)]->substr(1);
        for (int flips = 1 + rng() % 3; flips > 0; --flips) bytes[rng() % bytes.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) bytes.resize(rng() % (bytes.size() + 8), '\x6A');
        check_arbitrary_bytes(bytes);
    }
}

TEST_CASE("every error has a description") {
    for (int e = 0; e <= static_cast<int>(DecodeError::WrongType); ++e)
        CHECK(std::strlen(describe(static_cast<DecodeError>(e))) > 0);
}

// --- term_check.hpp: what Erlang refuses beyond malformed bytes -------------
//
// Every "equal" / "distinct" verdict below was measured on OTP 25 with
// binary_to_term of a map holding both encodings as keys (equal: badarg,
// distinct: a map of two entries), unless a comment says otherwise.

namespace {

using golden::bytes;

std::string be32(std::uint32_t v) {
    return bytes({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 0xFF), static_cast<int>((v >> 8) & 0xFF),
                  static_cast<int>(v & 0xFF)});
}
std::string atom_ext(std::string_view name) { return bytes({119, static_cast<int>(name.size())}) + std::string(name); }
std::string small(int v) { return bytes({97, v}); }
std::string map_of(const std::vector<std::string>& kv) {
    std::string m = bytes({116}) + be32(static_cast<std::uint32_t>(kv.size() / 2));
    for (const std::string& t : kv) m += t;
    return m;
}
// #{K1 => 1, K2 => 2}
std::string two_keys(const std::string& k1, const std::string& k2) { return map_of({k1, small(1), k2, small(2)}); }
std::string new_pid(std::string_view node, std::uint32_t id, std::uint32_t serial, std::uint32_t creation) {
    return bytes({88}) + atom_ext(node) + be32(id) + be32(serial) + be32(creation);
}
std::string newer_ref(std::string_view node, std::uint32_t creation, const std::vector<std::uint32_t>& words) {
    std::string r = bytes({90, 0, static_cast<int>(words.size())}) + atom_ext(node) + be32(creation);
    for (std::uint32_t w : words) r += be32(w);
    return r;
}
const std::string dup_map = bytes({116, 0, 0, 0, 2, 119, 1, 'a', 97, 1, 119, 1, 'a', 97, 2});
const std::string uniq_a(16, '\x11');

struct FunFields {
    std::string uniq = uniq_a;
    std::uint32_t index = 0;
    std::string old_index = small(0);
    std::string old_uniq = bytes({98}) + be32(78317739);
    std::string pid = new_pid("exp@vm", 9, 0, 1795638906);
    std::vector<std::string> free = {small(7)};
};
// NEW_FUN_EXT of module exp2, built field by field as in erts' external.c.
std::string new_fun(const FunFields& f) {
    std::string body = bytes({0}) + f.uniq + be32(f.index) + be32(static_cast<std::uint32_t>(f.free.size())) +
                       atom_ext("exp2") + f.old_index + f.old_uniq + f.pid;
    for (const std::string& v : f.free) body += v;
    return bytes({112}) + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

const char* check_bytes(const std::string& ext) {
    REQUIRE(decode_error(bytes({131}) + ext) == DecodeError::Ok);  // well formed: only term_check may refuse it
    return check_ext(ext);
}

}  // namespace

TEST_CASE("term_check: what Erlang sends is accepted, funs and all") {
    for (const std::string* g : {&golden::pid, &golden::ref, &golden::port, &golden::export_fun, &golden::bitstring,
                                 &golden::local_fun, &golden::alias_tag, &golden::improper, &golden::gen_call_is_auth,
                                 &golden::map, &golden::tuple, &golden::old_float, &golden::latin1_atom,
                                 &golden::big_300, &golden::string, &golden::int_list}) {
        CAPTURE(*g);
        CHECK(check_ext(std::string_view(*g).substr(1)) == nullptr);
    }
    CHECK(check_ext(new_fun({})) == nullptr);
}

TEST_CASE("term_check: malformed bytes are refused with the reader's reason") {
    CHECK(std::string(check_ext("")) == describe(DecodeError::Truncated));
    CHECK(std::string(check_ext(bytes({200, 1}))) == describe(DecodeError::UnknownTag));
    CHECK(std::string(check_ext(small(1) + small(2))) == "bytes after the term");
}

TEST_CASE("term_check: a map with equal keys is refused at any depth") {
    const std::string refused = check_detail::duplicate_keys;
    CHECK(refused == check_bytes(dup_map));
    CHECK(check_bytes(bytes({116, 0, 0, 0, 2, 119, 1, 'a', 97, 1, 119, 1, 'b', 97, 2})) == nullptr);
    const std::string improper_tail = bytes({108, 0, 0, 0, 1}) + small(1);
    const std::pair<const char*, std::string> places[] = {
        {"in a tuple", bytes({104, 2}) + small(1) + dup_map},
        {"in a proper list", bytes({108, 0, 0, 0, 2}) + small(1) + dup_map + bytes({106})},
        {"as a map value", map_of({small(1), dup_map})},
        {"inside a map key", map_of({bytes({104, 1}) + dup_map, small(1)})},
        {"as an improper list's element", bytes({108, 0, 0, 0, 1}) + dup_map + small(2)},
        {"as an improper list's tail", improper_tail + dup_map},
        {"in a nested improper tail", improper_tail + improper_tail + bytes({104, 1}) + dup_map},
        {"among a fun's free variables", new_fun({.free = {small(1), dup_map}})},
        {"in a fun inside a tuple inside an improper list",
         improper_tail + bytes({104, 1}) + new_fun({.free = {map_of({small(1), dup_map})}})},
        {"in a map of 33 pairs (a hash map in Erlang)", [] {
             std::vector<std::string> kv;
             for (int i = 0; i < 33; ++i) kv.push_back(small(i)), kv.push_back(small(0));
             kv[64] = small(5);
             return map_of(kv);
         }()},
    };
    for (const auto& [where, ext] : places) {
        INFO(where);
        const char* problem = check_bytes(ext);
        REQUIRE(problem != nullptr);
        CHECK(refused == problem);
    }
}

TEST_CASE("term_check: keys equal in Erlang whatever their encodings") {
    const std::string pid_new = new_pid("foo@h", 1, 0, 1);
    const std::string pid_old = bytes({103}) + atom_ext("foo@h") + be32(1) + be32(0) + bytes({1});
    const std::string ref1 = newer_ref("foo@h", 1, {1});
    struct Pair { const char* what; std::string a, b; };
    const Pair equal[] = {
        {"0.0 and -0.0 (OTP 25; distinct from OTP 27)", bytes({70, 0, 0, 0, 0, 0, 0, 0, 0}),
         bytes({70, 0x80, 0, 0, 0, 0, 0, 0, 0})},
        {"-0.0 inside a tuple", bytes({104, 1, 70, 0, 0, 0, 0, 0, 0, 0, 0}), bytes({104, 1, 70, 0x80, 0, 0, 0, 0, 0, 0, 0})},
        {"FLOAT_EXT and NEW_FLOAT_EXT", std::string(golden::old_float).substr(1), bytes({70, 63, 248, 0, 0, 0, 0, 0, 0})},
        {"ATOM_EXT and SMALL_ATOM_UTF8_EXT", bytes({100, 0, 1, 'a'}), atom_ext("a")},
        {"LARGE_TUPLE_EXT and SMALL_TUPLE_EXT", bytes({105, 0, 0, 0, 1}) + small(1), bytes({104, 1}) + small(1)},
        {"SMALL_BIG_EXT and LARGE_BIG_EXT", bytes({110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
         bytes({111, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
        {"a bignum with high zero bytes", bytes({110, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}),
         bytes({110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
        {"bignum -0 and 0", bytes({110, 1, 1, 0}), small(0)},
        {"STRING_EXT and LIST_EXT", bytes({107, 0, 1, 1}), bytes({108, 0, 0, 0, 1}) + small(1) + bytes({106})},
        {"a binary and a bitstring of whole bytes", bytes({109, 0, 0, 0, 1, 'a'}), bytes({77, 0, 0, 0, 1, 8, 'a'})},
        {"an empty binary and an empty bitstring", bytes({109, 0, 0, 0, 0}), bytes({77, 0, 0, 0, 0, 0})},
        {"bitstrings that differ in unused bits", bytes({77, 0, 0, 0, 1, 4, 0xF0}), bytes({77, 0, 0, 0, 1, 4, 0xFF})},
        {"PID_EXT and NEW_PID_EXT", pid_old, pid_new},
        {"a node name as ATOM_EXT", bytes({88, 100, 0, 5}) + "foo@h" + be32(1) + be32(0) + be32(1), pid_new},
        {"PORT_EXT and NEW_PORT_EXT", bytes({102}) + atom_ext("foo@h") + be32(1) + bytes({1}),
         bytes({89}) + atom_ext("foo@h") + be32(1) + be32(1)},
        {"NEW_PORT_EXT and V4_PORT_EXT", bytes({89}) + atom_ext("foo@h") + be32(1) + be32(1),
         bytes({120}) + atom_ext("foo@h") + be32(0) + be32(1) + be32(1)},
        {"REFERENCE_EXT and NEWER_REFERENCE_EXT", bytes({101}) + atom_ext("foo@h") + be32(1) + bytes({1}), ref1},
        {"NEW_REFERENCE_EXT and NEWER_REFERENCE_EXT", bytes({114, 0, 1}) + atom_ext("foo@h") + bytes({1}) + be32(1), ref1},
        {"REFERENCE_EXT: only 18 bits of the ID", bytes({101}) + atom_ext("foo@h") + be32(1) + bytes({1}),
         bytes({101}) + atom_ext("foo@h") + be32(1 + (1u << 18)) + bytes({1})},
        {"NEW_REFERENCE_EXT: only 18 bits of the first word", bytes({114, 0, 1}) + atom_ext("foo@h") + bytes({1}) + be32(1),
         bytes({114, 0, 1}) + atom_ext("foo@h") + bytes({1}) + be32(1 + (1u << 18))},
        {"trailing zero words", newer_ref("foo@h", 1, {1, 2, 3}), newer_ref("foo@h", 1, {1, 2, 3, 0})},
        {"trailing zero words (2)", newer_ref("foo@h", 1, {0, 1}), newer_ref("foo@h", 1, {0, 1, 0})},
        {"no words and a zero word", newer_ref("foo@h", 1, {}), newer_ref("foo@h", 1, {0})},
        {"maps with their pairs in another order", map_of({small(1), small(1), small(2), small(2)}),
         map_of({small(2), small(2), small(1), small(1)})},
        {"maps whose keys are equal in other encodings", map_of({bytes({100, 0, 1, 'a'}), small(1)}),
         map_of({atom_ext("a"), small(1)})},
        {"[1|[2|3]] and [1,2|3]", bytes({108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3}),
         bytes({108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3})},
        {"[1|[2]] and [1,2]", bytes({108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106}),
         bytes({108, 0, 0, 0, 2, 97, 1, 97, 2, 106})},
        {"[1|\"\\2\"] and [1,2]", bytes({108, 0, 0, 0, 1, 97, 1, 107, 0, 1, 2}), bytes({108, 0, 0, 0, 2, 97, 1, 97, 2, 106})},
        {"a LIST_EXT of no elements and its tail", bytes({108, 0, 0, 0, 0, 97, 5}), small(5)},
        {"funs with another creator pid", new_fun({}), new_fun({.pid = new_pid("foo@h", 5, 0, 1)})},
        {"funs with another OldIndex", new_fun({}), new_fun({.old_index = bytes({98}) + be32(12345)})},
        {"funs with OldIndex as INTEGER_EXT", new_fun({}), new_fun({.old_index = bytes({98}) + be32(0)})},
        {"funs with another Uniq", new_fun({}), new_fun({.uniq = std::string(16, '\x22')})},
        {"funs with another OldUniq (distinct in OTP 25: merged on purpose)", new_fun({}),
         new_fun({.old_uniq = bytes({98}) + be32(12345)})},
        {"funs whose free variables are equal", new_fun({.free = {bytes({100, 0, 1, 'a'})}}),
         new_fun({.free = {atom_ext("a")}})},
        {"export funs with Latin-1 atoms", bytes({113, 100, 0, 1, 'm'}) + atom_ext("f") + small(3),
         bytes({113}) + atom_ext("m") + atom_ext("f") + small(3)},
    };
    for (const Pair& p : equal) {
        INFO(p.what);
        const char* problem = check_bytes(two_keys(p.a, p.b));
        REQUIRE(problem != nullptr);
        CHECK(std::string(problem) == check_detail::duplicate_keys);
        // The same two terms as Term trees (as a Python dict's keys would be).
        // Terms view the bytes they were decoded from: those must outlive them.
        const std::string full_a = bytes({131}) + p.a, full_b = bytes({131}) + p.b;
        Term a, b;
        REQUIRE(decode(full_a, a) == DecodeError::Ok);
        REQUIRE(decode(full_b, b) == DecodeError::Ok);
        CHECK(has_equal_keys({a, Term::make_integer(1), b, Term::make_integer(2)}));
    }

    const Pair distinct[] = {
        {"1 and 1.0", small(1), bytes({70, 63, 240, 0, 0, 0, 0, 0, 0})},
        {"an atom and a binary", atom_ext("a"), bytes({109, 0, 0, 0, 1, 'a'})},
        {"[] and <<>>", bytes({106}), bytes({109, 0, 0, 0, 0})},
        {"bitstrings of other lengths", bytes({77, 0, 0, 0, 1, 4, 0xF0}), bytes({77, 0, 0, 0, 1, 5, 0xF0})},
        {"pids of creation 0 and 1", new_pid("foo@h", 1, 0, 0), new_pid("foo@h", 1, 0, 1)},
        {"pids that differ in high serial bits", new_pid("foo@h", 1, 0, 1), new_pid("foo@h", 1, 1u << 31, 1)},
        {"pids of other nodes", new_pid("foo@h", 1, 0, 1), new_pid("bar@h", 1, 0, 1)},
        {"NEWER_REFERENCE_EXT: all 32 bits count", newer_ref("foo@h", 1, {1}), newer_ref("foo@h", 1, {1 + (1u << 18)})},
        {"NEW_REFERENCE_EXT: all bits of the second word", bytes({114, 0, 2}) + atom_ext("foo@h") + bytes({1}) + be32(1) + be32(1),
         bytes({114, 0, 2}) + atom_ext("foo@h") + bytes({1}) + be32(1) + be32(1 + (1u << 18))},
        {"PORT_EXT: all 32 bits count", bytes({102}) + atom_ext("foo@h") + be32(1) + bytes({1}),
         bytes({102}) + atom_ext("foo@h") + be32(1 + (1u << 28)) + bytes({1})},
        {"V4_PORT_EXT: all 64 bits count", bytes({120}) + atom_ext("foo@h") + be32(0) + be32(1) + be32(1),
         bytes({120}) + atom_ext("foo@h") + be32(1 << 8) + be32(1) + be32(1)},
        {"funs with another Index", new_fun({}), new_fun({.index = 1})},
        {"funs with other free variables", new_fun({}), new_fun({.free = {small(8)}})},
        {"[1,2|3] and [1,2,3]", bytes({108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3}), bytes({108, 0, 0, 0, 3, 97, 1, 97, 2, 97, 3, 106})},
        {"[1|[]] and [1|<<>>]", bytes({108, 0, 0, 0, 1, 97, 1, 106}), bytes({108, 0, 0, 0, 1, 97, 1, 109, 0, 0, 0, 0})},
    };
    for (const Pair& p : distinct) {
        INFO(p.what);
        CHECK(check_bytes(two_keys(p.a, p.b)) == nullptr);
        // Terms view the bytes they were decoded from: those must outlive them.
        const std::string full_a = bytes({131}) + p.a, full_b = bytes({131}) + p.b;
        Term a, b;
        REQUIRE(decode(full_a, a) == DecodeError::Ok);
        REQUIRE(decode(full_b, b) == DecodeError::Ok);
        CHECK_FALSE(has_equal_keys({a, Term::make_integer(1), b, Term::make_integer(2)}));
    }
}

TEST_CASE("term_check: keys made in Python compare as the terms they become") {
    // Opaque(b'a\x01') next to 1, and a pid in two encodings.
    Term one = Term::make_integer(1);
    const std::string one_ext = small(1);
    CHECK(has_equal_keys({Term::make_opaque(one_ext), one, one, one}));
    const std::string pid_old = bytes({103}) + atom_ext("foo@h") + be32(1) + be32(0) + bytes({1});
    const std::string pid_new = new_pid("foo@h", 1, 0, 1);
    CHECK(has_equal_keys({Term::make_opaque(pid_old), one, Term::make_opaque(pid_new), one}));
    CHECK(has_equal_keys({Term::make_tuple({Term::make_opaque(pid_old)}), one,
                          Term::make_tuple({Term::make_opaque(pid_new)}), one}));
    CHECK_FALSE(has_equal_keys({Term::make_atom("a"), one, Term::make_binary("a"), one}));
    CHECK(has_equal_keys({Term::make_binary("a"), one, Term::make_binary("a"), one}));
    // A map built in memory whose items come in another order.
    Term m1 = Term::make_map({Term::make_atom("a"), one, Term::make_atom("b"), one});
    Term m2 = Term::make_map({Term::make_atom("b"), one, Term::make_atom("a"), one});
    CHECK(has_equal_keys({Term::make_tuple({m1}), one, Term::make_tuple({m2}), one}));
    CHECK(check_term(Term::make_map({Term::make_atom("a"), one, Term::make_atom("a"), one})) != nullptr);
    CHECK(check_term(Term::make_list({Term::make_opaque(dup_map)})) != nullptr);
}

TEST_CASE("term_check: the fields Erlang refuses in identifiers") {
    const std::string creation_4 = bytes({4});
    const std::pair<const char*, std::string> refused[] = {
        {"PID_EXT creation 4", bytes({103}) + atom_ext("foo@h") + be32(1) + be32(0) + creation_4},
        {"PORT_EXT creation 4", bytes({102}) + atom_ext("foo@h") + be32(1) + creation_4},
        {"REFERENCE_EXT creation 4", bytes({101}) + atom_ext("foo@h") + be32(1) + creation_4},
        {"NEW_REFERENCE_EXT creation 4", bytes({114, 0, 1}) + atom_ext("foo@h") + creation_4 + be32(1)},
        {"a reference of 6 words", newer_ref("foo@h", 1, {1, 2, 3, 4, 5, 6})},
        {"a fun whose creator pid is refused",
         new_fun({.pid = bytes({103}) + atom_ext("foo@h") + be32(1) + be32(0) + creation_4})},
        {"inside an improper list", bytes({108, 0, 0, 0, 1, 97, 1}) + newer_ref("foo@h", 1, {1, 2, 3, 4, 5, 6})},
    };
    for (const auto& [what, ext] : refused) {
        INFO(what);
        CHECK(check_bytes(ext) != nullptr);
    }
    const std::string accepted[] = {
        bytes({103}) + atom_ext("foo@h") + be32(1) + be32(0) + bytes({3}),
        bytes({88}) + atom_ext("foo@h") + be32(0xFFFFFFFF) + be32(0xFFFFFFFF) + be32(0xFFFFFFFF),
        newer_ref("foo@h", 1, {1, 2, 3, 4, 5}),
        newer_ref("foo@h", 1, {}),
    };
    for (const std::string& ext : accepted) {
        CAPTURE(ext);
        CHECK(check_bytes(ext) == nullptr);
    }
}

TEST_CASE("term_check: random input, and every term equals its re-encoding") {
    // What decodes and is accepted is, as a key, equal to its own re-encoding
    // by TermWriter (which normalises every encoding but the opaque ones).
    std::mt19937 rng(20250601);
    const std::string* seeds[] = {&golden::gen_call_is_auth, &golden::local_fun, &golden::map, &golden::big_300,
                                  &golden::alias_tag, &golden::tuple, &golden::old_float, &golden::bitstring,
                                  &golden::improper, &golden::string, &golden::latin1_atom};
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string ext = seeds[rng() % std::size(seeds)]->substr(1);
        for (int flips = rng() % 3; flips > 0; --flips) ext[rng() % ext.size()] = static_cast<char>(rng());
        const char* problem = check_ext(ext);  // must not crash, whatever the bytes
        const std::string full = bytes({131}) + ext;
        Term t;
        if (problem || decode(full, t) != DecodeError::Ok) continue;
        ++accepted;
        std::string again = encode(t).substr(1);
        const char* pair_problem = check_ext(two_keys(ext, again));
        if (!pair_problem || std::string(pair_problem) != check_detail::duplicate_keys)
            FAIL_CHECK("not equal to its re-encoding: " << ext);
    }
    CHECK(accepted > 1000);
}
