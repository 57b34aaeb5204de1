#!/usr/bin/env bash
# SIGINT / SIGTERM while `heartmula generate` (a long demo song) and `heartmula
# decode` (2000 frames) and `heartmula transcribe` (5 minutes of audio) run: the job stops through its abort path ("... aborted",
# "heartmula: stopped by SIGINT"), the process dies by the signal (status 130 /
# 143), no output file (nor a temporary one) is left, and an existing output
# given with --overwrite is untouched; generate --save-codes keeps the frames made
# before the stop. Usage: cli_signals.sh HEARTMULA_CLI WHISPER_FIXTURE_DIR
set -u
CLI=$1
WFIX=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# job control: without it a non-interactive shell starts background jobs with
# SIGINT ignored (and the CLI keeps a signal its parent ignores)
set -m
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 >/dev/null || { echo "make-checkpoint failed"; exit 1; }
LONG=(--lyrics "[verse] la la la" --tags "rock" --max-audio-length-ms 240000 --seed 1 -t 1)
"$CLI" generate --model-path "$T/ck" --version demo "${LONG[@]}" -q --codes-only --save-codes "$T/long.npy" ||
  { echo "generate --codes-only failed"; exit 1; }
mkdir "$T/out"
printf 'an older song\n' > "$T/out/keep.wav"
printf 'older lyrics\n' > "$T/out/keep.txt"
cp "$T/out/keep.wav" "$T/keep.wav.orig"
cp "$T/out/keep.txt" "$T/keep.txt.orig"
# 300 s of silence, 16 kHz mono 16-bit WAV
le32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"; }
n=$((300 * 32000))
{ printf 'RIFF'; le32 $((36 + n)); printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'; le32 16000; le32 32000
  printf '\x02\x00\x10\x00data'; le32 $n; head -c $n /dev/zero; } > "$T/silence.wav"

# interrupt SIGNAL STATUS DELAY NAME cmd...: starts cmd in the background, sends
# SIGNAL after DELAY seconds while it still runs, checks status, message, files
interrupt() {
  local sig=$1 want=$2 delay=$3 name=$4; shift 4
  local before after
  before=$(ls -a "$T/out")
  "$@" 2>"$T/err" &
  local pid=$!
  sleep "$delay"
  if ! kill -0 "$pid" 2>/dev/null; then bad "$name: finished within ${delay}s, before the signal"; wait "$pid"; return; fi
  kill -s "$sig" "$pid"
  local i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then bad "$name: still running 30 s after SIG$sig"; kill -KILL "$pid"; wait "$pid"; return; fi
  wait "$pid"
  local rc=$?
  [ "$rc" = "$want" ] && ok || bad "$name: exit status $rc after SIG$sig, want $want"
  grep -q "aborted" "$T/err" && ok || bad "$name: the job did not stop through its abort path: $(cat "$T/err")"
  grep -q "heartmula: stopped by SIG$sig" "$T/err" && ok || bad "$name: no 'stopped by SIG$sig' message: $(cat "$T/err")"
  after=$(ls -a "$T/out")
  [ "$before" = "$after" ] && ok || bad "$name: files in the output folder changed: '$before' -> '$after'"
  cmp -s "$T/out/keep.wav" "$T/keep.wav.orig" && cmp -s "$T/out/keep.txt" "$T/keep.txt.orig" && ok ||
    bad "$name: an existing output was changed"
}

G=("$CLI" generate --model-path "$T/ck" --version demo "${LONG[@]}")
D=("$CLI" decode --codec "$T/ck/HeartCodec-oss" --codes "$T/long.npy" -t 1 -q)
interrupt INT 130 1 "generate, SIGINT" "${G[@]}" -o "$T/out/song.wav"
interrupt TERM 143 1 "generate, SIGTERM, over an existing file" "${G[@]}" -o "$T/out/keep.wav" --overwrite
interrupt INT 130 1 "decode, SIGINT" "${D[@]}" -o "$T/out/song.flac"
interrupt TERM 143 1 "decode, SIGTERM, over an existing file" "${D[@]}" -o "$T/out/keep.wav" --overwrite
# --save-codes keeps the frames made before the stop: a whole .npy [8, n >= 1] of int32 (temporary
# name + rename: no .tmp left), while the audio output is still not written
kept() {
  local f=$1 name=$2
  [ -f "$f" ] || { bad "$name: no $f: the frames made so far were not kept"; return; }
  [ ! -e "$f.tmp" ] && ok || bad "$name: $f.tmp left behind"
  local shape n hl size
  shape=$(head -c 200 "$f" | tr -d '\0' | grep -ao "'shape': (8, [0-9]*)")
  n=${shape##*, }; n=${n%)}
  hl=$(od -An -tu2 -j8 -N2 "$f" | tr -d ' ')
  size=$(stat -c %s "$f")
  if [ -n "$n" ] && [ "$n" -ge 1 ] && head -c 200 "$f" | grep -aq "'descr': '<i4'" && [ "$size" -eq $((10 + hl + 32 * n)) ]; then ok
  else bad "$name: $f is not a whole [8, n] int32 .npy (shape '$shape', $size bytes)"; fi
  grep -Eq -- "--save-codes: the [0-9]+ frames made before the stop are in" "$T/err" && ok ||
    bad "$name: no message about the kept frames: $(cat "$T/err")"
}
interrupt INT 130 1 "generate --save-codes, SIGINT" "${G[@]}" -o "$T/out/song.wav" --save-codes "$T/kept_int.npy"
kept "$T/kept_int.npy" "generate --save-codes, SIGINT"
interrupt TERM 143 1 "generate --codes-only --save-codes, SIGTERM" "${G[@]}" --codes-only --save-codes "$T/kept_term.npy"
kept "$T/kept_term.npy" "generate --codes-only --save-codes, SIGTERM"

W=("$CLI" transcribe --model "$WFIX" "$T/silence.wav" -t 1 -q)
interrupt INT 130 1 "transcribe, SIGINT" "${W[@]}" -o "$T/out/lyrics.txt"
interrupt TERM 143 1 "transcribe, SIGTERM, over an existing file" "${W[@]}" -o "$T/out/keep.txt" --overwrite

echo "$pass checks passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$pass" -gt 0 ]
