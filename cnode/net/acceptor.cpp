#include "net/acceptor.hpp"

#include "app/log.hpp"
#include "net/handoff_socket.hpp"
#include "net/node_name.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace pycnode::net {
namespace {

constexpr int poll_interval_ms = 200;        // how quickly the acceptor notices stop()
constexpr std::size_t max_waiting_sockets = 256;

std::string peer_address(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    char text[INET_ADDRSTRLEN] = "?";
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
    return text;
}

const char* failure_reason(int err) {
    if (err == ETIMEDOUT) return "timed out";
    if (err == EIO) return "refused (wrong cookie, or not a distribution peer)";
    return std::strerror(err);
}

}  // namespace

Acceptor::Acceptor(Node& node, unsigned handshake_timeout_ms, unsigned handshake_threads, Stats& stats, Adopt adopt)
    : node_(node), timeout_ms_(handshake_timeout_ms), stats_(stats), adopt_(std::move(adopt)),
      accepted_(max_waiting_sockets) {
    for (unsigned i = 0; i < handshake_threads; ++i) handshakers_.emplace_back([this, i] { run_handshakes(i); });
    acceptor_ = std::thread([this] { accept_connections(); });
}

Acceptor::~Acceptor() { stop(); }

void Acceptor::stop() {
    if (stopping_.exchange(true)) return;
    if (acceptor_.joinable()) acceptor_.join();
    accepted_.close();
    for (auto& t : handshakers_) t.join();
}

void Acceptor::accept_connections() {
    pthread_setname_np(pthread_self(), "acceptor");
    pollfd pfd{node_.listen_fd(), POLLIN, 0};
    while (!stopping_.load()) {
        if (::poll(&pfd, 1, poll_interval_ms) <= 0) continue;
        int fd = ::accept4(node_.listen_fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                log::error("cannot accept a connection: {}", std::strerror(errno));
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            continue;  // EAGAIN: the peer gave up before we took it
        }
        int queued = fd;
        if (!accepted_.push(std::move(queued))) {
            log::warning("connection from {} refused: {} handshakes already waiting", peer_address(fd),
                         max_waiting_sockets);
            ::close(fd);
        }
    }
}

void Acceptor::run_handshakes(unsigned index) {
    pthread_setname_np(pthread_self(), fmt::format("handshake-{}", index).c_str());
    HandoffSlot slot;
    ei_cnode ec{};
    int listen_fd = -1;
    if (!node_.clone_identity(ec, handoff_callbacks(), &slot) || (listen_fd = open_handoff(ec, slot)) < 0)
        log::error("handshake thread {} cannot start: erl_errno {}", index, erl_errno);
    int fd;
    while (accepted_.pop(fd)) {
        if (listen_fd < 0 || stopping_.load())
            ::close(fd);
        else
            handshake(ec, listen_fd, slot, fd);
    }
    close_handoff(listen_fd, slot);
}

void Acceptor::handshake(ei_cnode& ec, int listen_fd, HandoffSlot& slot, int fd) {
    std::string address = peer_address(fd);
    hand_off(slot, fd);
    ErlConnect conn{};
    int connected = ei_accept_tmo(&ec, listen_fd, &conn, timeout_ms_);
    if (connected < 0) {
        // ei has closed the socket through our close callback.
        stats_.handshakes_refused.fetch_add(1, std::memory_order_relaxed);
        log::warning("handshake with {}{}{} failed: {}", address, conn.nodename[0] ? " claiming to be " : "",
                     conn.nodename, failure_reason(erl_errno));
        return;
    }
    if (!valid_node_name(conn.nodename)) {
        ei_close_connection(connected);
        stats_.handshakes_refused.fetch_add(1, std::memory_order_relaxed);
        log::warning("handshake with {} refused: the name it presented is not a node name (Alive@Host, UTF-8)",
                     address);
        return;
    }
    // libuv takes a duplicate; closing the original through ei also drops
    // ei's bookkeeping for it.
    int served = ::dup(connected);
    ei_close_connection(connected);
    if (served < 0) {
        log::error("connection from {}: dup failed: {}", conn.nodename, std::strerror(errno));
        return;
    }
    log::info("connection from {} ({}) accepted", conn.nodename, address);
    adopt_(served, conn.nodename);
}

}  // namespace pycnode::net
