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
    void answer(python::WorkerContext& ctx, const Job& job, const term::Term& reply) {
        answer_to(ctx, job.outbox, job.reply_to.in(job.packet), job.tag.in(job.packet), job.ticket.get(), reply);
    }
    void answer_to(python::WorkerContext& ctx, const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to,
                   std::string_view tag, Ticket* ticket, const term::Term& reply);

    // Sends the replies this thread gathered. Any worker, detached or not.
    void flush();
    // Any thread: whether a worker holds a reply not yet handed to its
    // connection (made, counted out of flight, not yet flushed).
    bool replies_held() const;

    // A request that ends without a reply: its caller gave up (cancelled)
    // or its worker stopped first (dropped).
    void unanswered(const Ticket* ticket);

    // The reply of the job being run, to be sent later (python::PendingReply).
    std::unique_ptr<python::PendingReply> defer(const Job& job);

    Stats& stats() { return stats_; }

private:
    Stats& stats_;
};

}  // namespace pycnode::pool
