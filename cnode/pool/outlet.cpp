#include "pool/outlet.hpp"

#include "dist/gen_call.hpp"
#include "python/worker_context.hpp"

#include <atomic>
#include <deque>
#include <mutex>

namespace pycnode::pool {
namespace {

bool is_error_reply(const term::Term& reply) {
    return reply.kind == term::Kind::Tuple && !reply.items.empty() && reply.items[0].is_atom("error");
}

term::Term timeout_reply() { return term::Term::tuple_of(term::Term::make_atom("error"), term::Term::make_atom("timeout")); }

// What a deferred reply needs of its job: the caller's pid and tag (copied:
// the request packet, body included, is released when the job's turn ends).
// Listed in its worker's ParkedReplies while it waits; what the watchdog
// reads there (everything but sent_) is fixed at construction.
class DeferredReply final : public python::PendingReply, public ParkedReplies::Entry {
public:
    DeferredReply(Outlet& outlet, const Job& job, ParkedReplies* parked)
        : outlet_(outlet), outbox_(job.outbox), reply_to_(job.reply_to.in(job.packet)),
          tag_(job.tag.in(job.packet)), ticket_(job.ticket), deadline_(job.deadline), parked_(parked) {
        if (parked_) parked_->add(*this);
    }

    ~DeferredReply() override {
        if (parked_) parked_->remove(*this);
        if (!sent_) outlet_.unanswered(ticket_.get());
    }

    void send(python::WorkerContext& ctx, const term::Term& reply) override {
        if (sent_) return;
        sent_ = true;
        outlet_.answer_to(ctx, outbox_, reply_to_, tag_, ticket_.get(), reply);
    }

    void time_out(python::WorkerContext& ctx) override {
        if (sent_) return;
        sent_ = true;
        if (outlet_.answer_to(ctx, outbox_, reply_to_, tag_, ticket_.get(), timeout_reply()))
            outlet_.stats().timed_out.fetch_add(1, std::memory_order_relaxed);
    }

    bool abandoned() const override { return ticket_ && ticket_->cancelled(); }
    const void* key() const override { return ticket_ ? static_cast<const void*>(ticket_.get()) : this; }
    std::chrono::steady_clock::time_point deadline() const override { return deadline_; }

    // The watchdog's side (any thread): see Outlet::expire_parked.
    const std::shared_ptr<net::Outbox>& outbox() const { return outbox_; }
    std::string_view reply_to() const { return reply_to_; }
    std::string_view tag() const { return tag_; }
    Ticket* ticket() const { return ticket_.get(); }

private:
    Outlet& outlet_;
    const std::shared_ptr<net::Outbox> outbox_;
    const std::string reply_to_, tag_;
    const std::shared_ptr<Ticket> ticket_;
    const std::chrono::steady_clock::time_point deadline_;
    ParkedReplies* const parked_;
    bool sent_ = false;
};

// The replies a worker thread made since its last flush, in order.
struct Gathered {
    std::shared_ptr<net::Outbox> outbox;
    std::string packet;
};
thread_local std::vector<Gathered> gathered;
thread_local std::size_t gathered_bytes = 0;

// How many replies each worker thread holds between answer_to() and
// flush(), for a graceful shutdown to wait for (replies_held). One counter
// per thread, on its own cache line: a plain store per reply, no sharing.
struct alignas(64) HeldCount {
    std::atomic<std::size_t> replies{0};
};
std::mutex held_mutex;
std::deque<HeldCount> held_counts;  // grows by one per worker thread; never moves an element
thread_local HeldCount* held_by_this_thread = nullptr;

HeldCount& held_count() {
    if (!held_by_this_thread) {
        std::lock_guard lock(held_mutex);
        held_by_this_thread = &held_counts.emplace_back();
    }
    return *held_by_this_thread;
}

}  // namespace

bool Outlet::answer_to(python::WorkerContext& ctx, const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to,
                       std::string_view tag, Ticket* ticket, const term::Term& reply) {
    if (ticket && !ticket->answer()) {
        ctx.release_held();
        unanswered(ticket);
        return false;
    }
    Gathered out{outbox, {}};
    dist::append_reply(out.packet, reply_to, tag, reply);
    ctx.release_held();  // the reply may have pointed into Python objects until now
    stats_.answered(is_error_reply(reply));
    gathered_bytes += out.packet.size();
    gathered.push_back(std::move(out));
    // Held first, out of flight second (release): whoever sees in_flight
    // drop also sees this thread holding the reply until flush() sends it.
    held_count().replies.store(gathered.size(), std::memory_order_relaxed);
    stats_.in_flight.fetch_sub(1, std::memory_order_release);
    return true;
}

void Outlet::answer_timeout(python::WorkerContext& ctx, const Job& job) {
    if (answer(ctx, job, timeout_reply())) stats_.timed_out.fetch_add(1, std::memory_order_relaxed);
}

bool Outlet::time_out_stuck(const Job& job) {
    return time_out_now(job.outbox, job.reply_to.in(job.packet), job.tag.in(job.packet), job.ticket.get());
}

std::size_t Outlet::expire_parked(ParkedReplies& parked, std::chrono::steady_clock::time_point now) {
    std::size_t answered = 0;
    parked.for_each([&](ParkedReplies::Entry& entry) {
        const auto& reply = static_cast<const DeferredReply&>(entry);
        if (reply.deadline() <= now && time_out_now(reply.outbox(), reply.reply_to(), reply.tag(), reply.ticket()))
            ++answered;
    });
    return answered;
}

// The ticket decides: whoever answers it first sends; the other side's reply
// is dropped uncounted (unanswered() sees it answered).
bool Outlet::time_out_now(const std::shared_ptr<net::Outbox>& outbox, std::string_view reply_to, std::string_view tag,
                          Ticket* ticket) {
    if (!ticket || !ticket->answer()) return false;
    std::string packet;
    dist::append_reply(packet, reply_to, tag, timeout_reply());
    stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    stats_.answered(true);
    stats_.timed_out.fetch_add(1, std::memory_order_relaxed);
    if (!outbox || outbox->send(std::move(packet)) == net::Outbox::Sent::Closed)
        stats_.dropped_replies.fetch_add(1, std::memory_order_relaxed);
    return true;
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
        packets.clear();
        i = end;
    }
    if (!gathered.empty()) held_count().replies.store(0, std::memory_order_release);
    gathered.clear();
    gathered_bytes = 0;
}

std::size_t Outlet::unsent_bytes() const { return gathered_bytes; }

bool Outlet::replies_held() const {
    std::lock_guard lock(held_mutex);
    for (const HeldCount& h : held_counts)
        if (h.replies.load(std::memory_order_acquire) != 0) return true;
    return false;
}

void Outlet::unanswered(const Ticket* ticket) {
    if (ticket && ticket->answered()) return;  // the watchdog answered it ({error, timeout}) and counted it
    stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (ticket && ticket->cancelled()) stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
    else stats_.dropped_replies.fetch_add(1, std::memory_order_relaxed);
}

std::unique_ptr<python::PendingReply> Outlet::defer(const Job& job, ParkedReplies* parked) {
    return std::make_unique<DeferredReply>(*this, job, parked);
}

}  // namespace pycnode::pool
