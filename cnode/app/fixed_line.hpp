// A line of text built in fixed storage: no allocation, no lock, no locale,
// so that a fatal-signal handler (app/fatal_signals.cpp) can build and
// write one. Only async-signal-safe calls happen here (write(2)); what does
// not fit is cut, never overflowed.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string_view>

namespace pycnode {

class FixedLine {
public:
    static constexpr std::size_t capacity = 1024;

    FixedLine& add(std::string_view text) {
        std::size_t n = text.size() < capacity - size_ ? text.size() : capacity - size_;
        std::memcpy(buf_ + size_, text.data(), n);
        size_ += n;
        return *this;
    }
    FixedLine& add(char c) { return add(std::string_view(&c, 1)); }

    // Decimal, at least `width` digits (zero-padded).
    FixedLine& add_number(std::uint64_t n, int width = 1) {
        char digits[20];
        int count = 0;
        do {
            digits[count++] = static_cast<char>('0' + n % 10);
            n /= 10;
        } while (n > 0);
        while (count < width && count < 20) digits[count++] = '0';
        while (count > 0) add(digits[--count]);
        return *this;
    }

    // As app/log.cpp writes it: 2024-05-01T12:34:56.789Z (UTC).
    FixedLine& add_timestamp(const timespec& now) {
        std::int64_t seconds = now.tv_sec;
        std::int64_t days = seconds / 86400;
        std::int64_t in_day = seconds % 86400;
        int year, month, day;
        civil_from_days(days, year, month, day);
        add_number(static_cast<std::uint64_t>(year), 4).add('-').add_number(month, 2).add('-').add_number(day, 2);
        add('T').add_number(static_cast<std::uint64_t>(in_day / 3600), 2).add(':');
        add_number(static_cast<std::uint64_t>(in_day / 60 % 60), 2).add(':');
        add_number(static_cast<std::uint64_t>(in_day % 60), 2).add('.');
        return add_number(static_cast<std::uint64_t>(now.tv_nsec / 1000000), 3).add('Z');
    }

    std::string_view view() const { return {buf_, size_}; }
    void clear() { size_ = 0; }

    // The whole line in one write(2) when the descriptor takes it, so that
    // lines of other threads do not cut into it; retried on a short write.
    void write_to(int fd) const {
        const char* p = buf_;
        std::size_t left = size_;
        while (left > 0) {
            ssize_t n = ::write(fd, p, left);
            if (n <= 0) return;
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }

private:
    // Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
    // civil_from_days, https://howardhinnant.github.io/date_algorithms.html):
    // gmtime_r is not on POSIX's list of async-signal-safe functions.
    static void civil_from_days(std::int64_t z, int& year, int& month, int& day) {
        z += 719468;
        std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        std::int64_t doe = z - era * 146097;
        std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        std::int64_t mp = (5 * doy + 2) / 153;
        day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
        month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
        year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
    }

    char buf_[capacity];
    std::size_t size_ = 0;
};

}  // namespace pycnode
