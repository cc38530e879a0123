// MD5 (RFC 1321), for the distribution handshake's challenge digests only:
// Erlang nodes prove they share the cookie with MD5(Cookie ++ Challenge),
// so this is what the protocol requires, not a choice of hash.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace pycnode::net {

using Md5Digest = std::array<std::uint8_t, 16>;

Md5Digest md5(std::string_view data);

}  // namespace pycnode::net
