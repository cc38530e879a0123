#include "net/acceptor.hpp"

#include "app/log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace pycnode::net {
namespace {

std::string peer_address(const ErlConnect& conn) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, conn.ipadr, text, sizeof text);
    return text;
}

}  // namespace

Acceptor::Acceptor(Node& node, unsigned handshake_timeout_ms, Adopt adopt)
    : node_(node), timeout_ms_(handshake_timeout_ms), adopt_(std::move(adopt)), thread_([this] { run(); }) {}

Acceptor::~Acceptor() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void Acceptor::stop() {
    if (!stopping_.exchange(true)) node_.stop_listening();
}

void Acceptor::run() {
    while (!stopping_.load()) {
        ErlConnect conn{};
        int fd = ei_accept_tmo(&node_.cnode(), node_.listen_fd(), &conn, timeout_ms_);
        if (stopping_.load()) {
            if (fd >= 0) ei_close_connection(fd);
            break;
        }
        if (fd < 0) {
            // erl_errno tells timeouts from refusals; the peer's address is
            // known only once accept itself succeeded.
            refused_.fetch_add(1, std::memory_order_relaxed);
            int err = erl_errno;
            log::warning("handshake refused (wrong cookie, timeout or not a distribution peer): {}",
                         err == ETIMEDOUT ? "timed out" : std::strerror(err));
            continue;
        }
        log::info("connection from {} ({}) accepted", conn.nodename, peer_address(conn));
        adopt_(fd, conn.nodename);
    }
}

}  // namespace pycnode::net
