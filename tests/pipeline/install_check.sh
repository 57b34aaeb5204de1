#!/usr/bin/env bash
# `make install` layout: installs the build into a temporary prefix, then builds
# and runs the example against it with nothing but pkg-config's flags.
set -eu
BUILD=$1; SRC=$2; CKPT_CLI=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" >/dev/null
for f in bin/heartmula include/heartmula.h lib/libheartmula.a lib/pkgconfig/heartmula.pc; do
  [ -e "$T/prefix/$f" ] || { echo "missing $f after install"; exit 1; }
done
flags=$(PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" pkg-config --cflags --libs heartmula)
cc "$SRC/examples/simple_generate.c" $flags -o "$T/sg"
"$CKPT_CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 2 >/dev/null
HM_VERSION=demo "$T/sg" "$T/ck" "$T/out.wav" 1 >/dev/null 2>&1
[ -s "$T/out.wav" ] && echo "1 passed, 0 failed"
