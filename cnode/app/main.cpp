// pycnode: Python for Erlang, as one more (hidden) node of the cluster.
//
// Start-up order matters: the interpreter first (on the main thread, before
// any other thread exists), then the node's identity and epmd registration,
// then the loop and the workers; the loop starts accepting last, so that
// nothing is accepted before it can be served. Shutdown runs the same steps backwards.
#include "app/allocator.hpp"
#include "app/fatal_signals.hpp"
#include "app/log.hpp"
#include "app/options.hpp"
#include "app/stats.hpp"
#include "asgi/scope_store.hpp"
#include "dispatch/dispatcher.hpp"
#include "net/loop.hpp"
#include "net/node.hpp"
#include "pool/worker_pool.hpp"
#include "python/conversion.hpp"
#include "python/runtime.hpp"

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

namespace {

int serve(const pycnode::Options& options) {
    using namespace pycnode;
    python::Runtime::Config config;
    config.pythonpath = options.pythonpath;
    config.allow_gil = options.allow_gil;
    config.preload = options.preload;
    config.cancel_grace_ms = options.cancel_grace_ms;
    config.append_pythonpath = options.append_pythonpath;
    if (!options.venv.empty()) {
        config.venv = options.venv;
        config.venv_required = true;
    } else if (const char* active = std::getenv("VIRTUAL_ENV"); active && *active) {
        config.venv = active;  // an activated venv: used if it fits, else a warning
    }
    python::Runtime runtime(config);
    const auto& py = runtime.info();
    net::Node node(options);
    // build_scope hands out Erlang references of this node.
    python::scope_store().set_identity({node.name(), node.creation()});
    python::scope_store().set_capacity(options.scope_cache);
    python::call_conversion_defaults() = {options.call_strings_as_str, options.call_nil_as_none};
    Stats stats;
    fatal_signals::InFlightReported reported(stats.in_flight);
    net::Loop loop(options, stats, {node.name(), options.cookie, node.creation(), options.caller_monitors});
    if (!options.worker_reads) loop.keep_lease();
    pool::WorkerPool workers(runtime, {options.workers, options.threads, options.queue_limit,
                                       options.request_timeout_ms, options.max_stuck},
                             stats, &loop);
    dispatch::Dispatcher dispatcher(options, stats, workers, runtime, [&loop] { return loop.peers(); });
    log::info("pycnode ready: node {} port {} registered name '{}', {} event workers, {} blocking threads, Python {} ({}, GIL {})",
              node.name(), node.port(), options.register_name, options.workers, options.threads, py.version,
              py.free_threaded ? "free-threaded build" : "GIL build", py.gil_enabled ? "enabled" : "disabled");
    loop.run(dispatcher, node.take_listen_fd());
    if (loop.abandoned()) {
        // Requests still run on some workers, perhaps forever: joining them
        // could hang, and finalizing Python under them is unsafe.
        log::warning("pycnode stopped after serving {} requests, {} abandoned", stats.served.load(),
                     stats.in_flight.load());
        std::_Exit(1);
    }
    workers.stop();
    if (workers.has_stuck()) {  // a thread stuck in Python: finalizing the interpreter under it is unsafe
        log::warning("pycnode stopped after serving {} requests, leaving stuck threads behind", stats.served.load());
        std::_Exit(0);
    }
    log::info("pycnode stopped after serving {} requests", stats.served.load());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    pycnode::Options options;
    if (int rc = pycnode::parse_options(argc, argv, options); rc >= 0) return rc;
    pycnode::log::set_level(options.log_level);
    // A peer that vanishes mid-write must cost an error code, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    // Before the interpreter starts, so that its faulthandler chains to us.
    pycnode::fatal_signals::install();
    pycnode::tune_allocator();  // before any thread starts
    try {
        return serve(options);
    } catch (const std::exception& e) {
        pycnode::log::error("cannot start: {}", e.what());
        return 1;
    }
}
