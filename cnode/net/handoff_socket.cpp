#include "net/handoff_socket.hpp"

#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <atomic>
#include <cstring>
#include <string>

namespace pycnode::net {
namespace {

// A connection context is its descriptor, tagged with the low bit so that it
// cannot be mistaken for a HandoffSlot pointer (which is aligned).
void* fd_ctx(int fd) { return reinterpret_cast<void*>((static_cast<std::intptr_t>(fd) << 1) | 1); }
bool is_fd_ctx(void* ctx) { return (reinterpret_cast<std::intptr_t>(ctx) & 1) != 0; }
int ctx_fd(void* ctx) { return static_cast<int>(reinterpret_cast<std::intptr_t>(ctx) >> 1); }

int on_socket(void** ctx, void* setup_ctx) {
    *ctx = setup_ctx;
    return 0;
}

int on_close(void* ctx) {
    if (is_fd_ctx(ctx)) ::close(ctx_fd(ctx));
    return 0;
}

// Nothing to bind: the real listen socket belongs to the accepting thread.
int on_listen(void*, void*, int*, int) { return 0; }

int on_accept(void** ctx, void* addr, int* len, unsigned) {
    auto* slot = static_cast<HandoffSlot*>(*ctx);
    std::uint64_t count;
    if (::read(slot->event_fd, &count, sizeof count) < 0 && errno != EAGAIN) return errno;
    int fd = slot->accepted_fd;
    slot->accepted_fd = -1;
    if (fd < 0) return EAGAIN;
    socklen_t size = static_cast<socklen_t>(*len);
    if (::getpeername(fd, static_cast<sockaddr*>(addr), &size) == 0) *len = static_cast<int>(size);
    *ctx = fd_ctx(fd);
    return 0;
}

int on_connect(void*, void*, int, unsigned) { return EOPNOTSUPP; }

int on_writev(void* ctx, const void* iov, int iovcnt, ssize_t* len, unsigned) {
    ssize_t n = ::writev(ctx_fd(ctx), static_cast<const iovec*>(iov), iovcnt);
    if (n < 0) return errno;
    *len = n;
    return 0;
}

// DFLAG_DIST_MONITOR_NAME: "monitor by registered name". ei does not offer
// it, so an Erlang node monitoring {pycnode, Node} (gen_server:call does)
// keeps the monitor to itself and pycnode never learns that a caller gave
// up. Offered, the node sends MONITOR_P before the call and DEMONITOR_P when
// the caller stops waiting (reply, timeout, exit), which is how pycnode
// cancels abandoned requests. The flag is not covered by the digest.
constexpr std::uint64_t dflag_dist_monitor_name = 0x20;
std::atomic<bool> monitor_name_offered{true};

// ei's challenge ('N': 8 flag bytes at offset 3; the older 'n': 4 at 5,
// after the 2-byte length header) with the flag added; other writes of the
// handshake (status 's', ack 'a') pass as they are.
void offer_monitor_name(std::string& msg) {
    if (!monitor_name_offered.load(std::memory_order_relaxed)) return;
    std::size_t at = msg.size() >= 11 && msg[2] == 'N' ? 3 : msg.size() >= 9 && msg[2] == 'n' ? 5 : 0;
    std::size_t width = msg[2] == 'N' ? 8 : 4;
    if (at == 0) return;
    std::uint64_t flags = 0;
    for (std::size_t i = 0; i < width; ++i) flags = flags << 8 | static_cast<unsigned char>(msg[at + i]);
    flags |= dflag_dist_monitor_name;
    for (std::size_t i = width; i-- > 0; flags >>= 8) msg[at + i] = static_cast<char>(flags & 0xff);
}

int on_write(void* ctx, const char* buf, ssize_t* len, unsigned) {
    std::string msg(buf, static_cast<std::size_t>(*len));
    offer_monitor_name(msg);
    ssize_t n = ::write(ctx_fd(ctx), msg.data(), msg.size());
    if (n < 0) return errno;
    *len = n;
    return 0;
}

int on_read(void* ctx, char* buf, ssize_t* len, unsigned) {
    ssize_t n = ::read(ctx_fd(ctx), buf, static_cast<std::size_t>(*len));
    if (n < 0) return errno;
    *len = n;
    return 0;
}

int on_header_size(void*, int* size) {
    *size = 2;  // plain TCP distribution; 4 is for TLS
    return 0;
}

int on_handshake_complete(void*) { return 0; }

int on_get_fd(void* ctx, int* fd) {
    *fd = is_fd_ctx(ctx) ? ctx_fd(ctx) : static_cast<HandoffSlot*>(ctx)->event_fd;
    return 0;
}

}  // namespace

void offer_caller_monitors(bool offer) { monitor_name_offered.store(offer, std::memory_order_relaxed); }

ei_socket_callbacks& handoff_callbacks() {
    // flags 0: ei itself waits (with the handshake timeout) on each
    // descriptor on_get_fd gives before reading, writing or accepting.
    static ei_socket_callbacks callbacks{
        0,        on_socket, on_close, on_listen,      on_accept,
        on_connect, on_writev, on_write, on_read,      on_header_size,
        on_handshake_complete, on_handshake_complete, on_get_fd,
    };
    return callbacks;
}

int open_handoff(ei_cnode& ec, HandoffSlot& slot) {
    slot.event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (slot.event_fd < 0) return -1;
    struct in_addr any{};
    int port = 0;
    // Registers the eventfd in ei's socket table as our "listen socket".
    return ei_xlisten(&ec, &any, &port, 1);
}

void hand_off(HandoffSlot& slot, int fd) {
    slot.accepted_fd = fd;
    std::uint64_t one = 1;
    (void)!::write(slot.event_fd, &one, sizeof one);
}

void close_handoff(int listen_fd, HandoffSlot& slot) {
    if (listen_fd >= 0) ei_close_connection(listen_fd);  // forgets it in ei's table
    if (slot.event_fd >= 0) ::close(slot.event_fd);
    slot.event_fd = -1;
}

}  // namespace pycnode::net
