#!/usr/bin/env bash
# The web UI in a real browser: headless Debian `chromium` driven by playwright-core (pinned in
# tests/server/browser/package-lock.json, installed with `npm ci` into the build folder) runs the
# whole flow against a real server on a demo checkpoint (tests/server/browser/flow.js).
# Screenshots are kept in OUT/screenshots/. Skips (77) only when chromium or npm cannot be had.
# Usage: browser.sh HEARTMULA_CLI OUT_DIR
set -u
CLI=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CHROME=${HM_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROME" ] || { echo "SKIP: no chromium (apt-get install chromium; scripts/install-deps.sh does)"; exit 77; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are needed"; exit 77; }
mkdir -p "$OUT"
cp "$HERE/browser/package.json" "$HERE/browser/package-lock.json" "$HERE/browser/flow.js" "$OUT/"
# npm ci again only when the lock file changed since the last install
if ! cmp -s "$OUT/package-lock.json" "$OUT/node_modules/.hm-lock" 2>/dev/null; then
  if ! (cd "$OUT" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1); then
    cat "$OUT/npm.log"
    echo "SKIP: npm ci could not install playwright-core (offline?)"
    exit 77
  fi
  cp "$OUT/package-lock.json" "$OUT/node_modules/.hm-lock"
fi
. "$HERE/lib.sh"
CKPT_PARTS=lm,codec,tokenizer,whisper make_ckpt
start_server --max-song-ms 30000
rm -rf "$OUT/screenshots"
timeout 150 node "$OUT/flow.js" "$U" "$OUT/screenshots" "$CHROME"
rc=$?
kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_PID=
[ $rc = 0 ] || { echo "server log:"; tail -20 "$T/err.log"; }
echo "screenshots: $OUT/screenshots"
exit $rc
