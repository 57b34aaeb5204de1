#!/usr/bin/env bash
# `make install` layout: installs the build into a temporary prefix, then builds and runs the
# examples against it three ways: pkg-config (shared), pkg-config --static, and CMake's
# find_package(heartmula). Also checks that libheartmula.so exports exactly the functions
# heartmula.h declares (HM_API) and carries its SONAME.
set -eu
BUILD=$1; SRC=$2; CKPT_CLI=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P="$T/prefix"
cmake --install "$BUILD" --prefix "$P" >/dev/null
LIB=lib
[ -d "$P/lib64" ] && LIB=lib64
for f in bin/heartmula include/heartmula.h $LIB/libheartmula.a $LIB/libheartmula.so $LIB/libheartmula.so.0 \
         $LIB/pkgconfig/heartmula.pc $LIB/cmake/heartmula/heartmulaConfig.cmake; do
  [ -e "$P/$f" ] || { echo "missing $f after install"; exit 1; }
done
# the exported symbols: the HM_API functions of the header, nothing else
grep -o 'HM_API [^(]*(' "$P/include/heartmula.h" | grep -v '__attribute__\|marks the' \
  | sed 's/.*[ *]\(hm_[a-z0-9_]*\)($/\1/' | sort > "$T/api.txt"
nm -D --defined-only "$P/$LIB/libheartmula.so" | awk '{print $3}' | sort > "$T/exports.txt"
if ! diff "$T/api.txt" "$T/exports.txt" >"$T/diff.txt"; then
  echo "libheartmula.so exports differ from heartmula.h's HM_API functions (< header only, > library only):"
  cat "$T/diff.txt"; exit 1
fi
objdump -p "$P/$LIB/libheartmula.so" | grep -q 'SONAME *libheartmula.so.0' || { echo "no SONAME libheartmula.so.0"; exit 1; }
export PKG_CONFIG_PATH="$P/$LIB/pkgconfig"
"$CKPT_CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 2 >/dev/null
# pkg-config, shared
cc "$SRC/examples/simple_generate.c" $(pkg-config --cflags --libs heartmula) -o "$T/sg"
HM_VERSION=demo LD_LIBRARY_PATH="$P/$LIB" "$T/sg" "$T/ck" "$T/out.wav" 1 >/dev/null 2>&1
[ -s "$T/out.wav" ] || { echo "simple_generate (shared, pkg-config) wrote no audio"; exit 1; }
# the archive, with the dependencies heartmula.pc names (Requires.private, Libs.private)
# (Libs.private too: -lstdc++ for the sentencepiece shim, pulled in since the engine embeds reference audio)
cc "$SRC/examples/simple_generate.c" -I"$P/include" "$P/$LIB/libheartmula.a" \
   $(pkg-config --libs $(pkg-config --print-requires-private heartmula)) \
   $(sed -n 's/^Libs.private: //p' "$P/$LIB/pkgconfig/heartmula.pc") -o "$T/sg_static"
HM_VERSION=demo "$T/sg_static" "$T/ck" "$T/out2.wav" 1 >/dev/null 2>&1
cmp -s "$T/out.wav" "$T/out2.wav" || { echo "static and shared builds wrote different audio"; exit 1; }
# CMake: find_package(heartmula) from the installed config
cmake -S "$SRC/examples" -B "$T/ex" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$T/ex" >/dev/null
LD_LIBRARY_PATH="$P/$LIB" "$T/ex/header_cxx" || { echo "header_cxx (CMake package) failed"; exit 1; }
HM_VERSION=demo LD_LIBRARY_PATH="$P/$LIB" "$T/ex/simple_generate" "$T/ck" "$T/out3.wav" 1 >/dev/null 2>&1
cmp -s "$T/out.wav" "$T/out3.wav" || { echo "the CMake-built example wrote different audio"; exit 1; }
echo "4 passed, 0 failed"
