// The node-wide store behind {build_scope, Scope, Opts}: scopes checked and
// prepared once, named by Erlang references that pycnode makes itself, for
// `asgi` requests to use in place of the map.
//
// Pure: no Python. Every worker shares the store, so it is guarded by one
// mutex; entries are immutable and handed out as shared_ptr, so a scope
// evicted while a request uses it stays alive until that request ends.
// Python-side preparation (the scope dict template) is cached per worker
// (scope_builder.hpp), keyed on the scope's fields, not here.
//
// References are made and recognised by dist/node_terms.hpp, with a salt
// random per process.
#pragma once

#include "asgi/scope_spec.hpp"
#include "dist/node_terms.hpp"
#include "term/term.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pycnode::python {

// A scope with its own bytes: the map re-encoded (external format, no 131),
// the term decoded from them and the spec parsed from that term.
class PreparedScope {
public:
    // Null and `error` set if `scope` is not a valid scope.
    static std::shared_ptr<const PreparedScope> make(const term::Term& scope, std::string& error);

    const ScopeSpec& spec() const { return spec_; }

    PreparedScope(const PreparedScope&) = delete;  // spec_ and term_ view bytes_
    PreparedScope& operator=(const PreparedScope&) = delete;

private:
    PreparedScope() = default;

    std::string bytes_;
    term::Term term_;
    ScopeSpec spec_;
};

using dist::NodeIdentity;

class ScopeStore {
public:
    static constexpr std::size_t default_capacity = 1024;

    // `salt` is the reference's first ID word (low 18 bits used); 0 picks a random one.
    explicit ScopeStore(std::size_t capacity = default_capacity, std::uint32_t salt = 0);

    // Set once at start-up, before requests are served.
    void set_identity(NodeIdentity identity);
    void set_capacity(std::size_t capacity);  // at least 1; evicts what no longer fits
    // The node's name and creation (the handle table's references use them
    // too); nonode@nohost before set_identity().
    NodeIdentity identity() const;

    // Stores `scope`, evicting the least recently used entry past the
    // capacity, and returns the new reference's external format (no 131).
    std::string insert(std::shared_ptr<const PreparedScope> scope);

    // The scope a reference names (its external format, no 131), which
    // becomes the most recently used; null if the reference is not one of
    // this store's or its scope was evicted.
    std::shared_ptr<const PreparedScope> find(std::string_view reference);

    std::size_t size() const;

private:
    struct Entry {
        std::uint64_t id;
        std::shared_ptr<const PreparedScope> scope;
    };

    void evict_past(std::size_t capacity);  // mutex held

    mutable std::mutex mutex_;
    // Set by main.cpp from net::Node before any request is served.
    NodeIdentity identity_{"nonode@nohost", 0};
    bool identity_set_ = false;
    std::uint32_t salt_;
    std::size_t capacity_;
    std::uint64_t next_id_ = 1;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
};

// The node's store, shared by every worker.
ScopeStore& scope_store();

}  // namespace pycnode::python
