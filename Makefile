# pycnode: the two commands a new machine needs are `make run` and `make test`.
# Both install what is missing first (scripts/install-deps.sh, idempotent).

BUILD ?= build
MESON_FLAGS ?=

.PHONY: all deps build native erl run test unit integration clean build-ft test-ft bench bench-smoke soak fuzz sanitize

all: build

deps:
	@bash scripts/install-deps.sh

build: native erl

native: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

erl:
	@bash erl/build.sh

run: deps build
	@bash scripts/run-demo.sh $(BUILD)/pycnode

# Every test, on the default build (CPython 3.11, GIL) and on the
# free-threaded build (CPython 3.13t, built from source the first time).
test: deps build build-ft
	@bash scripts/run-tests.sh $(BUILD) build-ft

unit: native
	meson test -C $(BUILD) --print-errorlogs

# The free-threaded variant: CPython 3.13t built from Debian's sources (once),
# then pycnode embedding it, at build-ft/pycnode.
FT_PREFIX ?= $(CURDIR)/build-deps/cpython-3.13t

build-ft: deps erl
	bash scripts/build-cpython-ft.sh $(FT_PREFIX)
	test -f build-ft/build.ninja || meson setup build-ft $(MESON_FLAGS) \
	    -Dpkg_config_path=$(FT_PREFIX)/lib/pkgconfig -Dpython_embed=python-3.13t-embed
	ninja -C build-ft

# libFuzzer targets (test/fuzz/) for the term decoder, the framing and the
# handshake, from the seed corpus, FUZZ_SECONDS each (default 30).
fuzz: deps
	@bash scripts/fuzz.sh

# The integration suite against pycnode built with ASan and UBSan (build-asan/).
sanitize: deps erl
	@bash scripts/sanitize.sh

# Benchmarks (not part of `make test`): bench/run.sh, knobs BENCH_* there;
# results in bench-results/ (results.md, results.json, results.png).
bench: build
	@BENCH_BINARY=$${BENCH_BINARY:-$(BUILD)/pycnode} bash bench/run.sh

# Every scenario once, briefly: fails if one serves nothing or errs (for CI);
# then the soak for 15 s.
bench-smoke: build
	@BENCH_SMOKE=1 BENCH_BINARY=$${BENCH_BINARY:-$(BUILD)/pycnode} bash bench/run.sh
	@SOAK_SECONDS=15 SOAK_BINARY=$${BENCH_BINARY:-$(BUILD)/pycnode} SOAK_OUT=$${BENCH_OUT:-bench-results} \
	    bash bench/soak.sh

# A long mixed load with faults, every reply checked, pycnode's RSS, fds and
# threads compared at the start and the end (bench/soak.sh); knobs
# SOAK_SECONDS (600), SOAK_CALLERS (32), SOAK_BINARY ($(BUILD)/pycnode);
# writes bench-results/soak.{md,json}.
soak: build
	@SOAK_BINARY=$${SOAK_BINARY:-$(BUILD)/pycnode} bash bench/soak.sh

clean:
	rm -rf $(BUILD) build-ft build-fuzz build-asan erl/ebin/*.beam erl/ebin/*.app
