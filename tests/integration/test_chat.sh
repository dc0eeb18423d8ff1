#!/usr/bin/env bash
# test_chat: `direkt chat`, the terminal in which a person plays a customer, driven through a
# pipe. Embedded mode: chat starts its own direkt (on this backend's database, secret generated
# in it) whose replies come back through chat's Graph API stand-in; each line gets a bot reply
# annotated with intent, sentiment and confidence; the replies are stored as sent with the
# stand-in's ids; chat exits 0 and leaves no process behind. --url mode: against a server
# started here with IG_GRAPH_URL at chat's --graph-listen: replies, a story mention, a reaction
# stored as feedback, the reason shown when the bot stays silent, a refused signature.
. "$(dirname "$0")/lib.sh"

setup_db

# chat_run OUT [VAR=value…] -- ARGS…: pipes stdin into `direkt chat ARGS…` with the test's
# database; stdout + stderr in OUT, the exit code in CHAT_RC.
chat_run() {
    local out=$1
    shift
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    env DATABASE_URL="$DATABASE_URL" DIREKT_LOG=info "${envs[@]}" \
        timeout 240 "$DIREKT_BIN" chat "$@" >"$out" 2>&1
    CHAT_RC=$?
}

# The "↳ … intent X · sentiment Y · confidence Z" line right after the n-th "bot ›" line.
annotation_after_reply() { # FILE N
    awk -v n="$2" '/^bot › / { seen++; next } seen == n && /↳/ { print; exit } seen > n { exit }' "$1"
}

# ---- embedded: chat starts direkt itself ----
log "embedded mode"
OUT=$TEST_TMP/chat-embedded.out
chat_run "$OUT" -- --log "$TEST_TMP/chat-server.log" --wait 60 \
    < <(printf 'hi\nhow much is the delivery?\n/quit\nthis line is never read\n')
assert_eq 0 "$CHAT_RC" "embedded chat: exit code ($(tail -n 5 "$OUT"))"
PROC_LOG["chat-server"]=$TEST_TMP/chat-server.log # its tail is printed on failure
assert_eq 2 "$(grep -c '^bot › ' "$OUT")" "embedded chat: one bot reply per line ($(cat "$OUT"))"
assert_eq 3 "$(grep -c '^you › ' "$OUT")" "embedded chat: the two lines and /quit echoed"
assert_not_contains "never read" "$(cat "$OUT")" "embedded chat: nothing read after /quit"
for n in 1 2; do
    assert_match '↳ “.+”: intent [a-z_]+ · sentiment (positive|neutral|negative) · confidence [01]\.[0-9][0-9]$' \
        "$(annotation_after_reply "$OUT" $n)" "embedded chat: reply $n annotated"
done
assert_contains '“hi”: intent greeting' "$(annotation_after_reply "$OUT" 1)" \
    "embedded chat: the first reply answers the greeting"
assert_contains '“how much is the delivery?”' "$(annotation_after_reply "$OUT" 2)" \
    "embedded chat: the second reply answers the question"
assert_not_contains $'\033' "$(cat "$OUT")" "embedded chat: no colours when stdout is not a terminal"
# what direkt stored: both replies sent, with the stand-in's message ids, in the test's database
assert_eq 2 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND status = 'sent' AND instagram_mid LIKE 'm_standin_%'")" \
    "embedded chat: both replies stored as sent with the stand-in's ids"
assert_eq 2 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'user' AND instagram_mid LIKE 'm_chat_%' AND intent IS NOT NULL")" \
    "embedded chat: both lines stored as the customer's messages and analysed"
assert_ne "" "$(sql "SELECT value FROM settings WHERE key = 'ig_app_secret'")" \
    "embedded chat: the webhooks were signed with the secret generated in the database"
# no process left behind: the child chat named is gone, and nothing runs with its log
CHILD=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$OUT" | head -n 1)
assert_match '^[0-9]+$' "$CHILD" "embedded chat: names its direkt's pid"
if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    fail "embedded chat: its direkt (pid $CHILD) still runs after chat exited"
    kill -9 "$CHILD" 2>/dev/null
fi
assert_contains "stopped cleanly" "$(cat "$TEST_TMP/chat-server.log")" \
    "embedded chat: its direkt shut down cleanly"

# the end of the input ends the chat as /quit does
OUT=$TEST_TMP/chat-eof.out
chat_run "$OUT" -- --log "$TEST_TMP/chat-server.log" --wait 60 --as 5981206525237013 \
    < <(printf 'thanks, bye')
assert_eq 0 "$CHAT_RC" "chat ended by EOF: exit code ($(tail -n 5 "$OUT"))"
assert_eq 1 "$(grep -c '^bot › ' "$OUT")" "chat ended by EOF: the last line (no newline) answered"

# bad options: usage, exit 2, nothing started
chat_run "$TEST_TMP/chat-bad.out" -- --as not-a-number </dev/null
assert_eq 2 "$CHAT_RC" "chat --as with a non-numeric id: exit code"

# ---- --url: a running direkt pointed at chat's stand-in ----
log "--url mode"
# The stand-in's port: below the kernel's ephemeral range (32768-60999), where outgoing
# connections do not take it while the server starts; another one should a process still take
# it before chat listens.
graph_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((10000 + RANDOM % 10000))
        if [ "$p" != "$PORT" ] && port_free "$p"; then
            echo "$p"
            return
        fi
    done
}
TOKEN=chat-test-token
OUT=$TEST_TMP/chat-url.out
for attempt in 1 2 3; do
    GRAPH_PORT=$(graph_port)
    start_server IG_GRAPH_URL="http://127.0.0.1:$GRAPH_PORT" IG_ACCESS_TOKEN=test-access-token \
        DIREKT_API_TOKEN=$TOKEN DIREKT_REPLY_DEBOUNCE_MS=100 || finish
    chat_run "$OUT" IG_APP_SECRET="$TEST_SECRET" -- --url "$BASE_URL" \
        --graph-listen "127.0.0.1:$GRAPH_PORT" --token $TOKEN --wait 8 --as 1327813061483247 < <(
        printf 'hello, where is my order?\n/story\n'
        sleep 1 # a person does not react within a millisecond: the reply's id is stored by then
        printf '/like\nI want to talk to a human\nare you there?\n'
    )
    grep -q "could not start the Graph API stand-in" "$OUT" || break
    log "attempt $attempt: port $GRAPH_PORT was taken before chat listened on it"
    stop_server
done
assert_eq 0 "$CHAT_RC" "--url chat: exit code ($(tail -n 5 "$OUT"))"
assert_contains "start direkt with IG_GRAPH_URL=http://127.0.0.1:$GRAPH_PORT" "$(cat "$OUT")" \
    "--url chat: says how to point direkt at the stand-in"
assert_eq 3 "$(grep -c '^bot › ' "$OUT")" \
    "--url chat: replies to the message, the story mention and the hand-over ($(cat "$OUT"))"
assert_match 'intent order_status · sentiment [a-z]+ · confidence [01]\.[0-9]{2}$' \
    "$(annotation_after_reply "$OUT" 1)" "--url chat: the first reply annotated"
assert_contains '[story_mention]' "$(annotation_after_reply "$OUT" 2)" \
    "--url chat: the story reply annotated with the mention it answers"
assert_contains "you reacted ❤" "$(cat "$OUT")" "--url chat: /like posted"
wait_for "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND CAST(metadata AS TEXT) LIKE '%feedback%love%'" 1 10
assert_contains "no reply after 8 s: the conversation waits for a person" "$(cat "$OUT")" \
    "--url chat: says why the bot stayed silent after the hand-over"

# a secret that is not the server's: the refusal is shown, the chat goes on and ends normally
OUT=$TEST_TMP/chat-badsig.out
chat_run "$OUT" IG_APP_SECRET=not-the-secret -- --url "$BASE_URL" \
    --graph-listen "127.0.0.1:$GRAPH_PORT" --wait 2 < <(printf 'hi\n')
assert_eq 0 "$CHAT_RC" "--url chat with a wrong secret: exit code"
assert_contains "direkt refused the webhook: HTTP 403" "$(cat "$OUT")" \
    "--url chat with a wrong secret: the refusal is shown"
assert_contains "without intent, sentiment and confidence" "$(cat "$OUT")" \
    "--url chat without a token: says the annotations are off"
stop_server

finish
