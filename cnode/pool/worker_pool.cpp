#include "pool/worker_pool.hpp"

#include "app/log.hpp"
#include "dist/gen_call.hpp"
#include "python/worker_context.hpp"
#include "term/term_reader.hpp"

#include <pthread.h>

namespace pycnode::pool {
namespace {

term::Term bad_request(term::ByteArena& arena, std::string_view detail) {
    using term::Term;
    return Term::tuple_of(Term::make_atom("error"),
                          Term::tuple_of(Term::make_atom("bad_request"), Term::make_binary(arena.keep(std::string(detail)))));
}

bool is_error_reply(const term::Term& reply) {
    return reply.kind == term::Kind::Tuple && !reply.items.empty() && reply.items[0].is_atom("error");
}

}  // namespace

Reply run_job(python::WorkerContext& ctx, const Job& job, bool& is_error) {
    term::ByteArena arena;
    term::Term request;
    term::Term reply;
    if (auto err = term::TermReader::read_whole(job.request.in(job.packet), request); err != term::DecodeError::Ok)
        reply = bad_request(arena, std::string("undecodable request: ") + term::describe(err));
    else
        reply = job.handler(ctx, request, arena);
    is_error = is_error_reply(reply);

    Reply out;
    out.connection_id = job.connection_id;
    dist::append_reply(out.packet, job.reply_to.in(job.packet), job.tag.in(job.packet), reply);
    ctx.release_held();  // the reply may have pointed into Python objects until now
    return out;
}

WorkerPool::WorkerPool(python::Runtime& runtime, unsigned workers, std::size_t queue_limit, Stats& stats,
                       ReplyQueue<Reply>& replies)
    : runtime_(runtime), stats_(stats), replies_(replies), jobs_(queue_limit) {
    threads_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run_worker(i); });
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(Job&& job) {
    stats_.in_flight.fetch_add(1, std::memory_order_relaxed);
    if (jobs_.push(std::move(job))) return true;
    stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

void WorkerPool::stop() {
    jobs_.close();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void WorkerPool::run_worker(unsigned index) {
    pthread_setname_np(pthread_self(), fmt::format("pyworker-{}", index).c_str());
    python::WorkerContext ctx(runtime_);
    Job job;
    while (jobs_.pop(job)) {
        bool is_error = false;
        Reply reply = run_job(ctx, job, is_error);
        stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
        stats_.answered(is_error);
        replies_.push(std::move(reply));
        job = Job{};  // release the request packet now, not when the next job arrives
    }
}

}  // namespace pycnode::pool
