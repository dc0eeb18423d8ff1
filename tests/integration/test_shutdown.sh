#!/usr/bin/env bash
# test_shutdown: SIGTERM and SIGINT with webhook requests in flight. Every request gets an
# answer (200, or 503 "shutting down"); only requests that come after the stop may find the
# port closed; never a reset or an empty reply. The exit code is 0, everything acknowledged
# with 200 is in the database, a reply job running at the stop finishes, and the server starts
# again on the same database.
. "$(dirname "$0")/lib.sh"

setup_db
PAD=$(head -c 6000 /dev/zero | tr '\0' 'x')

# One round: 20 slow uploads (about 6 s each) in flight, then a stream of fast requests across
# the signal. Bodies are made before the clock starts: launching must be quick.
round() { # SIGNAL BASE_CUSTOMER
    local sig=$1 base=$2 i c
    start_server || return 1
    log "SIG$sig with requests in flight"
    rm -f "$TEST_TMP"/r.*
    for i in $(seq 1 20); do
        c=$((base + i))
        message_body $c "mid-$sig-slow-$i" "slow $i" $((1764000800000 + i)) |
            sed "s/^{/{\"pad\": \"$PAD\", /" >"$TEST_TMP/r.slow.$i.json"
    done
    for i in $(seq 1 30); do
        c=$((base + 100 + i))
        message_body $c "mid-$sig-fast-$i" "fast $i" $((1764000900000 + i)) >"$TEST_TMP/r.fast.$i.json"
    done
    presign "$TEST_TMP"/r.*.json
    for i in $(seq 1 20); do
        post_async "$TEST_TMP/r.slow.$i.json" "$TEST_TMP/r.slow.$i" --limit-rate 1000
    done
    sleep 0.3 # the slow uploads are connected and under way
    # 5 fast requests, a pause so that they have surely connected, the signal, 25 more
    local t_sig=0
    for i in $(seq 1 30); do
        if [ $i -eq 6 ]; then
            sleep 0.5
            t_sig=$(now_ms)
            signal_proc server "$sig"
        fi
        post_async "$TEST_TMP/r.fast.$i.json" "$TEST_TMP/r.fast.$i"
        now_ms >"$TEST_TMP/r.fast.$i.started"
        sleep 0.02
    done
    wait_async
    stop_proc server none 0 60
    local in_flight=0
    for i in $(seq 1 20); do
        [ "$(cat "$TEST_TMP/r.slow.$i.end" 2>/dev/null || echo 0)" -gt "$t_sig" ] && in_flight=$((in_flight + 1))
    done
    log "SIG$sig: $in_flight slow requests were still uploading when the signal came"
    [ $in_flight -ge 10 ] ||
        fail "SIG$sig: only $in_flight slow requests were in flight at the signal: the machine is too slow for this test's timing"
    local ok=0 unavailable=0 refused=0 acked=()
    for f in "$TEST_TMP"/r.slow.[0-9]* "$TEST_TMP"/r.fast.[0-9]*; do
        case "$f" in *.json | *.body | *.started | *.end | *.sig) continue ;; esac
        local name=${f##*/} res st ex
        res=$(cat "$f" 2>/dev/null)
        st=${res%% *}
        ex=${res#* }
        ex=${ex%% *}
        case "$st" in
        200)
            ok=$((ok + 1))
            acked+=("$(sed -n 's/.*"mid": "\([^"]*\)".*/\1/p' "$f.json")")
            ;;
        503)
            unavailable=$((unavailable + 1))
            assert_contains '"error"' "$res" "SIG$sig: $name: 503 in the error format"
            ;;
        000)
            if [ "$ex" == 7 ]; then
                refused=$((refused + 1))
                # refused is fine only for requests started after (or just as) the signal
                local started
                started=$(cat "$f.started" 2>/dev/null || echo 0)
                if [[ "$name" == r.slow.* ]] || [ "$started" -lt $((t_sig - 400)) ]; then
                    fail "SIG$sig: $name was refused though it started before the stop"
                fi
            else
                fail "SIG$sig: $name got no response (curl exit $ex: reset or empty reply)"
            fi
            ;;
        *)
            fail "SIG$sig: $name got status $st: $res"
            ;;
        esac
        if [[ "$name" == r.slow.* ]] && [ "$st" != 200 ]; then
            fail "SIG$sig: the in-flight request $name got $st instead of 200"
        fi
    done
    log "SIG$sig: $ok answered 200, $unavailable answered 503, $refused refused"
    [ $ok -ge 20 ] || fail "SIG$sig: at least the 20 in-flight requests are answered 200 (got $ok)"
    local missing=0 mid
    for mid in "${acked[@]}"; do
        [ "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = '$mid'")" == 1 ] || {
            fail "SIG$sig: $mid was acknowledged with 200 but is not in the database"
            missing=$((missing + 1))
        }
    done
    assert_eq 0 "$missing" "SIG$sig: every acknowledged message is stored"
}

round TERM 7100000000000000
round INT 7200000000000000

# The server starts again on the same database; the replies debounced at the stop are sent.
log "restart on the same database"
start_server || finish
settle_jobs 60
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'user' AND status = 'received'")" \
    "after the restart every stored message was answered"
assert_each_answered_once "after the stops and the restart"

# A reply job running at the stop finishes before the process exits.
log "a reply job running at the stop"
stop_server
start_server DIREKT_TEST_REPLY_DELAY_MS=1500 DIREKT_WORKERS=1 || finish
post_fixture message_text
assert_status 200 "delivery"
CONV="(SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '1327813061483247')"
wait_for "SELECT status FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)" running 20
stop_proc server TERM 0 60
assert_eq "done|1" "$(sql "SELECT status || '|' || attempts FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)")" \
    "the running job finished before the exit"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND conversation_id = $CONV")" \
    "its reply is stored"

# SIGTERM right after the start, and a stop with nothing to do, are clean too.
start_server || finish
stop_server server INT
start_server || finish
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND conversation_id = $CONV")" \
    "still one reply after more restarts"
stop_server
finish
