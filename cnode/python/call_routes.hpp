// Which generic calls are async, as far as the node has seen: the loop
// thread routes {call, M, F, A} by it (async: an event worker, sync: a
// blocking thread), and the workers that resolve a function record it.
// A function not yet seen goes to an event worker, which resolves it and
// hands a sync one to a blocking thread, once.
#pragma once

#include <cstddef>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pycnode::python {

enum class CallKind : unsigned char { Unknown, Sync, Async };

class CallRoutes {
public:
    CallKind find(std::string_view module, std::string_view function) const {
        thread_local std::string key;  // reused: a lookup per call allocates nothing
        fill_key(key, module, function);
        std::shared_lock lock(mutex_);
        auto it = kinds_.find(key);
        return it == kinds_.end() ? CallKind::Unknown : it->second;
    }

    // Past `limit` functions new ones are not recorded (they stay Unknown:
    // correct, one hand-over slower).
    void record(std::string_view module, std::string_view function, CallKind kind) {
        std::string key;
        fill_key(key, module, function);
        std::unique_lock lock(mutex_);
        if (kinds_.size() < limit || kinds_.count(key)) kinds_[std::move(key)] = kind;
    }

    // Code was reloaded: a function may have changed kind.
    void forget_all() {
        std::unique_lock lock(mutex_);
        kinds_.clear();
    }

private:
    static constexpr std::size_t limit = 65536;
    static void fill_key(std::string& key, std::string_view module, std::string_view function) {
        key.assign(module).push_back('\0');
        key.append(function);
    }

    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, CallKind> kinds_;
};

// The node's one table.
inline CallRoutes& call_routes() {
    static CallRoutes routes;
    return routes;
}

}  // namespace pycnode::python
