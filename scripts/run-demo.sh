#!/usr/bin/env bash
# `make run`: starts epmd if needed and a pycnode, then calls Python from an
# Erlang node and shows the answers. Stops the pycnode it started.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/pycnode}
node=pycnode_demo

epmd -daemon  # no-op when an epmd already runs on this port
log=$(mktemp)
"$binary" --sname "$node" --pythonpath examples --log-level info 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  grep -q "pycnode ready" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
grep "pycnode ready" "$log" || { cat "$log"; echo "pycnode did not start" >&2; exit 1; }

erl -noshell -sname "demo_$$" -pa erl/ebin -eval "
    Node = list_to_atom(\"$node@\" ++ lists:last(string:split(atom_to_list(node()), \"@\"))),
    io:format(\"~nnet_adm:ping(~p) -> ~p~n\", [Node, net_adm:ping(Node)]),
    Show = fun(Label, Result) -> io:format(\"~s~n    -> ~p~n\", [Label, Result]) end,
    Show(\"pycnode:call(Node, hello, greet, [<<\\\"Erlang\\\">>])\",
         pycnode:call(Node, hello, greet, [<<\"Erlang\">>])),
    Show(\"pycnode:call(Node, hello, describe, [[1, 2, 3, 4.5]])\",
         pycnode:call(Node, hello, describe, [[1, 2, 3, 4.5]])),
    Show(\"pycnode:call(Node, math, factorial, [30])\",
         pycnode:call(Node, math, factorial, [30])),
    Show(\"pycnode:call(Node, hello, greet, [42])  (a Python exception)\",
         pycnode:call(Node, hello, greet, [42])),
    {ok, Stats} = pycnode:stats(Node),
    Show(\"pycnode:stats(Node)\", maps:with([python_version, workers, requests_served, gil_enabled], Stats)),
    halt()."
