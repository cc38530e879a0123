// Everything one worker thread needs to run Python: its own thread state and
// its own caches.
//
// A WorkerContext is created, used and destroyed on one thread. Its caches
// are never shared with another worker, so they need no locks even on a
// free-threaded build, and attaching is the only synchronisation there is.
#pragma once

#include "app/running.hpp"
#include "python/pending_reply.hpp"
#include "python/py_ref.hpp"
#include "python/runtime.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pycnode::python {

class EventLoop;      // python/event_loop.hpp
class Waiting;        // python/waiting.hpp
class WorkerContext;

// What a server built on this layer (asgi/, wsgi/) keeps per worker. A
// WorkerContext owns at most one of each kind, made on first use by
// extension<T>() and destroyed attached, before its thread state, in the
// reverse order of creation.
class WorkerExtension {
public:
    virtual ~WorkerExtension() = default;  // attached only
};

// A process-wide slot for each kind of extension, taken at its first use.
std::size_t next_extension_slot();
template <class T>
std::size_t extension_slot() {
    static const std::size_t slot = next_extension_slot();
    return slot;
}

// Strings used as attribute or dict keys on the hot path, interned once per
// worker so lookups compare pointers instead of characters.
struct InternedNames {
    PyRef ext;  // pyrunner.Opaque's only slot
};

class WorkerContext {
public:
    // Attaches a new thread state to the interpreter long enough to fill the
    // caches that every request needs, then detaches.
    explicit WorkerContext(Runtime& runtime);
    ~WorkerContext();
    WorkerContext(const WorkerContext&) = delete;
    WorkerContext& operator=(const WorkerContext&) = delete;

    // Attaches this worker's thread state for its lifetime. Nesting is
    // allowed: only the outermost guard attaches and detaches.
    class Attached {
    public:
        explicit Attached(WorkerContext& ctx);
        ~Attached();
        Attached(const Attached&) = delete;
        Attached& operator=(const Attached&) = delete;

    private:
        WorkerContext& ctx_;
        bool attached_here_;
    };

    // Runs `f` attached, for handlers that need Python for one step only.
    template <class F>
    decltype(auto) run_attached(F&& f) {
        Attached attached(*this);
        return std::invoke(std::forward<F>(f));
    }

    bool attached() const { return attached_; }
    Runtime& runtime() const { return runtime_; }

    // Everything below: attached only.

    const InternedNames& names() const { return names_; }
    PyObject* atom_type() const { return atom_type_.get(); }      // pyrunner.Atom
    PyObject* opaque_type() const { return opaque_type_.get(); }  // pyrunner.Opaque

    // An Atom for a UTF-8 name, shared among calls of this worker while the
    // cache has room (atoms are immutable). Empty with an exception set on error.
    PyRef make_atom(std::string_view utf8_name);

    // `module.function` (function may be a dotted path such as
    // "Klass.method"), resolved once per worker and cached until code is
    // reloaded (code_generation.hpp). Borrowed from the cache;
    // null with the ImportError/AttributeError/... set on error (failures
    // are not cached, so a module that appears later is found).
    PyObject* callable(std::string_view module, std::string_view function);

    // This worker's T (a WorkerExtension), made by
    // `static std::unique_ptr<T> T::create(WorkerContext&)` on first use.
    // Null with an exception set if it cannot be (T::create failed).
    template <class T>
    T* extension() {
        std::size_t slot = extension_slot<T>();
        std::unique_ptr<WorkerExtension>& owned = extensions_[slot];
        if (!owned) {
            std::unique_ptr<T> made = T::create(*this);
            if (!made) return nullptr;
            owned = std::move(made);
            creation_order_[created_++] = slot;
        }
        return static_cast<T*>(owned.get());
    }

    // This worker's asyncio loop, made on first use. Null with an exception
    // set if it cannot be.
    EventLoop* event_loop();
    EventLoop* existing_event_loop() const { return event_loop_.get(); }

    // The worker running this context sets what its handlers may ask of the
    // job being run (defer its reply, hand it to a blocking thread).
    void set_job_hooks(JobHooks* hooks) { job_hooks_ = hooks; }
    // The reply of the job being run, to send later; null where requests
    // cannot wait (blocking threads, or no job).
    std::unique_ptr<PendingReply> defer_reply() { return job_hooks_ ? job_hooks_->defer_reply() : nullptr; }
    // The job being run goes to a blocking thread instead; false if this
    // worker is one (then it runs the job itself).
    bool hand_to_blocking() { return job_hooks_ && job_hooks_->hand_to_blocking(); }
    // Who sent the job being run (empty outside a job).
    Caller caller() { return job_hooks_ ? job_hooks_->caller() : Caller{}; }

    // The requests waiting on this worker's loop, by PendingReply::key(),
    // and by deadline; their count goes to the crash report (app/running.hpp).
    void add_waiting(const void* key, Waiting* waiting);
    void remove_waiting(const void* key);
    // Their caller gave up: stop it (no-op if it already ended).
    void cancel_waiting(const void* key);
    // Those past their deadline at `now` are answered {error, timeout} and
    // stopped (Waiting::time_out).
    void time_out_waiting(std::chrono::steady_clock::time_point now);
    // The earliest deadline of a waiting request (max(): none).
    std::chrono::steady_clock::time_point next_deadline() const {
        return deadlines_.empty() ? std::chrono::steady_clock::time_point::max() : deadlines_.begin()->first;
    }
    std::size_t waiting_count() const { return waiting_.size(); }

    // How long an ASGI app whose caller left may go on after http.disconnect.
    unsigned cancel_grace_ms() const { return runtime_.cancel_grace_ms(); }

    // Keeps `obj` alive until release_held(): a reply may point into a large
    // bytes object instead of copying it, until the reply is encoded.
    void hold(PyRef obj) { held_.push_back(std::move(obj)); }
    // Detached or attached; attaches briefly if anything is held.
    void release_held();

    // How many kinds of extension a process may have (the servers: ASGI, WSGI).
    static constexpr std::size_t max_extensions = 4;

private:
    void destroy_extensions();

    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Cache = std::unordered_map<std::string, PyRef, StringHash, std::equal_to<>>;

    void attach();
    void detach();
    void delete_thread_state();
    void load_pyrunner_objects();
    PyRef resolve_callable(std::string_view module, std::string_view function);

    Runtime& runtime_;
    _ts* thread_state_ = nullptr;
    bool attached_ = false;
    std::vector<PyRef> held_;

    InternedNames names_;
    PyRef atom_type_;
    PyRef opaque_type_;
    Cache atoms_;
    Cache callables_;         // key: module '\0' function
    std::uint64_t cache_generation_ = 0;  // code_generation() when callables_ was (re)started
    std::string key_scratch_;  // reused to build callable keys without allocating
    std::array<std::unique_ptr<WorkerExtension>, max_extensions> extensions_;
    std::array<std::size_t, max_extensions> creation_order_{};
    std::size_t created_ = 0;
    std::unique_ptr<EventLoop> event_loop_;
    JobHooks* job_hooks_ = nullptr;
    using ByDeadline = std::multimap<std::chrono::steady_clock::time_point, const void*>;
    struct WaitingEntry {
        Waiting* waiting;
        ByDeadline::iterator by_deadline;  // deadlines_.end() if it has none
    };
    std::unordered_map<const void*, WaitingEntry> waiting_;
    ByDeadline deadlines_;
};

}  // namespace pycnode::python
