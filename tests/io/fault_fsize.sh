#!/usr/bin/env bash
# Out of disk space: every output writer of the CLI run under a file-size limit
# (prlimit --fsize, SIGXFSZ ignored so the write fails with EFBIG instead of
# killing the process). Each must fail with a clear error (exit 1, a message
# naming the output), leave nothing under the final name (nor a temporary
# beside it), never report success on stdout, and never clobber an existing
# file even with --overwrite.
# Usage: fault_fsize.sh HEARTMULA_CLI SHARED_DIR
set -u
CLI=$1
S=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
trap '' XFSZ # inherited by the commands: the write returns EFBIG
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# limited LIMIT NEEDLE OUTPUT cmd...: must exit 1 with NEEDLE in stderr, and leave no OUTPUT*
limited() {
  local limit=$1 needle=$2 out=$3; shift 3
  local msg rc
  msg=$(prlimit --fsize="$limit" "$@" 2>&1 >"$T/stdout"); rc=$?
  [ $rc -eq 1 ] && ok || bad "exit status $rc (want 1) from: $* ($msg)"
  grep -qi "wrote" "$T/stdout" && bad "a failed write reported success: $(cat "$T/stdout")" || ok
  case "$msg" in *"$needle"*) ok ;; *) bad "message of '$*' lacks '$needle': $msg" ;; esac
  local left
  left=$(ls -A "$(dirname "$out")" | grep -F "$(basename "$out")" | grep -vx "$(basename "$out").keep")
  if [ -e "$out.keep" ]; then
    cmp -s "$out" "$out.keep" && ok || bad "the existing $out was clobbered"
    left=$(echo "$left" | grep -vx "$(basename "$out")")
  fi
  [ -z "$left" ] && ok || bad "left behind: $left"
}

mkdir -p "$T/o"
CODES=$S/fixtures/codec_detok_short_codes.npy
DEC=("$CLI" decode --codec "$S/fixtures/heartcodec" --codes "$CODES" --steps 1 --seed 1 -q -t 2)
# audio: WAV, FLAC (libsndfile writes past the limit)
limited 8192 "o/a.wav" "$T/o/a.wav" "${DEC[@]}" -o "$T/o/a.wav"
limited 4096 "o/a.flac" "$T/o/a.flac" "${DEC[@]}" -o "$T/o/a.flac"
# an existing file stays as it was, --overwrite or not
printf 'keep me' > "$T/o/b.wav"; cp "$T/o/b.wav" "$T/o/b.wav.keep"
limited 8192 "o/b.wav" "$T/o/b.wav" "${DEC[@]}" -o "$T/o/b.wav" --overwrite
rm -f "$T/o/b.wav.keep"
# without the limit the same command works (the failures above are the limit's)
"${DEC[@]}" -o "$T/o/full.wav" && [ -s "$T/o/full.wav" ] && ok || bad "decode without a limit"

# codes (.npy) from generate --codes-only
"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 >/dev/null || { echo "make-checkpoint failed"; exit 1; }
limited 200 "o/c.npy" "$T/o/c.npy" "$CLI" generate --model-path "$T/ck" --version demo --lyrics "la la" --tags pop \
  --max-audio-length-ms 1200 --seed 2 -q -t 2 --codes-only --save-codes "$T/o/c.npy"

# a quantized checkpoint (safetensors writer)
limited 4096 "o/q.safetensors" "$T/o/q.safetensors" "$CLI" quantize "$S/fixtures/heartmula" "$T/o/q.safetensors" --type q8_0

# a transcript
limited 8 "o/t.srt" "$T/o/t.srt" "$CLI" transcribe --model "$S/fixtures-whisper" "$S/fixtures-whisper/jfk.wav" \
  --max-new-tokens 8 -q -o "$T/o/t.srt"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$pass" -gt 0 ]
