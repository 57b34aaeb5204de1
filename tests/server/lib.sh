# Helpers for the server tests (sourced): a demo checkpoint, a server on a free loopback port
# with a temporary data folder, curl wrappers and checks. Needs curl and jq (install-deps.sh).
command -v curl >/dev/null && command -v jq >/dev/null || { echo "SKIP: curl and jq are needed"; exit 77; }
T=$(mktemp -d)
SRV_PID=
cleanup() { [ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # check "what" condition-command...
  local what=$1; shift
  if "$@" >/dev/null; then ok; else bad "$what"; fi
}
finish() {
  echo "server tests: $pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}

make_ckpt() {
  "$CLI" make-checkpoint --flavor demo --out "$T/ck" --seed 3 --parts "${CKPT_PARTS:-lm,codec,tokenizer}" >/dev/null || { echo "make-checkpoint failed"; exit 1; }
}

# start_server [extra options...]: sets SRV_PID, PORT, U
start_server() {
  : >"$T/out.log"
  "$CLI" serve --model-path "$T/ck" --version demo --data "$T/data" --port 0 --threads 2 "$@" >"$T/out.log" 2>>"$T/err.log" &
  SRV_PID=$!
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/out.log")
    [ -n "$PORT" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || { echo "server died:"; cat "$T/err.log"; exit 1; }
    sleep 0.05
  done
  [ -n "$PORT" ] || { echo "server did not start"; cat "$T/err.log"; exit 1; }
  U=http://127.0.0.1:$PORT
}

# req METHOD PATH [TOKEN] [BODY]: prints the body, the status in $T/status, headers in $T/headers
req() {
  local m=$1 p=$2 tok=${3:-} body=${4:-}
  local args=(-s -X "$m" -D "$T/headers" -o "$T/body" -w '%{http_code}')
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "$U$p" >"$T/status"
  cat "$T/body"
}
status() { cat "$T/status"; }
# expect_status CODE what: the last request's status
expect_status() { local s; s=$(status); [ "$s" = "$1" ] && ok || bad "$2: status $s, want $1: $(head -c 300 "$T/body")"; }
# expect_error CODE FIELD what: status and the error body's field ("null" for none)
expect_error() {
  local s f; s=$(status); f=$(jq -r '.error.field' "$T/body" 2>/dev/null)
  if [ "$s" = "$1" ] && [ "$f" = "$2" ] && jq -e '.error.code and .error.message' "$T/body" >/dev/null 2>&1; then ok
  else bad "$3: status $s field $f, want $1 $2: $(head -c 300 "$T/body")"; fi
}
login() { req POST /api/auth/login "" "{\"username\":\"$1\",\"password\":\"$2\"}" | jq -r .access_token; }
# wait_status TOKEN ID STATUS [seconds]
wait_status() {
  local s=""
  for _ in $(seq 1 $((${4:-60} * 10))); do
    s=$(req GET "/api/history/$2" "$1" | jq -r .status)
    [ "$s" = "$3" ] && return 0
    case "$s" in done|failed|cancelled) [ "$s" != "$3" ] && break ;; esac
    sleep 0.1
  done
  echo "job $2: status '$s', want '$3': $(cat "$T/body")"
  return 1
}
