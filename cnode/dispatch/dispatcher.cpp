#include "dispatch/dispatcher.hpp"

#include "app/log.hpp"
#include "dispatch/requests.hpp"
#include "python/call_routes.hpp"
#include "python/handles.hpp"
#include "net/connection.hpp"
#include "term/term_reader.hpp"

namespace pycnode::dispatch {
namespace {

using dist::Op;
using term::Term;

Term error_reply(Term reason) { return Term::tuple_of(Term::make_atom("error"), std::move(reason)); }

Term bad_request(std::string_view detail) {
    return error_reply(Term::make_tuple({Term::make_atom("bad_request"), Term::make_binary(detail)}));
}

pool::Span span_of(std::string_view whole, std::string_view part) {
    return {static_cast<std::uint32_t>(part.data() - whole.data()), static_cast<std::uint32_t>(part.size())};
}

// The envelope of a '$gen_call' whose request is cut off: enough to answer.
bool read_call_envelope(std::string_view packet, std::size_t offset, dist::GenCall& call) {
    term::TermReader reader(packet.substr(offset));
    std::size_t arity = 0;
    std::string_view atom;
    return reader.read_tuple_header(arity) == term::DecodeError::Ok && arity == 3 &&
           reader.read_atom(atom) == term::DecodeError::Ok && atom == "$gen_call" &&
           reader.read_tuple_header(arity) == term::DecodeError::Ok && arity == 2 &&
           reader.skip(call.from_pid) == term::DecodeError::Ok && reader.skip(call.tag) == term::DecodeError::Ok;
}

}  // namespace

Dispatcher::Dispatcher(const Options& options, Stats& stats, pool::WorkerPool& pool,
                       const python::Runtime& python, PeerList peers)
    : options_(options), stats_(stats), pool_(pool), python_(python),
      peers_(std::move(peers)) {}

bool Dispatcher::idle() const {
    return stats_.in_flight.load(std::memory_order_acquire) == 0 && !pool_.replies_held();
}

void Dispatcher::on_packet(net::Connection& conn, net::Packet packet) {
    dist::ControlMessage msg;
    if (auto err = dist::parse_packet(packet, msg); err != term::DecodeError::Ok) {
        log::warning("{}: malformed packet of {} bytes dropped: {}", conn.peer(), packet.size(), term::describe(err));
        return;
    }
    switch (static_cast<Op>(msg.op)) {
        case Op::RegSend:
        case Op::RegSendTT: on_reg_send(conn, std::move(packet), msg); return;
        case Op::Link: answer_link(conn, msg); return;
        case Op::UnlinkId: answer_unlink_id(conn, msg); return;
        case Op::MonitorP: on_monitor(conn, msg); return;
        case Op::DemonitorP: on_demonitor(conn, msg); return;
        case Op::MonitorPExit:
        case Op::PayloadMonitorPExit: python::handles().owner_down(conn.outbox().get(), msg.id); return;
        case Op::Send:
        case Op::SendTT:
        case Op::SendSender:
        case Op::SendSenderTT:
            log::debug("{}: message to a pid of ours dropped (we hand out none)", conn.peer());
            return;
        case Op::Unlink:
        case Op::UnlinkIdAck:
        case Op::Exit:
        case Op::ExitTT:
        case Op::Exit2:
        case Op::Exit2TT:
        case Op::PayloadExit:
        case Op::PayloadExitTT:
        case Op::PayloadExit2:
        case Op::PayloadExit2TT:
        case Op::GroupLeader:
            log::debug("{}: control message {} ignored: we have no linked processes", conn.peer(), msg.op);
            return;
    }
    log::info("{}: unknown control message {} ignored", conn.peer(), msg.op);
}

void Dispatcher::on_reg_send(net::Connection& conn, net::Packet&& packet, const dist::ControlMessage& msg) {
    const bool to_us = msg.to_name == options_.register_name;
    const bool to_net_kernel = msg.to_name == "net_kernel";
    if (!to_us && !to_net_kernel) {
        log::debug("{}: message to unregistered name '{}' dropped", conn.peer(), msg.to_name);
        return;
    }
    dist::GenCall call;
    auto err = msg.has_message ? dist::parse_gen_call(packet, msg.message_offset, call) : term::DecodeError::WrongType;
    if (err != term::DecodeError::Ok) {
        answer_undecodable(conn, packet, msg, err);
        return;
    }
    if (to_net_kernel)
        answer_is_auth(conn, call);
    else
        on_request(conn, std::move(packet), call);
}

void Dispatcher::on_request(net::Connection& conn, net::Packet&& packet, const dist::GenCall& call) {
    std::string_view request = std::string_view(packet).substr(call.request_offset, call.request_size);
    std::string detail;
    const RequestKind* kind = classify(request, detail);
    // The loop does not walk a worker's request (the worker decodes it and
    // answers an undecodable one); it checks only what it answers itself.
    term::DecodeError err = kind && !kind->on_loop ? term::DecodeError::Ok : term::TermReader::check_whole(request);
    if (err != term::DecodeError::Ok) {
        log::warning("{}: undecodable request: {}", conn.peer(), term::describe(err));
        kind = nullptr;
        detail = std::string("undecodable request: ") + term::describe(err);
    }
    if (!kind) {
        stats_.answered(true);
        reply(conn, call, bad_request(detail));
        return;
    }
    if (kind->on_loop) {
        term::ByteArena arena;
        LoopContext ctx{stats_, python_, pool_, peers_};
        stats_.answered(false);
        reply(conn, call, kind->on_loop(ctx, arena));
        return;
    }
    if (stats_.shutting_down.load(std::memory_order_relaxed)) {
        stats_.answered(true);
        reply(conn, call, error_reply(Term::make_atom("shutting_down")));
        return;
    }
    if (stats_.in_flight.load(std::memory_order_relaxed) >= options_.max_in_flight) {
        refuse_overloaded(conn, call);
        return;
    }
    pool::Job job;
    job.handler = kind->on_worker;
    job.shape = kind->shape;
    job.route = route_of(*kind, request);
    job.ticket = monitors_.ticket_for(conn.id(), call.tag);
    job.outbox = conn.outbox();
    job.request = span_of(packet, request);
    job.reply_to = span_of(packet, call.from_pid);
    job.tag = span_of(packet, call.tag);
    job.received = std::chrono::steady_clock::now();
    job.opts_at = kind->opts_at;
    job.packet = std::move(packet);  // views into it are now offsets: safe to move
    if (pool_.submit(std::move(job))) return;
    // submit() leaves the job untouched when it refuses it: answer from its bytes.
    refuse_overloaded(conn, dist::GenCall{job.reply_to.in(job.packet), job.tag.in(job.packet), 0, 0});
}

void Dispatcher::refuse_overloaded(net::Connection& conn, const dist::GenCall& call) {
    stats_.overloaded.fetch_add(1, std::memory_order_relaxed);
    stats_.answered(true);
    reply(conn, call, error_reply(Term::make_atom("overloaded")));
}

// {call, M, F, A} goes where its function ran before: a blocking thread for
// a sync one, an event worker for an async one or one not seen yet.
pool::Route Dispatcher::route_of(const RequestKind& kind, std::string_view request) const {
    if (kind.route != RouteBy::CallKind) return kind.route == RouteBy::Blocking ? pool::Route::Blocking : pool::Route::Event;
    term::TermReader reader(request);
    std::size_t arity = 0;
    std::string_view name, module, function;
    if (reader.read_tuple_header(arity) != term::DecodeError::Ok || reader.read_atom(name) != term::DecodeError::Ok ||
        reader.read_binary(module) != term::DecodeError::Ok || reader.read_binary(function) != term::DecodeError::Ok)
        return pool::Route::Blocking;  // malformed: its worker answers bad_request
    return python::call_routes().find(module, function) == python::CallKind::Sync ? pool::Route::Blocking
                                                                                 : pool::Route::Event;
}

void Dispatcher::on_close(net::Connection& conn) {
    for (const auto& ticket : monitors_.closed(conn.id())) pool_.cancel(ticket);
    if (!conn.outbox()) return;
    python::handles().connection_closed(conn.outbox().get());  // their owners are gone with it
    std::vector<pool::Job> held;
    conn.outbox()->take_held(held);  // closed: all of them
    for (auto& job : held) pool_.drop(job);
}

void Dispatcher::resume(net::Connection& conn, std::vector<pool::Job>& held) {
    for (auto& job : held) {
        if (pool_.resume(std::move(job))) continue;
        refuse_overloaded(conn, dist::GenCall{job.reply_to.in(job.packet), job.tag.in(job.packet), 0, 0});
    }
}

void Dispatcher::on_oversize(net::Connection& conn, std::string_view prefix, std::uint64_t size) {
    dist::ControlMessage msg;
    dist::GenCall call;
    bool answerable = dist::parse_packet(prefix, msg) != term::DecodeError::UnknownTag &&
                      (msg.op == static_cast<std::int64_t>(Op::RegSend) || msg.op == static_cast<std::int64_t>(Op::RegSendTT)) &&
                      msg.to_name == options_.register_name && msg.has_message &&
                      read_call_envelope(prefix, msg.message_offset, call);
    log::warning("{}: packet of {} bytes is over --max-packet {}; {}", conn.peer(), size, options_.max_packet,
                 answerable ? "the caller gets {error, packet_too_large}" : "dropped");
    if (!answerable) return;
    stats_.answered(true);
    reply(conn, call,
          error_reply(Term::make_tuple({Term::make_atom("packet_too_large"),
                                        Term::make_integer(static_cast<std::int64_t>(size)),
                                        Term::make_integer(static_cast<std::int64_t>(options_.max_packet))})));
}

// A call whose request cannot be decoded (too deep, malformed) still has a
// readable envelope: its caller gets a reason instead of waiting for a timeout.
void Dispatcher::answer_undecodable(net::Connection& conn, std::string_view packet, const dist::ControlMessage& msg,
                                    term::DecodeError err) {
    dist::GenCall call;
    if (!msg.has_message || !read_call_envelope(packet, msg.message_offset, call)) {
        log::warning("{}: message to '{}' is not a gen_server call; dropped", conn.peer(), msg.to_name);
        return;
    }
    log::warning("{}: undecodable request to '{}': {}", conn.peer(), msg.to_name, term::describe(err));
    stats_.answered(true);
    reply(conn, call, bad_request(std::string("undecodable request: ") + term::describe(err)));
}

// net_adm:ping/1 asks net_kernel {is_auth, Node}; 'yes' makes it return pong.
void Dispatcher::answer_is_auth(net::Connection& conn, const dist::GenCall& call) {
    reply(conn, call, Term::make_atom("yes"));
}

// Nobody can hold a pid of ours, so a link is to a process that does not
// exist: answer as Erlang does, with an exit signal of reason noproc.
void Dispatcher::answer_link(net::Connection& conn, const dist::ControlMessage& msg) {
    std::string out;
    dist::append_exit(out, msg.to, msg.from, Term::make_atom("noproc"));
    conn.queue(std::move(out));
}

void Dispatcher::answer_unlink_id(net::Connection& conn, const dist::ControlMessage& msg) {
    std::string out;
    dist::append_unlink_id_ack(out, msg.id, msg.to, msg.from);
    conn.queue(std::move(out));
}

// A monitor of a name we answer to is kept (gen_server:call sets one per
// call: net_adm:ping's to net_kernel too); any other target is a process
// that does not exist.
void Dispatcher::on_monitor(net::Connection& conn, const dist::ControlMessage& msg) {
    term::TermReader reader(msg.to);
    std::string_view name;
    if (reader.read_atom(name) == term::DecodeError::Ok && (name == options_.register_name || name == "net_kernel")) {
        monitors_.monitored(conn.id(), msg.id);
        return;
    }
    answer_monitor(conn, msg);
}

void Dispatcher::on_demonitor(net::Connection& conn, const dist::ControlMessage& msg) {
    if (auto ticket = monitors_.demonitored(conn.id(), msg.id)) pool_.cancel(ticket);
}

void Dispatcher::answer_monitor(net::Connection& conn, const dist::ControlMessage& msg) {
    std::string out;
    dist::append_monitor_exit(out, msg.to, msg.from, msg.id, Term::make_atom("noproc"));
    conn.queue(std::move(out));
}

void Dispatcher::reply(net::Connection& conn, const dist::GenCall& call, const Term& answer) {
    std::string out;
    dist::append_reply(out, call.from_pid, call.tag, answer);
    conn.queue(std::move(out));
}

}  // namespace pycnode::dispatch
