# tests/integration/lib_instagram.sh: sourced after lib.sh by the Instagram tests
# (test_instagram.sh, test_instagram_rules.sh). Starts the fake Graph API
# (tests/fake/fake_graph.mjs, answering with shared/fixtures/instagram) so that it posts a signed
# echo of every send to the direkt that the test will start on $PORT, and gives helpers to look
# at what the fake received (fq, sends) and at what direkt stored (say, answer, op_say, row …).
# JSON is read with SQLite's JSON functions, which start much faster than node.
# shellcheck disable=SC2034 # the variables set here are the sourcing tests'

ACCOUNT=17841405822304914 # the fixtures' business account (the fake's /me)
TOKEN="tok-env-$RANDOM"   # IG_ACCESS_TOKEN
KEY=$(openssl rand -hex 32)
HOUR=3600000
DAY=$((24 * HOUR))

# ---- the fake Graph API, posting its echoes to the direkt about to start on $PORT ----
PORT=$(pick_port) || {
    fail "no free port"
    finish
}
start_fake fake fake_graph.mjs --fixtures "$IG_FIXTURES" --app-secret "$TEST_SECRET" \
    --webhook "http://127.0.0.1:$PORT/webhooks/instagram/messages" || finish
FAKE=$FAKE_URL

fake() { # METHOD PATH [JSON]
    curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$FAKE$2"
}
start_direkt() { # [VAR=value…]: start_server, then point the fake's echoes at the port it got
    start_server "$@" || return 1
    fake POST /_echo "{\"webhook\": \"http://127.0.0.1:$PORT/webhooks/instagram/messages\"}" |
        grep -q "\"webhook\":\"http://127.0.0.1:$PORT/" || {
        fail "the fake's echoes could not be pointed at port $PORT"
        return 1
    }
}
script() { # STEPS_JSON: the fake's answers to the next sends
    local out
    out=$(fake POST /_script "{\"steps\": $1}")
    assert_contains '"ok":true' "$out" "the fake took the script $1"
}
# Over FILE's JSON array, the items (r) that WHERE keeps, in order: their number, or EXPR of
# each, one a line.
json_items() { # FILE WHERE [EXPR]
    local q="WITH q AS (SELECT key AS k, value AS r FROM json_each(CAST(readfile('$1') AS TEXT)))"
    if [ -z "${3:-}" ]; then
        sqlite3 -batch :memory: "$q SELECT count(*) FROM q WHERE $2"
    else
        sqlite3 -batch :memory: "$q SELECT $3 FROM q WHERE $2 ORDER BY k"
    fi
}
# fq WHERE [EXPR]: over the fake's recorded Graph requests (r ->> '$.body.tag' …)
fq() {
    fake GET /_requests >"$TEST_TMP/requests.json"
    json_items "$TEST_TMP/requests.json" "$1" "${2:-}"
}
# sends CUSTOMER [EXPR] [WHERE]: the sends to a customer (recipient.id)
sends() {
    fq "r ->> 'kind' = 'send' AND r ->> '\$.body.recipient.id' = '$1'${3:+ AND ($3)}" "${2:-}"
}
wait_sends() { # CUSTOMER N [TIMEOUT_S]: until the fake got N sends to the customer
    local end=$(($(now_ms) + ${3:-20} * 1000)) got
    while :; do
        got=$(sends "$1")
        [ "$got" == "$2" ] && return 0
        [ "$(now_ms)" -ge $end ] && break
        sleep 0.05
    done
    fail "the fake got $got send(s) to $1, expected $2: $(sends "$1" "r ->> 'body'")"
    return 1
}
wait_echo() { # MID [TIMEOUT_S]: until the fake's echo of that send was answered 200 by direkt
    local end=$(($(now_ms) + ${2:-20} * 1000)) got
    while :; do
        fake GET /_echoes >"$TEST_TMP/echoes.json"
        got=$(json_items "$TEST_TMP/echoes.json" "r ->> 'mid' = '$1'" "r ->> 'status'")
        [ "$got" == 200 ] && return 0
        [ "$(now_ms)" -ge $end ] && break
        sleep 0.05
    done
    fail "the echo of $1 was not taken by direkt: $(json_items "$TEST_TMP/echoes.json" "r ->> 'mid' = '$1'" r)"
    return 1
}
lit() { # TEXT: as an SQL string literal
    printf "'%s'" "${1//\'/\'\'}"
}

# ---- direkt's side ----
jx() { # COLUMN PATH: SQL for a JSON field (PATH like a.b) on either backend
    if [ "$DIREKT_BACKEND" == sqlite ]; then
        echo "json_extract($1, '\$.$2')"
    else
        echo "($1 #>> '{${2//./,}}')"
    fi
}
conv_of() { # CUSTOMER [ACCOUNT]: the conversation's id
    sql "SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$1' AND c.account_id = '${2:-$ACCOUNT}'"
}
meta() { # MESSAGE_ID PATH ($.x): a field of the message's metadata
    json_of "$(sql "SELECT metadata FROM messages WHERE id = '$1'")" "$2"
}
row() { # MESSAGE_ID: status|status_reason
    sql "SELECT status || '|' || COALESCE(status_reason, '') FROM messages WHERE id = '$1'"
}
bots() { # CONVERSATION: its bot messages
    sql "SELECT count(*) FROM messages WHERE conversation_id = '$1' AND sender_type = 'bot'"
}
wait_status() { # MESSAGE_ID STATUS [TIMEOUT_S] [WHAT]
    wait_for "SELECT status FROM messages WHERE id = '$1'" "$2" "${3:-20}" && return 0
    fail "${4:-message $1} is not $2: $(sql "SELECT status, status_reason, metadata FROM messages WHERE id = '$1'")"
    return 1
}
# no message of the conversation (all when none given) is waiting or in flight
wait_quiet() { # [CONVERSATION]
    wait_for "SELECT count(*) FROM messages WHERE status IN ('pending_send', 'sending')${1:+ AND conversation_id = '$1'}" 0 20
}

# say CUSTOMER TEXT [TIME_MS]: the customer's message (now by default); sets MID
N=0
say() {
    N=$((N + 1))
    MID="mid-$1-$N-$RANDOM"
    post_json "$(message_body "$1" "$MID" "$2" "${3:-$(now_ms)}")"
    assert_status 200 "webhook: $1 says \"$2\""
}
# answer: waits until the reply job took message MID; REPLY is the bot message answering it
# ("" when the bot stayed silent), CONV its conversation
answer() {
    REPLY=""
    wait_for "SELECT status FROM messages WHERE instagram_mid = '$MID'" processed 20 || return 1
    local id
    id=$(sql "SELECT id FROM messages WHERE instagram_mid = '$MID'")
    CONV=$(sql "SELECT conversation_id FROM messages WHERE id = '$id'")
    REPLY=$(sql "SELECT id FROM messages WHERE sender_type = 'bot' AND CAST(metadata AS TEXT) LIKE '%$id%'")
}
# op_say CONVERSATION TEXT: an operator's message through the API; OP is its id
op_say() {
    api POST "/api/v1/conversations/$1/messages" \
        "$(sqlite3 -batch :memory: "SELECT json_object('text', $(lit "$2"))")"
    assert_status 202 "operator message \"${2:0:40}\""
    OP=$(json_get "$HTTP_BODY_FILE" '$.id')
}
# fixture NAME [PATH VALUE]…: the fixture with its entries' times and events' timestamps now,
# then each PATH (of json_set) set to VALUE (an SQL expression); prints the body
fixture() {
    local f="$IG_FIXTURES/$1.json" now sets=""
    now=$(now_ms)
    shift
    while [ $# -ge 2 ]; do
        sets+=", '$1', $2"
        shift 2
    done
    local t="" p
    for p in '$.entry[0].time' '$.entry[1].time' '$.entry[0].messaging[0].timestamp' \
        '$.entry[0].messaging[1].timestamp' '$.entry[1].messaging[0].timestamp'; do
        t+=", '$p', $now"
    done
    sqlite3 -batch :memory: "SELECT json_set(json_replace(CAST(readfile('$f') AS TEXT)$t)$sets)"
}

# SQL over one recorded request r
TEXT="r ->> '\$.body.message.text'"
HOW="(r ->> '\$.body.messaging_type') || '|' || COALESCE(r ->> '\$.body.tag', '-')"
DELIVERED="r ->> 'delivered' = 1"

# Every send the fake delivered is one message stored as sent with the fake's message id;
# EXTRA_MID…: delivered sends known to be unrecorded (a send interrupted without an echo).
assert_sent_once() { # [EXTRA_MID…]
    local delivered stored
    delivered=$(fq "r ->> 'kind' = 'send' AND $DELIVERED" "r ->> 'message_id'" | sort | paste -sd ' ')
    stored=$({
        sql "SELECT instagram_mid FROM messages WHERE status = 'sent' AND instagram_mid LIKE 'm_fake_%'"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } | sort | paste -sd ' ')
    assert_eq "$delivered" "$stored" "each send the fake delivered is one message stored as sent"
}

# the server environment of both tests
IG_ENV=(DIREKT_REPLY_DEBOUNCE_MS=0 IG_GRAPH_URL="$FAKE" IG_ACCESS_TOKEN="$TOKEN" DIREKT_SECRET_KEY="$KEY")
