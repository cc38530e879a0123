// The one place a finished request becomes its reply: encoded for its
// caller and sent by the worker itself on the caller's connection (its
// Outbox), unless the caller gave up, and counted either way.
//
// Replies are gathered per worker thread and sent by flush(), which every
// worker calls after each job and each turn of its event loop: replies made
// together leave in one system call per connection.
#pragma once

#include "app/stats.hpp"
#include "pool/job.hpp"
#include "pool/parked_replies.hpp"
#include "python/pending_reply.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace pycnode::python {
class WorkerContext;
}

namespace pycnode::pool {

class Outlet {
public:
    explicit Outlet(Stats& stats) : stats_(stats) {}

    // Any worker, attached or not. Releases what `ctx` held for the reply.
    // False if the caller gave up (or was answered already): nothing sent.
    bool answer(python::WorkerContext& ctx, const Job& job, const term::Term& reply) {
        return answer_to(ctx, job.outbox, job.reply_to.in(job.packet), job.tag.in(job.packet), job.ticket.get(),
                         reply);
    }
    bool answer_to(python::WorkerContext& ctx, const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to,
                   std::string_view tag, Ticket* ticket, const term::Term& reply);
    // answer() with {error, timeout}: the job is past its deadline.
    void answer_timeout(python::WorkerContext& ctx, const Job& job);

    // Any thread, no Python (the watchdog): {error, timeout} to the caller
    // of a job stuck past its deadline, sent at once, if its ticket lets
    // this side answer. The worker's own reply, if it ever comes, is dropped.
    bool time_out_stuck(const Job& job);
    // The same for the requests waiting on a stuck worker's loop that are
    // past their deadline (`parked`: that worker's). How many were answered.
    std::size_t expire_parked(ParkedReplies& parked, std::chrono::steady_clock::time_point now);

    // Sends the replies this thread gathered. Any worker, detached or not.
    void flush();
    // The size of the replies this thread gathered and has not sent.
    std::size_t unsent_bytes() const;
    // Any thread: whether a worker holds a reply not yet handed to its
    // connection (made, counted out of flight, not yet flushed).
    bool replies_held() const;

    // A request that ends without a reply: its caller gave up (cancelled)
    // or its worker stopped first (dropped).
    void unanswered(const Ticket* ticket);

    // The reply of the job being run, to be sent later (python::PendingReply),
    // listed in `parked` (the worker's) while it waits.
    std::unique_ptr<python::PendingReply> defer(const Job& job, ParkedReplies* parked);

    Stats& stats() { return stats_; }

private:
    bool time_out_now(const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to, std::string_view tag,
                      Ticket* ticket);

    Stats& stats_;
};

}  // namespace pycnode::pool
