#include "pool/job_runner.hpp"

#include "pool/deadline.hpp"
#include "pool/watchdog.hpp"
#include "python/worker_context.hpp"
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
    if (auto err = term::TermReader::read_whole(job.request.in(job.packet), request); err != term::DecodeError::Ok) {
        reply = bad_request(arena, std::string("undecodable request: ") + term::describe(err));
    } else if (auto problem = request_deadline(request, job.opts_at, job.received, request_timeout_ms_, job.deadline);
               !problem.empty()) {
        reply = bad_request(arena, problem);
    } else if (!run_handler(ctx, job, request, arena, reply, worker)) {
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

}  // namespace pycnode::pool
