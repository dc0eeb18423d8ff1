#!/usr/bin/env bash
# test_instagram: replies out to Instagram through the real binary, against the fake Graph API
# that answers with shared/fixtures/instagram and echoes every send back to direkt, signed, as
# Meta does (lib_instagram.sh). Each check looks at the stored message (status, reason,
# metadata.policy) and at what the fake received:
#  1 a reply goes out once with the fake's message id; its echo adds nothing and pauses nothing
#  2 a customer message 25 h old: the bot reply is refused (window_24h), counted in the stats
#  3 operator messages: untagged within 24 h; HUMAN_AGENT off → refused; on → MESSAGE_TAG +
#    HUMAN_AGENT; after 7 days refused; a bot reply never carries the tag
# 10 a crash between send and record: the echo settles the send; without an echo the message
#    is failed as unconfirmed; never sent twice
#  5 throttling (613, then 4): the account waits (throttled_until), then the reply goes once
#  6 a transient error (2, HTTP 500): retried, sent once
#  8 outside the window (10/2534022) and user unavailable (551/1545041): failed, not retried
# 11 several operator messages arrive in order; a long one is cut at sentence ends
# Conversation control, events, comments and accounts: test_instagram_rules.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_instagram.sh"

setup_db

t0=$(now_ms)
start_direkt "${IG_ENV[@]}" || finish
RESTART_MS=$(($(now_ms) - t0))

# ---- 1 ----
log "1. a reply goes out once; its echo neither adds a message nor pauses the bot"
C1=7200000000000001
say $C1 "hello, is the shop open today?"
answer
wait_status "$REPLY" sent 20 "the reply"
mid1=$(sql "SELECT instagram_mid FROM messages WHERE id = '$REPLY'")
assert_eq 1 "$(sends $C1)" "one send to the customer"
assert_eq "$mid1" "$(sends $C1 "r ->> 'message_id'")" "the reply keeps the fake's message_id"
assert_match '^m_fake_' "$mid1" "the fake's message id"
assert_eq "/v25.0/$ACCOUNT/messages|$TOKEN|RESPONSE|-" \
    "$(sends $C1 "(r ->> 'path') || '|' || (r ->> 'auth') || '|' || $HOW")" \
    "the send's path, token and messaging type (no tag)"
assert_eq "$(sql "SELECT content FROM messages WHERE id = '$REPLY'")" "$(sends $C1 "$TEXT")" \
    "the text sent is the reply"
CONV1=$CONV
wait_echo "$mid1"
assert_eq 1 "$(sql "SELECT count(*) FROM webhook_events WHERE CAST(payload AS TEXT) LIKE '%$mid1%'")" \
    "the echo was stored"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE instagram_mid = '$mid1'")" \
    "the echo is not a second message"
assert_eq "2|" "$(sql "SELECT count(*) || '|' || COALESCE(CAST(MAX(c.bot_paused_until) AS TEXT), '') FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.id = '$CONV1'")" \
    "two messages, the bot not paused by its own echo"
say $C1 "and do you have the linen dress?"
answer
assert_ne "" "$REPLY" "the bot answers again after its echo"
wait_status "$REPLY" sent

# ---- 2 ----
log "2. 25 h after the customer's message the bot reply is refused"
C2=7200000000000002
say $C2 "hello, which sizes do you have?" $(($(now_ms) - 25 * HOUR))
answer
wait_status "$REPLY" skipped 20 "the late bot reply"
assert_eq "skipped|skipped: outside the 24-hour window" "$(row "$REPLY")" "status and reason"
assert_eq window_24h "$(meta "$REPLY" '$.policy.rule')" "metadata.policy.rule"
assert_eq 0 "$(sends $C2)" "nothing reached the fake"
api GET /api/v1/delivery/stats
assert_status 200 "delivery stats"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" '$.refused_by_rule.window_24h')" "stats: refused by window_24h"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" '$.by_status.skipped')" "stats: one skipped"

# ---- 3 (HUMAN_AGENT off) ----
log "3. operator messages: untagged within 24 h, refused at 2 days without HUMAN_AGENT"
C3=7200000000000003
say $C3 "hi, I have a question about my order"
answer
wait_status "$REPLY" sent
op_say "$CONV" "Hello, this is Anna, let me check your order."
wait_status "$OP" sent 20 "the operator message within 24 h"
assert_eq "RESPONSE|-" "$(sends $C3 "$HOW" "$TEXT = 'Hello, this is Anna, let me check your order.'")" \
    "within 24 h: messaging_type RESPONSE, no tag"
C3B=7200000000000033
say $C3B "hello, is the black bag still available?" $(($(now_ms) - 2 * DAY))
answer
wait_status "$REPLY" skipped 20 "the bot reply 2 days late"
CONV3B=$CONV
op_say "$CONV3B" "Sorry for the wait: yes, the black bag is available."
wait_status "$OP" skipped 20 "the operator message after 2 days, HUMAN_AGENT off"
assert_eq "skipped|skipped: HUMAN_AGENT is not enabled for this app (DIREKT_IG_HUMAN_AGENT)" \
    "$(row "$OP")" "HUMAN_AGENT off: status and reason"
assert_eq human_agent_disabled "$(meta "$OP" '$.policy.rule')" "HUMAN_AGENT off: the rule"
assert_eq 0 "$(sends $C3B)" "HUMAN_AGENT off: nothing reached the fake"

# ---- 10 ----
log "10. a crash between send and record: the echo settles it"
wait_quiet
# the echo comes once direkt is up again (Meta would retry a failed delivery; the fake does not)
script "[{\"hang\": true, \"echo\": true, \"echo_delay_ms\": $((2 * RESTART_MS + 2000))}]"
C10=7200000000000010
say $C10 "hello, I would like to order the linen dress"
answer
R10=$REPLY
wait_sends $C10 1
assert_eq sending "$(sql "SELECT status FROM messages WHERE id = '$R10'")" "recorded as sending before the call"
kill_proc server
start_direkt "${IG_ENV[@]}" || finish
m10=$(sends $C10 "r ->> 'message_id'")
wait_echo "$m10" $((2 * RESTART_MS / 1000 + 20))
wait_status "$R10" sent 20 "the reply whose sender crashed"
assert_eq "$m10" "$(sql "SELECT instagram_mid FROM messages WHERE id = '$R10'")" \
    "reconciled from the echo: the fake's message_id"
assert_eq 1 "$(sends $C10)" "sent once"

log "10. a crash without an echo: failed as unconfirmed, never sent again"
script '[{"hang": true}]'
C10B=7200000000000019
say $C10B "hello, I would like to order the silk scarf"
answer
R10B=$REPLY
wait_sends $C10B 1
kill_proc server
ENV2=("${IG_ENV[@]}" DIREKT_IG_HUMAN_AGENT=1 DIREKT_IG_CONFIRM_MS=1500)
start_direkt "${ENV2[@]}" || finish
# the send job keeps its lease for the call's timeout: the other checks run meanwhile

# ---- 3 (HUMAN_AGENT on) ----
log "3. (restarted with DIREKT_IG_HUMAN_AGENT=1) tagged between 24 h and 7 days, refused after"
op_say "$CONV3B" "Sorry for the wait: the black bag is still available."
wait_status "$OP" sent 20 "the operator message after 2 days, HUMAN_AGENT on"
assert_eq "MESSAGE_TAG|HUMAN_AGENT" "$(sends $C3B "$HOW")" "after 2 days: MESSAGE_TAG with HUMAN_AGENT"
C3C=7200000000000034
say $C3C "hello, any news about my return?" $(($(now_ms) - 8 * DAY))
answer
wait_status "$REPLY" skipped 20 "the bot reply 8 days late"
op_say "$CONV" "We have processed your return."
wait_status "$OP" skipped 20 "the operator message after 8 days"
assert_eq "skipped|skipped: outside the 7-day human agent window" "$(row "$OP")" "8 days: reason"
assert_eq human_agent_7d "$(meta "$OP" '$.policy.rule')" "8 days: the rule"
assert_eq 0 "$(sends $C3C)" "8 days: nothing reached the fake"
C3D=7200000000000035
say $C3D "hello, is the red scarf back in stock?" $(($(now_ms) - 2 * DAY))
answer
wait_status "$REPLY" skipped 20 "a bot reply 2 days late, HUMAN_AGENT on"
assert_eq window_24h "$(meta "$REPLY" '$.policy.rule')" "the bot gets no HUMAN_AGENT tag"
assert_eq "Sorry for the wait: the black bag is still available." \
    "$(fq "r ->> 'kind' = 'send' AND r ->> '\$.body.tag' IS NOT NULL" "$TEXT")" \
    "the one tagged send is the operator's"

# ---- 5 ----
log "5. throttled (613, then 4): the account waits, then the reply goes once"
script '[{"fixture": "error_rate_limit_613.json"}, {"fixture": "error_app_limit_4.json"}]'
C5=7200000000000005
say $C5 "hi, do you ship abroad?"
answer
# the message waits and the account row is throttled, seen in one snapshot
wait_for "SELECT m.status || '|' || COALESCE(m.status_reason, '') || '|' || CASE WHEN a.throttled_until > 0 AND a.throttle_level > 0 THEN 'throttled' ELSE 'not throttled' END FROM messages m LEFT JOIN accounts a ON a.id = '$ACCOUNT' WHERE m.id = '$REPLY'" \
    "pending_send|waiting: Instagram is throttling this account|throttled" 10
wait_status "$REPLY" sent 20 "the throttled reply"
assert_eq "400|400|200" "$(sends $C5 "r ->> 'status'" | paste -sd '|')" "three attempts: 613, 4, ok"
assert_eq 1 "$(sends $C5 "" "$DELIVERED")" "exactly one send delivered"
assert_eq "$(sql "SELECT instagram_mid FROM messages WHERE id = '$REPLY'")" \
    "$(sends $C5 "r ->> 'message_id'" "$DELIVERED")" "the delivered send's message_id"
gaps=$(sends $C5 "r ->> 'at_ms'" | awk 'NR > 1 { printf "%s%d", sep, $1 - prev; sep = " " } { prev = $1 }')
assert_match '^(9[5-9][0-9]|[1-9][0-9]{3,}) (19[5-9][0-9]|[2-9][0-9]{3}|[0-9]{5,})$' "$gaps" \
    "backoff between the attempts: about 1 s, then 2 s (ms)"
assert_eq "0|0" "$(sql "SELECT throttled_until || '|' || throttle_level FROM accounts WHERE id = '$ACCOUNT'")" \
    "the account's throttling cleared after the send"
assert_eq "sent|" "$(row "$REPLY")" "no reason left on the sent reply"

# ---- 6 ----
log "6. a transient server error: retried, sent once"
script '[{"fixture": "error_server_transient.json"}]'
C6=7200000000000006
say $C6 "good morning, do you have gift cards?"
answer
wait_status "$REPLY" sent 20 "the reply after a 500"
assert_eq "500|200" "$(sends $C6 "r ->> 'status'" | paste -sd '|')" "one 500, one success"
assert_eq 1 "$(sends $C6 "" "$DELIVERED")" "exactly one send delivered"
assert_eq 1 "$(meta "$REPLY" '$.send.retries')" "metadata.send.retries"

# ---- 8 ----
log "8. outside the window and user unavailable from Meta: failed, not retried"
script '[{"fixture": "error_outside_window.json"}]'
C8A=7200000000000081
say $C8A "hello, what time do you open?"
answer
wait_status "$REPLY" failed 20 "the reply Meta refused (window)"
assert_match '^failed\|outside the messaging window \(10/2534022\)' "$(row "$REPLY")" \
    "the reason names the window and 10/2534022"
script '[{"fixture": "error_user_unavailable.json"}]'
C8B=7200000000000082
say $C8B "hello, what time do you close?"
answer
wait_status "$REPLY" failed 20 "the reply Meta refused (unavailable)"
assert_match '^failed\|the person cannot be reached \(551/1545041\)' "$(row "$REPLY")" \
    "the reason names 551/1545041"

# ---- 11 ----
log "11. operator messages arrive in order; a long one in parts cut at sentence ends"
C11=7200000000000011
say $C11 "hi, I ordered yesterday"
answer
wait_status "$REPLY" sent
CONV11=$CONV
for w in First Second Third; do
    op_say "$CONV11" "$w: about your order."
done
wait_quiet "$CONV11"
assert_eq "First: about your order.|Second: about your order.|Third: about your order." \
    "$(sends $C11 "$TEXT" "$TEXT LIKE '%: about your order.'" | paste -sd '|')" \
    "three operator messages in the order they were written"
LONG=""
for i in $(seq 1 30); do
    LONG+="${LONG:+ }Sentence $i of the long answer tells the customer one more thing about the order."
done
op_say "$CONV11" "$LONG"
LONG_OP=$OP
wait_quiet "$CONV11"
mapfile -t parts < <(sends $C11 "$TEXT" "$TEXT LIKE 'Sentence %'")
assert_eq "$(sql "SELECT count(*) FROM messages WHERE id = '$LONG_OP' OR $(jx metadata part_of) = '$LONG_OP'")" \
    "${#parts[@]}" "each stored part was sent once"
assert_match '^[3-9]$' "${#parts[@]}" "a ${#LONG}-byte text goes in 3 or more parts"
for p in "${parts[@]}"; do
    [ "$(printf '%s' "$p" | wc -c)" -le 1000 ] || fail "a part is over 1000 bytes: ${#p}"
    assert_match '\.$' "$p" "each part ends at a sentence end"
done
joined=$(printf '%s ' "${parts[@]}")
assert_eq "$LONG" "${joined% }" "the parts, in order, are the whole text"
assert_eq sent "$(sql "SELECT DISTINCT status FROM messages WHERE id = '$LONG_OP' OR $(jx metadata part_of) = '$LONG_OP'")" \
    "every part is sent"

# ---- the end ----
log "10. (end) the crashed send without an echo is failed as unconfirmed"
wait_status "$R10B" failed 90 "the send interrupted without an echo"
assert_match '^failed\|unconfirmed' "$(row "$R10B")" "reason: unconfirmed"
assert_eq 1 "$(sends $C10B)" "never sent twice"

log "every delivered send is one sent message; nothing was retried that should not be"
assert_sent_once "$(sends $C10B "r ->> 'message_id'")"
assert_eq 1 "$(sends $C8A)" "the window refusal was not retried"
assert_eq 1 "$(sends $C8B)" "the unavailable user was not retried"
assert_eq "Sorry for the wait: the black bag is still available." \
    "$(fq "r ->> 'kind' = 'send' AND r ->> '\$.body.tag' IS NOT NULL" "$TEXT")" \
    "still one tagged send, the operator's: no bot reply and no operator message within 24 h"
api GET /api/v1/delivery/stats
assert_eq "4|1|1" "$(json_get "$HTTP_BODY_FILE" '$.refused_by_rule.window_24h')|$(json_get "$HTTP_BODY_FILE" '$.refused_by_rule.human_agent_disabled')|$(json_get "$HTTP_BODY_FILE" '$.refused_by_rule.human_agent_7d')" \
    "stats: refusals by rule (window_24h|human_agent_disabled|human_agent_7d)"
stop_server
finish
