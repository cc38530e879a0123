# pycnode: the two commands a new machine needs are `make run` and `make test`.
# Both install what is missing first (scripts/install-deps.sh, idempotent).

BUILD ?= build
MESON_FLAGS ?=

.PHONY: all deps build native erl run test unit python-unit integration clean

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

test: deps build
	@bash scripts/run-tests.sh $(BUILD)/pycnode

unit: native
	meson test -C $(BUILD) --print-errorlogs

clean:
	rm -rf $(BUILD) erl/ebin/*.beam erl/ebin/*.app
