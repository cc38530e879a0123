#include "asgi/scope_templates.hpp"

namespace pycnode::python {

const ScopeTemplate* ScopeTemplates::find(std::string_view key) {
    auto hit = index_.find(key);
    if (hit == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, hit->second);
    return &hit->second->value;
}

const ScopeTemplate* ScopeTemplates::insert(std::string_view key, ScopeTemplate entry) {
    if (const ScopeTemplate* existing = find(key)) return existing;
    while (lru_.size() >= capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front({std::string(key), std::move(entry)});
    // The index views the list's own copy of the key: list nodes never move.
    index_.emplace(lru_.front().key, lru_.begin());
    return &lru_.front().value;
}

}  // namespace pycnode::python
