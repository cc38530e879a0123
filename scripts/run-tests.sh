#!/usr/bin/env bash
# `make test`: a check of the tracked files (scripts/check-tree.sh), then for each build given (default: the GIL build and the
# free-threaded build), the unit tests (doctest, and ThreadSanitizer on the
# shared structures), pyrunner's Python tests under that build's interpreter,
# then the integration suite against the real binary, a real epmd and real
# Erlang nodes; then the client built by rebar3 and by Mix as a dependency.
# Exits non-zero on any failure.
#
#   scripts/run-tests.sh [BUILD_DIR ...]     e.g. scripts/run-tests.sh build
set -uo pipefail
cd "$(dirname "$0")/.."
builds=("$@")
((${#builds[@]})) || builds=(build build-ft)

# The interpreter a build embeds, for pyrunner's own tests.
interpreter_of() {
  local pc
  pc=$(meson introspect --buildoptions "$1" 2>/dev/null |
       /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="python_embed"))')
  if [[ "$pc" == python3-embed ]]; then echo /usr/bin/python3; return; fi
  local prefix
  prefix=$(meson introspect --buildoptions "$1" |
           /usr/bin/python3 -c 'import json,sys; print(next(o["value"][0] for o in json.load(sys.stdin) if o["name"]=="pkg_config_path"))')
  ls "$(dirname "$(dirname "$prefix")")"/bin/python3.*t | head -n 1
}

passed=0
failed=0
run_suite() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then
    echo "=== $name: ok"; passed=$((passed + 1))
  else
    echo "=== $name: FAILED"; failed=$((failed + 1))
  fi
}

run_suite "tracked files (scripts/check-tree.sh)" bash scripts/check-tree.sh
for build in "${builds[@]}"; do
  if [[ ! -x "$build/pycnode" ]]; then
    echo "=== $build/pycnode is not built"; failed=$((failed + 1)); continue
  fi
  python=$(interpreter_of "$build")
  run_suite "unit tests ($build)" meson test -C "$build" --print-errorlogs
  run_suite "pyrunner tests ($python)" "$python" -m unittest discover -s test/python
  run_suite "integration tests ($build/pycnode)" bash test/integration/run.sh "$build/pycnode"
done
# The client as a dependency of a rebar3 and of a Mix project (once: it is
# the same Erlang and Elixir code whatever the interpreter).
[[ -x "${builds[0]}/pycnode" ]] && run_suite "packaging (rebar3, mix)" bash test/packaging/run.sh "${builds[0]}/pycnode"

echo "suites: $passed passed, $failed failed"
((failed == 0))
