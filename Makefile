# Thin wrapper over meson. Every target first runs scripts/setup, which
# installs missing Debian packages (about a second when nothing is missing);
# the test targets also install the pinned npm SDKs of tests/e2e.
BUILD      ?= build
ASAN_BUILD ?= build-asan
LOOPGATE   := $(BUILD)/harness/cli/loopgate
MESON_OPTS ?=

.PHONY: all setup setup-e2e build demo test test-asan bench clean

all: build

setup:
	@scripts/setup

setup-e2e:
	@scripts/setup --e2e

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: setup $(BUILD)/build.ninja
	@ninja -C $(BUILD)

demo: build
	@scripts/demo $(LOOPGATE)

test: setup-e2e build
	@scripts/test $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)

# The whole test suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: setup-e2e $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		scripts/test $(ASAN_BUILD)

bench: build
	@scripts/setup --bench
	@bench/run all --out bench/results

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
