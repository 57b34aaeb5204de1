#!/usr/bin/env bash
# heartmula serve end to end: accounts, generate -> done, queue, history + search, audio (Bearer,
# Range, signed URL), cancel, delete, every error path, user isolation (B gets 404 on each of A's
# ids), WebSocket events and live audio for the owner only, logout, login throttling, SIGTERM drain.
# Usage: api.sh HEARTMULA_CLI WS_CLIENT
set -u
CLI=$1
WS=$2
. "$(dirname "$0")/lib.sh"
make_ckpt
start_server --max-queued 3 --login-attempts 3

Q='"tags":"rock,guitar","max_audio_length_ms":800,"codec_steps":1,"format":"wav"'

# ---- status and headers ----
req GET /api/status >/dev/null
expect_status 200 "status"
check "status fields" jq -e '.model_loaded == false and .version == "demo" and .workers == 1 and (.queue_length|type) == "number" and (.cpu|type) == "string"' "$T/body"
check "status has no paths" bash -c "! grep -q '$T' '$T/body'"
for h in "Content-Security-Policy" "X-Content-Type-Options: nosniff" "Referrer-Policy"; do
  check "header $h" grep -qi "^$h" "$T/headers"
done
check "no CORS by default" bash -c "! grep -qi '^Access-Control' '$T/headers'"
req GET /api/nope >/dev/null; expect_error 404 null "unknown endpoint"
req PUT /api/status >/dev/null; expect_status 405 "wrong method"
req GET / >/dev/null; expect_status 200 "UI index"
req GET /../../etc/passwd >/dev/null; [ "$(status)" = 404 ] && ok || bad "path traversal: $(status)"
req GET /api/openapi.json >/dev/null; expect_status 200 "openapi"
check "openapi is OpenAPI 3" jq -e '.openapi | startswith("3.")' "$T/body"

# ---- accounts ----
req POST /api/auth/register "" '{"username":"alice","email":"alice@example.org","password":"correct horse"}' >/dev/null
expect_status 201 "register alice"
check "register body" jq -e '.id and .username == "alice" and .email == "alice@example.org" and .created_at and (has("password_hash")|not)' "$T/body"
req POST /api/auth/register "" '{"username":"bob","email":"bob@example.org","password":"battery staple"}' >/dev/null
expect_status 201 "register bob"
req POST /api/auth/register "" '{"username":"ALICE","email":"other@example.org","password":"correct horse"}' >/dev/null
expect_error 409 username "duplicate username (case-insensitive)"
req POST /api/auth/register "" '{"username":"alice2","email":"Alice@Example.org","password":"correct horse"}' >/dev/null
expect_error 409 email "duplicate email (case-insensitive)"
req POST /api/auth/register "" '{"username":"a b","email":"c@example.org","password":"correct horse"}' >/dev/null
expect_error 400 username "bad username"
req POST /api/auth/register "" '{"username":"carol","email":"nope","password":"correct horse"}' >/dev/null
expect_error 400 email "bad email"
req POST /api/auth/register "" '{"username":"carol","email":"c@example.org","password":"short"}' >/dev/null
expect_error 400 password "short password"
req POST /api/auth/register "" '{"username":"carol","email":"c@example.org","password":"correct horse","admin":true}' >/dev/null
expect_error 400 admin "unknown field"
req POST /api/auth/register "" '{"username":' >/dev/null
expect_error 400 null "malformed JSON"
req POST /api/auth/register "" '[1,2]' >/dev/null
expect_error 400 null "JSON that is not an object"
A=$(login alice "correct horse"); expect_status 200 "login alice"
check "token type" jq -e '.token_type == "bearer" and .expires_in > 0' "$T/body"
B=$(login bob@example.org "battery staple"); expect_status 200 "login bob by email"
req POST /api/auth/login "" '{"username":"alice","password":"wrong password"}' >/dev/null
expect_error 401 null "wrong password"
req POST /api/auth/login "" '{"username":"nobody","password":"wrong password"}' >/dev/null
expect_error 401 null "unknown user"
req GET /api/auth/me "$A" >/dev/null; expect_status 200 "me"
check "me is alice" jq -e '.username == "alice"' "$T/body"
req GET /api/auth/me >/dev/null; expect_error 401 null "me without a token"
req GET /api/auth/me "x.y.z" >/dev/null; expect_error 401 null "me with junk"
# a token signed with another key, and one with alg none
NONE="$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').$(printf '{"sub":"1","ver":1,"exp":9999999999}' | base64 -w0 | tr '+/' '-_' | tr -d '=')."
req GET /api/auth/me "$NONE" >/dev/null; expect_error 401 null "alg none token"
FORGED="${A%.*}.$(printf 'forged-signature-forged-signature!!' | base64 -w0 | tr '+/' '-_' | tr -d '=')"
req GET /api/auth/me "$FORGED" >/dev/null; expect_error 401 null "forged signature"

# ---- sockets: alice (token in the first message), bob (?token=) ----
"$WS" "$PORT" "$A" msg 120 0 >"$T/ws_a.log" 2>&1 &
WSA=$!
"$WS" "$PORT" "$B" query 120 0 >"$T/ws_b.log" 2>&1 &
WSB=$!
"$WS" "$PORT" "junk" query 2 0 >"$T/ws_bad.log" 2>&1
check "socket with a bad token refused" grep -q CONNECT_FAILED "$T/ws_bad.log"
for _ in $(seq 1 100); do grep -q authenticated "$T/ws_a.log" && grep -q authenticated "$T/ws_b.log" && break; sleep 0.05; done
check "sockets authenticated" grep -q authenticated "$T/ws_b.log"

# ---- generate: errors ----
req POST /api/generate "" "{\"lyrics\":\"x\",$Q}" >/dev/null; expect_error 401 null "generate without a token"
req POST /api/generate "$A" "{$Q}" >/dev/null; expect_error 400 lyrics "no lyrics"
req POST /api/generate "$A" "{\"lyrics\":\"  \n \",$Q}" >/dev/null; expect_error 400 lyrics "blank lyrics"
req POST /api/generate "$A" "{\"lyrics\":42,$Q}" >/dev/null; expect_error 400 lyrics "lyrics not text"
req POST /api/generate "$A" '{"lyrics":"la la","max_audio_length_ms":800}' >/dev/null; expect_error 400 tags "no tags"
req POST /api/generate "$A" "{\"lyrics\":\"la\",$Q,\"topk\":0}" >/dev/null; expect_error 400 topk "topk 0"
req POST /api/generate "$A" "{\"lyrics\":\"la\",$Q,\"temperature\":\"hot\"}" >/dev/null; expect_error 400 temperature "temperature text"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","max_audio_length_ms":99999999}' >/dev/null; expect_error 400 max_audio_length_ms "song too long"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","format":"exe"}' >/dev/null; expect_error 400 format "bad format"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","seed":-1}' >/dev/null; expect_error 400 seed "negative seed"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","ref_audio":"/etc/passwd"}' >/dev/null; expect_error 503 ref_audio "ref_audio without MuQ-MuLan"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","output_path":"/tmp/x"}' >/dev/null; expect_error 400 output_path "unknown field"
req POST /api/generate "$A" '{"lyrics":"la","tags":"x","continue_from":"0123456789abcdef0123456789abcdef"}' >/dev/null
expect_error 400 continue_from "continue_from unknown"
LONG=$(head -c 20000 /dev/zero | tr '\0' 'a')
req POST /api/generate "$A" "{\"lyrics\":\"$LONG\",\"tags\":\"x\"}" >/dev/null; expect_error 413 lyrics "lyrics too long"
HUGE=$(head -c 70000 /dev/zero | tr '\0' 'a')
req POST /api/generate "$A" "{\"lyrics\":\"$HUGE\",\"tags\":\"x\"}" >/dev/null; expect_error 413 null "body too large"

# ---- generate -> done ----
J1=$(req POST /api/generate "$A" "{\"lyrics\":\"[verse] neon harbour lights\",\"title\":\"Harbour Song\",$Q,\"seed\":7}" | jq -r .id)
expect_status 202 "generate"
check "generate body" jq -e '.status == "queued" and (.position|type) == "number"' "$T/body"
req GET /api/queue "$A" >/dev/null; expect_status 200 "queue"
check "queue lists the job (or it is already done)" bash -c "jq -e '.items|length <= 1' '$T/body' >/dev/null"
wait_status "$A" "$J1" done 60 && ok || bad "job 1 not done"
req GET "/api/history/$J1" "$A" >/dev/null
check "history item" jq -e '.title == "Harbour Song" and .lyrics == "[verse] neon harbour lights" and .params.seed == 7 and .duration_ms > 0 and .format == "wav" and (.audio_url|startswith("/api/audio/")) and .timings.total_s > 0 and .attempts == 1' "$T/body"
URL=$(jq -r .audio_url "$T/body")
req GET /api/status >/dev/null
check "model loaded after a job" jq -e '.model_loaded == true' "$T/body"

# ---- history + search ----
req GET /api/history "$A" >/dev/null; expect_status 200 "history"
check "history lists it" jq -e ".total == 1 and .items[0].id == \"$J1\" and .items[0].status == \"done\"" "$T/body"
req GET "/api/history?q=harb" "$A" >/dev/null; check "search by title prefix" jq -e ".total == 1 and .items[0].id == \"$J1\"" "$T/body"
req GET "/api/history?q=neon%20lights" "$A" >/dev/null; check "search by lyrics" jq -e '.total == 1' "$T/body"
req GET "/api/history?q=guitar" "$A" >/dev/null; check "search by tags" jq -e '.total == 1' "$T/body"
req GET "/api/history?q=polka" "$A" >/dev/null; check "search without hits" jq -e '.total == 0 and (.items|length) == 0' "$T/body"
req GET "/api/history?q=%22%29%28*%20OR%20NEAR" "$A" >/dev/null; expect_status 200 "search with FTS syntax characters"
req GET "/api/history?limit=0" "$A" >/dev/null; expect_error 400 limit "limit 0"
req GET "/api/history?offset=-1" "$A" >/dev/null; expect_error 400 offset "negative offset"
req GET /api/history "$B" >/dev/null; check "bob's history is empty" jq -e '.total == 0' "$T/body"

# ---- audio ----
curl -s -o "$T/full.wav" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $A" "$U/api/audio/$J1" >"$T/r"
check "audio with Bearer" grep -q '^200 audio/wav' "$T/r"
check "audio is a WAV" bash -c "head -c 4 '$T/full.wav' | grep -q RIFF"
SIZE=$(stat -c %s "$T/full.wav")
curl -s -D "$T/h" -o "$T/part" -H "Authorization: Bearer $A" -H "Range: bytes=10-109" "$U/api/audio/$J1"
check "range 206" grep -q "^HTTP/1.1 206" "$T/h"
check "range content-range" grep -qi "^Content-Range: bytes 10-109/$SIZE" "$T/h"
check "range bytes" bash -c "[ \$(stat -c %s '$T/part') = 100 ] && cmp -s '$T/part' <(tail -c +11 '$T/full.wav' | head -c 100)"
curl -s -D "$T/h" -o "$T/part" -H "Authorization: Bearer $A" -H "Range: bytes=-16" "$U/api/audio/$J1"
check "suffix range" bash -c "grep -q '^HTTP/1.1 206' '$T/h' && cmp -s '$T/part' <(tail -c 16 '$T/full.wav')"
curl -s -D "$T/h" -o /dev/null -H "Authorization: Bearer $A" -H "Range: bytes=$SIZE-" "$U/api/audio/$J1"
check "unsatisfiable range 416" grep -q "^HTTP/1.1 416" "$T/h"
curl -s -o "$T/signed.wav" -w '%{http_code}' "$U$URL" >"$T/r"
check "signed URL without a header" bash -c "[ \$(cat '$T/r') = 200 ] && cmp -s '$T/signed.wav' '$T/full.wav'"
BADSIG=$(echo "$URL" | sed 's/sig=\(.\)/sig=0\1/; s/sig=\(.\{64\}\).*/sig=\1/')
[ "$BADSIG" != "$URL" ] || BADSIG="${URL%?}0"
req GET "$BADSIG" >/dev/null; expect_error 401 null "tampered signature"
EXPURL=$(echo "$URL" | sed 's/exp=[0-9]*/exp=1000/')
req GET "$EXPURL" >/dev/null; expect_error 401 null "expired signed URL"
req GET "/api/audio/$J1" >/dev/null; expect_error 401 null "audio without credentials"

# ---- thumbnail: a PNG rendered with the song, same rules as the audio ----
req GET "/api/history/$J1" "$A" >/dev/null
TURL=$(jq -r .thumbnail_url "$T/body")
check "thumbnail_url in the item" bash -c "[[ '$TURL' == /api/thumbnail/$J1\?exp=*'&sig='* ]]"
req GET /api/history "$A" >/dev/null; check "thumbnail_url in the list" jq -e '.items[0].thumbnail_url | startswith("/api/thumbnail/")' "$T/body"
curl -s -o "$T/thumb.png" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $A" "$U/api/thumbnail/$J1" >"$T/r"
check "thumbnail with Bearer" grep -q '^200 image/png' "$T/r"
check "thumbnail is a PNG (signature)" bash -c "head -c 8 '$T/thumb.png' | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a'"
check "thumbnail is 640x240 RGB" bash -c "[ \"\$(od -An -tx1 -j16 -N10 '$T/thumb.png' | tr -d ' \n')\" = 00000280000000f00802 ]"
check "thumbnail file stored" test -s "$T/data/audio/$J1.png"
curl -s -o "$T/thumb2.png" -w '%{http_code}' "$U$TURL" >"$T/r"
check "signed thumbnail URL without a header" bash -c "[ \$(cat '$T/r') = 200 ] && cmp -s '$T/thumb.png' '$T/thumb2.png'"
req GET "/api/thumbnail/$J1" >/dev/null; expect_error 401 null "thumbnail without credentials"
req GET "/api/thumbnail/$J1" "$B" >/dev/null; expect_error 404 null "B: thumbnail with Bearer"
req GET "$(echo "$URL" | sed 's|/api/audio/|/api/thumbnail/|')" >/dev/null; expect_error 401 null "an audio signature does not open the thumbnail"
req GET "$(echo "$TURL" | sed 's|/api/thumbnail/|/api/audio/|')" >/dev/null; expect_error 401 null "a thumbnail signature does not open the audio"

# ---- isolation: bob gets 404 on each of alice's ids ----
req GET "/api/history/$J1" "$B" >/dev/null; expect_error 404 null "B: history item"
req DELETE "/api/history/$J1" "$B" >/dev/null; expect_error 404 null "B: delete history"
req DELETE "/api/queue/$J1" "$B" >/dev/null; expect_error 404 null "B: cancel"
req GET "/api/audio/$J1" "$B" >/dev/null; expect_error 404 null "B: audio with Bearer"
req GET "/api/thumbnail/$J1" "$B" >/dev/null; expect_error 404 null "B: thumbnail"
req POST /api/generate "$B" "{\"lyrics\":\"la\",$Q,\"continue_from\":\"$J1\"}" >/dev/null; expect_error 400 continue_from "B: continue A's song"
req GET "/api/history/zzz" "$A" >/dev/null; expect_error 404 null "malformed id"
# no HeartTranscriptor in this checkpoint, no OPENAI_API_KEY: 503 with a message
curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $A" -F "file=@$T/full.wav" "$U/api/transcribe" >"$T/status"
expect_error 503 null "transcribe without a transcription model"
req GET /api/transcribe "$A" >/dev/null; check "transcription list says unavailable" jq -e '.available == false and .items == []' "$T/body"

# ---- continue own song ----
J2=$(req POST /api/generate "$A" "{\"lyrics\":\"[chorus] more\",$Q,\"continue_from\":\"$J1\",\"seed\":8}" | jq -r .id)
expect_status 202 "continue"
wait_status "$A" "$J2" done 60 && ok || bad "continuation not done"
req GET "/api/history/$J2" "$A" >/dev/null
check "continuation is longer" jq -e ".duration_ms > 800 and .params.continue_from == \"$J1\"" "$T/body"

# ---- cancel: a running job (through the engine's abort) and a queued one ----
J3=$(req POST /api/generate "$A" '{"lyrics":"[verse] a long one","tags":"x","max_audio_length_ms":20000,"codec_steps":60,"format":"wav"}' | jq -r .id)
J4=$(req POST /api/generate "$A" "{\"lyrics\":\"[verse] queued\",$Q}" | jq -r .id)
wait_status "$A" "$J3" running 30 && ok || bad "long job not running"
req POST /api/generate "$A" "{\"lyrics\":\"[verse] one too many\",$Q}" >/dev/null
J5=$(jq -r .id "$T/body")
req POST /api/generate "$A" "{\"lyrics\":\"[verse] one too many\",$Q}" >/dev/null
expect_error 429 null "queue limit"
check "429 Retry-After" grep -qi "^Retry-After:" "$T/headers"
req GET /api/queue "$A" >/dev/null
check "queue shows the running job's progress" jq -e ".items[0].id == \"$J3\" and .items[0].status == \"running\" and (.items[0].stage|type) == \"string\" and (.items|length) == 3" "$T/body"
req GET /api/queue "$B" >/dev/null; check "bob's queue is empty" jq -e '.items == []' "$T/body"
T0=$(date +%s%N)
req DELETE "/api/queue/$J3" "$A" >/dev/null; expect_status 200 "cancel running"
check "cancel body" jq -e ".id == \"$J3\" and .status == \"cancelled\"" "$T/body"
req DELETE "/api/queue/$J4" "$A" >/dev/null; expect_status 200 "cancel queued"
req DELETE "/api/queue/$J3" "$A" >/dev/null; expect_error 409 null "cancel twice"
req DELETE "/api/queue/$J1" "$A" >/dev/null; expect_error 409 null "cancel a finished job"
# the worker is free again long before the cancelled job could have finished (60 codec steps)
for _ in $(seq 1 200); do
  s5=$(req GET "/api/history/$J5" "$A" | jq -r .status)
  [ "$s5" = running ] || [ "$s5" = done ] && break
  sleep 0.05
done
T1=$(date +%s%N)
check "the running job stopped early (abort): next job started after $(( (T1 - T0) / 1000000 )) ms" test $(( (T1 - T0) / 1000000 )) -lt 8000
wait_status "$A" "$J5" done 120 && ok || bad "job after the cancelled ones not done"
req GET "/api/history/$J3" "$A" >/dev/null; check "cancelled stays cancelled" jq -e '.status == "cancelled" and .audio_url == null' "$T/body"
check "no audio file of the cancelled job" bash -c "! ls '$T/data/audio/$J3'* 2>/dev/null | grep -q ."
check "no temporary files left" bash -c "[ -z \"\$(ls -A '$T/data/audio/tmp')\" ]"

# ---- delete ----
req DELETE "/api/history/$J5" "$A" >/dev/null; expect_status 204 "delete"
check "file removed" bash -c "! ls '$T/data/audio/$J5'* 2>/dev/null | grep -q ."
req GET "/api/history/$J5" "$A" >/dev/null; expect_error 404 null "deleted item"
req DELETE "/api/history/$J5" "$A" >/dev/null; expect_error 404 null "delete twice"

# ---- socket events ----
sleep 0.5
kill "$WSA" "$WSB" 2>/dev/null; wait "$WSA" "$WSB" 2>/dev/null
for ty in queued started progress audio finished cancelled; do
  check "alice's socket got '$ty'" grep -q "\"type\":\"$ty\"" "$T/ws_a.log"
done
check "alice's socket got live audio for job 1" grep -q "^BINARY $J1 0 [1-9]" "$T/ws_a.log"
check "bob's socket got none of alice's events" bash -c "! grep -qE '$J1|$J2|$J3|$J4|$J5' '$T/ws_b.log'"
check "bob's socket got no audio" bash -c "! grep -q BINARY '$T/ws_b.log'"

# ---- logout revokes the token; login throttling ----
req POST /api/auth/logout "$B" >/dev/null; expect_status 204 "logout"
req GET /api/auth/me "$B" >/dev/null; expect_error 401 null "token after logout"
for _ in 1 2 3; do req POST /api/auth/login "" '{"username":"bob","password":"not it at all"}' >/dev/null; done
req POST /api/auth/login "" '{"username":"bob","password":"battery staple"}' >/dev/null
expect_error 429 null "login lock-out (even with the right password)"
check "lock-out Retry-After" grep -qi "^Retry-After: [1-9]" "$T/headers"
req POST /api/auth/login "" '{"username":"alice","password":"correct horse"}' >/dev/null; expect_status 200 "other accounts still log in"

# ---- SIGTERM drain: the running job is aborted and queued again, without spending an attempt ----
J6=$(req POST /api/generate "$A" '{"lyrics":"[verse] drain","tags":"x","max_audio_length_ms":20000,"codec_steps":60,"format":"wav"}' | jq -r .id)
wait_status "$A" "$J6" running 30 && ok || bad "drain job not running"
kill -TERM "$SRV_PID"
wait "$SRV_PID"; rc=$?
SRV_PID=
check "SIGTERM: exit 0 (got $rc)" test "$rc" = 0
check "SIGTERM: logged" grep -q "SIGTERM: stopping" "$T/err.log"
check "no temporary files after the drain" bash -c "[ -z \"\$(ls -A '$T/data/audio/tmp')\" ]"
start_server
req GET "/api/history/$J6" "$A" >/dev/null
check "drained job queued again, attempts not spent" jq -e '.status == "queued" or .status == "running"' "$T/body"
check "JWT secret file is 0600" test "$(stat -c %a "$T/data/jwt_secret")" = 600
req DELETE "/api/queue/$J6" "$A" >/dev/null; expect_status 200 "cancel after restart (same secret: old token valid)"
kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_PID=
finish
