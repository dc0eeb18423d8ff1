#!/usr/bin/env bash
# test_import: `direkt import` and the profile endpoint against the fake Graph API
# (tests/fake/fake_graph.mjs): three conversations over two pages are imported (users,
# conversations, messages with their mids and times; customer messages "imported", never
# answered), paced under the fake's 2 calls/s limit; a second run imports nothing ("already
# imported"); --restart goes again through a throttling answer without duplicating anything; an
# import stopped by a token error on its second page exits 1, marks the account needs_reauth,
# and the next run continues from the stored page without fetching the first one again.
# GET /users/{igsid}/profile: no token (stored data, or 409 with ?refresh=true), a first call
# fetches, a second is served from the cache, ?refresh=true fetches again, an unknown user is
# 404, a token error is 502 and marks the account needs_reauth.
. "$(dirname "$0")/lib.sh"

ACCOUNT=17841405822304914 # the fake's /me
TOKEN=tok-import
SECRET_KEY=$(openssl rand -hex 32)
C1=7100000000000001
C2=7100000000000002
C3=7100000000000003

start_fake fake fake_graph.mjs --fixtures "$IG_FIXTURES" || finish
FAKE=$FAKE_URL

fake() { # METHOD PATH [JSON]
    curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$FAKE$2"
}
# the fake's recorded requests of a kind ("" for all) into $TEST_TMP/requests.json
requests() {
    fake GET "/_requests${1:+?kind=$1}" >"$TEST_TMP/requests.json"
}
nrequests() { # KIND
    requests "$1"
    json_get "$TEST_TMP/requests.json" 'json_array_length($)'
}

# one message of the fake's store: ID TIME FROM TO [TEXT]
msg() {
    local text=""
    [ $# -ge 5 ] && text=", \"message\": \"$5\""
    printf '{"id": "%s", "created_time": "%s", "from": {"id": "%s", "username": "%s"}, "to": {"data": [{"id": "%s", "username": "%s"}]}%s}' \
        "$1" "$2" "$3" "u$3" "$4" "u$4" "$text"
}
load_conversations() {
    local out
    out=$(fake POST /_conversations "{\"account\": \"$ACCOUNT\", \"page_size\": 2, \"conversations\": [
 {\"id\": \"conv-imp-1\", \"updated_time\": \"2026-11-20T10:03:00+0000\", \"messages\": [
   $(msg mid-imp-1a 2026-11-20T10:00:00+0000 $C1 $ACCOUNT 'is the linen dress in stock?'),
   $(msg mid-imp-1b 2026-11-20T10:01:00+0000 $ACCOUNT $C1 'yes, in every size'),
   $(msg mid-imp-1c 2026-11-20T10:03:00+0000 $C1 $ACCOUNT 'great, thanks')]},
 {\"id\": \"conv-imp-2\", \"updated_time\": \"2026-11-19T09:00:00+0000\", \"messages\": [
   $(msg mid-imp-2a 2026-11-19T08:00:00+0000 $C2 $ACCOUNT 'привет! доставка в Казань?'),
   $(msg mid-imp-2b 2026-11-19T09:00:00+0000 $ACCOUNT $C2 'да, 2-3 дня')]},
 {\"id\": \"conv-imp-3\", \"updated_time\": \"2026-11-18T12:00:00+0000\", \"messages\": [
   $(msg mid-imp-3a 2026-11-18T11:00:00+0000 $C3 $ACCOUNT 'hello'),
   $(msg mid-imp-3b 2026-11-18T11:30:00+0000 $C3 $ACCOUNT),
   $(msg mid-imp-3c 2026-11-18T12:00:00+0000 $ACCOUNT $C3 'hi! how can I help?')]}]
}
")
    assert_contains '"conversations":3' "$out" "the fake took the conversations"
}

# run_import [ARGS…]: runs direkt import against the fake; sets OUT, ERR, EXIT
run_import() {
    direkt IG_GRAPH_URL="$FAKE" IG_ACCESS_TOKEN="$TOKEN" DIREKT_SECRET_KEY="$SECRET_KEY" \
        import --account "$ACCOUNT" "$@" >"$TEST_TMP/import.out" 2>"$TEST_TMP/import.err"
    EXIT=$?
    OUT=$(cat "$TEST_TMP/import.out")
    ERR=$(cat "$TEST_TMP/import.err")
}

fake POST /_account "{\"id\": \"$ACCOUNT\"}" >/dev/null
load_conversations
fake POST /_limits '{"conversations_per_s": 2}' >/dev/null # Meta's limit: pacing must keep it
setup_db

# ---- usage ----
direkt import >/dev/null 2>&1
assert_eq 2 "$?" "import without --account is a usage error"
direkt import --account "$ACCOUNT" --limit-conversations 0 >/dev/null 2>&1
assert_eq 2 "$?" "--limit-conversations 0 is a usage error"
direkt IG_GRAPH_URL="$FAKE" import --account "$ACCOUNT" >/dev/null 2>"$TEST_TMP/import.err"
assert_eq 1 "$?" "import without any token fails"
assert_contains "no access token for account $ACCOUNT" "$(cat "$TEST_TMP/import.err")" \
    "it says that the token is missing"

# ---- a whole import ----
log "import: 3 conversations in 2 pages"
fake DELETE /_requests >/dev/null
run_import
assert_eq 0 "$EXIT" "import exit code (stderr: $ERR)"
assert_contains "imported account $ACCOUNT: 3 conversations, 8 messages (8 new in this run)" "$OUT" \
    "import summary"
assert_contains "import: 3 conversations" "$ERR" "progress lines on stderr (not a terminal)"
assert_eq 3 "$(sql "SELECT count(*) FROM users WHERE instagram_id IN ('$C1', '$C2', '$C3')")" "3 users"
assert_eq "u$C1" "$(sql "SELECT username FROM users WHERE instagram_id = '$C1'")" "usernames kept"
assert_eq 3 "$(sql "SELECT count(*) FROM conversations WHERE account_id = '$ACCOUNT'")" \
    "3 conversations of the account"
assert_eq 8 "$(sql "SELECT count(*) FROM messages")" "8 messages"
assert_eq "user|imported|5
agent|sent|3" "$(sql "SELECT sender_type, status, count(*) FROM messages GROUP BY sender_type, status ORDER BY sender_type DESC")" \
    "customer messages imported, the account's sent"
assert_eq "great, thanks" \
    "$(sql "SELECT m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$C1' ORDER BY m.created_at DESC LIMIT 1")" \
    "messages belong to their customer's conversation"
assert_match '^2026-11-19[ T]08:00:00' "$(sql "SELECT created_at FROM messages WHERE instagram_mid = 'mid-imp-2a'")" \
    "created_at from created_time"
assert_eq "привет! доставка в Казань?" "$(sql "SELECT content FROM messages WHERE instagram_mid = 'mid-imp-2a'")" \
    "UTF-8 text"
assert_eq "unsupported|" "$(sql "SELECT message_type, content FROM messages WHERE instagram_mid = 'mid-imp-3b'")" \
    "a message without text"
assert_match '^2026-11-20[ T]10:03:00' \
    "$(sql "SELECT c.last_user_message_at FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$C1'")" \
    "last_user_message_at is the customer's newest message"
assert_eq "done|3|8||" "$(sql "SELECT status, conversations, messages, next_url, last_error FROM imports WHERE account_id = '$ACCOUNT'")" \
    "imports row done"
assert_eq 0 "$(sql "SELECT count(*) FROM jobs")" "no reply job for imported messages"
requests ""
assert_eq "2|3" "$(json_list "$TEST_TMP/requests.json" '$' kind | grep -c '^conversations$')|$(json_list "$TEST_TMP/requests.json" '$' kind | grep -c '^conversation$')" \
    "2 list pages and 3 conversations fetched"
assert_eq "200 200 200 200 200" "$(json_list "$TEST_TMP/requests.json" '$' status | tr '\n' ' ' | sed 's/ $//')" \
    "no call answered 613: paced under 2 calls/s"
assert_eq "$TOKEN" "$(json_get "$TEST_TMP/requests.json" '$[0].auth')" "the token is sent"
assert_not_contains access_token "$(json_list "$TEST_TMP/requests.json" '$' query)" "no token in URLs"
gaps=$(json_list "$TEST_TMP/requests.json" '$' at_ms | awk 'NR > 1 && $1 - p < 450 { n++ } { p = $1 } END { print n + 0 }')
assert_eq 0 "$gaps" "calls at least ~500 ms apart"

# ---- again: nothing to do ----
fake DELETE /_requests >/dev/null
run_import
assert_eq 0 "$EXIT" "second import exit code"
assert_contains "already imported" "$OUT" "second import says so"
assert_contains "--restart to import again" "$OUT" "and how to import again"
assert_eq 0 "$(nrequests "")" "nothing fetched"
assert_eq 8 "$(sql "SELECT count(*) FROM messages")" "nothing duplicated"

# ---- --restart through a throttling answer ----
log "import --restart with a throttled call"
fake POST /_script '{"steps": [{"match": "conversations", "fixture": "error_rate_limit_613.json"}]}' >/dev/null
run_import --restart
assert_eq 0 "$EXIT" "restarted import exit code (stderr: $ERR)"
assert_contains "3 conversations, 8 messages (0 new in this run)" "$OUT" "restart finds nothing new"
assert_contains "retrying" "$ERR" "the throttled call is retried"
assert_eq 8 "$(sql "SELECT count(*) FROM messages")" "restart duplicates nothing"
requests conversations
assert_eq "400 200 200" "$(json_list "$TEST_TMP/requests.json" '$' status | tr '\n' ' ' | sed 's/ $//')" \
    "613, then the same page again"

# ---- --limit-conversations ----
run_import --restart --limit-conversations 1
assert_eq 0 "$EXIT" "limited import exit code (stderr: $ERR)"
assert_contains "1 conversations, 3 messages" "$OUT" "the limit stops the import"
assert_eq "done|1" "$(sql "SELECT status, conversations FROM imports WHERE account_id = '$ACCOUNT'")" \
    "a limited import is done"

# ---- the profile endpoint ----
log "profile: without a token"
start_server IG_GRAPH_URL="$FAKE" DIREKT_SECRET_KEY="$SECRET_KEY" || finish
fake DELETE /_requests >/dev/null
fake POST /_profiles "{\"$C1\": {\"name\": \"Ola N\", \"username\": \"ola.n\", \"follower_count\": 77}}" >/dev/null
api GET "/api/v1/users/$C1/profile"
assert_status 200 "profile without a token: what is stored"
assert_eq "no_token|1|" "$(json_get "$HTTP_BODY_FILE" '$.fetch_error.code')|$(json_get "$HTTP_BODY_FILE" '$.cached')|$(json_get "$HTTP_BODY_FILE" '$.fetched_at')" \
    "says why it was not fetched"
assert_eq "$C1" "$(json_get "$HTTP_BODY_FILE" '$.instagram_id')" "instagram_id"
api GET "/api/v1/users/$C1/profile?refresh=true"
assert_status 409 "refresh without a token"
assert_error_body "refresh without a token" no_token
assert_contains "direkt account add" "$HTTP_BODY" "the 409 says how to fix it"
assert_eq 0 "$(nrequests profile)" "nothing asked without a token"
stop_server

log "profile: fetch, cache, refresh"
start_server IG_GRAPH_URL="$FAKE" IG_ACCESS_TOKEN="$TOKEN" DIREKT_SECRET_KEY="$SECRET_KEY" || finish
api GET "/api/v1/users/$C1/profile"
assert_status 200 "first profile call"
assert_eq "0|Ola N|ola.n|77|1|0" \
    "$(for p in cached profile.name profile.username profile.follower_count profile.is_user_follow_business profile.is_verified_user; do json_get "$HTTP_BODY_FILE" "\$.$p"; done | tr '\n' '|' | sed 's/|$//')" \
    "the fetched profile"
assert_ne "" "$(json_get "$HTTP_BODY_FILE" '$.fetched_at')" "fetched_at"
assert_ne "" "$(json_get "$HTTP_BODY_FILE" '$.id')" "the user's row is part of the answer"
assert_eq 1 "$(nrequests profile)" "the fake was asked once"
assert_eq "$TOKEN" "$(json_get "$TEST_TMP/requests.json" '$[0].auth')" "with the token"
assert_eq "ola.n|Ola N|1" "$(sql "SELECT username, full_name, profile_fetched_at IS NOT NULL FROM users WHERE instagram_id = '$C1'" | sed 's/|t$/|1/')" \
    "the profile is stored"
api GET "/api/v1/users/$C1/profile"
assert_status 200 "second profile call"
assert_eq "1|ola.n" "$(json_get "$HTTP_BODY_FILE" '$.cached')|$(json_get "$HTTP_BODY_FILE" '$.profile.username')" \
    "served from the cache"
assert_eq 1 "$(nrequests profile)" "the fake was not asked again"
api GET "/api/v1/users/$C1/profile?refresh=true"
assert_status 200 "refresh"
assert_eq 0 "$(json_get "$HTTP_BODY_FILE" '$.cached')" "refreshed, not cached"
assert_eq 2 "$(nrequests profile)" "refresh asked the fake"
api GET "/api/v1/users/7199999999999999/profile"
assert_status 404 "unknown user"
assert_error_body "unknown user" not_found
api GET "/api/v1/users/$C1/profile?refresh=maybe"
assert_status 422 "refresh must be a boolean"
stop_server

log "profile: a token error marks the account"
direkt DIREKT_SECRET_KEY="$SECRET_KEY" account add --id "$ACCOUNT" --token "$TOKEN" \
    >/dev/null 2>"$TEST_TMP/account.err"
assert_eq 0 "$?" "account add (stderr: $(cat "$TEST_TMP/account.err"))"
start_server IG_GRAPH_URL="$FAKE" DIREKT_SECRET_KEY="$SECRET_KEY" || finish
fake POST /_script '{"steps": [{"match": "profile", "fixture": "error_token_expired.json"}]}' >/dev/null
api GET "/api/v1/users/$C2/profile"
assert_status 502 "a token error"
assert_eq "graph_error|190|463|token" \
    "$(json_get "$HTTP_BODY_FILE" '$.error.code')|$(json_get "$HTTP_BODY_FILE" '$.error.graph.code')|$(json_get "$HTTP_BODY_FILE" '$.error.graph.subcode')|$(json_get "$HTTP_BODY_FILE" '$.error.graph.outcome')" \
    "the graph's error in the answer"
wait_for "SELECT status FROM accounts WHERE id = '$ACCOUNT'" needs_reauth 10
assert_eq "" "$(sql "SELECT profile_fetched_at FROM users WHERE instagram_id = '$C2'")" \
    "nothing stored for the failed fetch"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot'")" \
    "imported messages are never answered"
stop_server

# ---- an interrupted import continues where it stopped ----
log "import interrupted by a token error, then resumed"
setup_db resume
direkt DIREKT_SECRET_KEY="$SECRET_KEY" account add --id "$ACCOUNT" --token "$TOKEN" >/dev/null 2>&1
fake DELETE /_requests >/dev/null
# list page 1, its 2 conversations, then page 2 fails
fake POST /_script '{"steps": [{"match": "conversations", "ok": true, "count": 3}, {"match": "conversations", "fixture": "error_token_expired.json"}]}' >/dev/null
run_import
assert_eq 1 "$EXIT" "a token error fails the import"
assert_contains "access token of account $ACCOUNT was refused" "$ERR" "the message says why"
assert_contains "direkt account add" "$ERR" "and how to fix it"
assert_eq "failed|2|5" "$(sql "SELECT status, conversations, messages FROM imports WHERE account_id = '$ACCOUNT'")" \
    "the first page is stored"
assert_ne "" "$(sql "SELECT next_url FROM imports WHERE account_id = '$ACCOUNT'")" "with the page to continue from"
assert_not_contains access_token "$(sql "SELECT next_url FROM imports")" "no token in the stored URL"
assert_eq needs_reauth "$(sql "SELECT status FROM accounts WHERE id = '$ACCOUNT'")" "account needs_reauth"
assert_eq 5 "$(sql "SELECT count(*) FROM messages")" "5 messages of the first page"
fake DELETE /_script >/dev/null
fake DELETE /_requests >/dev/null
direkt DIREKT_SECRET_KEY="$SECRET_KEY" account add --id "$ACCOUNT" --token "$TOKEN" >/dev/null 2>&1
run_import
assert_eq 0 "$EXIT" "the resumed import (stderr: $ERR)"
assert_contains "3 conversations, 8 messages (3 new in this run)" "$OUT" "it imports the rest"
assert_eq 8 "$(sql "SELECT count(*) FROM messages")" "every message once"
assert_eq 8 "$(sql "SELECT count(DISTINCT instagram_mid) FROM messages")" "no duplicates"
requests ""
assert_eq "conversations conversation" "$(json_list "$TEST_TMP/requests.json" '$' kind | tr '\n' ' ' | sed 's/ $//')" \
    "only page 2 and its conversation were fetched"
assert_ne "" "$(json_get "$TEST_TMP/requests.json" '$[0].query.after')" "page 2, not page 1"
assert_eq "done|3|8" "$(sql "SELECT status, conversations, messages FROM imports WHERE account_id = '$ACCOUNT'")" \
    "import done"

finish
