# tests/integration/lib.sh: helpers sourced by every integration test (bash only).
#
# A test script does:
#   . "$(dirname "$0")/lib.sh"
#   setup_db                  # its own database on $DIREKT_BACKEND (sqlite file or a new
#                             # PostgreSQL database), in its own temp dir
#   start_server [VAR=value…] [-- ARGS…]   # direkt serve on a free loopback port, waits /readyz
#   post_fixture message_text # signed webhook POST; sets HTTP_STATUS and HTTP_BODY
#   assert_eq "1" "$(sql "SELECT count(*) FROM messages")" "one message"
#   stop_server               # SIGTERM, waits, asserts exit code 0
#   finish                    # exit 0, or 1 when an assertion failed
#
# Environment (set by CMakeLists.txt): DIREKT_BIN, DIREKT_BACKEND (sqlite|postgres),
# DIREKT_FIXTURES (shared/fixtures), DIREKT_SOURCE (repo root); DIREKT_TEST_PG_URL (a libpq URL
# of a running server's "postgres" database; without it a private cluster is started).
# Only bash, curl, openssl, sqlite3 (also for JSON: json_get), psql, coreutils, sed, grep and
# awk are used. Traffic goes to 127.0.0.1 only.
# Failures are collected (the script goes on) and reported by finish and the exit trap, with
# the tail of every server log.

set -u -o pipefail

: "${DIREKT_BIN:?DIREKT_BIN must point to the direkt binary}"
: "${DIREKT_BACKEND:=sqlite}"
: "${DIREKT_SOURCE:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${DIREKT_FIXTURES:=$DIREKT_SOURCE/../shared/fixtures}"
IG_FIXTURES="$DIREKT_FIXTURES/instagram"
TEST_NAME=$(basename "$0" .sh)
PG_CLUSTER="$DIREKT_SOURCE/tests/support/pg-cluster"
TEST_SECRET=test-secret
TEST_VERIFY=test-verify

case "$DIREKT_BACKEND" in
sqlite | postgres) ;;
*)
    echo "$TEST_NAME: DIREKT_BACKEND must be sqlite or postgres (got $DIREKT_BACKEND)" >&2
    exit 2
    ;;
esac
[ -x "$DIREKT_BIN" ] || {
    echo "$TEST_NAME: $DIREKT_BIN is not an executable" >&2
    exit 2
}

# The settings of the environment that runs the tests must not leak into the servers.
for _v in $(compgen -e); do
    case "$_v" in
    DIREKT_BIN | DIREKT_BACKEND | DIREKT_FIXTURES | DIREKT_SOURCE | DIREKT_TEST_PG_URL | DIREKT_TEST_KEEP) ;;
    DIREKT_* | IG_* | DATABASE_URL | REDIS_URL | OPENAI_* | ANTHROPIC_* | CLAUDE_API_KEY | \
        LOCAL_LLM_* | ELASTICSEARCH_URL) unset "$_v" ;;
    esac
done
unset _v

TEST_TMP=$(mktemp -d "/tmp/direkt-it-${TEST_NAME#test_}.XXXXXX")
chmod 755 "$TEST_TMP" # a private PostgreSQL cluster below runs as user postgres when we are root
FAILURES=0
declare -A PROC_PID=()  # name -> pid of every direkt process started here
declare -A PROC_LOG=()  # name -> its log file
PG_DATABASES=()         # databases created on DIREKT_TEST_PG_URL, dropped at exit
PG_PRIVATE=()           # private clusters started here, stopped at exit
PORT=""
BASE_URL=""
API_TOKEN=""
HTTP_STATUS=""
HTTP_BODY=""
HTTP_BODY_FILE="$TEST_TMP/http_body"
HTTP_HEADERS_FILE="$TEST_TMP/http_headers"

log() {
    printf '[%s %s] %s\n' "$TEST_NAME/$DIREKT_BACKEND" "$(date +%H:%M:%S)" "$*"
}

fail() {
    FAILURES=$((FAILURES + 1))
    printf 'FAIL [%s/%s]: %s\n' "$TEST_NAME" "$DIREKT_BACKEND" "$*" >&2
}

# Prints why a test does not apply to this backend and ends it as passed.
skip() {
    echo "SKIP [$TEST_NAME/$DIREKT_BACKEND]: $*"
    exit 0
}

# ---- assertions (they record a failure and return 1; the script goes on) ----

assert_eq() { # EXPECTED GOT WHAT
    if [ "$1" == "$2" ]; then
        return 0
    fi
    fail "$3"$'\n'"    expected: [$1]"$'\n'"    got:      [$2]"
    return 1
}

assert_ne() { # UNEXPECTED GOT WHAT
    if [ "$1" != "$2" ]; then
        return 0
    fi
    fail "$3: got [$2]"
    return 1
}

assert_match() { # EXTENDED_REGEX GOT WHAT
    if [[ "$2" =~ $1 ]]; then
        return 0
    fi
    fail "$3"$'\n'"    expected to match: $1"$'\n'"    got: [$2]"
    return 1
}

assert_contains() { # NEEDLE HAYSTACK WHAT
    if [[ "$2" == *"$1"* ]]; then
        return 0
    fi
    fail "$3"$'\n'"    expected to contain: [$1]"$'\n'"    got: [$2]"
    return 1
}

assert_not_contains() { # NEEDLE HAYSTACK WHAT
    if [[ "$2" != *"$1"* ]]; then
        return 0
    fi
    fail "$3: [$1] should not appear"
    return 1
}

assert_status() { # EXPECTED_STATUS WHAT (against the last HTTP_STATUS)
    assert_eq "$1" "$HTTP_STATUS" "$2 (HTTP status; body: ${HTTP_BODY:0:300})"
}

# The last response body is the error format {"error":{"code":"…","message":"…"}}.
assert_error_body() { # WHAT [EXPECTED_CODE]
    local code msg
    code=$(json_get "$HTTP_BODY_FILE" '$.error.code')
    msg=$(json_get "$HTTP_BODY_FILE" '$.error.message')
    if [ "$(json_get "$HTTP_BODY_FILE" "json_type(\$.error.code)")" != text ] || [ -z "$code" ] ||
        [ "$(json_get "$HTTP_BODY_FILE" "json_type(\$.error.message)")" != text ] ||
        [ -z "$msg" ]; then
        fail "$1: error body is not {\"error\":{\"code\",\"message\"}}: ${HTTP_BODY:0:300}"
        return 1
    fi
    if [ $# -ge 2 ]; then
        assert_eq "$2" "$code" "$1: error code"
    fi
}

# ---- JSON, through sqlite3's JSON functions on a file (no jq needed) ----

# json_get FILE PATH: json_extract(file, PATH); PATH may also be "json_type($.x)",
# "json_array_length($.data)" or "json_valid": any of these functions over the file.
json_get() {
    local f=$1 p=$2 expr
    case "$p" in
    json_valid) expr="json_valid(CAST(readfile('$f') AS TEXT))" ;;
    json_*\(*\))
        local fn=${p%%(*} arg=${p#*(}
        arg=${arg%\)}
        expr="$fn(CAST(readfile('$f') AS TEXT), '$arg')"
        ;;
    *) expr="json_extract(CAST(readfile('$f') AS TEXT), '$p')" ;;
    esac
    sqlite3 -batch :memory: "SELECT CASE WHEN json_valid(CAST(readfile('$f') AS TEXT)) THEN $expr END" 2>/dev/null
}

# json_list FILE PATH [FIELD]: the items of the array at PATH (their FIELD when given), one a line.
json_list() {
    local f=$1 p=$2 field=${3:-}
    local v="value"
    [ -n "$field" ] && v="json_extract(value, '$.$field')"
    sqlite3 -batch :memory: "SELECT $v FROM json_each(CAST(readfile('$f') AS TEXT), '$p')" 2>/dev/null
}

# json_of STRING PATH: like json_get on a string.
json_of() {
    local f
    f=$(mktemp "$TEST_TMP/json.XXXXXX")
    printf '%s' "$1" >"$f"
    json_get "$f" "$2"
    rm -f "$f"
}

# ---- databases ----

# Replaces the database name in a libpq URL (postgresql://…/NAME?params).
pg_url_with_db() { # URL DB
    local base=${1%%\?*} query=""
    [ "$base" != "$1" ] && query="?${1#*\?}"
    echo "${base%/*}/$2$query"
}

# pg_start_private DIR: starts a private PostgreSQL cluster in DIR (stopped at exit) and sets
# PG_PRIVATE_URL to its postgres database. Not in a subshell: it records the cluster.
pg_start_private() {
    "$PG_CLUSTER" start "$1" >&2 || return 1
    PG_PRIVATE+=("$1")
    PG_PRIVATE_URL=$("$PG_CLUSTER" url "$1" postgres)
}

# setup_db [NAME]: a new empty database for this test; sets DATABASE_URL (and DB_FILE on
# SQLite, PG_DB on PostgreSQL). On PostgreSQL the database is made on ADMIN_URL, by default
# DIREKT_TEST_PG_URL or else a private cluster; it is dropped at exit.
setup_db() {
    local name=${1:-main}
    if [ "$DIREKT_BACKEND" == sqlite ]; then
        DB_FILE="$TEST_TMP/$name.db"
        rm -f "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm"
        DATABASE_URL="sqlite:$DB_FILE"
    else
        if [ -z "${ADMIN_URL:-}" ]; then
            if [ -n "${DIREKT_TEST_PG_URL:-}" ]; then
                ADMIN_URL=$DIREKT_TEST_PG_URL
            else # no shared server: a private cluster for this test
                pg_start_private "$TEST_TMP/pg-shared" || {
                    echo "$TEST_NAME: could not start PostgreSQL" >&2
                    exit 1
                }
                ADMIN_URL=$PG_PRIVATE_URL
            fi
        fi
        local admin=$ADMIN_URL
        PG_DB="direkt_it_${TEST_NAME#test_}_${name}_$$_$RANDOM"
        psql -X -q -v ON_ERROR_STOP=1 -d "$admin" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || {
            echo "$TEST_NAME: could not create database $PG_DB" >&2
            exit 1
        }
        PG_DATABASES+=("$admin|$PG_DB")
        DATABASE_URL=$(pg_url_with_db "$admin" "$PG_DB")
    fi
    export DATABASE_URL
}

# sql "QUERY": runs on the current database and prints rows as a|b|c, one per line, NULL as
# the empty string (sqlite3 list mode and psql -At agree on this).
sql() {
    if [ "$DIREKT_BACKEND" == sqlite ]; then
        sqlite3 -batch -bail -cmd '.timeout 10000' "$DB_FILE" "$1"
    else
        psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1"
    fi
}

# wait_for "SQL" EXPECTED [TIMEOUT_S]: polls until the query prints EXPECTED. Returns 1 (after
# recording a failure) when it does not within the timeout (default 20 s).
wait_for() {
    local q=$1 want=$2 t=${3:-20} got="" end
    end=$(($(date +%s%N) / 1000000 + t * 1000))
    while :; do
        got=$(sql "$q" 2>&1)
        [ "$got" == "$want" ] && return 0
        [ $(($(date +%s%N) / 1000000)) -ge $end ] && break
        sleep 0.1
    done
    fail "wait_for timed out after ${t}s: $q"$'\n'"    expected: [$want]"$'\n'"    got:      [$got]"
    return 1
}

# Waits until no job is queued or running (every debounced reply has run).
settle_jobs() { # [TIMEOUT_S]
    wait_for "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')" 0 "${1:-30}"
}

# Every customer message is answered by exactly one bot reply (its id in one reply's
# metadata.in_reply_to): the "no customer gets a reply twice" rule, and nobody forgotten.
assert_each_answered_once() { # WHAT [EXTRA_SQL_CONDITION_ON_m]
    local cond=${2:-TRUE}
    local q="SELECT count(*) FROM messages m WHERE m.sender_type = 'user' AND ($cond) AND (SELECT count(*) FROM messages b WHERE b.sender_type = 'bot' AND b.conversation_id = m.conversation_id AND CAST(b.metadata AS TEXT) LIKE '%' || CAST(m.id AS TEXT) || '%') <> 1"
    local n
    n=$(sql "$q")
    if [ "$n" != 0 ]; then
        fail "$1: $n customer message(s) not answered exactly once:"$'\n'"$(sql "SELECT m.instagram_mid, (SELECT count(*) FROM messages b WHERE b.sender_type = 'bot' AND b.conversation_id = m.conversation_id AND CAST(b.metadata AS TEXT) LIKE '%' || CAST(m.id AS TEXT) || '%') FROM messages m WHERE m.sender_type = 'user' AND ($cond) LIMIT 20")"
        return 1
    fi
}

# ---- processes ----

now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

port_free() { # PORT: true when nothing listens on 127.0.0.1:PORT
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# direkt ARGS…: runs the binary once in the test's environment (database, secrets); for
# one-shot commands. VAR=value words before the arguments are added to the environment.
direkt() {
    local envs=()
    while [ $# -gt 0 ] && [[ "$1" =~ ^[A-Z_][A-Z0-9_]*= ]]; do
        envs+=("$1")
        shift
    done
    env DATABASE_URL="$DATABASE_URL" IG_APP_SECRET="$TEST_SECRET" IG_VERIFY_TOKEN="$TEST_VERIFY" \
        DIREKT_LOG=warn "${envs[@]}" "$DIREKT_BIN" "$@"
}

# start_fake NAME SCRIPT [ARGS…]: starts "node tests/fake/SCRIPT --port 0 --port-file F ARGS…"
# in the background (killed at exit, its log in $TEST_TMP/NAME.log) and sets FAKE_URL to its base
# URL. Returns 1 after recording a failure when node is missing or the fake does not start.
start_fake() {
    local name=$1 script=$2 pf="$TEST_TMP/$1.port"
    shift 2
    command -v node >/dev/null || {
        fail "node is not installed (scripts/install-deps installs it)"
        return 1
    }
    rm -f "$pf"
    node "$DIREKT_SOURCE/tests/fake/$script" --port 0 --port-file "$pf" "$@" \
        >"$TEST_TMP/$name.log" 2>&1 &
    PROC_PID[$name]=$!
    PROC_LOG[$name]="$TEST_TMP/$name.log"
    for _ in $(seq 100); do
        [ -s "$pf" ] && break
        sleep 0.1
    done
    [ -s "$pf" ] || {
        fail "$script did not start: $(cat "$TEST_TMP/$name.log")"
        return 1
    }
    FAKE_URL="http://127.0.0.1:$(cat "$pf")"
}

# start_proc NAME [VAR=value…] ARGS…: starts "$DIREKT_BIN ARGS…" in the background with the
# test environment (listen address on $PORT, database, secrets, debounce 300 ms, log info);
# VAR=value words override it. The log goes to $TEST_TMP/NAME.log (appended).
start_proc() {
    local name=$1
    shift
    local envs=()
    while [ $# -gt 0 ] && [[ "$1" =~ ^[A-Z_][A-Z0-9_]*= ]]; do
        envs+=("$1")
        shift
    done
    local logf="$TEST_TMP/$name.log"
    local names=("${envs[@]%%=*}") # names only: values may be secrets
    echo "---- start $(date +%T.%N) $* ${names[*]}" >>"$logf"
    env DIREKT_LISTEN="127.0.0.1:${PORT:-0}" DATABASE_URL="$DATABASE_URL" \
        IG_APP_SECRET="$TEST_SECRET" IG_VERIFY_TOKEN="$TEST_VERIFY" DIREKT_REPLY_DEBOUNCE_MS=300 \
        DIREKT_LOG=info "${envs[@]}" "$DIREKT_BIN" "$@" >>"$logf" 2>&1 &
    PROC_PID[$name]=$!
    PROC_LOG[$name]=$logf
}

proc_alive() { # NAME
    local pid=${PROC_PID[$1]:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# wait_ready [NAME] [TIMEOUT_S]: waits until /readyz answers 200 while NAME is alive.
wait_ready() {
    local name=${1:-server} t=${2:-30} end
    end=$(($(now_ms) + t * 1000))
    while [ "$(now_ms)" -lt $end ]; do
        proc_alive "$name" || return 2
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/readyz")" == 200 ]; then
            proc_alive "$name" && return 0
            return 2
        fi
        sleep 0.05
    done
    return 1
}

# start_server [NAME=server] [VAR=value…] [-- ARGS…]: "direkt serve ARGS…" on a free port
# (retried when another process takes the port first); sets PORT and BASE_URL. A test that
# restarts its server keeps its port while that port is free.
start_server() {
    local name=server
    if [ $# -gt 0 ] && [[ ! "$1" =~ = ]] && [ "$1" != -- ]; then
        name=$1
        shift
    fi
    local envs=() args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    [ "${1:-}" == -- ] && shift
    args=("$@")
    local attempt rc
    for attempt in 1 2 3 4 5; do
        if [ -z "$PORT" ] || ! port_free "$PORT"; then
            PORT=$(pick_port) || {
                fail "no free port found"
                return 1
            }
        fi
        BASE_URL="http://127.0.0.1:$PORT"
        start_proc "$name" "${envs[@]}" serve "${args[@]}"
        wait_ready "$name" 60
        rc=$?
        if [ $rc -eq 0 ]; then
            return 0
        fi
        if [ $rc -eq 2 ] && grep -q "could not listen" "${PROC_LOG[$name]}"; then
            wait "${PROC_PID[$name]}" 2>/dev/null
            unset "PROC_PID[$name]"
            PORT=""
            continue # the port was taken between our check and the bind: another one
        fi
        break
    done
    fail "server $name did not become ready on port $PORT"
    kill -9 "${PROC_PID[$name]}" 2>/dev/null
    wait "${PROC_PID[$name]}" 2>/dev/null
    unset "PROC_PID[$name]"
    return 1
}

# signal_proc NAME SIGNAL: sends a signal, does not wait.
signal_proc() {
    local pid=${PROC_PID[$1]:-}
    [ -n "$pid" ] && kill -s "$2" "$pid" 2>/dev/null
}

# stop_proc NAME [SIGNAL=TERM] [EXPECTED_EXIT=0] [TIMEOUT_S=60]: signals (unless SIGNAL is
# "none": it was sent already), waits, checks the exit code. Sets LAST_EXIT.
stop_proc() {
    local name=$1 sig=${2:-TERM} want=${3:-0} t=${4:-60}
    local pid=${PROC_PID[$name]:-}
    LAST_EXIT=""
    if [ -z "$pid" ]; then
        fail "stop_proc $name: not started"
        return 1
    fi
    [ "$sig" == none ] || kill -s "$sig" "$pid" 2>/dev/null
    local end=$(($(now_ms) + t * 1000))
    while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt $end ]; do
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name (pid $pid) did not exit within ${t}s of SIG$sig: killed"
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    LAST_EXIT=$?
    unset "PROC_PID[$name]"
    assert_eq "$want" "$LAST_EXIT" "$name exit code after SIG$sig"
}

stop_server() { # [NAME=server] [SIGNAL=TERM]
    stop_proc "${1:-server}" "${2:-TERM}" 0
}

# kill -9, no checks.
kill_proc() { # NAME
    local pid=${PROC_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PROC_PID[$1]"
}

# ---- HTTP ----

# http METHOD PATH [CURL_ARGS…]: sets HTTP_STATUS ("000" when the connection failed) and
# HTTP_BODY (also in $HTTP_BODY_FILE); the response headers are in $HTTP_HEADERS_FILE.
http() {
    local method=$1 path=$2
    shift 2
    : >"$HTTP_BODY_FILE"
    : >"$HTTP_HEADERS_FILE"
    HTTP_STATUS=$(curl -s -o "$HTTP_BODY_FILE" -D "$HTTP_HEADERS_FILE" -w '%{http_code}' \
        --max-time 30 -X "$method" "$@" "$BASE_URL$path" 2>/dev/null)
    [ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
    HTTP_BODY=$(cat "$HTTP_BODY_FILE")
}

# header NAME: the value of a header of the last response (case-insensitive name).
header() {
    tr -d '\r' <"$HTTP_HEADERS_FILE" | awk -v n="$1" \
        'tolower(substr($0, 1, length(n) + 1)) == tolower(n ":") { sub(/^[^:]*: */, ""); v = $0 } END { print v }'
}

# sign FILE: prints "sha256=<hex HMAC-SHA256 of the file's bytes keyed with the app secret>".
sign() { # FILE [SECRET]
    local hex
    hex=$(openssl dgst -sha256 -hmac "${2:-$TEST_SECRET}" -hex <"$1" | awk '{print $NF}')
    echo "sha256=$hex"
}

# post_file FILE [CURL_ARGS…]: a correctly signed webhook POST of the file's exact bytes.
# FILE.sig, when present (presign), is the signature.
post_file() {
    local f=$1 sig
    shift
    if [ -f "$f.sig" ]; then
        read -r sig <"$f.sig"
    else
        sig=$(sign "$f")
    fi
    http POST /webhooks/instagram/messages -H "X-Hub-Signature-256: $sig" \
        -H 'Content-Type: application/json' --data-binary "@$f" "$@"
}

# post_fixture NAME: posts shared/fixtures/instagram/NAME(.json), signed.
post_fixture() {
    local f="$IG_FIXTURES/${1%.json}.json"
    [ -f "$f" ] || {
        fail "no fixture $f"
        return 1
    }
    post_file "$f"
}

# post_json 'JSON': posts a body given inline, signed.
post_json() {
    local f
    f=$(mktemp "$TEST_TMP/body.XXXXXX")
    printf '%s' "$1" >"$f"
    post_file "$f"
    rm -f "$f"
}

# post_async FILE OUT [CURL_ARGS…]: starts a signed POST of FILE in the background; when it
# ends, OUT holds "STATUS CURL_EXIT BODY" (status 000 when no response came; curl exit 7 is
# "connection refused"), and OUT.end the time it ended (ms). Its pid is appended to ASYNC_PIDS.
# FILE.sig, when present (presign), is the signature.
ASYNC_PIDS=()
post_async() {
    local f=$1 out=$2 sig
    shift 2
    if [ -f "$f.sig" ]; then
        read -r sig <"$f.sig"
    else
        sig=$(sign "$f")
    fi
    (
        st=$(curl -s -o "$out.body" -w '%{http_code}' --max-time 60 -X POST \
            -H "X-Hub-Signature-256: $sig" -H 'Content-Type: application/json' \
            --data-binary "@$f" "$@" "$BASE_URL/webhooks/instagram/messages" 2>/dev/null)
        ex=$?
        echo "${st:-000} $ex $(cat "$out.body" 2>/dev/null)" >"$out"
        echo $(($(date +%s%N) / 1000000)) >"$out.end"
    ) &
    ASYNC_PIDS+=($!)
}

# presign FILE…: stores each file's signature in FILE.sig, for post_async to launch quickly.
presign() {
    local f
    for f in "$@"; do
        sign "$f" >"$f.sig"
    done
}

# Waits for every post_async started so far.
wait_async() {
    local p
    for p in "${ASYNC_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    ASYNC_PIDS=()
}

# message_body CUSTOMER MID TEXT [TIME_MS]: a one-message delivery like message_text.json.
message_body() {
    local t=${4:-1764000000321}
    printf '{"object": "instagram", "entry": [{"id": "17841405822304914", "time": %s, "messaging": [{"sender": {"id": "%s"}, "recipient": {"id": "17841405822304914"}, "timestamp": %s, "message": {"mid": "%s", "text": "%s"}}]}]}' \
        "$t" "$1" "$t" "$2" "$3"
}

# The API token (made once per database with `direkt token create --name test`).
api_token() {
    if [ -z "$API_TOKEN" ]; then
        API_TOKEN=$(direkt token create --name test 2>>"$TEST_TMP/commands.log")
    fi
    echo "$API_TOKEN"
}

# api METHOD PATH [JSON_BODY]: an authorised API call; sets HTTP_STATUS and HTTP_BODY.
api() {
    local method=$1 path=$2 tok
    api_token >/dev/null # in this shell, so that the token is made once, not per call
    tok=$API_TOKEN
    if [ $# -ge 3 ]; then
        http "$method" "$path" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
            --data-binary "$3"
    else
        http "$method" "$path" -H "Authorization: Bearer $tok"
    fi
}

# ---- end of a test ----

print_logs() {
    local name f
    for name in "${!PROC_LOG[@]}"; do
        f=${PROC_LOG[$name]}
        [ -f "$f" ] || continue
        echo "---- last lines of $name log ($f)" >&2
        tail -n 40 "$f" >&2
    done
    for f in "$TEST_TMP"/pg*/postgres.log; do
        [ -f "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 10 "$f" >&2
    done
}

cleanup() {
    local rc=$?
    local name entry
    for name in "${!PROC_PID[@]}"; do
        kill -9 "${PROC_PID[$name]}" 2>/dev/null
        wait "${PROC_PID[$name]}" 2>/dev/null
    done
    [ $FAILURES -gt 0 ] && rc=1
    if [ $rc -ne 0 ]; then
        print_logs
    fi
    for entry in "${PG_DATABASES[@]}"; do
        psql -X -q -d "${entry%%|*}" -c "DROP DATABASE IF EXISTS \"${entry#*|}\" WITH (FORCE)" \
            >/dev/null 2>&1
    done
    for entry in "${PG_PRIVATE[@]}"; do
        "$PG_CLUSTER" stop "$entry" >/dev/null 2>&1
    done
    if [ $rc -ne 0 ] && [ -n "${DIREKT_TEST_KEEP:-}" ]; then
        echo "kept $TEST_TMP" >&2
    else
        rm -rf "$TEST_TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    if [ $FAILURES -gt 0 ]; then
        echo "$TEST_NAME on $DIREKT_BACKEND: $FAILURES failure(s)" >&2
        exit 1
    fi
    echo "$TEST_NAME on $DIREKT_BACKEND: passed"
    exit 0
}
