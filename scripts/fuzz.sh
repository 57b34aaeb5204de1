#!/usr/bin/env bash
# `make fuzz FUZZ_SECONDS=N`: builds the libFuzzer targets of fuzz/ with clang 14
# (-fsanitize=fuzzer,address,undefined), replays every checked-in finding
# (fuzz/regressions/<target>/), then fuzzes each target for N seconds from
# seeds made out of the fixtures. Fails on any finding (crash, sanitizer report,
# leak, timeout, out of memory); the inputs land in BUILD/fuzz-findings/.
# Usage: scripts/fuzz.sh SECONDS [BUILD_DIR] [TARGET...]
# FUZZ_RUNS=N (environment) also stops each target after N executions (a
# campaign: "1M executions or SECONDS, whichever first").
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${2:-build-fuzz}
shift 2 2>/dev/null || shift $#
targets=${*:-"safetensors st_index config tokenizer_json tokenize npy audio cli_numbers torch_bin"}
shared=${HM_SHARED_DIR:-$(cd .. && pwd)/shared}
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh --fuzz || exit 1
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DHM_FUZZ=ON -DHM_SHARED_DIR="$shared" >/dev/null || exit 1
cmake --build "$build" -j "$jobs" --target fuzz_all || exit 1

# leaks inside third-party libraries only, each explained there
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
bin=$build/fuzz
seeds=$build/fuzz-seeds
findings=$build/fuzz-findings
mkdir -p "$findings"
rm -rf "$seeds"
ASAN_OPTIONS=detect_leaks=0 "$bin/fuzz_make_seeds" "$shared" "$seeds" >/dev/null || { echo "fuzz: making the seeds failed"; exit 1; }

fails=0
printf '%-16s %10s %8s %9s %s\n' target executions exec/s coverage result > "$build/fuzz-summary.txt"
for t in $targets; do
  exe=$bin/fuzz_$t
  [ -x "$exe" ] || { echo "fuzz: no target $t"; fails=$((fails + 1)); continue; }
  # every checked-in finding first, each run once
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! "$exe" fuzz/regressions/$t/* > "$build/fuzz-$t-regress.log" 2>&1; then
      echo "fuzz: $t: a checked-in finding fails again (see $build/fuzz-$t-regress.log)"
      tail -30 "$build/fuzz-$t-regress.log"
      fails=$((fails + 1))
      continue
    fi
  fi
  corpus=$build/fuzz-corpus/$t
  mkdir -p "$corpus"
  maxlen=65536
  [ "$t" = tokenizer_json ] && maxlen=262144
  runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
  "$exe" -max_total_time="$secs" "${runs[@]}" -timeout=25 -rss_limit_mb=3072 -max_len=$maxlen -print_final_stats=1 \
    -artifact_prefix="$findings/$t-" "$corpus" "$seeds/$t" > "$build/fuzz-$t.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz-$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$build/fuzz-$t.log" | tail -1 | cut -d' ' -f2)
  if [ $rc -eq 0 ]; then res=ok; else res="FINDING (exit $rc, see $build/fuzz-$t.log)"; fails=$((fails + 1)); fi
  printf '%-16s %10s %8s %9s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$res" | tee -a "$build/fuzz-summary.txt"
  if [ $rc -ne 0 ]; then grep -E "ERROR|runtime error|invariant|SUMMARY|Test unit written" "$build/fuzz-$t.log" | head -8; fi
done
echo "fuzz: $fails target(s) with findings; table in $build/fuzz-summary.txt"
[ $fails -eq 0 ]
