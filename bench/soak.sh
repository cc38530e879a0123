#!/usr/bin/env bash
# `make soak`: one pycnode, started with its defaults, under a long mixed load
# with faults (bench/pyc_soak.erl says what runs), every reply checked, and its
# RSS, threads and fds read from /proc at the start (after a warm-up), every
# 10 s, and at the end. Prints a summary and writes $SOAK_OUT/soak.{md,json}.
# Then pycnode gets SIGTERM and must exit 0.
#
# Fails (non-zero) when a reply was not the expected one, pycnode died, its
# RSS at the end is over 1.5x the start plus 64 MiB, its fds or threads grew,
# it was not quiet once the load stopped, or it did not exit 0 on SIGTERM.
#
# Knobs (environment):
#   SOAK_SECONDS         how long the load runs, warm-up included (600)
#   SOAK_CALLERS         caller processes on the driver node (32)
#   SOAK_BINARY          pycnode binary (build/pycnode)
#   SOAK_WARMUP_SECONDS  load before the start sample (a fifth of SOAK_SECONDS, at most 10)
#   SOAK_OUT             output directory (bench-results/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${SOAK_SECONDS:-600}
callers=${SOAK_CALLERS:-32}
binary=${SOAK_BINARY:-build/pycnode}
out=${SOAK_OUT:-bench-results}
warmup=${SOAK_WARMUP_SECONDS:-$((seconds / 5 < 10 ? seconds / 5 : 10))}
python=/usr/bin/python3  # Debian's, whatever is first on PATH

log() { echo "soak: $*" >&2; }
[[ -x "$binary" ]] || { log "$binary not built (make build)"; exit 1; }
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 5 ]] || { log "SOAK_SECONDS: at least 5"; exit 1; }
[[ "$warmup" =~ ^[0-9]+$ && "$warmup" -ge 1 && "$warmup" -lt "$seconds" ]] \
  || { log "SOAK_WARMUP_SECONDS: 1 to SOAK_SECONDS - 1"; exit 1; }

logs=$out/logs
mkdir -p "$logs"
rm -f "$out/soak.md" "$out/soak.json"
work=$(mktemp -d)
pids=()
# The driver's peer nodes: it writes each one's OS pid here while it runs,
# so that a run cut short (Ctrl-C, a driver that crashed) stops them too.
export SOAK_PEER_PID_DIR=$work/peers
mkdir "$SOAK_PEER_PID_DIR"
stop_all() {  # what this script started, by pid
  local pid file
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for file in "$SOAK_PEER_PID_DIR"/*; do [[ -e "$file" ]] && kill -KILL "${file##*/}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
forget() {  # PID: no longer ours to stop (it has been waited for)
  local p keep=()
  for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM  # so the EXIT trap runs on Ctrl-C too

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A private epmd: nothing here meets another node on this machine. The peer
# nodes the driver starts inherit ERL_EPMD_PORT too.
export ERL_EPMD_PORT=$(free_port)
epmd -port "$ERL_EPMD_PORT" & pids+=($!)
export ERL_CRASH_DUMP=$logs/soak_erl_crash.dump  # not in the working tree
cookie="soak_$RANDOM$RANDOM"
tag="$$_$RANDOM"
erlc -o "$work" bench/pyc_soak.erl bench/pyc_bench.erl bench/pyc_load.erl

# pycnode as users start it: only a name, the cookie and where the apps are.
pyc_log=$logs/soak_pycnode.log
"$binary" --sname "soak_pyc_$tag" --cookie "$cookie" --pythonpath "$root/bench/apps" 2>"$pyc_log" &
pyc_pid=$!; pids+=($pyc_pid)
for _ in $(seq 1 300); do
  grep -q "pycnode ready" "$pyc_log" && break
  kill -0 "$pyc_pid" 2>/dev/null || { log "pycnode exited:"; cat "$pyc_log" >&2; exit 1; }
  sleep 0.1
done
grep "pycnode ready" "$pyc_log" >&2 || { log "pycnode not ready after 30 s:"; cat "$pyc_log" >&2; exit 1; }

# The driver runs in the background and is waited for: bash runs a trap
# only once its foreground command ends, but at once when it is in `wait`.
# +Bd: Ctrl-C stops the node rather than opening the break menu.
status=0
erl +Bd -noshell -sname "soak_driver_$tag" -setcookie "$cookie" -pa "$work" \
  -run pyc_soak main "soak_pyc_$tag" "$pyc_pid" "$seconds" "$callers" "$warmup" "$out" "$binary" &
driver_pid=$!; pids+=($driver_pid)
wait "$driver_pid" || status=$?
forget "$driver_pid"

# Last check: a clean shutdown after the run. Nothing is in flight by now,
# so pycnode's drain ends at once; 40 s covers its --drain-timeout (30 s).
shutdown="pycnode had died"
if kill -0 "$pyc_pid" 2>/dev/null; then
  kill -TERM "$pyc_pid"
  for _ in $(seq 1 400); do  # until it has exited (a zombie, or gone)
    state=$(awk '{print $3}' "/proc/$pyc_pid/stat" 2>/dev/null || true)
    [[ -n "$state" && "$state" != Z ]] || break
    sleep 0.1
  done
  kill -KILL "$pyc_pid" 2>/dev/null || true  # a no-op once it has exited
  pyc_status=0; wait "$pyc_pid" || pyc_status=$?
  forget "$pyc_pid"
  shutdown="pycnode exited with status $pyc_status on SIGTERM"
  [[ "$pyc_status" == 0 || "$status" != 0 ]] || status=1
elif [[ "$status" == 0 ]]; then
  status=1
fi
# Reported, not judged: the faults make pycnode log warnings by design
# (each refused handshake is one), and its log is rate-limited anyway.
levels=$(awk '{n[$3]++} END {for (l in n) printf "%s%s %d", (c++ ? ", " : ""), l, n[l]}' "$pyc_log")
echo "  shutdown: $shutdown"
echo "  pycnode's log, lines by level: $levels"
if [[ -f "$out/soak.json" ]]; then
  printf '\nAfter the run: %s. pycnode'"'"'s log, lines by level: %s.\n' "$shutdown" "$levels" >>"$out/soak.md"
  "$python" - "$out/soak.json" "$shutdown" "$status" "$levels" <<'EOF'
import json, sys
path, shutdown, status, levels = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path) as f:
    report = json.load(f)
report["shutdown"] = shutdown
report["pycnode_log_lines"] = {l: int(n) for l, n in (p.split() for p in levels.split(", ") if p)}
report["ok"] = report["ok"] and status == 0
with open(path, "w") as f:
    json.dump(report, f, indent=1, sort_keys=True)
    f.write("\n")
EOF
fi
if [[ "$status" != 0 ]]; then
  log "FAILED (status $status); the end of pycnode's log ($pyc_log):"
  tail -n 30 "$pyc_log" >&2
else
  log "passed; $out/soak.md"
fi
exit "$status"
