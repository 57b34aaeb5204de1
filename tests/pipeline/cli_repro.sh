#!/usr/bin/env bash
# `heartmula generate` on a demo checkpoint, the same job and seed at 1 and 2
# threads: identical codes and identical bytes of audio, for a song of two
# codec windows (docs/api.md, "Reproducibility"). Usage: cli_repro.sh HEARTMULA_CLI
set -u
CLI=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 >/dev/null || { echo "FAIL: make-checkpoint"; exit 1; }
for t in 1 2; do
  "$CLI" generate --model-path "$T/ck" --version demo --lyrics "[verse] hello there" --tags "rock,guitar" \
    --max-audio-length-ms 32000 --seed 11 -q -t $t -o "$T/t$t.wav" --save-codes "$T/t$t.npy" \
    || { echo "FAIL: generate -t $t"; exit 1; }
done
frames=$(( ($(stat -c %s "$T/t1.npy") - 128) / 32 ))
[ "$frames" -gt 372 ] || { echo "FAIL: only $frames frames: the song must span two codec windows"; exit 1; }
cmp -s "$T/t1.npy" "$T/t2.npy" || { echo "FAIL: codes differ between 1 and 2 threads"; exit 1; }
cmp -s "$T/t1.wav" "$T/t2.wav" || { echo "FAIL: audio differs between 1 and 2 threads"; exit 1; }
echo "1 and 2 threads: the same $frames frames of codes and the same $(stat -c %s "$T/t1.wav") bytes of audio"
