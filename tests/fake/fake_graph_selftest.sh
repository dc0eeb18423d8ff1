#!/usr/bin/env bash
# fake_graph_selftest.sh: checks every behaviour of tests/fake/fake_graph.mjs with curl (node
# only parses JSON and plays the webhook receiver; openssl checks the echo signatures).
# Standalone:
#   tests/fake/fake_graph_selftest.sh [FIXTURES_DIR]
# FIXTURES_DIR defaults to $DIREKT_FIXTURES/instagram, else ../shared/fixtures/instagram next to
# the repo. Exits 0 when all checks pass, 1 on any failure (each is printed), 2 on a setup error.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAKE="$HERE/fake_graph.mjs"
if [ $# -ge 1 ]; then
    FIX=$1
elif [ -n "${DIREKT_FIXTURES:-}" ]; then
    FIX="$DIREKT_FIXTURES/instagram"
else
    FIX="$HERE/../../../shared/fixtures/instagram"
fi
[ -d "$FIX" ] || { echo "fake_graph_selftest: no fixtures dir $FIX" >&2; exit 2; }
for tool in node curl openssl; do
    command -v "$tool" >/dev/null || { echo "fake_graph_selftest: $tool is not installed" >&2; exit 2; }
done

T=$(mktemp -d /tmp/fake-graph-selftest.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); }
bad() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    echo "FAIL: $*" >&2
}
expect_eq() { if [ "$1" == "$2" ]; then ok; else bad "$3: want [$1] got [$2]"; fi; }
expect_same() { if cmp -s "$1" "$2"; then ok; else bad "$3: $2 differs from $1: $(head -c 300 "$2")"; fi; }

# js FILE EXPR: evaluates EXPR with j = the JSON of FILE and prints the result.
js() {
    node -e 'const fs=require("fs");const j=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));
             const r=(0,eval)("(j)=>("+process.argv[2]+")")(j);
             process.stdout.write(typeof r==="string"?r:JSON.stringify(r));' "$1" "$2"
}

wait_file() {
    for _ in $(seq 100); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# The webhook receiver: each POST is stored as hooks/NNNN.body (raw bytes) and NNNN.meta
# ({sig, path, at}), the meta file last; answers 200.
mkdir -p "$T/hooks"
node -e '
const http = require("http"), fs = require("fs");
const dir = process.argv[1];
let n = 0;
const s = http.createServer((q, r) => {
    const b = [];
    q.on("data", (c) => b.push(c));
    q.on("end", () => {
        const id = String(++n).padStart(4, "0");
        fs.writeFileSync(`${dir}/${id}.body`, Buffer.concat(b));
        fs.writeFileSync(`${dir}/${id}.meta`, JSON.stringify({ sig: q.headers["x-hub-signature-256"] || "",
            path: q.url, at: Date.now(), type: q.headers["content-type"] || "" }));
        r.writeHead(200);
        r.end("EVENT_RECEIVED");
    });
});
s.listen(0, "127.0.0.1", () => {
    fs.writeFileSync(`${dir}/port.tmp`, String(s.address().port));
    fs.renameSync(`${dir}/port.tmp`, `${dir}/port`);
});
process.on("SIGTERM", () => process.exit(0));
' "$T/hooks" &
PIDS+=($!)
wait_file "$T/hooks/port" || { echo "fake_graph_selftest: webhook receiver did not start" >&2; exit 2; }
HOOK="http://127.0.0.1:$(cat "$T/hooks/port")/hook"
SECRET='app-secret-Ω'

hooks() { find "$T/hooks" -name '*.meta' | wc -l; }
# wait_hooks N: waits (up to 5 s) until N webhooks arrived
wait_hooks() {
    for _ in $(seq 100); do
        [ "$(hooks)" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
hook_file() { printf '%s/hooks/%04d.%s' "$T" "$1" "$2"; }
# check_sig N: the signature of webhook N verifies with the app secret
check_sig() {
    local want got
    want="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$(hook_file "$1" body)" | cut -d' ' -f1)"
    got=$(js "$(hook_file "$1" meta)" 'j.sig')
    expect_eq "$want" "$got" "echo $1 signature"
}

start_fake() {
    local name=$1
    shift
    node "$FAKE" --port 0 --fixtures "$FIX" --port-file "$T/$name.port" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    FAKE_PID=$!
    wait_file "$T/$name.port" || { echo "fake_graph_selftest: $name did not start: $(cat "$T/$name.err")" >&2; exit 2; }
    FAKE_URL="http://127.0.0.1:$(cat "$T/$name.port")"
}

start_fake main --token tok-a --webhook "$HOOK" --app-secret "$SECRET"
B=$FAKE_URL
ACC=$(js "$FIX/message_echo.json" 'j.entry[0].id')
expect_eq "listening $(cat "$T/main.port")" "$(cat "$T/main.out")" "stdout line"
expect_eq '{"ok":true}' "$(curl -s "$B/_health")" "health"

AUTH=(-H 'Authorization: Bearer tok-a')
# req NAME ARGS…: the answer body in $T/NAME.body, the status in CODE
req() {
    local name=$1
    shift
    CODE=$(curl -s -o "$T/$name.body" -w '%{http_code}' "$@")
}
# send NAME PATH JSON: POST PATH with JSON and the valid token
send() { req "$1" "${AUTH[@]}" -H 'content-type: application/json' "$B$2" -d "$3"; }
TEXT='{"recipient":{"id":"1327813061483247"},"message":{"text":"hello echo"}}'
MID_RE='^m_fake_[0-9]+_[0-9a-f]+$'

# ---- auth
req a1 "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 400 "$CODE" "no token → 400"
expect_same "$FIX/error_token_expired.json" "$T/a1.body" "no token: error_token_expired.json verbatim"
req a2 -H 'Authorization: Bearer nope' "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 400 "$CODE" "wrong token → 400"
expect_same "$FIX/error_token_expired.json" "$T/a2.body" "wrong token: fixture verbatim"
req a3 "$B/v25.0/me/messages?access_token=tok-a" -d "$TEXT"
expect_eq 200 "$CODE" "?access_token="
expect_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$B/_tokens" -d '{"valid":["tok-b","tok-c"]}')" "POST /_tokens"
req a5 -H 'Authorization: Bearer tok-c' "$B/v25.0/me/messages" -d "$TEXT"
expect_eq "400 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-a' "$B/me/messages" -d "$TEXT") $CODE" "/_tokens replaces the valid set"
curl -s "$B/_tokens" -d '{"valid":[]}' >/dev/null
req a6 -H 'Authorization: Bearer anything' "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 200 "$CODE" "no tokens configured → any non-empty token"
req a7 -H 'Authorization: Bearer ' "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 400 "$CODE" "empty token still refused"
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$B/_tokens" -d '{"valid":[1]}')" "bad /_tokens rejected"
curl -s -X POST "$B/_reset" >/dev/null
expect_eq "400 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-c' "$B/me/messages" -d "$TEXT") $(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$B/me/messages" -d "$TEXT")" "/_reset restores --token"
wait_hooks 4 || bad "the 4 accepted sends above were not echoed"
expect_eq 1 "$(curl -s "$B/_echoes" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>process.stdout.write(String(JSON.parse(d).length)))')" "one echo recorded since the reset"
curl -s -X POST "$B/_reset" >/dev/null

# ---- sends on every path flavour, and their echoes
N=$(hooks)
send s1 /v25.0/17841405822304914/messages "$TEXT"
expect_eq 200 "$CODE" "send /v25.0/<IG_ID>/messages"
expect_eq "$(js "$FIX/send_response.json" 'Object.keys(j).sort().join(",")')" "$(js "$T/s1.body" 'Object.keys(j).sort().join(",")')" "send answer has send_response.json's keys"
expect_eq "1327813061483247|true" "$(js "$T/s1.body" 'j.recipient_id+"|"+/'"$MID_RE"'/.test(j.message_id)')" "send answer values"
MID1=$(js "$T/s1.body" 'j.message_id')
wait_hooks $((N + 1)) || bad "no echo for the send"
check_sig $((N + 1))
E=$(hook_file $((N + 1)) body)
expect_eq "instagram|17841405822304914|17841405822304914|1327813061483247|$MID1|hello echo|true|1|1" \
    "$(js "$E" '[j.object,j.entry[0].id,j.entry[0].messaging[0].sender.id,j.entry[0].messaging[0].recipient.id,j.entry[0].messaging[0].message.mid,j.entry[0].messaging[0].message.text,j.entry[0].messaging[0].message.is_echo,j.entry.length,j.entry[0].messaging.length].join("|")')" "echo payload"
expect_eq "$(js "$FIX/message_echo.json" '[Object.keys(j),Object.keys(j.entry[0]),Object.keys(j.entry[0].messaging[0]),Object.keys(j.entry[0].messaging[0].message)].map(k=>k.join(",")).join(";")')" \
    "$(js "$E" '[Object.keys(j),Object.keys(j.entry[0]),Object.keys(j.entry[0].messaging[0]),Object.keys(j.entry[0].messaging[0].message)].map(k=>k.join(",")).join(";")')" "echo has message_echo.json's shape"
expect_eq "true|/hook|application/json" "$(js "$(hook_file $((N + 1)) meta)" '(j.at>0)+"|"+j.path+"|"+j.type')" "echo request"
expect_eq "true" "$(js "$E" 'j.entry[0].time>1700000000000&&j.entry[0].messaging[0].timestamp>1700000000000')" "echo times in ms"

send s2 /v26.0/me/messages "$TEXT"
expect_eq 200 "$CODE" "send /v26.0/me/messages"
wait_hooks $((N + 2)) && check_sig $((N + 2))
expect_eq "$ACC" "$(js "$(hook_file $((N + 2)) body)" 'j.entry[0].id')" "/me echo uses the default account (message_echo.json's)"
expect_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$B/_account" -d '{"id":"17840000000000001","page_id":"100200300"}')" "POST /_account"
send s3 /me/messages "$TEXT"
expect_eq 200 "$CODE" "send /me/messages without a version"
wait_hooks $((N + 3))
expect_eq "17840000000000001" "$(js "$(hook_file $((N + 3)) body)" 'j.entry[0].id+""')" "/me echo uses /_account"
send s4 /v25.0/100200300/messages "$TEXT"
expect_eq 200 "$CODE" "send /<PAGE_ID>/messages (facebook flavour)"
wait_hooks $((N + 4))
expect_eq "17840000000000001|17840000000000001" "$(js "$(hook_file $((N + 4)) body)" 'j.entry[0].id+"|"+j.entry[0].messaging[0].sender.id')" "page id maps to its account"
send s5 /v25.0/me/messages '{"recipient":{"id":"42"},"message":{"attachment":{"type":"image","payload":{"url":"https://e.x/a.jpg"}}}}'
wait_hooks $((N + 5))
expect_eq "image|https://e.x/a.jpg|undefined" "$(js "$(hook_file $((N + 5)) body)" '(m=>m.attachments[0].type+"|"+m.attachments[0].payload.url+"|"+m.text)(j.entry[0].messaging[0].message)')" "attachment echo"
expect_eq 5 "$(($(hooks) - N))" "one echo per send"

# ---- sender actions and reactions: answered, never echoed
N=$(hooks)
for a in typing_on typing_off mark_seen; do
    send act /v25.0/me/messages "{\"recipient\":{\"id\":\"42\"},\"sender_action\":\"$a\"}"
    expect_eq '200|{"recipient_id":"42"}' "$CODE|$(cat "$T/act.body")" "sender action $a"
done
send react /v25.0/me/messages '{"recipient":{"id":"42"},"sender_action":"react","payload":{"message_id":"mid.1","reaction":"love"}}'
expect_eq '200|{"recipient_id":"42"}' "$CODE|$(cat "$T/react.body")" "react"
send unreact /v25.0/me/messages '{"recipient":{"id":"42"},"sender_action":"unreact","payload":{"message_id":"mid.1"}}'
expect_eq '200|{"recipient_id":"42"}' "$CODE|$(cat "$T/unreact.body")" "unreact"
sleep 0.4
expect_eq "$N" "$(hooks)" "actions are not echoed"

# ---- Meta's checks (code 100 in the shape of the error fixtures)
# err100 NAME WHAT: the answer is a 400 with code 100 in the fixtures' shape
SHAPE=$(js "$FIX/error_outside_window.json" 'Object.keys(j.error).filter(k=>k!=="error_subcode").join(",")')
err_is() {
    expect_eq "400|$2|$SHAPE|OAuthException|true" "$CODE|$(js "$T/$1.body" '[j.error.code,Object.keys(j.error).filter(k=>k!=="error_subcode").join(","),j.error.type,typeof j.error.message==="string"&&j.error.fbtrace_id.length>10].join("|")')" "$3"
}
T1000=$(printf 'ж%.0s' $(seq 500))
qr() { node -e 'process.stdout.write(JSON.stringify({recipient:{id:"42"},messaging_type:"RESPONSE",message:{text:"pick",quick_replies:Array.from({length:+process.argv[1]},(_,i)=>({content_type:"text",title:"t"+i,payload:"P"+i}))}}))' "$1"; }
# cases: the status (200) or error code wanted | what | the body sent to /v25.0/me/messages
while IFS='|' read -r want what body; do
    send vc /v25.0/me/messages "$body"
    if [ "$want" = 200 ]; then expect_eq 200 "$CODE" "$what"; else err_is vc "$want" "$what → $want"; fi
done <<EOF
200|text of exactly 1000 UTF-8 bytes|{"recipient":{"id":"42"},"message":{"text":"$T1000"}}
100|text of 1001 bytes|{"recipient":{"id":"42"},"message":{"text":"${T1000}x"}}
200|13 quick replies|$(qr 13)
100|14 quick replies|$(qr 14)
100|tag ACCOUNT_UPDATE|{"recipient":{"id":"42"},"messaging_type":"MESSAGE_TAG","tag":"ACCOUNT_UPDATE","message":{"text":"x"}}
200|tag HUMAN_AGENT|{"recipient":{"id":"42"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"text":"x"}}
100|MESSAGE_TAG without a tag|{"recipient":{"id":"42"},"messaging_type":"MESSAGE_TAG","message":{"text":"x"}}
100|no recipient|{"message":{"text":"x"}}
100|empty message|{"recipient":{"id":"42"},"message":{}}
100|unknown sender_action|{"recipient":{"id":"42"},"sender_action":"dance"}
100|react without payload.message_id|{"recipient":{"id":"42"},"sender_action":"react"}
100|sender_action with a message|{"recipient":{"id":"42"},"sender_action":"typing_on","message":{"text":"x"}}
100|non-JSON send|not json
EOF
send v2 /v25.0/me/messages "{\"recipient\":{\"id\":\"42\"},\"message\":{\"text\":\"${T1000}x\"}}"
expect_eq "true" "$(js "$T/v2.body" '/1000/.test(j.error.message)')" "text error names the limit"
req v12 "${AUTH[@]}" "$B/v25.0/17841405822304914/likes" -d '{}'
expect_eq "100|33" "$(js "$T/v12.body" 'j.error.code+"|"+j.error.error_subcode')" "unknown route → 100/33"
err_is v12 100 "unknown route shape"

# ---- private replies: one per comment
CMT=$(js "$FIX/comment.json" 'j.entry[0].changes[0].value.id')
CMTR=$(js "$FIX/comment.json" 'j.entry[0].changes[0].value.from.id')
N=$(hooks)
send p1 /v25.0/me/messages "{\"recipient\":{\"comment_id\":\"$CMT\"},\"message\":{\"text\":\"price list\"}}"
expect_eq "200|$CMTR" "$CODE|$(js "$T/p1.body" 'j.recipient_id')" "private reply: recipient_id is the fixture's commenter"
wait_hooks $((N + 1))
expect_eq "$CMTR|price list" "$(js "$(hook_file $((N + 1)) body)" 'j.entry[0].messaging[0].recipient.id+"|"+j.entry[0].messaging[0].message.text')" "private reply echo goes to the commenter"
send p2 /v25.0/me/messages "{\"recipient\":{\"comment_id\":\"$CMT\"},\"message\":{\"text\":\"again\"}}"
expect_eq "400|10|2534025|Only one private reply is allowed per comment|OAuthException" "$CODE|$(js "$T/p2.body" '[j.error.code,j.error.error_subcode,j.error.message,j.error.type].join("|")')" "second private reply refused"
send p3 /v25.0/me/messages '{"recipient":{"comment_id":"C-unknown"},"message":{"text":"hi"}}'
expect_eq "200|true" "$CODE|$(js "$T/p3.body" '/^[0-9]{10,}$/.test(j.recipient_id)')" "unknown commenter → fake numeric id"
send p4 /v25.0/me/messages '{"recipient":{"comment_id":"C-unknown"},"message":{"text":"hi"}}'
expect_eq 400 "$CODE" "second private reply to an unknown comment refused"
curl -s "$B/_comments" -d '{"C-known":"777"}' >/dev/null
send p5 /v25.0/me/messages '{"recipient":{"comment_id":"C-known"},"message":{"text":"hi"}}'
expect_eq "200|777" "$CODE|$(js "$T/p5.body" 'j.recipient_id')" "/_comments sets the commenter"

# ---- public comment replies
req cr1 "${AUTH[@]}" "$B/v25.0/$CMT/replies" -H 'content-type: application/json' -d '{"message":"Thanks!"}'
expect_eq "200|true" "$CODE|$(js "$T/cr1.body" 'Object.keys(j).join()==="id"&&/^[0-9]+$/.test(j.id)')" "comment reply (JSON body)"
req cr2 "${AUTH[@]}" -X POST "$B/v26.0/$CMT/replies?message=Thanks%20again"
expect_eq "200|true" "$CODE|$(js "$T/cr2.body" 'j.id!==""&&j.id!==undefined')" "comment reply (?message=)"
expect_eq "false" "$(node -e 'process.stdout.write(String(process.argv[1]===process.argv[2]))' "$(cat "$T/cr1.body")" "$(cat "$T/cr2.body")")" "comment reply ids differ"
req cr3 "${AUTH[@]}" "$B/v25.0/$CMT/replies" -d '{}'
err_is cr3 100 "comment reply without message → 100"

# ---- profile
req pr1 "${AUTH[@]}" "$B/v25.0/5981206525237013?fields=name,username,profile_pic,follower_count,is_user_follow_business,is_verified_user"
expect_eq 200 "$CODE" "profile"
expect_eq "$(js "$FIX/profile.json" 'JSON.stringify(Object.fromEntries(Object.entries(j).filter(([k])=>k!=="is_business_follow_user")))')" "$(cat "$T/pr1.body")" "profile fields and values"
req pr2 "${AUTH[@]}" "$B/v26.0/999888?fields=name,username"
expect_eq '{"name":"Maria K","username":"maria.k","id":"999888"}' "$(cat "$T/pr2.body")" "profile: requested fields only, id kept and set"
req pr3 "${AUTH[@]}" "$B/999888"
expect_eq "$(js "$FIX/profile.json" 'JSON.stringify({...j,id:"999888"})')" "$(cat "$T/pr3.body")" "profile without fields → profile.json"
curl -s "$B/_profiles" -d '{"999888":{"name":"Ivan","follower_count":3}}' >/dev/null
req pr4 "${AUTH[@]}" "$B/v25.0/999888?fields=name,follower_count"
expect_eq '{"name":"Ivan","follower_count":3,"id":"999888"}' "$(cat "$T/pr4.body")" "/_profiles override"

# ---- conversations API
node -e '
const msg = (conv, i) => ({ id: `${conv}_m${i}`, created_time: new Date(Date.UTC(2026, 10, 1, 10, i)).toISOString().replace(/\.\d+Z$/, "+0000"),
    from: { id: i % 2 ? "17841405822304914" : "5981206525237013", username: i % 2 ? "shop" : "maria.k" },
    to: { data: [{ id: i % 2 ? "5981206525237013" : "17841405822304914", username: i % 2 ? "maria.k" : "shop" }] },
    message: `text ${i}` });
const conv = (id, n, t, who) => ({ id, updated_time: t, messages: Array.from({ length: n }, (_, i) => msg(id, i))
    .map((m) => (who ? { ...m, from: { id: who, username: "other" } } : m)) });
process.stdout.write(JSON.stringify({ account: "17841405822304914", page_size: 2, conversations: [
    conv("c1", 25, "2026-11-03T10:00:00+0000"), conv("c2", 3, "2026-11-02T10:00:00+0000", "1327813061483247"),
    conv("c3", 1, "2026-11-01T10:00:00+0000")] }));' >"$T/convs.json"
curl -s -X POST "$B/_reset" >/dev/null
expect_eq 200 "$(curl -s -o "$T/lc.out" -w '%{http_code}' "$B/_conversations" --data-binary "@$T/convs.json")" "POST /_conversations"
req cv1 "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram"
expect_eq "200|c1,c2|2026-11-03T10:00:00+0000|true|true" "$CODE|$(js "$T/cv1.body" '[j.data.map(c=>c.id).join(),j.data[0].updated_time,Object.keys(j.data[0]).join()==="id,updated_time",typeof j.paging.cursors.before==="string"&&typeof j.paging.cursors.after==="string"].join("|")')" "conversations page 1"
NEXT=$(js "$T/cv1.body" 'j.paging.next')
case "$NEXT" in "$B/v25.0/me/conversations?"*after=*) ok ;; *) bad "paging.next is not an absolute URL to the fake: $NEXT" ;; esac
req cv2 "${AUTH[@]}" "$NEXT"
expect_eq "200|c3|false" "$CODE|$(js "$T/cv2.body" 'j.data.map(c=>c.id).join()+"|"+("next" in j.paging)')" "conversations last page has no next"
curl -s "$B/_account" -d '{"id":"17841405822304914","page_id":"555000"}' >/dev/null
req cv3 "${AUTH[@]}" "$B/v26.0/555000/conversations?platform=instagram&limit=5"
expect_eq "200|c1,c2,c3" "$CODE|$(js "$T/cv3.body" 'j.data.map(c=>c.id).join()')" "facebook flavour /<page id>/conversations, limit"
req cv4 "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram&user_id=1327813061483247"
expect_eq '{"data":[{"id":"c2"}]}' "$(cat "$T/cv4.body")" "user_id filter"
req cv5 "${AUTH[@]}" "$B/v25.0/me/conversations"
err_is cv5 100 "conversations without platform → 100"
req cv6 "${AUTH[@]}" "$B/v25.0/c1?fields=messages%7Bid,created_time,from,to,message%7D"
expect_eq "200|c1|20|c1_m24|c1_m5|id,created_time,from,to,message|text 24|shop" "$CODE|$(js "$T/cv6.body" '[j.id,j.messages.data.length,j.messages.data[0].id,j.messages.data[19].id,Object.keys(j.messages.data[0]).join(),j.messages.data[0].message,j.messages.data[0].to.data[0].username].join("|")')" "conversation messages: 20 newest first"
req cv7 "${AUTH[@]}" "$B/v25.0/c2?fields=messages%7Bid,created_time%7D"
expect_eq "c2_m2,c2_m1,c2_m0|id,created_time" "$(js "$T/cv7.body" 'j.messages.data.map(m=>m.id).join()+"|"+Object.keys(j.messages.data[0]).join()')" "conversation messages: requested fields"
req cv8 "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram&after=bogus"
err_is cv8 100 "bad cursor → 100"
# rate limit: off by default, 613 fixture when enabled
codes=""
for _ in 1 2 3 4 5; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram") "; done
expect_eq "200 200 200 200 200 " "$codes" "no conversations rate limit by default"
expect_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$B/_limits" -d '{"conversations_per_s":2}')" "POST /_limits"
# one curl for the three calls, so that they surely fall within one second
codes=$(curl -s -w '%{http_code} ' "${AUTH[@]}" -o "$T/rl1.body" "$B/v25.0/me/conversations?platform=instagram" \
    -o "$T/rl2.body" "$B/v25.0/c1?fields=messages" -o "$T/rl3.body" "$B/v25.0/me/conversations?platform=instagram")
expect_eq "200 200 400 " "$codes" "3rd conversations call in a second → 400"
expect_same "$FIX/error_rate_limit_613.json" "$T/rl3.body" "rate limit: error_rate_limit_613.json verbatim"
req rl4 "${AUTH[@]}" "$B/v25.0/17840000000000777/conversations?platform=instagram"
expect_eq 200 "$CODE" "rate limit is per account"
sleep 1.1
req rl5 "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram"
expect_eq 200 "$CODE" "rate limit over after a second"
curl -s "$B/_limits" -d '{"conversations_per_s":0}' >/dev/null

# ---- scripted faults
script() { curl -s -o "$T/script.out" -w '%{http_code}' "$B/_script" -d "$1"; }
expect_eq 400 "$(script '{"steps":[{"fixture":"error_outside_window.json"},{"bogus":1}]}')" "unknown step key rejected"
expect_eq 400 "$(script '{"steps":[{"fixture":"../README.md"}]}')" "bad fixture name rejected"
expect_eq 400 "$(script '{"steps":[{"match":"everything"}]}')" "bad match rejected"
expect_eq 400 "$(script '{"steps":[{"status":500}]}')" "status without fixture rejected"
expect_eq 400 "$(script '{"steps":[{"hang":true,"fixture":"error_app_limit_4.json"}]}')" "hang with fixture rejected"
expect_eq "[]" "$(curl -s "$B/_script")" "rejected batches add nothing"

for f in "$FIX"/error_*.json; do
    name=$(basename "$f")
    want=400
    [ "$name" = error_server_transient.json ] && want=500
    script "{\"steps\":[{\"fixture\":\"$name\"}]}" >/dev/null
    send sf /v25.0/me/messages "$TEXT"
    expect_eq "$want" "$CODE" "$name status"
    expect_same "$f" "$T/sf.body" "$name verbatim"
done
script '{"steps":[{"fixture":"error_app_limit_4.json","status":403}]}' >/dev/null
send st1 /v25.0/me/messages "$TEXT"
expect_eq 403 "$CODE" "explicit status"
expect_same "$FIX/error_app_limit_4.json" "$T/st1.body" "explicit status keeps the fixture"

# count, FIFO order, queue drained
expect_eq 200 "$(script '{"steps":[{"fixture":"error_outside_window.json","count":2},{"fixture":"error_user_unavailable.json"}]}')" "script accepted"
expect_eq 3 "$(js "$T/script.out" 'j.pending')" "count queues N steps"
codes=""
for i in 1 2 3 4; do
    send c$i /v25.0/me/messages "$TEXT"
    codes="$codes$CODE:$(js "$T/c$i.body" 'j.error?j.error.code:"ok"') "
done
expect_eq "400:10 400:10 400:551 200:ok " "$codes" "count and order"

# match: each kind takes only its own steps
script '{"steps":[{"match":"action","fixture":"error_server_transient.json"},{"match":"profile","fixture":"error_user_unavailable.json"},{"match":"conversations","fixture":"error_rate_limit_613.json"},{"match":"comment_reply","fixture":"error_app_limit_4.json"}]}' >/dev/null
send m1 /v25.0/me/messages "$TEXT"
expect_eq 200 "$CODE" "a send skips steps for other kinds"
req m2 "${AUTH[@]}" "$B/v25.0/999888?fields=name"
expect_eq "400|551" "$CODE|$(js "$T/m2.body" 'j.error.code')" "match profile"
send m3 /v25.0/me/messages '{"recipient":{"id":"42"},"sender_action":"typing_on"}'
expect_eq "500|2" "$CODE|$(js "$T/m3.body" 'j.error.code')" "match action"
req m4 "${AUTH[@]}" "$B/v25.0/c1?fields=messages"
expect_eq "400|613" "$CODE|$(js "$T/m4.body" 'j.error.code')" "match conversations (messages of one)"
req m5 "${AUTH[@]}" "$B/v25.0/$CMT/replies" -d '{"message":"x"}'
expect_eq "400|4" "$CODE|$(js "$T/m5.body" 'j.error.code')" "match comment_reply"
script '{"steps":[{"match":"any","fixture":"error_token_expired.json"}]}' >/dev/null
req m6 "${AUTH[@]}" "$B/v25.0/me/conversations?platform=instagram"
expect_eq "400|190" "$CODE|$(js "$T/m6.body" 'j.error.code')" "match any"
expect_eq "[]" "$(curl -s "$B/_script")" "every step consumed"

# a request refused for its token does not take a step
script '{"steps":[{"fixture":"error_outside_window.json"}]}' >/dev/null
req tk1 -H 'Authorization: Bearer wrong' "$B/v25.0/me/messages" -d "$TEXT"
expect_eq "400|190" "$CODE|$(js "$T/tk1.body" 'j.error.code')" "bad token before the step"
send tk2 /v25.0/me/messages "$TEXT"
expect_eq "400|10" "$CODE|$(js "$T/tk2.body" 'j.error.code')" "the step waits for an authenticated request"

# ok forces a success
script '{"steps":[{"ok":true}]}' >/dev/null
send ok1 /v25.0/me/messages "{\"recipient\":{\"id\":\"42\"},\"message\":{\"text\":\"${T1000}xx\"}}"
expect_eq "200|true" "$CODE|$(js "$T/ok1.body" "/$MID_RE/.test(j.message_id)")" "ok:true forces success"

# errors do not deliver: no echo, the private reply stays available
N=$(hooks)
script '{"steps":[{"fixture":"error_server_transient.json"}]}' >/dev/null
send e1 /v25.0/me/messages '{"recipient":{"comment_id":"C-fresh"},"message":{"text":"hi"}}'
expect_eq 500 "$CODE" "failed private reply"
send e2 /v25.0/me/messages '{"recipient":{"comment_id":"C-fresh"},"message":{"text":"hi"}}'
expect_eq 200 "$CODE" "a failed private reply does not use the comment"
wait_hooks $((N + 1))
sleep 0.3
expect_eq $((N + 1)) "$(hooks)" "a failed send is not echoed"

# echo:false, and an error that went out anyway (echo:true)
N=$(hooks)
script '{"steps":[{"echo":false},{"fixture":"error_server_transient.json","echo":true}]}' >/dev/null
send ef1 /v25.0/me/messages "$TEXT"
expect_eq 200 "$CODE" "echo:false still answers"
send ef2 /v25.0/me/messages "$TEXT"
expect_eq 500 "$CODE" "error with echo:true answers the error"
wait_hooks $((N + 1)) || bad "error with echo:true: no echo"
curl -s "$B/_requests?kind=send" >"$T/rq.json"
MIDE=$(js "$T/rq.json" 'j[j.length-1].message_id')
expect_eq "true|500|true" "$(js "$T/rq.json" '[j[j.length-1].delivered,j[j.length-1].status,/'"$MID_RE"'/.test(j[j.length-1].message_id)].map(String).join("|")')" "error with echo:true is recorded as delivered"
expect_eq "$MIDE" "$(js "$(hook_file $((N + 1)) body)" 'j.entry[0].messaging[0].message.mid')" "its echo carries the recorded mid"
sleep 0.3
expect_eq $((N + 1)) "$(hooks)" "echo:false suppressed its echo"

# hang + echo: accepted, delivered, echoed, never answered
N=$(hooks)
script '{"steps":[{"hang":true,"echo":true},{"hang":true}]}' >/dev/null
curl -s -o /dev/null --max-time 1 "${AUTH[@]}" "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 28 "$?" "hang → client timeout"
wait_hooks $((N + 1)) || bad "hang with echo:true: no echo"
check_sig $((N + 1))
curl -s "$B/_requests?kind=send" >"$T/rq.json"
MIDH=$(js "$T/rq.json" 'j[j.length-1].message_id')
expect_eq "true|null|true" "$(js "$T/rq.json" '[j[j.length-1].delivered,j[j.length-1].status,j[j.length-1].hung].map(String).join("|")')" "hung send recorded as delivered, unanswered"
expect_eq "$MIDH" "$(js "$(hook_file $((N + 1)) body)" 'j.entry[0].messaging[0].message.mid')" "hung send's echo carries its mid"
curl -s -o /dev/null --max-time 1 "${AUTH[@]}" "$B/v25.0/me/messages" -d "$TEXT"
expect_eq 28 "$?" "hang without echo"
sleep 0.4
expect_eq $((N + 1)) "$(hooks)" "hang without echo:true posts no echo"
expect_eq "true" "$(curl -s "$B/_requests?kind=send" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const j=JSON.parse(d);process.stdout.write(String(j[j.length-1].delivered))})')" "hang without echo is delivered"

# delay_ms: the echo arrives before the delayed answer
N=$(hooks)
script '{"steps":[{"delay_ms":1200}]}' >/dev/null
t0=$(date +%s%3N)
send d1 /v25.0/me/messages "$TEXT"
t1=$(date +%s%3N)
expect_eq 200 "$CODE" "delayed send"
if [ $((t1 - t0)) -ge 1150 ]; then ok; else bad "delay_ms 1200 took $((t1 - t0)) ms"; fi
wait_hooks $((N + 1))
at=$(js "$(hook_file $((N + 1)) meta)" 'j.at')
if [ "$at" -lt $((t1 - 400)) ]; then ok; else bad "echo at $at not before the delayed answer at $t1"; fi

# --echo-delay-ms / /_echo delay_ms, and echo off
N=$(hooks)
curl -s "$B/_echo" -d '{"delay_ms":700}' >/dev/null
send ed /v25.0/me/messages "$TEXT"
sleep 0.3
expect_eq "$N" "$(hooks)" "echo delayed"
wait_hooks $((N + 1)) || bad "delayed echo never came"
curl -s "$B/_echo" -d '{"enabled":false,"delay_ms":0}' >/dev/null
send eo /v25.0/me/messages "$TEXT"
sleep 0.4
expect_eq $((N + 1)) "$(hooks)" "/_echo enabled:false"
curl -s "$B/_echo" -d '{"enabled":true}' >/dev/null
curl -s "$B/_echoes" >"$T/echoes.json"
expect_eq "200|null|true" "$(js "$T/echoes.json" '[j[j.length-1].status,j[j.length-1].error,j.every(e=>e.mid&&e.account&&e.recipient)].map(String).join("|")')" "GET /_echoes"

# ---- /_requests
curl -s -X DELETE "$B/_requests" >/dev/null
send r1 "/v25.0/me/messages?x=1" "$TEXT"
MIDR=$(js "$T/r1.body" 'j.message_id')
curl -s -o /dev/null "${AUTH[@]}" "$B/v25.0/me/messages" -d 'raw text'
curl -s -o /dev/null "$B/v25.0/999?fields=name"
curl -s "$B/_requests" >"$T/rq.json"
expect_eq 3 "$(js "$T/rq.json" 'j.length')" "recorded count"
expect_eq "send|POST|/v25.0/me/messages|1|tok-a|hello echo|number|200|$MIDR|true|number" \
    "$(js "$T/rq.json" '(r=>[r.kind,r.method,r.path,r.query.x,r.auth,r.body.message.text,typeof r.at_ms,r.status,r.message_id,r.delivered,typeof r.seq].join("|"))(j[0])')" "recorded send"
expect_eq "raw text|400|null|false" "$(js "$T/rq.json" '[j[1].body,j[1].status,j[1].message_id,j[1].delivered].map(String).join("|")')" "recorded raw body"
expect_eq "profile|null|400|true" "$(js "$T/rq.json" '[j[2].kind,j[2].auth,j[2].status,j[2].seq>j[1].seq].map(String).join("|")')" "recorded unauthenticated profile"
expect_eq 1 "$(curl -s "$B/_requests?kind=profile" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>process.stdout.write(String(JSON.parse(d).length)))')" "kind filter"
curl -s -X DELETE "$B/_requests" >/dev/null
expect_eq "[]" "$(curl -s "$B/_requests")" "DELETE /_requests"

# ---- /_reset clears everything
script '{"steps":[{"fixture":"error_outside_window.json"}]}' >/dev/null
curl -s "$B/_tokens" -d '{"valid":["tok-z"]}' >/dev/null
curl -s -X POST "$B/_reset" >/dev/null
expect_eq "[]|[]" "$(curl -s "$B/_script")|$(curl -s "$B/_requests")" "reset: script and requests"
send z1 /v25.0/me/messages "$TEXT"
expect_eq 200 "$CODE" "reset: tokens back to --token, no step left"
send z2 /v25.0/me/messages "{\"recipient\":{\"comment_id\":\"$CMT\"},\"message\":{\"text\":\"again\"}}"
expect_eq 200 "$CODE" "reset: private replies forgotten"
req z3 "${AUTH[@]}" "$B/v25.0/c1?fields=messages"
expect_eq "200|c1|undefined" "$CODE|$(js "$T/z3.body" 'j.id+"|"+j.messages')" "reset: conversations gone (c1 is a user again)"
expect_eq "404" "$(curl -s -o /dev/null -w '%{http_code}' "$B/_nothing")" "unknown control route"

# ---- --max-recorded, SIGTERM with a hung connection, bad arguments
start_fake small --max-recorded 3 --webhook "$HOOK" --app-secret "$SECRET" --echo-delay-ms 600 --account 17849999000000001 --verbose
S=$FAKE_URL
N=$(hooks)
curl -s -o /dev/null -H 'Authorization: Bearer t' "$S/v25.0/me/messages" -d "$TEXT"
sleep 0.3
expect_eq "$N" "$(hooks)" "--echo-delay-ms delays the echo"
wait_hooks $((N + 1)) || bad "--echo-delay-ms: no echo"
expect_eq "17849999000000001" "$(js "$(hook_file $((N + 1)) body)" 'j.entry[0].id+""')" "--account is the /me account"
check_sig $((N + 1))
for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null -H 'Authorization: Bearer t' "$S/v25.0/$i"; done
expect_eq "3|7,8,9" "$(curl -s "$S/_requests" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const j=JSON.parse(d);process.stdout.write(j.length+"|"+j.map(r=>r.seq).join())})')" "--max-recorded keeps the last N"
curl -s "$S/_script" -d '{"steps":[{"match":"any","hang":true}]}' >/dev/null
curl -s -o /dev/null --max-time 10 -H 'Authorization: Bearer t' "$S/v25.0/1" &
CPID=$!
for _ in $(seq 100); do
    curl -s "$S/_requests" | grep -q '"hung":true' && break
    sleep 0.05
done
kill -TERM "$FAKE_PID"
wait "$FAKE_PID"
expect_eq 0 "$?" "SIGTERM with a hung connection exits 0"
wait "$CPID"
expect_eq 52 "$?" "the hung client sees the connection closed"
node "$FAKE" --port 0 --fixtures "$FIX" --webhook "$HOOK" >/dev/null 2>&1
expect_eq 2 "$?" "--webhook without --app-secret"
node "$FAKE" --port 0 --fixtures "$T/none" >/dev/null 2>&1
expect_eq 2 "$?" "missing fixtures dir"

expect_eq "" "$(cat "$T/main.err")" "nothing logged without --verbose"
if grep -q 'fake_graph: GET /v25.0/8 profile' "$T/small.err"; then ok; else bad "--verbose logs requests: $(head -c 300 "$T/small.err")"; fi

echo "fake_graph_selftest: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
