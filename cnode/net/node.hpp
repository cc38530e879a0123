// The node's identity on the cluster: ei's connection state, the listen
// socket, and the registration with epmd (kept open for the node's life:
// closing it unregisters the node).
#pragma once

#include "app/options.hpp"

#include <ei.h>

#include <string>

namespace pycnode::net {

class Node {
public:
    // ei_init, identity, listen, publish. Throws std::runtime_error.
    explicit Node(const Options& options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    ei_cnode& cnode() { return cnode_; }
    int listen_fd() const { return listen_fd_; }
    int port() const { return port_; }
    const std::string& name() const { return name_; }
    unsigned creation() const { return creation_; }
    // Our own pid in external format, the sender of the few signals we emit.
    const std::string& self_pid() const { return self_pid_; }

    // Sets up `ec` with this node's identity and cookie but ei socket
    // callbacks of the caller's (for handshakes on sockets accepted elsewhere).
    bool clone_identity(ei_cnode& ec, ei_socket_callbacks& callbacks, void* setup_context) const;

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
