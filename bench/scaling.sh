#!/usr/bin/env bash
# Worker scaling on the GIL build and the free-threaded build: a CPU-bound
# Python function (pyc_fixtures.cpu_work, about 200 us of pure Python) called
# by 64 concurrent Erlang callers, with 1 and 2 workers. Prints a Markdown table.
#
#   bash bench/scaling.sh [SECONDS]      (builds: build/pycnode, build-ft/pycnode)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
callers=64
work=$(mktemp -d)
epmd_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT=$epmd_port
epmd -port "$epmd_port" & epmd_pid=$!
pyc_pid=""
cleanup() {
  [[ -n "$pyc_pid" ]] && kill "$pyc_pid" 2>/dev/null && wait "$pyc_pid" 2>/dev/null
  kill "$epmd_pid" 2>/dev/null; wait "$epmd_pid" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
erlc -o "$work" bench/pyc_load.erl
cookie=bench_cookie

measure() {  # binary workers -> one table row
  local binary=$1 workers=$2 name="scale_$RANDOM"
  "$binary" --sname "$name" --cookie "$cookie" --workers "$workers" --pythonpath test/fixtures \
    2>"$work/pycnode.log" & pyc_pid=$!
  for _ in $(seq 1 100); do grep -q "pycnode ready" "$work/pycnode.log" && break; sleep 0.1; done
  erl -noshell -sname "load_$RANDOM" -setcookie "$cookie" -pa "$work" -eval "
    Host = lists:last(string:split(atom_to_list(node()), \"@\")),
    Node = list_to_atom(\"$name@\" ++ Host),
    pong = net_adm:ping(Node),
    {ok, S} = gen_server:call({pycnode, Node}, stats),
    Req = {call, <<\"pyc_fixtures\">>, <<\"cpu_work\">>, []},
    R = pyc_load:run({pycnode, Node}, Req, $callers, ${seconds}000, #{warmup_ms => 1000}),
    io:format(\"| ~s | ~s | ~B | ~.1f | ~B | ~B | ~B |~n\",
              [maps:get(python_version, S), case maps:get(gil_enabled, S) of true -> \"on\"; false -> \"off\" end,
               $workers, maps:get(rps, R), maps:get(p50, R), maps:get(p99, R), maps:get(errors, R)]),
    halt()."
  kill "$pyc_pid"; wait "$pyc_pid" 2>/dev/null || true; pyc_pid=""
}

echo "| Python | GIL | workers | calls/s | p50 us | p99 us | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for binary in build/pycnode build-ft/pycnode; do
  [[ -x "$binary" ]] || { echo "| ($binary not built) | | | | | | |"; continue; }
  for workers in 1 2; do measure "$binary" "$workers"; done
done
