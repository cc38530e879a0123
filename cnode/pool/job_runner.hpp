// Runs one job on a worker, event or blocking: decode the request, call its
// handler, answer through the Outlet, unless the handler deferred the reply
// (the request waits on the event loop) or handed the job to the blocking
// threads. Also the JobHooks the handler sees for that job.
//
// The handler runs as a step of the worker's BusySlot, with the request's
// deadline (pool/deadline.hpp): past it, the watchdog marks the step stuck.
// A job already past its deadline when it is taken is answered
// {error, timeout} without running.
#pragma once

#include "pool/busy_slot.hpp"
#include "pool/job.hpp"
#include "pool/outlet.hpp"
#include "pool/parked_replies.hpp"
#include "python/pending_reply.hpp"

#include <cstdint>
#include <functional>

namespace pycnode::pool {

class JobRunner final : public python::JobHooks {
public:
    // `to_blocking`: null on a blocking thread; else takes a job over.
    // `parked`: where deferred replies wait (null where none can).
    // `request_timeout_ms`: the deadline of requests that set none (0: none).
    JobRunner(Outlet& outlet, bool can_defer, std::function<bool(Job&&)> to_blocking, BusySlot& slot,
              ParkedReplies* parked, std::uint32_t request_timeout_ms)
        : outlet_(outlet), can_defer_(can_defer), to_blocking_(std::move(to_blocking)), slot_(slot), parked_(parked),
          request_timeout_ms_(request_timeout_ms) {}

    // `worker`: the event worker's index for cancel notices, -1 for none.
    // Drops the job if its caller gave up before it started; leaves it to
    // its outbox if that is over its bound (Outbox::hold).
    void run(python::WorkerContext& ctx, Job& job, int worker);

    std::unique_ptr<python::PendingReply> defer_reply() override;
    bool hand_to_blocking() override;
    python::Caller caller() override;

private:
    bool run_handler(python::WorkerContext& ctx, Job& job, const term::Term& request, term::ByteArena& arena,
                     term::Term& reply, int worker);

    Outlet& outlet_;
    const bool can_defer_;
    std::function<bool(Job&&)> to_blocking_;
    BusySlot& slot_;
    ParkedReplies* const parked_;
    const std::uint32_t request_timeout_ms_;
    Job* job_ = nullptr;
    bool deferred_ = false;
    bool handed_ = false;
};

}  // namespace pycnode::pool
