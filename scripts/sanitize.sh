#!/usr/bin/env bash
# `make sanitize`: pycnode built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/, CPython 3.11), then the whole
# integration suite against it. A sanitizer report aborts pycnode (the test
# that ran fails) or, if it came at exit, is found in the logs afterwards.
#
# LeakSanitizer is off: the embedded interpreter keeps much of what it
# allocates until the process ends; memory growth under load is what the
# RSS checks of the test suite and of `make soak` watch instead.
# ThreadSanitizer covers the structures threads share (`make unit`).
#
#   make sanitize                         every module
#   PYCNODE_TESTS="pycnode_dist_tests" make sanitize
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fno-sanitize-recover=undefined >/dev/null
fi
ninja -C "$build" pycnode  # only the binary: the TSan unit target cannot also take ASan

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PYCNODE_SANITIZER_CHECK=1
export PYCNODE_TEST_TIMEOUT=${PYCNODE_TEST_TIMEOUT:-1500}
exec bash test/integration/run.sh "$build/pycnode"
