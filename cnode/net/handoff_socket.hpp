// Lets ei run a distribution handshake on a socket we accepted ourselves.
//
// ei_accept_tmo both accepts and handshakes, and waits on the listen socket
// first: several threads calling it on one listen socket race for each
// connection, and the losers time out and look like refused handshakes. So
// one thread accepts, and each handshake thread hands ei the accepted socket
// through a "listen socket" of its own whose accept() returns that socket.
// This is ei's user-supplied socket interface; everything else is plain POSIX.
#pragma once

#include <ei.h>

namespace pycnode::net {

// One per handshake thread: the descriptor ei believes it listens on (an
// eventfd, readable while a socket waits to be taken) and the socket itself.
struct HandoffSlot {
    int event_fd = -1;
    int accepted_fd = -1;
};

// The callbacks to pass to ei_connect_xinit_ussi with a HandoffSlot* as
// setup context.
ei_socket_callbacks& handoff_callbacks();

// Whether handshakes offer monitors by name (DFLAG_DIST_MONITOR_NAME), so
// that callers' nodes tell pycnode when a caller gives up (default: true).
// Set before the acceptor starts.
void offer_caller_monitors(bool offer);

// Makes `slot` ready to take sockets; `ec` must have been set up with
// handoff_callbacks() and `slot`. Returns the descriptor to pass to
// ei_accept_tmo, or -1.
int open_handoff(ei_cnode& ec, HandoffSlot& slot);
// Puts `fd` where the next ei_accept_tmo on `slot` will find it.
void hand_off(HandoffSlot& slot, int fd);
void close_handoff(int listen_fd, HandoffSlot& slot);

}  // namespace pycnode::net
