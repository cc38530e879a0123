#include "app/options.hpp"

#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

namespace pycnode {
namespace {

constexpr const char* usage_text = R"(Usage: pycnode [options]

Runs Python for Erlang: a hidden C-node that serves gen_server calls sent to
its registered name on a pool of Python worker threads.

Node identity:
  --sname NAME            short node name (default: pycnode)
  --name NAME@HOST        long node name
  --cookie COOKIE         distribution cookie
  --cookie-file PATH      read the cookie from PATH (default: ~/.erlang.cookie,
                          created as erl does when missing)
  --register NAME         name requests are sent to (default: pycnode)
  --port N                listen port (default: any free port); epmd's port
                          comes from ERL_EPMD_PORT, as with erl
  --net-ticktime SECONDS  as erl's kernel net_ticktime (default: 60)
  --handshake-timeout MS  deadline of a whole handshake (default: 5000)
  --max-handshakes N      handshakes pending at once; past it the oldest is
                          dropped (default: 1024)
  --max-handshakes-per-address N
                          the same, from one address (default: 64)

Python:
  --workers N             event workers: threads with an asyncio loop each,
                          running ASGI requests and async calls, many in
                          flight per worker (default: number of cores)
  --threads N             blocking threads: run WSGI requests and sync
                          calls, one at a time each (default: 4 per core,
                          at least 8)
  --pythonpath DIR        prepended to sys.path; repeatable (PYTHONPATH too)
  --append-pythonpath DIR appended to sys.path (after the standard library
                          and site-packages); repeatable
  --venv DIR              use the virtualenv DIR (made for this pycnode's
                          Python version): its site-packages go ahead of
                          the system's, .pth files included; refused if DIR
                          is not one (default: VIRTUAL_ENV, when set;
                          ignored with a warning if it does not fit)
  --preload MODULE        import MODULE at start-up; repeatable
  --strings bytes|str     generic calls: Erlang binaries arrive as bytes
                          (default) or as str (UTF-8); a call's Opts
                          `strings` overrides it
  --nil atom|none         generic calls: the atom nil is a pyrunner.Atom
                          (default) or None, and None comes back as nil;
                          a call's Opts `nil` overrides it
  --allow-gil             on a free-threaded build, run even if an import
                          re-enabled the GIL

Limits and logs:
  --max-packet BYTES      largest packet accepted, 4096..4294967296 (default: 268435456)
  --max-in-flight N       requests accepted and not yet answered (queued,
                          running or waiting) before new ones get
                          {error, overloaded} (default: 10000)
  --queue-limit N         requests queued for each kind of worker before new
                          ones get {error, overloaded} (default: 65536)
  --max-output-mb N       replies queued for one connection (the peer does
                          not read them fast enough) before pycnode stops
                          reading it and holds its requests not yet
                          started; resumed at half (default: 32)
  --output-stall-timeout SECONDS
                          a connection over --max-output-mb whose socket
                          takes nothing for this long is closed (default:
                          the --net-ticktime)
  --no-caller-monitors    do not offer monitors by name: callers' nodes then
                          send 2 control messages fewer per call (more
                          requests/s), but pycnode cannot learn that a
                          caller gave up, and cancels nothing
  --no-worker-reads       the loop thread reads every request and hands it
                          to a worker; by default an idle event worker
                          reads the sockets itself and runs what it reads
                          (one thread hand-off less per request)
  --cancel-grace-ms MS    when an ASGI request's caller gives up, its app
                          sees http.disconnect at once and its task is
                          cancelled MS later (default: 1000)
  --drain-timeout MS      on SIGTERM or SIGINT, pycnode refuses new
                          requests ({error, shutting_down}), answers those
                          in flight, then exits; past MS it closes the
                          connections and exits anyway; a second signal
                          exits at once (default: 30000)
  --request-timeout MS    deadline of a request that sets none (its Opts
                          `timeout`); past it the caller gets
                          {error, timeout} (default: 60000; 0: none)
  --max-stuck N           a thread still running a request past its
                          deadline is stuck: up to N stuck threads at a
                          time are replaced by fresh ones (default: 16;
                          0: report them, replace none)
  --scope-cache N         live build_scope references before the least
                          recently used is evicted (default: 1024)
  --log-level LEVEL       debug | info | warning | error (default: info)
  --help                  this text
)";

enum OptionId {
    OptSname = 1000, OptName, OptCookie, OptCookieFile, OptRegister, OptWorkers, OptPythonpath, OptPreload,
    OptPort, OptTicktime, OptHandshake, OptHandshakes, OptMaxPacket, OptQueueLimit, OptScopeCache, OptAllowGil, OptLogLevel, OptHelp,
    OptThreads, OptMaxInFlight, OptCancelGrace, OptNoCallerMonitors, OptNoWorkerReads, OptMaxHandshakes, OptMaxHandshakesPerAddress, OptDrainTimeout,
    OptMaxOutput, OptOutputStall,
    OptRequestTimeout, OptMaxStuck, OptStrings, OptNil, OptAppendPythonpath, OptVenv,
};

const option long_options[] = {
    {"sname", required_argument, nullptr, OptSname},
    {"name", required_argument, nullptr, OptName},
    {"cookie", required_argument, nullptr, OptCookie},
    {"cookie-file", required_argument, nullptr, OptCookieFile},
    {"register", required_argument, nullptr, OptRegister},
    {"workers", required_argument, nullptr, OptWorkers},
    {"pythonpath", required_argument, nullptr, OptPythonpath},
    {"append-pythonpath", required_argument, nullptr, OptAppendPythonpath},
    {"venv", required_argument, nullptr, OptVenv},
    {"preload", required_argument, nullptr, OptPreload},
    {"port", required_argument, nullptr, OptPort},
    {"net-ticktime", required_argument, nullptr, OptTicktime},
    {"handshake-timeout", required_argument, nullptr, OptHandshake},
    {"handshakes", required_argument, nullptr, OptHandshakes},
    {"max-handshakes", required_argument, nullptr, OptMaxHandshakes},
    {"max-handshakes-per-address", required_argument, nullptr, OptMaxHandshakesPerAddress},
    {"max-packet", required_argument, nullptr, OptMaxPacket},
    {"queue-limit", required_argument, nullptr, OptQueueLimit},
    {"threads", required_argument, nullptr, OptThreads},
    {"max-in-flight", required_argument, nullptr, OptMaxInFlight},
    {"max-output-mb", required_argument, nullptr, OptMaxOutput},
    {"output-stall-timeout", required_argument, nullptr, OptOutputStall},
    {"cancel-grace-ms", required_argument, nullptr, OptCancelGrace},
    {"no-caller-monitors", no_argument, nullptr, OptNoCallerMonitors},
    {"no-worker-reads", no_argument, nullptr, OptNoWorkerReads},
    {"drain-timeout", required_argument, nullptr, OptDrainTimeout},
    {"request-timeout", required_argument, nullptr, OptRequestTimeout},
    {"max-stuck", required_argument, nullptr, OptMaxStuck},
    {"scope-cache", required_argument, nullptr, OptScopeCache},
    {"allow-gil", no_argument, nullptr, OptAllowGil},
    {"strings", required_argument, nullptr, OptStrings},
    {"nil", required_argument, nullptr, OptNil},
    {"log-level", required_argument, nullptr, OptLogLevel},
    {"help", no_argument, nullptr, OptHelp},
    {nullptr, 0, nullptr, 0},
};

int fail(const std::string& message) {
    std::fprintf(stderr, "pycnode: %s (see --help)\n", message.c_str());
    return 2;
}

bool parse_number(const char* text, unsigned long long min, unsigned long long max, unsigned long long& out) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) return false;
    out = v;
    return true;
}

std::string short_hostname() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string host(buf);
    return host.substr(0, host.find('.'));
}

std::string long_hostname() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

// erl makes a 20-letter cookie of capitals when ~/.erlang.cookie is missing;
// doing the same lets pycnode be the first node started on a fresh machine.
bool create_cookie_file(const std::string& path, std::string& cookie) {
    std::random_device rd;
    std::uniform_int_distribution<int> letter('A', 'Z');
    cookie.clear();
    for (int i = 0; i < 20; ++i) cookie.push_back(static_cast<char>(letter(rd)));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0400);
    if (fd < 0) return false;
    bool ok = ::write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
    ::close(fd);
    return ok;
}

bool read_cookie_file(const std::string& path, std::string& cookie) {
    std::ifstream in(path);
    if (!in) return false;
    std::getline(in, cookie);
    while (!cookie.empty() && (cookie.back() == '\r' || cookie.back() == ' ')) cookie.pop_back();
    return true;
}

int resolve_cookie(const std::string& cookie_file, Options& out) {
    if (!out.cookie.empty()) return -1;
    if (!cookie_file.empty()) {
        if (!read_cookie_file(cookie_file, out.cookie)) return fail("cannot read cookie file " + cookie_file);
    } else {
        const char* home = std::getenv("HOME");
        std::string path = std::string(home ? home : "") + "/.erlang.cookie";
        if (!read_cookie_file(path, out.cookie) && !create_cookie_file(path, out.cookie))
            return fail("cannot read or create " + path);
    }
    if (out.cookie.empty()) return fail("the cookie is empty");
    return -1;
}

int set_node_name(const std::string& text, bool long_names, Options& out) {
    auto at = text.find('@');
    out.long_names = long_names;
    out.alive = text.substr(0, at);
    out.host = at == std::string::npos ? "" : text.substr(at + 1);
    if (out.alive.empty()) return fail("empty node name");
    return -1;
}

}  // namespace

int parse_options(int argc, char** argv, Options& out) {
    std::string cookie_file;
    unsigned long long n = 0;
    int rc = -1;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", long_options, nullptr)) != -1 && rc == -1;) {
        switch (c) {
            case OptSname: rc = set_node_name(optarg, false, out); break;
            case OptName: rc = set_node_name(optarg, true, out); break;
            case OptCookie: out.cookie = optarg; break;
            case OptCookieFile: cookie_file = optarg; break;
            case OptRegister: out.register_name = optarg; break;
            case OptPythonpath: out.pythonpath.emplace_back(optarg); break;
            case OptAppendPythonpath: out.append_pythonpath.emplace_back(optarg); break;
            case OptVenv:
                if (!*optarg) return fail("--venv takes a directory");
                out.venv = optarg;
                break;
            case OptPreload: out.preload.emplace_back(optarg); break;
            case OptAllowGil: out.allow_gil = true; break;
            case OptNoCallerMonitors: out.caller_monitors = false; break;
            case OptNoWorkerReads: out.worker_reads = false; break;
            case OptWorkers:
                if (!parse_number(optarg, 1, 1024, n)) return fail("--workers takes 1..1024");
                out.workers = static_cast<unsigned>(n);
                break;
            case OptPort:
                if (!parse_number(optarg, 0, 65535, n)) return fail("--port takes 0..65535");
                out.port = static_cast<int>(n);
                break;
            case OptTicktime:
                if (!parse_number(optarg, 1, 86400, n)) return fail("--net-ticktime takes 1..86400 seconds");
                out.net_ticktime = static_cast<unsigned>(n);
                break;
            case OptHandshake:
                if (!parse_number(optarg, 100, 600000, n)) return fail("--handshake-timeout takes 100..600000 ms");
                out.handshake_timeout_ms = static_cast<unsigned>(n);
                break;
            case OptHandshakes:
                // Handshakes no longer have threads of their own; kept so
                // that existing command lines still start.
                std::fputs("pycnode: --handshakes is no longer used (handshakes all run at once); ignored\n", stderr);
                break;
            case OptMaxHandshakes:
                if (!parse_number(optarg, 1, 1u << 20, n)) return fail("--max-handshakes takes 1..1048576");
                out.max_handshakes = static_cast<std::size_t>(n);
                break;
            case OptMaxHandshakesPerAddress:
                if (!parse_number(optarg, 1, 1u << 20, n))
                    return fail("--max-handshakes-per-address takes 1..1048576");
                out.max_handshakes_per_address = static_cast<std::size_t>(n);
                break;
            case OptMaxPacket:
                if (!parse_number(optarg, 4096, 1ull << 32, n)) return fail("--max-packet takes 4096..4294967296");
                out.max_packet = static_cast<std::size_t>(n);
                break;
            case OptQueueLimit:
                if (!parse_number(optarg, 1, 1u << 24, n)) return fail("--queue-limit takes 1..16777216");
                out.queue_limit = static_cast<std::size_t>(n);
                break;
            case OptThreads:
                if (!parse_number(optarg, 1, 1024, n)) return fail("--threads takes 1..1024");
                out.threads = static_cast<unsigned>(n);
                break;
            case OptMaxInFlight:
                if (!parse_number(optarg, 1, 1u << 24, n)) return fail("--max-in-flight takes 1..16777216");
                out.max_in_flight = static_cast<std::size_t>(n);
                break;
            case OptMaxOutput:
                if (!parse_number(optarg, 1, 1u << 16, n)) return fail("--max-output-mb takes 1..65536");
                out.max_output = static_cast<std::size_t>(n) << 20;
                break;
            case OptOutputStall:
                if (!parse_number(optarg, 1, 86400, n)) return fail("--output-stall-timeout takes 1..86400 seconds");
                out.output_stall_s = static_cast<unsigned>(n);
                break;
            case OptCancelGrace:
                if (!parse_number(optarg, 0, 600000, n)) return fail("--cancel-grace-ms takes 0..600000");
                out.cancel_grace_ms = static_cast<unsigned>(n);
                break;
            case OptDrainTimeout:
                if (!parse_number(optarg, 0, 3600000, n)) return fail("--drain-timeout takes 0..3600000 ms");
                out.drain_timeout_ms = static_cast<unsigned>(n);
                break;
            case OptRequestTimeout:
                if (!parse_number(optarg, 0, 4294967295ull, n)) return fail("--request-timeout takes 0..4294967295 ms");
                out.request_timeout_ms = static_cast<unsigned>(n);
                break;
            case OptMaxStuck:
                if (!parse_number(optarg, 0, 1024, n)) return fail("--max-stuck takes 0..1024");
                out.max_stuck = static_cast<unsigned>(n);
                break;
            case OptScopeCache:
                if (!parse_number(optarg, 1, 1u << 20, n)) return fail("--scope-cache takes 1..1048576");
                out.scope_cache = static_cast<std::size_t>(n);
                break;
            case OptStrings:
                if (std::string_view(optarg) != "str" && std::string_view(optarg) != "bytes")
                    return fail("--strings takes bytes or str");
                out.call_strings_as_str = std::string_view(optarg) == "str";
                break;
            case OptNil:
                if (std::string_view(optarg) != "none" && std::string_view(optarg) != "atom")
                    return fail("--nil takes atom or none");
                out.call_nil_as_none = std::string_view(optarg) == "none";
                break;
            case OptLogLevel:
                if (!log::parse_level(optarg, out.log_level)) return fail("unknown --log-level");
                break;
            case OptHelp: std::fputs(usage_text, stdout); return 0;
            default: return fail(std::string("unknown or incomplete option ") + argv[optind - 1]);
        }
    }
    if (rc != -1) return rc;
    if (optind < argc) return fail(std::string("unexpected argument ") + argv[optind]);
    if (out.host.empty()) out.host = out.long_names ? long_hostname() : short_hostname();
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    if (out.workers == 0) out.workers = cores;
    if (out.threads == 0) out.threads = std::max(8u, 4 * cores);
    if (out.output_stall_s == 0) out.output_stall_s = out.net_ticktime;
    return resolve_cookie(cookie_file, out);
}

}  // namespace pycnode
