#!/usr/bin/env bash
# test_knowledge: the knowledge base and AI administration through the real binary:
# /api/v1/knowledge CRUD with paging, the account filter and ?q= search, every error status
# (401, 400, 404, 422, 413) with nothing changed by refused input, the /api/v1/ai/settings
# round trip with the fallback to '*', and the shape of /api/v1/ai/calls.
. "$(dirname "$0")/lib.sh"

setup_db
start_server || finish
KB=/api/v1/knowledge
ACCT=17841405822304914
api_token >/dev/null # made once here: $(api_token) in a subshell could not keep it

kb_count() { sql "SELECT count(*) FROM knowledge"; }

# ---- create ----
log "create"
api POST "$KB" '{"question": "Сколько стоит доставка?", "answer": "Доставка стоит 300 ₽ по Москве", "tags": ["delivery", "цены"], "account_id": "'$ACCT'"}'
assert_status 201 "create faq"
ID1=$(json_of "$HTTP_BODY" '$.id')
assert_match '^[0-9]+$' "$ID1" "numeric id"
assert_eq faq "$(json_of "$HTTP_BODY" '$.kind')" "kind defaults to faq with a question"
assert_eq "$ACCT" "$(json_of "$HTTP_BODY" '$.account_id')" "account id"
assert_eq "цены" "$(json_of "$HTTP_BODY" '$.tags[1]')" "tags"
assert_eq 1 "$(json_of "$HTTP_BODY" '$.enabled')" "enabled by default (true)"
assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "$(json_of "$HTTP_BODY" '$.created_at')" \
    "created_at in RFC 3339"
api POST "$KB" '{"answer": "We are open 10am to 8pm, every day."}'
assert_status 201 "create free text"
ID2=$(json_of "$HTTP_BODY" '$.id')
assert_eq text "$(json_of "$HTTP_BODY" '$.kind')" "kind defaults to text without a question"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.account_id)')" "global entry"
assert_eq 0 "$(json_of "$HTTP_BODY" 'json_array_length($.tags)')" "no tags"
api POST "$KB" '{"question": "Returns?", "answer": "Within 30 days.", "kind": "faq", "enabled": false, "account_id": "other"}'
assert_status 201 "create disabled"
ID3=$(json_of "$HTTP_BODY" '$.id')
assert_eq 0 "$(json_of "$HTTP_BODY" '$.enabled')" "disabled (false)"
big=$(head -c 8192 /dev/zero | tr '\0' 'a')
api POST "$KB" "{\"answer\": \"$big\"}"
assert_status 201 "answer of exactly 8 KiB"
ID4=$(json_of "$HTTP_BODY" '$.id')
assert_eq 4 "$(kb_count)" "four entries"

# ---- read, list, paging, filters ----
log "read and list"
api GET "$KB/$ID1"
assert_status 200 "get"
assert_eq "Доставка стоит 300 ₽ по Москве" "$(json_of "$HTTP_BODY" '$.answer')" "answer round trip"
api GET "$KB?limit=3"
assert_status 200 "list page 1"
assert_eq 3 "$(json_of "$HTTP_BODY" 'json_array_length($.data)')" "three on page 1"
assert_eq "$ID1" "$(json_of "$HTTP_BODY" '$.data[0].id')" "oldest first"
cursor=$(json_of "$HTTP_BODY" '$.next_cursor')
assert_ne "" "$cursor" "a next cursor"
api GET "$KB?limit=3&cursor=$cursor"
assert_status 200 "list page 2"
assert_eq 1 "$(json_of "$HTTP_BODY" 'json_array_length($.data)')" "one on page 2"
assert_eq "$ID4" "$(json_of "$HTTP_BODY" '$.data[0].id')" "the last entry"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.next_cursor)')" "no page after the last"
api GET "$KB?account_id=$ACCT"
assert_eq "$ID1 $ID2 $ID4" "$(json_list "$HTTP_BODY_FILE" '$.data' id | tr '\n' ' ' | sed 's/ $//')" \
    "an account sees its entries and the global ones"
api GET "$KB?q=%D0%94%D0%9E%D0%A1%D0%A2%D0%90%D0%92%D0%9A%D0%90" # ДОСТАВКА
assert_eq "$ID1" "$(json_list "$HTTP_BODY_FILE" '$.data' id | tr '\n' ' ' | sed 's/ $//')" \
    "?q= matches any case"
api GET "$KB?q=returns&account_id=other"
assert_eq "$ID3" "$(json_list "$HTTP_BODY_FILE" '$.data' id | tr '\n' ' ' | sed 's/ $//')" \
    "?q= in questions, with an account"
api GET "$KB?q=nothing+like+this"
assert_status 200 "search without hits"
assert_eq 0 "$(json_of "$HTTP_BODY" 'json_array_length($.data)')" "empty data"

# ---- update ----
log "update"
api PUT "$KB/$ID1" '{"answer": "Доставка стоит 350 ₽", "enabled": false}'
assert_status 200 "put"
assert_eq "Доставка стоит 350 ₽" "$(json_of "$HTTP_BODY" '$.answer')" "new answer"
assert_eq "Сколько стоит доставка?" "$(json_of "$HTTP_BODY" '$.question')" "question kept"
assert_eq 0 "$(json_of "$HTTP_BODY" '$.enabled')" "switched off"
assert_eq "$ACCT" "$(json_of "$HTTP_BODY" '$.account_id')" "account kept"
api PUT "$KB/$ID1" '{"question": null, "account_id": null, "kind": "text", "tags": ["x"]}'
assert_status 200 "put clears"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.question)')" "question cleared"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.account_id)')" "now global"
assert_eq "x" "$(json_of "$HTTP_BODY" '$.tags[0]')" "tags replaced"
api GET "$KB?q=350"
assert_eq "$ID1" "$(json_list "$HTTP_BODY_FILE" '$.data' id | tr '\n' ' ' | sed 's/ $//')" \
    "search follows the update"
api PUT "$KB/$ID1" '{}'
assert_status 200 "empty put"

# ---- errors: nothing changes ----
log "errors"
before=$(sql "SELECT id || kind || COALESCE(question, '') || answer || CAST(enabled AS TEXT) || COALESCE(account_id, '') FROM knowledge ORDER BY id")
http GET "$KB"
assert_status 401 "list without a token"
http POST "$KB" -H 'Content-Type: application/json' --data-binary '{"answer": "x"}'
assert_status 401 "create without a token"
http DELETE "$KB/$ID1" -H 'Authorization: Bearer wrong'
assert_status 401 "delete with a wrong token"
api POST "$KB" '{"answer": '
assert_status 400 "malformed JSON"
assert_error_body "malformed JSON"
api PUT "$KB/$ID1" '{"answer": "x",'
assert_status 400 "malformed JSON on put"
api POST "$KB" '{"answer": "a", "answer": "b"}'
assert_status 400 "duplicate keys"
for body in '{}' '[]' '"x"' '{"answer": ""}' '{"answer": 5}' '{"answer": null}' \
    '{"answer": "x", "kind": "poem"}' '{"answer": "x", "kind": null}' \
    '{"answer": "x", "tags": "a"}' '{"answer": "x", "tags": [1]}' '{"answer": "x", "tags": [""]}' \
    '{"answer": "x", "enabled": "yes"}' '{"answer": "x", "question": 7}' \
    '{"answer": "x", "account_id": "*"}' '{"answer": "x", "account_id": "a b"}' \
    '{"answer": "x", "account_id": 5}' '{"answer": "x", "colour": "red"}'; do
    api POST "$KB" "$body"
    assert_status 422 "create $body"
    assert_error_body "create $body" invalid_field
done
api POST "$KB" "{\"answer\": \"${big}b\"}"
assert_status 422 "answer of 8 KiB + 1"
assert_contains "8192" "$HTTP_BODY" "says the limit"
qbig=$(head -c 2049 /dev/zero | tr '\0' 'q')
api POST "$KB" "{\"answer\": \"x\", \"question\": \"$qbig\"}"
assert_status 422 "question over 2 KiB"
tags=$(printf '"t%d",' $(seq 1 33))
api POST "$KB" "{\"answer\": \"x\", \"tags\": [${tags%,}]}"
assert_status 422 "33 tags"
{
    printf '{"answer": "'
    head -c 200000 /dev/zero | tr '\0' 'a'
    printf '"}'
} >"$TEST_TMP/huge.json"
http POST "$KB" -H "Authorization: Bearer $(api_token)" -H 'Content-Type: application/json' \
    --data-binary "@$TEST_TMP/huge.json"
assert_status 413 "body over the route's limit"
assert_error_body "body over the route's limit" payload_too_large
for body in '{"answer": ""}' '{"answer": null}' '{"kind": "poem"}' '{"enabled": 1}' \
    '{"tags": {}}' '{"id": 5}' '[]'; do
    api PUT "$KB/$ID1" "$body"
    assert_status 422 "put $body"
done
for id in 999999 0 -1 abc 1.5 99999999999999999999; do
    api GET "$KB/$id"
    assert_status 404 "get $id"
    assert_error_body "get $id" not_found
    api PUT "$KB/$id" '{"answer": "x"}'
    assert_status 404 "put $id"
    api DELETE "$KB/$id"
    assert_status 404 "delete $id"
done
for q in 'limit=0' 'limit=201' 'limit=x' 'cursor=abc' 'cursor=-3' 'account_id=a%20b' \
    "q=$(head -c 257 /dev/zero | tr '\0' 'q')"; do
    api GET "$KB?$q"
    assert_status 422 "list ?${q:0:40}"
done
assert_eq "$before" "$(sql "SELECT id || kind || COALESCE(question, '') || answer || CAST(enabled AS TEXT) || COALESCE(account_id, '') FROM knowledge ORDER BY id")" \
    "refused requests changed nothing"

# ---- delete ----
log "delete"
api DELETE "$KB/$ID3"
assert_status 204 "delete"
assert_eq "" "$HTTP_BODY" "no body"
api DELETE "$KB/$ID3"
assert_status 404 "delete again"
api GET "$KB/$ID3"
assert_status 404 "gone"
assert_eq 3 "$(kb_count)" "three entries left"

# ---- AI settings ----
log "settings"
S=/api/v1/ai/settings
api GET "$S"
assert_status 200 "settings before any"
assert_eq '*' "$(json_of "$HTTP_BODY" '$.account_id')" "default account"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.system_prompt)')" "no prompt"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.updated_at)')" "never set"
api PUT "$S" '{"system_prompt": "You answer for Anna'"'"'s shop.", "tone": "friendly", "business_name": "Anna", "daily_token_budget": 50000}'
assert_status 200 "put defaults"
assert_eq friendly "$(json_of "$HTTP_BODY" '$.tone')" "tone stored"
assert_eq 50000 "$(json_of "$HTTP_BODY" '$.daily_token_budget')" "budget stored"
api PUT "$S" '{"account_id": "'$ACCT'", "tone": "formal", "daily_token_budget": 0}'
assert_status 200 "put account"
api GET "$S?account_id=$ACCT"
assert_status 200 "get account"
assert_eq formal "$(json_of "$HTTP_BODY" '$.tone')" "own tone"
assert_eq Anna "$(json_of "$HTTP_BODY" '$.business_name')" "inherited name"
assert_eq 0 "$(json_of "$HTTP_BODY" '$.daily_token_budget')" "own budget 0 (unlimited)"
assert_eq '["system_prompt","business_name"]' "$(json_of "$HTTP_BODY" '$.inherited')" "inherited fields"
assert_match '^20[0-9]{2}-' "$(json_of "$HTTP_BODY" '$.updated_at')" "updated_at"
api PUT "$S" '{"account_id": "'$ACCT'", "tone": null}'
assert_eq friendly "$(json_of "$HTTP_BODY" '$.tone')" "a cleared field is inherited again"
assert_eq 0 "$(json_of "$HTTP_BODY" '$.daily_token_budget')" "fields not given are kept"
api GET "$S?account_id=someone-else"
assert_eq 4 "$(json_of "$HTTP_BODY" 'json_array_length($.inherited)')" "an account without a row inherits all"
assert_eq 2 "$(sql "SELECT count(*) FROM ai_settings")" "two rows"
before=$(sql "SELECT account_id || COALESCE(system_prompt, '') || COALESCE(tone, '') || COALESCE(business_name, '') || COALESCE(CAST(daily_token_budget AS TEXT), '') FROM ai_settings ORDER BY account_id")
http GET "$S"
assert_status 401 "settings without a token"
api PUT "$S" '{"tone": '
assert_status 400 "settings: malformed JSON"
prompt_big=$(head -c 8193 /dev/zero | tr '\0' 'p')
for body in '[]' '{"tone": 5}' '{"daily_token_budget": -1}' '{"daily_token_budget": 1.5}' \
    '{"daily_token_budget": "100"}' '{"account_id": ""}' '{"account_id": 7}' \
    '{"account_id": "a b", "tone": "x"}' '{"mood": "happy"}' \
    "{\"tone\": \"$(head -c 65 /dev/zero | tr '\0' 't')\"}" \
    "{\"business_name\": \"$(head -c 201 /dev/zero | tr '\0' 'b')\"}" \
    "{\"system_prompt\": \"$prompt_big\"}" '{"tone": "ok", "daily_token_budget": 1000000000001}'; do
    api PUT "$S" "$body"
    assert_status 422 "settings ${body:0:50}"
    assert_error_body "settings ${body:0:50}" invalid_field
done
api GET "$S?account_id=a%20b"
assert_status 422 "settings: bad account in the query"
assert_eq "$before" "$(sql "SELECT account_id || COALESCE(system_prompt, '') || COALESCE(tone, '') || COALESCE(business_name, '') || COALESCE(CAST(daily_token_budget AS TEXT), '') FROM ai_settings ORDER BY account_id")" \
    "refused settings changed nothing"
api PUT "$S" "{\"system_prompt\": \"${prompt_big:1}\", \"tone\": \"$(head -c 64 /dev/zero | tr '\0' 't')\"}"
assert_status 200 "settings at their limits"

# ---- AI calls ----
log "calls"
api GET /api/v1/ai/calls
assert_status 200 "calls"
assert_eq 0 "$(json_of "$HTTP_BODY" 'json_array_length($.data)')" "no calls yet"
assert_eq null "$(json_of "$HTTP_BODY" 'json_type($.next_cursor)')" "no cursor"
api GET "/api/v1/ai/calls?task=reply&provider=openai&conversation_id=0190a5f2-7b3c-7def-8123-456789abcdef&account_id=$ACCT&limit=5"
assert_status 200 "calls with every filter"
for q in 'conversation_id=nope' 'task=Reply!' 'provider=' 'limit=0' 'cursor=x' 'account_id=a%20b'; do
    api GET "/api/v1/ai/calls?$q"
    assert_status 422 "calls ?$q"
done
http GET /api/v1/ai/calls
assert_status 401 "calls without a token"

finish
