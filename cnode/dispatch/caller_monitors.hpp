// The monitors callers set on our registered name, per connection: how
// pycnode learns that a caller gave up.
//
// gen_server:call monitors {Name, Node} before it sends its request (the
// peer's node sends MONITOR_P, since pycnode offers DFLAG_DIST_MONITOR_NAME
// in the handshake) and uses the monitor's reference in its tag. It drops
// the monitor (DEMONITOR_P) when the reply arrives, when it times out, or
// when the calling process exits; a node that goes away closes the
// connection. So a request whose monitor is dropped before its reply was
// sent has a caller who no longer waits: its ticket is cancelled.
// Loop thread only.
#pragma once

#include "pool/ticket.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pycnode::dispatch {

class CallerMonitors {
public:
    using TicketPtr = std::shared_ptr<pool::Ticket>;

    // MONITOR_P of our name with reference `ref` (raw external term).
    void monitored(std::uint64_t connection, std::string_view ref);
    // A request arrived with gen_server tag `tag`: the ticket of the monitor
    // it names, or null (a caller that set none cannot cancel).
    TicketPtr ticket_for(std::uint64_t connection, std::string_view tag) const;
    // DEMONITOR_P: the monitor's ticket, forgotten (null if unknown).
    TicketPtr demonitored(std::uint64_t connection, std::string_view ref);
    // The connection closed: every ticket it had, forgotten.
    std::vector<TicketPtr> closed(std::uint64_t connection);

    std::size_t size() const;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using ByRef = std::unordered_map<std::string, TicketPtr, Hash, std::equal_to<>>;
    std::unordered_map<std::uint64_t, ByRef> connections_;
};

// The monitor reference in a gen_server tag: `[alias | Ref]` since OTP 24,
// a bare reference before. The tag itself if it is neither.
std::string_view tag_reference(std::string_view tag);

}  // namespace pycnode::dispatch
