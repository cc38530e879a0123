// The one place a finished request becomes its reply: encoded for its
// caller and queued for the loop thread to write, unless the caller gave
// up, and counted either way.
#pragma once

#include "app/stats.hpp"
#include "pool/job.hpp"
#include "pool/reply_queue.hpp"
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
    Outlet(Stats& stats, ReplyQueue<Reply>& replies) : stats_(stats), replies_(replies) {}

    // Any worker, attached or not. Releases what `ctx` held for the reply.
    void answer(python::WorkerContext& ctx, const Job& job, const term::Term& reply) {
        answer_to(ctx, job.connection_id, job.reply_to.in(job.packet), job.tag.in(job.packet), job.ticket.get(),
                  reply);
    }
    void answer_to(python::WorkerContext& ctx, std::uint64_t connection_id, std::string_view reply_to,
                   std::string_view tag, Ticket* ticket, const term::Term& reply);

    // A request that ends without a reply: its caller gave up (cancelled)
    // or its worker stopped first (dropped).
    void unanswered(const Ticket* ticket);

    // The reply of the job being run, to be sent later (python::PendingReply).
    std::unique_ptr<python::PendingReply> defer(const Job& job);

    Stats& stats() { return stats_; }

private:
    Stats& stats_;
    ReplyQueue<Reply>& replies_;
};

}  // namespace pycnode::pool
