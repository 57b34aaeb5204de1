#!/usr/bin/env bash
# `heartmula generate` end to end on a demo checkpoint: reproducibility, codes ->
# decode, continuation, upstream's underscore flags, and bad input (non-zero exit,
# a clear message, no clobbered file). Usage: cli_generate.sh HEARTMULA_CLI EXAMPLE_BIN
set -u
CLI=$1
EXAMPLE=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_fail() { # expect_fail "needle" cmd...
  local needle=$1; shift
  local out
  if out=$("$@" 2>&1); then bad "succeeded: $*"; return; fi
  case "$out" in *"$needle"*) ok ;; *) bad "message of '$*' lacks '$needle': $out" ;; esac
}

"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 >/dev/null || { echo "make-checkpoint failed"; exit 1; }
G=("$CLI" generate --model-path "$T/ck" --version demo --lyrics "[verse] hello there" --tags "rock,guitar" --max-audio-length-ms 1200 -q -t 2)

"${G[@]}" --seed 9 -o "$T/a.wav" --save-codes "$T/a.npy" && ok || bad "generate a"
"${G[@]}" --seed 9 -o "$T/b.wav" --save-codes "$T/b.npy" && ok || bad "generate b"
cmp -s "$T/a.wav" "$T/b.wav" && ok || bad "same seed, different audio"
cmp -s "$T/a.npy" "$T/b.npy" && ok || bad "same seed, different codes"
"${G[@]}" --seed 10 -o "$T/c.wav" && ok || bad "generate c"
cmp -s "$T/a.wav" "$T/c.wav" && bad "another seed gave the same audio" || ok

# codes saved by generate, decoded alone with the same seed: the same file
"$CLI" decode --codec "$T/ck/HeartCodec-oss" --codes "$T/a.npy" --seed 9 -o "$T/d.wav" -q && ok || bad "decode"
cmp -s "$T/a.wav" "$T/d.wav" && ok || bad "decode of saved codes differs from generate's audio"

# --lyrics FILE / --tags FILE (upstream's CLI): the CLI reads the files; CRLF
# reads as LF; the same seed gives the same codes as the text itself
printf '[verse] hello there' > "$T/lyrics.txt"
printf 'rock,guitar' > "$T/tags.txt"
"$CLI" generate --model-path "$T/ck" --version demo --lyrics "$T/lyrics.txt" --tags "$T/tags.txt" --max-audio-length-ms 1200 \
  -q -t 2 --seed 9 --codes-only --save-codes "$T/files.npy" && ok || bad "generate with --lyrics FILE --tags FILE"
cmp -s "$T/a.npy" "$T/files.npy" && ok || bad "--lyrics FILE / --tags FILE differ from the same text"
expect_fail "lyrics" bash -c "printf 'la \\xff' > '$T/badlyr.txt' && '$CLI' generate --model-path '$T/ck' --version demo --lyrics '$T/badlyr.txt' --tags x -o '$T/x.wav' -q"

# upstream's spellings
"$CLI" generate --model_path "$T/ck" --version demo --lyrics "[verse] hello there" --tags "rock,guitar" \
  --max_audio_length_ms 1200 --cfg_scale 1.5 --save_path "$T/u.wav" --seed 9 -q -t 2 && ok || bad "underscore flags"
cmp -s "$T/a.wav" "$T/u.wav" && ok || bad "underscore flags changed the result"

# quantized LM weights at load (--quant is --mula-dtype), same seed twice: same codes
"${G[@]}" --seed 9 --quant q4_0 -o "$T/q1.wav" --save-codes "$T/q1.npy" && ok || bad "--quant q4_0"
"${G[@]}" --seed 9 --mula-dtype=q4_0 -o "$T/q2.wav" --save-codes "$T/q2.npy" && ok || bad "--mula-dtype=q4_0"
cmp -s "$T/q1.npy" "$T/q2.npy" && ok || bad "--quant and --mula-dtype differ"
"${G[@]}" --seed 9 --quant q8_0 -o "$T/q3.wav" && ok || bad "--quant q8_0"
expect_fail "unknown 'q3_k'" "${G[@]}" --seed 9 --quant q3_k -o "$T/q4.wav"

# --codes-only and --continue-from: the continued song starts with the old codes
"${G[@]}" --seed 4 --codes-only --save-codes "$T/e.npy" && ok || bad "codes-only"
[ ! -e "$T/output.mp3" ] && ok || bad "codes-only wrote audio"
"${G[@]}" --seed 5 --continue-from "$T/e.npy" --save-codes "$T/f.npy" -o "$T/f.wav" && ok || bad "continue-from"
e_size=$(stat -c %s "$T/e.npy"); f_size=$(stat -c %s "$T/f.npy")
[ "$f_size" -gt "$e_size" ] && ok || bad "continuation did not extend the song ($e_size -> $f_size bytes)"

# --stream on a 2-window song: streamed to a file and to stdout, the same samples as the file written after the LM
S=("$CLI" generate --model-path "$T/ck" --version demo --lyrics "[verse] hello there" --tags "rock,guitar"
   --max-audio-length-ms 32000 --codec-steps 2 -q -t 2 --seed 9)
"${S[@]}" -o "$T/l.wav" && ok || bad "2-window song"
"${S[@]}" --stream -o "$T/ls.wav" && ok || bad "--stream to a file"
cmp -s "$T/l.wav" "$T/ls.wav" && ok || bad "--stream file differs from the file written after the LM"
"${S[@]}" --stream -o - > "$T/lo.wav" && ok || bad "--stream -o -"
[ "$(head -c 4 "$T/lo.wav")" = RIFF ] && ok || bad "no RIFF header on stdout"
cmp -s <(tail -c +45 "$T/l.wav") <(tail -c +45 "$T/lo.wav") && ok || bad "stdout stream's samples differ from the file's"
# a pipe closed early stops the job with an error (exit 1), not a signal
"${S[@]}" --stream -o - 2>"$T/pipe.err" | head -c 1000 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" = 1 ] && grep -q "on_audio" "$T/pipe.err" && ok || bad "closed pipe: exit $rc, $(cat "$T/pipe.err")"

# bad input: clear message, non-zero exit, nothing clobbered
cp "$T/a.wav" "$T/keep.wav"
expect_fail "already exists" "${G[@]}" --seed 1 -o "$T/a.wav"
cmp -s "$T/a.wav" "$T/keep.wav" && ok || bad "existing output was clobbered"
expect_fail "already exists" "${G[@]}" --seed 1 -o "$T/new.wav" --save-codes "$T/a.npy"
expect_fail "HeartMuLa-oss-3B" "$CLI" generate --model-path "$T/ck" --lyrics x --tags y -o "$T/x.wav" -q
expect_fail "tokenizer.json" bash -c "mkdir -p '$T/partial/HeartMuLa-oss-demo' '$T/partial/HeartCodec-oss' && '$CLI' generate --model-path '$T/partial' --version demo --lyrics x --tags y -o '$T/x.wav' -q"
expect_fail "lyrics are empty" "${G[@]/hello there/}" --lyrics "" --seed 1 -o "$T/x.wav"
expect_fail "max_audio_ms" "${G[@]}" --max-audio-length-ms 0 -o "$T/x.wav"
expect_fail "max_audio_ms" "${G[@]}" --max-audio-length-ms -80 -o "$T/x.wav"
printf '\xff\xfe\x00binary' > "$T/tags.bin"
expect_fail "tags" "${G[@]}" --tags "$T/tags.bin" -o "$T/x.wav"
expect_fail "unknown extension" "${G[@]}" -o "$T/x.abc"
expect_fail "does not exist" "${G[@]}" -o "$T/missing/x.wav"
expect_fail "expects an integer" "${G[@]}" --topk many -o "$T/x.wav"
expect_fail "unknown option" "${G[@]}" --frobnicate -o "$T/x.wav"
[ ! -e "$T/x.wav" ] && ok || bad "a failed run left x.wav"

# the example program, built against the public header only
expect_fail "HeartMuLa-oss-3B" "$EXAMPLE" "$T/ck" "$T/ex.wav" 3
HM_VERSION=demo "$EXAMPLE" "$T/ck" "$T/ex.wav" 3 >/dev/null 2>&1 && [ -s "$T/ex.wav" ] && ok || bad "example program"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
