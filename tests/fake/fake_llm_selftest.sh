#!/usr/bin/env bash
# fake_llm_selftest.sh: checks every behaviour of tests/fake/fake_llm.mjs with curl (node only
# parses JSON and drives the 1,000-connection check). Standalone:
#   tests/fake/fake_llm_selftest.sh [FIXTURES_DIR]
# FIXTURES_DIR defaults to $DIREKT_FIXTURES/llm, else ../shared/fixtures/llm next to the repo.
# Exits 0 when all checks pass, 1 on any failure (each failure is printed), 2 on a setup error.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAKE="$HERE/fake_llm.mjs"
if [ $# -ge 1 ]; then
    FIX=$1
elif [ -n "${DIREKT_FIXTURES:-}" ]; then
    FIX="$DIREKT_FIXTURES/llm"
else
    FIX="$HERE/../../../shared/fixtures/llm"
fi
[ -d "$FIX" ] || { echo "fake_llm_selftest: no fixtures dir $FIX" >&2; exit 2; }
command -v node >/dev/null || { echo "fake_llm_selftest: node is not installed (scripts/install-deps)" >&2; exit 2; }
command -v curl >/dev/null || { echo "fake_llm_selftest: curl is not installed" >&2; exit 2; }

T=$(mktemp -d /tmp/fake-llm-selftest.XXXXXX)
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
# expect_eq WANT GOT WHAT
expect_eq() { if [ "$1" == "$2" ]; then ok; else bad "$3: want [$1] got [$2]"; fi; }
# expect_grep PATTERN FILE WHAT
expect_grep() { if grep -q -- "$1" "$2"; then ok; else bad "$3: no [$1] in $2: $(head -c 400 "$2")"; fi; }
expect_nogrep() { if grep -q -- "$1" "$2"; then bad "$3: unexpected [$1]"; else ok; fi; }

# js FILE EXPR: evaluates EXPR with j = the JSON of FILE and prints the result.
js() {
    node -e 'const fs=require("fs");const j=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));
             const r=(0,eval)("(j)=>("+process.argv[2]+")")(j);
             process.stdout.write(typeof r==="string"?r:JSON.stringify(r));' "$1" "$2"
}
# sse_js FILE EXPR: j = array of the JSON payloads of the "data:" lines of an SSE body
# (except [DONE]).
sse_js() {
    node -e 'const fs=require("fs");const j=fs.readFileSync(process.argv[1],"utf8").split("\n")
               .filter(l=>l.startsWith("data: ")&&l!=="data: [DONE]").map(l=>JSON.parse(l.slice(6)));
             const r=(0,eval)("(j)=>("+process.argv[2]+")")(j);
             process.stdout.write(typeof r==="string"?r:JSON.stringify(r));' "$1" "$2"
}

# start_fake NAME ARGS…: starts a fake, sets FAKE_URL.
start_fake() {
    local name=$1
    shift
    node "$FAKE" --port 0 --fixtures "$FIX" --port-file "$T/$name.port" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$T/$name.port" ] && break
        sleep 0.05
    done
    [ -s "$T/$name.port" ] || { echo "fake_llm_selftest: $name did not start: $(cat "$T/$name.err")" >&2; exit 2; }
    FAKE_URL="http://127.0.0.1:$(cat "$T/$name.port")"
}

start_fake main
B=$FAKE_URL
expect_eq "listening $(cat "$T/main.port")" "$(cat "$T/main.out")" "stdout line"
expect_eq "ok" "$(curl -s "$B/_health")" "health"

OA=(-H 'authorization: Bearer sk-test' -H 'content-type: application/json')
AN=(-H 'x-api-key: sk-ant-test' -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json')
# req NAME URL ARGS…: curl into $T/NAME.body / NAME.hdr, sets CODE and RC.
req() {
    local name=$1 url=$2
    shift 2
    CODE=$(curl -s -N -D "$T/$name.hdr" -o "$T/$name.body" -w '%{http_code}' "$url" "$@")
    RC=$?
}

# ---- OpenAI chat, non-stream
req chat "$B/v1/chat/completions" "${OA[@]}" --data-binary @"$FIX/openai_chat_request.json"
expect_eq 200 "$CODE" "chat status"
expect_grep '^content-type: application/json' "$T/chat.hdr" "chat content-type"
expect_grep '^x-request-id: ' "$T/chat.hdr" "chat x-request-id"
expect_eq "Fake reply to: How much is the linen dress in size S?" "$(js "$T/chat.body" 'j.choices[0].message.content')" "default content"
expect_eq "chat.completion|gpt-4o|stop|assistant" "$(js "$T/chat.body" '[j.object,j.model,j.choices[0].finish_reason,j.choices[0].message.role].join("|")')" "chat shape"
expect_eq "true" "$(js "$T/chat.body" 'j.usage.prompt_tokens>10&&j.usage.completion_tokens===14&&j.usage.total_tokens===j.usage.prompt_tokens+14')" "chat usage"

long=$(printf 'x%.0s' $(seq 100))
req chat2 "$B/v1/chat/completions" "${OA[@]}" -d "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$long\"}]}"
expect_eq "Fake reply to: $(printf 'x%.0s' $(seq 60))" "$(js "$T/chat2.body" 'j.choices[0].message.content')" "first 60 chars"

req echo "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","messages":[{"role":"system","content":"Facts:\n- A: not this"},{"role":"user","content":"hello\nECHO: Привет, мир 👋"}]}'
expect_eq "Привет, мир 👋" "$(js "$T/echo.body" 'j.choices[0].message.content')" "ECHO line"

req facts "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","messages":[{"role":"system","content":"You are a shop assistant.\n\nFacts:\n- Q: Do you deliver to Kazan? A: Yes, delivery to Kazan takes 3 days.\n- Q: Price? A: 10\n"},{"role":"user","content":"delivery?"}]}'
expect_eq "Yes, delivery to Kazan takes 3 days." "$(js "$T/facts.body" 'j.choices[0].message.content')" "Facts answer (inline Q/A)"
req facts2 "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","messages":[{"role":"system","content":"Rules.\n## Facts\nQ: Opening hours?\nA: We open at 9.\n"},{"role":"user","content":"when?"}]}'
expect_eq "We open at 9." "$(js "$T/facts2.body" 'j.choices[0].message.content')" "Facts answer (A: line)"

req schema "$B/v1/chat/completions" "${OA[@]}" --data-binary @"$FIX/openai_json_schema_request.json"
expect_eq '{"intent":"price","confidence":0.9}' "$(js "$T/schema.body" 'j.choices[0].message.content')" "json_schema answer"
req schema2 "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"sentiment":{"type":"string","enum":["negative","neutral","positive"]},"score":{"type":"number"},"label":{"type":"string"},"note":{"type":"string"},"n":{"type":"integer"},"flag":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}}}}}}}'
expect_eq '{"sentiment":"positive","score":0.5,"label":"price","note":"x","n":0,"flag":false,"tags":[]}' "$(js "$T/schema2.body" 'j.choices[0].message.content')" "schema values by name/type"

req maxtok "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","max_completion_tokens":2,"messages":[{"role":"user","content":"ECHO: one two three four five six"}]}'
expect_eq "one two |length" "$(js "$T/maxtok.body" 'j.choices[0].message.content+"|"+j.choices[0].finish_reason')" "max tokens cut"

req noauth "$B/v1/chat/completions" -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}'
expect_eq 401 "$CODE" "openai without key"
expect_eq "invalid_request_error" "$(js "$T/noauth.body" 'j.error.type')" "401 body shape"
req nomodel "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}'
expect_eq "404|model_not_found" "$CODE|$(js "$T/nomodel.body" 'j.error.code')" "unknown model"
req badjson "$B/v1/chat/completions" "${OA[@]}" -d '{"model":'
expect_eq 400 "$CODE" "malformed request JSON"

# ---- OpenAI chat, stream
STREQ='{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"ECHO: Привет, как дела? 👋 ok"}]}'
req st "$B/v1/chat/completions" "${OA[@]}" -d "$STREQ"
expect_eq "200|0" "$CODE|$RC" "stream status"
expect_grep '^content-type: text/event-stream' "$T/st.hdr" "stream content-type"
expect_eq "data: [DONE]" "$(grep -v '^$' "$T/st.body" | tail -1)" "stream ends with [DONE]"
expect_eq "Привет, как дела? 👋 ok" "$(sse_js "$T/st.body" 'j.filter(c=>c.choices.length).map(c=>c.choices[0].delta.content||"").join("")')" "stream deltas"
expect_eq "assistant" "$(sse_js "$T/st.body" 'j[0].choices[0].delta.role')" "role chunk"
expect_eq '[]|stop' "$(sse_js "$T/st.body" 'JSON.stringify(j[j.length-1].choices)+"|"+j[j.length-2].choices[0].finish_reason')" "usage chunk after finish chunk"
expect_eq "true" "$(sse_js "$T/st.body" 'j[j.length-1].usage.total_tokens>0&&j.every(c=>c.id===j[0].id&&c.object==="chat.completion.chunk")')" "usage + same id"
req st2 "$B/v1/chat/completions" "${OA[@]}" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "0" "$(sse_js "$T/st2.body" 'j.filter(c=>c.choices.length===0).length')" "no usage chunk without include_usage"

# ---- Anthropic
req am "$B/v1/messages" "${AN[@]}" --data-binary @"$FIX/anthropic_request.json"
expect_eq 200 "$CODE" "anthropic status"
expect_grep '^request-id: ' "$T/am.hdr" "anthropic request-id"
expect_eq "message|assistant|text|end_turn" "$(js "$T/am.body" '[j.type,j.role,j.content[0].type,j.stop_reason].join("|")')" "anthropic shape"
expect_eq "Fake reply to: Здравствуйте! А доставка в Казань есть?" "$(js "$T/am.body" 'j.content[0].text')" "anthropic default content"
expect_eq "true" "$(js "$T/am.body" 'j.usage.input_tokens>0&&j.usage.output_tokens>0')" "anthropic usage"
req ab "$B/v1/messages" -H 'authorization: Bearer k' -H 'anthropic-version: 2023-06-01' -d '{"model":"c","max_tokens":50,"system":[{"type":"text","text":"Facts:\n1. Q: Returns? A: Within 14 days."}],"messages":[{"role":"user","content":[{"type":"text","text":"returns?"}]}]}'
expect_eq "200|Within 14 days." "$CODE|$(js "$T/ab.body" 'j.content[0].text')" "anthropic bearer + system blocks + facts"
req anover "$B/v1/messages" -H 'x-api-key: k' -d '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "400|invalid_request_error" "$CODE|$(js "$T/anover.body" 'j.error.type')" "anthropic without anthropic-version"
req ankey "$B/v1/messages" -H 'anthropic-version: 2023-06-01' -d '{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "401|authentication_error" "$CODE|$(js "$T/ankey.body" 'j.error.type')" "anthropic without key"
req antemp "$B/v1/messages" -H 'x-api-key: k' -H 'anthropic-version: 2026-10-21' --data-binary @"$FIX/anthropic_request.json"
expect_eq 400 "$CODE" "2026-10-21 rejects temperature"
req anschema "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":50,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"intent":{"type":"string"},"confidence":{"type":"number"}}}}}}'
expect_eq '{"intent":"price","confidence":0.9}' "$(js "$T/anschema.body" 'j.content[0].text')" "anthropic output_config schema"

req ast "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"ECHO: Hello there, друг!"}]}'
expect_eq "200|0" "$CODE|$RC" "anthropic stream status"
expect_eq "event: message_stop" "$(grep '^event: ' "$T/ast.body" | tail -1)" "anthropic stream ends with message_stop"
expect_eq "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop" \
    "$(grep '^event: ' "$T/ast.body" | cut -d' ' -f2 | uniq | tr '\n' ' ' | sed 's/ $//')" "anthropic event order"
expect_eq "Hello there, друг!" "$(sse_js "$T/ast.body" 'j.filter(e=>e.type==="content_block_delta").map(e=>e.delta.text).join("")')" "anthropic deltas"
expect_eq "true" "$(sse_js "$T/ast.body" 'j.find(e=>e.type==="message_delta").usage.output_tokens>1&&j[0].message.usage.output_tokens===1')" "cumulative usage in message_delta"

# ---- embeddings and models
req emb "$B/v1/embeddings" "${OA[@]}" -d '{"model":"text-embedding-3-small","input":["hello world","hello world","other text"]}'
expect_eq "200|3|64" "$CODE|$(js "$T/emb.body" 'j.data.length+"|"+j.data[0].embedding.length')" "embeddings float"
expect_eq "true|false" "$(js "$T/emb.body" '(JSON.stringify(j.data[0].embedding)===JSON.stringify(j.data[1].embedding))+"|"+(JSON.stringify(j.data[0].embedding)===JSON.stringify(j.data[2].embedding))')" "embeddings deterministic"
expect_eq "1.000" "$(js "$T/emb.body" 'Math.sqrt(j.data[0].embedding.reduce((a,x)=>a+x*x,0)).toFixed(3)')" "embeddings normalised"
req emb64 "$B/v1/embeddings" "${OA[@]}" -d '{"model":"e","input":"hello world","encoding_format":"base64"}'
expect_eq "true" "$(node -e 'const fs=require("fs");const f=JSON.parse(fs.readFileSync(process.argv[1])),b=JSON.parse(fs.readFileSync(process.argv[2]));
    const buf=Buffer.from(b.data[0].embedding,"base64");const v=[];for(let i=0;i<buf.length;i+=4)v.push(buf.readFloatLE(i));
    process.stdout.write(String(v.length===64&&v.every((x,i)=>x===f.data[0].embedding[i]&&1)))' "$T/emb.body" "$T/emb64.body")" "embeddings base64 = float32 LE of the float vector"
req embdim "$B/v1/embeddings" "${OA[@]}" -d '{"model":"e","input":"x","dimensions":8}'
expect_eq "8" "$(js "$T/embdim.body" 'j.data[0].embedding.length')" "embeddings dimensions"
req embbad "$B/v1/embeddings" "${OA[@]}" -d '{"model":"e","input":[]}'
expect_eq 400 "$CODE" "embeddings empty input"
req mo "$B/v1/models" "${OA[@]}"
expect_eq "list|local,gpt-4o-mini,text-embedding-3-small,claude-sonnet-4-5|model" "$(js "$T/mo.body" 'j.object+"|"+j.data.map(m=>m.id).join(",")+"|"+j.data[0].object')" "openai models"
req ma "$B/v1/models" "${AN[@]}"
expect_eq "local|claude-sonnet-4-5|model|false" "$(js "$T/ma.body" 'j.first_id+"|"+j.last_id+"|"+j.data[0].type+"|"+j.has_more')" "anthropic models"

# ---- scripted behaviours
script() { curl -s -o "$T/script.out" -w '%{http_code}' "$B/_script" -d "$1"; }
CHAT=(-d '{"model":"m","messages":[{"role":"user","content":"hi"}]}')
SCHAT=(-d '{"model":"m","stream":true,"messages":[{"role":"user","content":"ECHO: aa bb cc dd ee ff"}]}')

expect_eq 400 "$(script '{"route":"openai","steps":[{"content":"x"},{"bogus":1}]}')" "invalid step rejected"
expect_eq 400 "$(script '{"route":"openai","steps":[{"fixture":"../etc/passwd"}]}')" "bad fixture name rejected"
expect_eq 400 "$(script '{"route":"nope","steps":[]}')" "bad route rejected"
curl -s "$B/_script" >"$T/q.json"
expect_eq "0" "$(js "$T/q.json" 'j.openai.length+j.anthropic.length+j.any.length')" "rejected batches add nothing"

expect_eq 200 "$(script '{"route":"openai","steps":[{"status":429,"fixture":"openai_error_429_rate_limit.json","headers":{"retry-after":"0"}},{"content":"first"},{"content":"second"}]}')" "script accepted"
req s1 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq 429 "$CODE" "step 1 status"
expect_grep '^retry-after: 0' "$T/s1.hdr" "step 1 header"
if cmp -s "$FIX/openai_error_429_rate_limit.json" "$T/s1.body"; then ok; else bad "step 1 body is not the fixture verbatim"; fi
req s2 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "first" "$(js "$T/s2.body" 'j.choices[0].message.content')" "step 2 in order"
req s3 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "second" "$(js "$T/s3.body" 'j.choices[0].message.content')" "step 3 in order"
req s4 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "Fake reply to: hi" "$(js "$T/s4.body" 'j.choices[0].message.content')" "queue empty → default"

# route separation, "any", path-bound steps, repeat
script '{"route":"anthropic","steps":[{"content":"for anthropic"}]}' >/dev/null
script '{"route":"any","steps":[{"status":503}]}' >/dev/null
script '{"route":"openai","steps":[{"path":"/v1/models","status":500,"repeat":2}]}' >/dev/null
req r1 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "503|service_unavailable_error" "$CODE|$(js "$T/r1.body" 'j.error.type')" "any-route step on openai"
req r2 "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "200|for anthropic" "$CODE|$(js "$T/r2.body" 'j.content[0].text')" "anthropic step"
req r3 "$B/v1/models" "${OA[@]}"
req r4 "$B/v1/models" "${OA[@]}"
req r5 "$B/v1/models" "${OA[@]}"
expect_eq "500 500 200" "$(printf '%s' "$(grep -h '^HTTP/' "$T/r3.hdr" "$T/r4.hdr" "$T/r5.hdr" | cut -d' ' -f2 | tr -d '\r' | tr '\n' ' ')" | sed 's/ $//')" "path-bound repeated step"
req r6 "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}'
script '{"route":"anthropic","steps":[{"status":529,"fixture":"anthropic_error_529_overloaded.json"}]}' >/dev/null
req r7 "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "529|overloaded_error" "$CODE|$(js "$T/r7.body" 'j.error.type')" "anthropic 529 fixture"

# stream_fixture: verbatim bytes
script '{"route":"anthropic","steps":[{"stream_fixture":"anthropic_stream_error.sse"}]}' >/dev/null
req sf "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect_eq 200 "$CODE" "stream_fixture status"
expect_grep '^content-type: text/event-stream' "$T/sf.hdr" "stream_fixture content-type"
if cmp -s "$FIX/anthropic_stream_error.sse" "$T/sf.body"; then ok; else bad "stream_fixture body differs from the fixture"; fi
script '{"route":"openai","steps":[{"stream_fixture":"openai_chat_stream.sse","chunk_bytes":7}]}' >/dev/null
req sf2 "$B/v1/chat/completions" "${OA[@]}" "${SCHAT[@]}"
if cmp -s "$FIX/openai_chat_stream.sse" "$T/sf2.body"; then ok; else bad "stream_fixture in 7-byte pieces differs"; fi

# cut_after_chunks: N events, no terminator, transfer error
script '{"route":"openai","steps":[{"cut_after_chunks":3}]}' >/dev/null
req cut "$B/v1/chat/completions" "${OA[@]}" "${SCHAT[@]}"
expect_eq "200" "$CODE" "cut stream status"
if [ "$RC" -ne 0 ]; then ok; else bad "cut stream: curl should report a transfer error"; fi
expect_eq "3" "$(grep -c '^data: ' "$T/cut.body")" "cut stream chunk count"
expect_nogrep '\[DONE\]' "$T/cut.body" "cut stream lacks [DONE]"
script '{"route":"anthropic","steps":[{"cut_after_chunks":100}]}' >/dev/null
req cut2 "$B/v1/messages" "${AN[@]}" -d '{"model":"c","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect_nogrep 'message_stop' "$T/cut2.body" "cut anthropic stream lacks message_stop (N beyond the end)"
expect_grep 'message_delta' "$T/cut2.body" "cut anthropic stream keeps the events before the terminator"
script '{"route":"openai","steps":[{"cut_after_chunks":1}]}' >/dev/null
req cut3 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
if [ "$RC" -ne 0 ] && [ "$(wc -c <"$T/cut3.body")" -gt 0 ]; then ok; else bad "cut non-stream: rc=$RC"; fi

# chunk_bytes: same content, many pieces (split UTF-8)
script '{"route":"openai","steps":[{"chunk_bytes":1,"content":"Привет 👋 мир"}]}' >/dev/null
CODE=$(curl -s -N -o "$T/cb.body" -w '%{http_code}' --trace-ascii "$T/cb.trace" "$B/v1/chat/completions" "${OA[@]}" "${SCHAT[@]}")
expect_eq "200" "$CODE" "chunk_bytes status"
expect_eq "Привет 👋 мир" "$(sse_js "$T/cb.body" 'j.map(c=>c.choices[0].delta.content||"").join("")')" "chunk_bytes content"
expect_eq "data: [DONE]" "$(grep -v '^$' "$T/cb.body" | tail -1)" "chunk_bytes stream complete"
n=$(grep -c '<= Recv data' "$T/cb.trace")
if [ "$n" -ge 20 ]; then ok; else bad "chunk_bytes: only $n reads"; fi
script '{"route":"openai","steps":[{"chunk_bytes":3}]}' >/dev/null
req cb2 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "Fake reply to: hi" "$(js "$T/cb2.body" 'j.choices[0].message.content')" "chunk_bytes non-stream"

# delay, hang, malformed body, reset
script '{"route":"openai","steps":[{"delay_ms":1500}]}' >/dev/null
t=$(curl -s -o /dev/null -w '%{time_total}' "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}")
if node -e 'process.exit(+process.argv[1]>=1.45&&+process.argv[1]<3?0:1)' "$t"; then ok; else bad "delay_ms 1500 took $t s"; fi
script '{"route":"openai","steps":[{"hang":true}]}' >/dev/null
curl -s -o /dev/null --max-time 1 "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq 28 "$?" "hang → client timeout"
script '{"route":"openai","steps":[{"cut_after_chunks":2,"hang":true}]}' >/dev/null
curl -s -N -o "$T/stall.body" --max-time 1 "$B/v1/chat/completions" "${OA[@]}" "${SCHAT[@]}"
expect_eq "28|2" "$?|$(grep -c '^data: ' "$T/stall.body")" "stall after 2 chunks"
script '{"route":"openai","steps":[{"body":"not json","status":200}]}' >/dev/null
req mal "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "200|not json" "$CODE|$(cat "$T/mal.body")" "malformed body"
script '{"route":"openai","steps":[{"reset":true}]}' >/dev/null
curl -s -o /dev/null "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq 52 "$?" "reset → empty reply"
script '{"route":"openai","steps":[{"content":"never"}]}' >/dev/null
expect_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$B/_script")" "DELETE /_script"
req cl "$B/v1/chat/completions" "${OA[@]}" "${CHAT[@]}"
expect_eq "Fake reply to: hi" "$(js "$T/cl.body" 'j.choices[0].message.content')" "cleared queue"

# ---- /_requests
curl -s -X DELETE "$B/_requests" >/dev/null
curl -s -o /dev/null "$B/v1/chat/completions" "${OA[@]}" -H 'x-custom: 1' -d '{"model":"rec","messages":[{"role":"user","content":"r"}]}'
curl -s -o /dev/null "$B/v1/messages" "${AN[@]}" -d 'raw text'
curl -s "$B/_requests" >"$T/rq.json"
expect_eq "2" "$(js "$T/rq.json" 'j.length')" "recorded count"
expect_eq "POST|/v1/chat/completions|rec|Bearer sk-test|1|number" "$(js "$T/rq.json" '[j[0].method,j[0].path,j[0].body.model,j[0].headers.authorization,j[0].headers["x-custom"],typeof j[0].at].join("|")')" "recorded request fields"
expect_eq "raw text|2023-06-01" "$(js "$T/rq.json" 'j[1].body+"|"+j[1].headers["anthropic-version"]')" "recorded raw body"
curl -s "$B/_requests?path=/v1/messages" >"$T/rq2.json"
expect_eq "1" "$(js "$T/rq2.json" 'j.length')" "recorded path filter"
curl -s -X DELETE "$B/_requests" >/dev/null
curl -s "$B/_requests" >"$T/rq3.json"
expect_eq "0" "$(js "$T/rq3.json" 'j.length')" "DELETE /_requests"

# ---- --delay-ms with 1,000 concurrent connections, --api-key, --strict-models
start_fake slow --delay-ms 1000 --api-key sekret --models only-this --strict-models
S=$FAKE_URL
req wk "$S/v1/chat/completions" -H 'authorization: Bearer wrong' "${CHAT[@]}"
expect_eq 401 "$CODE" "--api-key rejects another key"
req sm "$S/v1/chat/completions" -H 'authorization: Bearer sekret' "${CHAT[@]}"
expect_eq 404 "$CODE" "--strict-models rejects unknown model"
res=$(node -e '
const http = require("http");
const [host, port] = [process.argv[1], +process.argv[2]];
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const body = JSON.stringify({ model: "only-this", messages: [{ role: "user", content: "ECHO: ok" }] });
const t0 = Date.now();
let good = 0, done = 0;
const N = 1000;
for (let i = 0; i < N; i++) {
    const r = http.request({ host, port, agent, method: "POST", path: "/v1/chat/completions",
        headers: { authorization: "Bearer sekret", "content-type": "application/json" } }, (res) => {
        let d = ""; res.on("data", (c) => (d += c));
        res.on("end", () => { if (res.statusCode === 200 && JSON.parse(d).choices[0].message.content === "ok") good++; fin(); });
    });
    r.on("error", () => fin());
    r.end(body);
}
function fin() { if (++done === N) { process.stdout.write(good + " " + (Date.now() - t0)); process.exit(0); } }
' 127.0.0.1 "$(cat "$T/slow.port")")
good=${res% *}
ms=${res#* }
expect_eq 1000 "$good" "1,000 concurrent delayed requests"
curl -s "$S/_stats" >"$T/stats.json"
maxin=$(js "$T/stats.json" 'j.max_inflight')
echo "fake_llm_selftest: 1,000 concurrent requests with --delay-ms 1000: $ms ms, at most $maxin in flight"
if [ "$ms" -ge 1000 ]; then ok; else bad "--delay-ms 1000 not applied ($ms ms)"; fi
# held concurrently, not queued: a busy CI machine accepts the 1,000 connections more slowly
# than 1 s, so this asks for a loose minimum of simultaneous requests
if [ "$maxin" -ge 200 ]; then ok; else bad "only $maxin requests were in flight at once"; fi
expect_eq "1002|0" "$(js "$T/stats.json" 'j.requests_total+"|"+j.inflight')" "stats counters"

# ---- the official openai SDK against the fake (when tests/support/npm-install has run)
JS="$HERE/../js"
if [ -d "$JS/node_modules/openai" ]; then
    curl -s "$B/_script" -d '{"route":"openai","steps":[{"content":"plain"},{"chunk_bytes":5}]}' >/dev/null
    if DIREKT_URL=$B DIREKT_TOKEN=sk-test DIREKT_AI_PATH=/v1 PROMPT='ECHO: Привет 👋 SDK' node "$JS/openai_client.mjs" >"$T/sdk.json" 2>"$T/sdk.err"; then
        ok
        expect_eq "plain|local|Привет 👋 SDK|true|stop|true|404|model_not_found" \
            "$(js "$T/sdk.json" '[j.chat.content,j.chat.model,j.stream.content,j.stream.finished,j.stream.finish_reason,j.models.ids.includes("local"),j.error.status,j.error.code].join("|")')" "openai SDK results"
    else
        bad "openai_client.mjs failed: $(cat "$T/sdk.err")"
    fi
    curl -s "$B/_script" -d '{"route":"openai","steps":[{"content":"plain"},{"cut_after_chunks":2}]}' >/dev/null
    DIREKT_URL=$B DIREKT_TOKEN=sk-test DIREKT_AI_PATH=/v1 node "$JS/openai_client.mjs" >"$T/sdk2.json" 2>"$T/sdk2.err"
    expect_eq "false|2" "$(js "$T/sdk2.json" 'j.stream.finished+"|"+j.stream.chunks')" "openai SDK sees a cut stream"
else
    echo "fake_llm_selftest: tests/js/node_modules missing (tests/support/npm-install); SDK checks skipped"
fi

expect_eq "" "$(cat "$T/main.err")" "nothing logged without --verbose"

echo "fake_llm_selftest: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
