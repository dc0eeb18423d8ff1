#!/usr/bin/env bash
# test_commands: the one-shot commands and configuration errors: bad settings fail at start
# with exit code 2 and one line naming the variable; migrate is idempotent; token create prints
# one token; replay is idempotent; sign matches openssl; config and logs hide secrets.
. "$(dirname "$0")/lib.sh"

setup_db

# run_cmd [VAR=value…] ARGS…: runs direkt in the test environment; sets CMD_RC, CMD_OUT, CMD_ERR.
run_cmd() {
    direkt "$@" >"$TEST_TMP/cmd.out" 2>"$TEST_TMP/cmd.err" </dev/null
    CMD_RC=$?
    CMD_OUT=$(cat "$TEST_TMP/cmd.out")
    CMD_ERR=$(cat "$TEST_TMP/cmd.err")
}

# ---- bad configuration: exit 2, one line on stderr naming the variable, nothing on stdout ----
log "bad configuration"
# variable|value|secret shown in the value that must not be echoed (optional)
while IFS='|' read -r var value secret; do
    [ -n "$var" ] || continue
    for cmd in serve migrate worker; do
        run_cmd "$var=$value" "$cmd"
        what="$cmd with $var=$value"
        assert_eq 2 "$CMD_RC" "$what: exit code"
        assert_eq 1 "$(printf '%s\n' "$CMD_ERR" | grep -c .)" "$what: exactly one line on stderr [$CMD_ERR]"
        assert_contains "$var" "$CMD_ERR" "$what: the line names the variable"
        assert_eq "" "$CMD_OUT" "$what: nothing on stdout"
        if [ -n "$secret" ]; then
            assert_not_contains "$secret" "$CMD_ERR" "$what: the secret value"
        fi
    done
done <<'EOF'
DIREKT_WORKERS|abc|
DIREKT_WORKERS|-1|
DIREKT_WORKERS|99999|
DIREKT_WORKERS|12abc|
DATABASE_URL|mysql://x|
DATABASE_URL|mysql://admin:hunter2-secret@db/x|hunter2-secret
DATABASE_URL|sqlite:|
DIREKT_LISTEN|nope|
DIREKT_LISTEN|127.0.0.1:99999|
DIREKT_LISTEN|127.0.0.1:|
DIREKT_REPLY_DEBOUNCE_MS|-5|
DIREKT_HTTP_THREADS|0|
DIREKT_JOB_LEASE_MS|10|
DIREKT_LOG|loud|
IG_GRAPH_URL|ftp://graph.example|
DIREKT_SECRET_KEY|too-short-a-key-0123|too-short-a-key-0123
EOF
run_cmd DIREKT_LISTEN=nope config
assert_eq 2 "$CMD_RC" "config with a bad setting: exit code"

# a listen address that cannot be bound: a clear failure, no hang
start_server || finish
run_cmd "DIREKT_LISTEN=127.0.0.1:$PORT" serve
assert_ne 0 "$CMD_RC" "serve on a port in use: exit code"
assert_contains "127.0.0.1:$PORT" "$CMD_ERR" "serve on a port in use: names the address"
stop_server

# command line
run_cmd nonsense
assert_eq 2 "$CMD_RC" "unknown command: exit code"
assert_contains nonsense "$CMD_ERR" "unknown command: named"
run_cmd serve --bogus
assert_eq 2 "$CMD_RC" "unknown option: exit code"
run_cmd serve --role nothing
assert_eq 2 "$CMD_RC" "unknown role: exit code"
direkt >/dev/null 2>&1
assert_eq 2 "$?" "no command: exit code"
run_cmd help
assert_eq 0 "$CMD_RC" "help: exit code"
assert_contains "token create" "$CMD_OUT" "help lists the commands"
run_cmd version
assert_eq 0 "$CMD_RC" "version: exit code"
assert_match '^direkt [0-9]+\.[0-9]+' "$CMD_OUT" "version output"

# ---- migrate ----
log "migrate"
setup_db migrate
run_cmd migrate
assert_eq 0 "$CMD_RC" "first migrate: exit code [$CMD_ERR]"
assert_match '^applied [1-9][0-9]* migration' "$CMD_OUT" "first migrate applies the migrations"
tables=$(sql "SELECT count(*) FROM messages")
assert_eq 0 "$tables" "the schema exists after migrate"
run_cmd migrate
assert_eq 0 "$CMD_RC" "second migrate: exit code"
assert_match '^applied 0 migration' "$CMD_OUT" "second migrate applies nothing"
v1=$(printf '%s' "$CMD_OUT" | sed -n 's/.*schema version \([0-9]*\).*/\1/p')
assert_ne "" "$v1" "migrate prints the schema version"
start_server -- --no-migrate || finish
http GET /readyz
assert_status 200 "serve --no-migrate on a migrated database"
stop_server
setup_db main

# ---- token create ----
log "token create"
run_cmd token create --name x
assert_eq 0 "$CMD_RC" "token create: exit code [$CMD_ERR]"
assert_eq 1 "$(printf '%s\n' "$CMD_OUT" | grep -c .)" "token create prints one line on stdout"
assert_match '^[A-Za-z0-9_-]{20,}$' "$CMD_OUT" "token create prints a token"
t1=$CMD_OUT
run_cmd token create --name x
t2=$CMD_OUT
assert_ne "$t1" "$t2" "two tokens differ"
assert_eq 2 "$(sql "SELECT count(*) FROM api_tokens WHERE name = 'x'")" "two tokens stored under their name"
assert_eq 0 "$(sql "SELECT count(*) FROM api_tokens WHERE token_sha256 = '$t1' OR name LIKE '%$t1%'")" \
    "the token is stored hashed"
assert_eq 1 "$(sql "SELECT count(*) FROM api_tokens WHERE token_sha256 = '$(printf '%s' "$t1" | sha256sum | cut -c1-64)'")" \
    "its SHA-256 is stored"
for args in "token create" "token create --name" "token create --name ''" "token list"; do
    eval "run_cmd $args"
    assert_eq 2 "$CMD_RC" "$args: exit code"
done
start_server || finish
http GET /api/v1/agent/tasks/active -H "Authorization: Bearer $t2"
assert_status 200 "the created token works"

# ---- replay ----
log "replay"
declare -a events=()
# in the order of their entry time (the story: a message, then its edit, then …)
while IFS= read -r f; do
    case "$(basename "$f")" in error_* | send_response.json | profile.json) continue ;; esac
    post_file "$f"
    assert_status 200 "post $(basename "$f")"
    events+=("$(json_get "$HTTP_BODY_FILE" '$.event_id')")
done < <(grep -o '"time": [0-9]*' "$IG_FIXTURES"/*.json | sort -t: -k3 -n | cut -d: -f1 | awk '!seen[$0]++')
settle_jobs
snapshot() {
    sql "SELECT (SELECT count(*) FROM webhook_events) || '/' || (SELECT count(*) FROM messages) \
        || '/' || (SELECT count(*) FROM message_events) || '/' || (SELECT count(*) FROM users) \
        || '/' || (SELECT count(*) FROM conversations) || '/' || (SELECT count(*) FROM jobs)"
}
contents() {
    sql "SELECT instagram_mid || ':' || coalesce(content, '') || ':' || CAST(deleted_at IS NULL AS INTEGER) \
        FROM messages WHERE instagram_mid IS NOT NULL ORDER BY instagram_mid"
}
before=$(snapshot)
before_contents=$(contents)
for id in "${events[@]}"; do
    run_cmd replay "$id"
    assert_eq 0 "$CMD_RC" "replay $id: exit code [$CMD_ERR]"
    assert_match "0 new message" "$CMD_OUT" "replay $id: no new message"
done
settle_jobs
assert_eq "$before" "$(snapshot)" "replaying every delivery stored nothing new (events/messages/message_events/users/conversations/jobs)"
assert_eq "$before_contents" "$(contents)" "replaying did not undo edits or deletes"
assert_eq "${#events[@]}" "$(sql "SELECT count(*) FROM webhook_events WHERE replayed_at IS NOT NULL")" \
    "replayed_at is recorded"
run_cmd replay "${events[0]}"
assert_eq 0 "$CMD_RC" "a second replay of the same event"
run_cmd replay 01234567-89ab-7cde-8f01-23456789abcd
assert_ne 0 "$CMD_RC" "replay of an unknown event: exit code"
assert_contains "not found" "$CMD_ERR" "replay of an unknown event says it is not found"
assert_eq 1 "$(printf '%s\n' "$CMD_ERR" | grep -c .)" "replay of an unknown event: one line"
for bad in "" not-a-uuid "'; DROP TABLE messages; --"; do
    run_cmd replay "$bad"
    assert_eq 2 "$CMD_RC" "replay '$bad': exit code"
    assert_ne "" "$CMD_ERR" "replay '$bad': says why"
done
assert_eq "$before" "$(snapshot)" "failed replays changed nothing"
stop_server

# ---- sign ----
log "sign"
for f in "$IG_FIXTURES/message_text_ru_emoji.json" "$IG_FIXTURES/message_batched.json"; do
    run_cmd sign "$f"
    assert_eq 0 "$CMD_RC" "sign $(basename "$f"): exit code"
    assert_eq "$(sign "$f")" "$CMD_OUT" "direkt sign matches openssl for $(basename "$f")"
    direkt sign - <"$f" >"$TEST_TMP/sign.out" 2>/dev/null
    assert_eq "$(sign "$f")" "$(cat "$TEST_TMP/sign.out")" "direkt sign - (stdin) matches openssl"
done
: >"$TEST_TMP/empty"
run_cmd sign "$TEST_TMP/empty"
assert_eq "$(sign "$TEST_TMP/empty")" "$CMD_OUT" "sign of an empty file"
run_cmd sign "$TEST_TMP/does-not-exist"
assert_ne 0 "$CMD_RC" "sign of a missing file: exit code"
run_cmd sign
assert_eq 2 "$CMD_RC" "sign without a file: exit code"
# without IG_APP_SECRET: the database keeps a generated secret; sign and serve agree on it
setup_db nosecret
env DATABASE_URL="$DATABASE_URL" DIREKT_LOG=warn "$DIREKT_BIN" sign "$IG_FIXTURES/message_text.json" \
    >"$TEST_TMP/sign.db" 2>"$TEST_TMP/sign.err"
assert_eq 0 "$?" "sign with the database's secret: exit code [$(cat "$TEST_TMP/sign.err")]"
dbsig=$(cat "$TEST_TMP/sign.db")
assert_match '^sha256=[0-9a-f]{64}$' "$dbsig" "sign with the database's secret"
assert_ne "$(sign "$IG_FIXTURES/message_text.json")" "$dbsig" "the generated secret is not test-secret"
start_server IG_APP_SECRET= || finish
http POST /webhooks/instagram/messages -H "X-Hub-Signature-256: $dbsig" \
    --data-binary "@$IG_FIXTURES/message_text.json"
assert_status 200 "a body signed by direkt sign is accepted by a server without IG_APP_SECRET"
post_fixture message_text_ru_emoji
assert_status 403 "test-secret is not accepted there"
stop_server
setup_db main

# ---- config hides secrets ----
log "config"
run_cmd IG_APP_SECRET=app-secret-value-123 IG_ACCESS_TOKEN=access-token-value-456 \
    OPENAI_API_KEY=sk-openai-value-789 CLAUDE_API_KEY=claude-value-000 DIREKT_SECRET_KEY=5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7 \
    DIREKT_API_TOKEN=api-token-value-222 IG_VERIFY_TOKEN=verify-value-333 \
    DATABASE_URL=postgresql://direkt:db-password-444@127.0.0.1/direkt DIREKT_LISTEN=127.0.0.1:18123 config
assert_eq 0 "$CMD_RC" "config: exit code"
for secret in app-secret-value-123 access-token-value-456 sk-openai-value-789 claude-value-000 \
    5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7 api-token-value-222 verify-value-333 db-password-444; do
    assert_not_contains "$secret" "$CMD_OUT$CMD_ERR" "direkt config shows a secret"
done
assert_contains "127.0.0.1:18123" "$CMD_OUT" "config shows the settings that are not secret"
assert_match 'IG_APP_SECRET[^'$'\n'']*\(set\)' "$CMD_OUT" "config says that IG_APP_SECRET is set"
assert_match 'ANTHROPIC_API_KEY[^'$'\n'']*\(set\)' "$CMD_OUT" "CLAUDE_API_KEY is read as ANTHROPIC_API_KEY"

# the server's log hides them too
start_server IG_APP_SECRET=test-secret IG_ACCESS_TOKEN=access-token-value-456 \
    DIREKT_API_TOKEN=api-token-value-222 DIREKT_LOG=debug || finish
post_fixture message_text
http GET /api/v1/conversations -H "Authorization: Bearer api-token-value-222"
http GET /api/v1/conversations -H "Authorization: Bearer wrong-token-value-555"
http GET "/webhooks/instagram/messages?hub.mode=subscribe&hub.verify_token=wrong-verify-666&hub.challenge=1"
settle_jobs
stop_server
for secret in test-secret access-token-value-456 api-token-value-222 wrong-token-value-555 \
    wrong-verify-666 test-verify "$t1" "$t2"; do
    assert_not_contains "$secret" "$(cat "${PROC_LOG[server]}")" "the server log shows a secret"
done
if [ "$DIREKT_BACKEND" == postgres ]; then
    # a password in DATABASE_URL (trust authentication ignores it) stays out of logs and output
    pw_url=$(printf '%s' "$DATABASE_URL" | sed 's#^postgresql://#postgresql://postgres:db-password-777@#')
    DATABASE_URL=$pw_url
    run_cmd migrate
    assert_eq 0 "$CMD_RC" "migrate with a password in the URL [$CMD_ERR]"
    assert_not_contains db-password-777 "$CMD_OUT$CMD_ERR" "migrate output shows the database password"
    start_server || finish
    stop_server
    assert_not_contains db-password-777 "$(cat "${PROC_LOG[server]}")" "the server log shows the database password"
fi
finish
