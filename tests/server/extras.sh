#!/usr/bin/env bash
# heartmula serve's transcription jobs (POST /api/transcribe on a checkpoint with a tiny random
# HeartTranscriptor) and AI assistance (/api/ai/lyrics, /api/ai/thumbnail against a fake
# OpenAI-compatible endpoint on loopback: tests/server/fake_openai.py). The AI part is skipped
# (noted, not failed) without python3.
# Usage: extras.sh HEARTMULA_CLI
set -u
CLI=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 --parts lm,codec,tokenizer,whisper,clap >/dev/null || { echo "make-checkpoint failed"; exit 1; }
# an optional real-layout folder (e.g. the Whisper fixtures) instead of the random one
if [ -n "${HM_WHISPER_FIXTURES:-}" ] && [ -f "$HM_WHISPER_FIXTURES/config.json" ]; then
  rm -rf "$T/ck/HeartTranscriptor-oss"; cp -r "$HM_WHISPER_FIXTURES" "$T/ck/HeartTranscriptor-oss"
fi

# the fake AI endpoint
FAKE_PID=
if command -v python3 >/dev/null; then
  python3 "$HERE/fake_openai.py" "$T/fake_port" "$T/fake.log" &
  FAKE_PID=$!
  for _ in $(seq 1 100); do [ -s "$T/fake_port" ] && break; sleep 0.05; done
fi
trap '[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; cleanup' EXIT
if [ -n "$FAKE_PID" ] && [ -s "$T/fake_port" ]; then
  export OPENAI_API_KEY=test-key
  start_server --max-upload-bytes 1000000 --openai-base-url "http://127.0.0.1:$(cat "$T/fake_port")/v1" --ai-timeout-s 2 --openai-model fake-chat
else
  echo "NOTE: no python3: the AI endpoint checks are skipped"
  start_server --max-upload-bytes 1000000
fi
check "listening line says transcription is on" grep -q "transcription on" "$T/out.log"
req POST /api/auth/register "" '{"username":"tess","email":"tess@example.org","password":"transcribe 1"}' >/dev/null
req POST /api/auth/register "" '{"username":"ned","email":"ned@example.org","password":"transcribe 2"}' >/dev/null
A=$(login tess "transcribe 1")
B=$(login ned "transcribe 2")

# a 16 kHz mono 16-bit WAV of N bytes of noise
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
make_wav() { # make_wav FILE DATA_BYTES
  { printf 'RIFF'; printf "$(le32 $((36 + $2)))"; printf 'WAVEfmt '; printf "$(le32 16)"; printf '\x01\x00\x01\x00'
    printf "$(le32 16000)"; printf "$(le32 32000)"; printf '\x02\x00\x10\x00'; printf 'data'; printf "$(le32 "$2")"
    head -c "$2" /dev/urandom; } >"$1"
}
make_wav "$T/noise.wav" 64000
make_wav "$T/big.wav" 1200000
echo "just some text, not audio" >"$T/notes.txt"
AUDIO="$T/noise.wav"
[ -n "${HM_WHISPER_FIXTURES:-}" ] && [ -f "$HM_WHISPER_FIXTURES/jfk.wav" ] && AUDIO="$HM_WHISPER_FIXTURES/jfk.wav"

# upload: curl -F, prints the status; the body in $T/body
upload() { # upload TOKEN curl-args...
  local tok=$1; shift
  curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' ${tok:+-H "Authorization: Bearer $tok"} "$@" "$U/api/transcribe" >"$T/status"
}

# ---- transcription: errors ----
upload "" -F "file=@$AUDIO"; expect_error 401 null "transcribe without a token"
upload "$A" -H 'Content-Type: application/json' --data-binary '{"file":"x"}'; expect_error 400 file "not multipart"
upload "$A" -F "language=en"; expect_error 400 file "no file part"
upload "$A" -F "file=@$T/notes.txt"; expect_error 400 file "not audio (sniffed)"
upload "$A" -F "file=@$T/big.wav"; expect_error 413 file "upload too large"
upload "$A" -F "file=@$AUDIO" -F "language=EN;DROP"; expect_error 400 language "bad language"
check "no upload left behind by the refused ones" bash -c "[ -z \"\$(ls -A '$T/data/uploads/tmp')\" ] && [ -z \"\$(ls '$T/data/uploads' | grep -v '^tmp$')\" ]"

# ---- transcription: a job ----
upload "$A" -F "file=@$AUDIO;filename=../../etc/My Song.wav" -F "language=en"
expect_status 202 "transcribe accepted"
TR=$(jq -r .id "$T/body")
check "202 body" jq -e '.status == "queued" and (.position|type) == "number"' "$T/body"
for _ in $(seq 1 1200); do
  s=$(req GET "/api/transcribe/$TR" "$A" | jq -r .status)
  case "$s" in done|failed) break ;; esac
  sleep 0.1
done
check "transcription done (got $s: $(jq -c .error "$T/body"))" test "$s" = done
check "result in every format" jq -e '(.result.text|type) == "string" and (.result.lrc|startswith("[")) and (.result.srt|type) == "string" and (.result.vtt|startswith("WEBVTT")) and (.result.json.segments|type) == "array" and .duration_s > 0' "$T/body"
check "the file name has no folders" jq -e '.filename == "My Song.wav"' "$T/body"
req GET "/api/transcribe/$TR?format=lrc" "$A" >/dev/null; expect_status 200 "LRC download"
check "LRC is text with a download name" bash -c "grep -qi '^Content-Type: text/plain' '$T/headers' && grep -qi '^Content-Disposition: attachment; filename=\"transcript-' '$T/headers'"
req GET "/api/transcribe/$TR?format=vtt" "$A" >/dev/null
check "VTT download" bash -c "grep -qi '^Content-Type: text/vtt' '$T/headers' && head -c 6 '$T/body' | grep -q WEBVTT"
req GET "/api/transcribe/$TR?format=exe" "$A" >/dev/null; expect_error 400 format "unknown format"
req GET /api/transcribe "$A" >/dev/null; check "list has it" jq -e ".items[0].id == \"$TR\" and .available == true" "$T/body"
check "the upload is removed once transcribed" bash -c "[ -z \"\$(ls '$T/data/uploads' | grep -v '^tmp$')\" ]"
# isolation
req GET "/api/transcribe/$TR" "$B" >/dev/null; expect_error 404 null "B: transcription"
req GET "/api/transcribe/$TR?format=txt" "$B" >/dev/null; expect_error 404 null "B: transcript download"
req DELETE "/api/transcribe/$TR" "$B" >/dev/null; expect_error 404 null "B: delete transcription"
req GET /api/transcribe "$B" >/dev/null; check "B's list is empty" jq -e '.items == []' "$T/body"
req DELETE "/api/transcribe/$TR" "$A" >/dev/null; expect_status 204 "delete transcription"
req GET "/api/transcribe/$TR" "$A" >/dev/null; expect_error 404 null "deleted transcription"

# ---- AI assistance ----
if [ -n "$FAKE_PID" ]; then
  req POST /api/ai/lyrics "" '{"prompt":"x"}' >/dev/null; expect_error 401 null "AI lyrics without a token"
  req POST /api/ai/lyrics "$A" '{"prompt":"a lighthouse keeper","tags":"folk","title":"Beacon"}' >/dev/null
  expect_status 200 "AI lyrics"
  check "AI lyrics text" jq -e '(.lyrics|startswith("[Verse]")) and (.lyrics|contains("a lighthouse keeper")) and .model == "fake-chat"' "$T/body"
  check "the endpoint got the key, the model, our system prompt" bash -c "tail -1 '$T/fake.log' | jq -e '.path == \"/v1/chat/completions\" and .auth == \"Bearer test-key\" and .body.model == \"fake-chat\" and (.body.messages[0].content|contains(\"[Chorus]\")) and (.body.messages[1].content|contains(\"folk\"))'"
  req POST /api/ai/lyrics "$A" '{"tags":"x"}' >/dev/null; expect_error 400 prompt "AI lyrics without a prompt"
  req POST /api/ai/lyrics "$A" '{"prompt":"x","model":"y"}' >/dev/null; expect_error 400 model "AI lyrics unknown field"
  req POST /api/ai/lyrics "$A" '{"prompt":"BROKEN"}' >/dev/null; expect_error 502 null "AI endpoint error"
  check "the endpoint's message is passed on" jq -e '.error.message | contains("on fire")' "$T/body"
  check "no key in the error" bash -c "! grep -q test-key '$T/body'"
  t0=$(date +%s%N)
  req POST /api/ai/lyrics "$A" '{"prompt":"SLOW"}' >/dev/null; expect_error 504 null "AI endpoint timeout"
  t1=$(date +%s%N)
  check "timeout after about 2 s ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 4500
  # thumbnail: needs a finished song
  G=$(req POST /api/generate "$A" '{"lyrics":"[verse] cover me","tags":"pop","max_audio_length_ms":800,"codec_steps":1,"format":"wav"}' | jq -r .id)
  wait_status "$A" "$G" done 90 && ok || bad "song for the AI thumbnail"
  before=$(sha256sum "$T/data/audio/$G.png" | cut -d' ' -f1)
  req POST /api/ai/thumbnail "$B" "{\"id\":\"$G\"}" >/dev/null; expect_error 404 null "B: AI thumbnail of A's song"
  req POST /api/ai/thumbnail "$A" '{"id":"0123456789abcdef0123456789abcdef"}' >/dev/null; expect_error 404 null "AI thumbnail of no song"
  req POST /api/ai/thumbnail "$A" "{\"id\":\"$G\",\"prompt\":\"NOTPNG\"}" >/dev/null; expect_error 502 null "AI image that is not a PNG"
  check "the rendered thumbnail stays after a bad image" test "$(sha256sum "$T/data/audio/$G.png" | cut -d' ' -f1)" = "$before"
  req POST /api/ai/thumbnail "$A" "{\"id\":\"$G\",\"prompt\":\"watercolour\"}" >/dev/null; expect_status 200 "AI thumbnail"
  check "AI thumbnail answer" jq -e ".id == \"$G\" and (.thumbnail_url|startswith(\"/api/thumbnail/$G\"))" "$T/body"
  curl -s -o "$T/ai.png" -H "Authorization: Bearer $A" "$U/api/thumbnail/$G"
  check "the thumbnail is now the AI image (4x4 PNG)" bash -c "[ \"\$(od -An -tx1 -j16 -N8 '$T/ai.png' | tr -d ' \n')\" = 0000000400000004 ]"
  check "the image prompt names the song" bash -c "tail -1 '$T/fake.log' | jq -e '.path == \"/v1/images/generations\" and (.body.prompt|contains(\"watercolour\")) and (.body.prompt|contains(\"pop\"))'"
  check "no temporary files" bash -c "[ -z \"\$(ls -A '$T/data/audio/tmp')\" ]"
  kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_PID=
  # not configured: 503 with a clear message
  unset OPENAI_API_KEY
  start_server
  check "listening line says AI is off" grep -q "AI off" "$T/out.log"
  req POST /api/ai/lyrics "$A" '{"prompt":"x"}' >/dev/null; expect_error 503 null "AI not configured"
  check "503 says what to set" jq -e '.error.message | contains("OPENAI_API_KEY")' "$T/body"
  req POST /api/ai/thumbnail "$A" "{\"id\":\"$G\"}" >/dev/null; expect_error 503 null "AI thumbnail not configured"
fi

# reference audio: one of the caller's own finished songs, through MuQ-MuLan-large/ of the model folder
RQ='"tags":"pop","max_audio_length_ms":800,"codec_steps":1,"format":"wav"'
RQ1='"tags":"pop","max_audio_length_ms":1600,"codec_steps":1,"format":"wav"' # references are 1 s or longer
req GET /api/status "" >/dev/null
check "status offers reference audio" jq -e '.reference_audio == true' "$T/body"
R1=$(req POST /api/generate "$A" "{\"lyrics\":\"la\",$RQ1,\"seed\":5}" | jq -r .id)
check "the reference song is made" wait_status "$A" "$R1" done 120
R2=$(req POST /api/generate "$A" "{\"lyrics\":\"la\",$RQ,\"seed\":5,\"ref_audio\":\"$R1\",\"ref_strength\":1.5}" | jq -r .id)
check "a job with reference audio is accepted" test "$(status)" = 202
check "the song with reference audio is made" wait_status "$A" "$R2" done 120
req GET "/api/history/$R2" "$A" >/dev/null
check "its parameters keep the reference and the strength" jq -e ".params.ref_audio == \"$R1\" and .params.ref_strength == 1.5" "$T/body"
req POST /api/generate "$B" "{\"lyrics\":\"la\",$RQ,\"ref_audio\":\"$R1\"}" >/dev/null; expect_error 400 ref_audio "B: another user's song as reference"
req POST /api/generate "$A" "{\"lyrics\":\"la\",$RQ,\"ref_audio\":\"../../etc/passwd\"}" >/dev/null; expect_error 400 ref_audio "a path as reference"
req POST /api/generate "$A" "{\"lyrics\":\"la\",$RQ,\"ref_audio\":\"$R1\",\"ref_strength\":11}" >/dev/null; expect_error 400 ref_strength "strength over 10"
kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_PID=
finish
