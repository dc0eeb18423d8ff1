#!/usr/bin/env bash
# test_accounts: `direkt account add|list|remove` and GET /api/v1/accounts. Tokens are stored
# sealed with DIREKT_SECRET_KEY (never in clear in the database, never listed); a token without
# the key, or a key that is not one, fails with exit code 2 and one line naming
# DIREKT_SECRET_KEY; adding an existing account updates it and makes it active again (the
# re-authentication of an account marked needs_reauth) and queues its waiting replies.
. "$(dirname "$0")/lib.sh"

setup_db
KEY=$(openssl rand -hex 32)
KEY_B64=$(openssl rand -base64 32)
ACCT=17841405822304914
TOK1="IGAAtok1$(openssl rand -hex 12)"
TOK2="IGAAtok2$(openssl rand -hex 12)"
TOK3="IGAAtok3$(openssl rand -hex 12)"

# run_cmd [VAR=value…] ARGS… [<input]: sets CMD_RC, CMD_OUT, CMD_ERR.
run_cmd() {
    direkt "$@" >"$TEST_TMP/cmd.out" 2>"$TEST_TMP/cmd.err"
    CMD_RC=$?
    CMD_OUT=$(cat "$TEST_TMP/cmd.out")
    CMD_ERR=$(cat "$TEST_TMP/cmd.err")
}

# The token must not be anywhere in the database in clear.
assert_token_not_stored() { # TOKEN WHAT
    if [ "$DIREKT_BACKEND" == sqlite ]; then
        local hits
        hits=$(cat "$DB_FILE" "$DB_FILE-wal" 2>/dev/null | grep -c -a -F "$1")
        assert_eq 0 "$hits" "$2: the token is not in the database file"
    fi
    assert_eq 0 "$(sql "SELECT count(*) FROM accounts WHERE token_enc LIKE '%$1%' OR name LIKE '%$1%' OR page_id LIKE '%$1%'")" \
        "$2: the token is not in clear in accounts"
}

direkt migrate >/dev/null 2>>"$TEST_TMP/commands.log" || fail "migrate"

# ---- the key is required for a token, and must be a key ----
log "missing or bad DIREKT_SECRET_KEY"
run_cmd account add --id "$ACCT" --token "$TOK1" </dev/null
assert_eq 2 "$CMD_RC" "token without a key: exit code"
assert_eq 1 "$(printf '%s\n' "$CMD_ERR" | grep -c .)" "token without a key: one line [$CMD_ERR]"
assert_contains "DIREKT_SECRET_KEY is not set" "$CMD_ERR" "token without a key: names the variable"
assert_not_contains "$TOK1" "$CMD_ERR" "token without a key: the token"
assert_eq "" "$CMD_OUT" "token without a key: nothing on stdout"
for bad in short "${KEY}0" "${KEY:0:63}g" "$(openssl rand -base64 31)"; do
    run_cmd DIREKT_SECRET_KEY="$bad" account add --id "$ACCT" --token "$TOK1" </dev/null
    assert_eq 2 "$CMD_RC" "bad key ${bad:0:8}…: exit code"
    assert_eq 1 "$(printf '%s\n' "$CMD_ERR" | grep -c .)" "bad key: one line [$CMD_ERR]"
    assert_contains "DIREKT_SECRET_KEY must be 64 hex digits or base64 of 32 bytes" "$CMD_ERR" \
        "bad key: names the variable and the form"
    assert_not_contains "$bad" "$CMD_ERR" "bad key: the key's text"
done
assert_eq 0 "$(sql "SELECT count(*) FROM accounts")" "nothing stored without a usable key"

# ---- usage errors: exit 2 ----
log "usage"
for args in "account" "account frobnicate" "account add" "account add --token x" \
    "account add --id" "account add --id 'bad id'" "account add --id x --flavour messenger" \
    "account add --id x --flavour facebook" "account add --id x --page-id 'a b' --flavour facebook" \
    "account add --id x --bogus 1" "account list --yaml" "account remove" "account remove a b"; do
    eval "run_cmd DIREKT_SECRET_KEY=$KEY $args" </dev/null
    assert_eq 2 "$CMD_RC" "$args: exit code [$CMD_ERR]"
    assert_ne "" "$CMD_ERR" "$args: says why"
done
run_cmd DIREKT_SECRET_KEY="$KEY" account add --id x --token '' </dev/null
assert_eq 2 "$CMD_RC" "an empty token: exit code"
run_cmd DIREKT_SECRET_KEY="$KEY" account add --id x --token - </dev/null
assert_eq 2 "$CMD_RC" "no token on stdin: exit code"
assert_eq 0 "$(sql "SELECT count(*) FROM accounts")" "usage errors store nothing"

# ---- add ----
log "add"
run_cmd account list </dev/null
assert_eq 0 "$CMD_RC" "list of none: exit code"
assert_contains "no accounts" "$CMD_OUT" "list of none says so"

run_cmd DIREKT_SECRET_KEY="$KEY" account add --id "$ACCT" --token "$TOK1" --name "Shop One" </dev/null
assert_eq 0 "$CMD_RC" "add with a token: exit code [$CMD_ERR]"
assert_eq "account $ACCT added (token stored encrypted)" "$CMD_OUT" "add with a token: output"
assert_eq "Shop One|instagram||active|" "$(sql "SELECT name, flavour, page_id, status, status_reason FROM accounts WHERE id = '$ACCT'")" \
    "add: the row"
enc1=$(sql "SELECT token_enc FROM accounts WHERE id = '$ACCT'")
assert_match '^[A-Za-z0-9+/]{40,}=*$' "$enc1" "add: the token column holds base64"
assert_token_not_stored "$TOK1" "add"

# the token from standard input, a base64 key, the facebook flavour
printf '%s\n' "$TOK2" >"$TEST_TMP/tok2"
run_cmd DIREKT_SECRET_KEY="$KEY_B64" account add --id fb-acct --token - --flavour facebook \
    --page-id 104857600012345 <"$TEST_TMP/tok2"
assert_eq 0 "$CMD_RC" "add with the token on stdin: exit code [$CMD_ERR]"
assert_eq "account fb-acct added (token stored encrypted)" "$CMD_OUT" "stdin: output"
assert_eq "|facebook|104857600012345|active" "$(sql "SELECT name, flavour, page_id, status FROM accounts WHERE id = 'fb-acct'")" \
    "stdin: the row"
assert_token_not_stored "$TOK2" "stdin"

# without a token: no key needed
run_cmd account add --id plain-acct --name "No token" </dev/null
assert_eq 0 "$CMD_RC" "add without a token: exit code [$CMD_ERR]"
assert_contains "no token" "$CMD_OUT" "add without a token: says where sends go"
assert_eq "" "$(sql "SELECT token_enc FROM accounts WHERE id = 'plain-acct'")" "no token stored"

# ---- list ----
log "list"
run_cmd account list </dev/null
assert_eq 0 "$CMD_RC" "list: exit code"
assert_eq 4 "$(printf '%s\n' "$CMD_OUT" | grep -c .)" "list: a header and three rows [$CMD_OUT]"
assert_match '^ID +NAME +FLAVOUR +STATUS +TOKEN +REASON' "$(head -n 1 <<<"$CMD_OUT")" "list: header"
assert_match "^$ACCT +Shop One +instagram +active +yes" "$(grep "^$ACCT" <<<"$CMD_OUT")" "list: first row"
assert_match '^fb-acct +- +facebook +active +yes' "$(grep '^fb-acct' <<<"$CMD_OUT")" "list: facebook row"
assert_match '^plain-acct +No token +instagram +active +no' "$(grep '^plain-acct' <<<"$CMD_OUT")" \
    "list: row without a token"
for t in "$TOK1" "$TOK2" "$enc1"; do
    assert_not_contains "$t" "$CMD_OUT" "list shows no token"
done
run_cmd account list --json </dev/null
assert_eq 0 "$CMD_RC" "list --json: exit code"
printf '%s' "$CMD_OUT" >"$TEST_TMP/list.json"
assert_eq 3 "$(json_get "$TEST_TMP/list.json" 'json_array_length($)')" "list --json: three accounts"
assert_eq "$ACCT" "$(json_get "$TEST_TMP/list.json" '$[0].id')" "list --json: first id"
assert_eq 1 "$(json_get "$TEST_TMP/list.json" '$[0].has_token')" "list --json: has_token"
assert_eq 0 "$(json_get "$TEST_TMP/list.json" '$[2].has_token')" "list --json: no token"
assert_eq "" "$(json_get "$TEST_TMP/list.json" '$[0].token_enc')" "list --json: no token_enc"
assert_not_contains "$enc1" "$CMD_OUT" "list --json shows no sealed token"

# ---- update: re-authentication of an account marked needs_reauth ----
log "update and re-authenticate"
sql "UPDATE accounts SET status = 'needs_reauth', status_reason = 'graph error 190/463: token expired', throttled_until = 99, throttle_level = 2 WHERE id = '$ACCT'"
# a bot reply that waits for the account (and one of another account, which stays put)
CONV=01a00000-0000-7000-8000-000000000001
CONV_OTHER=01a00000-0000-7000-8000-000000000002
sql "INSERT INTO users (instagram_id) VALUES ('5900000000000001')"
sql "INSERT INTO conversations (id, user_id, account_id) SELECT '$CONV', id, '$ACCT' FROM users WHERE instagram_id = '5900000000000001'"
sql "INSERT INTO conversations (id, user_id, account_id) SELECT '$CONV_OTHER', id, 'fb-acct' FROM users WHERE instagram_id = '5900000000000001'"
sql "INSERT INTO messages (id, conversation_id, sender_type, content, status) VALUES ('01a00000-0000-7000-8000-000000000011', '$CONV', 'bot', 'waiting', 'pending_send'), ('01a00000-0000-7000-8000-000000000012', '$CONV_OTHER', 'bot', 'other', 'pending_send')"
run_cmd account list </dev/null
assert_match "^$ACCT +Shop One +instagram +needs_reauth +yes +graph error 190/463: token expired\$" \
    "$(grep "^$ACCT" <<<"$CMD_OUT")" "list shows the status and its reason"
run_cmd DIREKT_SECRET_KEY="$KEY" account add --id "$ACCT" --token "$TOK3" </dev/null
assert_eq 0 "$CMD_RC" "re-add: exit code [$CMD_ERR]"
assert_eq "account $ACCT updated (was needs_reauth: sends resume)"$'\n'"queued the waiting replies of 1 conversation(s)" \
    "$CMD_OUT" "re-add: output"
assert_eq "send:$CONV" "$(sql "SELECT unique_key FROM jobs WHERE kind = 'send' AND status = 'queued'")" \
    "re-add: the waiting reply of the account (only) has its send job"
assert_eq "Shop One|instagram|active||0|0" "$(sql "SELECT name, flavour, status, status_reason, throttled_until, throttle_level FROM accounts WHERE id = '$ACCT'")" \
    "re-add: active again, the name kept, reason and throttling cleared"
enc3=$(sql "SELECT token_enc FROM accounts WHERE id = '$ACCT'")
assert_ne "$enc1" "$enc3" "re-add: a new sealed token"
assert_token_not_stored "$TOK3" "re-add"
assert_eq 3 "$(sql "SELECT count(*) FROM accounts")" "re-add adds no row"
# an update of an active account without a token keeps its token
run_cmd account add --id "$ACCT" --name "Shop Renamed" </dev/null
assert_eq 0 "$CMD_RC" "rename: exit code [$CMD_ERR]"
assert_eq "account $ACCT updated" "$(head -n 1 <<<"$CMD_OUT")" "rename: output"
assert_eq 1 "$(sql "SELECT count(*) FROM jobs WHERE kind = 'send' AND status = 'queued'")" \
    "rename: the reply still waits, its one send job is not doubled"
assert_eq "Shop Renamed|$enc3" "$(sql "SELECT name, token_enc FROM accounts WHERE id = '$ACCT'")" \
    "rename keeps the token"

# ---- GET /api/v1/accounts ----
log "api"
start_server DIREKT_SECRET_KEY="$KEY" || finish
http GET /api/v1/accounts
assert_status 401 "accounts without a token"
api GET /api/v1/accounts
assert_status 200 "accounts"
assert_eq 3 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.data)')" "api: three accounts"
assert_eq "$ACCT|Shop Renamed|instagram|active|1" \
    "$(json_get "$HTTP_BODY_FILE" '$.data[0].id')|$(json_get "$HTTP_BODY_FILE" '$.data[0].name')|$(json_get "$HTTP_BODY_FILE" '$.data[0].flavour')|$(json_get "$HTTP_BODY_FILE" '$.data[0].status')|$(json_get "$HTTP_BODY_FILE" '$.data[0].has_token')" \
    "api: the first account"
assert_eq "104857600012345" "$(json_get "$HTTP_BODY_FILE" '$.data[1].page_id')" "api: the page id"
assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(json_get "$HTTP_BODY_FILE" '$.data[0].created_at')" \
    "api: created_at is RFC 3339"
assert_eq null "$(json_get "$HTTP_BODY_FILE" 'json_type($.data[0].throttled_until)')" \
    "api: not throttled"
for t in "$TOK1" "$TOK2" "$TOK3" "$enc3" token_enc; do
    assert_not_contains "$t" "$HTTP_BODY" "api: no token"
done
stop_server

# ---- remove ----
log "remove"
run_cmd account remove fb-acct </dev/null
assert_eq 0 "$CMD_RC" "remove: exit code [$CMD_ERR]"
assert_eq "account fb-acct removed" "$CMD_OUT" "remove: output"
assert_eq 0 "$(sql "SELECT count(*) FROM accounts WHERE id = 'fb-acct'")" "remove: the row is gone"
run_cmd account remove fb-acct </dev/null
assert_eq 1 "$CMD_RC" "remove of an unknown account: exit code"
assert_contains "not found" "$CMD_ERR" "remove of an unknown account: says so"
assert_eq 2 "$(sql "SELECT count(*) FROM accounts")" "the others stay"

finish
