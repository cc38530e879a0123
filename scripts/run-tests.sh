#!/usr/bin/env bash
# `make test`: unit tests (doctest), pyrunner's Python tests, then the
# integration suite against the real binary, a real epmd and real Erlang nodes.
# Exits non-zero on any failure; prints one summary line per suite.
set -uo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/pycnode}
build_dir=$(dirname "$binary")
python=${PYCNODE_TEST_PYTHON:-/usr/bin/python3}

failed=0
run_suite() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed=$((failed + 1)); fi
}

run_suite "unit tests ($build_dir)" meson test -C "$build_dir" --print-errorlogs
run_suite "pyrunner tests ($python)" "$python" -m unittest discover -s test/python -t .
run_suite "integration tests ($binary)" bash test/integration/run.sh "$binary"

if ((failed)); then
  echo "make test: $failed suite(s) failed"
  exit 1
fi
echo "make test: all suites passed"
