#!/usr/bin/env bash
# Codes one past the codebook through `heartmula decode` and through a history
# (`generate --continue-from`). The LM's stop test is code >= audio_eos_id on the
# conditional row, so code == codebook_size (8192 for the published codec, 512
# for the fixture codec) can reach the codec: it is decoded as codebook_size - 1
# with a warning. Codes further outside are an error naming codebook and frame.
# Usage: cli_codes_edge.sh HEARTMULA_CLI SHARED_DIR
set -u
CLI=$1
SHARED=$2
CODEC=$SHARED/fixtures/heartcodec
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run WANT_STATUS NEEDLE cmd...: exact exit status, NEEDLE in stderr (empty: no check)
run() {
  local want=$1 needle=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" = "$want" ] || { bad "exit status $rc (want $want): $*"; cat "$T/err"; return; }
  if [ -n "$needle" ] && ! grep -qF -- "$needle" "$T/err"; then bad "stderr of '$*' lacks '$needle':"; cat "$T/err"; return; fi
  ok
}
# patch_code FILE Q I VALUE: sets codes[Q][I] of an int32 [8, n] .npy (version 1 header)
patch_code() {
  local f=$1 q=$2 i=$3 v=$4
  local hl data n
  hl=$(od -An -tu2 -j8 -N2 "$f" | tr -d ' ')
  data=$((10 + hl))
  n=$((($(stat -c %s "$f") - data) / 32))
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))" |
    dd of="$f" bs=1 seek=$((data + 4 * (q * n + i))) conv=notrunc status=none
}
codes_with() { # codes_with NAME VALUE: the short fixture codes with codes[3][7] = VALUE
  cp "$SHARED/fixtures/codec_detok_short_codes.npy" "$T/$1.npy"
  chmod u+w "$T/$1.npy"
  patch_code "$T/$1.npy" 3 7 "$2"
}
D=("$CLI" decode --codec "$CODEC" --steps 2 --seed 3 -t 1 -q)

# the patch helper itself: the unpatched file decodes differently from a patched one
codes_with last 511
codes_with past 512
cmp -s "$T/last.npy" "$SHARED/fixtures/codec_detok_short_codes.npy" && bad "patch_code changed nothing" || ok

# 512 == codebook_size: decoded as 511, with a warning naming codebook and frame
run 0 "warning: codec: 1 code(s) equal to 512, one past the codebook (first at codebook 3, frame 7), decoded as 511" \
  "${D[@]}" --codes "$T/past.npy" -o "$T/past.wav"
run 0 "" "${D[@]}" --codes "$T/last.npy" -o "$T/last.wav"
grep -q warning "$T/err" && bad "codes within the codebook gave a warning: $(cat "$T/err")" || ok
cmp -s "$T/past.wav" "$T/last.wav" && ok || bad "code 512 did not decode exactly as 511"

# further outside: an error naming codebook and frame, no output
codes_with over 513
run 1 "code 513 at codebook 3, frame 7 is outside [0, 512)" "${D[@]}" --codes "$T/over.npy" -o "$T/over.wav"
[ ! -e "$T/over.wav" ] && ok || bad "a rejected decode left over.wav"
codes_with neg -1
run 1 "code -1 at codebook 3, frame 7 is outside [0, 512)" "${D[@]}" --codes "$T/neg.npy" -o "$T/neg.wav"
codes_with big 8192
run 1 "code 8192 at codebook 3, frame 7 is outside [0, 512)" "${D[@]}" --codes "$T/big.npy" -o "$T/big.wav"

# a history holding code 512 (the demo LM's audio vocabulary is 517, its end of
# audio 513): the LM takes it as an audio row, the codec clamps it in the output
"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 >/dev/null || { echo "make-checkpoint failed"; exit 1; }
G=("$CLI" generate --model-path "$T/ck" --version demo --lyrics "[verse] hello there" --tags "rock,guitar"
   --max-audio-length-ms 800 -q -t 1)
run 0 "" "${G[@]}" --seed 4 --codes-only --save-codes "$T/hist.npy"
patch_code "$T/hist.npy" 0 2 512
run 0 "one past the codebook (first at codebook 0, frame 2), decoded as 511" \
  "${G[@]}" --seed 5 --continue-from "$T/hist.npy" -o "$T/cont.wav"
[ -s "$T/cont.wav" ] && ok || bad "continuation from a history holding 512 wrote no audio"
patch_code "$T/hist.npy" 0 2 513
run 1 "code 513 at codebook 0, frame 2 is outside [0, 512)" \
  "${G[@]}" --seed 5 --continue-from "$T/hist.npy" -o "$T/cont2.wav"
[ ! -e "$T/cont2.wav" ] && ok || bad "a rejected continuation left cont2.wav"

echo "$pass checks passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$pass" -gt 0 ]
