#!/usr/bin/env bash
# Load benchmark of `heartmula serve` (not a test: bounded in time and count, loopback only).
#  1. While a song is being generated: 200 concurrent keep-alive connections for 20 s on
#     /api/status and /api/history (wrk, a Lua script alternating the two, with a bearer token);
#     reports requests/s, errors (socket errors + non-2xx) and p50 / p90 / p99 latency.
#  2. 100 WebSocket clients (5 users x 20 sockets): every user queues one song; each socket must
#     get all of its user's events (started, progress, audio, the live-audio binary frames,
#     finished) and none of any other user's.
# Needs: a built tree (heartmula, server_ws_client), curl, jq, wrk (scripts/install-deps.sh --bench).
# Usage: scripts/bench_serve.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -u
BUILD=${1:-build}
SECS=${2:-20}
CONNS=${3:-200}
CLI=$BUILD/bin/heartmula
WS=$BUILD/tests/server_ws_client
for x in "$CLI" "$WS"; do [ -x "$x" ] || { echo "bench_serve: $x not built (make build)"; exit 2; }; done
for t in curl jq wrk; do command -v $t >/dev/null || { echo "bench_serve: needs $t (bash scripts/install-deps.sh --bench)"; exit 2; }; done
T=$(mktemp -d)
SRV=
cleanup() { [ -n "$SRV" ] && kill -TERM "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 5 >/dev/null || exit 1
# each keep-alive connection and each WebSocket holds one civetweb thread
"$CLI" serve --model-path "$T/ck" --version demo --data "$T/data" --port 0 --http-threads $((CONNS + 120)) \
  --max-queued 20 >"$T/out.log" 2>"$T/err.log" &
SRV=$!
for _ in $(seq 1 200); do
  PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/out.log"); [ -n "$PORT" ] && break; sleep 0.05
done
[ -n "$PORT" ] || { cat "$T/err.log"; exit 1; }
U=http://127.0.0.1:$PORT
j() { curl -s -X "$1" ${3:+-H "Authorization: Bearer $3"} ${4:+-H 'Content-Type: application/json' --data-binary "$4"} "$U$2"; }
token() {
  j POST /api/auth/register "" "{\"username\":\"$1\",\"email\":\"$1@example.org\",\"password\":\"bench password\"}" >/dev/null
  j POST /api/auth/login "" "{\"username\":\"$1\",\"password\":\"bench password\"}" | jq -r .access_token
}
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. HTTP under load while a song is made ----
A=$(token loader)
FIRST=$(j POST /api/generate "$A" '{"lyrics":"[verse] history row","tags":"pop","max_audio_length_ms":800,"codec_steps":1,"format":"wav"}' | jq -r .id)
for _ in $(seq 1 600); do [ "$(j GET "/api/history/$FIRST" "$A" | jq -r .status)" = done ] && break; sleep 0.1; done
LONG=$(j POST /api/generate "$A" '{"lyrics":"[verse] a long song under load","tags":"rock","max_audio_length_ms":60000,"codec_steps":30,"format":"wav"}' | jq -r .id)
for _ in $(seq 1 600); do [ "$(j GET "/api/history/$LONG" "$A" | jq -r .status)" = running ] && break; sleep 0.1; done
# more rows for the history page (queued behind the long song; cancelled afterwards)
for i in $(seq 1 18); do
  j POST /api/generate "$A" "{\"lyrics\":\"[verse] history row $i\",\"tags\":\"pop\",\"max_audio_length_ms\":800,\"format\":\"wav\"}" >/dev/null
done
cat >"$T/mix.lua" <<LUA
local n = 0
wrk.headers["Authorization"] = "Bearer $A"
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format("GET", "/api/history?limit=20") end
  return wrk.format("GET", "/api/status")
end
LUA
echo "wrk: $CONNS connections, $SECS s, /api/status + /api/history (alternating), job $LONG: $(j GET "/api/history/$LONG" "$A" | jq -r .status)"
wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency -s "$T/mix.lua" "$U" >"$T/wrk.log" 2>&1
cat "$T/wrk.log"
after=$(j GET "/api/history/$LONG" "$A" | jq -r '.status + " " + ((.progress.stage // "") + " " + ((.progress.done // 0)|tostring) + "/" + ((.progress.total // 0)|tostring))')
echo "the song during the load: $after (generation ran the whole time: it must still be running or done)"
sockerr=$(sed -n 's/.*Socket errors: \(.*\)/\1/p' "$T/wrk.log")
non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$T/wrk.log")
p50=$(awk '/Latency Distribution/{f=1} f && $1=="50%"{print $2}' "$T/wrk.log")
p90=$(awk '/Latency Distribution/{f=1} f && $1=="90%"{print $2}' "$T/wrk.log")
p99=$(awk '/Latency Distribution/{f=1} f && $1=="99%"{print $2}' "$T/wrk.log")
rps=$(sed -n 's/^Requests\/sec: *//p' "$T/wrk.log")
echo "RESULT http: ${rps} req/s, p50 $p50, p90 $p90, p99 $p99, socket errors: ${sockerr:-none}, non-2xx: ${non2xx:-0}"
j DELETE "/api/queue/$LONG" "$A" >/dev/null
for id in $(j GET /api/queue "$A" | jq -r '.items[].id'); do j DELETE "/api/queue/$id" "$A" >/dev/null; done

# ---- 2. 100 WebSocket clients, 5 users x 20 ----
NU=5; PER=20
declare -a TOK
for u in $(seq 1 $NU); do TOK[$u]=$(token "ws$u"); done
for u in $(seq 1 $NU); do
  for s in $(seq 1 $PER); do
    mode=msg; [ $((s % 2)) = 0 ] && mode=query
    "$WS" "$PORT" "${TOK[$u]}" $mode 240 1 >"$T/ws_${u}_$s.log" 2>&1 &
  done
done
# every socket authenticated before the jobs are queued
for _ in $(seq 1 400); do
  n=$(cat "$T"/ws_*.log 2>/dev/null | grep -c '"type":"authenticated"'); [ "$n" -ge $((NU * PER)) ] && break; sleep 0.05
done
echo "websocket: $n of $((NU * PER)) sockets authenticated"
declare -a JOB
t0=$(date +%s)
for u in $(seq 1 $NU); do
  JOB[$u]=$(j POST /api/generate "${TOK[$u]}" "{\"lyrics\":\"[verse] user $u\",\"tags\":\"pop\",\"max_audio_length_ms\":800,\"codec_steps\":1,\"format\":\"wav\"}" | jq -r .id)
done
wait_ws() { for p in $(jobs -p); do [ "$p" = "$SRV" ] || wait "$p"; done; }
wait_ws
t1=$(date +%s)
bad=0; complete=0; foreign=0
for u in $(seq 1 $NU); do
  ref=""
  for s in $(seq 1 $PER); do
    f="$T/ws_${u}_$s.log"
    mine=${JOB[$u]}
    ok=1
    for ty in started progress audio finished; do grep -q "\"type\":\"$ty\",\"id\":\"$mine\"" "$f" || ok=0; done
    grep -q "^BINARY $mine 0 [1-9]" "$f" || ok=0
    for v in $(seq 1 $NU); do [ "$v" = "$u" ] && continue; grep -q "${JOB[$v]}" "$f" && foreign=$((foreign + 1)); done
    # the same events as the user's other sockets (types and ids, in order)
    sig=$(grep -o '"type":"[a-z]*","id":"[0-9a-f]*"' "$f" | grep -v '"type":"progress"' | md5sum)
    [ -z "$ref" ] && ref=$sig
    [ "$sig" = "$ref" ] || ok=0
    [ $ok = 1 ] && complete=$((complete + 1)) || { bad=$((bad + 1)); echo "incomplete: user $u socket $s"; }
  done
done
echo "RESULT websocket: $((NU * PER)) clients, $NU users: $complete got all of their own events, $bad incomplete, $foreign saw another user's job; $NU songs in $((t1 - t0)) s"
[ "${sockerr:-}" = "" ] && [ "${non2xx:-0}" = 0 ] && [ $bad = 0 ] && [ $foreign = 0 ]
