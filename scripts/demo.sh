#!/usr/bin/env bash
# `make demo`: makes a small random demo checkpoint (once) and generates a song
# end to end with it. Random weights make noise, not music: real music needs
# the published checkpoints (see README).
set -euo pipefail
BUILD=${1:-build}
CLI="$BUILD/bin/heartmula"
CKPT=demo/ckpt
if [ ! -f "$CKPT/gen_config.json" ]; then
  mkdir -p "$CKPT"
  echo "demo: writing a small random checkpoint to $CKPT"
  "$CLI" make-checkpoint --flavor demo --out "$CKPT" --seed 1
fi
"$CLI" generate --model-path "$CKPT" --version demo \
  --lyrics "[verse]
the engine hums a tiny tune
a c program under the moon" \
  --tags "pop,piano,happy" \
  --max-audio-length-ms 10000 --seed 7 --save-codes demo/demo_codes.npy \
  -o demo.wav --overwrite
echo "demo: wrote demo.wav (and the codes to demo/demo_codes.npy)"
