// net/large_blocks.cpp: storage of large packets, kept for reuse within a
// bound; and Packet, which takes it for packets of min_size bytes or more.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "net/large_blocks.hpp"
#include "net/packet.hpp"

using namespace pycnode::net;

TEST_CASE("large_blocks: a given block is taken again for the same rounded size") {
    large_blocks::release_all();
    constexpr std::size_t size = (1 << 20) + 300;  // a 1 MiB body and its envelope
    CHECK(large_blocks::capacity_for(size) == (1 << 20) + large_blocks::granule);
    char* a = large_blocks::take(size);
    std::memset(a, 'x', large_blocks::capacity_for(size));  // all of it is ours
    large_blocks::give(a, size);
    CHECK(large_blocks::kept_bytes() == large_blocks::capacity_for(size));
    // A few bytes more rounds to the same capacity: the same block.
    char* b = large_blocks::take(size + 100);
    CHECK(b == a);
    CHECK(large_blocks::kept_bytes() == 0);
    // Another capacity gets another block.
    char* c = large_blocks::take(size + large_blocks::granule);
    CHECK(c != b);
    large_blocks::give(b, size + 100);
    large_blocks::give(c, size + large_blocks::granule);
    large_blocks::release_all();
    CHECK(large_blocks::kept_bytes() == 0);
}

TEST_CASE("large_blocks: what is kept never passes max_kept_bytes") {
    large_blocks::release_all();
    constexpr std::size_t size = 4 << 20;
    std::vector<char*> blocks;
    for (std::size_t i = 0; i < large_blocks::max_kept_bytes / size + 4; ++i) blocks.push_back(large_blocks::take(size));
    for (char* b : blocks) large_blocks::give(b, size);  // the last 4 are freed
    CHECK(large_blocks::kept_bytes() == large_blocks::max_kept_bytes);
    large_blocks::release_all();
    CHECK(large_blocks::kept_bytes() == 0);
}

TEST_CASE("Packet: large packets go through large_blocks, small ones do not") {
    large_blocks::release_all();
    {
        Packet small(1000);
        std::memset(small.data(), 's', small.size());
        Packet big(large_blocks::min_size);
        std::memset(big.data(), 'b', big.size());
        Packet moved(std::move(big));
        CHECK(moved.size() == large_blocks::min_size);
        CHECK(big.size() == 0);
        CHECK(static_cast<std::string_view>(moved) == std::string(large_blocks::min_size, 'b'));
    }
    // The big one (moved, then destroyed once) is kept; the small one was freed.
    CHECK(large_blocks::kept_bytes() == large_blocks::capacity_for(large_blocks::min_size));
    Packet again(large_blocks::min_size);
    CHECK(large_blocks::kept_bytes() == 0);
    Packet replaced(large_blocks::min_size + 1);
    replaced = std::move(again);  // the block `replaced` held is given back
    CHECK(large_blocks::kept_bytes() == large_blocks::capacity_for(large_blocks::min_size + 1));
    large_blocks::release_all();
}

// As in pycnode: packets taken on the threads that read and given back on
// the workers that ran them, all at once. No block is ever held by two
// packets at a time (each writes its own mark and finds it intact).
TEST_CASE("large_blocks: many threads taking and giving at once") {
    large_blocks::release_all();
    constexpr int threads_n = 4;
    constexpr int rounds = 2000;
    std::atomic<int> clobbered{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            for (int r = 0; r < rounds; ++r) {
                std::size_t size = large_blocks::min_size + static_cast<std::size_t>((r % 3) * large_blocks::granule);
                Packet p(size);
                char mark = static_cast<char>('a' + t);
                p.data()[0] = mark;
                p.data()[size - 1] = mark;
                std::this_thread::yield();
                if (p.data()[0] != mark || p.data()[size - 1] != mark) clobbered.fetch_add(1);
            }
        });
    for (auto& th : threads) th.join();
    CHECK(clobbered.load() == 0);
    CHECK(large_blocks::kept_bytes() <= large_blocks::max_kept_bytes);
    large_blocks::release_all();
}

TEST_CASE("large_blocks: kept blocks are freed once none was taken for idle_after") {
    large_blocks::release_all();
    auto before = std::chrono::steady_clock::now();
    large_blocks::give(large_blocks::take(large_blocks::min_size), large_blocks::min_size);
    REQUIRE(large_blocks::kept_bytes() > 0);
    large_blocks::release_if_idle(before + large_blocks::idle_after / 2);
    CHECK(large_blocks::kept_bytes() > 0);  // taken just now: still kept
    large_blocks::release_if_idle(std::chrono::steady_clock::now() + large_blocks::idle_after + std::chrono::seconds(1));
    CHECK(large_blocks::kept_bytes() == 0);
}
