#!/usr/bin/env bash
# The client as a dependency: a rebar3 project (test/packaging/rebar_client)
# with the repository's erl/ as a checkout, and a Mix project
# (test/packaging/mix_client) with it as a path dependency, each built from
# a copy in a temporary directory, then run against a real pycnode on a
# private epmd. Nothing is fetched from the network.
#
#   test/packaging/run.sh [PYCNODE_BINARY]      (default build/pycnode)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
binary=$root/${1:-build/pycnode}
work=$(mktemp -d "${TMPDIR:-/tmp}/pycnode-pkg.XXXXXX")
epmd_pid= pycnode_pid=
cleanup() {
  [[ -n $pycnode_pid ]] && kill "$pycnode_pid" 2>/dev/null
  [[ -n $epmd_pid ]] && kill "$epmd_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Build both projects first, with their own caches (no network, no ~).
export HOME=$work/home MIX_HOME=$work/mix REBAR_CACHE_DIR=$work/rebar-cache
mkdir -p "$HOME"
cp -r test/packaging/rebar_client test/packaging/mix_client "$work/"
mkdir -p "$work/rebar_client/_checkouts"
ln -s "$root/erl" "$work/rebar_client/_checkouts/pycnode"
(cd "$work/rebar_client" && rebar3 compile >"$work/rebar3.log" 2>&1) || { cat "$work/rebar3.log"; exit 1; }
export PYCNODE_ERL_DIR=$root/erl
(cd "$work/mix_client" && mix compile >"$work/mix.log" 2>&1) || { cat "$work/mix.log"; exit 1; }
echo "packaging: rebar3 and mix built their projects"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
epmd -port "$port" & epmd_pid=$!
export ERL_EPMD_PORT=$port
sleep 0.3
cookie=pkg$RANDOM$RANDOM
sname=pyc_pkg_$$
"$binary" --sname "$sname" --cookie "$cookie" --log-level warning 2>"$work/pycnode.log" & pycnode_pid=$!
for _ in $(seq 1 100); do
  epmd -port "$port" -names 2>/dev/null | grep -q "name $sname " && break
  sleep 0.1
done
host=$(hostname -s)
node="$sname@$host"

status=0
(cd "$work/rebar_client" && erl -noshell -sname "rebar_client_$$" -setcookie "$cookie" \
   -pa _build/default/lib/*/ebin -pa _build/default/checkouts/*/ebin -eval "rebar_client:main(['$node'])") || status=1
(cd "$work/mix_client" && elixir --sname "mix_client_$$" --cookie "$cookie" \
   -pa _build/dev/lib/pycnode/ebin -pa _build/dev/lib/mix_client/ebin \
   -e "MixClient.main(:\"$node\")") || status=1
((status == 0)) && echo "packaging: ok" || { cat "$work/pycnode.log"; echo "packaging: FAILED"; }
exit "$status"
