#!/usr/bin/env bash
# test_api: the REST API under /api/v1: auth, lists with bounds and cursors, context, history,
# users, agent tasks, unknown routes and methods; every error in the error format.
# Reply jobs are debounced for 10 minutes here, so they stay queued (visible as agent tasks)
# and no worker changes a conversation while the test pages through them.
. "$(dirname "$0")/lib.sh"

setup_db
start_server DIREKT_REPLY_DEBOUNCE_MS=600000 || finish
API=/api/v1

# ---- data: 7 customers in one delivery (their conversations share updated_at to the
# millisecond: the cursor must break ties), then a conversation with a history ----
entries=""
for i in 1 2 3 4 5 6 7; do
    [ -n "$entries" ] && entries+=", "
    entries+="{\"sender\": {\"id\": \"400000000000000$i\"}, \"recipient\": {\"id\": \"17841405822304914\"}, \"timestamp\": 1764000400000, \"message\": {\"mid\": \"mid-list-$i\", \"text\": \"hello $i\"}}"
done
post_json "{\"object\": \"instagram\", \"entry\": [{\"id\": \"17841405822304914\", \"time\": 1764000400000, \"messaging\": [$entries]}]}"
assert_status 200 "delivery of 7 customers"
sleep 1.1
mid_ts=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1.1
# customer 4000000000000008: 5 messages, two of them at the same millisecond
post_json '{"object": "instagram", "entry": [{"id": "17841405822304914", "time": 1764000500000, "messaging": [
 {"sender": {"id": "4000000000000008"}, "recipient": {"id": "17841405822304914"}, "timestamp": 1764000500001, "message": {"mid": "mid-hist-1", "text": "first"}},
 {"sender": {"id": "4000000000000008"}, "recipient": {"id": "17841405822304914"}, "timestamp": 1764000500002, "message": {"mid": "mid-hist-2", "text": "second"}},
 {"sender": {"id": "4000000000000008"}, "recipient": {"id": "17841405822304914"}, "timestamp": 1764000500003, "message": {"mid": "mid-hist-3", "text": "third"}},
 {"sender": {"id": "4000000000000008"}, "recipient": {"id": "17841405822304914"}, "timestamp": 1764000500003, "message": {"mid": "mid-hist-4", "text": "fourth"}},
 {"sender": {"id": "4000000000000008"}, "recipient": {"id": "17841405822304914"}, "timestamp": 1764000500005, "message": {"mid": "mid-hist-5", "text": "Привет, сколько стоит? 😊"}}]}]}'
assert_status 200 "delivery of a history"
CONV8=$(sql "SELECT CAST(c.id AS TEXT) FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '4000000000000008'")
USER8=$(sql "SELECT id FROM users WHERE instagram_id = '4000000000000008'")
assert_match '^[0-9a-f-]{36}$' "$CONV8" "conversation of the history customer"

# ---- auth ----
log "auth"
http GET "$API/conversations"
assert_status 401 "no token"
assert_error_body "no token" unauthorized
assert_match '^Bearer' "$(header WWW-Authenticate)" "401 names the Bearer scheme"
http GET "$API/conversations" -H "Authorization: Bearer dkt_wrong"
assert_status 401 "wrong token"
assert_error_body "wrong token" unauthorized
http GET "$API/conversations" -H "Authorization: Basic dGVzdDp0ZXN0"
assert_status 401 "basic auth"
assert_error_body "basic auth"
http GET "$API/conversations" -H "Authorization: Bearer"
assert_status 401 "empty bearer"
http GET "$API/conversations" -H "Authorization: Bearer $(api_token)x"
assert_status 401 "token with a suffix"
TOKEN=$(api_token)
assert_match '^[A-Za-z0-9_-]{20,}$' "$TOKEN" "direkt token create prints a token"
http GET "$API/conversations" -H "Authorization: Bearer $TOKEN"
assert_status 200 "stored token"
http GET "$API/conversations" -H "authorization: bearer $TOKEN"
assert_status 200 "scheme and header name are case-insensitive"
assert_eq 0 "$(sql "SELECT count(*) FROM api_tokens WHERE token_sha256 LIKE '%$TOKEN%'")" \
    "the token itself is not stored"
for p in /healthz /readyz; do
    http GET "$p"
    assert_status 200 "$p needs no token"
done

# ---- routing ----
log "routing"
api GET "$API/nope"
assert_status 404 "unknown route"
assert_error_body "unknown route" not_found
http GET "$API/nope"
assert_status 404 "unknown route without a token"
assert_error_body "unknown route without a token" not_found
api POST "$API/conversations" '{}'
assert_status 405 "POST on a GET endpoint"
assert_error_body "POST on a GET endpoint" method_not_allowed
assert_match 'GET' "$(header Allow)" "405 lists the allowed methods"
api DELETE "$API/conversations/$CONV8/context"
assert_status 405 "DELETE on context"
assert_error_body "DELETE on context"
assert_match 'GET.*PUT|PUT.*GET' "$(header Allow)" "405 on context allows GET and PUT"
http DELETE /webhooks/instagram/messages
assert_status 405 "DELETE on the webhook"
assert_error_body "DELETE on the webhook"

# ---- conversation list: limits, filters, cursor ----
log "conversation list"
api GET "$API/conversations"
assert_status 200 "list"
assert_eq 8 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "8 conversations listed"
assert_eq "" "$(json_get "$HTTP_BODY_FILE" '$.next_cursor')" "no next cursor on the last page"
assert_eq 4000000000000008 "$(json_get "$HTTP_BODY_FILE" '$.data[0].instagram_id')" \
    "most recently updated first"
for q in "limit=0" "limit=201" "limit=-1" "limit=abc" "limit=" "limit=1e3" "cursor=" \
    "cursor=garbage" "cursor=1~zz" "updated_since=yesterday" "updated_since=2026-13-45T00:00:00Z" "status="; do
    api GET "$API/conversations?$q"
    assert_status 422 "list with $q"
    assert_error_body "list with $q" invalid_field
done
# a cursor we did not make, but of the right form: no match (200) or refused (422), never a 500
for c in 1~abc 1~0 99999999999999~ffffffff-ffff-ffff-ffff-ffffffffffff-; do
    api GET "$API/conversations?cursor=$c"
    assert_match '^(200|422)$' "$HTTP_STATUS" "list with the forged cursor $c (body: ${HTTP_BODY:0:200})"
    [ "$HTTP_STATUS" == 200 ] || assert_error_body "list with the forged cursor $c"
done
api GET "$API/conversations?limit=200"
assert_status 200 "limit=200 is allowed"
api GET "$API/conversations?limit=1"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "limit=1 gives one"

# page through 8 conversations 3 at a time: each exactly once, newest first
seen=""
cursor=""
pages=0
while :; do
    api GET "$API/conversations?limit=3${cursor:+&cursor=$cursor}"
    assert_status 200 "page $((pages + 1))" || break
    pages=$((pages + 1))
    seen+=$(json_list "$HTTP_BODY_FILE" '$.data' id)$'\n'
    n=$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')
    cursor=$(json_get "$HTTP_BODY_FILE" '$.next_cursor')
    [ -n "$cursor" ] || break
    [ "$n" == 3 ] || fail "a page with a next cursor has 3 items: got $n"
    [ $pages -lt 10 ] || {
        fail "paging does not end"
        break
    }
done
assert_eq 3 "$pages" "8 conversations in pages of 3"
all=$(sql "SELECT CAST(id AS TEXT) FROM conversations ORDER BY id")
assert_eq "$all" "$(echo "$seen" | grep . | sort)" "paging returns every conversation exactly once"
cursor_dupes=$(echo "$seen" | grep . | sort | uniq -d)
assert_eq "" "$cursor_dupes" "no conversation on two pages"

# filters
api GET "$API/conversations?status=active"
assert_eq 8 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "status=active"
sql "UPDATE conversations SET status = 'closed' WHERE id = (SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '4000000000000003')" >/dev/null
api GET "$API/conversations?status=closed"
assert_status 200 "status=closed"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "one closed conversation"
assert_eq 4000000000000003 "$(json_get "$HTTP_BODY_FILE" '$.data[0].instagram_id')" "the closed one"
api GET "$API/conversations?status=active"
assert_eq 7 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "7 still active"
api GET "$API/conversations?status=nonexistent"
assert_eq 0 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "an unknown status lists none"
api GET "$API/conversations?updated_since=2000-01-01T00:00:00Z"
assert_eq 8 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "updated_since long ago"
api GET "$API/conversations?updated_since=2999-01-01T00:00:00Z"
assert_status 200 "updated_since in the future"
assert_eq 0 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "updated_since in the future"
api GET "$API/conversations?updated_since=$mid_ts"
assert_eq 1 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" \
    "updated_since between the two deliveries ($mid_ts)"
api GET "$API/conversations?updated_since=$mid_ts&status=active&limit=5"
assert_eq 4000000000000008 "$(json_get "$HTTP_BODY_FILE" '$.data[0].instagram_id')" "filters combine"

# ---- one conversation, its context ----
log "context"
api GET "$API/conversations/$CONV8"
assert_status 200 "get conversation"
assert_eq "$CONV8" "$(json_get "$HTTP_BODY_FILE" '$.id')" "conversation id"
api GET "$API/conversations/$CONV8/context"
assert_status 200 "get context"
assert_eq object "$(json_get "$HTTP_BODY_FILE" 'json_type($.context)')" "context is an object"
ctx='{"context": {"stage": "quote", "name": "Мария 😊", "cart": [1, 2, {"sku": "A-1"}], "vip": true}}'
api PUT "$API/conversations/$CONV8/context" "$ctx"
assert_status 200 "put context"
api GET "$API/conversations/$CONV8/context"
assert_status 200 "get context after put"
assert_eq "quote|Мария 😊|A-1|1|$CONV8" \
    "$(json_get "$HTTP_BODY_FILE" '$.context.stage')|$(json_get "$HTTP_BODY_FILE" '$.context.name')|$(json_get "$HTTP_BODY_FILE" '$.context.cart[2].sku')|$(json_get "$HTTP_BODY_FILE" '$.context.vip')|$(json_get "$HTTP_BODY_FILE" '$.conversation_id')" \
    "context round trip"
api PUT "$API/conversations/$CONV8/context" '{"context": {}}'
assert_status 200 "put an empty context"
api GET "$API/conversations/$CONV8/context"
assert_eq "{}" "$(json_get "$HTTP_BODY_FILE" '$.context')" "the context is replaced, not merged"
api PUT "$API/conversations/$CONV8/context" "$ctx"

# body|status|error code
while IFS='|' read -r body status code; do
    [ -n "$status" ] || continue
    api PUT "$API/conversations/$CONV8/context" "$body"
    assert_status "$status" "put context $body"
    assert_error_body "put context $body" "$code"
done <<'EOF'
{"context": {"a": 1}|400|invalid_request
not json|400|invalid_request
{"context": {"a": 1}, "context": {"b": 2}}|400|invalid_request
{"context": [1, 2]}|422|invalid_field
{"context": "text"}|422|invalid_field
{"context": null}|422|invalid_field
{"other": {}}|422|invalid_field
[{"context": {}}]|422|invalid_field
EOF
api PUT "$API/conversations/$CONV8/context" ''
assert_status 422 "put context with an empty body"
assert_error_body "put context with an empty body"
api GET "$API/conversations/$CONV8/context"
assert_eq quote "$(json_get "$HTTP_BODY_FILE" '$.context.stage')" "failed puts changed nothing"
http PUT "$API/conversations/$CONV8/context" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: text/plain' --data-binary '{"context": {}}'
assert_status 415 "put context as text/plain"
assert_error_body "put context as text/plain"
{
    printf '{"context": {"pad": "'
    head -c $((64 * 1024)) /dev/zero | tr '\0' 'x'
    printf '"}}'
} >"$TEST_TMP/big_ctx.json"
http PUT "$API/conversations/$CONV8/context" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$TEST_TMP/big_ctx.json"
assert_status 413 "put context over 64 KiB"
assert_error_body "put context over 64 KiB" payload_too_large
unknown=01234567-89ab-7cde-8f01-23456789abcd
for path in "conversations/$unknown" "conversations/$unknown/context" "conversations/$unknown/history" \
    "conversations/not-a-uuid" "conversations/not-a-uuid/context" "conversations/not-a-uuid/history" \
    "conversations/$unknown/events" "conversations/%27%20OR%201=1--/context"; do
    api GET "$API/$path"
    assert_status 404 "GET $path"
    assert_error_body "GET $path" not_found
done
api PUT "$API/conversations/$unknown/context" '{"context": {"a": 1}}'
assert_status 404 "put context of an unknown conversation"
assert_error_body "put context of an unknown conversation" not_found
api PUT "$API/conversations/not-a-uuid/context" '{"context": {"a": 1}}'
assert_status 404 "put context of a non-uuid id"
assert_eq 0 "$(sql "SELECT count(*) FROM conversations WHERE CAST(context AS TEXT) LIKE '%\"a\"%'")" \
    "404s changed nothing"

# ---- history ----
log "history"
api GET "$API/conversations/$CONV8/history"
assert_status 200 "history"
# messages at the same millisecond are ordered by id
HIST_ORDER=$(sql "SELECT instagram_mid FROM messages WHERE conversation_id = '$CONV8' ORDER BY created_at DESC, id DESC" | tr '\n' ' ' | sed 's/ $//')
assert_match '^mid-hist-5 mid-hist-[34] mid-hist-[34] mid-hist-2 mid-hist-1$' "$HIST_ORDER" "history order in the database"
assert_eq "$HIST_ORDER" \
    "$(json_list "$HTTP_BODY_FILE" '$.data' instagram_mid | grep -v '^$' | tr '\n' ' ' | sed 's/ $//')" \
    "history newest first (ties by id)"
assert_eq "Привет, сколько стоит? 😊" "$(json_get "$HTTP_BODY_FILE" '$.data[0].content')" "content in UTF-8"
assert_eq "user|text" "$(json_get "$HTTP_BODY_FILE" '$.data[0].sender_type')|$(json_get "$HTTP_BODY_FILE" '$.data[0].message_type')" \
    "message fields"
assert_match '^2025-11-24T16:08:20\.005Z$' "$(json_get "$HTTP_BODY_FILE" '$.data[0].created_at')" \
    "created_at in RFC 3339 UTC from the webhook timestamp"
got=""
cursor=""
pages=0
while :; do
    api GET "$API/conversations/$CONV8/history?limit=2${cursor:+&cursor=$cursor}"
    assert_status 200 "history page" || break
    pages=$((pages + 1))
    got+=$(json_list "$HTTP_BODY_FILE" '$.data' instagram_mid | tr '\n' ' ')
    cursor=$(json_get "$HTTP_BODY_FILE" '$.next_cursor')
    [ -n "$cursor" ] && [ $pages -lt 10 ] || break
done
assert_eq "$HIST_ORDER" "$(echo $got)" \
    "history paged by 2: every message once, newest first"
assert_eq 3 "$pages" "5 messages in pages of 2"
for q in limit=0 limit=201 cursor=bad; do
    api GET "$API/conversations/$CONV8/history?$q"
    assert_status 422 "history with $q"
    assert_error_body "history with $q" invalid_field
done
api GET "$API/conversations/$CONV8/events"
assert_status 200 "events of a conversation"

# ---- users ----
log "users"
api GET "$API/users/4000000000000008/profile"
assert_status 200 "profile"
assert_eq "4000000000000008|$USER8" \
    "$(json_get "$HTTP_BODY_FILE" '$.instagram_id')|$(json_get "$HTTP_BODY_FILE" '$.id')" "profile ids"
api GET "$API/users/999999999999/profile"
assert_status 404 "profile of an unknown user"
assert_error_body "profile of an unknown user" not_found

api PUT "$API/users/$USER8/preferences" '{"preferences": {"language": "ru", "channel": "dm", "опт": "да"}}'
assert_status 200 "put preferences"
assert_eq "ru|да" "$(json_get "$HTTP_BODY_FILE" '$.preferences.language')|$(json_get "$HTTP_BODY_FILE" '$.preferences.опт')" \
    "put preferences answers the user"
api GET "$API/users/4000000000000008/profile"
assert_eq dm "$(json_get "$HTTP_BODY_FILE" '$.preferences.channel')" "profile shows the preferences"
while IFS='|' read -r path body status code; do
    [ -n "$path" ] || continue
    path=${path//@USER8@/$USER8}
    api PUT "$API/users/$path/preferences" "$body"
    assert_status "$status" "put preferences of $path: $body"
    assert_error_body "put preferences of $path: $body" "$code"
done <<'EOF'
999999|{"preferences": {"a": 1}}|404|not_found
abc|{"preferences": {"a": 1}}|404|not_found
0|{"preferences": {"a": 1}}|404|not_found
-1|{"preferences": {"a": 1}}|404|not_found
@USER8@|{"preferences": [1]}|422|invalid_field
@USER8@|{"prefs": {}}|422|invalid_field
@USER8@|{"preferences": |400|invalid_request
EOF
api PUT "$API/users/$USER8/preferences" '{"preferences": [1]}'
assert_status 422 "put preferences that are not an object"
api GET "$API/users/4000000000000008/profile"
assert_eq ru "$(json_get "$HTTP_BODY_FILE" '$.preferences.language')" "failed puts changed nothing"

api GET "$API/users/$USER8/conversation-history"
assert_status 200 "conversation history of a user"
assert_eq "4000000000000008|1|$CONV8|5" \
    "$(json_get "$HTTP_BODY_FILE" '$.user.instagram_id')|$(json_get "$HTTP_BODY_FILE" 'json_array_length($.conversations)')|$(json_get "$HTTP_BODY_FILE" '$.conversations[0].id')|$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" \
    "user, conversations and messages"
assert_eq mid-hist-5 "$(json_get "$HTTP_BODY_FILE" '$.data[0].instagram_mid')" "newest first"
api GET "$API/users/$USER8/conversation-history?limit=3"
assert_eq 3 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "limit=3"
cursor=$(json_get "$HTTP_BODY_FILE" '$.next_cursor')
assert_ne "" "$cursor" "next cursor"
api GET "$API/users/$USER8/conversation-history?limit=3&cursor=$cursor"
assert_eq "mid-hist-2 mid-hist-1" "$(json_list "$HTTP_BODY_FILE" '$.data' instagram_mid | tr '\n' ' ' | sed 's/ $//')" \
    "second page"
for p in 999999 abc; do
    api GET "$API/users/$p/conversation-history"
    assert_status 404 "conversation history of user $p"
    assert_error_body "conversation history of user $p" not_found
done
api GET "$API/users/$USER8/conversation-history?limit=0"
assert_status 422 "conversation history with limit=0"

# ---- agent tasks: the debounced reply jobs, queued ----
log "agent tasks"
api GET "$API/agent/tasks/active"
assert_status 200 "active tasks"
n=$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')
assert_eq 8 "$n" "one queued reply job per conversation"
found=0
for i in $(seq 0 $((n - 1))); do
    if [ "$(json_get "$HTTP_BODY_FILE" "\$.data[$i].payload.conversation_id")" == "$CONV8" ]; then
        found=1
        assert_eq "reply|queued|0|5|reply:$CONV8" \
            "$(json_get "$HTTP_BODY_FILE" "\$.data[$i].kind")|$(json_get "$HTTP_BODY_FILE" "\$.data[$i].status")|$(json_get "$HTTP_BODY_FILE" "\$.data[$i].attempts")|$(json_get "$HTTP_BODY_FILE" "\$.data[$i].max_attempts")|$(json_get "$HTTP_BODY_FILE" "\$.data[$i].unique_key")" \
            "the reply job of the history conversation"
        assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(json_get "$HTTP_BODY_FILE" "\$.data[$i].run_at")" \
            "run_at in RFC 3339"
    fi
done
assert_eq 1 "$found" "the history conversation's reply job is listed"
api GET "$API/agent/tasks/active?limit=2"
assert_eq 2 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "tasks limit=2"
api GET "$API/agent/tasks/active?limit=0"
assert_status 422 "tasks limit=0"
assert_error_body "tasks limit=0" invalid_field
http GET "$API/agent/tasks/active"
assert_status 401 "tasks without a token"

# ---- DIREKT_API_TOKEN ----
log "DIREKT_API_TOKEN"
stop_server
start_server DIREKT_REPLY_DEBOUNCE_MS=600000 DIREKT_API_TOKEN=static-token-for-automation-123 || finish
http GET "$API/conversations?limit=1" -H "Authorization: Bearer static-token-for-automation-123"
assert_status 200 "DIREKT_API_TOKEN is accepted"
http GET "$API/conversations?limit=1" -H "Authorization: Bearer static-token-for-automation-12"
assert_status 401 "a prefix of DIREKT_API_TOKEN is not"
http GET "$API/conversations?limit=1" -H "Authorization: Bearer $TOKEN"
assert_status 200 "stored tokens still work alongside DIREKT_API_TOKEN"
stop_server
finish
