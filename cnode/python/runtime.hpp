// The embedded CPython interpreter and the per-worker thread state.
//
// Nothing of ours relies on the GIL: each worker owns a PyThreadState for its
// whole life and attaches only while it runs Python; it detaches while it
// waits, decodes or encodes, so other workers (and the free-threaded build's
// stop-the-world GC) can proceed.
#pragma once

#include "term/term.hpp"

#include <string>
#include <vector>

struct _ts;  // PyThreadState, kept out of this header so callers need no Python.h

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
    };

    // Initialises CPython on the calling (main) thread, imports pyrunner, then
    // detaches. Throws std::runtime_error with a readable message on failure.
    explicit Runtime(const Config& config);
    ~Runtime();  // re-attaches and finalizes; every WorkerContext must be gone
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    const InterpreterInfo& info() const { return info_; }

private:
    InterpreterInfo info_;
    _ts* main_state_ = nullptr;
};

class WorkerContext;

// Runs `{call, Module, Function, Args}`; returns {ok, Result} | {error, Reason}
// built in `arena`. Called detached; attaches only around Python work.
term::Term run_call(WorkerContext& ctx, const term::Term& request, term::ByteArena& arena);

}  // namespace pycnode::python
