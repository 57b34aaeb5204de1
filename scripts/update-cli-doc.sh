#!/usr/bin/env bash
# Regenerates docs/cli.md from the subcommands' --help texts: docs/cli.md stays in
# step with the binary (tests/pipeline checks that every subcommand is documented).
# Hand-written notes for a subcommand live in docs/cli-notes/<subcommand>.md.
set -euo pipefail
CLI=${1:-build/bin/heartmula}
out=docs/cli.md
{
cat <<'TXT'
# `heartmula` command-line reference

Every subcommand prints its options with `--help`. Long options accept both spellings,
`--model-path` and `--model_path`, and both `--flag VALUE` and `--flag=VALUE`. Exit status: 0 on
success, 1 on an error (the message names the file, tensor, field or argument at fault), 2 on
bad usage. Progress bars appear only when stderr is a terminal; `-q` silences them.

SIGINT (Ctrl-C) or SIGTERM during `generate`, `decode` or `transcribe` stops the job at its next
frame or step through the library's abort callback: no output file is written (none is left under
a temporary name either), an existing file passed with `--overwrite` is untouched, `heartmula:
stopped by SIGINT` is printed and the process dies by the signal (exit status 130 / 143 in a
shell). A second signal stops at once. A signal that arrives while the finished output is being
written lets that write complete (it is renamed into place whole). A signal the parent ignores
(`nohup`, a background job of a non-interactive shell) stays ignored. Other commands keep the
default action. `generate --save-codes FILE.npy` is the exception that keeps work: the frames the
LM made before the stop (after the `--continue-from` history) are written to FILE.npy, whole
(temporary name, renamed), still with exit status 130 / 143 and no audio file.

## Typical runs

```sh
# a song from the published checkpoints (see README for the download)
heartmula generate --model-path ./ckpt --lyrics lyrics.txt --tags "pop,piano,happy" -o song.mp3 --seed 42
# keep the codes, decode them again later (same seed: the same audio)
heartmula generate --model-path ./ckpt --lyrics lyrics.txt --tags tags.txt --save-codes song.npy -o song.wav --seed 42
heartmula decode --codec ./ckpt/HeartCodec-oss --codes song.npy --seed 42 -o song.flac
# listen while it is generated: each 29.76 s window is decoded as soon as its codes exist
heartmula generate --model-path ./ckpt --lyrics lyrics.txt --tags tags.txt --stream -o - | aplay
heartmula generate --model-path ./ckpt --lyrics lyrics.txt --tags tags.txt --stream -o song.wav  # same bytes as without --stream
# continue a song from its codes
heartmula generate --model-path ./ckpt --lyrics more.txt --tags tags.txt --continue-from song.npy -o longer.mp3
# a reference song's style (MuQ-MuLan in ./ckpt/MuQ-MuLan-large, converted once from pytorch_model.bin)
heartmula convert ./ckpt/MuQ-MuLan-large/pytorch_model.bin
heartmula generate --model-path ./ckpt --lyrics lyrics.txt --tags tags.txt --ref-audio ref.mp3 --ref-strength 1 -o song.mp3
# lyrics of a song as LRC
heartmula transcribe --model ./ckpt/HeartTranscriptor-oss song.mp3 -o song.lrc
# 4-bit LM weights: quantize once (memory-mapped afterwards), then use the folder
heartmula quantize ./ckpt/HeartMuLa-oss-3B ./ckpt/HeartMuLa-oss-3B-q4_0 --type q4_0
heartmula generate --model-path ./ckpt --version 3B-q4_0 --lyrics lyrics.txt --tags tags.txt -o song.mp3
# LM speed against the machine's memory bandwidth (see docs/performance.md)
heartmula bench --model-path ./ckpt --format q4_0 --frames 32
# check this build against a reference-fixture folder
heartmula parity ../shared/fixtures --strict
```

TXT
for c in generate decode transcribe embed tag search tokenize parity bench make-checkpoint convert quantize info serve; do
  echo "## heartmula $c"
  echo
  echo '```'
  "$CLI" "$c" --help 2>&1
  echo '```'
  echo
  if [ "$c" = bench ]; then
    for m in codec transcribe e2e kernels gemm clap; do echo '```'; "$CLI" bench --mode "$m" --help 2>&1; echo '```'; echo; done
  fi
  # hand-written notes that go with a subcommand (kept across regenerations)
  if [ -f "docs/cli-notes/$c.md" ]; then cat "docs/cli-notes/$c.md"; fi
done
} > "$out"
echo "wrote $out"
