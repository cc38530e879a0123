// The running table (what each thread runs, for crash reports) and the
// fixed line its reports are written with. The race between a thread
// rewriting its slot and another reading it also runs under
// ThreadSanitizer (shared_structures_tsan).
#include "app/fixed_line.hpp"
#include "app/running.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace running = pycnode::running;
using pycnode::FixedLine;

namespace {

std::string described(const running::Label& label) {
    FixedLine line;
    running::describe(label, line);
    return std::string(line.view());
}

running::Label label_of(running::Kind kind, std::string_view target, std::string_view detail, std::string_view node) {
    running::Label label;
    label.kind = kind;
    label.target.set(target);
    label.detail.set(detail);
    label.node.set(node);
    return label;
}

// Runs `fn` on a thread of its own that holds a slot named `name`.
template <class Fn>
void on_slot_thread(std::string_view name, Fn fn) {
    std::thread t([&] {
        REQUIRE(running::claim_slot(name));
        fn();
        running::release_slot();
    });
    t.join();
}

}  // namespace

TEST_CASE("FixedLine: numbers, timestamps as the log writes them, and cuts") {
    FixedLine line;
    line.add("n=").add_number(0).add(' ').add_number(42, 4).add(' ').add_number(18446744073709551615ull);
    CHECK(line.view() == "n=0 0042 18446744073709551615");
    const std::pair<timespec, std::string_view> stamps[] = {
        {{0, 0}, "1970-01-01T00:00:00.000Z"},
        {{951782400, 5000000}, "2000-02-29T00:00:00.005Z"},
        {{1719835199, 123456789}, "2024-07-01T11:59:59.123Z"},
        {{4102531199, 999999999}, "2100-01-01T23:59:59.999Z"},
    };
    for (const auto& [when, text] : stamps) {
        line.clear();
        CHECK(line.add_timestamp(when).view() == text);
    }
    line.clear();
    for (int i = 0; i < 100; ++i) line.add(std::string(50, 'x'));
    CHECK(line.view().size() == FixedLine::capacity);
}

TEST_CASE("running: a label describes the request it names") {
    CHECK(described(label_of(running::Kind::Call, "mod.fn", "", "a@b")) == "call mod.fn from node a@b");
    CHECK(described(label_of(running::Kind::Asgi, "app:app", "GET /crash", "x@h")) ==
          "asgi GET /crash (app:app) from node x@h");
    CHECK(described(label_of(running::Kind::Wsgi, "w:app", "", "")) == "wsgi w:app");
    CHECK(described(label_of(running::Kind::BuildScope, "", "", "n@h")) == "build_scope from node n@h");
    CHECK(described(label_of(running::Kind::EventLoop, "", "", "")) ==
          "its event loop, outside any request's own task");
    CHECK(described(running::Label{}) == "nothing");
}

TEST_CASE("running: long text is cut and says so") {
    running::Label label = label_of(running::Kind::Call, std::string(100, 'm'), "", "n@h");
    CHECK(label.target.view() == std::string(62, 'm'));
    CHECK(label.target.cut);
    CHECK(described(label) == "call " + std::string(62, 'm') + "... from node n@h");
    label.target.set("a");
    label.target.append("b");
    CHECK_FALSE(label.target.cut);
    CHECK(label.target.view() == "ab");
}

TEST_CASE("running: a thread's slot shows what it publishes, to any thread") {
    std::atomic<long> index{-1};
    std::atomic<int> step{0};
    std::thread worker([&] {
        REQUIRE(running::claim_slot("worker-under-test"));  // cut to 15 bytes
        index = running::own_slot_index();
        *running::own_label() = label_of(running::Kind::Call, "m.f", "", "a@b");
        running::publish();
        running::set_waiting(2);
        step = 1;
        while (step != 2) std::this_thread::yield();
        running::release_slot();
        step = 3;
    });
    while (step != 1) std::this_thread::yield();
    running::SlotView seen;
    REQUIRE(running::read_slot(static_cast<std::size_t>(index.load()), seen));
    CHECK(std::string_view(seen.thread) == "worker-under-te");
    CHECK(described(seen.label) == "call m.f from node a@b");
    CHECK(seen.waiting == 2);
    step = 2;
    while (step != 3) std::this_thread::yield();
    CHECK_FALSE(running::read_slot(static_cast<std::size_t>(index.load()), seen));  // released
    worker.join();
}

TEST_CASE("running: clear, add_http, and enter/leave around a waiting request's step") {
    on_slot_thread("steps", [] {
        running::Label* own = running::own_label();
        REQUIRE(own != nullptr);
        auto mine = [] {
            running::SlotView seen;
            REQUIRE(running::read_slot(static_cast<std::size_t>(running::own_slot_index()), seen));
            return described(seen.label);
        };
        *own = label_of(running::Kind::Wsgi, "w:app", "", "a@b");
        running::publish();
        CHECK(mine() == "wsgi w:app from node a@b");
        running::add_http("POST", "/root", "/items");
        CHECK(mine() == "wsgi POST /root/items (w:app) from node a@b");
        running::Label waiting = *own;
        running::clear();
        CHECK(mine() == "nothing");
        own->kind = running::Kind::EventLoop;
        running::publish();
        running::enter(waiting);
        CHECK(mine() == "wsgi POST /root/items (w:app) from node a@b");
        running::leave();
        CHECK(mine() == "its event loop, outside any request's own task");
        running::leave();  // unbalanced: nothing changes
        CHECK(mine() == "its event loop, outside any request's own task");
    });
}

TEST_CASE("running: a reader never sees half of a label being rewritten") {
    const running::Label a = label_of(running::Kind::Call, std::string(62, 'a'), "", std::string(62, 'a'));
    const running::Label b = label_of(running::Kind::Asgi, std::string(40, 'b'), std::string(94, 'b'), "b@b");
    const std::string as_a = described(a), as_b = described(b);
    std::atomic<long> index{-1};
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        REQUIRE(running::claim_slot("writer"));
        index = running::own_slot_index();
        for (std::uint64_t i = 0; !stop; ++i) {
            *running::own_label() = i % 2 ? a : b;
            running::publish();
            // A reader gives up on a slot rewritten without a pause (a
            // crash report must not wait on a busy thread): pause a little.
            if (i % 64 == 0) std::this_thread::yield();
        }
        running::release_slot();
    });
    while (index < 0) std::this_thread::yield();
    int consistent = 0, wrong = 0;
    for (int i = 0; i < 100000; ++i) {
        running::SlotView seen;
        if (!running::read_slot(static_cast<std::size_t>(index.load()), seen)) continue;  // busy: gave up
        std::string text = described(seen.label);
        if (text == as_a || text == as_b) ++consistent;
        else if (text != "nothing") ++wrong;
    }
    stop = true;
    writer.join();
    CHECK(wrong == 0);
    CHECK(consistent > 0);
}
