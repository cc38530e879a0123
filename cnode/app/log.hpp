// One line per event on stderr, safe to call from any thread.
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <utility>

namespace pycnode::log {

enum class Level : int { Debug = 0, Info = 1, Warning = 2, Error = 3 };

void set_level(Level level);
bool enabled(Level level);
// Parses "debug" | "info" | "warning" | "error"; false if unknown.
bool parse_level(std::string_view text, Level& level);
void write(Level level, std::string_view message);

template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::Info)) write(Level::Info, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warning(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::Warning)) write(Level::Warning, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::Error)) write(Level::Error, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace pycnode::log
