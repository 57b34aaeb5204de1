# Thin driver over CMake. `make demo` and `make test` do all set-up on a fresh Debian machine.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_SECONDS ?= 60

.PHONY: all deps build demo serve-demo test test-asan fuzz clean install

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

# The web UI and API on the demo checkpoint (random weights: noise), http://127.0.0.1:8000/
serve-demo: build
	@test -f demo/ckpt/gen_config.json || $(BUILD)/bin/heartmula make-checkpoint --flavor demo --out demo/ckpt --seed 1
	@$(BUILD)/bin/heartmula serve --model-path demo/ckpt --version demo --data demo/data --max-song-ms 30000

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHM_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) -LE slow

# libFuzzer (clang 14, ASan + UBSan): every target of fuzz/ for FUZZ_SECONDS
# seconds each after replaying fuzz/regressions/; fails on any finding.
fuzz:
	@bash scripts/fuzz.sh $(FUZZ_SECONDS) build-fuzz

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
