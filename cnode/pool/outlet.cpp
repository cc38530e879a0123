#include "pool/outlet.hpp"

#include "dist/gen_call.hpp"
#include "python/worker_context.hpp"

namespace pycnode::pool {
namespace {

bool is_error_reply(const term::Term& reply) {
    return reply.kind == term::Kind::Tuple && !reply.items.empty() && reply.items[0].is_atom("error");
}

// What a deferred reply needs of its job: the caller's pid and tag (copied:
// the request packet, body included, is released when the job's turn ends).
class DeferredReply final : public python::PendingReply {
public:
    DeferredReply(Outlet& outlet, const Job& job)
        : outlet_(outlet), outbox_(job.outbox), reply_to_(job.reply_to.in(job.packet)),
          tag_(job.tag.in(job.packet)), ticket_(job.ticket) {}

    ~DeferredReply() override {
        if (!sent_) outlet_.unanswered(ticket_.get());
    }

    void send(python::WorkerContext& ctx, const term::Term& reply) override {
        if (sent_) return;
        sent_ = true;
        outlet_.answer_to(ctx, outbox_, reply_to_, tag_, ticket_.get(), reply);
    }

    bool abandoned() const override { return ticket_ && ticket_->cancelled(); }
    const void* key() const override { return ticket_ ? static_cast<const void*>(ticket_.get()) : this; }

private:
    Outlet& outlet_;
    std::shared_ptr<net::Outbox> outbox_;
    std::string reply_to_, tag_;
    std::shared_ptr<Ticket> ticket_;
    bool sent_ = false;
};

// The replies a worker thread made since its last flush, in order.
struct Gathered {
    std::shared_ptr<net::Outbox> outbox;
    std::string packet;
};
thread_local std::vector<Gathered> gathered;

}  // namespace

void Outlet::answer_to(python::WorkerContext& ctx, const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to,
                       std::string_view tag, Ticket* ticket, const term::Term& reply) {
    if (ticket && !ticket->answer()) {
        ctx.release_held();
        unanswered(ticket);
        return;
    }
    Gathered out{outbox, {}};
    dist::append_reply(out.packet, reply_to, tag, reply);
    ctx.release_held();  // the reply may have pointed into Python objects until now
    stats_.answered(is_error_reply(reply));
    gathered.push_back(std::move(out));
}

// Consecutive replies to one connection go out in one send.
void Outlet::flush() {
    std::vector<std::string> packets;
    for (std::size_t i = 0; i < gathered.size();) {
        net::Outbox* outbox = gathered[i].outbox.get();
        std::size_t end = i;
        while (end < gathered.size() && gathered[end].outbox.get() == outbox) packets.push_back(std::move(gathered[end++].packet));
        std::size_t count = end - i;
        if (!outbox || outbox->send(packets) == net::Outbox::Sent::Closed)
            stats_.dropped_replies.fetch_add(count, std::memory_order_relaxed);
        // Counted out of flight only once handed to the connection: a
        // graceful shutdown waits for in_flight to reach 0, then for the
        // outboxes to empty, and must not close a socket before this send.
        stats_.in_flight.fetch_sub(count, std::memory_order_relaxed);
        packets.clear();
        i = end;
    }
    gathered.clear();
}

void Outlet::unanswered(const Ticket* ticket) {
    stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (ticket && ticket->cancelled()) stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
    else stats_.dropped_replies.fetch_add(1, std::memory_order_relaxed);
}

std::unique_ptr<python::PendingReply> Outlet::defer(const Job& job) {
    return std::make_unique<DeferredReply>(*this, job);
}

}  // namespace pycnode::pool
