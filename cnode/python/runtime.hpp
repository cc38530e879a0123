// The embedded CPython interpreter and the per-worker thread state.
//
// Nothing of ours relies on the GIL: each worker owns a PyThreadState for its
// whole life and attaches only while it runs Python; it detaches while it
// waits, decodes or encodes, so other workers (and the free-threaded build's
// stop-the-world GC) can proceed.
#pragma once

#include "term/term.hpp"

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

struct _ts;  // PyThreadState, kept out of this header so callers need no Python.h
struct _is;  // PyInterpreterState, likewise

namespace pycnode::python {

struct InterpreterInfo {
    std::string version;         // e.g. "3.11.2"
    std::string implementation;  // sys.version, one line
    bool free_threaded = false;  // built with Py_GIL_DISABLED
    bool gil_enabled = true;     // sys._is_gil_enabled(), or true before 3.13
};

class Runtime {
public:
    struct Config {
        std::vector<std::string> pythonpath;  // prepended to sys.path, in order
        bool allow_gil = false;               // free-threaded build: accept a GIL re-enabled by an import
        std::vector<std::string> preload;     // modules imported at start-up, each checked for the GIL
        unsigned cancel_grace_ms = 1000;      // an abandoned ASGI request's time between http.disconnect and cancel
        std::vector<std::string> append_pythonpath;  // appended to sys.path (before pyrunner's root), in order
        std::string venv;            // a virtualenv whose site-packages go ahead of the system's; empty: none
        bool venv_required = false;  // from --venv: one that does not fit stops start-up (else: warning, ignored)
    };

    // Initialises CPython on the calling (main) thread, imports pyrunner, then
    // detaches. Throws std::runtime_error with a readable message on failure.
    explicit Runtime(const Config& config);
    ~Runtime();  // re-attaches and finalizes; every WorkerContext must be gone
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // Fixed once the constructor returns, so any thread may read it.
    const InterpreterInfo& info() const { return info_; }
    _is* interpreter() const { return interpreter_; }
    unsigned cancel_grace_ms() const { return config_.cancel_grace_ms; }
    // Whether the GIL is on now: at start-up, or turned on since by an import.
    bool gil_enabled() const { return info_.gil_enabled || gil_warning_logged_.load(std::memory_order_relaxed); }

    // Attached only. Call after importing user code: on a free-threaded build
    // whose GIL that import re-enabled, logs a warning naming `module` (once
    // per process) and returns true. Always false on GIL builds.
    bool gil_reenabled_by(std::string_view module);

private:
    void extend_sys_path();
    void activate_venv(const std::string& site_packages);
    void import_pyrunner();
    void import_preloaded();
    void require_no_gil(std::string_view cause) const;

    Config config_;
    std::string venv_site_packages_;  // the venv's site-packages, checked; empty: no venv
    InterpreterInfo info_;
    _is* interpreter_ = nullptr;
    _ts* main_state_ = nullptr;
    std::atomic<bool> gil_warning_logged_{false};
};

// Attached only. Whether the interpreter runs with a GIL right now:
// sys._is_gil_enabled() where it exists (3.13+), else true.
bool gil_enabled_now();

class WorkerContext;

// Runs `{call, Module, Function, Args}`; returns {ok, Result} | {error, Reason}
// built in `arena`. Called detached; attaches only around Python work.
term::Term run_call(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);

}  // namespace pycnode::python
