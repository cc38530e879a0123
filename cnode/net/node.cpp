#include "net/node.hpp"

#include "app/log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace pycnode::net {
namespace {

constexpr unsigned epmd_timeout_ms = 5000;
constexpr int listen_backlog = 128;

// BIG_CREATION allows 32 bits; a new value each start tells peers that pids
// of an earlier incarnation are stale.
unsigned new_creation() {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<unsigned>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) | 1u;
}

std::string encode_self_pid(ei_cnode& cnode) {
    char buf[MAXATOMLEN_UTF8 + 64];
    int index = 0;
    if (ei_encode_pid(buf, &index, ei_self(&cnode)) < 0) throw std::runtime_error("cannot encode our own pid");
    return std::string(buf, static_cast<std::size_t>(index));
}

}  // namespace

Node::Node(const Options& options)
    : name_(options.node_name()), host_(options.host), alive_(options.alive), cookie_(options.cookie),
      creation_(new_creation()) {
    if (ei_init() != 0) throw std::runtime_error("ei_init failed");
    struct in_addr any{};
    any.s_addr = htonl(INADDR_ANY);
    if (ei_connect_xinit(&cnode_, host_.c_str(), alive_.c_str(), name_.c_str(), &any, cookie_.c_str(), creation_) < 0)
        throw std::runtime_error("invalid node name " + name_);
    self_pid_ = encode_self_pid(cnode_);

    port_ = options.port;
    listen_fd_ = ei_xlisten(&cnode_, &any, &port_, listen_backlog);
    if (listen_fd_ < 0) throw std::runtime_error(fmt::format("cannot listen on port {}", options.port));
    publish_fd_ = ei_publish_tmo(&cnode_, port_, epmd_timeout_ms);
    if (publish_fd_ < 0)
        throw std::runtime_error(fmt::format(
            "cannot register {} with epmd (is epmd running, and is the name free?)", name_));
}

Node::~Node() {
    if (publish_fd_ >= 0) ::close(publish_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
}


}  // namespace pycnode::net
