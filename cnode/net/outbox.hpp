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
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace pycnode::net {

class Outbox {
public:
    // `wake_loop`: asks the loop thread to call take_backlog() (any thread).
    Outbox(int fd, std::function<void()> wake_loop) : fd_(fd), wake_loop_(std::move(wake_loop)) {}

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
    void close();
    // Loop thread: whether anything was written since the last call (ticks).
    bool take_wrote() { return wrote_.exchange(false, std::memory_order_relaxed); }
    // The first socket error a writer met, or 0 (the loop closes the connection).
    int error() const { return error_.load(std::memory_order_relaxed); }

private:
    void queue_locked(std::vector<std::string>& packets, std::size_t first, std::size_t sent);

    const int fd_;
    std::function<void()> wake_loop_;
    std::mutex mutex_;
    std::vector<std::string> backlog_;  // under mutex_
    bool loop_writing_ = false;         // under mutex_: the loop owns the order until its write is done
    bool closed_ = false;               // under mutex_
    std::atomic<bool> wrote_{false};
    std::atomic<int> error_{0};
};

}  // namespace pycnode::net
