// Object handles: Python objects kept by pycnode for an Erlang process, which
// names them by `{'$pycnode_handle', Ref}` (docs/protocol.md).
//
// One table for the whole node: a handle made on one worker is used on any
// other (calls go to any event worker or blocking thread). It holds a strong
// reference to each object, and the pid that received it: its owner.
// pycnode monitors each owner once, over the distribution (MONITOR_P from a
// pid of its own), and drops the owner's handles when the monitor fires or
// the owner's connection closes.
//
// Threads: one mutex guards the table; nothing relies on the GIL (3.13t).
// Python references are taken and dropped only by attached workers, outside
// the mutex (a drop may run __del__). The loop thread, which never touches
// Python, only moves the objects of a dead owner to a list of pending drops,
// which the next worker to attach empties (WorkerContext::Attached).
#pragma once

#include "dist/node_terms.hpp"
#include "python/pending_reply.hpp"
#include "python/py_ref.hpp"
#include "term/term.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pycnode::python {

class HandleTable {
public:
    HandleTable();

    // Attached. Keeps `obj` for the caller's process and returns the new
    // handle's reference (external format, no 131); the first handle of an
    // owner sends the MONITOR_P for it. Empty if the caller's connection is
    // gone (nothing is kept then).
    std::string insert(PyObject* obj, const Caller& caller);
    // Attached. A new reference to the object of a live handle's reference,
    // else null.
    PyRef find(std::string_view reference);
    // Attached. Drops a live handle; false if it was not live.
    bool release(std::string_view reference);

    // Any thread, no Python. The monitor `monitor_ref` (ours) on the
    // connection `conn` fired: its owner's handles go.
    void owner_down(const net::Outbox* conn, std::string_view monitor_ref);
    // Any thread, no Python. The connection closed: its owners' handles go.
    void connection_closed(const net::Outbox* conn);

    // Attached: drops the references the two above left pending.
    void drop_pending();
    bool has_pending() const { return has_pending_.load(std::memory_order_acquire); }

    std::size_t live() const;  // handles; any thread

private:
    struct Owner {
        const net::Outbox* conn;
        std::string pid;
        std::unordered_set<std::uint64_t> handles;
    };
    struct Entry {
        PyObject* object;  // a strong reference
        std::uint64_t owner;
    };
    using OwnerKey = std::pair<const net::Outbox*, std::string>;

    // Mutex held: removes an owner and its handles, adding their objects to `out`.
    void remove_owner_locked(std::uint64_t owner, std::vector<PyObject*>& out);
    void defer_drops(std::vector<PyObject*> objects);  // mutex not held
    dist::NodeIdentity node();                          // mutex held

    mutable std::mutex mutex_;
    const std::uint32_t salt_;
    std::uint64_t next_id_ = 1;  // handles and owners (monitor references) alike
    std::unordered_map<std::uint64_t, Entry> handles_;
    std::unordered_map<std::uint64_t, Owner> owners_;
    std::map<OwnerKey, std::uint64_t> owner_ids_;
    std::vector<PyObject*> pending_;
    std::atomic<bool> has_pending_{false};
};

// The node's table, shared by every worker.
HandleTable& handles();

// {'$pycnode_handle', Ref}, the term for a handle; `reference` views
// storage that must outlive the term.
term::Term handle_term(std::string_view reference);
// Whether `t` is tagged as a handle, and then its Ref's bytes (empty if not
// a reference; HandleTable::find says whether it names a live handle).
bool is_handle_term(const term::Term& t, std::string_view& reference);

}  // namespace pycnode::python
