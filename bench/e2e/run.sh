#!/usr/bin/env bash
# bench/e2e/run.sh: end to end, a customer's message in → the bot's reply at the Graph API, with
# the local provider, on SQLite and/or PostgreSQL.
#
#   bench/e2e/run.sh [sqlite|postgres|both]        (default: both)
#
# Builds direkt and bench_e2e when needed (build-bench/, Release). For each backend, RUNS times:
# a fresh database (a SQLite file, or a new database in one throw-away PostgreSQL cluster from
# tests/support/pg-cluster, fsync and synchronous_commit on), then bench_e2e, which starts its
# own `direkt serve` (all roles) against the Graph API stand-in, posts signed webhooks at RATE
# messages/s for WARMUP + DURATION s and measures per message the time from the webhook's 200 to
# the reply at the stand-in. Prints one line per run and a table of medians; keeps every run's
# JSON in OUT_DIR.
#
# Exit code: 0 when every run acknowledged and answered every message and its server stopped
# cleanly; 1 otherwise.
#
# Environment overrides: RATE (1000), DURATION (10), WARMUP (2), RUNS (3), CONNECTIONS (256),
# ACCOUNTS (100), DRAIN (10), BUILD_DIR (build-bench), OUT_DIR (bench/out), SKIP_BUILD=1.
# The server inherits DIREKT_* settings (e.g. DIREKT_WORKERS) from the environment.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
RATE=${RATE:-1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-256}
ACCOUNTS=${ACCOUNTS:-100}
DRAIN=${DRAIN:-10}
PG_CLUSTER=$ROOT/tests/support/pg-cluster

case "${1:-both}" in
sqlite) BACKENDS=(sqlite) ;;
postgres) BACKENDS=(postgres) ;;
both) BACKENDS=(sqlite postgres) ;;
*)
    echo "usage: bench/e2e/run.sh [sqlite|postgres|both]" >&2
    exit 2
    ;;
esac

log() {
    echo "e2e: $*" >&2
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
    cmake --build "$BUILD_DIR" --target direkt bench_e2e -j2 >"$BUILD_DIR/bench-build.log" 2>&1 ||
        { tail -n 30 "$BUILD_DIR/bench-build.log" >&2; die "build failed (log: $BUILD_DIR/bench-build.log)"; }
fi
DIREKT=$BUILD_DIR/direkt
BENCH=$BUILD_DIR/bench_e2e
[ -x "$DIREKT" ] || die "$DIREKT is missing"
[ -x "$BENCH" ] || die "$BENCH is missing"

# ---- helpers ----

TMP=$(mktemp -d /tmp/direkt-bench-e2e.XXXXXX)
chmod 755 "$TMP" # the PostgreSQL cluster runs as user postgres when we are root
PG_DIR=""
FAILED=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
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

# The value of a top-level key in bench_e2e's flat JSON.
jget() {
    sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}

# The median of the numbers among the arguments ("-" when none: a figure is null when a run
# had nothing to measure, e.g. no reply at all).
median() {
    printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
    }'
}

# new_db BACKEND NAME: a fresh database; sets DB_URL.
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
}

# ---- run ----

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$OUT_DIR/e2e-$STAMP.jsonl
SUMMARY=()
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($CPU), $(free -g | awk '/^Mem:/ { print $2 }') GiB," \
    "$(uname -sr); $RATE messages/s, warmup $WARMUP s, duration $DURATION s, $RUNS runs," \
    "up to $CONNECTIONS connections, $ACCOUNTS accounts"
LOAD_BEFORE=$(cut -d ' ' -f 1 /proc/loadavg)
log "load average before: $LOAD_BEFORE (anything else running on these cores skews the figures)"

for backend in "${BACKENDS[@]}"; do
    ins=() outs=() p50=() p90=() p99=() mx=() pr50=() ack50=() job50=() send50=() graph50=()
    rss=() cpu=() missing_total=0 late=()
    for r in $(seq 1 "$RUNS"); do
        new_db "$backend" "e2e_${backend}_$r"
        load=$(cut -d ' ' -f 1 /proc/loadavg)
        rc=0
        json=$("$BENCH" --direkt "$DIREKT" --database-url "$DB_URL" --rate "$RATE" \
            --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" \
            --accounts "$ACCOUNTS" --drain "$DRAIN" --log "$TMP/server-$backend-$r.log" --json) || rc=$?
        [ -n "$json" ] || { FAILED=1; die "$backend run $r: bench_e2e failed (exit $rc)"; }
        echo "{\"backend\":\"$backend\",\"run\":$r,\"load_before\":$load,\"e2e\":$json}" >>"$OUT"
        [ "$rc" = 0 ] || FAILED=1
        ins+=("$(jget "$json" in_per_s)")
        outs+=("$(jget "$json" out_per_s)")
        p50+=("$(jget "$json" p50_ms)")
        p90+=("$(jget "$json" p90_ms)")
        p99+=("$(jget "$json" p99_ms)")
        mx+=("$(jget "$json" max_ms)")
        pr50+=("$(jget "$json" post_reply_p50_ms)")
        ack50+=("$(jget "$json" ack_p50_ms)")
        job50+=("$(jget "$json" reply_job_p50_ms)")
        send50+=("$(jget "$json" send_job_p50_ms)")
        graph50+=("$(jget "$json" graph_p50_ms)")
        rss+=("$(jget "$json" peak_rss_mib)")
        cpu+=("$(jget "$json" cpu_ms_per_msg)")
        late+=("$(jget "$json" late_sends)")
        missing_total=$((missing_total + $(jget "$json" missing) + $(jget "$json" not_acked)))
        log "$backend run $r (load $load): in $(jget "$json" in_per_s)/s, out $(jget "$json" out_per_s)/s," \
            "ack→reply p50 $(jget "$json" p50_ms) p90 $(jget "$json" p90_ms) p99 $(jget "$json" p99_ms)" \
            "max $(jget "$json" max_ms) ms; post→ack p50 $(jget "$json" ack_p50_ms) ms;" \
            "stages p50 job $(jget "$json" reply_job_p50_ms) / send $(jget "$json" send_job_p50_ms) /" \
            "graph $(jget "$json" graph_p50_ms) ms; missing $(jget "$json" missing), not acked" \
            "$(jget "$json" not_acked), late $(jget "$json" late_sends); RSS $(jget "$json" peak_rss_mib) MiB," \
            "CPU $(jget "$json" cpu_ms_per_msg) ms/msg; stopped cleanly: $(jget "$json" stop_ok)"
    done
    SUMMARY+=("| $backend | $(median "${ins[@]}") | $(median "${outs[@]}") | $(median "${p50[@]}") | $(median "${p90[@]}") | $(median "${p99[@]}") | $(median "${mx[@]}") | $(median "${ack50[@]}") | $(median "${job50[@]}") / $(median "${send50[@]}") / $(median "${graph50[@]}") | $missing_total | $(median "${late[@]}") | $(median "${rss[@]}") | $(median "${cpu[@]}") |")
    if [ -n "$PG_DIR" ]; then
        "$PG_CLUSTER" stop "$PG_DIR"
        PG_DIR=""
    fi
done

echo
echo "direkt e2e, $(date -u '+%Y-%m-%d'), $(nproc) cores, $RATE messages/s, medians of $RUNS runs of ${DURATION} s"
echo
echo "| backend | in msg/s | out replies/s | ack→reply p50 ms | p90 ms | p99 ms | max ms | post→ack p50 ms | stages p50 ms: job / send / graph | missing | late sends | peak RSS MiB | CPU ms/msg |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "load average (1 min) before: $LOAD_BEFORE, after: $(cut -d ' ' -f 1 /proc/loadavg)"
echo "raw results: $OUT"
exit "$FAILED"
