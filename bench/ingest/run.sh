#!/usr/bin/env bash
# bench/ingest/run.sh: webhook ingest throughput, acknowledgement latency and durability of
# `direkt serve`, on SQLite and/or PostgreSQL.
#
#   bench/ingest/run.sh [sqlite|postgres|both]        (default: both)
#
# For each backend: builds direkt and bench_loadgen when needed (build-bench/, Release), starts
# a fresh server on a free loopback port with a fresh database (a throw-away PostgreSQL from
# tests/support/pg-cluster), waits for GET /readyz = 200, then runs bench_loadgen RUNS times
# for each K in KS (concurrency 64, WARMUP s unmeasured, then DURATION s). After every run it
# counts the messages stored with that run's mids and compares them with the unique events the
# server acknowledged with 2xx: each acknowledged event must be durable. Finally it records the
# server's peak RSS (VmHWM), stops it with SIGTERM and expects exit code 0.
#
# Prints one line per run and a table of medians; keeps every run's JSON in OUT_DIR.
# Exit code: 0 when every run had only 2xx, no errors, stored == acknowledged and the server
# stopped cleanly; 1 otherwise.
#
# Environment overrides: DURATION (10), WARMUP (2), RUNS (3), KS ("1 10"), CONCURRENCY (64),
# CUSTOMERS (1000), BUILD_DIR (build-bench), OUT_DIR (bench/out), SKIP_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
KS=${KS:-1 10}
CONCURRENCY=${CONCURRENCY:-64}
CUSTOMERS=${CUSTOMERS:-1000}
SECRET=bench-secret
PG_CLUSTER=$ROOT/tests/support/pg-cluster

case "${1:-both}" in
sqlite) BACKENDS=(sqlite) ;;
postgres) BACKENDS=(postgres) ;;
both) BACKENDS=(sqlite postgres) ;;
*)
    echo "usage: bench/ingest/run.sh [sqlite|postgres|both]" >&2
    exit 2
    ;;
esac

log() {
    echo "ingest: $*" >&2
}

die() {
    log "$*"
    exit 1
}

# ---- build ----

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    mkdir -p "$BUILD_DIR"
    if [ ! -f "$BUILD_DIR/Makefile" ] && [ ! -f "$BUILD_DIR/build.ninja" ]; then
        cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$BUILD_DIR/bench-configure.log" 2>&1 ||
            { tail -n 30 "$BUILD_DIR/bench-configure.log" >&2; die "cmake configure failed"; }
    fi
    cmake --build "$BUILD_DIR" --target direkt bench_loadgen -j2 >"$BUILD_DIR/bench-build.log" 2>&1 ||
        { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "build failed (log: $BUILD_DIR/bench-build.log)"; }
fi
DIREKT=$BUILD_DIR/direkt
LOADGEN=$BUILD_DIR/bench_loadgen
[ -x "$DIREKT" ] || die "$DIREKT is missing"
[ -x "$LOADGEN" ] || die "$LOADGEN is missing"

# ---- helpers ----

TMP=$(mktemp -d /tmp/direkt-bench.XXXXXX)
chmod 755 "$TMP" # the PostgreSQL cluster runs as user postgres when we are root
SERVER_PID=""
PG_DIR=""
FAILED=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$PG_DIR" ]; then
        "$PG_CLUSTER" stop "$PG_DIR" || true
    fi
    if [ "$FAILED" = 0 ]; then
        rm -rf "$TMP"
    else
        log "kept $TMP (server logs) for inspection"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# The value of a top-level key in loadgen's flat JSON.
jget() {
    sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}

stored_count() { # backend run_id
    local q="SELECT count(*) FROM messages WHERE instagram_mid LIKE 'bench-$2-%'"
    if [ "$1" = sqlite ]; then
        sqlite3 -cmd ".timeout 10000" "$TMP/bench.db" "$q"
    else
        psql -X -A -t -q "$DB_URL" -c "$q"
    fi
}

start_server() { # backend
    PORT=$(free_port)
    if [ "$1" = sqlite ]; then
        DB_URL=sqlite:$TMP/bench.db
    else
        PG_DIR=$TMP/pg
        "$PG_CLUSTER" start "$PG_DIR"
        DB_URL=$("$PG_CLUSTER" url "$PG_DIR")
    fi
    DIREKT_LISTEN=127.0.0.1:$PORT DATABASE_URL=$DB_URL IG_APP_SECRET=$SECRET IG_VERIFY_TOKEN=bench \
        DIREKT_LOG=warn DIREKT_REPLY_DEBOUNCE_MS=1000 \
        "$DIREKT" serve >"$TMP/server-$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$TMP/server-$1.log" >&2
            FAILED=1
            die "direkt serve ($1) exited during start-up"
        fi
        sleep 0.1
    done
    FAILED=1
    die "direkt serve ($1) not ready after 30 s"
}

stop_server() { # backend
    local rc=0
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "$1: server still running 30 s after SIGTERM: killing it"
        kill -KILL "$SERVER_PID"
        FAILED=1
    fi
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    if [ "$rc" != 0 ]; then
        log "$1: server exited with code $rc after SIGTERM"
        tail -n 20 "$TMP/server-$1.log" >&2
        FAILED=1
    fi
    STOP_RC=$rc
    if [ -n "$PG_DIR" ]; then
        "$PG_CLUSTER" stop "$PG_DIR"
        PG_DIR=""
    fi
}

# ---- run ----

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$OUT_DIR/ingest-$STAMP.jsonl
SUMMARY=()
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($CPU), $(free -g | awk '/^Mem:/ { print $2 }') GiB," \
    "$(uname -sr); concurrency $CONCURRENCY, warmup $WARMUP s, duration $DURATION s, $RUNS runs, K in ($KS)"
LOAD_BEFORE=$(cut -d ' ' -f 1 /proc/loadavg)
log "load average before: $LOAD_BEFORE (anything else running on these cores skews the figures)"

for backend in "${BACKENDS[@]}"; do
    start_server "$backend"
    log "$backend: direkt serve pid $SERVER_PID on 127.0.0.1:$PORT ready"
    for k in $KS; do
        eps=() p50=() p99=() rps=()
        nb_total=0 stored_total=0 acked_total=0
        for r in $(seq 1 "$RUNS"); do
            run_id=$(date -u +%H%M%S)${backend:0:2}k${k}r$r
            rc=0
            json=$("$LOADGEN" --url "http://127.0.0.1:$PORT/webhooks/instagram/messages" \
                --secret "$SECRET" --concurrency "$CONCURRENCY" --duration "$DURATION" \
                --warmup "$WARMUP" --events-per-delivery "$k" --customers "$CUSTOMERS" \
                --run-id "$run_id" --json) || rc=$?
            [ -n "$json" ] || { FAILED=1; die "$backend: loadgen failed (exit $rc)"; }
            acked=$(jget "$json" unique_events_acked)
            stored=$(stored_count "$backend" "$run_id")
            echo "{\"backend\":\"$backend\",\"stored\":$stored,\"loadgen\":$json}" >>"$OUT"
            eps+=("$(jget "$json" events_per_s)")
            p50+=("$(jget "$json" latency_p50_ms)")
            p99+=("$(jget "$json" latency_p99_ms)")
            rps+=("$(jget "$json" requests_per_s)")
            stored_total=$((stored_total + stored))
            acked_total=$((acked_total + acked))
            nb=$(($(jget "$json" total_non_2xx) + $(jget "$json" total_errors)))
            nb_total=$((nb_total + nb))
            check=ok
            if [ "$stored" -lt "$acked" ]; then
                check="LOST $((acked - stored)) acknowledged events"
            elif [ "$stored" -gt "$acked" ]; then
                check="$((stored - acked)) stored without a 2xx (errors)"
            fi
            if [ "$rc" != 0 ] || [ "$nb" != 0 ] || [ "$check" != ok ]; then
                FAILED=1
            fi
            log "$backend K=$k run $r: $(jget "$json" events_per_s) events/s," \
                "$(jget "$json" requests_per_s) req/s, p50 $(jget "$json" latency_p50_ms) ms," \
                "p99 $(jget "$json" latency_p99_ms) ms, max $(jget "$json" latency_max_ms) ms," \
                "non-2xx+errors $nb, stored $stored / acknowledged $acked: $check"
        done
        hwm=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status")
        durable="$stored_total / $acked_total"
        if [ "$stored_total" -lt "$acked_total" ]; then
            durable="$durable LOST"
        elif [ "$stored_total" = "$acked_total" ]; then
            durable="$durable ok"
        fi
        SUMMARY+=("| $backend | $k | $(median "${eps[@]}") | $(median "${rps[@]}") | $(median "${p50[@]}") | $(median "${p99[@]}") | $nb_total | $durable | $hwm |")
    done
    stop_server "$backend"
    log "$backend: server stopped with exit code $STOP_RC"
done

echo
echo "direkt ingest, $(date -u '+%Y-%m-%d'), $(nproc) cores, concurrency $CONCURRENCY, medians of $RUNS runs of ${DURATION} s"
echo
echo "| backend | K | events/s | requests/s | p50 ms | p99 ms | non-2xx + errors | stored / acknowledged events | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "load average (1 min) before: $LOAD_BEFORE, after: $(cut -d ' ' -f 1 /proc/loadavg)"
echo "raw results: $OUT"
exit "$FAILED"
