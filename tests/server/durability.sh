#!/usr/bin/env bash
# kill -9 of heartmula serve while a job runs and others are queued: after a restart every accepted
# job finishes, finished files are intact (byte for byte), no temporary file is left, and a job
# interrupted on every one of its 3 attempts is failed with the reason.
# Usage: durability.sh HEARTMULA_CLI
set -u
CLI=$1
. "$(dirname "$0")/lib.sh"
make_ckpt
start_server
req POST /api/auth/register "" '{"username":"dora","email":"dora@example.org","password":"durable pw 1"}' >/dev/null
A=$(login dora "durable pw 1")
Q='"tags":"ambient","max_audio_length_ms":800,"codec_steps":1,"format":"flac"'

# one finished song first
J0=$(req POST /api/generate "$A" "{\"lyrics\":\"[verse] first\",$Q}" | jq -r .id)
wait_status "$A" "$J0" done 60 && ok || bad "first job"
sha0=$(sha256sum "$T/data/audio/$J0.flac" | cut -d' ' -f1)

# a long running job and three queued ones, then kill -9 mid-job
JL=$(req POST /api/generate "$A" '{"lyrics":"[verse] long","tags":"x","max_audio_length_ms":20000,"codec_steps":40,"format":"wav"}' | jq -r .id)
IDS=()
for i in 1 2 3; do IDS+=("$(req POST /api/generate "$A" "{\"lyrics\":\"[verse] queued $i\",$Q}" | jq -r .id)"); done
expect_status 202 "queued jobs accepted"
wait_status "$A" "$JL" running 30 && ok || bad "long job running"
sleep 0.5
kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=

start_server
check "restart says jobs were queued again" grep -q "queued again" "$T/err.log"
req GET "/api/history/$JL" "$A" >/dev/null
check "the interrupted job counts its attempt" jq -e '.attempts >= 1 and (.status == "queued" or .status == "running")' "$T/body"
# the long job is cancelled so the test stays short; the queued ones must finish
req DELETE "/api/queue/$JL" "$A" >/dev/null; expect_status 200 "cancel the long job"
for id in "${IDS[@]}"; do wait_status "$A" "$id" done 90 && ok || bad "queued job $id after restart"; done
check "the first song is intact" test "$(sha256sum "$T/data/audio/$J0.flac" | cut -d' ' -f1)" = "$sha0"
for id in "${IDS[@]}"; do
  check "file of $id is a whole FLAC" bash -c "head -c 4 '$T/data/audio/$id.flac' | grep -q fLaC"
  curl -s -o "$T/dl" -H "Authorization: Bearer $A" "$U/api/audio/$id"
  check "download of $id equals its file" cmp -s "$T/dl" "$T/data/audio/$id.flac"
done
check "no temporary files" bash -c "[ -z \"\$(ls -A '$T/data/audio/tmp')\" ]"

# a job killed during each of its 3 attempts is failed with the reason
JK=$(req POST /api/generate "$A" '{"lyrics":"[verse] doomed","tags":"x","max_audio_length_ms":20000,"codec_steps":40,"format":"wav"}' | jq -r .id)
for attempt in 1 2 3; do
  wait_status "$A" "$JK" running 30 || { bad "attempt $attempt not running"; break; }
  kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=
  start_server
done
req GET "/api/history/$JK" "$A" >/dev/null
check "failed after 3 attempts" jq -e '.status == "failed" and .attempts == 3 and (.error|test("3 times"))' "$T/body"
req GET /api/history "$A" >/dev/null
check "history holds every job" jq -e '.total == 6' "$T/body"
kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_PID=
finish
