#!/usr/bin/env bash
# Per-request figures for a hello ASGI app and a hello WSGI app through
# pycnode, next to ping (the floor) and a generic call: 1 caller (sequential
# latency) and 64 concurrent Erlang callers, N seconds each.
#
#   bash bench/web_hello.sh [BINARY] [SECONDS]     (default build/pycnode, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/pycnode}
seconds=${2:-5}
work=$(mktemp -d)
epmd_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT=$epmd_port
epmd -port "$epmd_port" & epmd_pid=$!
name="web_$RANDOM"
"$binary" --sname "$name" --cookie bench --workers 2 --pythonpath test/fixtures 2>"$work/pycnode.log" &
pyc_pid=$!
trap 'kill $pyc_pid $epmd_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "pycnode ready" "$work/pycnode.log" && break; sleep 0.1; done
erlc -o "$work" bench/pyc_load.erl
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
erl -noshell -sname "load_$RANDOM" -setcookie bench -pa "$work" -eval "
    Node = list_to_atom(\"$name@\" ++ lists:last(string:split(atom_to_list(node()), \"@\"))),
    pong = net_adm:ping(Node),
    Scope = #{type => <<\"http\">>, method => <<\"GET\">>, path => <<\"/\">>,
              headers => [[<<\"host\">>, <<\"localhost\">>]], server => {<<\"localhost\">>, 8080}},
    Environ = #{<<\"REQUEST_METHOD\">> => <<\"GET\">>, <<\"PATH_INFO\">> => <<\"/\">>,
                <<\"SERVER_NAME\">> => <<\"localhost\">>, <<\"SERVER_PORT\">> => <<\"8080\">>,
                <<\"wsgi.input\">> => <<>>},
    Cases = [{\"ping (floor)\", ping},
             {\"call add\", {call, <<\"pyc_fixtures\">>, <<\"add\">>, [1, 2]}},
             {\"ASGI hello\", {asgi, <<\"asgi_fixtures\">>, <<\"hello\">>, Scope, <<>>, #{}}},
             {\"WSGI hello\", {wsgi, <<\"wsgi_fixtures\">>, <<\"hello\">>, Environ, #{}}}],
    {ok, _} = gen_server:call({pycnode, Node}, element(2, lists:nth(3, Cases))),
    {ok, _} = gen_server:call({pycnode, Node}, element(2, lists:nth(4, Cases))),
    [io:format(\"~-13s ~s~n\", [L, pyc_load:format(pyc_load:run({pycnode, Node}, R, C, ${seconds}000, #{warmup_ms => 500}))])
     || {L, R} <- Cases, C <- [1, 64]],
    halt()."
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
