// LoopLease: who may run the libuv loop. The race test is also run under
// ThreadSanitizer (shared_structures_tsan): the plain counter stands for
// libuv's state, touched only in the InLoop phase.
#include "pool/loop_lease.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using pycnode::pool::LoopLease;
using std::chrono::milliseconds;

namespace {

constexpr LoopLease::Holder loop = LoopLease::loop_thread;
constexpr LoopLease::Holder worker_a = 5, worker_b = 6;

// A lease as the loop thread leaves it after its first turn.
void first_turn(LoopLease& lease) {
    REQUIRE(lease.loop_enter());
    lease.loop_idle();
}

}  // namespace

TEST_CASE("the loop thread holds the lease, in the loop, until its first turn ends") {
    LoopLease lease(milliseconds(2));
    CHECK(lease.held_by(loop));
    CHECK_FALSE(lease.take_from_loop(worker_a));  // it is setting the loop up
    first_turn(lease);
    CHECK(lease.take_from_loop(worker_a));
    CHECK(lease.held_by(worker_a));
    CHECK_FALSE(lease.take_from_loop(worker_b));  // only from the loop thread
    CHECK_FALSE(lease.loop_enter());
}

TEST_CASE("a busy holder is rescued only after rescue_after") {
    LoopLease lease(milliseconds(2));
    first_turn(lease);
    REQUIRE(lease.take_from_loop(worker_a));
    REQUIRE(lease.enter(worker_a));
    CHECK(lease.busy(worker_a, 1'000'000));       // arms the timer
    CHECK_FALSE(lease.busy(worker_a, 1'000'000));  // already armed
    std::int64_t at = 0;
    CHECK(lease.rescue(2'000'000, &at) == LoopLease::Rescue::Rearm);
    CHECK(at == 3'000'000);
    CHECK(lease.rescue(3'000'000, &at) == LoopLease::Rescue::Rescued);
    CHECK(lease.held_by(loop));
    CHECK_FALSE(lease.settle(worker_a));  // the worker learns it lost the lease
    CHECK_FALSE(lease.enter(worker_a));
}

TEST_CASE("an idle or in-loop holder is never rescued; a holder that settled is not stuck") {
    LoopLease lease(milliseconds(2));
    first_turn(lease);
    REQUIRE(lease.take_from_loop(worker_a));
    std::int64_t at = 0;
    CHECK(lease.rescue(1'000'000'000, &at) == LoopLease::Rescue::Nothing);  // Idle: asleep on the sockets
    REQUIRE(lease.enter(worker_a));
    CHECK(lease.rescue(1'000'000'000, &at) == LoopLease::Rescue::Nothing);  // InLoop
    lease.busy(worker_a, 0);
    REQUIRE(lease.settle(worker_a));
    CHECK(lease.rescue(1'000'000'000, &at) == LoopLease::Rescue::Nothing);
    CHECK(lease.held_by(worker_a));
}

TEST_CASE("pinned: workers give it back and cannot take it") {
    LoopLease lease(milliseconds(2));
    first_turn(lease);
    REQUIRE(lease.take_from_loop(worker_a));
    lease.pin();
    CHECK(lease.give_back(worker_a));
    CHECK(lease.held_by(loop));
    lease.loop_idle();
    CHECK_FALSE(lease.take_from_loop(worker_b));
    CHECK_FALSE(lease.give_back(worker_a));
}

// The loop thread and two workers pass the lease around as fast as they can:
// taking it, running "the loop", being busy, being rescued, giving it back.
// Never are two in the loop at once, and ThreadSanitizer sees every turn
// ordered after the one before.
TEST_CASE("under contention, one runner in the loop at a time") {
    LoopLease lease(std::chrono::nanoseconds(0));  // every busy holder is rescued at once
    std::atomic<bool> inside{false};
    long turns = 0;  // libuv's state: plain memory
    std::atomic<bool> stop{false};
    std::atomic<int> overlaps{0};
    auto run_loop = [&] {
        if (inside.exchange(true)) overlaps.fetch_add(1);
        ++turns;
        inside.store(false);
    };
    auto worker = [&](LoopLease::Holder me) {
        std::int64_t now = 0;
        while (!stop.load()) {
            if (!lease.settle(me) && !lease.take_from_loop(me)) continue;
            if (!lease.enter(me)) continue;
            run_loop();
            lease.busy(me, ++now);
            if (now % 7 == 0) lease.give_back(me);
        }
    };
    first_turn(lease);
    std::vector<std::thread> workers;
    workers.emplace_back(worker, worker_a);
    workers.emplace_back(worker, worker_b);
    for (int i = 0; i < 20000; ++i) {
        std::int64_t at = 0;
        if (lease.rescue(1'000'000'000'000, &at) == LoopLease::Rescue::Rescued || lease.held_by(loop)) {
            if (lease.loop_enter()) {
                run_loop();
                lease.loop_idle();
            }
        }
    }
    stop.store(true);
    for (auto& t : workers) t.join();
    CHECK(overlaps.load() == 0);
    CHECK(turns > 0);
}
