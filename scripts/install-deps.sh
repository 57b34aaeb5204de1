#!/usr/bin/env bash
# Installs the Debian packages heartmula.c needs to build and test, skipping
# the ones already present. Used by `make demo`, `make test` and CI.
# The server (`heartmula serve`): civetweb (HTTP + WebSocket), SQLite, libsodium, libjwt; its
# tests drive it with curl and jq, and the web UI with headless chromium (+ npm's playwright-core,
# installed by the test from tests/server/browser/package-lock.json). Without them the CLI builds
# without `serve`. libcurl: the AI endpoints; libpng: thumbnails.
# --bench: also wrk, for scripts/bench_serve.sh.
# --fuzz: also clang 14 and libFuzzer, for `make fuzz` only; --ci: what .ci/run
# needs besides (clang 14 for its -Werror / ThreadSanitizer build and libFuzzer).
set -eu
pkgs="build-essential cmake pkg-config libjansson-dev libpcre2-dev libutf8proc-dev
libsndfile1-dev libmpg123-dev libsoxr-dev libfftw3-dev libsentencepiece-dev sentencepiece python3 python3-numpy
libcivetweb-dev libsqlite3-dev libsodium-dev libjwt-dev libcurl4-openssl-dev libpng-dev curl jq chromium"
if [ "${1:-}" = "--bench" ]; then
  pkgs="$pkgs wrk"
fi
if [ "${1:-}" = "--fuzz" ] || [ "${1:-}" = "--ci" ]; then
  pkgs="$pkgs clang-14 libfuzzer-14-dev libclang-rt-14-dev"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
