// The command line of the pycnode binary.
#pragma once

#include "app/log.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace pycnode {

struct Options {
    std::string alive = "pycnode";  // the part before '@'
    std::string host;               // the part after '@' (derived from the machine if not given)
    bool long_names = false;        // --name rather than --sname
    std::string cookie;             // resolved: --cookie, else the cookie file
    std::string register_name = "pycnode";
    unsigned workers = 0;           // event workers; 0 until parsed: then the number of cores
    unsigned threads = 0;           // blocking threads; 0 until parsed: then 4 per core, at least 8
    std::vector<std::string> pythonpath;         // prepended to sys.path
    std::vector<std::string> append_pythonpath;  // appended to sys.path
    std::string venv;                            // --venv; empty: VIRTUAL_ENV, if set
    std::vector<std::string> preload;
    int port = 0;                   // 0: any free port
    unsigned net_ticktime = 60;     // seconds, as erl's kernel net_ticktime
    unsigned handshake_timeout_ms = 5000;
    std::size_t max_handshakes = 1024;            // pending at once, in total
    std::size_t max_handshakes_per_address = 64;  // pending at once, from one address
    std::size_t max_packet = 256u << 20;
    std::size_t queue_limit = 65536;   // per worker kind: queued, not started
    std::size_t max_in_flight = 10000;  // accepted, not yet answered
    std::size_t max_output = 32u << 20;  // bytes queued for one connection before it is paused
    unsigned output_stall_s = 0;         // 0 until parsed: then net_ticktime
    unsigned cancel_grace_ms = 1000;
    unsigned drain_timeout_ms = 30000;  // after SIGTERM/SIGINT: how long requests in flight may take
    unsigned request_timeout_ms = 60000;  // a request's deadline when it sets none; 0: none
    unsigned max_stuck = 16;              // stuck threads replaced at a time; 0: none
    bool worker_reads = true;     // an idle event worker reads the sockets and runs what it reads
    bool caller_monitors = true;  // offer monitors by name: cancel requests whose caller gave up
    std::size_t scope_cache = 1024;
    bool allow_gil = false;
    bool call_strings_as_str = false;  // --strings str: generic calls get binaries as str
    bool call_nil_as_none = false;     // --nil none: generic calls map nil <-> None
    log::Level log_level = log::Level::Info;

    std::string node_name() const { return alive + "@" + host; }
};

// Parses argv. Returns -1 to go on, or an exit code (after --help, or an error
// that was already printed).
int parse_options(int argc, char** argv, Options& out);

}  // namespace pycnode
