#!/usr/bin/env bash
# test_webhook_security: the webhook's verification handshake, signature checks and input
# bounds. Every rejected delivery must store nothing, answer the JSON error format, and leave
# the server serving.
. "$(dirname "$0")/lib.sh"

setup_db
start_server || finish
HOOK=/webhooks/instagram/messages
TEXT="$IG_FIXTURES/message_text.json"
RU="$IG_FIXTURES/message_text_ru_emoji.json"

counts() {
    sql "SELECT (SELECT count(*) FROM webhook_events) || '/' || (SELECT count(*) FROM messages) \
        || '/' || (SELECT count(*) FROM message_events) || '/' || (SELECT count(*) FROM jobs)"
}

# After a rejected request: nothing stored, the error format, and the server still ready.
assert_rejected() { # WHAT STATUS [ERROR_CODE]
    local what=$1
    assert_status "$2" "$what"
    assert_error_body "$what" ${3:+"$3"}
    assert_eq "$BEFORE" "$(counts)" "$what: nothing stored (webhook_events/messages/events/jobs)"
    local st
    st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE_URL/readyz")
    assert_eq 200 "$st" "$what: /readyz afterwards"
}

# ---- verification handshake ----
log "verification handshake"
http GET "$HOOK?hub.mode=subscribe&hub.verify_token=$TEST_VERIFY&hub.challenge=1158201444"
assert_status 200 "handshake with the right token"
assert_eq 1158201444 "$HTTP_BODY" "handshake answers the challenge as is"
assert_match '^text/plain' "$(header Content-Type)" "handshake content type"

http GET "$HOOK?hub.verify_token=$TEST_VERIFY&hub.mode=subscribe&hub.challenge=abc%20def"
assert_status 200 "handshake, parameters in another order, encoded challenge"
assert_eq "abc def" "$HTTP_BODY" "handshake decodes the challenge"

# name|query|expected status
while IFS='|' read -r name query status; do
    [ -n "$name" ] || continue
    http GET "$HOOK?$query"
    assert_status "$status" "handshake: $name"
    assert_error_body "handshake: $name" forbidden
    assert_not_contains 1158201444 "$HTTP_BODY" "handshake: $name does not echo the challenge"
done <<'EOF'
wrong token|hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444|403
token with a suffix|hub.mode=subscribe&hub.verify_token=test-verifyX&hub.challenge=1158201444|403
token prefix|hub.mode=subscribe&hub.verify_token=test&hub.challenge=1158201444|403
empty token|hub.mode=subscribe&hub.verify_token=&hub.challenge=1158201444|403
wrong mode|hub.mode=unsubscribe&hub.verify_token=test-verify&hub.challenge=1158201444|403
missing mode|hub.verify_token=test-verify&hub.challenge=1158201444|403
missing token|hub.mode=subscribe&hub.challenge=1158201444|403
no parameters||403
EOF
http GET "$HOOK?hub.mode=subscribe&hub.verify_token=$TEST_VERIFY"
assert_status 403 "handshake without a challenge"

# ---- signatures ----
log "signatures"
BEFORE=$(counts)

http POST "$HOOK" --data-binary "@$TEXT"
assert_rejected "POST without a signature" 401 unauthorized

http POST "$HOOK" -H "X-Hub-Signature-256: " --data-binary "@$TEXT"
assert_rejected "POST with an empty signature" 401

good=$(sign "$TEXT")
hex=${good#sha256=}
# name|header value|expected status
while IFS='|' read -r name value status; do
    [ -n "$name" ] || continue
    value=${value//@HEX@/$hex}
    http POST "$HOOK" -H "X-Hub-Signature-256: $value" --data-binary "@$TEXT"
    assert_rejected "POST with $name" "$status"
done <<EOF
a signature of another body|$(sign "$RU")|403
a signature with another secret|$(sign "$TEXT" other-secret)|403
one digit changed|sha256=$(printf '%s' "$hex" | sed 's/^./'"$([ "${hex:0:1}" == 0 ] && echo 1 || echo 0)"'/')|403
the sha1 scheme|sha1=$(openssl dgst -sha1 -hmac "$TEST_SECRET" -hex <"$TEXT" | awk '{print $NF}')|401
no scheme|@HEX@|401
a truncated digest|sha256=${hex:0:63}|401
a digest too long|sha256=${hex}0|401
non-hex digits|sha256=${hex:0:63}g|401
the right digest twice|sha256=@HEX@,sha256=@HEX@|401
EOF

# a signed body, one byte changed in transit
sed 's/size S/size X/' "$TEXT" >"$TEST_TMP/tampered.json"
http POST "$HOOK" -H "X-Hub-Signature-256: $good" --data-binary "@$TEST_TMP/tampered.json"
assert_rejected "POST of a tampered body" 403 forbidden

# ---- bodies: each signed correctly, each rejected ----
log "malformed and oversized bodies"
B="$TEST_TMP/bodies"
mkdir -p "$B"
head -c 200 "$TEXT" >"$B/truncated.json"
printf '{"object": "instagram", "entry": [}' >"$B/malformed.json"
: >"$B/empty.json"
printf '{"object": "instagram"}' >"$B/no_entry.json"
printf '{"object": "instagram", "entry": {"id": "1"}}' >"$B/entry_not_array.json"
printf '[{"object": "instagram", "entry": []}]' >"$B/array.json"
printf '"instagram"' >"$B/string.json"
printf '{"object": "instagram", "entry": [], "entry": []}' >"$B/duplicate_key.json"
printf '{"object": "instagram", "entry": []} trailing' >"$B/trailing.json"
printf '{"object": "instagram", "entry": [{"id": "1", "messaging": [{"sender": {"id": "2"}, "message": {"mid": "m", "text": "\xff\xfe"}}]}]}' >"$B/bad_utf8.json"
{
    printf '{"object": "instagram", "entry": '
    head -c 100000 /dev/zero | tr '\0' '['
} >"$B/depth_bomb_open.json"
{
    printf '{"object": "instagram", "entry": [], "x": '
    head -c 40 /dev/zero | tr '\0' '['
    head -c 40 /dev/zero | tr '\0' ']'
    printf '}'
} >"$B/depth_41.json"
{
    printf '{"object": "instagram", "entry": ['
    for i in $(seq 1 1000); do printf '{"id": "17841405822304914", "time": 1, "changes": []},'; done
    printf '{"id": "17841405822304914", "time": 1, "changes": []}]}'
} >"$B/entries_1001.json"

# file|expected status
while IFS='|' read -r file status; do
    [ -n "$file" ] || continue
    post_file "$B/$file"
    assert_rejected "POST of $file" "$status"
done <<'EOF'
truncated.json|400
malformed.json|400
empty.json|400
no_entry.json|400
entry_not_array.json|400
array.json|400
string.json|400
duplicate_key.json|400
trailing.json|400
bad_utf8.json|400
depth_bomb_open.json|400
depth_41.json|400
entries_1001.json|413
EOF

# a malformed body with a wrong signature: the signature is checked first
http POST "$HOOK" -H "X-Hub-Signature-256: $good" --data-binary "@$B/malformed.json"
assert_rejected "POST of a malformed body with a wrong signature" 403

# over 1 MiB: refused from Content-Length, and when sent chunked
{
    printf '{"object": "instagram", "entry": [], "pad": "'
    head -c $((1024 * 1024)) /dev/zero | tr '\0' 'x'
    printf '"}'
} >"$B/big.json"
post_file "$B/big.json"
assert_rejected "POST over 1 MiB" 413 payload_too_large
post_file "$B/big.json" -H "Transfer-Encoding: chunked"
assert_rejected "POST over 1 MiB, chunked" 413 payload_too_large
http POST "$HOOK" --data-binary "@$B/big.json"
assert_rejected "POST over 1 MiB without a signature" 413

# ---- what is accepted ----
log "accepted deliveries"
up="sha256=$(printf '%s' "$hex" | tr 'a-f' 'A-F')"
assert_ne "$good" "$up" "the uppercase digest differs from the lowercase one"
http POST "$HOOK" -H "X-Hub-Signature-256: $up" --data-binary "@$TEXT"
assert_status 200 "POST with an uppercase hex digest"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'user'")" \
    "the message of the uppercase-signed delivery is stored"

http POST "$HOOK" -H "x-hub-signature-256: $(sign "$RU")" --data-binary "@$RU"
assert_status 200 "POST with a lowercase header name"

# exactly 1 MiB is within the limit
{
    printf '{"object": "instagram", "entry": [], "pad": "'
    head -c $((1024 * 1024 - 47)) /dev/zero | tr '\0' 'x'
    printf '"}'
} >"$B/limit.json"
assert_eq $((1024 * 1024)) "$(stat -c %s "$B/limit.json")" "test body of exactly 1 MiB"
post_file "$B/limit.json"
assert_status 200 "POST of exactly 1 MiB"
# an empty entry list is a valid (empty) delivery
post_json '{"object": "instagram", "entry": []}'
assert_status 200 "POST with an empty entry list"

assert_eq "4/2" "$(sql "SELECT (SELECT count(*) FROM webhook_events) || '/' || (SELECT count(*) FROM messages WHERE sender_type = 'user')")" \
    "stored: the four accepted deliveries and their two messages"

# ---- no verify token configured: every handshake is refused ----
log "no IG_VERIFY_TOKEN"
stop_server
start_server IG_VERIFY_TOKEN= || finish
http GET "$HOOK?hub.mode=subscribe&hub.verify_token=&hub.challenge=1"
assert_status 403 "handshake with an empty token when none is configured"
http GET "$HOOK?hub.mode=subscribe&hub.verify_token=test-verify&hub.challenge=1"
assert_status 403 "handshake when no token is configured"
assert_error_body "handshake when no token is configured"
stop_server
finish
