#!/usr/bin/env bash
# Instructions per request in pycnode's own user space, with valgrind's
# callgrind: deterministic where timings on this shared VM are not, so it
# shows what a change to the hot path saves. pycnode (1 worker) runs under
# callgrind, gets REQUESTS requests of one kind from 4 Erlang callers, and
# stops; then the instructions counted while serving (instrumentation is on only
# around the requests) are divided by REQUESTS, and the functions with the
# most inclusive instructions are listed. The kernel is not counted (see
# bench/profile.sh for the whole picture).
#
#   bash bench/callgrind.sh [SCENARIO] [REQUESTS]
#     SCENARIO: asgi_hello (default), wsgi_hello, ping, call
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-asgi_hello}
requests=${2:-4000}
binary=${BENCH_BINARY:-build/pycnode}
command -v valgrind >/dev/null || bash scripts/install-deps.sh --bench
source bench/lib.sh
# Instrumentation starts off: start-up and imports are not the hot path.
start_pycnode "cg_$$" cg 60 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/callgrind.out" -- --workers 1 --handshake-timeout 60000

erl -noshell -sname "cgload_$$" -setcookie cg -pa "$work" -eval "
    Node = bench_requests:pycnode_node(\"cg_$$\"),
    Req = bench_requests:named($scenario),
    Call = fun() -> gen_server:call({pycnode, Node}, Req, 60000) end,
    [Call() || _ <- lists:seq(1, 200)],  % warm: caches, templates, first imports
    os:cmd(\"callgrind_control -i on $pyc\"),
    Self = self(),
    Each = $requests div 4,
    [spawn_link(fun() -> [Call() || _ <- lists:seq(1, Each)], Self ! done end) || _ <- lists:seq(1, 4)],
    [receive done -> ok end || _ <- lists:seq(1, 4)],
    os:cmd(\"callgrind_control -i off $pyc\"),
    halt()." >/dev/null
kill -TERM "$pyc"; wait "$pyc" 2>/dev/null || true
# CALLGRIND_OUT=DIR keeps the profiles there (callgrind_annotate --tree=both, kcachegrind).
[[ -n "${CALLGRIND_OUT:-}" ]] && mkdir -p "$CALLGRIND_OUT" && cp "$work"/callgrind.out* "$CALLGRIND_OUT"/

annotate() { callgrind_annotate "$@" "$work"/callgrind.out* 2>/dev/null || true; }
total=$(annotate | awk '/PROGRAM TOTALS/ && !t {gsub(",", "", $1); t = $1} END {print t + 0}')
echo "$scenario: $((total / requests)) instructions per request in pycnode's user space ($requests requests, 1 worker)"
echo "most inclusive instructions per request:"
annotate --inclusive="${CALLGRIND_INCLUSIVE:-yes}" |
  awk -v n="$requests" -v top="${CALLGRIND_TOP:-30}" '/^ *[0-9,]+ .*:/ && k < top { c = $1; gsub(",", "", c); $1 = ""; printf "%10d %s\n", c / n, $0; k++ }'
