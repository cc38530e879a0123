// libFuzzer target for the accepting side of the distribution handshake
// (net/handshake.cpp), fed in chunks of fuzzer-chosen sizes. Besides "never
// crash": what it sends is whole length-prefixed messages, nothing after it
// failed, and it finishes only for a node name and the right digest.
//
// The challenge is fixed (0) and the cookie known, so the seed corpus can
// hold a complete handshake for the fuzzer to mutate.  (make fuzz)
#include "net/handshake.hpp"
#include "net/md5.hpp"
#include "net/node_name.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

using pycnode::net::Handshake;

void require(bool condition) {
    if (!condition) std::abort();
}

// Whole messages: each a 2-byte length and that many bytes.
bool whole_messages(std::string_view out) {
    while (!out.empty()) {
        if (out.size() < 2) return false;
        std::size_t len = static_cast<unsigned char>(out[0]) << 8 | static_cast<unsigned char>(out[1]);
        if (out.size() < 2 + len) return false;
        out.remove_prefix(2 + len);
    }
    return true;
}

const pycnode::net::HandshakeIdentity me{"fuzz@host", "cookie", 1, true};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    Handshake hs(me, 0);
    bool failed = false;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        std::string out;
        auto state = hs.feed(stream.substr(at, std::min(chunk, stream.size() - at)), out);
        require(whole_messages(out));
        if (failed) require(out.empty() && state == Handshake::State::Failed);
        failed = state == Handshake::State::Failed;
        if (state == Handshake::State::Done || state == Handshake::State::AwaitReply)
            require(pycnode::net::valid_node_name(hs.peer_name()));
    }
    return 0;
}
