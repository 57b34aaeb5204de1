# Thin driver over CMake. `make demo` and `make test` do all set-up on a fresh Debian machine.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_SECONDS ?= 60

.PHONY: all deps build demo serve-demo test test-asan test-tsan test-scalar fuzz clean install

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

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (ASAN_TESTS= for all,
# the slow ones included, as CI runs it).
ASAN_TESTS ?= -LE slow
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHM_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) $(ASAN_TESTS)

# The threaded tests (label `threaded`) under ThreadSanitizer; any report fails.
# TSAN_CC=clang-14 TSAN_CXX=clang++-14 (default; CI) or gcc / g++.
TSAN_CC ?= clang-14
TSAN_CXX ?= clang++-14
test-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=$(TSAN_CC) -DCMAKE_CXX_COMPILER=$(TSAN_CXX) -DHM_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && ctest --output-on-failure -j $(JOBS) -L threaded

# Without the x86 SIMD kernels (-DHM_SIMD=OFF: the scalar table only, as on a CPU
# other than x86): the fast tests.
SCALAR_TESTS ?= -LE slow
test-scalar: deps
	@cmake -S . -B build-scalar -DCMAKE_BUILD_TYPE=Release -DHM_SIMD=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-scalar -j $(JOBS)
	@cd build-scalar && ctest --output-on-failure -j $(JOBS) $(SCALAR_TESTS)

# libFuzzer (clang 14, ASan + UBSan): every target of fuzz/ for FUZZ_SECONDS
# seconds each after replaying fuzz/regressions/; fails on any finding.
fuzz:
	@bash scripts/fuzz.sh $(FUZZ_SECONDS) build-fuzz

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-scalar build-fuzz
