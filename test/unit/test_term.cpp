// The term codec: round trips of every kind, byte-exact agreement with real
// Erlang, and robustness against truncated, random and hostile input.
#include "golden.hpp"
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
