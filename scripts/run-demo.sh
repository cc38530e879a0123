#!/usr/bin/env bash
# `make run`: starts epmd if needed and a pycnode, calls Python from an Erlang
# node and shows the answers; then starts an HTTP gateway (pycnode_httpd, in
# inets) on port 8080 that serves the Starlette app examples/asgi_app.py at
# /asgi and the Flask app examples/wsgi_app.py at /wsgi, runs a few curl
# requests against it, and keeps serving until Ctrl-C.
#
#   scripts/run-demo.sh [PYCNODE_BINARY]      (default build/pycnode)
#
# PYCNODE_HTTP_PORT: the gateway's port (default 8080).
# PYCNODE_RUN_ONCE=1: exit after the curl requests (non-zero if one failed).
# Everything it starts (pycnode, the gateway node) is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/pycnode}
node=pycnode_demo
port=${PYCNODE_HTTP_PORT:-8080}

epmd -daemon  # no-op when an epmd already runs on this port
log=$(mktemp)
gateway_log=$(mktemp)
pid=
gateway_pid=

cleanup() {
  trap - EXIT INT TERM
  [[ -n $gateway_pid ]] && kill "$gateway_pid" 2>/dev/null
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  wait 2>/dev/null
  rm -f "$log" "$gateway_log"
}
trap cleanup EXIT
trap 'echo; echo "stopping"; exit 130' INT TERM

"$binary" --sname "$node" --pythonpath examples --log-level info 2>"$log" &
pid=$!

for _ in $(seq 1 100); do
  grep -q "pycnode ready" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
grep "pycnode ready" "$log" || { cat "$log"; echo "pycnode did not start" >&2; exit 1; }

# The node name from inside Erlang: pycnode_demo@ this host's short name.
node_expr="list_to_atom(\"$node@\" ++ lists:last(string:split(atom_to_list(node()), \"@\")))"

erl -noshell -sname "demo_$$" -pa erl/ebin -eval "
    Node = $node_expr,
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
    Scope = #{method => <<\"GET\">>, path => <<\"/items/42\">>, query_string => <<\"q=x\">>,
              root_path => <<\"/asgi\">>, headers => [{<<\"host\">>, <<\"localhost\">>}]},
    Show(\"py_asgi:run(asgi_app, app, #{path => <<\\\"/items/42\\\">>, ...}, <<>>, #{node => Node})\",
         py_asgi:run(asgi_app, app, Scope, <<>>, #{node => Node, timeout => 15000})),
    halt()."

# The HTTP gateway: an Erlang node running inets httpd with pycnode_httpd.
# +Bi: Ctrl-C is this script's business, not the break handler's.
erl -noshell +Bi -sname "gateway_$$" -pa erl/ebin -eval "
    Node = $node_expr,
    Opts = #{node => Node, timeout => 15000},
    Routes = [{\"/asgi\", asgi, asgi_app, app, Opts},
              {\"/wsgi\", wsgi, wsgi_app, app, Opts}],
    case pycnode_httpd:start($port, Routes) of
        {ok, _} -> io:format(\"gateway ready~n\");
        {error, Reason} -> io:format(\"gateway failed to start: ~p~n\", [Reason]), halt(1)
    end." >"$gateway_log" 2>&1 &
gateway_pid=$!

for _ in $(seq 1 100); do
  grep -q "gateway ready" "$gateway_log" && break
  kill -0 "$gateway_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "gateway ready" "$gateway_log"; then
  cat "$gateway_log" >&2
  echo "the HTTP gateway did not start (is port $port free? set PYCNODE_HTTP_PORT)" >&2
  exit 1
fi

cat <<EOF

HTTP gateway on http://localhost:$port: an Erlang node (inets httpd +
pycnode_httpd) that runs examples/asgi_app.py (Starlette) at /asgi and
examples/wsgi_app.py (Flask) at /wsgi on pycnode.
EOF

# Shows a curl command, then runs it (failing on HTTP errors too).
failed=0
show() {
  local out
  printf '\n$ %s\n' "$1"
  if ! out=$(eval "$1 -S --fail-with-body" 2>&1); then
    failed=1
  fi
  printf '%s\n' "$out"
}
show "curl -s localhost:$port/asgi/"
show "curl -s 'localhost:$port/asgi/items/42?q=x'"
show "curl -s -X POST -H 'content-type: application/json' -d '{\"name\": \"widget\", \"price\": 9.5}' localhost:$port/asgi/items"
show "curl -s localhost:$port/wsgi/"
show "curl -s localhost:$port/wsgi/hello/erlang"
show "curl -s 'localhost:$port/wsgi/hello/erlang?lang=fr'"
show "curl -s -X POST -H 'content-type: application/json' -d '{\"numbers\": [1, 2, 3.5]}' localhost:$port/wsgi/sum"

if ((failed)); then
  echo "some requests failed; the gateway's output:" >&2
  cat "$gateway_log" >&2
fi
if [[ ${PYCNODE_RUN_ONCE:-} == 1 ]]; then
  exit "$failed"
fi

cat <<EOF

Serving on http://localhost:$port/asgi/ and http://localhost:$port/wsgi/
(also /asgi/request and /wsgi/request: what the apps see of a request).
Press Ctrl-C to stop the gateway and pycnode.
EOF
wait "$gateway_pid"
