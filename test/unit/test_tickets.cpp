// Ticket, the shared fate of one request between the loop thread and the
// worker running it, and CallerMonitors, which hands out a ticket per caller
// monitor. The ticket race is also run under ThreadSanitizer
// (shared_structures_tsan).
#include "dispatch/caller_monitors.hpp"
#include "pool/ticket.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using pycnode::dispatch::CallerMonitors;
using pycnode::dispatch::tag_reference;
using pycnode::pool::Fate;
using pycnode::pool::Ticket;

// doctest prints enum class values through this.
namespace pycnode::pool {
inline doctest::String toString(Fate f) {
    switch (f) {
        case Fate::Queued: return "Queued";
        case Fate::Running: return "Running";
        case Fate::Answered: return "Answered";
        case Fate::Cancelled: return "Cancelled";
    }
    return "Fate?";
}
}  // namespace pycnode::pool

TEST_CASE("Ticket: a request runs and is answered") {
    Ticket t;
    CHECK_FALSE(t.cancelled());
    CHECK(t.worker() == -1);
    CHECK(t.start(7));
    CHECK(t.worker() == 7);
    CHECK_FALSE(t.start(8));  // already running: nobody else starts it
    CHECK(t.answer());
    CHECK_FALSE(t.answer());  // answered once only
    CHECK(t.cancel() == Fate::Answered);  // too late: nothing to do
    CHECK_FALSE(t.cancelled());
}

TEST_CASE("Ticket: cancelled while queued, it is never started nor answered") {
    Ticket t;
    CHECK(t.cancel() == Fate::Queued);
    CHECK(t.cancelled());
    CHECK_FALSE(t.start(1));
    CHECK_FALSE(t.answer());
    CHECK(t.cancel() == Fate::Cancelled);  // a second cancel changes nothing
    CHECK(t.cancelled());
}

TEST_CASE("Ticket: cancelled while running, its answer is dropped") {
    Ticket t;
    CHECK(t.start(4));
    CHECK(t.cancel() == Fate::Running);
    CHECK(t.worker() == 4);  // whom to tell to stop it
    CHECK(t.cancelled());
    CHECK_FALSE(t.answer());
    t.requeue();  // no-op once cancelled
    CHECK(t.cancelled());
    CHECK_FALSE(t.start(5));
}

TEST_CASE("Ticket: an answer before the cancel wins") {
    Ticket t;
    CHECK(t.start(2));
    CHECK(t.answer());
    CHECK(t.cancel() == Fate::Answered);
    CHECK_FALSE(t.cancelled());
}

TEST_CASE("Ticket: requeued, it is started again by another worker") {
    Ticket t;
    CHECK(t.start(3));
    t.requeue();
    CHECK_FALSE(t.answer());  // queued again: not running, nothing to answer
    CHECK(t.start(-1));       // a blocking thread takes it
    CHECK(t.worker() == -1);
    CHECK(t.answer());
    CHECK(t.cancel() == Fate::Answered);

    Ticket u;
    CHECK(u.start(3));
    u.requeue();
    CHECK(u.cancel() == Fate::Queued);  // cancelled between the two workers
    CHECK_FALSE(u.start(-1));
}

TEST_CASE("Ticket: answer and cancel race, exactly one wins") {
    constexpr int tickets = 20000;
    constexpr int worker_id = 3;
    std::vector<Ticket> all(tickets);
    std::vector<char> started(tickets, 0), answered(tickets, 0);
    std::vector<Fate> cancel_saw(tickets, Fate::Queued);
    std::vector<int> worker_seen(tickets, -100);

    // Both threads meet before each ticket, then race on it: the loop
    // thread's cancel lands before the start, between start and answer, or
    // after the answer, as the scheduler pleases. Every outcome is checked.
    std::atomic<int> arrivals{0};
    auto meet = [&](int i) {
        arrivals.fetch_add(1, std::memory_order_acq_rel);
        while (arrivals.load(std::memory_order_acquire) < 2 * (i + 1)) std::this_thread::yield();
    };
    std::thread worker([&] {
        for (int i = 0; i < tickets; ++i) {
            auto k = static_cast<std::size_t>(i);
            meet(i);
            if (all[k].start(worker_id)) {
                started[k] = 1;
                // A little work of varying length, to widen the running window.
                std::atomic<int> spin{0};
                while (spin.fetch_add(1, std::memory_order_relaxed) < (i % 8) * 16) {
                }
                answered[k] = all[k].answer() ? 1 : 0;
            }
        }
    });
    std::thread loop([&] {
        for (int i = 0; i < tickets; ++i) {
            auto k = static_cast<std::size_t>(i);
            meet(i);
            cancel_saw[k] = all[k].cancel();
            if (cancel_saw[k] == Fate::Running) worker_seen[k] = all[k].worker();
        }
    });
    worker.join();
    loop.join();

    int bad = 0, queued = 0, running = 0, answered_first = 0;
    for (int i = 0; i < tickets; ++i) {
        auto k = static_cast<std::size_t>(i);
        Fate saw = cancel_saw[k];
        bool cancel_won = saw == Fate::Queued || saw == Fate::Running;
        // Exactly one of answered / cancelled.
        if (cancel_won == static_cast<bool>(answered[k])) ++bad;
        if (cancel_won != all[k].cancelled()) ++bad;
        switch (saw) {
            case Fate::Queued:
                ++queued;
                if (started[k]) ++bad;  // cancelled before it ran: never started
                break;
            case Fate::Running:
                ++running;
                if (!started[k] || worker_seen[k] != worker_id) ++bad;
                break;
            case Fate::Answered:
                ++answered_first;
                if (!answered[k]) ++bad;
                break;
            case Fate::Cancelled: ++bad; break;  // one cancel per ticket: never seen already cancelled
        }
    }
    CHECK(bad == 0);
    CHECK(queued + running + answered_first == tickets);
    MESSAGE("cancel saw Queued " << queued << ", Running " << running << ", Answered " << answered_first);
}

namespace {

void put_u16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// NEWER_REFERENCE_EXT of node 'a@b', 3 ids: the first is `id`. No version byte,
// as in the control messages and gen_call tags the dispatcher hands over.
std::string make_ref(std::uint32_t id, std::uint32_t creation = 0x01020304) {
    std::string r;
    r.push_back(static_cast<char>(90));
    put_u16(r, 3);
    r.push_back(static_cast<char>(119));  // SMALL_ATOM_UTF8_EXT
    r.push_back(static_cast<char>(3));
    r += "a@b";
    put_u32(r, creation);
    put_u32(r, id);
    put_u32(r, 0xdeadbeef);
    put_u32(r, 42);
    return r;
}

// The gen_server tag since OTP 24: [alias | Ref].
std::string alias_tag(const std::string& ref) {
    std::string t;
    t.push_back(static_cast<char>(108));  // LIST_EXT
    put_u32(t, 1);
    t.push_back(static_cast<char>(119));  // SMALL_ATOM_UTF8_EXT
    t.push_back(static_cast<char>(5));
    t += "alias";
    return t + ref;
}

}  // namespace

TEST_CASE("tag_reference finds the monitor reference in a gen_server tag") {
    std::string ref = make_ref(1);
    SUBCASE("a bare reference (before OTP 24) is its own reference") {
        CHECK(tag_reference(ref) == ref);
    }
    SUBCASE("[alias | Ref] gives Ref") {
        std::string tag = alias_tag(ref);
        std::string_view got = tag_reference(tag);
        CHECK(got == ref);
        CHECK(got.data() == tag.data() + (tag.size() - ref.size()));  // a view into the tag
    }
    SUBCASE("garbage is returned as it is") {
        std::string empty;
        CHECK(tag_reference(empty) == empty);
        std::string header_only = alias_tag("").substr(0, 5);
        CHECK(tag_reference(header_only) == header_only);
        std::string truncated = alias_tag(ref).substr(0, alias_tag(ref).size() - 3);
        CHECK(tag_reference(truncated) == truncated);
        std::string no_tail = alias_tag("");
        CHECK(tag_reference(no_tail) == no_tail);
        std::string bad_tag = alias_tag(std::string(1, static_cast<char>(0xff)));
        CHECK(tag_reference(bad_tag) == bad_tag);
        std::string two_elements = alias_tag(ref);
        two_elements[4] = 2;  // a length 2 list is not [alias | Ref]
        CHECK(tag_reference(two_elements) == two_elements);
        std::string noise = "\x01\x02\x03\x04\x05\x06\x07";
        CHECK(tag_reference(noise) == noise);
    }
}

TEST_CASE("CallerMonitors: a monitor's ticket is found through the caller's tag") {
    CallerMonitors m;
    std::string r1 = make_ref(1), r2 = make_ref(2);
    CHECK(m.size() == 0);
    CHECK(m.ticket_for(1, alias_tag(r1)) == nullptr);

    m.monitored(1, r1);
    m.monitored(1, r2);
    CHECK(m.size() == 2);

    auto t1 = m.ticket_for(1, alias_tag(r1));
    REQUIRE(t1 != nullptr);
    CHECK(m.ticket_for(1, r1) == t1);               // the bare reference form too
    CHECK(m.ticket_for(1, alias_tag(r1)) == t1);    // the same ticket each time
    auto t2 = m.ticket_for(1, alias_tag(r2));
    REQUIRE(t2 != nullptr);
    CHECK(t2 != t1);
    CHECK(m.ticket_for(2, alias_tag(r1)) == nullptr);          // another connection's monitor
    CHECK(m.ticket_for(1, alias_tag(make_ref(3))) == nullptr);  // no monitor for it
    CHECK(m.ticket_for(1, make_ref(1, 0x09090909)) == nullptr); // same ids, other creation
    CHECK(m.size() == 2);  // lookups forget nothing
}

TEST_CASE("CallerMonitors: demonitored returns the ticket and forgets it") {
    CallerMonitors m;
    std::string r1 = make_ref(1), r2 = make_ref(2);
    m.monitored(1, r1);
    m.monitored(1, r2);
    auto t1 = m.ticket_for(1, alias_tag(r1));
    REQUIRE(t1 != nullptr);

    CHECK(m.demonitored(2, r1) == nullptr);  // wrong connection: kept
    CHECK(m.size() == 2);
    CHECK(m.demonitored(1, r1) == t1);
    CHECK(m.size() == 1);
    CHECK(m.ticket_for(1, alias_tag(r1)) == nullptr);
    CHECK(m.demonitored(1, r1) == nullptr);  // already forgotten
    CHECK(m.ticket_for(1, alias_tag(r2)) != nullptr);

    auto t2 = m.demonitored(1, r2);
    CHECK(t2 != nullptr);
    CHECK(m.size() == 0);
    CHECK(m.demonitored(1, r2) == nullptr);

    // The ticket outlives its entry: the worker holding it still sees the cancel.
    CHECK(t1->cancel() == Fate::Queued);
    CHECK_FALSE(t1->start(0));
}

TEST_CASE("CallerMonitors: a monitor set again gets a fresh ticket") {
    CallerMonitors m;
    std::string r = make_ref(5);
    m.monitored(1, r);
    auto first = m.ticket_for(1, r);
    first->cancel();
    m.monitored(1, r);
    CHECK(m.size() == 1);
    auto second = m.ticket_for(1, r);
    REQUIRE(second != nullptr);
    CHECK(second != first);
    CHECK_FALSE(second->cancelled());
}

TEST_CASE("CallerMonitors: a closed connection gives back all its tickets, and only its own") {
    CallerMonitors m;
    std::vector<std::shared_ptr<Ticket>> mine;
    for (std::uint32_t i = 0; i < 5; ++i) {
        m.monitored(10, make_ref(i));
        mine.push_back(m.ticket_for(10, alias_tag(make_ref(i))));
    }
    m.monitored(11, make_ref(0));  // the same reference bytes on another connection
    m.monitored(11, make_ref(100));
    auto other0 = m.ticket_for(11, make_ref(0));
    REQUIRE(other0 != nullptr);
    CHECK(other0 != mine[0]);
    CHECK(m.size() == 7);

    auto closed = m.closed(10);
    CHECK(closed.size() == 5);
    auto by_address = [](const auto& a, const auto& b) { return a.get() < b.get(); };
    std::sort(closed.begin(), closed.end(), by_address);
    std::sort(mine.begin(), mine.end(), by_address);
    CHECK(closed == mine);
    CHECK(m.size() == 2);
    CHECK(m.ticket_for(10, make_ref(0)) == nullptr);
    CHECK(m.ticket_for(11, make_ref(0)) == other0);
    CHECK(m.ticket_for(11, alias_tag(make_ref(100))) != nullptr);
    CHECK(m.closed(10).empty());  // nothing left
    CHECK(m.closed(99).empty());  // never seen

    CHECK(m.closed(11).size() == 2);
    CHECK(m.size() == 0);
}
