#include "dispatch/loop_requests.hpp"

#include "net/large_blocks.hpp"
#include "python/handles.hpp"

namespace pycnode::dispatch {
namespace {

using term::Term;

Term count(std::uint64_t v) { return Term::make_integer(static_cast<std::int64_t>(v)); }
Term boolean(bool v) { return Term::make_atom(v ? "true" : "false"); }

void put(std::vector<Term>& kv, std::string_view key, Term value) {
    kv.push_back(Term::make_atom(key));
    kv.push_back(std::move(value));
}

// What health and stats both say of stuck workers (docs/protocol.md).
void put_stuck(std::vector<Term>& kv, const pool::WorkerPool& pool) {
    using pool::WorkerKind;
    put(kv, "workers_available", count(pool.available(WorkerKind::Event)));
    put(kv, "threads_available", count(pool.available(WorkerKind::Blocking)));
    put(kv, "workers_stuck", count(pool.stuck(WorkerKind::Event).stuck()));
    put(kv, "threads_stuck", count(pool.stuck(WorkerKind::Blocking).stuck()));
}

bool healthy(const pool::WorkerPool& pool) {
    return pool.available(pool::WorkerKind::Event) > 0 && pool.available(pool::WorkerKind::Blocking) > 0;
}

}  // namespace

Term answer_health(const LoopContext& ctx, term::ByteArena&) {
    std::vector<Term> kv;
    put(kv, "healthy", boolean(healthy(ctx.pool)));
    put_stuck(kv, ctx.pool);
    return Term::tuple_of(Term::make_atom("ok"), Term::make_map(std::move(kv)));
}

Term answer_ping(const LoopContext&, term::ByteArena&) { return Term::make_atom("pong"); }

Term answer_stats(const LoopContext& ctx, term::ByteArena&) {
    const Stats& s = ctx.stats;
    const auto names = ctx.peers();
    std::vector<Term> peers;
    peers.reserve(names.size());
    for (auto peer : names) peers.push_back(Term::make_atom(peer));

    std::vector<Term> kv;
    put(kv, "uptime_ms", count(s.uptime_ms()));
    put(kv, "connected_peers", count(names.size()));
    put(kv, "peers", Term::make_list(std::move(peers)));
    put(kv, "requests_served", count(s.served.load(std::memory_order_relaxed)));
    put(kv, "requests_failed", count(s.failed.load(std::memory_order_relaxed)));
    put(kv, "requests_in_flight", count(s.in_flight.load(std::memory_order_relaxed)));
    put(kv, "requests_waiting", count(ctx.pool.queue_length()));
    put(kv, "requests_completed", count(s.served.load(std::memory_order_relaxed)));
    put(kv, "requests_cancelled", count(s.cancelled.load(std::memory_order_relaxed)));
    put(kv, "requests_overloaded", count(s.overloaded.load(std::memory_order_relaxed)));
    put(kv, "replies_dropped", count(s.dropped_replies.load(std::memory_order_relaxed)));
    put(kv, "handshakes_refused", count(s.handshakes_refused.load(std::memory_order_relaxed)));
    put(kv, "handshakes_evicted", count(s.handshakes_evicted.load(std::memory_order_relaxed)));
    put(kv, "handshakes_pending", count(s.handshakes_pending.load(std::memory_order_relaxed)));
    put(kv, "shutting_down", boolean(s.shutting_down.load(std::memory_order_relaxed)));
    put(kv, "output_queued_bytes", count(s.output_queued.load(std::memory_order_relaxed)));
    put(kv, "large_packets_kept_bytes", count(net::large_blocks::kept_bytes()));
    put(kv, "connections_closed_stalled", count(s.closed_stalled.load(std::memory_order_relaxed)));
    put(kv, "loop_takeovers", count(s.loop_takeovers.load(std::memory_order_relaxed)));
    put(kv, "handles_live", count(python::handles().live()));
    put(kv, "queue_length", count(ctx.pool.queue_length()));
    put(kv, "workers", count(ctx.pool.workers()));
    put(kv, "threads", count(ctx.pool.threads()));
    put(kv, "requests_timed_out", count(s.timed_out.load(std::memory_order_relaxed)));
    put(kv, "stuck_detected", count(ctx.pool.stuck(pool::WorkerKind::Event).detected.load(std::memory_order_relaxed) +
                                    ctx.pool.stuck(pool::WorkerKind::Blocking).detected.load(std::memory_order_relaxed)));
    put(kv, "healthy", boolean(healthy(ctx.pool)));
    put_stuck(kv, ctx.pool);
    const auto& py = ctx.python.info();
    put(kv, "python_version", Term::make_binary(py.version));
    put(kv, "python_implementation", Term::make_binary(py.implementation));
    put(kv, "free_threaded", boolean(py.free_threaded));
    put(kv, "gil_enabled", boolean(ctx.python.gil_enabled()));
    return Term::tuple_of(Term::make_atom("ok"), Term::make_map(std::move(kv)));
}

}  // namespace pycnode::dispatch
