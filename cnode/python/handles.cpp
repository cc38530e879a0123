#include "python/handles.hpp"

#include "asgi/scope_store.hpp"
#include "dist/control.hpp"
#include "net/outbox.hpp"

namespace pycnode::python {
namespace {

constexpr std::string_view handle_tag = "$pycnode_handle";
// The number of the pid of ours that monitors owners (any number will do:
// no process answers to it).
constexpr std::uint32_t monitor_origin = 1;

void drop_all(std::vector<PyObject*>& objects) {
    for (PyObject* obj : objects) Py_DECREF(obj);
    objects.clear();
}

}  // namespace

HandleTable::HandleTable() : salt_(dist::random_reference_salt()) {}

// The node's name and creation, which main.cpp gives the scope store before
// any request is served.
dist::NodeIdentity HandleTable::node() { return scope_store().identity(); }

std::string HandleTable::insert(PyObject* obj, const Caller& caller) {
    if (!caller.outbox || caller.pid.empty()) return {};
    std::string reference;
    std::string monitor;
    std::uint64_t owner_id = 0;
    {
        std::lock_guard lock(mutex_);
        const dist::NodeIdentity self = node();
        OwnerKey key{caller.outbox.get(), std::string(caller.pid)};
        auto known = owner_ids_.find(key);
        if (known == owner_ids_.end()) {
            owner_id = next_id_++;
            owners_.emplace(owner_id, Owner{key.first, key.second, {}});
            owner_ids_.emplace(std::move(key), owner_id);
            dist::append_monitor(monitor, dist::encode_pid(self, monitor_origin), caller.pid,
                                 dist::encode_reference(self, salt_, owner_id));
        } else {
            owner_id = known->second;
        }
        std::uint64_t id = next_id_++;
        Py_INCREF(obj);
        handles_.emplace(id, Entry{obj, owner_id});
        owners_.at(owner_id).handles.insert(id);
        reference = dist::encode_reference(self, salt_, id);
    }
    // After the insert: if the connection closed before this send, its
    // on_close either ran before the insert (then the owner is new and this
    // send finds the outbox closed) or runs after it and finds the owner.
    if (monitor.empty() || caller.outbox->send(std::move(monitor)) != net::Outbox::Sent::Closed) return reference;
    std::vector<PyObject*> gone;
    {
        std::lock_guard lock(mutex_);
        if (owners_.count(owner_id)) remove_owner_locked(owner_id, gone);
    }
    drop_all(gone);
    return {};
}

PyRef HandleTable::find(std::string_view reference) {
    std::lock_guard lock(mutex_);
    std::uint64_t id = 0;
    if (!dist::parse_reference(reference, node(), salt_, id)) return {};
    auto hit = handles_.find(id);
    // Taken under the mutex: a release elsewhere cannot free it meanwhile.
    return hit == handles_.end() ? PyRef() : PyRef::borrow(hit->second.object);
}

bool HandleTable::release(std::string_view reference) {
    PyObject* object = nullptr;
    {
        std::lock_guard lock(mutex_);
        std::uint64_t id = 0;
        if (!dist::parse_reference(reference, node(), salt_, id)) return false;
        auto hit = handles_.find(id);
        if (hit == handles_.end()) return false;
        object = hit->second.object;
        // The owner stays, with its monitor, until it exits: a process
        // that had one handle is likely to get more.
        owners_.at(hit->second.owner).handles.erase(id);
        handles_.erase(hit);
    }
    Py_DECREF(object);
    return true;
}

void HandleTable::owner_down(const net::Outbox* conn, std::string_view monitor_ref) {
    std::vector<PyObject*> gone;
    {
        std::lock_guard lock(mutex_);
        std::uint64_t id = 0;
        if (!dist::parse_reference(monitor_ref, node(), salt_, id)) return;
        auto owner = owners_.find(id);
        if (owner == owners_.end() || owner->second.conn != conn) return;
        remove_owner_locked(id, gone);
    }
    defer_drops(std::move(gone));
}

void HandleTable::connection_closed(const net::Outbox* conn) {
    std::vector<PyObject*> gone;
    {
        std::lock_guard lock(mutex_);
        std::vector<std::uint64_t> closing;
        for (const auto& [id, owner] : owners_)
            if (owner.conn == conn) closing.push_back(id);
        for (std::uint64_t id : closing) remove_owner_locked(id, gone);
    }
    defer_drops(std::move(gone));
}

void HandleTable::remove_owner_locked(std::uint64_t owner_id, std::vector<PyObject*>& out) {
    auto owner = owners_.find(owner_id);
    for (std::uint64_t id : owner->second.handles) {
        auto hit = handles_.find(id);
        out.push_back(hit->second.object);
        handles_.erase(hit);
    }
    owner_ids_.erase(OwnerKey{owner->second.conn, owner->second.pid});
    owners_.erase(owner);
}

void HandleTable::defer_drops(std::vector<PyObject*> objects) {
    if (objects.empty()) return;
    std::lock_guard lock(mutex_);
    pending_.insert(pending_.end(), objects.begin(), objects.end());
    has_pending_.store(true, std::memory_order_release);
}

void HandleTable::drop_pending() {
    std::vector<PyObject*> objects;
    {
        std::lock_guard lock(mutex_);
        objects.swap(pending_);
        has_pending_.store(false, std::memory_order_release);
    }
    drop_all(objects);
}

std::size_t HandleTable::live() const {
    std::lock_guard lock(mutex_);
    return handles_.size();
}

HandleTable& handles() {
    static HandleTable table;
    return table;
}

term::Term handle_term(std::string_view reference) {
    return term::Term::tuple_of(term::Term::make_atom(handle_tag), term::Term::make_opaque(reference));
}

bool is_handle_term(const term::Term& t, std::string_view& reference) {
    if (t.kind != term::Kind::Tuple || t.items.size() != 2 || !t.items[0].is_atom(handle_tag)) return false;
    reference = t.items[1].kind == term::Kind::Opaque ? t.items[1].bytes : std::string_view();
    return true;
}

}  // namespace pycnode::python
