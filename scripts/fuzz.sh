#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of test/fuzz/ with clang-14 (with
# AddressSanitizer and UndefinedBehaviorSanitizer) and runs each for
# FUZZ_SECONDS (default 30), starting from the seed corpus in
# test/fuzz/corpus/<target>. Fails if a target finds a crash; the input that
# crashed is left in build-fuzz/ (rerun it: build-fuzz/<target> <file>).
#
#   make fuzz                          every target, 30 s each (CI)
#   FUZZ_SECONDS=3600 make fuzz        a longer run
#   FUZZ_TARGETS="handshake" make fuzz one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
targets=(${FUZZ_TARGETS:-term frame handshake})
out=build-fuzz
mkdir -p "$out"

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icnode)
sources_term=(test/fuzz/fuzz_term.cpp cnode/term/*.cpp cnode/dist/*.cpp cnode/app/log.cpp)
sources_frame=(test/fuzz/fuzz_frame.cpp cnode/net/frame_reader.cpp cnode/net/large_blocks.cpp)
sources_handshake=(test/fuzz/fuzz_handshake.cpp cnode/net/handshake.cpp cnode/net/md5.cpp)

for t in "${targets[@]}"; do
  sources="sources_${t}[@]"
  echo "fuzz: building $t"
  clang++-14 "${flags[@]}" "${!sources}" -lfmt -o "$out/$t"
done

for t in "${targets[@]}"; do
  # The fuzzer adds what it finds to a working copy, not to the repository's seeds.
  work="$out/corpus-$t"
  mkdir -p "$work"
  echo "fuzz: running $t for ${seconds}s"
  (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./$t" -max_total_time="$seconds" -print_final_stats=1 \
      "corpus-$t" "../test/fuzz/corpus/$t" 2>&1 | tail -n 8)  # pipefail: a crash fails here
done
echo "fuzz: no crash in ${targets[*]}"
