#!/usr/bin/env bash
# The parity suites on one kernel table, forced through HM_ISA (scalar, avx2,
# avx512). Exit 77 (CTest skip) when this CPU lacks the table.
# Usage: parity_table.sh HEARTMULA_CLI TABLE FIXTURE_DIR...
set -u
CLI=$1
TABLE=$2
shift 2
info=$(HM_ISA=$TABLE "$CLI" info) || { echo "FAIL: '$CLI info' failed: a broken binary is not a skip"; exit 1; }
active=$(printf '%s\n' "$info" | sed -n 's/^kernels: \([a-z0-9]*\).*/\1/p')
[ -n "$active" ] || { echo "FAIL: '$CLI info' names no kernel table"; exit 1; }
if [ "$active" != "$TABLE" ]; then
  echo "kernel table $TABLE: not supported by this CPU (HM_ISA=$TABLE gives '$active'): skipped"
  exit 77
fi
for dir in "$@"; do
  start=$(date +%s%N)
  HM_ISA=$TABLE "$CLI" parity "$dir" --strict -t 2 || { echo "FAIL: parity $dir on table $TABLE"; exit 1; }
  echo "kernel table $TABLE: parity $dir passed in $(( ($(date +%s%N) - start) / 1000000 )) ms"
done
