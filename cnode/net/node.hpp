// The node's identity on the cluster: ei's connection state, the listen
// socket, and the registration with epmd (kept open for the node's life:
// closing it unregisters the node).
#pragma once

#include "app/options.hpp"

#include <ei.h>

#include <string>
#include <utility>

namespace pycnode::net {

class Node {
public:
    // ei_init, identity, listen, publish. Throws std::runtime_error.
    explicit Node(const Options& options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    ei_cnode& cnode() { return cnode_; }
    // The listening socket, for the loop to accept on: the caller owns it.
    int take_listen_fd() { return std::exchange(listen_fd_, -1); }
    int port() const { return port_; }
    const std::string& name() const { return name_; }
    unsigned creation() const { return creation_; }
    // Our own pid in external format, the sender of the few signals we emit.
    const std::string& self_pid() const { return self_pid_; }

private:
    ei_cnode cnode_{};
    int listen_fd_ = -1;
    int publish_fd_ = -1;
    int port_ = 0;
    std::string name_;
    std::string self_pid_;
    std::string host_;
    std::string alive_;
    std::string cookie_;
    unsigned creation_ = 0;
};

}  // namespace pycnode::net
