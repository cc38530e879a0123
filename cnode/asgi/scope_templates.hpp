// Per-worker ASGI scope templates: for each distinct set of request-
// independent fields (type, asgi, http_version, scheme, server, root_path),
// a dict holding those values and a None placeholder for every per-request
// key. A request's scope starts as one PyDict_Copy of its template; setting
// the per-request keys then only replaces values (no resize, no rehash).
//
// The key is built from EVERY field that goes into a template, each length-
// prefixed, so a request never sees another request's scheme, HTTP version,
// server or root path. Bounded (least recently used evicted); owned by one
// worker, so no lock.
#pragma once

#include "python/py_ref.hpp"

#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pycnode::python {

struct ScopeTemplate {
    PyRef scope;  // never handed out: requests get copies
    PyRef asgi;   // the "asgi" dict, copied per request too (it is mutable)
};

class ScopeTemplates {
public:
    static constexpr std::size_t default_capacity = 64;

    explicit ScopeTemplates(std::size_t capacity = default_capacity) : capacity_(capacity ? capacity : 1) {}

    // The template stored under `key`, now the most recently used; null if none.
    const ScopeTemplate* find(std::string_view key);
    // Stores a template (attached only: an eviction drops Python references).
    const ScopeTemplate* insert(std::string_view key, ScopeTemplate entry);

    std::size_t size() const { return lru_.size(); }

private:
    struct Entry {
        std::string key;
        ScopeTemplate value;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::size_t capacity_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
};

}  // namespace pycnode::python
