#!/usr/bin/env bash
# test_dedupe: Meta's retries and concurrent deliveries never store a message twice or answer
# twice, and a burst of messages within the debounce gets one reply covering all of them.
. "$(dirname "$0")/lib.sh"

setup_db
# a debounce long enough for a burst of posts to land inside it, even under ASan
start_server DIREKT_REPLY_DEBOUNCE_MS=2500 || finish
TEXT="$IG_FIXTURES/message_text.json"
MID_TEXT=aWdfZAG1faXRlbTpJR01lc3NhZA2VJRDoxNzg0MTQwNTgyMjMwNDkxNDozNDA1Nzg3MTc6MQZDZD

conv_of() { # CUSTOMER: the SQL of the customer's conversation id
    echo "(SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$1')"
}

bot_replies() { # CUSTOMER
    sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND conversation_id = $(conv_of "$1")"
}

count_ok() { # PREFIX N: how many of $TEST_TMP/PREFIX.1..N answered 200
    local i n=0
    for i in $(seq 1 "$2"); do
        grep -q '^200 ' "$TEST_TMP/$1.$i" 2>/dev/null && n=$((n + 1))
    done
    echo $n
}

# ---- the same delivery twice ----
log "the same delivery twice"
post_file "$TEXT"
assert_status 200 "first delivery"
assert_eq 0 "$(json_get "$HTTP_BODY_FILE" '$.duplicate')" "first delivery is not a duplicate"
first_id=$(json_get "$HTTP_BODY_FILE" '$.event_id')
post_file "$TEXT"
assert_status 200 "second delivery of the same body"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" '$.duplicate')" "second delivery is reported as a duplicate"
assert_eq "$first_id" "$(json_get "$HTTP_BODY_FILE" '$.event_id')" "the retry gets the same event id"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = '$MID_TEXT'")" "one message"
assert_eq 1 "$(sql "SELECT count(*) FROM webhook_events")" "one webhook event"
settle_jobs
assert_eq 1 "$(bot_replies 1327813061483247)" "one bot reply"
post_file "$TEXT"
assert_status 200 "third delivery, after the reply"
settle_jobs
assert_eq 1 "$(bot_replies 1327813061483247)" "still one bot reply after a late retry"

# ---- the same delivery 20 times at once ----
log "the same delivery 20 times concurrently"
C1=3000000000000001
message_body $C1 mid-concurrent-1 "Hello, is the red scarf in stock?" >"$TEST_TMP/same.json"
for i in $(seq 1 20); do
    post_async "$TEST_TMP/same.json" "$TEST_TMP/same.$i"
done
wait_async
ok=0
dups=0
for i in $(seq 1 20); do
    r=$(cat "$TEST_TMP/same.$i" 2>/dev/null)
    [[ "$r" == "200 "* ]] && ok=$((ok + 1))
    [[ "$r" == *'"duplicate":true'* ]] && dups=$((dups + 1))
done
assert_eq 20 "$ok" "20 concurrent identical deliveries all answered 200"
assert_eq 19 "$dups" "19 of them reported as duplicates"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = 'mid-concurrent-1'")" \
    "one message from 20 concurrent identical deliveries"
assert_eq 1 "$(sql "SELECT count(*) FROM webhook_events WHERE payload LIKE '%mid-concurrent-1%'")" \
    "one webhook event from 20 concurrent identical deliveries"
n=$(sql "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') AND unique_key = 'reply:' || CAST($(conv_of $C1) AS TEXT)")
[ "$n" -le 1 ] || fail "at most one pending reply job for the conversation: got $n"
settle_jobs
assert_eq 1 "$(bot_replies $C1)" "one bot reply to 20 concurrent identical deliveries"

# ---- the same message in 20 different bodies at once (Meta re-wraps retries) ----
log "the same mid in 20 different bodies concurrently"
C2=3000000000000002
for i in $(seq 1 20); do
    message_body $C2 mid-concurrent-2 "Do you ship to Riga?" $((1764000100000 + i)) >"$TEST_TMP/wrap.$i.json"
    post_async "$TEST_TMP/wrap.$i.json" "$TEST_TMP/wrap.$i"
done
wait_async
ok=$(count_ok wrap 20)
assert_eq 20 "$ok" "20 concurrent re-wrapped deliveries all answered 200"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = 'mid-concurrent-2'")" \
    "one message from 20 bodies with the same mid"
assert_eq 20 "$(sql "SELECT count(*) FROM webhook_events WHERE payload LIKE '%mid-concurrent-2%'")" \
    "20 distinct bodies are 20 webhook events"
assert_eq "1|1" "$(sql "SELECT (SELECT count(*) FROM users WHERE instagram_id = '$C2') || '|' || (SELECT count(*) FROM conversations WHERE user_id = (SELECT id FROM users WHERE instagram_id = '$C2'))")" \
    "one user and one conversation"
settle_jobs
assert_eq 1 "$(bot_replies $C2)" "one bot reply"

# ---- a new customer's 20 different messages at once: one user, one conversation ----
log "20 different messages of a new customer concurrently"
C3=3000000000000003
for i in $(seq 1 20); do
    message_body $C3 "mid-race-$i" "message number $i" $((1764000200000 + i)) >"$TEST_TMP/race.$i.json"
    post_async "$TEST_TMP/race.$i.json" "$TEST_TMP/race.$i"
done
wait_async
ok=$(count_ok race 20)
assert_eq 20 "$ok" "20 concurrent messages of a new customer all answered 200"
assert_eq "1|1|20" "$(sql "SELECT (SELECT count(*) FROM users WHERE instagram_id = '$C3') || '|' || (SELECT count(*) FROM conversations WHERE user_id = (SELECT id FROM users WHERE instagram_id = '$C3')) || '|' || (SELECT count(*) FROM messages WHERE instagram_mid LIKE 'mid-race-%')")" \
    "one user, one conversation, 20 messages"
settle_jobs
n=$(bot_replies $C3)
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "a burst of 20 messages gets one reply (two at most when it straddles the debounce): got $n"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid LIKE 'mid-race-%' AND status = 'received'")" \
    "every message of the burst was answered"

# ---- a burst of 5 messages within the debounce: one reply covering all 5 ----
log "a burst of 5 messages within the debounce"
C4=3000000000000004
for i in 1 2 3 4 5; do
    message_body $C4 "mid-burst-$i" "burst message $i" $((1764000300000 + i * 100)) >"$TEST_TMP/burst.$i.json"
done
presign "$TEST_TMP"/burst.*.json
t0=$(now_ms)
for i in 1 2 3 4 5; do
    post_file "$TEST_TMP/burst.$i.json"
    assert_status 200 "burst message $i"
done
elapsed=$(($(now_ms) - t0))
if [ $elapsed -ge 2500 ]; then
    fail "the burst took ${elapsed} ms, longer than the debounce: the test cannot check it"
fi
assert_eq 1 "$(sql "SELECT count(*) FROM jobs WHERE status = 'queued' AND unique_key = 'reply:' || CAST($(conv_of $C4) AS TEXT)")" \
    "one queued reply job for the burst"
assert_eq 0 "$(bot_replies $C4)" "no reply before the debounce has passed"
settle_jobs
assert_eq 1 "$(bot_replies $C4)" "one bot reply to a burst of 5"
ids=$(sql "SELECT CAST(id AS TEXT) FROM messages WHERE instagram_mid LIKE 'mid-burst-%' ORDER BY instagram_mid")
meta=$(sql "SELECT CAST(metadata AS TEXT) FROM messages WHERE sender_type = 'bot' AND conversation_id = $(conv_of $C4)")
assert_eq 5 "$(json_of "$meta" 'json_array_length($.in_reply_to)')" "in_reply_to has 5 ids"
want=$(echo "$ids" | paste -sd, -)
got=$(sqlite3 -batch :memory: "SELECT value FROM json_each('$(json_of "$meta" '$.in_reply_to')')" | paste -sd, -)
assert_eq "$want" "$got" "in_reply_to lists the 5 messages, oldest first"

assert_each_answered_once "after every scenario"
stop_server
finish
