// BusySlot (what the watchdog sees of a worker thread) and ParkedReplies
// (the waiting requests the watchdog answers for a stuck worker). The races
// are also run under ThreadSanitizer (shared_structures_tsan).
#include "pool/busy_slot.hpp"
#include "pool/job.hpp"
#include "pool/parked_replies.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using pycnode::pool::BusySlot;
using pycnode::pool::Job;
using pycnode::pool::ParkedReplies;
using pycnode::pool::StuckCounts;
using Clock = BusySlot::Clock;
using std::chrono::milliseconds;

namespace {

constexpr Clock::time_point none = Clock::time_point::max();

// Marks `slot` stuck at `now` if it can; what pin saw, for the checks.
struct Marked {
    bool marked = false;
    bool replaced = false;
    const Job* job = nullptr;
};

Marked mark(BusySlot& slot, Clock::time_point now, unsigned max_replaced) {
    Marked m;
    m.marked = slot.mark_stuck(now, max_replaced, m.replaced, [&](const Job* job, Clock::time_point) { m.job = job; });
    return m;
}

}  // namespace

TEST_CASE("BusySlot: a step that ends by its deadline is never stuck") {
    StuckCounts counts;
    BusySlot slot(counts);
    Job job;
    Clock::time_point t0 = Clock::now();
    CHECK_FALSE(slot.overdue(t0 + milliseconds(10)));  // idle
    slot.begin(t0, t0 + milliseconds(100), &job);
    CHECK_FALSE(slot.overdue(t0 + milliseconds(50)));
    CHECK_FALSE(mark(slot, t0 + milliseconds(50), 1).marked);
    CHECK(slot.end() == BusySlot::Ended::Normally);
    CHECK_FALSE(slot.overdue(t0 + milliseconds(200)));  // it ended: idle again
    CHECK_FALSE(mark(slot, t0 + milliseconds(200), 1).marked);
    CHECK(counts.detected.load() == 0);
}

TEST_CASE("BusySlot: a step without a deadline is never stuck") {
    StuckCounts counts;
    BusySlot slot(counts);
    Clock::time_point t0 = Clock::now();
    slot.begin(t0, none, nullptr);
    CHECK_FALSE(slot.overdue(t0 + std::chrono::hours(24)));
    CHECK_FALSE(mark(slot, t0 + std::chrono::hours(24), 1).marked);
    CHECK(slot.end() == BusySlot::Ended::Normally);
}

TEST_CASE("BusySlot: stuck and replaced, the thread retires when it returns") {
    StuckCounts counts;
    BusySlot slot(counts);
    Job job;
    Clock::time_point t0 = Clock::now();
    slot.begin(t0, t0 + milliseconds(100), &job);
    CHECK(slot.overdue(t0 + milliseconds(150)));
    Marked m = mark(slot, t0 + milliseconds(150), 1);
    CHECK(m.marked);
    CHECK(m.replaced);
    CHECK(m.job == &job);
    CHECK(slot.stuck());
    CHECK_FALSE(slot.overdue(t0 + milliseconds(300)));  // marked once only
    CHECK_FALSE(mark(slot, t0 + milliseconds(300), 1).marked);
    CHECK(counts.stuck() == 1);
    CHECK(counts.replaced.load() == 1);
    CHECK(counts.detected.load() == 1);
    CHECK(slot.end() == BusySlot::Ended::Retired);
    CHECK(slot.retired());
    CHECK_FALSE(slot.stuck());
    CHECK(counts.stuck() == 0);
    CHECK(counts.detected.load() == 1);
}

TEST_CASE("BusySlot: past --max-stuck replaced, a stuck thread is not replaced and goes on when it returns") {
    StuckCounts counts;
    BusySlot first(counts), second(counts);
    Clock::time_point t0 = Clock::now();
    first.begin(t0, t0 + milliseconds(1), nullptr);
    second.begin(t0, t0 + milliseconds(1), nullptr);
    CHECK(mark(first, t0 + milliseconds(5), 1).replaced);
    Marked m = mark(second, t0 + milliseconds(5), 1);
    CHECK(m.marked);
    CHECK_FALSE(m.replaced);
    CHECK(m.job == nullptr);  // an event loop turn
    CHECK(counts.stuck() == 2);
    CHECK(counts.unreplaced.load() == 1);
    CHECK(second.end() == BusySlot::Ended::Unstuck);
    CHECK_FALSE(second.retired());
    CHECK(counts.unreplaced.load() == 0);
    CHECK(counts.stuck() == 1);
    // The first one's replacement is still counted: it has not returned.
    Clock::time_point t1 = Clock::now();
    second.begin(t1, t1 + milliseconds(1), nullptr);
    CHECK_FALSE(mark(second, t1 + milliseconds(5), 1).replaced);
    CHECK(second.end() == BusySlot::Ended::Unstuck);
    CHECK(first.end() == BusySlot::Ended::Retired);
    CHECK(counts.stuck() == 0);
    CHECK(counts.detected.load() == 3);
}

TEST_CASE("BusySlot: exited") {
    StuckCounts counts;
    BusySlot slot(counts);
    CHECK_FALSE(slot.has_exited());
    slot.exited();
    CHECK(slot.has_exited());
}

// A worker runs steps, each with its own job, all past their deadline at
// once; a watchdog marks what it can and reads the step's job in pin()
// meanwhile. The job the worker rewrites between steps must never be read
// while it changes or once freed (ThreadSanitizer), and every mark must be matched by exactly one Unstuck return.
TEST_CASE("BusySlot: a worker's steps against a watchdog, many times") {
    constexpr int steps = 20000;
    StuckCounts counts;
    BusySlot slot(counts);
    std::atomic<bool> done{false};
    std::atomic<int> unstuck{0};
    std::atomic<int> bad_pins{0};
    std::thread worker([&] {
        auto job = std::make_unique<Job>();
        for (int i = 0; i < steps; ++i) {
            job->opts_at = static_cast<std::uint8_t>(i);  // what this step's pin must see
            Clock::time_point now = Clock::now();
            slot.begin(now, now, job.get());  // due at once: the watchdog may mark it
            if (i % 100 == 0)
                while (!slot.stuck()) std::this_thread::yield();  // some steps surely marked
            if (slot.end() == BusySlot::Ended::Unstuck) unstuck.fetch_add(1);
            if (i % 100 == 0) job = std::make_unique<Job>();  // the old job is freed: pin must be done with it
        }
        done.store(true);
    });
    int marked = 0;
    unsigned seen = 0;  // reads the job, for ThreadSanitizer to judge
    while (!done.load()) {
        bool replaced = false;
        if (slot.mark_stuck(Clock::now(), 0, replaced, [&](const Job* job, Clock::time_point) {
                if (job) seen += job->opts_at;
                else bad_pins.fetch_add(1);
            }))
            ++marked;
    }
    (void)seen;
    worker.join();
    CHECK(bad_pins.load() == 0);
    CHECK(marked >= steps / 100);
    CHECK(unstuck.load() == marked);
    CHECK(counts.detected.load() == static_cast<std::uint64_t>(marked));
    CHECK(counts.stuck() == 0);
}

namespace {

struct Parked : ParkedReplies::Entry {
    explicit Parked(int v) : value(v) {}
    const int value;
};

}  // namespace

TEST_CASE("ParkedReplies: add, remove anywhere, visit the rest") {
    ParkedReplies parked;
    Parked a(1), b(2), c(3);
    parked.add(a);
    parked.add(b);
    parked.add(c);
    int sum = 0;
    parked.for_each([&](ParkedReplies::Entry& e) { sum += static_cast<Parked&>(e).value; });
    CHECK(sum == 6);
    parked.remove(b);  // middle
    parked.remove(c);  // head
    sum = 0;
    parked.for_each([&](ParkedReplies::Entry& e) { sum += static_cast<Parked&>(e).value; });
    CHECK(sum == 1);
    parked.remove(a);
    int visits = 0;
    parked.for_each([&](ParkedReplies::Entry&) { ++visits; });
    CHECK(visits == 0);
}

// Workers add and remove their own entries (allocated, then freed) while a
// watchdog walks the list reading them: no entry is read once freed.
TEST_CASE("ParkedReplies: owners come and go while the watchdog walks") {
    ParkedReplies parked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> owners;
    for (int t = 0; t < 4; ++t) {
        owners.emplace_back([&, t] {
            for (int i = 0; i < 5000; ++i) {
                auto entry = std::make_unique<Parked>(t);
                parked.add(*entry);
                if (i % 3 == 0) std::this_thread::yield();
                parked.remove(*entry);
            }
        });
    }
    std::thread watchdog([&] {
        while (!stop.load()) {
            int bad = 0;
            parked.for_each([&](ParkedReplies::Entry& e) { bad += static_cast<Parked&>(e).value > 3; });
            CHECK(bad == 0);
        }
    });
    for (auto& o : owners) o.join();
    stop.store(true);
    watchdog.join();
    int left = 0;
    parked.for_each([&](ParkedReplies::Entry&) { ++left; });
    CHECK(left == 0);
}
