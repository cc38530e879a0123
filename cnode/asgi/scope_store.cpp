#include "asgi/scope_store.hpp"

#include "term/term_reader.hpp"
#include "term/term_writer.hpp"

namespace pycnode::python {

std::shared_ptr<const PreparedScope> PreparedScope::make(const term::Term& scope, std::string& error) {
    std::shared_ptr<PreparedScope> prepared(new PreparedScope());
    term::TermWriter(prepared->bytes_).term(scope);
    term::TermReader reader(prepared->bytes_);
    if (reader.read_term(prepared->term_) != term::DecodeError::Ok) {
        error = "the scope cannot be stored";  // the writer only writes what the reader reads
        return nullptr;
    }
    error = parse_scope(prepared->term_, prepared->spec_);
    if (!error.empty()) return nullptr;
    return prepared;
}

ScopeStore::ScopeStore(std::size_t capacity, std::uint32_t salt)
    : salt_((salt ? salt : dist::random_reference_salt()) & dist::reference_salt_mask), capacity_(capacity ? capacity : 1) {}

void ScopeStore::set_identity(NodeIdentity identity) {
    std::lock_guard lock(mutex_);
    identity_ = std::move(identity);
    identity_set_ = true;
}

void ScopeStore::set_capacity(std::size_t capacity) {
    std::lock_guard lock(mutex_);
    capacity_ = capacity ? capacity : 1;
    evict_past(capacity_);
}

std::string ScopeStore::insert(std::shared_ptr<const PreparedScope> scope) {
    std::lock_guard lock(mutex_);
    std::uint64_t id = next_id_++;
    evict_past(capacity_ - 1);
    lru_.push_front({id, std::move(scope)});
    index_.emplace(id, lru_.begin());
    return dist::encode_reference(identity_, salt_, id);
}

std::shared_ptr<const PreparedScope> ScopeStore::find(std::string_view reference) {
    std::lock_guard lock(mutex_);
    std::uint64_t id = 0;
    if (!identity_set_ || !dist::parse_reference(reference, identity_, salt_, id)) return nullptr;
    auto hit = index_.find(id);
    if (hit == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, hit->second);
    return hit->second->scope;
}

NodeIdentity ScopeStore::identity() const {
    std::lock_guard lock(mutex_);
    return identity_;
}

std::size_t ScopeStore::size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

void ScopeStore::evict_past(std::size_t capacity) {
    while (lru_.size() > capacity) {
        index_.erase(lru_.back().id);
        lru_.pop_back();
    }
}

ScopeStore& scope_store() {
    static ScopeStore store;
    return store;
}

}  // namespace pycnode::python
