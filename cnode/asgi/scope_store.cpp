#include "asgi/scope_store.hpp"

#include "term/ext_format.hpp"
#include "term/term_reader.hpp"
#include "term/term_writer.hpp"

#include <unistd.h>

#include <cstdio>
#include <iterator>
#include <random>
#include <vector>

namespace pycnode::python {
namespace {

constexpr std::uint32_t salt_mask = (1u << 18) - 1;  // Erlang keeps 18 bits of the first word
constexpr std::size_t id_words = 3;
constexpr std::size_t max_id_words = 5;

std::uint32_t random_word() {
    std::random_device device;
    return device();
}

void put_u32(std::string& out, std::uint32_t v) {
    char bytes[4];
    term::ext::store_be(bytes, v, 4);
    out.append(bytes, 4);
}

std::string encode_reference(const NodeIdentity& node, const std::uint32_t (&words)[id_words]) {
    std::string out;
    out.push_back(static_cast<char>(term::tag::newer_reference));
    char count[2];
    term::ext::store_be(count, id_words, 2);
    out.append(count, 2);
    term::TermWriter(out).atom(node.name);
    put_u32(out, node.creation);
    for (std::uint32_t word : words) put_u32(out, word);
    return out;
}

}  // namespace

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
    : salt_((salt ? salt : random_word()) & salt_mask), capacity_(capacity ? capacity : 1) {}

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
    const std::uint32_t words[id_words] = {salt_, static_cast<std::uint32_t>(id),
                                           static_cast<std::uint32_t>(id >> 32)};
    return encode_reference(identity_, words);
}

std::shared_ptr<const PreparedScope> ScopeStore::find(std::string_view reference) {
    std::lock_guard lock(mutex_);
    std::uint64_t id = 0;
    if (!identity_set_ || !parse(reference, id)) return nullptr;
    auto hit = index_.find(id);
    if (hit == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, hit->second);
    return hit->second->scope;
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

// Erlang may drop trailing zero words when it re-encodes a reference
// (they do not count in comparisons), so missing words read as zero.
bool ScopeStore::parse(std::string_view reference, std::uint64_t& id) const {
    if (reference.size() < 3 || static_cast<std::uint8_t>(reference[0]) != term::tag::newer_reference) return false;
    std::size_t count = term::ext::load_be(reference.data() + 1, 2);
    if (count == 0 || count > max_id_words) return false;
    term::TermReader reader(reference.substr(3));
    std::string_view node;
    if (reader.read_atom(node) != term::DecodeError::Ok || node != identity_.name) return false;
    std::string_view rest = reference.substr(3 + reader.position());
    if (rest.size() != 4 + 4 * count) return false;
    if (term::ext::load_be(rest.data(), 4) != identity_.creation) return false;
    std::uint32_t words[max_id_words] = {};
    for (std::size_t i = 0; i < count; ++i) words[i] = term::ext::load_be(rest.data() + 4 + 4 * i, 4);
    if ((words[0] & salt_mask) != salt_ || words[3] != 0 || words[4] != 0) return false;
    id = words[1] | (std::uint64_t{words[2]} << 32);
    return true;
}

ScopeStore& scope_store() {
    static ScopeStore store;
    return store;
}

}  // namespace pycnode::python
