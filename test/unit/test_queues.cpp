// The two hand-offs between threads: many workers pop jobs the loop pushes,
// many workers push replies the loop drains. Hammered from several threads;
// built with ThreadSanitizer too (meson -Dsanitize_threads=true).
#include "app/stats.hpp"
#include "pool/job_queue.hpp"
#include "pool/reply_queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

using pycnode::pool::JobQueue;
using pycnode::pool::ReplyQueue;

TEST_CASE("JobQueue refuses items past its limit and keeps them intact") {
    JobQueue<std::string> q(2);
    std::string a = "a", b = "b", c = "c";
    CHECK(q.push(std::move(a)));
    CHECK(q.push(std::move(b)));
    CHECK_FALSE(q.push(std::move(c)));
    CHECK(c == "c");  // a refused item is not moved from
    CHECK(q.size() == 2);
    std::string out;
    CHECK(q.pop(out));
    CHECK(out == "a");
}

TEST_CASE("JobQueue hands out queued items after close, then reports the end") {
    JobQueue<int> q(8);
    int one = 1;
    CHECK(q.push(std::move(one)));
    q.close();
    int two = 2;
    CHECK_FALSE(q.push(std::move(two)));
    int out = 0;
    CHECK(q.pop(out));
    CHECK(out == 1);
    CHECK_FALSE(q.pop(out));
}

TEST_CASE("JobQueue delivers every item exactly once to concurrent consumers") {
    constexpr int items = 200000;
    constexpr int consumers = 4;
    JobQueue<int> q(1024);
    std::vector<std::vector<int>> seen(consumers);
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c)
        threads.emplace_back([&, c] {
            int v;
            while (q.pop(v)) seen[c].push_back(v);
        });
    for (int i = 0; i < items; ++i) {
        int v = i;
        while (!q.push(std::move(v))) std::this_thread::yield();
    }
    q.close();
    for (auto& t : threads) t.join();
    std::vector<char> hit(items, 0);
    std::size_t total = 0;
    for (auto& s : seen) {
        total += s.size();
        for (int v : s) hit[static_cast<std::size_t>(v)]++;
    }
    CHECK(total == items);
    CHECK(std::all_of(hit.begin(), hit.end(), [](char h) { return h == 1; }));
}

TEST_CASE("ReplyQueue wakes the consumer only on the empty to non-empty edge") {
    int wakes = 0;
    ReplyQueue<int> q([&] { ++wakes; });
    q.push(1);
    q.push(2);
    CHECK(wakes == 1);
    std::vector<int> out;
    q.drain(out);
    CHECK(out == std::vector<int>{1, 2});
    q.push(3);
    CHECK(wakes == 2);
}

TEST_CASE("ReplyQueue loses nothing with many producers and a draining consumer") {
    constexpr int producers = 4;
    constexpr int per_producer = 50000;
    std::atomic<int> wakes{0};
    ReplyQueue<int> q([&] { wakes.fetch_add(1); });
    std::atomic<bool> done{false};
    std::vector<int> got;
    std::thread consumer([&] {
        std::vector<int> batch;
        while (!done.load()) {
            q.drain(batch);
            got.insert(got.end(), batch.begin(), batch.end());
        }
        q.drain(batch);
        got.insert(got.end(), batch.begin(), batch.end());
    });
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_producer; ++i) q.push(p * per_producer + i);
        });
    for (auto& t : threads) t.join();
    done.store(true);
    consumer.join();
    REQUIRE(got.size() == static_cast<std::size_t>(producers * per_producer));
    std::sort(got.begin(), got.end());
    std::vector<int> expected(got.size());
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(got == expected);
    CHECK(wakes.load() >= 1);
}

TEST_CASE("ReplyQueue does not wake an awake consumer, and wakes it once it is going to sleep") {
    int wakes = 0;
    ReplyQueue<int> q([&] { ++wakes; });
    std::vector<int> out;
    q.consumer_awake();
    q.push(1);
    q.push(2);
    CHECK(wakes == 0);
    q.drain(out);
    CHECK(out == std::vector<int>{1, 2});
    q.push(3);
    CHECK(wakes == 0);
    q.drain_before_sleep(out);  // takes what came while it was awake
    CHECK(out == std::vector<int>{3});
    q.push(4);
    q.push(5);
    CHECK(wakes == 1);  // asleep: the first push wakes it, the next rides along
    q.consumer_awake();
    q.drain(out);
    CHECK(out == std::vector<int>{4, 5});
    q.push(6);
    CHECK(wakes == 1);
}

// The consumer runs like the loop thread: awake (drains at will), then
// drain_before_sleep() and a sleep that only a wake-up (or the test's
// deadline) ends. A wake-up is sticky like an eventfd: one sent while the
// consumer is awake ends its next sleep at once. Once every producer has
// returned from its last push, a consumer that sleeps past a timeout with no
// wake-up pending while items are missing has been left with a stranded one.
TEST_CASE("ReplyQueue never leaves an item queued while its consumer sleeps") {
    constexpr int producers = 4;
    constexpr int per_producer = 20000;
    constexpr int total = producers * per_producer;
    std::mutex m;
    std::condition_variable cv;
    bool woken = false;  // under m
    std::atomic<int> wakes{0};
    ReplyQueue<int> q([&] {
        wakes.fetch_add(1);
        {
            std::lock_guard lock(m);
            woken = true;
        }
        cv.notify_one();
    });
    std::atomic<bool> all_pushed{false};
    bool stranded = false;
    std::atomic<int> sleeps{0};  // also what producers wait on at their checkpoints
    std::vector<int> got;
    got.reserve(total);
    std::thread consumer([&] {
        std::vector<int> batch;
        std::mt19937 rng(1);
        auto take = [&] { got.insert(got.end(), batch.begin(), batch.end()); };
        while (true) {
            q.consumer_awake();
            for (unsigned i = rng() % 4; i > 0; --i) {  // busy for a while
                if (rng() % 2) {
                    q.drain(batch);
                    take();
                }
                for (unsigned spin = rng() % 50; spin > 0; --spin) std::this_thread::yield();
            }
            q.drain_before_sleep(batch);
            take();
            if (got.size() == total) return;
            sleeps.fetch_add(1);
            std::unique_lock lock(m);
            while (!woken) {
                if (cv.wait_for(lock, std::chrono::milliseconds(200)) == std::cv_status::timeout && !woken &&
                    all_pushed.load()) {
                    stranded = true;
                    return;
                }
            }
            woken = false;
        }
    });
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            std::mt19937 rng(100 + p);
            for (int i = 0; i < per_producer; ++i) {
                q.push(p * per_producer + i);
                if (rng() % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20));
                // Every 1000 items, a pause until the consumer has gone to
                // sleep once more (at most 1 s): on a loaded machine the
                // producers could otherwise keep it busy from start to end,
                // and the sleep path would go untested.
                if (i % 1000 == 999) {
                    int seen = sleeps.load();
                    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
                    while (sleeps.load() == seen && std::chrono::steady_clock::now() < until)
                        std::this_thread::sleep_for(std::chrono::microseconds(50));
                }
            }
        });
    for (auto& t : threads) t.join();
    all_pushed.store(true);
    consumer.join();
    REQUIRE_FALSE(stranded);
    REQUIRE(got.size() == static_cast<std::size_t>(total));
    std::sort(got.begin(), got.end());
    std::vector<int> expected(got.size());
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(got == expected);
    // The consumer really slept and was really woken, many times.
    CHECK(sleeps.load() > 10);
    CHECK(wakes.load() > 10);
}

TEST_CASE("Stats counters add up when every thread counts at once") {
    pycnode::Stats stats;
    constexpr int threads_n = 4;
    constexpr int per_thread = 100000;
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                stats.in_flight.fetch_add(1, std::memory_order_relaxed);
                stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
                stats.answered((i + t) % 3 == 0);
                (void)stats.uptime_ms();
            }
        });
    for (auto& th : threads) th.join();
    CHECK(stats.served.load() == static_cast<std::uint64_t>(threads_n * per_thread));
    std::uint64_t expected_failed = 0;
    for (int t = 0; t < threads_n; ++t)
        for (int i = 0; i < per_thread; ++i) expected_failed += (i + t) % 3 == 0;
    CHECK(stats.failed.load() == expected_failed);
    CHECK(stats.in_flight.load() == 0);
}
