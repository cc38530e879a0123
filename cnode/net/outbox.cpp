#include "net/outbox.hpp"

#include "pool/job.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace pycnode::net {
namespace {

constexpr std::size_t max_iov = 64;

// One sendmsg of up to max_iov packets; bytes sent, or -1 with errno.
ssize_t send_some(int fd, const std::vector<std::string>& packets, std::size_t first, std::size_t count) {
    iovec iov[max_iov];
    for (std::size_t i = 0; i < count; ++i) {
        iov[i].iov_base = const_cast<char*>(packets[first + i].data());
        iov[i].iov_len = packets[first + i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n;
    do n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

}  // namespace

Outbox::Outbox(int fd, std::function<void()> wake_loop, std::size_t max_queued,
               std::atomic<std::uint64_t>* queued_total)
    : fd_(fd), wake_loop_(std::move(wake_loop)), max_queued_(max_queued), queued_total_(queued_total) {}

Outbox::~Outbox() {
    std::lock_guard lock(mutex_);
    count_locked(0, backlog_bytes_ + writing_bytes_);
}

Outbox::Sent Outbox::send(std::string packet) {
    std::vector<std::string> one;
    one.push_back(std::move(packet));
    return send(one);
}

Outbox::Sent Outbox::send(std::vector<std::string>& packets) {
    if (packets.empty()) return Sent::Now;
    bool wake = false;
    Sent result = Sent::Now;
    {
        std::lock_guard lock(mutex_);
        if (closed_ || error_.load(std::memory_order_relaxed)) return Sent::Closed;
        if (loop_writing_ || !backlog_.empty()) {
            queue_locked(packets, 0, 0);
            return Sent::Queued;
        }
        std::size_t first = 0;
        while (first < packets.size()) {
            std::size_t batch_end = first + std::min(max_iov, packets.size() - first);
            ssize_t n = send_some(fd_, packets, first, batch_end - first);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                error_.store(errno, std::memory_order_relaxed);
                wake = true;  // the loop closes the connection
                result = Sent::Closed;
                break;
            }
            std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
            if (sent > 0) wrote_.store(true, std::memory_order_relaxed);
            while (first < batch_end && sent >= packets[first].size()) sent -= packets[first++].size();
            if (first < batch_end) {
                // The socket is full: the rest waits for the loop, which
                // writes it when the socket takes more.
                queue_locked(packets, first, sent);
                loop_writing_ = true;
                wake = true;
                result = Sent::Queued;
                break;
            }
        }
    }
    if (wake) wake_loop_();
    return result;
}

// Under mutex_: packets[first..] go to the backlog, the first without its
// `sent` bytes already written.
void Outbox::queue_locked(std::vector<std::string>& packets, std::size_t first, std::size_t sent) {
    std::size_t added = 0;
    for (std::size_t i = first; i < packets.size(); ++i) {
        if (i == first && sent > 0) packets[i].erase(0, sent);
        added += packets[i].size();
        backlog_.push_back(std::move(packets[i]));
    }
    backlog_bytes_ += added;
    count_locked(added, 0);
}

// Under mutex_: keeps the node-wide total, the peak and the bound's state
// in step with bytes that start or stop waiting. Over the bound past
// max_queued_, under it again at half: a peer that reads slowly is not
// paused and resumed for every packet.
void Outbox::count_locked(std::size_t added, std::size_t removed) {
    if (queued_total_ && added != removed) {
        if (added > removed) queued_total_->fetch_add(added - removed, std::memory_order_relaxed);
        else queued_total_->fetch_sub(removed - added, std::memory_order_relaxed);
    }
    std::size_t queued = backlog_bytes_ + writing_bytes_;
    peak_bytes_ = std::max(peak_bytes_, queued);
    if (queued > max_queued_) over_.store(true, std::memory_order_relaxed);
    else if (queued <= max_queued_ / 2) over_.store(false, std::memory_order_relaxed);
}

bool Outbox::take_backlog(std::vector<std::string>& out) {
    std::lock_guard lock(mutex_);
    if (closed_ || backlog_.empty()) return false;
    out.swap(backlog_);
    backlog_.clear();
    writing_bytes_ += std::exchange(backlog_bytes_, 0);
    loop_writing_ = true;
    wrote_.store(true, std::memory_order_relaxed);  // the loop writes it: the peer hears from us
    return true;
}

bool Outbox::loop_write_done() {
    std::lock_guard lock(mutex_);
    count_locked(0, std::exchange(writing_bytes_, 0));
    if (!backlog_.empty() && !closed_) return true;
    loop_writing_ = false;
    return false;
}

bool Outbox::drained() {
    std::lock_guard lock(mutex_);
    return closed_ || (backlog_.empty() && !loop_writing_);
}

void Outbox::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    backlog_.clear();
    // The loop's write in progress is cancelled with the handle: nothing waits any more.
    count_locked(0, std::exchange(backlog_bytes_, 0) + std::exchange(writing_bytes_, 0));
}

bool Outbox::hold(pool::Job& job) {
    if (!over_bound()) return false;
    std::lock_guard lock(mutex_);
    if (closed_ || !over_.load(std::memory_order_relaxed)) return false;
    held_.push_back(std::move(job));
    return true;
}

void Outbox::take_held(std::vector<pool::Job>& out) {
    std::lock_guard lock(mutex_);
    if (over_.load(std::memory_order_relaxed) && !closed_) return;
    for (auto& job : held_) out.push_back(std::move(job));
    held_.clear();
}

std::size_t Outbox::queued_bytes() {
    std::lock_guard lock(mutex_);
    return backlog_bytes_ + writing_bytes_;
}

std::size_t Outbox::peak_queued_bytes() {
    std::lock_guard lock(mutex_);
    return peak_bytes_;
}

}  // namespace pycnode::net
