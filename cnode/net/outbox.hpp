// The writing side of one connection, shared by the loop thread and the
// workers: whoever has a packet sends it at once, from its own thread,
// unless bytes are already waiting; then it queues behind them and the
// loop thread writes the queue when the socket takes more.
//
// Why workers write: a reply handed to the loop thread costs a wake-up of
// another thread (an eventfd write, a futex, a scheduler hop) before its
// first byte leaves; written by the worker that made it, it leaves at once.
// The lock serialises whole packets, so packets of different workers never
// interleave; MSG_DONTWAIT keeps every writer from blocking on a slow peer.
//
// What waits is bounded: past `max_queued` bytes the outbox is over its
// bound until the loop's writes bring it down to half of that. Meanwhile
// the loop stops reading the connection, and a worker about to start one
// of its requests leaves the job here (hold) instead of making one more
// reply for a peer that does not read; the loop resubmits the held jobs
// once the outbox is under its bound again (take_held).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace pycnode::pool {
struct Job;
}

namespace pycnode::net {

class Outbox {
public:
    // `wake_loop`: asks the loop thread to call take_backlog() (any thread).
    // `queued_total`: a node-wide count of queued bytes this outbox adds its
    // own to (may be null).
    Outbox(int fd, std::function<void()> wake_loop, std::size_t max_queued = SIZE_MAX,
           std::atomic<std::uint64_t>* queued_total = nullptr);
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    enum class Sent { Now, Queued, Closed };
    // Any thread. Sends `packets` (each whole, in order), or queues what the
    // socket does not take at once. Closed: the connection is gone (closed,
    // or a socket error other than "would block" met now or before); the
    // packets are lost, though some may have left before the error.
    Sent send(std::vector<std::string>& packets);
    Sent send(std::string packet);

    // Loop thread. Moves the queued packets into `out` for one uv_write and
    // marks the loop as writing (others queue) until loop_write_done(). False
    // if nothing is queued.
    bool take_backlog(std::vector<std::string>& out);
    // Loop thread: the uv_write finished. True if more was queued meanwhile
    // (take it again); else direct sends resume.
    bool loop_write_done();

    // Loop thread: nothing queued and no loop write in progress (a graceful
    // shutdown closes the socket only then).
    bool drained();
    // Loop thread, before the socket is closed: later sends are dropped.
    // Held jobs stay for take_held().
    void close();

    // Any thread. Read without the lock: a writer that misses a change by
    // a moment makes one reply more, which only queues.
    bool over_bound() const { return over_.load(std::memory_order_relaxed); }
    // Any thread, with a job about to start whose reply comes here: if the
    // outbox is over its bound (and open), keeps the job and returns true.
    bool hold(pool::Job& job);
    // Loop thread: moves the held jobs to `out` once the outbox is under its
    // bound again, or closed; else leaves them.
    void take_held(std::vector<pool::Job>& out);
    // Bytes waiting: queued, or in the loop's write that has not completed.
    std::size_t queued_bytes();
    // The most bytes that ever waited at once.
    std::size_t peak_queued_bytes();
    // Loop thread: whether anything was written since the last call (ticks).
    bool take_wrote() { return wrote_.exchange(false, std::memory_order_relaxed); }
    // The first socket error a writer met, or 0 (the loop closes the connection).
    int error() const { return error_.load(std::memory_order_relaxed); }

private:
    void queue_locked(std::vector<std::string>& packets, std::size_t first, std::size_t sent);
    void count_locked(std::size_t added, std::size_t removed);

    const int fd_;
    std::function<void()> wake_loop_;
    const std::size_t max_queued_;
    std::atomic<std::uint64_t>* const queued_total_;
    std::mutex mutex_;
    std::vector<std::string> backlog_;  // under mutex_
    std::size_t backlog_bytes_ = 0;     // under mutex_
    std::size_t writing_bytes_ = 0;     // under mutex_: taken by the loop, its write not yet done
    std::size_t peak_bytes_ = 0;        // under mutex_
    std::vector<pool::Job> held_;       // under mutex_
    bool loop_writing_ = false;         // under mutex_: the loop owns the order until its write is done
    bool closed_ = false;               // under mutex_
    std::atomic<bool> over_{false};     // written under mutex_
    std::atomic<bool> wrote_{false};
    std::atomic<int> error_{0};
};

}  // namespace pycnode::net
