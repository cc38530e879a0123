// Framing must give the same events for any split of the stream into reads.
#include "net/frame_reader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using pycnode::net::FrameReader;

namespace {

struct Event {
    enum Type { Tick, Packet, Oversize } type;
    std::string bytes;   // the packet, or the kept prefix of an oversize one
    std::uint64_t size;  // the announced size

    bool operator==(const Event&) const = default;
};

class Recorder : public FrameReader::Sink {
public:
    void on_tick() override { events.push_back({Event::Tick, {}, 0}); }
    void on_packet(pycnode::net::Packet packet) override {
        events.push_back({Event::Packet, std::string(std::string_view(packet)), packet.size()});
    }
    void on_oversize(std::string_view prefix, std::uint64_t size) override {
        events.push_back({Event::Oversize, std::string(prefix), size});
    }

    std::vector<Event> events;
};

// A stream of framed packets and the events it must produce.
struct Stream {
    std::string bytes;
    std::vector<Event> expected;

    void add(const std::string& payload, std::size_t max_packet) {
        std::uint32_t n = static_cast<std::uint32_t>(payload.size());
        for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(n >> shift));
        bytes += payload;
        if (payload.empty()) expected.push_back({Event::Tick, {}, 0});
        else if (payload.size() > max_packet)
            expected.push_back({Event::Oversize, payload.substr(0, FrameReader::prefix_keep), payload.size()});
        else expected.push_back({Event::Packet, payload, payload.size()});
    }
};

std::string random_payload(std::mt19937& rng, std::size_t size) {
    std::string s(size, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
}

// Ticks, small packets, packets around the direct threshold, large ones and
// oversize ones, in random order.
Stream mixed_stream(std::mt19937& rng, std::size_t max_packet, int count) {
    const std::size_t sizes[] = {0, 1, 3, 4, 5, 100, 4095, 4096, 4097, FrameReader::direct_threshold - 1,
                                 FrameReader::direct_threshold, FrameReader::direct_threshold + 1, 200000,
                                 max_packet, max_packet + 1, 500000};
    Stream s;
    for (int i = 0; i < count; ++i) {
        std::size_t size = rng() % 3 == 0 ? sizes[rng() % std::size(sizes)] : rng() % 300;
        s.add(random_payload(rng, size), max_packet);
    }
    return s;
}

// Feeds the stream through prepare/commit with read sizes from `next_read`.
template <class NextRead>
std::vector<Event> feed(FrameReader& reader, const std::string& stream, NextRead next_read) {
    Recorder sink;
    std::size_t at = 0;
    while (at < stream.size()) {
        std::size_t room = 0;
        char* region = reader.prepare(room);
        REQUIRE(room >= 1);
        std::size_t n = std::min({room, stream.size() - at, next_read()});
        std::memcpy(region, stream.data() + at, n);
        reader.commit(n, sink);
        at += n;
    }
    return std::move(sink.events);
}

void check_events(const std::vector<Event>& actual, const std::vector<Event>& expected) {
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        CAPTURE(i);
        CHECK(actual[i].type == expected[i].type);
        CHECK(actual[i].size == expected[i].size);
        CHECK((actual[i].bytes == expected[i].bytes));
    }
}

}  // namespace

TEST_CASE("any split of the stream gives the same events") {
    constexpr std::size_t max_packet = 300000;
    std::mt19937 rng(7);
    Stream stream = mixed_stream(rng, max_packet, 300);
    auto has = [&](auto predicate) { return std::any_of(stream.expected.begin(), stream.expected.end(), predicate); };
    REQUIRE(has([](const Event& e) { return e.type == Event::Tick; }));
    REQUIRE(has([](const Event& e) { return e.type == Event::Oversize; }));
    REQUIRE(has([](const Event& e) { return e.size == FrameReader::direct_threshold; }));
    REQUIRE(has([](const Event& e) { return e.size == FrameReader::direct_threshold - 1; }));
    REQUIRE(has([](const Event& e) { return e.type == Event::Packet && e.size == max_packet; }));
    SUBCASE("reads as large as prepare allows") {
        FrameReader reader(max_packet);
        check_events(feed(reader, stream.bytes, [] { return SIZE_MAX; }), stream.expected);
    }
    SUBCASE("random read sizes, small and large") {
        for (unsigned seed = 1; seed <= 20; ++seed) {
            CAPTURE(seed);
            std::mt19937 split(seed);
            FrameReader reader(max_packet);
            auto next = [&] {
                switch (split() % 4) {
                case 0: return std::size_t{1} + split() % 8;
                case 1: return std::size_t{1} + split() % 1000;
                case 2: return std::size_t{1} + split() % 100000;
                default: return SIZE_MAX;
                }
            };
            check_events(feed(reader, stream.bytes, next), stream.expected);
        }
    }
}

TEST_CASE("one byte at a time") {
    std::mt19937 rng(11);
    Stream stream;
    for (std::size_t size : {0, 1, 7, 0, 70000, 2, 9000, 0, 66000, 5})
        stream.add(random_payload(rng, size), 65000);
    FrameReader reader(65000);
    check_events(feed(reader, stream.bytes, [] { return std::size_t{1}; }), stream.expected);
}

TEST_CASE("large packets are read straight into their own storage") {
    std::mt19937 rng(3);
    Stream stream;
    stream.add(random_payload(rng, 10), 1 << 20);
    stream.add(random_payload(rng, 100000), 1 << 20);
    FrameReader reader(1 << 20);
    Recorder sink;
    // One read brings the small packet, the big one's header and 50 bytes of it.
    std::size_t room = 0;
    char* region = reader.prepare(room);
    std::size_t first = 4 + 10 + 4 + 50;
    std::memcpy(region, stream.bytes.data(), first);
    reader.commit(first, sink);
    REQUIRE(sink.events.size() == 1);
    // The rest goes to a region that ends exactly where the packet does.
    region = reader.prepare(room);
    CHECK(room == 100000 - 50);
    std::memcpy(region, stream.bytes.data() + first, room);
    reader.commit(room, sink);
    check_events(sink.events, stream.expected);
    // And framing goes back to the scratch buffer.
    reader.prepare(room);
    CHECK(room == FrameReader::scratch_size);
}

TEST_CASE("oversize packets keep a prefix and let framing resume") {
    std::mt19937 rng(5);
    Stream stream;
    stream.add(random_payload(rng, 11), 10);    // over the limit, shorter than prefix_keep
    stream.add(random_payload(rng, 10), 10);    // exactly at the limit
    stream.add(random_payload(rng, 9000), 10);  // only prefix_keep bytes kept
    stream.add("", 10);
    stream.add(random_payload(rng, 3), 10);
    REQUIRE(stream.expected[2].bytes.size() == FrameReader::prefix_keep);
    for (unsigned seed = 1; seed <= 10; ++seed) {
        std::mt19937 split(seed);
        FrameReader reader(10);
        check_events(feed(reader, stream.bytes, [&] { return std::size_t{1} + split() % 5000; }), stream.expected);
    }
}

TEST_CASE("a huge announced length is skipped, never allocated") {
    // 4 GiB - 1 announced over a 1 MiB limit: only the prefix is ever stored.
    FrameReader reader(1 << 20);
    Recorder sink;
    std::string header("\xFF\xFF\xFF\xFF", 4);
    std::size_t room = 0;
    std::memcpy(reader.prepare(room), header.data(), 4);
    reader.commit(4, sink);
    for (int i = 0; i < 100; ++i) {
        char* region = reader.prepare(room);
        std::memset(region, 'z', room);
        reader.commit(room, sink);
    }
    CHECK(sink.events.empty());
}
