#include "pool/deadline.hpp"

#include <algorithm>

namespace pycnode::pool {
namespace {

// The largest timeout an Erlang receive accepts: callers cannot wait longer.
constexpr std::int64_t max_timeout_ms = 4294967295;

// The value of key `timeout` (an atom) in the map `opts`, or null.
const term::Term* timeout_option(const term::Term& opts) {
    if (opts.kind != term::Kind::Map) return nullptr;  // the handler answers a non-map
    for (std::size_t i = 0; i + 1 < opts.items.size(); i += 2)
        if (opts.items[i].is_atom("timeout")) return &opts.items[i + 1];
    return nullptr;
}

}  // namespace

std::string request_deadline(const term::Term& request, std::uint8_t opts_at, Clock::time_point received,
                             std::uint32_t node_default_ms, Clock::time_point& deadline) {
    std::int64_t ms = node_default_ms;
    const term::Term* given = nullptr;
    if (opts_at > 0 && request.kind == term::Kind::Tuple && request.items.size() > opts_at)
        given = timeout_option(request.items[opts_at]);
    if (given) {
        if (given->kind != term::Kind::Integer || given->integer < 0 || given->integer > max_timeout_ms)
            return "Opts: timeout must be an integer of milliseconds, 0..4294967295";
        ms = given->integer;
    }
    deadline = (ms == 0 && !given) ? no_deadline : received + std::chrono::milliseconds(ms);
    return {};
}

int ms_until(Clock::time_point deadline, Clock::time_point now) {
    if (deadline == no_deadline) return -1;
    if (deadline <= now) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::min<std::int64_t>(ms, 3600 * 1000));
}

}  // namespace pycnode::pool
