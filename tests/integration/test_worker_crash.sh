#!/usr/bin/env bash
# test_worker_crash: the roles in separate processes (serve --role api, worker, scheduler).
# A worker killed with SIGKILL in the middle of a reply loses nothing: the scheduler reclaims
# the job when its lease expires and another worker answers, once. Several workers on many
# conversations answer each exactly once, also when leases run out mid-batch.
# Runs on both backends (several processes on one SQLite file work too).
. "$(dirname "$0")/lib.sh"

setup_db
direkt migrate >/dev/null || fail "direkt migrate"
start_server api -- --role api || finish
start_proc scheduler scheduler
LEASE=DIREKT_JOB_LEASE_MS=1000

conv_of() { # CUSTOMER
    echo "(SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$1')"
}

# ---- a worker dies inside a reply ----
log "a worker is killed inside a reply job"
start_proc worker1 DIREKT_TEST_REPLY_DELAY_MS=3000 DIREKT_WORKERS=1 $LEASE worker
post_fixture message_text
assert_status 200 "delivery"
CONV=$(conv_of 1327813061483247)
end=$(($(now_ms) + 20000))
state=""
while [ "$(now_ms)" -lt $end ]; do
    state=$(sql "SELECT status FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)")
    [ "$state" == running ] && break
    sleep 0.05
done
assert_eq running "$state" "the reply job was claimed by worker1"
assert_eq 1 "$(sql "SELECT attempts FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)")" \
    "first attempt"
kill_proc worker1
log "worker1 killed"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot'")" \
    "nothing of the killed attempt is stored"

start_proc worker2 $LEASE worker
wait_for "SELECT status FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)" done 30
assert_eq "done|2" "$(sql "SELECT status || '|' || attempts FROM jobs WHERE unique_key = 'reply:' || CAST($CONV AS TEXT)")" \
    "the job was reclaimed and done at the second attempt"
assert_eq 1 "$(sql "SELECT count(*) FROM jobs WHERE kind = 'reply'")" "no second reply job was made"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND conversation_id = $CONV")" \
    "one bot reply"
assert_eq "Thanks for your interest! A manager will send you the current prices shortly." \
    "$(sql "SELECT content FROM messages WHERE sender_type = 'bot'")" "the reply"
assert_eq processed "$(sql "SELECT status FROM messages WHERE sender_type = 'user'")" \
    "the customer message is answered"
sleep 1.5 # a late duplicate would show up now
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot'")" "still one bot reply"

# ---- two worker processes, 30 customers at once ----
log "two workers, 30 customers"
start_proc worker3 $LEASE worker
for i in $(seq 1 30); do
    c=$((5000000000000000 + i))
    message_body $c "mid-many-$i" "hello, what is the price of item $i?" $((1764000600000 + i)) >"$TEST_TMP/many.$i.json"
    post_async "$TEST_TMP/many.$i.json" "$TEST_TMP/many.$i"
done
wait_async
ok=0
for i in $(seq 1 30); do
    grep -q '^200 ' "$TEST_TMP/many.$i" && ok=$((ok + 1))
done
assert_eq 30 "$ok" "30 deliveries answered 200"
settle_jobs 60
assert_eq "30|1|1" "$(sql "SELECT count(*) || '|' || min(n) || '|' || max(n) FROM (SELECT c.id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.sender_type = 'bot') AS n FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id LIKE '50000000000000%') x")" \
    "each of the 30 conversations has exactly one bot reply"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'user' AND status = 'received'")" \
    "every customer message answered"
assert_eq 0 "$(sql "SELECT count(*) FROM jobs WHERE status <> 'done'")" "every job done"
assert_each_answered_once "two workers"
workers_used=$(grep -h 'job=' "${PROC_LOG[worker2]}" "${PROC_LOG[worker3]}" | grep -c 'reply pending_send')
log "replies written by worker2+worker3 logs: $workers_used"

# ---- slow workers whose leases run out mid-batch: reclaimed jobs must not answer twice ----
log "slow workers, leases expiring mid-batch"
stop_proc worker2
stop_proc worker3
for i in $(seq 1 20); do
    c=$((6000000000000000 + i))
    message_body $c "mid-slow-$i" "do you deliver to city $i?" $((1764000700000 + i)) >"$TEST_TMP/slow.$i.json"
    post_file "$TEST_TMP/slow.$i.json"
    assert_status 200 "slow delivery $i"
done
sleep 0.5 # past the debounce: all 20 jobs are due before the workers start
start_proc worker4 DIREKT_TEST_REPLY_DELAY_MS=150 $LEASE worker
start_proc worker5 DIREKT_TEST_REPLY_DELAY_MS=150 $LEASE worker
settle_jobs 90
assert_eq "20|1|1" "$(sql "SELECT count(*) || '|' || min(n) || '|' || max(n) FROM (SELECT c.id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.sender_type = 'bot') AS n FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id LIKE '60000000000000%') x")" \
    "each of the 20 slow conversations has exactly one bot reply"
assert_eq 0 "$(sql "SELECT count(*) FROM jobs WHERE status <> 'done'")" "every slow job done"
assert_each_answered_once "slow workers"
reclaimed=$(sql "SELECT count(*) FROM jobs WHERE attempts > 1")
log "jobs that needed more than one attempt: $reclaimed"

stop_proc worker4
stop_proc worker5
stop_proc scheduler
stop_server api
finish
