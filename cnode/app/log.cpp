#include "app/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
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

}  // namespace

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
