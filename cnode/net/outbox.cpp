#include "net/outbox.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

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
    for (std::size_t i = first; i < packets.size(); ++i) {
        if (i == first && sent > 0) packets[i].erase(0, sent);
        backlog_.push_back(std::move(packets[i]));
    }
}

bool Outbox::take_backlog(std::vector<std::string>& out) {
    std::lock_guard lock(mutex_);
    if (closed_ || backlog_.empty()) return false;
    out.swap(backlog_);
    backlog_.clear();
    loop_writing_ = true;
    wrote_.store(true, std::memory_order_relaxed);  // the loop writes it: the peer hears from us
    return true;
}

bool Outbox::loop_write_done() {
    std::lock_guard lock(mutex_);
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
}

}  // namespace pycnode::net
