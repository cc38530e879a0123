// Routes each packet a peer sends: control messages are answered the way an
// Erlang node would answer them, gen_server calls to our registered name go
// to the request table, and everything else is logged and dropped.
// Runs on the loop thread only.
#pragma once

#include "app/options.hpp"
#include "app/stats.hpp"
#include "dispatch/caller_monitors.hpp"
#include "dist/control.hpp"
#include "dist/gen_call.hpp"
#include "net/packet.hpp"
#include "pool/worker_pool.hpp"
#include "python/runtime.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::net {
class Connection;
}

namespace pycnode::dispatch {

struct RequestKind;

class Dispatcher {
public:
    using PeerList = std::function<std::vector<std::string_view>()>;

    Dispatcher(const Options& options, Stats& stats, pool::WorkerPool& pool,
               const python::Runtime& python, PeerList peers);

    void on_packet(net::Connection& conn, net::Packet packet);
    void on_oversize(net::Connection& conn, std::string_view prefix, std::uint64_t size);
    // The connection is closing: the requests its callers monitor are
    // cancelled, and those its outbox held are dropped.
    void on_close(net::Connection& conn);
    // No request in flight and no reply held by a worker (graceful shutdown).
    bool idle() const;
    // Requests its outbox held while over its bound go to the workers.
    void resume(net::Connection& conn, std::vector<pool::Job>& held);

private:
    void on_reg_send(net::Connection& conn, net::Packet&& packet, const dist::ControlMessage& msg);
    void on_request(net::Connection& conn, net::Packet&& packet, const dist::GenCall& call);
    void answer_undecodable(net::Connection& conn, std::string_view packet, const dist::ControlMessage& msg,
                            term::DecodeError err);
    void answer_is_auth(net::Connection& conn, const dist::GenCall& call);
    void answer_link(net::Connection& conn, const dist::ControlMessage& msg);
    void answer_unlink_id(net::Connection& conn, const dist::ControlMessage& msg);
    void on_monitor(net::Connection& conn, const dist::ControlMessage& msg);
    void on_demonitor(net::Connection& conn, const dist::ControlMessage& msg);
    void answer_monitor(net::Connection& conn, const dist::ControlMessage& msg);
    void refuse_overloaded(net::Connection& conn, const dist::GenCall& call);
    pool::Route route_of(const RequestKind& kind, std::string_view request) const;
    void reply(net::Connection& conn, const dist::GenCall& call, const term::Term& answer);

    const Options& options_;
    Stats& stats_;
    pool::WorkerPool& pool_;
    const python::Runtime& python_;
    PeerList peers_;
    CallerMonitors monitors_;
};

}  // namespace pycnode::dispatch
