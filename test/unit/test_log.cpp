// The per-site line budget of the log (app/log.hpp).
#include "app/log.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using pycnode::log::detail::admit;
using pycnode::log::detail::lines_per_second;

namespace {

// Waits for the start of a fresh second of the steady clock, so that a
// test's burst falls in one budget window.
void at_second_start() {
    using namespace std::chrono;
    auto now = steady_clock::now().time_since_epoch();
    auto next = duration_cast<seconds>(now) + seconds(1);
    std::this_thread::sleep_for(next - now + milliseconds(2));
}

}  // namespace

TEST_CASE("log budget: a site writes its quota a second, then counts") {
    static const char site[] = "site a {}";
    at_second_start();
    std::uint64_t left_out = 99;
    unsigned admitted = 0;
    for (int i = 0; i < 100; ++i)
        if (admit(site, left_out)) ++admitted;
    CHECK(admitted == lines_per_second);
    std::this_thread::sleep_for(std::chrono::milliseconds(1010));
    REQUIRE(admit(site, left_out));
    CHECK(left_out == 100 - lines_per_second);  // said once, by the next line written
    REQUIRE(admit(site, left_out));
    CHECK(left_out == 0);
}

TEST_CASE("log budget: sites are independent") {
    static const char flooding[] = "flood {}";
    static const char quiet[] = "quiet {}";
    at_second_start();
    std::uint64_t left_out = 0;
    for (int i = 0; i < 1000; ++i) admit(flooding, left_out);
    CHECK(admit(quiet, left_out));
    CHECK(left_out == 0);
}

TEST_CASE("log budget: threads share a site's quota") {
    static const char site[] = "shared {}";
    at_second_start();
    std::atomic<unsigned> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            std::uint64_t left_out = 0;
            for (int i = 0; i < 1000; ++i)
                if (admit(site, left_out)) admitted.fetch_add(1);
        });
    for (auto& t : threads) t.join();
    // A race at a second's boundary may let a few more through; never thousands.
    CHECK(admitted.load() >= lines_per_second);
    CHECK(admitted.load() <= 3 * lines_per_second);
}
