#!/usr/bin/env bash
# test_ai: the AI router through the real binary, against the fake OpenAI and Anthropic servers
# (tests/fake/fake_llm.mjs, replaying shared/fixtures/llm): with no keys the built-in local
# provider answers; with OPENAI_BASE_URL the same conversation is answered by the LLM; retries
# of 5xx and 429 (Retry-After), fallback to Claude and then to local, the circuit breaker, the
# daily token budget, privacy redaction and its round trip, a malformed provider answer, a
# stream cut off, the reply checks (an invented price falls back to the safe answer), the
# ai_calls log, /ai/chat-completion (plain, streamed, errors), /ai/models, /ai-reply, and the
# official `openai` npm client against direkt.
. "$(dirname "$0")/lib.sh"

AI=/api/v1/ai
ACCOUNT=17841405822304914

# ---- the fake providers ----
command -v node >/dev/null || {
    fail "node is not installed (scripts/install-deps installs it)"
    finish
}
FAKE_PORT_FILE="$TEST_TMP/fake.port"
node "$DIREKT_SOURCE/tests/fake/fake_llm.mjs" --port 0 --fixtures "$DIREKT_FIXTURES/llm" \
    --port-file "$FAKE_PORT_FILE" >"$TEST_TMP/fake.log" 2>&1 &
PROC_PID[fake]=$!
PROC_LOG[fake]="$TEST_TMP/fake.log"
for _ in $(seq 100); do
    [ -s "$FAKE_PORT_FILE" ] && break
    sleep 0.1
done
[ -s "$FAKE_PORT_FILE" ] || {
    fail "the fake LLM server did not start: $(cat "$TEST_TMP/fake.log")"
    finish
}
FAKE="http://127.0.0.1:$(cat "$FAKE_PORT_FILE")"

fake() { # METHOD PATH [JSON]
    curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$FAKE$2"
}
reset_fake() {
    fake DELETE /_script >/dev/null
    fake DELETE /_requests >/dev/null
}
script() { # ROUTE STEPS_JSON
    fake POST /_script "{\"route\": \"$1\", \"steps\": $2}" >/dev/null
}

# sends one customer message and waits for the bot's reply to it; sets REPLY (content) and
# REPLY_META (metadata JSON)
N=0
CUSTOMER="cust-ai-$DIREKT_BACKEND"
say() { # TEXT
    N=$((N + 1))
    post_json "$(message_body "$CUSTOMER" "mid-ai-$N-$RANDOM" "$1" "$(now_ms)")"
    assert_status 200 "webhook $N"
    wait_for "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND status IN ('pending_send', 'sent')" \
        "$N" 30 || return 1
    REPLY=$(sql "SELECT content FROM messages WHERE sender_type = 'bot' ORDER BY created_at DESC, id DESC LIMIT 1")
    REPLY_META=$(sql "SELECT metadata FROM messages WHERE sender_type = 'bot' ORDER BY created_at DESC, id DESC LIMIT 1")
}
calls() { # WHERE → count of ai_calls rows
    sql "SELECT count(*) FROM ai_calls WHERE $1"
}

setup_db

# ---- 1. no keys: the built-in local provider ----
start_server DIREKT_REPLY_DEBOUNCE_MS=0 || finish
log "no keys: local answers"
say "hi! how much is delivery to Berlin?"
assert_eq local "$(json_of "$REPLY_META" '$.responder')" "local responder"
assert_ne "" "$REPLY" "a reply"
assert_eq 1 "$(calls "provider = 'local' AND path = 'local' AND outcome = 'ok' AND task = 'reply'")" \
    "the local reply is in ai_calls"
api GET "$AI/models"
assert_status 200 "models"
assert_eq list "$(json_of "$HTTP_BODY" '$.object')" "OpenAI list format"
assert_contains '"id":"auto"' "$HTTP_BODY" "the route is listed"
assert_contains '"id":"local/direkt-local"' "$HTTP_BODY" "the local provider is listed"
api POST "$AI/chat-completion" '{"model": "local", "messages": [{"role": "user", "content": "hello!"}]}'
assert_status 200 "chat-completion with local"
assert_eq chat.completion "$(json_of "$HTTP_BODY" '$.object')" "object"
assert_eq assistant "$(json_of "$HTTP_BODY" '$.choices[0].message.role')" "role"
assert_ne "" "$(json_of "$HTTP_BODY" '$.choices[0].message.content')" "content"
api POST "$AI/chat-completion" '{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}'
assert_status 404 "unknown model"
assert_eq model_not_found "$(json_of "$HTTP_BODY" '$.error.code')" "OpenAI error code"
api POST "$AI/chat-completion" '{"messages": []}'
assert_status 400 "no messages"
api POST "$AI/chat-completion" '{"messages": [{"role": "robot", "content": "x"}]}'
assert_status 400 "bad role"
api POST "$AI/extract-intent" '{"text": "how much is it?", "provider": "openai"}'
assert_status 422 "provider not configured"
stop_server

# ---- 2. an OpenAI-compatible provider, Claude and local behind it ----
log "LLM route: openai → anthropic → local"
api PUT "$AI/settings" '{"account_id": "*", "system_prompt": null}' >/dev/null
start_server DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test \
    OPENAI_MODEL=gpt-4o-mini ANTHROPIC_BASE_URL="$FAKE" ANTHROPIC_API_KEY=ak-test \
    DIREKT_AI_RETRIES=1 DIREKT_AI_BREAKER_FAILURES=4 DIREKT_AI_BREAKER_COOLDOWN_MS=60000 \
    DIREKT_AI_LOCAL_THRESHOLDS=intent=0 DIREKT_AI_ROUTES=summary=local || finish
reset_fake

say "ECHO: Hello from the model"
assert_eq "Hello from the model" "$REPLY" "the LLM's reply is stored"
assert_eq openai "$(json_of "$REPLY_META" '$.responder')" "answered by openai"
assert_eq llm "$(json_of "$REPLY_META" '$.path')" "path llm"
assert_eq 1 "$(calls "provider = 'openai' AND outcome = 'ok' AND input_tokens > 0")" \
    "the call is in ai_calls with its tokens"
req=$(fake GET '/_requests?path=/v1/chat/completions')
assert_contains 'Bearer sk-test' "$req" "the key is sent"
assert_contains 'ECHO: Hello from the model' "$req" "the customer's message is in the prompt"

log "5xx retried, then fallback to Claude"
script openai '[{"status": 500, "fixture": "openai_error_500_server_error.json"}, {"status": 500, "fixture": "openai_error_500_server_error.json"}]'
say "ECHO: Claude speaking"
assert_eq "Claude speaking" "$REPLY" "Claude answered after openai failed twice"
assert_eq anthropic "$(json_of "$REPLY_META" '$.responder')" "answered by anthropic"
assert_eq 2 "$(calls "provider = 'openai' AND outcome = 'retry' AND http_status = 500")" \
    "both openai attempts recorded"

log "429 with Retry-After is retried on the same provider"
script openai '[{"status": 429, "fixture": "openai_error_429_rate_limit.json", "headers": {"retry-after": "0"}}]'
say "ECHO: after the rate limit"
assert_eq "after the rate limit" "$REPLY" "answered after the 429"
assert_eq openai "$(json_of "$REPLY_META" '$.responder')" "openai answered the retry"

log "insufficient quota is not retried; Claude overloaded twice; local answers"
script openai '[{"status": 429, "fixture": "openai_error_429_insufficient_quota.json"}]'
script anthropic '[{"status": 529, "fixture": "anthropic_error_529_overloaded.json"}, {"status": 529, "fixture": "anthropic_error_529_overloaded.json"}]'
say "hi, thanks a lot!"
assert_eq local "$(json_of "$REPLY_META" '$.responder')" "local answered last"
assert_eq 1 "$(calls "provider = 'openai' AND outcome = 'fatal' AND http_status = 429")" \
    "quota error: one attempt, fatal"
assert_eq 2 "$(calls "provider = 'anthropic' AND outcome = 'retry' AND http_status = 529")" \
    "overloaded: retried once"

log "malformed answer from a provider"
script openai '[{"status": 200, "body": "this is not json"}]'
say "ECHO: good JSON from Claude"
assert_eq "good JSON from Claude" "$REPLY" "fallback after a malformed answer"
assert_eq 1 "$(calls "provider = 'openai' AND outcome = 'malformed'")" "recorded as malformed"

log "circuit breaker: 4 failures in a row open openai's circuit"
script openai '[{"status": 503, "body": "{\"error\":{\"message\":\"down\",\"type\":\"server_error\"}}"}, {"status": 503, "body": "{\"error\":{\"message\":\"down\",\"type\":\"server_error\"}}"}]'
say "ECHO: one"
script openai '[{"status": 503, "body": "{\"error\":{\"message\":\"down\",\"type\":\"server_error\"}}"}]'
say "ECHO: two"
before=$(fake GET '/_requests?path=/v1/chat/completions' | grep -o '"path"' | wc -l)
say "ECHO: three"
after=$(fake GET '/_requests?path=/v1/chat/completions' | grep -o '"path"' | wc -l)
assert_eq "$before" "$after" "no request to openai while its circuit is open"
assert_eq anthropic "$(json_of "$REPLY_META" '$.responder')" "Claude answers instead"
assert_ne 0 "$(calls "provider = 'openai' AND outcome = 'circuit'")" "the skip is recorded"
api GET "$AI/models"
assert_contains '"state":"open"' "$HTTP_BODY" "models show the open circuit"
stop_server

log "privacy: personal data is redacted for cloud providers and restored"
start_server DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test \
    DIREKT_AI_PRIVACY=redact DIREKT_AI_LOCAL_THRESHOLDS=intent=0 DIREKT_AI_ROUTES=summary=local || finish
reset_fake
say "ECHO: I will call you at +7 999 123-45-67 today"
assert_eq "I will call you at +7 999 123-45-67 today" "$REPLY" "the value is restored in the reply"
req=$(fake GET '/_requests?path=/v1/chat/completions')
assert_not_contains '999 123-45-67' "$req" "the phone number never reached the provider"
assert_contains 'PHONE_1' "$req" "a placeholder went instead"
assert_eq 1 "$(calls "provider = 'openai' AND redacted")" "recorded as redacted"
fake DELETE /_requests >/dev/null
api POST "$AI/chat-completion" '{"model": "openai", "messages": [{"role": "user", "content": "ECHO: mail me at anna.k@example.com"}]}'
assert_status 200 "chat-completion with personal data"
assert_eq "mail me at anna.k@example.com" "$(json_of "$HTTP_BODY" '$.choices[0].message.content')" \
    "the gateway restores the value"
assert_not_contains 'anna.k@example.com' "$(fake GET '/_requests?path=/v1/chat/completions')" \
    "the gateway redacts too"
stop_server

log "privacy local: personal data stays on local providers"
start_server DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test \
    DIREKT_AI_PRIVACY=local DIREKT_AI_LOCAL_THRESHOLDS=intent=0 DIREKT_AI_ROUTES=summary=local || finish
reset_fake
say "ECHO: write to me at anna.k@example.com"
assert_eq local "$(json_of "$REPLY_META" '$.responder')" "local answered"
assert_eq 1 "$(calls "provider = 'openai' AND outcome = 'privacy'")" "the cloud skip is recorded"

stop_server
start_server DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test \
    DIREKT_AI_LOCAL_THRESHOLDS=intent=0 DIREKT_AI_ROUTES=summary=local || finish
reset_fake

log "reply checks: a price the knowledge base does not hold falls back"
api POST /api/v1/knowledge '{"question": "How much is delivery?", "answer": "Delivery costs 300 RUB and takes 2 days."}'
assert_status 201 "knowledge entry"
script openai '[{"content": "Delivery costs 990 RUB."}]'
say "how much is delivery to Paris?"
assert_eq figure "$(json_of "$REPLY_META" '$.guard.verdict')" "invented price refused"
assert_eq local "$(json_of "$REPLY_META" '$.path')" "the safe answer went instead"
script openai '[{"content": "Delivery costs 300 RUB."}]'
say "and how much is delivery to Rome?"
assert_eq "Delivery costs 300 RUB." "$REPLY" "a price from the knowledge base passes: $REPLY_META"

log "daily token budget"
api PUT "$AI/settings" "{\"account_id\": \"$ACCOUNT\", \"daily_token_budget\": 1}"
assert_status 200 "budget set"
say "ECHO: over budget"
assert_eq local "$(json_of "$REPLY_META" '$.responder')" "LLMs skipped when the budget is spent"
assert_ne 0 "$(calls "provider = 'openai' AND outcome = 'budget'")" "the budget skip is recorded"
api PUT "$AI/settings" "{\"account_id\": \"$ACCOUNT\", \"daily_token_budget\": null}"

log "/ai-reply"
conv=$(sql "SELECT id FROM conversations ORDER BY created_at LIMIT 1")
api POST "/api/v1/conversations/$conv/ai-reply" '{"model": "openai"}'
assert_status 200 "ai-reply"
assert_ne "" "$(json_of "$HTTP_BODY" '$.reply')" "a draft"
assert_eq "" "$(json_of "$HTTP_BODY" '$.message_id')" "not stored without send"
api POST "/api/v1/conversations/$conv/ai-reply" '{"send": true}'
assert_status 201 "ai-reply with send"
N=$((N + 1)) # one more bot message on its way (a dry run: no access token)
mid=$(json_of "$HTTP_BODY" '$.message_id')
wait_for "SELECT status FROM messages WHERE id = '$mid'" sent 10 || fail "the stored reply is sent"
http POST "/api/v1/conversations/$conv/ai-reply?stream=true" -H "Authorization: Bearer $(api_token)" \
    -H 'Content-Type: application/json' --data '{}'
assert_status 200 "ai-reply stream"
assert_contains '"type":"reply.delta"' "$HTTP_BODY" "deltas streamed"
assert_contains '"type":"reply.done"' "$HTTP_BODY" "done event"
assert_contains 'data: [DONE]' "$HTTP_BODY" "terminator"
api POST "/api/v1/conversations/00000000-0000-7000-8000-000000000000/ai-reply" '{}'
assert_status 404 "unknown conversation"

log "/ai/chat-completion streamed, and a stream cut off"
http POST "$AI/chat-completion" -H "Authorization: Bearer $(api_token)" -H 'Content-Type: application/json' \
    --data '{"model": "openai", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "ECHO: streamed words here"}]}'
assert_status 200 "stream"
assert_contains 'text/event-stream' "$(cat "$HTTP_HEADERS_FILE")" "SSE"
assert_contains '"content":"streamed' "$HTTP_BODY" "deltas"
assert_contains '"usage":{' "$HTTP_BODY" "usage chunk"
assert_eq "data: [DONE]" "$(grep -v '^$' "$HTTP_BODY_FILE" | tail -1 | tr -d '\r')" "ends with [DONE]"
script openai '[{"cut_after_chunks": 3}]'
http POST "$AI/chat-completion" -H "Authorization: Bearer $(api_token)" -H 'Content-Type: application/json' \
    --data '{"model": "openai", "stream": true, "messages": [{"role": "user", "content": "ECHO: this answer will be cut before its end"}]}'
assert_not_contains '[DONE]' "$HTTP_BODY" "a cut stream never ends as if whole"
assert_contains '"error"' "$HTTP_BODY" "the error travels in the stream"
assert_ne 0 "$(calls "provider = 'openai' AND outcome = 'truncated'")" "recorded as truncated"

log "extract-intent with a provider"
api POST "$AI/extract-intent" '{"text": "how much is the red dress?", "provider": "openai"}'
assert_status 200 "intent by openai"
assert_eq openai "$(json_of "$HTTP_BODY" '$.provider')" "provider"
assert_eq llm "$(json_of "$HTTP_BODY" '$.path')" "path"
assert_eq price "$(json_of "$HTTP_BODY" '$.intent')" "structured answer in the local shape"
api POST "$AI/analyze-sentiment" '{"text": "I love it, thank you!", "provider": "auto"}'
assert_status 200 "sentiment auto"
assert_eq local "$(json_of "$HTTP_BODY" '$.path')" "a confident local answer stays local"

log "local first: an unsure intent is asked of the LLM before the reply"
stop_server
start_server DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test || finish
reset_fake
say "zxqv blorp"
assert_eq llm "$(json_of "$REPLY_META" '$.steps.intent.path')" "the intent step asked the LLM"
assert_eq price "$(json_of "$REPLY_META" '$.steps.intent.intent')" "its structured answer"
assert_eq 1 "$(calls "task = 'intent' AND provider = 'openai' AND conversation_id IS NOT NULL")" \
    "the intent call is in ai_calls"
assert_eq price "$(sql "SELECT intent FROM messages WHERE sender_type = 'bot' ORDER BY created_at DESC, id DESC LIMIT 1")" \
    "the reply carries the LLM's intent"

log "every 8 customer messages answered by the LLM, a summary for the prompt"
CUSTOMER="cust-summary-$DIREKT_BACKEND"
for i in 1 2 3 4 5 6 7 8; do
    say "ECHO: reply $i" || break
done
sconv=$(sql "SELECT c.id FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.instagram_id = '$CUSTOMER'")
for _ in $(seq 150); do
    api GET "/api/v1/conversations/$sconv/context"
    [ -n "$(json_of "$HTTP_BODY" '$.context.summary')" ] && break
    sleep 0.2
done
assert_eq openai "$(json_of "$HTTP_BODY" '$.context.summary_provider')" "the summary route's LLM wrote it"
assert_eq 8 "$(json_of "$HTTP_BODY" '$.context.summary_at_messages')" "it covers 8 messages"
assert_match 'Notes so far|Fake reply' "$(json_of "$HTTP_BODY" '$.context.summary')" "the summary text"
assert_eq 1 "$(calls "task = 'summary' AND provider = 'openai' AND conversation_id = '$sconv'")" \
    "the summary call is in ai_calls"
say "ECHO: and one more"
assert_contains 'Summary' "$(fake GET '/_requests?path=/v1/chat/completions' | tail -c 20000)" \
    "the next prompt carries the summary"
CUSTOMER="cust-ai-$DIREKT_BACKEND"

log "a crash while the LLM thinks: the step runs again after the lease, one reply is stored"
stop_server
crash_env=(DIREKT_REPLY_DEBOUNCE_MS=0 OPENAI_BASE_URL="$FAKE/v1" OPENAI_API_KEY=sk-test
    DIREKT_AI_LOCAL_THRESHOLDS=intent=0 DIREKT_AI_DEADLINE_MS=3000 DIREKT_AI_ROUTES=summary=local)
start_server "${crash_env[@]}" || finish
reset_fake
script openai '[{"delay_ms": 2500}]'
N=$((N + 1))
post_json "$(message_body "cust-ai-$DIREKT_BACKEND" "mid-ai-crash" "ECHO: answered after the crash" "$(now_ms)")"
assert_status 200 "webhook before the crash"
wait_for "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND status = 'generating'" 1 20
for _ in $(seq 100); do
    fake GET '/_requests?path=/v1/chat/completions' | grep -q 'answered after the crash' && break
    sleep 0.1
done
kill_proc server
start_server "${crash_env[@]}" || finish
wait_for "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND status IN ('pending_send', 'sent')" "$N" 40
assert_eq "answered after the crash" \
    "$(sql "SELECT content FROM messages WHERE sender_type = 'bot' ORDER BY created_at DESC, id DESC LIMIT 1")" \
    "the reply after the restart"
assert_eq 0 "$(sql "SELECT count(*) FROM messages WHERE status = 'generating'")" "nothing left generating"
assert_eq 2 "$(fake GET '/_requests?path=/v1/chat/completions' | grep -o 'answered after the crash' | wc -l)" \
    "the provider was asked again once"
assert_eq 0 "$(sql "SELECT count(*) FROM jobs WHERE kind = 'ai_reply' AND status <> 'done'")" \
    "the ai_reply job is done"

log "the official openai npm client"
if "$DIREKT_SOURCE/tests/support/npm-install" >"$TEST_TMP/npm.log" 2>&1; then
    out=$(DIREKT_URL="$BASE_URL" DIREKT_TOKEN="$(api_token)" MODEL=openai \
        node "$DIREKT_SOURCE/tests/js/openai_client.mjs" 2>"$TEST_TMP/client.err")
    assert_eq 0 $? "openai client ran"
    assert_contains '"finished":true' "$out" "the client read the whole stream"
    assert_contains 'Fake reply to' "$out" "the client got the provider's answer"
    assert_contains '"status":404' "$out" "the client saw the 404 as an error"
    assert_contains 'openai/gpt-4o-mini' "$out" "the client listed the models"
else
    fail "npm install of the openai client failed: $(tail -3 "$TEST_TMP/npm.log")"
fi
finish
