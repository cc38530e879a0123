#!/usr/bin/env bash
# `make bench`: pycnode against an Erlang gen_server floor, the generic call
# path, and uvicorn/gunicorn, at several concurrencies; writes results.json,
# results.md and results.png to $BENCH_OUT. `make bench-smoke` (BENCH_SMOKE=1)
# runs every scenario once, at 16, briefly, and fails on a broken scenario.
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

started=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
log() { echo "bench: $*" >&2; }
[[ -x "$binary" ]] || { log "$binary not built (make build)"; exit 1; }
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
cookie="bench_$RANDOM$RANDOM"
tag="$$_$RANDOM"
erl_flags=${BENCH_ERL_FLAGS:-}
server_pin=(); client_pin=()
if [[ -n "${BENCH_PIN:-}" ]]; then
  server_pin=(taskset -c "${BENCH_PIN%%:*}"); client_pin=(taskset -c "${BENCH_PIN##*:}")
fi
export BENCH_PIN
erlc -o "$work" bench/pyc_load.erl bench/pyc_bench.erl bench/floor_server.erl

log "starting pycnode ($binary${workers:+, $workers workers}) and the floor node"
worker_args=(); [[ -n "$workers" ]] && worker_args=(--workers "$workers")
"${server_pin[@]}" "$binary" --sname "pyc_$tag" --cookie "$cookie" --pythonpath "$root/bench/apps" \
  "${worker_args[@]}" 2>"$logs/pycnode.log" &
pyc_pid=$!; pids+=($pyc_pid)  # pycnode's own pid: the one /proc is read for
# +Bd: Ctrl-C stops these nodes rather than opening the break menu.
# BENCH_ERL_FLAGS go to the floor node and the driver alike. By default none:
# Erlang nodes as users run them, whose schedulers spin briefly before they
# sleep. On two shared cores that spinning takes CPU from the server under
# test and shapes the client's batching; "+sbwt none +sbwtdcpu none
# +sbwtdio none" turns it off (docs/performance.md shows both).
"${server_pin[@]}" erl +Bd $erl_flags -noshell -sname "floor_$tag" -setcookie "$cookie" -pa "$work" \
  -eval 'floor_server:start(), io:format("floor ready~n")' >"$logs/floor.log" 2>&1 &
floor_pid=$!; pids+=($floor_pid)
wait_for "$logs/pycnode.log" "pycnode ready" "$pyc_pid" pycnode
wait_for "$logs/floor.log" "floor ready" "$floor_pid" "floor node"
grep "pycnode ready" "$logs/pycnode.log" >&2

# A failed half still leaves a report of what was measured; the exit status says it failed.
failed=0
start=$SECONDS
log "Erlang-side scenarios: N = $concurrency, ${seconds} s each after ${warmup_ms} ms warm-up"
run_waited "${client_pin[@]}" erl +Bd $erl_flags -noshell -sname "driver_$tag" -setcookie "$cookie" -pa "$work" -run pyc_bench main \
  "pyc_$tag" "floor_$tag" "$pyc_pid" "$parts/pyc.json" "$seconds" "$warmup_ms" \
  "$concurrency" "$(getconf CLK_TCK)" \
  || { failed=1; log "the Erlang driver failed; the end of pycnode's log:"; tail -n 20 "$logs/pycnode.log" >&2; }
erl_took=$((SECONDS - start))
log "Erlang-side scenarios took $erl_took s"
# The HTTP servers and wrk get the machine to themselves.
stop_all

start=$SECONDS
log "HTTP servers with wrk: N = $concurrency"
run_waited "$python" bench/http_servers.py --out "$parts/http.json" --logs "$logs" --seconds "$seconds" \
  --warmup-ms "$warmup_ms" --concurrency "$concurrency" || { failed=1; log "the HTTP side failed"; }
http_took=$((SECONDS - start))
log "HTTP scenarios took $http_took s"

"$python" bench/report.py --parts "$parts" --out "$out" --binary "$binary" --started "$started" \
  --knobs "seconds=$seconds" "warmup_ms=$warmup_ms" "concurrency=$concurrency" \
          "workers=${workers:-default}" "smoke=$smoke" "erl_flags=${erl_flags:-none}" "pin=${BENCH_PIN:-none}" \
          "erlang_side_s=$erl_took" "http_side_s=$http_took"
exit $failed
