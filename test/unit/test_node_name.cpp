// The node names pycnode accepts from a peer's handshake (net/node_name.hpp).
#include "net/node_name.hpp"

#include <doctest/doctest.h>

#include <string>

using pycnode::net::valid_node_name;
using pycnode::net::valid_utf8;

TEST_CASE("node names: Alive@Host, both parts, one @") {
    CHECK(valid_node_name("a@b"));
    CHECK(valid_node_name("pycnode@host.example.com"));
    CHECK(valid_node_name("caf\xc3\xa9@h\xe2\x82\xac"));  // UTF-8 is fine
    CHECK_FALSE(valid_node_name(""));
    CHECK_FALSE(valid_node_name("nohost"));
    CHECK_FALSE(valid_node_name("@host"));
    CHECK_FALSE(valid_node_name("alive@"));
    CHECK_FALSE(valid_node_name("a@b@c"));
    CHECK(valid_node_name(std::string(127, 'a') + "@" + std::string(127, 'b')));
    CHECK_FALSE(valid_node_name(std::string(128, 'a') + "@" + std::string(127, 'b')));  // 256 bytes
}

TEST_CASE("node names: invalid UTF-8 is refused") {
    CHECK_FALSE(valid_node_name("a\xff@b"));
    CHECK_FALSE(valid_node_name("a@b\xc3"));          // cut short
    CHECK_FALSE(valid_node_name("a\xc0\xaf@b"));      // overlong '/'
    CHECK_FALSE(valid_node_name("a\xed\xa0\x80@b"));  // a surrogate
    CHECK_FALSE(valid_node_name("a\xf4\x90\x80\x80@b"));  // past U+10FFFF
    CHECK(valid_utf8("\xf0\x9f\x90\x8d"));            // a 4-byte character
    CHECK_FALSE(valid_utf8("\x80"));
}
