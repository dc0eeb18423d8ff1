#!/usr/bin/env bash
# test_instagram_rules: conversation control, events, comments and accounts through the real
# binary, against the fake Graph API that echoes every send back to direkt (lib_instagram.sh):
#  4 an operator message, /pause and a person answering in the app (an echo nobody sent) stop
#    the bot; /resume starts it again
#  9 comment "PRICE" → one private reply (recipient.comment_id), however often Meta delivers it
# 14 story mention, quick-reply payload, reaction/unreaction, referral, hand-over to a person
# 12 one delivery for two accounts and three customers: each reply from its own account
# 13 an entry for an account that is not registered is kept, not processed
#  7 an expired token: the account needs_reauth, its sends wait; `direkt account add` with a new
#    token resumes them
# Sending under Meta's rules and its errors: test_instagram.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_instagram.sh"

setup_db

ACCOUNT2=17841400000000002     # a second account (check 12)
ACCOUNT3=17841400000000003     # never registered (check 13)
TOK_A="tok-a-$RANDOM"          # ACCOUNT's stored token (check 7 lets it expire)
TOK_B="tok-b-$RANDOM"          # ACCOUNT's new token
TOK_2="tok-2-$RANDOM"          # ACCOUNT2's token
FIX_MENTIONER=5981206525237013 # the customer of the story mention, comment and referral
COMMENT=17865799348089039      # comment.json's comment

start_direkt "${IG_ENV[@]}" || finish

# ---- 4 ----
log "4. an operator message, /pause and a person in the app stop the bot; /resume starts it"
C4=7200000000000004
say $C4 "hello!"
answer
wait_status "$REPLY" sent
CONV4=$CONV
op_say "$CONV4" "Hi, Boris here, I will take it from here."
assert_ne "" "$(json_get "$HTTP_BODY_FILE" '$.bot_paused_until')" "the answer says until when the bot pauses"
assert_ne "" "$(sql "SELECT bot_paused_until FROM conversations WHERE id = '$CONV4'")" \
    "bot_paused_until is set"
wait_status "$OP" sent
say $C4 "great, and how much is delivery?"
answer
assert_eq "" "$REPLY" "no bot reply while an operator answers"
assert_eq "bot paused in this conversation" \
    "$(sql "SELECT $(jx context last_skip_reason) FROM conversations WHERE id = '$CONV4'")" \
    "context.last_skip_reason"
api POST "/api/v1/conversations/$CONV4/resume" '{}'
assert_status 200 "resume"
assert_eq "" "$(sql "SELECT bot_paused_until FROM conversations WHERE id = '$CONV4'")" \
    "resume clears bot_paused_until"
say $C4 "how much is delivery to Berlin?"
answer
assert_ne "" "$REPLY" "the bot answers after /resume"
wait_status "$REPLY" sent
api POST "/api/v1/conversations/$CONV4/pause" '{"minutes": 5}'
assert_status 200 "pause"
assert_ne "" "$(sql "SELECT bot_paused_until FROM conversations WHERE id = '$CONV4'")" "paused"
say $C4 "hello? anyone?"
answer
assert_eq "" "$REPLY" "no bot reply after /pause"
api POST "/api/v1/conversations/$CONV4/resume" '{}'
assert_status 200 "resume again"
wait_quiet "$CONV4"
echo_mid="human-echo-$RANDOM$RANDOM"
post_json "$(fixture message_echo '$.entry[0].messaging[0].recipient.id' "'$C4'" \
    '$.entry[0].messaging[0].message.mid' "'$echo_mid'" \
    '$.entry[0].messaging[0].message.text' "'Hi, it is Anna from the shop, I will answer you myself'")"
assert_status 200 "an echo of a message typed in the Instagram app"
assert_eq "agent|sent" "$(sql "SELECT sender_type || '|' || status FROM messages WHERE instagram_mid = '$echo_mid'")" \
    "the person's message is stored"
assert_ne "" "$(sql "SELECT bot_paused_until FROM conversations WHERE id = '$CONV4'")" \
    "a person answering in the app pauses the bot"
bots4=$(bots "$CONV4")
say $C4 "thanks Anna"
answer
assert_eq "" "$REPLY" "no bot reply after the person's echo"
assert_eq "$bots4" "$(bots "$CONV4")" "no bot message after the person's echo"

# ---- 9 ----
log "9. comment PRICE: one private reply, however often the comment arrives"
PRICE_LIST="Our price list: linen dress 49 EUR, silk scarf 19 EUR, black bag 89 EUR."
api POST /api/v1/comment-rules "{\"keyword\": \"PRICE\", \"reply\": \"$PRICE_LIST\"}"
assert_status 201 "comment rule"
fixture comment >"$TEST_TMP/comment.json"
post_file "$TEST_TMP/comment.json"
assert_status 200 "comment.json"
PR=$(sql "SELECT id FROM messages WHERE $(jx metadata comment_id) = '$COMMENT'")
assert_ne "" "$PR" "the private reply is stored"
wait_status "$PR" sent 20 "the private reply"
PRIVATE="r ->> 'kind' = 'send' AND r ->> '\$.body.recipient.comment_id' = '$COMMENT'"
assert_eq "$PRICE_LIST|-" "$(fq "$PRIVATE" "$TEXT || '|' || COALESCE(r ->> '\$.body.recipient.id', '-')")" \
    "one private reply, to recipient.comment_id"
assert_eq "$(sql "SELECT instagram_mid FROM messages WHERE id = '$PR'")" "$(fq "$PRIVATE" "r ->> 'message_id'")" \
    "the private reply keeps the fake's message_id"
post_file "$TEST_TMP/comment.json"
assert_status 200 "comment.json again"
post_json "$(fixture comment '$.entry[0].time' "$(($(now_ms) + 1500))")"
assert_status 200 "the comment in a new delivery"
wait_quiet
assert_eq 1 "$(fq "$PRIVATE")" "still one private reply at the fake"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE $(jx metadata comment_id) = '$COMMENT'")" \
    "still one private reply stored"
assert_eq 1 "$(sql "SELECT count(*) FROM comment_replies WHERE comment_id = '$COMMENT'")" "one claim"
post_json "$(fixture comment '$.entry[0].changes[0].value.id' "'17865799348089077'" \
    '$.entry[0].changes[0].value.text' "'lovely colours!'")"
assert_status 200 "a comment without the keyword"
assert_eq 1 "$(sql "SELECT count(*) FROM message_events WHERE kind = 'comment' AND message_mid = '17865799348089077'")" \
    "the comment is recorded"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE $(jx metadata comment_id) = '17865799348089077'")" \
    "no reply to a comment without the keyword"

# ---- 14 ----
log "14. story mention, quick reply, reaction, referral, hand-over"
post_json "$(fixture message_story_mention)"
assert_status 200 "story mention"
MID=aWdfZAG1faXRlbTpTdG9yeU1lbnRpb24ZDZD
answer
wait_status "$REPLY" sent 20 "the answer to the story mention"
assert_eq "story_mention|story_mention" \
    "$(sql "SELECT m.message_type || '|' || b.intent FROM messages m, messages b WHERE m.instagram_mid = '$MID' AND b.id = '$REPLY'")" \
    "stored as a story mention, answered with its intent"
assert_contains 17889455560051444 "$(sql "SELECT metadata FROM messages WHERE instagram_mid = '$MID'")" \
    "the story reference is kept"
assert_match '^Thank you for mentioning us in your story' \
    "$(sql "SELECT content FROM messages WHERE id = '$REPLY'")" "the story_mention template, not the greeting"
assert_eq 1 "$(sends $FIX_MENTIONER "" "$TEXT LIKE 'Thank you for mentioning%'")" "the fake got it"

assert_eq INTENT_DELIVERY "$(json_get "$IG_FIXTURES/message_quick_reply.json" '$.entry[0].messaging[0].message.quick_reply.payload')" \
    "the fixture's quick-reply payload names an intent"
post_json "$(fixture message_quick_reply)"
assert_status 200 "quick reply"
MID=aWdfZAG1faXRlbTpRdWlja1JlcGx5ZDZD
answer
wait_status "$REPLY" sent 20 "the answer to the quick reply"
QR_REPLY=$REPLY
assert_eq delivery "$(sql "SELECT intent FROM messages WHERE id = '$REPLY'")" "the payload's intent"
assert_match '^We deliver' "$(sql "SELECT content FROM messages WHERE id = '$REPLY'")" "the delivery template"

qr_mid=$(sql "SELECT instagram_mid FROM messages WHERE id = '$QR_REPLY'")
post_json "$(fixture reaction '$.entry[0].messaging[0].reaction.mid' "'$qr_mid'")"
assert_status 200 "reaction"
assert_eq "love|❤️" "$(meta "$QR_REPLY" '$.feedback.reaction')|$(meta "$QR_REPLY" '$.feedback.emoji')" \
    "the reaction is feedback on the bot message"
post_json "$(fixture unreaction '$.entry[0].messaging[0].reaction.mid' "'$qr_mid'")"
assert_status 200 "unreaction"
assert_match '^(null)?$' "$(meta "$QR_REPLY" 'json_type($.feedback)')" "the unreaction removes it"

post_json "$(fixture referral_igme)"
assert_status 200 "referral"
assert_eq "autumn_sale|IGME_LINK" \
    "$(sql "SELECT $(jx referral ref) || '|' || $(jx referral source) FROM conversations WHERE id = '$(conv_of $FIX_MENTIONER)'")" \
    "the referral is recorded on the conversation"

C14=7200000000000014
say $C14 "I want to talk to a human"
answer
wait_status "$REPLY" sent 20 "the hand-over reply"
CONV14=$CONV
assert_eq needs_human "$(sql "SELECT status FROM conversations WHERE id = '$CONV14'")" "needs_human"
assert_eq "human_request|1" "$(sql "SELECT intent FROM messages WHERE id = '$REPLY'")|$(meta "$REPLY" '$.handover')" \
    "the hand-over reply"
assert_eq 1 "$(sends $C14)" "the hand-over reply reached the fake"
say $C14 "hello?"
answer
assert_eq "" "$REPLY" "the bot is silent while a person is awaited"
assert_eq "conversation waits for a person" \
    "$(sql "SELECT $(jx context last_skip_reason) FROM conversations WHERE id = '$CONV14'")" \
    "context.last_skip_reason"
api POST "/api/v1/conversations/$CONV14/resume" '{}'
assert_status 200 "resume"
assert_eq active "$(sql "SELECT status FROM conversations WHERE id = '$CONV14'")" "active again"
say $C14 "what are your opening hours?"
answer
assert_ne "" "$REPLY" "the bot answers after /resume"
wait_status "$REPLY" sent

# ---- 12, 13, 7: registered accounts ----
log "12. one delivery, two accounts, three customers"
direkt DIREKT_SECRET_KEY="$KEY" account add --id "$ACCOUNT" --token "$TOK_A" >/dev/null ||
    fail "account add $ACCOUNT"
direkt DIREKT_SECRET_KEY="$KEY" account add --id "$ACCOUNT2" --token "$TOK_2" >/dev/null ||
    fail "account add $ACCOUNT2"
CA=7200000000000121
CB=7200000000000122
CC=7200000000000123
M='$.entry[0].messaging'
post_json "$(fixture message_batched "${M}[0].sender.id" "'$CA'" "${M}[0].message.mid" "'mid-b1-$RANDOM'" \
    "${M}[1].sender.id" "'$CA'" "${M}[1].message.mid" "'mid-b2-$RANDOM'" \
    "${M}[#]" "json_object('sender', json_object('id', '$CB'), 'recipient', json_object('id', '$ACCOUNT'), 'timestamp', $(now_ms), 'message', json_object('mid', 'mid-b3-$RANDOM', 'text', 'hi, do you deliver to Lyon?'))" \
    '$.entry[1].id' "'$ACCOUNT2'" '$.entry[1].messaging[0].recipient.id' "'$ACCOUNT2'" \
    '$.entry[1].messaging[0].sender.id' "'$CC'" '$.entry[1].messaging[0].message.mid' "'mid-b4-$RANDOM'")"
assert_status 200 "the batched delivery"
for c in $CA $CB; do
    wait_sends $c 1
    assert_eq "/v25.0/$ACCOUNT/messages|$TOK_A" "$(sends $c "(r ->> 'path') || '|' || (r ->> 'auth')")" \
        "$c's reply from $ACCOUNT with its token"
done
wait_sends $CC 1
assert_eq "/v25.0/$ACCOUNT2/messages|$TOK_2" "$(sends $CC "(r ->> 'path') || '|' || (r ->> 'auth')")" \
    "$CC's reply from $ACCOUNT2 with its token"
assert_eq 2 "$(json_of "$(sql "SELECT metadata FROM messages WHERE sender_type = 'bot' AND conversation_id = '$(conv_of $CA)'")" 'json_array_length($.in_reply_to)')" \
    "one reply answers both of the first customer's messages"
assert_eq "$CC" "$(sql "SELECT u.instagram_id FROM conversations c JOIN users u ON u.id = c.user_id WHERE c.account_id = '$ACCOUNT2'")" \
    "the second account's conversation"
wait_for "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = c.user_id WHERE m.sender_type = 'bot' AND m.status = 'sent' AND u.instagram_id IN ('$CA', '$CB', '$CC')" 3

log "13. an entry for an account that is not registered is kept, not processed"
CU=7200000000000131
post_json "$(fixture message_text '$.entry[0].id' "'$ACCOUNT3'" \
    '$.entry[0].messaging[0].recipient.id' "'$ACCOUNT3'" '$.entry[0].messaging[0].sender.id' "'$CU'" \
    '$.entry[0].messaging[0].message.mid' "'mid-unknown-$RANDOM'")"
assert_status 200 "an entry for an unknown account"
assert_eq 1 "$(sql "SELECT count(*) FROM webhook_events WHERE CAST(payload AS TEXT) LIKE '%$ACCOUNT3%'")" \
    "the delivery is stored"
assert_eq 1 "$(sql "SELECT count(*) FROM message_events WHERE kind = 'unknown_account'")" \
    "recorded as unknown_account"
assert_eq "0|0" "$(sql "SELECT (SELECT count(*) FROM conversations WHERE account_id = '$ACCOUNT3') || '|' || (SELECT count(*) FROM users WHERE instagram_id = '$CU')")" \
    "neither a conversation nor a user for the unknown account's customer (conversations|users)"

log "7. an expired token: the account needs re-authentication, its sends wait, then resume"
fake POST /_tokens "{\"valid\": [\"$TOK_B\", \"$TOK_2\", \"$TOKEN\"]}" >/dev/null # TOK_A expired
C7=7200000000000007
say $C7 "hello, is the linen dress in stock?"
answer
R7=$REPLY
wait_for "SELECT status || '|' || COALESCE(status_reason, '') FROM messages WHERE id = '$R7'" \
    "pending_send|waiting: account needs re-authentication" 20
assert_eq "400|$TOK_A" "$(sends $C7 "(r ->> 'status') || '|' || (r ->> 'auth')")" \
    "one refused send with the old token"
assert_eq needs_reauth "$(sql "SELECT status FROM accounts WHERE id = '$ACCOUNT'")" "the account row"
api GET /api/v1/accounts
assert_status 200 "accounts"
acct=$(sqlite3 -batch :memory: "SELECT (value ->> 'status') || '|' || (value ->> 'status_reason') FROM json_each(CAST(readfile('$HTTP_BODY_FILE') AS TEXT), '\$.data') WHERE value ->> 'id' = '$ACCOUNT'")
assert_match '^needs_reauth\|.*190/463' "$acct" "operators see needs_reauth and why"
say $C7 "hello? is anyone there?"
answer
R7B=$REPLY
C7B=7200000000000071
say $C7B "good evening, do you sell gift cards?"
answer
R7C=$REPLY
wait_for "SELECT status FROM messages WHERE id IN ('$R7B', '$R7C') GROUP BY status" pending_send
assert_eq 1 "$(sends $C7)" "later replies wait: nothing more sent"
assert_eq 0 "$(sends $C7B)" "the account's other conversations wait"
direkt DIREKT_SECRET_KEY="$KEY" account add --id "$ACCOUNT" --token "$TOK_B" >"$TEST_TMP/readd.out" ||
    fail "account add with a new token"
assert_eq "account $ACCOUNT updated (was needs_reauth: sends resume)" "$(head -n 1 "$TEST_TMP/readd.out")" \
    "re-add output"
assert_eq active "$(sql "SELECT status FROM accounts WHERE id = '$ACCOUNT'")" "active again"
if ! wait_for "SELECT count(*) FROM messages WHERE id IN ('$R7', '$R7B', '$R7C') AND status = 'sent'" 3 15; then
    fail "after \`direkt account add\` with a new token the waiting replies were not sent:"$'\n'"$(sql "SELECT id, status, status_reason FROM messages WHERE id IN ('$R7', '$R7B', '$R7C')")"
fi
assert_eq "400|$TOK_A 200|$TOK_B 200|$TOK_B" "$(sends $C7 "(r ->> 'status') || '|' || (r ->> 'auth')" | paste -sd ' ')" \
    "after the re-add: the waiting replies once each, with the new token"
assert_eq "$(sql "SELECT content FROM messages WHERE id = '$R7'")" "$(sends $C7 "$TEXT" "$DELIVERED" | head -n 1)" \
    "in order: the first reply first"

log "every delivered send is one sent message"
assert_sent_once
assert_eq 0 "$(sends $CU)" "nothing to the unknown account's customer"
stop_server
finish
