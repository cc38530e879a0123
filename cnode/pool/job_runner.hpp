// Runs one job on a worker, event or blocking: decode the request, call its
// handler, answer through the Outlet, unless the handler deferred the reply
// (the request waits on the event loop) or handed the job to the blocking
// threads. Also the JobHooks the handler sees for that job.
#pragma once

#include "pool/job.hpp"
#include "pool/outlet.hpp"
#include "python/pending_reply.hpp"

#include <functional>

namespace pycnode::pool {

class JobRunner final : public python::JobHooks {
public:
    // `to_blocking`: null on a blocking thread; else takes a job over.
    JobRunner(Outlet& outlet, bool can_defer, std::function<bool(Job&&)> to_blocking)
        : outlet_(outlet), can_defer_(can_defer), to_blocking_(std::move(to_blocking)) {}

    // `worker`: the event worker's index for cancel notices, -1 for none.
    // Drops the job if its caller gave up before it started; leaves it to
    // its outbox if that is over its bound (Outbox::hold).
    void run(python::WorkerContext& ctx, Job& job, int worker);

    std::unique_ptr<python::PendingReply> defer_reply() override;
    bool hand_to_blocking() override;

private:
    Outlet& outlet_;
    const bool can_defer_;
    std::function<bool(Job&&)> to_blocking_;
    Job* job_ = nullptr;
    bool deferred_ = false;
    bool handed_ = false;
};

}  // namespace pycnode::pool
