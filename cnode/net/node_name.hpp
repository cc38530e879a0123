// Whether a name a peer presents in the handshake is a node name, as an
// Erlang node requires: `Alive@Host`, both parts non-empty, one '@', at
// most 255 bytes (MAXNODELEN), valid UTF-8. A name that is not would later
// go into terms pycnode sends (the `peers` of stats) and corrupt them.
#pragma once

#include <cstddef>
#include <string_view>

namespace pycnode::net {

inline bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        unsigned cp = len == 1 ? c : c & (0x7F >> len);
        for (std::size_t k = 1; k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        i += len;
    }
    return true;
}

inline bool valid_node_name(std::string_view name) {
    constexpr std::size_t max_node_name = 255;
    std::size_t at = name.find('@');
    return !name.empty() && name.size() <= max_node_name && at != std::string_view::npos && at > 0 &&
           at + 1 < name.size() && name.find('@', at + 1) == std::string_view::npos && valid_utf8(name);
}

}  // namespace pycnode::net
