#!/usr/bin/env bash
# test_recovery: PostgreSQL goes away under a running server and comes back. While it is
# down, webhooks get 503 (Meta retries them) and nothing is half-written; when it is back, the
# same server (no restart) recovers by itself and the retried delivery is stored once.
# Runs on its own private cluster, which it stops and starts.
. "$(dirname "$0")/lib.sh"

if [ "$DIREKT_BACKEND" != postgres ]; then
    skip "stopping the database server under a running direkt is a PostgreSQL scenario (SQLite is a file in the same process)"
fi

PGDIR="$TEST_TMP/pg"
pg_start_private "$PGDIR" || {
    fail "could not start a private PostgreSQL cluster"
    finish
}
ADMIN_URL=$PG_PRIVATE_URL
setup_db
start_server || finish
SERVER_PID=${PROC_PID[server]}
RU="$IG_FIXTURES/message_text_ru_emoji.json"
MID_RU=aWdfZAG1faXRlbTpJR01lc3NhZA2VJRDoxNzg0MTQwNTgyMjMwNDkxNDozNDA1Nzg3MTc6MgZDZD

api_token >/dev/null # made now: the API is called while the database is down
post_fixture message_text
assert_status 200 "delivery while PostgreSQL is up"
settle_jobs

snapshot() {
    sql "SELECT (SELECT count(*) FROM webhook_events) || '/' || (SELECT count(*) FROM messages) \
        || '/' || (SELECT count(*) FROM message_events) || '/' || (SELECT count(*) FROM jobs) \
        || '/' || (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM conversations)"
}

wait_ready_again() {
    local end=$(($(now_ms) + 30000)) st
    while [ "$(now_ms)" -lt $end ]; do
        st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/readyz")
        [ "$st" == 200 ] && return 0
        sleep 0.2
    done
    fail "/readyz did not come back to 200 within 30 s of PostgreSQL's restart (last: $st)"
    return 1
}

for round in 1 2; do
    log "round $round: PostgreSQL stops"
    before=$(snapshot)
    "$PG_CLUSTER" stop "$PGDIR" || fail "could not stop PostgreSQL"

    post_file "$RU"
    assert_status 503 "round $round: webhook while PostgreSQL is down"
    assert_error_body "round $round: webhook while PostgreSQL is down" unavailable
    assert_ne "" "$(header Retry-After)" "round $round: 503 carries Retry-After"
    # a new customer, a batch of three: must not be half-stored
    post_fixture message_batched
    assert_status 503 "round $round: batch while PostgreSQL is down"
    http GET /readyz
    assert_status 503 "round $round: /readyz while PostgreSQL is down"
    assert_error_body "round $round: /readyz while PostgreSQL is down" unavailable
    http GET /healthz
    assert_status 200 "round $round: /healthz while PostgreSQL is down (the process is alive)"
    api GET /api/v1/conversations
    assert_match '^503$' "$HTTP_STATUS" "round $round: API while PostgreSQL is down (body: ${HTTP_BODY:0:200})"
    assert_error_body "round $round: API while PostgreSQL is down"
    sleep 1 # the workers and the scheduler meet the outage too

    log "round $round: PostgreSQL starts again"
    "$PG_CLUSTER" start "$PGDIR" || fail "could not start PostgreSQL again"
    assert_eq "$before" "$(snapshot)" "round $round: nothing was written while PostgreSQL was down"
    wait_ready_again
    assert_eq "$SERVER_PID" "${PROC_PID[server]}" "the same server process"
    proc_alive server || fail "round $round: the server died during the outage"

    post_file "$RU"
    assert_status 200 "round $round: the retried delivery after recovery"
    if [ $round -eq 1 ]; then
        assert_eq 0 "$(json_get "$HTTP_BODY_FILE" '$.duplicate')" "round 1: the retry is new (nothing was stored before)"
    else
        assert_eq 1 "$(json_get "$HTTP_BODY_FILE" '$.duplicate')" "round 2: the retry is a duplicate of round 1's"
    fi
    post_fixture message_batched
    assert_status 200 "round $round: the retried batch after recovery"
    assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = '$MID_RU'")" \
        "round $round: the retried message is stored once"
    assert_eq 3 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid LIKE 'aWdfZAG1faXRlbTpCYXRjaGVk%'")" \
        "round $round: the batch is stored whole, once"
    settle_jobs 30
done

# the workers recovered too: every conversation got exactly the replies it should
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'user' AND status = 'received'")" \
    "every customer message was answered after the outages"
assert_eq 0 "$(sql "SELECT count(*) FROM jobs WHERE status = 'failed'")" "no job failed for good"
assert_eq "2" "$(sql "SELECT count(*) FROM conversations")" "two conversations"
assert_each_answered_once "after the outages"
assert_eq 3 "$(sql "SELECT count(*) FROM webhook_events")" "three stored deliveries (two retries were duplicates)"

stop_server
finish
