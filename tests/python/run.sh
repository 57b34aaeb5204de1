#!/usr/bin/env bash
# Runs the Python binding's tests with Debian's python3 + python3-numpy (scripts/install-deps.sh),
# or another python3 that has numpy; exit 77 (skipped) when there is none.
# argv: LIBRARY BINDING_DIR SHARED_DIR CLI
set -u
LIB=$1; PKG=$2; SHARED=$3; CLI=$4
PY=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "skipped: no python3 with numpy (apt-get install python3-numpy)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
HEARTMULA_LIBRARY="$LIB" PYTHONPATH="$PKG" "$PY" "$(dirname "$0")/test_binding.py" "$SHARED" "$CLI" "$T"
