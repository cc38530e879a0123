// libFuzzer target for the distribution framing (net/frame_reader.cpp), fed
// in chunks of fuzzer-chosen sizes, against a plain reference parser of the
// whole stream: the same ticks, packets and oversize reports, in order.
//
// Input: [max_packet selector][chunk size selector] stream...  (make fuzz)
#include "net/frame_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using pycnode::net::FrameReader;

void require(bool condition) {
    if (!condition) std::abort();
}

struct Event {
    char kind;  // 't' tick, 'p' packet, 'o' oversize
    std::string bytes;
    std::uint64_t size = 0;
    bool operator==(const Event& o) const { return kind == o.kind && bytes == o.bytes && size == o.size; }
};

struct Recorder final : FrameReader::Sink {
    std::vector<Event> events;
    void on_tick() override { events.push_back({'t', {}, 0}); }
    void on_packet(pycnode::net::Packet packet) override {
        events.push_back({'p', std::string(packet), 0});
    }
    void on_oversize(std::string_view prefix, std::uint64_t size) override {
        events.push_back({'o', std::string(prefix), size});
    }
};

std::vector<Event> reference(std::string_view stream, std::size_t max_packet) {
    std::vector<Event> out;
    std::size_t at = 0;
    while (stream.size() - at >= 4) {
        std::uint64_t len = 0;
        for (int i = 0; i < 4; ++i) len = len << 8 | static_cast<unsigned char>(stream[at + i]);
        if (stream.size() - at - 4 < len) break;  // incomplete: no event yet
        std::string_view body = stream.substr(at + 4, len);
        if (len == 0) out.push_back({'t', {}, 0});
        else if (len > max_packet) out.push_back({'o', std::string(body.substr(0, FrameReader::prefix_keep)), len});
        else out.push_back({'p', std::string(body), 0});
        at += 4 + len;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t max_packet = std::size_t{16} << (data[0] % 18);  // 16 bytes .. 2 MiB
    const std::size_t chunk = 1 + data[1] % 97;
    std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

    FrameReader reader(max_packet);
    Recorder got;
    for (std::size_t at = 0; at < stream.size();) {
        std::size_t room = 0;
        char* region = reader.prepare(room);
        require(region != nullptr && room >= 1);
        std::size_t n = std::min({room, chunk, stream.size() - at});
        std::memcpy(region, stream.data() + at, n);
        reader.commit(n, got);
        at += n;
    }
    require(got.events == reference(stream, max_packet));
    return 0;
}
