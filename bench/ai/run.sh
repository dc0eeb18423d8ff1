#!/usr/bin/env bash
# bench/ai/run.sh: the AI router and LLM replies, against the fake LLM (tests/fake/fake_llm.mjs).
#
#   bench/ai/run.sh [--backend sqlite|postgres|both] [--n "1000 2000"] [--runs 3]
#                   [--mode auto|single|split|both] [--only replies|overhead|ttft]
#
# replies   For each backend, mode, N and run: a fresh database and fresh direkt processes with
#           DIREKT_WORKERS=2, OPENAI_BASE_URL = the fake answering after FAKE_DELAY_MS = 1000 ms,
#           DIREKT_AI_LOCAL_THRESHOLDS=intent=0 (only the reply call is made) and
#           DIREKT_REPLY_DEBOUNCE_MS=0. Mode "single": one `direkt serve` (the embedded mode:
#           webhooks, workers, scheduler) is measured; mode "split": `direkt serve --role api`
#           takes the webhooks and one `direkt worker` is measured. "auto" (the default) is
#           single on SQLite (separate worker processes are meant for PostgreSQL: SQLite
#           serialises their writes through its busy handler) and split on PostgreSQL.
#           bench_ai_replies posts N signed webhooks from N different senders at once and
#           samples until N bot replies are pending_send: time to all answered, replies/s, the
#           fake's peak of calls in flight, the process's RSS (VmHWM) and threads, CPU per
#           reply, ai_calls latency. The processes must then stop with exit code 0 on SIGTERM.
# overhead  bench_router_overhead against a fake answering at once: sequential latency of a call
#           through the router vs. ai_http_submit directly, and throughput with 200 in flight;
#           then, against a fake answering after 3 s, the RSS per call of HOLD calls in flight.
# ttft      For each backend: `direkt serve` (all roles) in front of the fake; bench_ai_ttft
#           streams the same request from the fake and through /api/v1/ai/chat-completion.
#
# Prints one line per run and tables of medians; raw JSON lines go to OUT_DIR/ai-<stamp>.jsonl.
# Exit code 0 when every run passed (all webhooks acknowledged, all N answered by the LLM, no
# failed call, clean stops), 1 otherwise. Environment: BUILD_DIR (build-bench), OUT_DIR
# (bench/out), SKIP_BUILD=1, FAKE_DELAY_MS (1000), WORKERS (2), OVERHEAD_CALLS (2000),
# CONCURRENCY (200), TPUT_CALLS (20000), HOLD (1000), TTFT_REQUESTS (300), STREAM_DELAY_MS (0).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
FIXTURES=${DIREKT_FIXTURES:-$(cd "$ROOT/.." && pwd)/shared/fixtures}
FAKE_DELAY_MS=${FAKE_DELAY_MS:-1000}
WORKERS=${WORKERS:-2}
OVERHEAD_CALLS=${OVERHEAD_CALLS:-2000}
CONCURRENCY=${CONCURRENCY:-200}
TPUT_CALLS=${TPUT_CALLS:-20000}
TTFT_REQUESTS=${TTFT_REQUESTS:-300}
HOLD=${HOLD:-1000}
STREAM_DELAY_MS=${STREAM_DELAY_MS:-0}
SECRET=bench-secret
TOKEN=bench-token
PG_CLUSTER=$ROOT/tests/support/pg-cluster

BACKENDS=(sqlite postgres)
NS="1000 2000"
RUNS=3
PARTS="replies overhead ttft"
MODE=auto

usage() {
    echo "usage: bench/ai/run.sh [--backend sqlite|postgres|both] [--n \"1000 2000\"] [--runs R]" \
        "[--mode auto|single|split|both] [--only replies|overhead|ttft]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --backend)
        [ $# -ge 2 ] || usage
        case "$2" in
        sqlite | postgres) BACKENDS=("$2") ;;
        both) BACKENDS=(sqlite postgres) ;;
        *) usage ;;
        esac
        shift 2
        ;;
    --n)
        if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]]; then
            usage
        fi
        NS=$2
        shift 2
        ;;
    --runs)
        if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
            usage
        fi
        RUNS=$2
        shift 2
        ;;
    --mode)
        [ $# -ge 2 ] || usage
        case "$2" in
        auto | single | split | both) MODE=$2 ;;
        *) usage ;;
        esac
        shift 2
        ;;
    --only)
        [ $# -ge 2 ] || usage
        case "$2" in
        replies | overhead | ttft) PARTS=$2 ;;
        *) usage ;;
        esac
        shift 2
        ;;
    *) usage ;;
    esac
done

log() {
    echo "ai: $*" >&2
}

die() {
    log "$*"
    exit 1
}

command -v node >/dev/null || die "node is not installed (scripts/install-deps installs it)"
command -v jq >/dev/null || die "jq is not installed"
[ -d "$FIXTURES/llm" ] || die "no fixtures in $FIXTURES/llm (set DIREKT_FIXTURES)"

# ---- build ----

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    mkdir -p "$BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$BUILD_DIR/bench-configure.log" 2>&1 ||
        { tail -n 30 "$BUILD_DIR/bench-configure.log" >&2; die "cmake configure failed"; }
    cmake --build "$BUILD_DIR" -j2 --target direkt bench_ai_replies bench_router_overhead \
        bench_ai_ttft >"$BUILD_DIR/bench-build.log" 2>&1 ||
        { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "build failed (log: $BUILD_DIR/bench-build.log)"; }
fi
DIREKT=$BUILD_DIR/direkt
for t in "$DIREKT" "$BUILD_DIR/bench_ai_replies" "$BUILD_DIR/bench_router_overhead" "$BUILD_DIR/bench_ai_ttft"; do
    [ -x "$t" ] || die "$t is missing"
done

# 1,000+ LLM connections plus the webhooks' in one process: raise the open-file limit
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] ||
    log "warning: ulimit -n is $(ulimit -n): 2,000 calls in flight need more descriptors"

# ---- processes ----

TMP=$(mktemp -d /tmp/direkt-bench-ai.XXXXXX)
chmod 755 "$TMP" # the PostgreSQL cluster runs as user postgres when we are root
declare -A PIDS=()
PG_DIR=""
FAILED=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local name
    for name in "${!PIDS[@]}"; do
        kill -KILL "${PIDS[$name]}" 2>/dev/null || true
        wait "${PIDS[$name]}" 2>/dev/null || true
    done
    if [ -n "$PG_DIR" ]; then
        "$PG_CLUSTER" stop "$PG_DIR" || true
    fi
    if [ "$FAILED" = 0 ]; then
        rm -rf "$TMP"
    else
        log "kept $TMP (logs) for inspection"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port below the ephemeral range (32768-60999), so that no outgoing connection holds it.
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 12000))
        if [ -z "$(ss -Htan "sport = :$p")" ]; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# start_fake NAME ARGS…: the fake LLM; sets FAKE_URL and PIDS[NAME].
start_fake() {
    local name=$1
    shift
    rm -f "$TMP/$name.port"
    node "$ROOT/tests/fake/fake_llm.mjs" --port 0 --fixtures "$FIXTURES/llm" --max-recorded 1 \
        --port-file "$TMP/$name.port" "$@" >"$TMP/$name.log" 2>&1 &
    PIDS[$name]=$!
    for _ in $(seq 1 100); do
        [ -s "$TMP/$name.port" ] && break
        sleep 0.1
    done
    [ -s "$TMP/$name.port" ] || { FAILED=1; die "the fake LLM did not start: $(cat "$TMP/$name.log")"; }
    FAKE_URL=http://127.0.0.1:$(cat "$TMP/$name.port")
}

# stop NAME: SIGTERM, wait up to 30 s, expect exit code 0.
stop() {
    local name=$1 pid=${PIDS[$1]} rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: still running 30 s after SIGTERM: killing it"
        kill -KILL "$pid"
        FAILED=1
    fi
    wait "$pid" || rc=$?
    unset "PIDS[$name]"
    if [ "$rc" != 0 ]; then
        log "$name: exited with code $rc after SIGTERM (log: $TMP/$name.log)"
        FAILED=1
    fi
}

# new_db BACKEND NAME: a fresh, migrated database; sets DB_URL.
new_db() {
    if [ "$1" = sqlite ]; then
        DB_URL=sqlite:$TMP/$2.db
    else
        if [ -z "$PG_DIR" ]; then
            PG_DIR=$TMP/pg
            "$PG_CLUSTER" start "$PG_DIR"
        fi
        psql -X -q "$("$PG_CLUSTER" url "$PG_DIR")" -c "CREATE DATABASE $2" >/dev/null
        DB_URL=$("$PG_CLUSTER" url "$PG_DIR" "$2")
    fi
    DATABASE_URL=$DB_URL "$DIREKT" migrate >/dev/null 2>&1 || { FAILED=1; die "migrate failed on $DB_URL"; }
}

# wait_ready NAME PORT: waits for GET /readyz = 200 when PORT > 0, else until the process runs
# every thread (main, outbound HTTP loop, finisher, WORKERS workers).
wait_ready() {
    local name=$1 port=$2 pid=${PIDS[$1]}
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { FAILED=1; die "$name exited during start-up: $(tail -n 5 "$TMP/$name.log")"; }
        if [ "$port" -gt 0 ]; then
            [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port/readyz")" = 200 ] && return 0
        else
            [ "$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")" -ge $((3 + WORKERS)) ] && return 0
        fi
        sleep 0.1
    done
    FAILED=1
    die "$name not ready after 30 s"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (m == int(m)) { printf "%d\n", m } else if (m < 10) { printf "%.2f\n", m } else { printf "%.1f\n", m }
    }'
}

# med FILTER JSONL_FILE: the median of a jq filter over the lines of a file.
med() {
    local vals
    mapfile -t vals < <(jq -r "$1" "$2")
    median "${vals[@]}"
}

# ---- run ----

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$OUT_DIR/ai-$STAMP.jsonl
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($CPU), $(free -g | awk '/^Mem:/ { print $2 }') GiB," \
    "$(uname -sr), ulimit -n $(ulimit -n)"
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
log "load average before: $LOAD_BEFORE (anything else running on these cores skews the figures)"
TABLES=()

# replies_run BACKEND MODE N R: one run; appends its JSON to $RUNS_FILE.
replies_run() {
    local backend=$1 mode=$2 n=$3 r=$4 port json rc=0 proc load
    new_db "$backend" "ai_${mode}_${n}_$r"
    port=$(free_port)
    local -a common=(DATABASE_URL="$DB_URL" DIREKT_LOG=warn DIREKT_REPLY_DEBOUNCE_MS=0
        IG_APP_SECRET="$SECRET" IG_VERIFY_TOKEN=bench DIREKT_LISTEN="127.0.0.1:$port")
    local -a llm=(DIREKT_WORKERS="$WORKERS" OPENAI_BASE_URL="$FAKE_URL/v1" OPENAI_API_KEY=sk-bench
        DIREKT_AI_LOCAL_THRESHOLDS=intent=0)
    if [ "$mode" = single ]; then
        # the embedded mode: webhooks, workers and scheduler in one process (measured)
        env "${common[@]}" "${llm[@]}" "$DIREKT" serve --no-migrate >"$TMP/serve.log" 2>&1 &
        PIDS[serve]=$!
        wait_ready serve "$port"
        proc=serve
    else
        # webhooks in `direkt serve --role api`; the measured process is `direkt worker`
        env "${common[@]}" DIREKT_WORKERS=0 "$DIREKT" serve --role api --no-migrate >"$TMP/api.log" 2>&1 &
        PIDS[api]=$!
        wait_ready api "$port"
        env "${common[@]}" "${llm[@]}" "$DIREKT" worker --no-migrate >"$TMP/worker.log" 2>&1 &
        PIDS[worker]=$!
        wait_ready worker 0
        proc=worker
    fi
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    json=$("$BUILD_DIR/bench_ai_replies" --webhook "http://127.0.0.1:$port/webhooks/instagram/messages" \
        --secret "$SECRET" --fake "$FAKE_URL" --db "$DB_URL" --pid "${PIDS[$proc]}" --n "$n" \
        --run-id "${backend:0:2}${mode}n${n}r$r" --timeout 300 --json \
        --series "$OUT_DIR/ai-replies-$STAMP-$backend-$mode-$n-$r.csv") || rc=$?
    [ -n "$json" ] || { FAILED=1; die "bench_ai_replies failed (exit $rc)"; }
    [ "$rc" = 0 ] || FAILED=1
    stop "$proc"
    if [ "$mode" = split ]; then
        stop api
    fi
    echo "$json" >>"$RUNS_FILE"
    jq -c --arg b "$backend" --arg m "$mode" --argjson l "$load" --argjson d "$FAKE_DELAY_MS" \
        '{part: "replies", backend: $b, mode: $m, load_before: $l, fake_delay_ms: $d} + .' <<<"$json" >>"$OUT"
    log "$backend $mode N=$n run $r (load $load): $(jq -r '"all answered after \(.all_answered_s) s, \(.replies_per_s) replies/s (\(.replies_per_s_window) while answering, peak \(.replies_per_s_peak)), in flight max \(.fake_max_inflight), RSS \(.idle_rss_kb / 1024 | floor) → \(.hwm_kb / 1024 | floor) MiB, threads \(.max_threads), CPU \(.cpu_ms_per_reply) ms/reply, call p50 \(.call_p50_ms) ms, CPU ms per thread: \(.threads_cpu_ms), pass \(.pass)"' <<<"$json")"
}

replies() {
    start_fake fake_slow --delay-ms "$FAKE_DELAY_MS"
    local backend mode n r
    for backend in "${BACKENDS[@]}"; do
        local modes=$MODE
        if [ "$MODE" = auto ]; then
            modes=$([ "$backend" = sqlite ] && echo single || echo split)
        elif [ "$MODE" = both ]; then
            modes="single split"
        fi
        for mode in $modes; do
            for n in $NS; do
                RUNS_FILE=$TMP/replies-$backend-$mode-$n.jsonl
                : >"$RUNS_FILE"
                for r in $(seq 1 "$RUNS"); do
                    replies_run "$backend" "$mode" "$n" "$r"
                done
                local f=$RUNS_FILE
                TABLES+=("| $backend | $([ "$mode" = single ] && echo "serve (all roles)" || echo "worker") | $n | $(med .all_answered_s "$f") | $(med .replies_per_s "$f") | $(med .replies_per_s_window "$f") | $(med .replies_per_s_peak "$f") | $(med .fake_max_inflight "$f") | $(med '.idle_rss_kb / 1024' "$f") | $(med '.hwm_kb / 1024' "$f") | $(med .max_threads "$f") | $(med .cpu_ms_per_reply "$f") | $(med .call_p50_ms "$f") | $(jq -s 'map(select(.pass)) | length' "$f")/$RUNS |")
            done
        done
    done
    stop fake_slow
    echo
    echo "LLM replies: DIREKT_WORKERS=$WORKERS, fake LLM answering after $FAKE_DELAY_MS ms, medians of $RUNS runs"
    echo
    echo "| backend | measured process | N | all answered s | replies/s | replies/s while answering | best 1-s replies/s | peak calls in flight | idle RSS MiB | peak RSS MiB | threads | CPU ms/reply | call p50 ms | runs passed |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${TABLES[@]}"
    TABLES=()
}

overhead() {
    start_fake fake_fast
    local runs=$TMP/overhead.jsonl r json rc load
    : >"$runs"
    for r in $(seq 1 "$RUNS"); do
        rc=0
        load=$(cut -d ' ' -f 1 /proc/loadavg)
        json=$("$BUILD_DIR/bench_router_overhead" --fake "$FAKE_URL" --calls "$OVERHEAD_CALLS" \
            --concurrency "$CONCURRENCY" --tput-calls "$TPUT_CALLS" --fake-pid "${PIDS[fake_fast]}" --json) || rc=$?
        [ -n "$json" ] || { FAILED=1; die "bench_router_overhead failed (exit $rc)"; }
        [ "$rc" = 0 ] || FAILED=1
        echo "$json" >>"$runs"
        jq -c --argjson l "$load" '{part: "overhead", load_before: $l} + .' <<<"$json" >>"$OUT"
        log "overhead run $r (load $load): $json"
    done
    stop fake_fast
    # memory: HOLD calls in flight at once against a slow fake, a fresh process per way and run
    start_fake fake_hold --delay-ms 3000
    local way holds=$TMP/hold.jsonl
    : >"$holds"
    for r in $(seq 1 "$RUNS"); do
        for way in raw router; do
            rc=0
            json=$("$BUILD_DIR/bench_router_overhead" --fake "$FAKE_URL" --hold "$HOLD" \
                --hold-way "$way" --json) || rc=$?
            [ -n "$json" ] || { FAILED=1; die "bench_router_overhead --hold failed (exit $rc)"; }
            [ "$rc" = 0 ] || FAILED=1
            echo "$json" >>"$holds"
            jq -c '{part: "hold"} + .' <<<"$json" >>"$OUT"
            log "hold run $r: $json"
        done
    done
    stop fake_hold
    echo
    echo "Router overhead: $OVERHEAD_CALLS sequential calls per way, then $TPUT_CALLS calls with $CONCURRENCY in flight; fake answering at once; medians of $RUNS runs"
    echo
    echo "| way | p50 µs | p90 µs | p99 µs | CPU µs/call | calls/s at $CONCURRENCY in flight | CPU µs/call there | loop thread CPU % | fake CPU % |"
    echo "|---|---|---|---|---|---|---|---|---|"
    local w
    for w in raw wire router; do
        echo "| $w | $(med ".${w}_p50_us" "$runs") | $(med ".${w}_p90_us" "$runs") | $(med ".${w}_p99_us" "$runs") | $(med ".${w}_cpu_us" "$runs") | $(med ".${w}_tput" "$runs") | $(med ".${w}_tput_cpu_us" "$runs") | $(med ".${w}_tput_loop_cpu_pct" "$runs") | $(med ".${w}_tput_fake_cpu_pct" "$runs") |"
    done
    echo
    echo "router overhead per call (p50 router − raw): $(med .overhead_p50_us "$runs") µs; router − wire: $(med .overhead_vs_wire_p50_us "$runs") µs"
    echo "memory per call in flight ($HOLD at once, fake answering after 3 s): raw $(jq -s -r 'map(select(.way == "raw") | .kib_per_call) | sort | .[length / 2 | floor]' "$holds") KiB," \
        "router $(jq -s -r 'map(select(.way == "router") | .kib_per_call) | sort | .[length / 2 | floor]' "$holds") KiB (medians)"
}

ttft() {
    start_fake fake_stream --stream-delay-ms "$STREAM_DELAY_MS"
    local backend r json rc port load
    for backend in "${BACKENDS[@]}"; do
        new_db "$backend" "ai_ttft"
        port=$(free_port)
        DATABASE_URL=$DB_URL DIREKT_LISTEN=127.0.0.1:$port IG_APP_SECRET=$SECRET IG_VERIFY_TOKEN=bench \
            DIREKT_LOG=warn DIREKT_API_TOKEN=$TOKEN OPENAI_BASE_URL=$FAKE_URL/v1 OPENAI_API_KEY=sk-bench \
            "$DIREKT" serve --no-migrate >"$TMP/serve.log" 2>&1 &
        PIDS[serve]=$!
        wait_ready serve "$port"
        local runs=$TMP/ttft-$backend.jsonl
        : >"$runs"
        for r in $(seq 1 "$RUNS"); do
            rc=0
            load=$(cut -d ' ' -f 1 /proc/loadavg)
            json=$("$BUILD_DIR/bench_ai_ttft" --direkt "http://127.0.0.1:$port" --fake "$FAKE_URL" \
                --token "$TOKEN" --requests "$TTFT_REQUESTS" --json) || rc=$?
            [ -n "$json" ] || { FAILED=1; die "bench_ai_ttft failed (exit $rc)"; }
            [ "$rc" = 0 ] || FAILED=1
            echo "$json" >>"$runs"
            jq -c --arg b "$backend" --argjson l "$load" '{part: "ttft", backend: $b, load_before: $l} + .' <<<"$json" >>"$OUT"
            log "ttft $backend run $r (load $load): $json"
        done
        stop serve
        TABLES+=("| $backend | $(med '.fake_ttft_p50_us / 1000' "$runs") | $(med '.direkt_ttft_p50_us / 1000' "$runs") | $(med '.added_ttft_p50_us / 1000' "$runs") | $(med '.direkt_ttft_p90_us / 1000' "$runs") | $(med '.fake_total_p50_us / 1000' "$runs") | $(med '.direkt_total_p50_us / 1000' "$runs") |")
    done
    stop fake_stream
    echo
    echo "Time to first streamed token: $TTFT_REQUESTS streamed requests per target and run, alternating, fake stream delay $STREAM_DELAY_MS ms; medians of $RUNS runs"
    echo
    echo "| backend | fake TTFT p50 ms | via direkt TTFT p50 ms | added by direkt ms | via direkt TTFT p90 ms | fake whole stream p50 ms | via direkt whole stream p50 ms |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${TABLES[@]}"
    TABLES=()
}

for part in $PARTS; do
    case "$part" in
    replies) replies ;;
    overhead) overhead ;;
    ttft) ttft ;;
    esac
done
echo
echo "load average before: $LOAD_BEFORE, after: $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "raw results: $OUT"
exit "$FAILED"
