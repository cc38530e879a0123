// EventQueue: the loop thread pushes, event workers pop without blocking and
// sleep on their own eventfd. Single-threaded checks of who gets woken, then
// many producers and consumers sleeping and waking for real (also built with
// ThreadSanitizer, in shared_structures_tsan).
#include "pool/event_queue.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using pycnode::pool::EventQueue;

namespace {

// An eventfd owned for the length of a test.
struct EventFd {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    EventFd() { REQUIRE(fd >= 0); }
    ~EventFd() { ::close(fd); }
    EventFd(const EventFd&) = delete;
    EventFd& operator=(const EventFd&) = delete;

    // Readable right now: a wake-up was written (push and close write
    // synchronously, so no waiting is involved).
    bool readable() const {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
    }
    // Consumes the pending wake-ups; returns how many there were.
    std::uint64_t drain() const {
        std::uint64_t n = 0;
        if (::read(fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return 0;
        return n;
    }
};

}  // namespace

TEST_CASE("EventQueue refuses items past its limit and keeps them intact") {
    EventQueue<std::string> q(2);
    std::string a = "a", b = "b", c = "c";
    CHECK(q.push(std::move(a)));
    CHECK(q.push(std::move(b)));
    CHECK_FALSE(q.push(std::move(c)));
    CHECK(c == "c");  // a refused item is not moved from
    CHECK(q.size() == 2);
    std::string out;
    CHECK(q.try_pop(out));
    CHECK(out == "a");
    std::string d = "d";
    CHECK(q.push(std::move(d)));  // room again after a pop
    CHECK(q.size() == 2);
}

TEST_CASE("EventQueue hands items out in FIFO order and try_pop never blocks") {
    EventQueue<int> q(16);
    int out = -1;
    CHECK_FALSE(q.try_pop(out));
    CHECK(out == -1);  // untouched when empty
    for (int i = 0; i < 10; ++i) {
        int v = i;
        REQUIRE(q.push(std::move(v)));
    }
    for (int i = 0; i < 10; ++i) {
        REQUIRE(q.try_pop(out));
        CHECK(out == i);
    }
    CHECK_FALSE(q.try_pop(out));
    CHECK(q.size() == 0);
}

TEST_CASE("EventQueue close refuses pushes but still hands out queued items") {
    EventQueue<std::string> q(8);
    std::string one = "one", two = "two";
    CHECK(q.push(std::move(one)));
    CHECK(q.push(std::move(two)));
    CHECK_FALSE(q.closed());
    q.close();
    CHECK(q.closed());
    std::string three = "three";
    CHECK_FALSE(q.push(std::move(three)));
    CHECK(three == "three");  // refused after close: not moved from
    std::string out;
    CHECK(q.try_pop(out));
    CHECK(out == "one");
    CHECK(q.try_pop(out));
    CHECK(out == "two");
    CHECK_FALSE(q.try_pop(out));
}

TEST_CASE("EventQueue close wakes every registered sleeper") {
    EventQueue<int> q(8);
    EventFd a, b, c, idle;
    CHECK(q.prepare_sleep(a.fd));
    CHECK(q.prepare_sleep(b.fd));
    CHECK(q.prepare_sleep(c.fd));
    CHECK_FALSE(a.readable());
    q.close();
    CHECK(a.readable());
    CHECK(b.readable());
    CHECK(c.readable());
    CHECK_FALSE(idle.readable());  // never registered: not woken
    CHECK(a.drain() == 1);
    CHECK(b.drain() == 1);
    CHECK(c.drain() == 1);
    // Closed: nobody may go to sleep any more, and woke() after close is harmless.
    CHECK_FALSE(q.prepare_sleep(a.fd));
    q.woke(a.fd);
    q.woke(b.fd);
    q.close();  // a second close wakes nobody: the sleepers were forgotten
    CHECK_FALSE(a.readable());
    CHECK_FALSE(b.readable());
    CHECK_FALSE(c.readable());
}

TEST_CASE("EventQueue push wakes exactly one sleeper, the last registered") {
    EventQueue<int> q(8);
    EventFd a, b, c;
    CHECK(q.prepare_sleep(a.fd));
    CHECK(q.prepare_sleep(b.fd));
    CHECK(q.prepare_sleep(c.fd));

    int v = 1;
    CHECK(q.push(std::move(v)));
    CHECK(c.readable());
    CHECK_FALSE(b.readable());
    CHECK_FALSE(a.readable());
    CHECK(c.drain() == 1);

    // Items are queued: nobody may register to sleep.
    CHECK_FALSE(q.prepare_sleep(c.fd));

    v = 2;
    CHECK(q.push(std::move(v)));  // c was unregistered by the first push: b is next
    CHECK(b.readable());
    CHECK_FALSE(a.readable());
    CHECK_FALSE(c.readable());
    CHECK(b.drain() == 1);

    // a woke on its own (say, its event loop had work): no longer a sleeper.
    q.woke(a.fd);
    v = 3;
    CHECK(q.push(std::move(v)));
    CHECK_FALSE(a.readable());
    CHECK_FALSE(b.readable());
    CHECK_FALSE(c.readable());

    int out = 0;
    CHECK(q.try_pop(out));
    CHECK(out == 1);
    CHECK(q.try_pop(out));
    CHECK(out == 2);
    CHECK_FALSE(q.prepare_sleep(a.fd));  // item 3 still queued
    CHECK(q.try_pop(out));
    CHECK(out == 3);

    // Empty again: sleeping is allowed, and a woke() for a registered fd
    // removes it so the next push wakes nobody.
    CHECK(q.prepare_sleep(a.fd));
    q.woke(a.fd);
    v = 4;
    CHECK(q.push(std::move(v)));
    CHECK_FALSE(a.readable());

    // A refused push wakes nobody (a queue of limit 0 is always full yet
    // empty, so a sleeper can be registered on it).
    EventQueue<int> full(0);
    CHECK(full.prepare_sleep(c.fd));
    int x = 1;
    CHECK_FALSE(full.push(std::move(x)));
    CHECK(x == 1);
    CHECK_FALSE(c.readable());
    full.close();  // c was still registered
    CHECK(c.drain() == 1);
}

TEST_CASE("EventQueue delivers every item exactly once to sleeping consumers, with no lost wake-up") {
    constexpr int producers = 4;
    constexpr int per_producer = 20000;
    constexpr int consumers = 4;
    constexpr int total = producers * per_producer;
    // Failure bounds only: a correct queue never comes near them.
    constexpr int poll_timeout_ms = 10000;
    constexpr auto delivery_deadline = std::chrono::seconds(60);

    EventQueue<int> q(256);
    constexpr int burst = 100;
    std::atomic<int> delivered{0};
    std::vector<std::atomic<int>> delivered_from(producers);  // per producer
    std::atomic<int> sleeps{0};
    std::atomic<int> unwoken_after_close{0};  // a poll that timed out while the queue was closed
    std::vector<std::vector<int>> seen(consumers);
    std::vector<std::thread> threads;

    for (int c = 0; c < consumers; ++c)
        threads.emplace_back([&, c] {
            EventFd efd;
            int v;
            for (;;) {
                if (q.try_pop(v)) {
                    seen[c].push_back(v);
                    delivered.fetch_add(1, std::memory_order_relaxed);
                    delivered_from[static_cast<std::size_t>(v / per_producer)].fetch_add(1, std::memory_order_release);
                    continue;
                }
                if (q.prepare_sleep(efd.fd)) {
                    sleeps.fetch_add(1, std::memory_order_relaxed);
                    pollfd p{efd.fd, POLLIN, 0};
                    int r = ::poll(&p, 1, poll_timeout_ms);
                    if (r == 1) {
                        efd.drain();
                    } else if (q.closed()) {
                        // Slept through a close (or a poll error): close must wake every sleeper.
                        unwoken_after_close.fetch_add(1, std::memory_order_relaxed);
                    }
                    // A poll that timed out before close is not itself a failure: wake-ups go
                    // to the last registered sleeper, so one consumer may legitimately sleep
                    // through a whole busy run.
                    q.woke(efd.fd);
                    continue;
                }
                if (q.closed()) {
                    while (q.try_pop(v)) {
                        seen[c].push_back(v);
                        delivered.fetch_add(1, std::memory_order_relaxed);
                    }
                    return;
                }
                // Items were queued between try_pop and prepare_sleep: go round again.
            }
        });

    // Producers push in bursts and wait for each burst to be delivered
    // before the next: the queue runs dry and consumers go to sleep at
    // every burst's end. A lost wake-up strands the last items of a burst
    // while every consumer sleeps, and the producer waits in vain (until
    // the deadline, a failure bound only).
    std::atomic<bool> stalled{false};
    auto deadline = std::chrono::steady_clock::now() + delivery_deadline;
    std::vector<std::thread> producer_threads;
    for (int p = 0; p < producers; ++p)
        producer_threads.emplace_back([&, p] {
            for (int i = 0; i < per_producer; ++i) {
                int v = p * per_producer + i;
                while (!q.push(std::move(v))) std::this_thread::yield();
                if ((i + 1) % burst != 0 && i + 1 != per_producer) continue;
                while (delivered_from[static_cast<std::size_t>(p)].load(std::memory_order_acquire) < i + 1) {
                    if (stalled.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() > deadline) {
                        stalled.store(true, std::memory_order_relaxed);
                        return;
                    }
                    std::this_thread::yield();
                }
            }
        });
    for (auto& t : producer_threads) t.join();
    CHECK_FALSE(stalled.load());
    CHECK(delivered.load() == total);

    q.close();
    for (auto& t : threads) t.join();
    CHECK(unwoken_after_close.load() == 0);
    CHECK(q.size() == 0);

    std::vector<char> hit(total, 0);
    std::size_t count = 0;
    bool producer_order_kept = true;
    for (auto& s : seen) {
        count += s.size();
        std::vector<int> last(producers, -1);
        for (int v : s) {
            hit[static_cast<std::size_t>(v)]++;
            int p = v / per_producer;
            // One queue, FIFO: one consumer sees one producer's items in order.
            if (v <= last[static_cast<std::size_t>(p)]) producer_order_kept = false;
            last[static_cast<std::size_t>(p)] = v;
        }
    }
    CHECK(count == static_cast<std::size_t>(total));
    CHECK(std::all_of(hit.begin(), hit.end(), [](char h) { return h == 1; }));
    CHECK(producer_order_kept);
    MESSAGE("consumers went to sleep " << sleeps.load() << " times");
}
