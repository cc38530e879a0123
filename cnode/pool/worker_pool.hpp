// N Python worker threads fed by one bounded queue.
//
// A worker decodes the request and encodes the reply while detached from the
// interpreter, and attaches only while it runs Python; the finished reply
// packet goes to the loop thread through the reply queue.
#pragma once

#include "app/stats.hpp"
#include "pool/job.hpp"
#include "pool/job_queue.hpp"
#include "pool/reply_queue.hpp"

#include <thread>
#include <vector>

namespace pycnode::python {
class Runtime;
}

namespace pycnode::pool {

class WorkerPool {
public:
    WorkerPool(python::Runtime& runtime, unsigned workers, std::size_t queue_limit, Stats& stats,
               ReplyQueue<Reply>& replies);
    ~WorkerPool();  // stop()

    // False if the queue is full (or closed): the caller answers {error, overloaded}.
    bool submit(Job&& job);
    // Lets queued jobs finish, then joins every worker.
    void stop();

    std::size_t queue_length() const { return jobs_.size(); }
    unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

private:
    void run_worker(unsigned index);

    python::Runtime& runtime_;
    Stats& stats_;
    ReplyQueue<Reply>& replies_;
    JobQueue<Job> jobs_;
    std::vector<std::thread> threads_;
};

// Runs one job: decode (detached), handler (attaches as needed), encode
// (detached). Exposed for the stress tests.
Reply run_job(python::WorkerContext& ctx, const Job& job, bool& is_error);

}  // namespace pycnode::pool
