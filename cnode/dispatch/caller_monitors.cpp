#include "dispatch/caller_monitors.hpp"

#include "term/ext_format.hpp"
#include "term/term_reader.hpp"

namespace pycnode::dispatch {

void CallerMonitors::monitored(std::uint64_t connection, std::string_view ref) {
    connections_[connection].insert_or_assign(std::string(ref), std::make_shared<pool::Ticket>());
}

CallerMonitors::TicketPtr CallerMonitors::ticket_for(std::uint64_t connection, std::string_view tag) const {
    auto conn = connections_.find(connection);
    if (conn == connections_.end()) return nullptr;
    auto it = conn->second.find(tag_reference(tag));
    return it == conn->second.end() ? nullptr : it->second;
}

CallerMonitors::TicketPtr CallerMonitors::demonitored(std::uint64_t connection, std::string_view ref) {
    auto conn = connections_.find(connection);
    if (conn == connections_.end()) return nullptr;
    auto it = conn->second.find(ref);
    if (it == conn->second.end()) return nullptr;
    TicketPtr ticket = std::move(it->second);
    conn->second.erase(it);
    if (conn->second.empty()) connections_.erase(conn);
    return ticket;
}

std::vector<CallerMonitors::TicketPtr> CallerMonitors::closed(std::uint64_t connection) {
    std::vector<TicketPtr> tickets;
    auto conn = connections_.find(connection);
    if (conn == connections_.end()) return tickets;
    tickets.reserve(conn->second.size());
    for (auto& [ref, ticket] : conn->second) tickets.push_back(std::move(ticket));
    connections_.erase(conn);
    return tickets;
}

std::size_t CallerMonitors::size() const {
    std::size_t n = 0;
    for (const auto& [id, refs] : connections_) n += refs.size();
    return n;
}

std::string_view tag_reference(std::string_view tag) {
    // LIST_EXT, length 1, the atom alias, then the tail: the reference.
    constexpr std::size_t header = 5;
    if (tag.size() <= header || static_cast<std::uint8_t>(tag[0]) != term::tag::list ||
        tag.substr(1, 4) != std::string_view("\0\0\0\1", 4))
        return tag;
    term::TermReader reader(tag.substr(header));
    std::string_view alias, tail;
    if (reader.skip(alias) != term::DecodeError::Ok || reader.skip(tail) != term::DecodeError::Ok) return tag;
    return tail;
}

}  // namespace pycnode::dispatch
