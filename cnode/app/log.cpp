#include "app/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace pycnode::log {
namespace {

std::atomic<int> current_level{static_cast<int>(Level::Info)};

const char* level_name(Level level) {
    switch (level) {
        case Level::Debug: return "debug";
        case Level::Info: return "info";
        case Level::Warning: return "warning";
        case Level::Error: return "error";
    }
    return "?";
}

// UTC with milliseconds, so lines from several hosts sort together.
std::string timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t seconds = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03}Z", buf, ms);
}

// One budget per call site, in a small open-addressed table keyed by the
// format string's address. Relaxed atomics: two threads racing at a
// second's boundary may let a line or two more through, which is harmless.
struct SiteBudget {
    std::atomic<const void*> site{nullptr};
    std::atomic<std::int64_t> second{-1};
    std::atomic<std::uint32_t> used{0};
    std::atomic<std::uint64_t> left_out{0};
};
constexpr std::size_t budget_slots = 512;
constexpr std::size_t budget_probes = 8;
SiteBudget budgets[budget_slots];

SiteBudget* budget_of(const void* site) {
    std::size_t at = (reinterpret_cast<std::uintptr_t>(site) >> 3) % budget_slots;
    for (std::size_t probe = 0; probe < budget_probes; ++probe) {
        SiteBudget& b = budgets[(at + probe) % budget_slots];
        const void* owner = b.site.load(std::memory_order_acquire);
        if (owner == site) return &b;
        if (owner == nullptr && (b.site.compare_exchange_strong(owner, site) || owner == site)) return &b;
    }
    return nullptr;  // table crowded: this site is not limited
}

}  // namespace

namespace detail {

bool admit(const void* site, std::uint64_t& left_out) {
    SiteBudget* b = budget_of(site);
    if (!b) return true;
    using namespace std::chrono;
    std::int64_t now = duration_cast<seconds>(steady_clock::now().time_since_epoch()).count();
    std::int64_t second = b->second.load(std::memory_order_relaxed);
    if (second != now && b->second.compare_exchange_strong(second, now, std::memory_order_relaxed))
        b->used.store(0, std::memory_order_relaxed);
    if (b->used.fetch_add(1, std::memory_order_relaxed) >= lines_per_second) {
        b->left_out.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    left_out = b->left_out.exchange(0, std::memory_order_relaxed);
    return true;
}

void write_site(Level level, std::string message, std::uint64_t left_out) {
    if (left_out) message += fmt::format(" ({} similar lines left out)", left_out);
    write(level, message);
}

}  // namespace detail

void set_level(Level level) { current_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) { return static_cast<int>(level) >= current_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& level) {
    for (Level l : {Level::Debug, Level::Info, Level::Warning, Level::Error}) {
        if (text == level_name(l)) {
            level = l;
            return true;
        }
    }
    return false;
}

void write(Level level, std::string_view message) {
    // One write(2) per line: lines from different threads never interleave,
    // and nothing here takes a lock a worker could be waiting on.
    std::string line = fmt::format("{} pycnode {:<7} {}\n", timestamp(), level_name(level), message);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace pycnode::log
