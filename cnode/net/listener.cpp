#include "net/listener.hpp"

#include "app/log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <algorithm>
#include <stdexcept>

namespace pycnode::net {

struct Listener::Pending {
    Pending(Listener& owner, const HandshakeIdentity& me, std::uint32_t challenge)
        : owner(owner), handshake(me, challenge) {
        tcp.data = this;
    }
    Listener& owner;
    uv_tcp_t tcp{};
    Handshake handshake;
    std::string address;
    std::uint64_t started_ms = 0;
    std::list<Pending*>::iterator at;
    bool listed = false;
    bool spoke = false;  // sent at least one byte
};

namespace {

constexpr int accept_backlog = 1024;

template <class Handle>
uv_handle_t* as_handle(Handle* h) {
    return reinterpret_cast<uv_handle_t*>(h);
}

std::string peer_address(const uv_tcp_t& tcp) {
    sockaddr_storage addr{};
    int len = sizeof addr;
    char text[INET6_ADDRSTRLEN] = "?";
    if (uv_tcp_getpeername(&tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        if (addr.ss_family == AF_INET)
            uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&addr), text, sizeof text);
        else if (addr.ss_family == AF_INET6)
            uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&addr), text, sizeof text);
    }
    return text;
}

// The peer must not be able to guess it: it is what proves the peer knows
// the cookie rather than replaying an old reply.
std::uint32_t fresh_challenge() {
    std::uint32_t value = 0;
    while (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {}
    return value;
}

void close_and_delete(uv_handle_t* handle) {
    uv_close(handle, [](uv_handle_t* h) { delete static_cast<Listener::Pending*>(h->data); });
}

}  // namespace

Listener::Listener(uv_loop_t* loop, HandshakeIdentity me, HandshakeLimits limits, Stats& stats, Accepted accepted)
    : loop_(loop), me_(std::move(me)), limits_(limits), stats_(stats), accepted_(std::move(accepted)) {}

void Listener::start(int listen_fd) {
    server_.data = this;
    deadline_timer_.data = this;
    if (int err = uv_tcp_init(loop_, &server_); err) throw std::runtime_error(uv_strerror(err));
    started_ = true;
    uv_timer_init(loop_, &deadline_timer_);
    if (int err = uv_tcp_open(&server_, listen_fd); err)
        throw std::runtime_error(fmt::format("cannot listen: {}", uv_strerror(err)));
    auto on_connection = [](uv_stream_t* s, int status) {
        if (status == 0) static_cast<Listener*>(s->data)->on_connection();
    };
    if (int err = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), accept_backlog, on_connection); err)
        throw std::runtime_error(fmt::format("cannot listen: {}", uv_strerror(err)));
    // A deadline is checked within a quarter of the timeout (at most 250 ms late).
    std::uint64_t every = std::clamp<std::uint64_t>(limits_.timeout_ms / 4, 10, 250);
    uv_timer_start(&deadline_timer_, [](uv_timer_t* t) { static_cast<Listener*>(t->data)->expire(); }, every,
                   every);
}

void Listener::stop() {
    if (stopped_ || !started_) return;
    stopped_ = true;
    uv_close(as_handle(&server_), nullptr);
    uv_close(as_handle(&deadline_timer_), nullptr);
    while (!pending_.empty()) drop(*pending_.front());
}

void Listener::on_connection() {
    auto* p = new Pending(*this, me_, fresh_challenge());
    uv_tcp_init(loop_, &p->tcp);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&server_), reinterpret_cast<uv_stream_t*>(&p->tcp)) != 0) {
        close_and_delete(as_handle(&p->tcp));
        return;
    }
    p->address = peer_address(p->tcp);
    make_room(p->address);
    p->started_ms = uv_now(loop_);
    p->at = pending_.insert(pending_.end(), p);
    p->listed = true;
    ++per_address_[p->address];
    stats_.handshakes_pending.store(pending_.size(), std::memory_order_relaxed);
    auto alloc = [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto& owner = static_cast<Pending*>(h->data)->owner;
        *buf = uv_buf_init(owner.read_buffer_.data(), static_cast<unsigned>(owner.read_buffer_.size()));
    };
    auto read = [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
        auto* pending = static_cast<Pending*>(s->data);
        pending->owner.on_read(*pending, nread);
    };
    uv_read_start(reinterpret_cast<uv_stream_t*>(&p->tcp), alloc, read);
}

// Called before a new pending handshake is listed: drops the oldest one of
// its address, or the oldest of all, if a bound is reached.
void Listener::make_room(const std::string& address) {
    auto same = per_address_.find(address);
    if (same != per_address_.end() && same->second >= limits_.max_pending_per_address) {
        auto oldest = std::find_if(pending_.begin(), pending_.end(),
                                   [&](const Pending* p) { return p->address == address; });
        stats_.handshakes_evicted.fetch_add(1, std::memory_order_relaxed);
        log::warning("handshake with {} dropped: {} handshakes already pending from that address", address,
                     limits_.max_pending_per_address);
        drop(**oldest);
    }
    if (pending_.size() >= limits_.max_pending) {
        Pending& oldest = *pending_.front();
        stats_.handshakes_evicted.fetch_add(1, std::memory_order_relaxed);
        log::warning("handshake with {} dropped: {} handshakes already pending", oldest.address,
                     limits_.max_pending);
        drop(oldest);
    }
}

void Listener::on_read(Pending& p, ssize_t nread) {
    if (nread == 0) return;
    if (nread == UV_EOF && !p.spoke) {
        // A port probe (pycnode:check, a load balancer's health check):
        // worth a line when debugging, not a warning.
        log::debug("connection from {} closed before its handshake began", p.address);
        return drop(p);
    }
    if (nread < 0)
        return refuse(p, nread == UV_EOF ? "it closed the connection during the handshake"
                                         : uv_strerror(static_cast<int>(nread)));
    p.spoke = true;
    std::string out;
    auto state = p.handshake.feed({read_buffer_.data(), static_cast<std::size_t>(nread)}, out);
    if (!out.empty()) {
        // A few hundred bytes on a fresh socket: the kernel takes them at once.
        uv_buf_t buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
        int wrote = uv_try_write(reinterpret_cast<uv_stream_t*>(&p.tcp), &buf, 1);
        if (wrote != static_cast<int>(out.size())) return refuse(p, "it did not take our handshake messages");
    }
    if (state == Handshake::State::Failed) return refuse(p, p.handshake.failure());
    if (state == Handshake::State::Done) finish(p);
}

// The socket goes on as a Connection: libuv gets a duplicate of it, since
// this handle's close closes the original.
void Listener::finish(Pending& p) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&p.tcp));
    uv_os_fd_t fd = -1;
    uv_fileno(as_handle(&p.tcp), &fd);
    int served = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    std::string name = p.handshake.peer_name();
    std::string address = p.address;
    drop(p);
    if (served < 0) {
        log::error("connection from {}: dup failed: {}", name, std::strerror(errno));
        return;
    }
    log::info("connection from {} ({}) accepted", name, address);
    accepted_(served, std::move(name));
}

void Listener::refuse(Pending& p, const std::string& why) {
    stats_.handshakes_refused.fetch_add(1, std::memory_order_relaxed);
    log::warning("handshake with {} refused: {}", p.address, why);
    drop(p);
}

void Listener::drop(Pending& p) {
    if (!p.listed) return;
    p.listed = false;
    pending_.erase(p.at);
    auto count = per_address_.find(p.address);
    if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
    stats_.handshakes_pending.store(pending_.size(), std::memory_order_relaxed);
    close_and_delete(as_handle(&p.tcp));
}

// Oldest first: the list is in accept order, so the walk stops at the first
// handshake still within its deadline.
void Listener::expire() {
    std::uint64_t now = uv_now(loop_);
    while (!pending_.empty() && now - pending_.front()->started_ms >= limits_.timeout_ms) {
        Pending& p = *pending_.front();
        stats_.handshakes_refused.fetch_add(1, std::memory_order_relaxed);
        log::warning("handshake with {} timed out after {} ms", p.address, limits_.timeout_ms);
        drop(p);
    }
}

}  // namespace pycnode::net
