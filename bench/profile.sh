#!/usr/bin/env bash
# Where pycnode's CPU goes per request: perf samples pycnode while 64 Erlang
# callers load it, and the samples are split by thread (the loop thread,
# the Python workers) and by what ran (the kernel, CPython, pycnode's own
# code, libc, the rest), in microseconds of CPU per request. The total comes
# from /proc over the same window. This is the breakdown docs/performance.md
# records.
#
#   bash bench/profile.sh [SCENARIO] [SECONDS]
#     SCENARIO: asgi_hello (default), wsgi_hello, ping, call, echo_1mib
#   Environment: BENCH_BINARY (build/pycnode), BENCH_WORKERS (2),
#   PROFILE_CONCURRENCY (64), PROFILE_OUT (keeps perf.data there if set),
#   PROFILE_SYSCALLS=1: instead of sampling, counts pycnode's system calls
#   over the window (strace -c -f) and prints them per request (strace
#   slows pycnode down: the counts per request, not the rate, are the point),
#   BENCH_PYCNODE_ARGS: extra pycnode options.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-asgi_hello}
seconds=${2:-5}
binary=${BENCH_BINARY:-build/pycnode}
workers=${BENCH_WORKERS:-2}
concurrency=${PROFILE_CONCURRENCY:-64}
command -v perf >/dev/null || bash scripts/install-deps.sh --bench
source bench/lib.sh
# shellcheck disable=SC2086  # extra options, word-split on purpose
start_pycnode "prof_$$" profile 10 -- --workers "$workers" ${BENCH_PYCNODE_ARGS:-}

# A load node without scheduler busy-waiting, so that its spinning does not
# take CPU from the pycnode being profiled on these two cores.
erl -noshell +sbwt none +sbwtdcpu none +sbwtdio none -sname "load_$$" -setcookie profile -pa "$work" -eval "
    Node = bench_requests:pycnode_node(\"prof_$$\"),
    Req = bench_requests:named($scenario),
    Cpu = fun() ->
        {ok, Stat} = file:read_file(\"/proc/$pyc/stat\"),
        [_, After] = string:split(Stat, \") \"),
        Fields = string:lexemes(After, \" \"),
        lists:sum([binary_to_integer(lists:nth(I, Fields)) || I <- [12, 13]])
    end,
    pyc_load:run({pycnode, Node}, Req, $concurrency, 1000, #{warmup_ms => 0}),
    ok = file:write_file(\"$work/warm\", <<>>),
    Go = fun Wait() -> case filelib:is_file(\"$work/go\") of true -> ok; false -> timer:sleep(10), Wait() end end,
    Go(),
    C0 = Cpu(),
    ok = file:write_file(\"$work/measuring\", <<>>),
    #{requests := N, rps := Rps} = pyc_load:run({pycnode, Node}, Req, $concurrency, ${seconds}000, #{warmup_ms => 0}),
    C1 = Cpu(),
    Ticks = list_to_integer(string:trim(os:cmd(\"getconf CLK_TCK\"))),
    ok = file:write_file(\"$work/result\", io_lib:format(\"~b ~.1f ~.3f~n\", [N, Rps, (C1 - C0) / Ticks])),
    halt()." &
load=$!
pids+=($load)
for _ in $(seq 1 200); do [[ -e "$work/warm" ]] && break; sleep 0.05; done
if [[ "${PROFILE_SYSCALLS:-0}" == 1 ]]; then
  # strace attached before the measured window opens and detached after it
  # closes: every request of the window is counted (a few idle calls too).
  strace -c -f -p "$pyc" -o "$work/strace.txt" 2>/dev/null & tracer=$!
  sleep 1; touch "$work/go"
  wait "$load"
  kill -INT "$tracer"; wait "$tracer" || true
  read -r requests rps cpu_s <"$work/result"
  "$python" - "$work/strace.txt" "$requests" "$rps" <<'PY'
import sys
path, requests, rps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print(f"system calls per request ({requests} requests, {rps:.0f}/s under strace):")
for line in open(path):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] not in ("total",):
        calls = int(f[3])
        print(f"  {f[-1]:<16}{calls / requests:8.2f}")
PY
  exit 0
fi
touch "$work/go"
for _ in $(seq 1 100); do [[ -e "$work/measuring" ]] && break; sleep 0.05; done
perf record -F 1999 -p "$pyc" -o "$work/perf.data" -- sleep "$((seconds - 1))" >/dev/null 2>&1
wait "$load"
read -r requests rps cpu_s <"$work/result"
[[ -n "${PROFILE_OUT:-}" ]] && cp "$work/perf.data" "$PROFILE_OUT"

perf report -i "$work/perf.data" --no-children --sort comm,dso -g none --stdio -t $'\t' 2>/dev/null |
  "$python" -c '
import sys
requests, rps, cpu_s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
us_per_request = cpu_s * 1e6 / requests
def thread(comm):
    return "workers" if comm.startswith("pyworker") else "loop" if comm == "pycnode" else "other threads"
def part(dso):
    if dso.startswith("[kernel"): return "kernel"
    if dso.startswith("libpython"): return "CPython"
    if dso == "pycnode": return "pycnode"
    if dso.startswith("libc.so") or dso.startswith("libstdc++"): return "libc, libstdc++"
    if dso.startswith("libuv"): return "libuv"
    return "other"
shares = {}
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    fields = [f.strip() for f in line.split("\t") if f.strip()]
    if len(fields) < 3 or not fields[0].endswith("%"):
        continue
    key = (thread(fields[1]), part(fields[2]))
    shares[key] = shares.get(key, 0.0) + float(fields[0].rstrip("%")) / 100
print(f"{sys.argv[4]}: {rps:.0f} requests/s, {us_per_request:.1f} us of pycnode CPU per request "
      f"({cpu_s:.2f} s over {requests} requests)")
print(" " * 16 + "".join(f"{p:>17}" for p in ["kernel", "CPython", "pycnode", "libc, libstdc++", "libuv", "other", "total"]))
for t in ["loop", "workers", "other threads"]:
    row = [shares.get((t, p), 0.0) * us_per_request for p in ["kernel", "CPython", "pycnode", "libc, libstdc++", "libuv", "other"]]
    if sum(row) > 0:
        print(f"{t:16}" + "".join(f"{v:17.2f}" for v in row + [sum(row)]))
' "$requests" "$rps" "$cpu_s" "$scenario"
echo "top symbols (share of pycnode's samples):"
perf report -i "$work/perf.data" --no-children --sort comm,sym -g none --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -25
