#include "pool/job_runner.hpp"

#include "pool/deadline.hpp"
#include "pool/request_depth.hpp"
#include "pool/watchdog.hpp"
#include "app/running.hpp"
#include "python/worker_context.hpp"
#include "term/ext_format.hpp"
#include "term/term_reader.hpp"

namespace pycnode::pool {
namespace {

term::Term bad_request(term::ByteArena& arena, std::string_view detail) {
    using term::Term;
    return Term::tuple_of(Term::make_atom("error"),
                          Term::tuple_of(Term::make_atom("bad_request"), Term::make_binary(arena.keep(std::string(detail)))));
}

term::Term overloaded() {
    return term::Term::tuple_of(term::Term::make_atom("error"), term::Term::make_atom("overloaded"));
}

running::Kind kind_of(const term::Term& head) {
    if (head.is_atom("call") || head.is_atom("call_method")) return running::Kind::Call;
    if (head.is_atom("asgi")) return running::Kind::Asgi;
    if (head.is_atom("wsgi")) return running::Kind::Wsgi;
    if (head.is_atom("build_scope")) return running::Kind::BuildScope;
    return running::Kind::None;
}

// The node in a pid's external format: the pid's tag, then the node's
// atom, tag and length first. The dispatcher checked the pid already
// (dist/gen_call.cpp): this only finds the name, bounds checked, without
// the cost of validating it again.
std::string_view node_of(std::string_view pid) {
    namespace tag = term::tag;
    if (pid.size() < 3 || !tag::is_pid(static_cast<std::uint8_t>(pid[0]))) return {};
    auto atom = static_cast<std::uint8_t>(pid[1]);
    bool small = atom == tag::small_atom_utf8 || atom == tag::small_atom_latin1;
    if (!small && atom != tag::atom_utf8 && atom != tag::atom_latin1) return {};
    std::size_t header = small ? 3 : 4;
    std::size_t size = small ? static_cast<std::uint8_t>(pid[2]) : term::ext::load_be(pid.data() + 2, 2);
    return pid.size() >= header + size ? pid.substr(header, size) : std::string_view();
}

// What a crash report names while this job runs (app/running.hpp): its
// kind, module and callable, and the caller's node, copied into the
// thread's slot; the asgi and wsgi handlers add the method and path. A few
// bounded copies: nothing is formatted or allocated here.
void label_job(const term::Term& request, const Job& job) {
    running::Label* label = running::own_label();
    if (!label || request.kind != term::Kind::Tuple || request.items.empty()) return;
    const auto& items = request.items;
    label->kind = kind_of(items[0]);
    label->target.set({});
    if (items.size() >= 3 && items[1].kind == term::Kind::Binary && items[2].kind == term::Kind::Binary) {
        label->target.set(items[1].bytes);
        label->target.append(label->kind == running::Kind::Call ? "." : ":");
        label->target.append(items[2].bytes);
    }
    label->detail.set({});
    label->node.set(node_of(job.reply_to.in(job.packet)));
    running::publish();
}

// Whatever way run() leaves, the thread no longer runs the job.
struct ClearLabel {
    ~ClearLabel() { running::clear(); }
};

}  // namespace

void JobRunner::run(python::WorkerContext& ctx, Job& job, int worker) {
    // Its reply would only wait behind others its peer does not read: the
    // outbox keeps the job until the peer catches up (or goes).
    if (job.outbox && job.outbox->hold(job)) return;
    if (job.ticket && !job.ticket->start(worker)) {
        outlet_.unanswered(job.ticket.get());
        return;
    }
    job_ = &job;
    deferred_ = handed_ = false;
    term::ByteArena arena;
    term::Term request;
    term::Term reply;
    ClearLabel clear_label;
    std::vector<std::size_t> too_deep_at;
    std::string_view request_bytes = job.request.in(job.packet);
    if (auto err = term::TermReader::read_whole(request_bytes, request, max_request_depth, &too_deep_at);
        err != term::DecodeError::Ok) {
        reply = bad_request(arena, err == term::DecodeError::TooDeep
                                       ? too_deep_detail(request_bytes, job.shape, too_deep_at)
                                       : std::string("undecodable request: ") + term::describe(err));
    } else if (auto problem = request_deadline(request, job.opts_at, job.received, request_timeout_ms_, job.deadline);
               !problem.empty()) {
        reply = bad_request(arena, problem);
    } else if (label_job(request, job); !run_handler(ctx, job, request, arena, reply, worker)) {
        job_ = nullptr;
        outlet_.answer_timeout(ctx, job);
        return;
    }
    job_ = nullptr;
    if (deferred_) {
        ctx.release_held();
        return;
    }
    if (handed_) {
        job.route = Route::Blocking;
        if (job.ticket) job.ticket->requeue();
        if (to_blocking_(std::move(job))) return;
        // The blocking queue is full: the caller hears so.
        outlet_.stats().overloaded.fetch_add(1, std::memory_order_relaxed);
        if (job.ticket) job.ticket->start(worker);
        outlet_.answer(ctx, job, overloaded());
        return;
    }
    outlet_.answer(ctx, job, reply);
}

// The handler, as a step the watchdog watches. False, without running it,
// if the job is past its deadline already (it waited that long in a queue).
bool JobRunner::run_handler(python::WorkerContext& ctx, Job& job, const term::Term& request, term::ByteArena& arena,
                            term::Term& reply, int worker) {
    Clock::time_point now = Clock::now();
    if (job.deadline <= now) return false;
    if (job.deadline != no_deadline && !job.ticket) {
        // The ticket decides who answers: this worker, or the watchdog with
        // {error, timeout} if the step is stuck.
        job.ticket = std::make_shared<Ticket>();
        job.ticket->start(worker);
    }
    slot_.begin(now, job.deadline, &job);
    reply = job.handler(ctx, request, arena);
    note_return(slot_.end(), worker < 0 ? "a blocking thread" : "an event worker", now);
    return true;
}

std::unique_ptr<python::PendingReply> JobRunner::defer_reply() {
    if (!can_defer_ || !job_ || deferred_ || handed_) return nullptr;
    deferred_ = true;
    return outlet_.defer(*job_, parked_);
}

bool JobRunner::hand_to_blocking() {
    if (!to_blocking_ || !job_ || deferred_) return false;
    handed_ = true;
    return true;
}

python::Caller JobRunner::caller() {
    if (!job_) return {};
    return {job_->reply_to.in(job_->packet), job_->outbox};
}

}  // namespace pycnode::pool
