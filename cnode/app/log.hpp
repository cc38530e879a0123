// One line per event on stderr, safe to call from any thread.
//
// Info, warning and error lines are rate-limited per call site (per format
// string): past 20 lines in a second from one site, lines are counted, not
// written, and the next line written from that site says how many were left
// out. A peer sending a flood of bad input thus costs a few lines a second,
// not millions a minute.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace pycnode::log {

enum class Level : int { Debug = 0, Info = 1, Warning = 2, Error = 3 };

void set_level(Level level);
bool enabled(Level level);
// Parses "debug" | "info" | "warning" | "error"; false if unknown.
bool parse_level(std::string_view text, Level& level);
void write(Level level, std::string_view message);

namespace detail {
constexpr unsigned lines_per_second = 20;
// Whether the site may write a line now; `left_out`: lines it did not write
// since its last one. Lock-free (workers log too).
bool admit(const void* site, std::uint64_t& left_out);
void write_site(Level level, std::string message, std::uint64_t left_out);

template <class... A>
void limited(Level level, fmt::format_string<A...> f, A&&... a) {
    if (!enabled(level)) return;
    std::uint64_t left_out = 0;
    if (!admit(static_cast<fmt::string_view>(f).data(), left_out)) return;
    write_site(level, fmt::format(f, std::forward<A>(a)...), left_out);
}
}  // namespace detail

template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
    detail::limited(Level::Info, f, std::forward<A>(a)...);
}
template <class... A>
void warning(fmt::format_string<A...> f, A&&... a) {
    detail::limited(Level::Warning, f, std::forward<A>(a)...);
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
    detail::limited(Level::Error, f, std::forward<A>(a)...);
}

}  // namespace pycnode::log
