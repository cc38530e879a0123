#!/usr/bin/env bash
# `make bench`: pycnode against an Erlang gen_server floor, the generic call
# path, and uvicorn/gunicorn, at several concurrencies; writes results.json,
# results.md and results.png to $BENCH_OUT. `make bench-smoke` (BENCH_SMOKE=1)
# runs every scenario once, at 16, briefly, and fails on a broken scenario.
#
# Then the in-flight rows, on a second pycnode started with --threads
# $BENCH_WSGI_THREADS, each at $BENCH_INFLIGHT_CALLERS callers (smoke runs too, 1 s):
# apps that wait 20 ms (ASGI asyncio.sleep, WSGI time.sleep, an async def
# called with {call, ...}) against uvicorn and gunicorn (gthread) serving the
# same apps to wrk, and the ASGI hello from 1 caller while that many ASGI
# requests wait on an event set only afterwards (bench/apps/bench_app.py).
#
# Knobs (environment):
#   BENCH_SECONDS      measured seconds per scenario and concurrency (5)
#   BENCH_WARMUP_MS    warm-up before each measurement (1000)
#   BENCH_CONCURRENCY  callers / connections (1 16 64 256)
#   BENCH_BINARY       pycnode binary (build/pycnode; build-ft/pycnode works)
#   BENCH_WORKERS      pycnode --workers (pycnode's default when empty)
#   BENCH_OUT          output directory (bench-results/)
#   BENCH_SMOKE        1: 16 callers, 1 s + 200 ms warm-up each
#   BENCH_ERL_FLAGS    extra erl flags for the floor node and the driver (none)
#   BENCH_PIN          SERVER_CPUS:CLIENT_CPUS, e.g. 1:0: every server under
#                      test (pycnode, the floor node, uvicorn, gunicorn) runs
#                      on the first CPU list, the clients (the Erlang driver,
#                      wrk) on the second (taskset); none by default
#   BENCH_PYCNODE_ARGS extra options for the main pycnode (e.g. --no-caller-monitors)
#   BENCH_ONLY         scenario ids to run, space- or comma-separated (all when
#                      empty), e.g. "asgi_sleep wsgi_sleep call_async_sleep
#                      asgi_hello_parked"; an id runs on every server that has it
#   BENCH_INFLIGHT_CALLERS  callers / connections of the in-flight rows, and the
#                      ASGI requests parked under the hello (64)
#   BENCH_WSGI_THREADS pycnode --threads and gunicorn gthread --threads of the
#                      WSGI sleep row, the same for both (32)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

smoke=${BENCH_SMOKE:-0}
if [[ "$smoke" == 1 ]]; then
  seconds=1 warmup_ms=200 concurrency="16"
else
  seconds=${BENCH_SECONDS:-5} warmup_ms=${BENCH_WARMUP_MS:-1000}
  concurrency=${BENCH_CONCURRENCY:-"1 16 64 256"}
fi
binary=${BENCH_BINARY:-build/pycnode}
workers=${BENCH_WORKERS:-}
out=${BENCH_OUT:-bench-results}
python=/usr/bin/python3  # Debian's, whatever is first on PATH
inflight_callers=${BENCH_INFLIGHT_CALLERS:-64}
# 32 threads for 64 callers, on both sides of the WSGI sleep row: fewer
# threads than callers, as a thread pool is deployed, so half the requests
# queue in pycnode's blocking queue and in gunicorn's gthread queue alike, and
# both share a known ceiling of 32 / 20 ms = 1,600 req/s that the row can be
# read against. BENCH_WSGI_THREADS=64 gives every caller its own thread
# instead (a ceiling of 3,200 req/s), which on a small machine mostly measures
# 64 threads taking turns at the GIL.
wsgi_threads=${BENCH_WSGI_THREADS:-32}
only=${BENCH_ONLY:-}

# Scenario ids by where they run (bench/pyc_bench.erl, bench/http_servers.py).
base_ids="ping call_add asgi_hello asgi_hello_via_call asgi_hello_via_call_bare wsgi_hello
          starlette_json flask_json echo_64k echo_1m"
inflight_ids="asgi_sleep wsgi_sleep call_async_sleep asgi_hello_parked"
http_ids="asgi_hello starlette_json wsgi_hello flask_json asgi_sleep wsgi_sleep"
wants() {  # IDS: true when BENCH_ONLY is empty or names one of IDS
  [[ -z "$only" ]] && return 0
  local id
  for id in $1; do [[ " ${only//,/ } " == *" $id "* ]] && return 0; done
  return 1
}

started=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
log() { echo "bench: $*" >&2; }
[[ -x "$binary" ]] || { log "$binary not built (make build)"; exit 1; }
for id in ${only//,/ }; do
  [[ " $(echo $base_ids $inflight_ids $http_ids) " == *" $id "* ]] \
    || { log "BENCH_ONLY: no scenario '$id' (scenarios: $(echo $base_ids $inflight_ids))"; exit 1; }
done
bash scripts/install-deps.sh --bench

parts=$out/parts; logs=$out/logs
mkdir -p "$parts" "$logs"
rm -f "$parts"/*.json
work=$(mktemp -d)
pids=()
stop_all() {  # what this script started, by pid
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM  # so the EXIT trap runs on Ctrl-C too
stop_pids() {  # PID...: stops these (started here) and forgets them
  local pid p keep=()
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
  for p in "${pids[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# Runs a long step in the background and waits for it: bash runs a trap only
# once its foreground command ends, but at once when it is in `wait`.
run_waited() {
  local pid rc=0 p keep=()
  "$@" & pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  for p in "${pids[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
  return "$rc"
}

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {  # FILE PATTERN PID WHAT: until FILE has PATTERN, while PID lives
  for _ in $(seq 1 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { log "$4 exited:"; cat "$1" >&2; exit 1; }
    sleep 0.1
  done
  log "$4 not ready after 30 s:"; cat "$1" >&2; exit 1
}

# A private epmd: nothing here meets another node on this machine.
export ERL_EPMD_PORT=$(free_port)
epmd -port "$ERL_EPMD_PORT" & pids+=($!)
export ERL_CRASH_DUMP=$logs/erl_crash.dump  # not in the working tree
cookie="bench_$RANDOM$RANDOM"
tag="$$_$RANDOM"
erl_flags=${BENCH_ERL_FLAGS:-}
server_pin=(); client_pin=()
if [[ -n "${BENCH_PIN:-}" ]]; then
  server_pin=(taskset -c "${BENCH_PIN%%:*}"); client_pin=(taskset -c "${BENCH_PIN##*:}")
fi
export BENCH_PIN
erlc -o "$work" bench/pyc_load.erl bench/pyc_bench.erl bench/floor_server.erl

worker_args=(); [[ -n "$workers" ]] && worker_args=(--workers "$workers")
start_pycnode() {  # SNAME LOG [PYCNODE OPTIONS...]: sets pyc_pid, once it is ready
  local sname=$1 log_file=$2
  shift 2
  "${server_pin[@]}" "$binary" --sname "$sname" --cookie "$cookie" --pythonpath "$root/bench/apps" \
    "${worker_args[@]}" "$@" 2>"$log_file" &
  pyc_pid=$!; pids+=($pyc_pid)  # pycnode's own pid: the one /proc is read for
  wait_for "$log_file" "pycnode ready" "$pyc_pid" pycnode
  grep "pycnode ready" "$log_file" >&2
}
# The Erlang driver: GROUP PYC_SNAME FLOOR_SNAME (none: no floor) PYC_LOG OUT.
drive() {
  run_waited "${client_pin[@]}" erl +Bd $erl_flags -noshell -sname "driver_${1}_$tag" -setcookie "$cookie" -pa "$work" \
    -run pyc_bench main "$2" "$3" "$pyc_pid" "$5" "$seconds" "$warmup_ms" "$concurrency" "$(getconf CLK_TCK)" \
    "$1" "${only:-all}" "$inflight_callers" \
    || { failed=1; log "the Erlang driver failed ($1); the end of pycnode's log:"; tail -n 20 "$4" >&2; }
}

# The CPU a pycnode with nothing to do uses (no spinning at rest): its
# user+system time over $idle_s seconds right after start-up, in % of a core.
idle_s=$([[ "$smoke" == 1 ]] && echo 1 || echo "${BENCH_IDLE_SECONDS:-10}")
measure_idle() {  # PID OUT
  local ticks t0 t1
  ticks=$(getconf CLK_TCK)
  t0=$(awk '{print $14 + $15}' "/proc/$1/stat")
  sleep "$idle_s"
  t1=$(awk '{print $14 + $15}' "/proc/$1/stat")
  "$python" -c 'import json, sys; t0, t1, hz, s = map(float, sys.argv[1:5]); json.dump({"seconds": s, "cpu_percent": (t1 - t0) / hz / s * 100}, open(sys.argv[5], "w"))' \
    "$t0" "$t1" "$ticks" "$idle_s" "$2"
  log "idle pycnode: $(cat "$2")"
}

# A failed half still leaves a report of what was measured; the exit status says it failed.
failed=0
start=$SECONDS
if wants "$base_ids"; then
  log "starting pycnode ($binary${workers:+, $workers workers}) and the floor node"
  # +Bd: Ctrl-C stops these nodes rather than opening the break menu.
  # BENCH_ERL_FLAGS go to the floor node and the driver alike. By default none:
  # Erlang nodes as users run them, whose schedulers spin briefly before they
  # sleep. On two shared cores that spinning takes CPU from the server under
  # test and shapes the client's batching; "+sbwt none +sbwtdcpu none
  # +sbwtdio none" turns it off (docs/performance.md shows both).
  "${server_pin[@]}" erl +Bd $erl_flags -noshell -sname "floor_$tag" -setcookie "$cookie" -pa "$work" \
    -eval 'floor_server:start(), io:format("floor ready~n")' >"$logs/floor.log" 2>&1 &
  floor_pid=$!; pids+=($floor_pid)
  # shellcheck disable=SC2086  # BENCH_PYCNODE_ARGS: extra options, word-split on purpose
  start_pycnode "pyc_$tag" "$logs/pycnode.log" ${BENCH_PYCNODE_ARGS:-}
  wait_for "$logs/floor.log" "floor ready" "$floor_pid" "floor node"
  measure_idle "$pyc_pid" "$parts/idle.json"
  log "Erlang-side scenarios: N = $concurrency, ${seconds} s each after ${warmup_ms} ms warm-up"
  drive base "pyc_$tag" "floor_$tag" "$logs/pycnode.log" "$parts/pyc.json"
  stop_pids "$pyc_pid" "$floor_pid"
fi
if wants "$inflight_ids"; then
  log "in-flight rows: a pycnode with --threads $wsgi_threads, N = $inflight_callers"
  start_pycnode "pyc_inflight_$tag" "$logs/pycnode_inflight.log" --threads "$wsgi_threads"
  drive inflight "pyc_inflight_$tag" none "$logs/pycnode_inflight.log" "$parts/pyc_inflight.json"
  stop_pids "$pyc_pid"
fi
erl_took=$((SECONDS - start))
log "Erlang-side scenarios took $erl_took s"
# The HTTP servers and wrk get the machine to themselves.
stop_all

start=$SECONDS
if wants "$http_ids"; then
  log "HTTP servers with wrk: N = $concurrency (in-flight rows: $inflight_callers, gunicorn gthread --threads $wsgi_threads)"
  run_waited "$python" bench/http_servers.py --out "$parts/http.json" --logs "$logs" --seconds "$seconds" \
    --warmup-ms "$warmup_ms" --concurrency "$concurrency" --inflight-callers "$inflight_callers" \
    --wsgi-threads "$wsgi_threads" --only "$only" || { failed=1; log "the HTTP side failed"; }
fi
http_took=$((SECONDS - start))
log "HTTP scenarios took $http_took s"

"$python" bench/report.py --parts "$parts" --out "$out" --binary "$binary" --started "$started" \
  --knobs "seconds=$seconds" "warmup_ms=$warmup_ms" "concurrency=$concurrency" \
          "workers=${workers:-default}" "smoke=$smoke" "erl_flags=${erl_flags:-none}" "pin=${BENCH_PIN:-none}" \
          "inflight_callers=$inflight_callers" "wsgi_threads=$wsgi_threads" "only=${only:-all}" \
          "erlang_side_s=$erl_took" "http_side_s=$http_took"
exit $failed
