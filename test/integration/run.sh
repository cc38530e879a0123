#!/usr/bin/env bash
# Integration tests: the real pycnode binary against a private epmd and real
# Erlang nodes, driven by EUnit from a runner node.
#
#   test/integration/run.sh [PYCNODE_BINARY]      (default build/pycnode)
#
# Environment: PYCNODE_TESTS="mod ..." runs only those test modules;
# PYCNODE_TEST_LOG_LEVEL sets pycnode's --log-level (default info);
# PYCNODE_TEST_TIMEOUT bounds the whole run in seconds (default 600);
# PYCNODE_SANITIZER_CHECK=1 fails the run if a pycnode log holds a sanitizer
# report (scripts/sanitize.sh), except the logs of tests that crash pycnode
# on purpose (labels with "crash").
#
# Everything it starts (epmd, the runner, pycnodes, peer nodes) is stopped on
# exit, failure and signals included. Exits non-zero on any failure, and then
# keeps the pycnode logs (their directory is printed).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
binary=${1:-build/pycnode}
[[ $binary == /* ]] || binary=$root/$binary
if [[ ! -x $binary ]]; then
  echo "run.sh: no pycnode executable at $binary" >&2
  exit 2
fi
tests=${PYCNODE_TESTS:-pycnode_client_tests pycnode_basic_tests pycnode_call_options_tests pycnode_handles_tests pycnode_terms_prop_tests pycnode_readme_tests pycnode_code_tests pycnode_paths_tests pycnode_limits_tests pycnode_load_tests pycnode_dist_tests pycnode_handshake_tests pycnode_shutdown_tests pycnode_backpressure_tests pycnode_deadline_tests pycnode_gil_tests pycnode_frameworks_tests pycnode_web_api_tests pycnode_wsgi_tests pycnode_stress_tests pycnode_asgi_tests pycnode_concurrency_tests pycnode_worker_reads_tests pycnode_crash_tests}

work=$(mktemp -d "${TMPDIR:-/tmp}/pycnode-it.XXXXXX")
mkdir -p "$work/ebin" "$work/logs" "$work/pids"
epmd_pid=
runner_pid=
status=1

# Kills what we started, by pid: the runner first (its children are the
# pycnodes; peers run in their own sessions and are listed in pids/ too),
# then anything still listed, then epmd.
cleanup() {
  trap - EXIT INT TERM
  [[ -n $runner_pid ]] && kill -TERM "$runner_pid" 2>/dev/null
  local pid f left=0
  for f in "$work"/pids/*; do
    [[ -e $f ]] || continue
    pid=${f##*/}
    kill -TERM "$pid" 2>/dev/null && left=1
  done
  if ((left)); then
    sleep 1
    for f in "$work"/pids/*; do
      [[ -e $f ]] && kill -KILL "${f##*/}" 2>/dev/null
    done
  fi
  [[ -n $epmd_pid ]] && kill -TERM "$epmd_pid" 2>/dev/null
  wait 2>/dev/null
  if ((status == 0)); then
    rm -rf "$work"
  else
    echo "run.sh: pycnode logs kept in $work/logs" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'status=130; exit' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# Our own epmd, as a child (not -daemon), on a port nobody else uses.
for _ in 1 2 3 4 5; do
  port=$(free_port)
  epmd -port "$port" &
  epmd_pid=$!
  for _ in $(seq 1 20); do
    epmd -port "$port" -names >/dev/null 2>&1 && break 2
    kill -0 "$epmd_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$epmd_pid" 2>/dev/null
  wait "$epmd_pid" 2>/dev/null
  epmd_pid=
done
if [[ -z $epmd_pid ]]; then
  echo "run.sh: could not start epmd" >&2
  exit 1
fi
export ERL_EPMD_PORT=$port

cookie=$(LC_ALL=C tr -dc A-Z </dev/urandom | head -c 20)
(umask 077 && printf '%s' "$cookie" >"$work/cookie")

export PYCNODE_BINARY=$binary
export PYCNODE_COOKIE_FILE=$work/cookie
export PYCNODE_FIXTURES=$root/test/fixtures
export PYCNODE_TEST_DIR=$work

if ! bash erl/build.sh; then
  echo "run.sh: building erl/ failed" >&2
  exit 1
fi
if ! erlc -Werror -o "$work/ebin" -pa erl/ebin test/integration/*.erl; then
  echo "run.sh: compiling the tests failed" >&2
  exit 1
fi

echo "run.sh: pycnode $binary, epmd on port $port, work dir $work"
timeout --kill-after=10 "${PYCNODE_TEST_TIMEOUT:-600}" \
  erl -noshell -sname "pycnode_it_$$_$RANDOM" -setcookie "$cookie" -kernel logger_level warning \
    -pa "$root/erl/ebin" -pa "$work/ebin" \
    -eval "
      Mods = [list_to_atom(M) || M <- string:lexemes(\"$tests\", \" \")],
      case eunit:test(Mods, [verbose]) of
          ok -> halt(0);
          _ -> io:format(\"integration tests FAILED (failures or cancelled tests above)~n\"), halt(1)
      end." &
runner_pid=$!
wait "$runner_pid"
status=$?
runner_pid=
if ((status == 124)); then
  echo "run.sh: the suite did not finish within ${PYCNODE_TEST_TIMEOUT:-600} s" >&2
fi
if [[ ${PYCNODE_SANITIZER_CHECK:-0} == 1 ]]; then
  reports=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|\.(cpp|hpp|c|h):[0-9]+:[0-9]+: runtime error:|WARNING: ThreadSanitizer' \
            "$work"/logs/*.log 2>/dev/null | grep -v crash || true)
  if [[ -n $reports ]]; then
    echo "run.sh: sanitizer reports in:" $reports >&2
    status=1
  else
    echo "run.sh: no sanitizer report in any pycnode log"
  fi
fi
exit "$status"
