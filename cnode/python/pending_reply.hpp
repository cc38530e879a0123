// A reply a handler sends later: the request waits on the worker's event
// loop (an ASGI app or an async function awaiting I/O) and the worker goes
// on with other jobs meanwhile.
//
// The worker pool makes one for the job being run when its handler asks
// (WorkerContext::defer_reply); it carries what the reply needs (the
// caller's pid and tag, the request's ticket) and outlives the job's turn.
#pragma once

#include "term/term.hpp"

#include <chrono>
#include <memory>
#include <string_view>

namespace pycnode::net {
class Outbox;
}

namespace pycnode::python {

class WorkerContext;

class PendingReply {
public:
    virtual ~PendingReply() = default;
    // Encodes `reply` and sends it, unless the caller gave up (then it is
    // counted as cancelled). Once only.
    virtual void send(WorkerContext& ctx, const term::Term& reply) = 0;
    // True once the caller gave up: nobody will read the reply.
    virtual bool abandoned() const = 0;
    // Identifies the request in cancel notices (WorkerContext::cancel_waiting).
    virtual const void* key() const = 0;
    // When the caller gets {error, timeout} (max(): never).
    virtual std::chrono::steady_clock::time_point deadline() const = 0;
    // Sends {error, timeout} now, in place of the reply (same rules as send).
    virtual void time_out(WorkerContext& ctx) = 0;
};

}  // namespace pycnode::python

namespace pycnode::python {

// Who sent the job being run: its pid (external format, viewing the job's
// packet) and the connection its reply goes to. Empty outside a job.
struct Caller {
    std::string_view pid;
    std::shared_ptr<net::Outbox> outbox;
};

// What the worker running a job offers its handler (WorkerContext::job()).
class JobHooks {
public:
    virtual ~JobHooks() = default;
    // The reply of the job being run, to be sent later; null if this worker
    // cannot keep requests waiting (a blocking thread runs them to the end).
    virtual std::unique_ptr<PendingReply> defer_reply() = 0;
    // The job is not for this worker: run it on a blocking thread instead
    // (a sync call reaching an event worker). False if this worker is one.
    virtual bool hand_to_blocking() = 0;
    // The job's caller: object handles are owned by it (handles.hpp).
    virtual Caller caller() = 0;
};

}  // namespace pycnode::python
