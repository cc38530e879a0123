// A budget of log lines for events a peer can cause at will (refused
// handshakes, dropped connections): past `per_second` lines in one second the
// rest are only counted, and the next line written says how many were left
// out. One thread only (the loop's).
#pragma once

#include <cstdint>

namespace pycnode::log {

class Budget {
public:
    explicit Budget(unsigned per_second) : per_second_(per_second) {}

    // Whether to write this line; if so, `left_out` is how many were not
    // written since the last one that was.
    bool allow(std::uint64_t now_ms, std::uint64_t& left_out) {
        if (now_ms - window_start_ms_ >= 1000) {
            window_start_ms_ = now_ms;
            used_ = 0;
        }
        if (used_ >= per_second_) {
            ++left_out_;
            return false;
        }
        ++used_;
        left_out = left_out_;
        left_out_ = 0;
        return true;
    }

private:
    const unsigned per_second_;
    std::uint64_t window_start_ms_ = 0;
    unsigned used_ = 0;
    std::uint64_t left_out_ = 0;
};

}  // namespace pycnode::log
