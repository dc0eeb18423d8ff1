#!/usr/bin/env bash
# test_nlu: the local NLU through the real binary: /api/v1/ai/extract-intent and
# /analyze-sentiment (shapes, bad input), the intents API with retraining in the background and
# the atomic switch to the new model version, the analysis stored on each customer message, and
# the `direkt nlu` commands (train, eval, analyze, corrupt model files, --db).
. "$(dirname "$0")/lib.sh"

setup_db
start_server DIREKT_REPLY_DEBOUNCE_MS=0 || finish
AI=/api/v1/ai

# ---- extract-intent and analyze-sentiment ----
log "extract-intent"
api POST "$AI/extract-intent" '{"text": "hi! how much is this hoodie, is it $25?"}'
assert_status 200 "extract-intent"
assert_eq price "$(json_of "$HTTP_BODY" '$.intent')" "price question"
assert_eq local "$(json_of "$HTTP_BODY" '$.provider')" "provider defaults to local"
assert_eq en "$(json_of "$HTTP_BODY" '$.language.code')" "language"
assert_eq 25.00 "$(json_of "$HTTP_BODY" '$.entities[0].value')" "price entity value"
assert_eq USD "$(json_of "$HTTP_BODY" '$.entities[0].unit')" "price entity currency"
assert_eq '$25' "$(json_of "$HTTP_BODY" '$.entities[0].text')" "price entity text is its span"
conf=$(json_of "$HTTP_BODY" '$.confidence')
assert_match '^0\.[0-9]+$|^1(\.0+)?$' "$conf" "confidence in [0,1]"
assert_eq 0 "$(json_of "$HTTP_BODY" '$.model_version')" "built-in model"
assert_match '^[1-3]$' "$(json_of "$HTTP_BODY" 'json_array_length($.alternatives)')" "alternatives"

api POST "$AI/extract-intent" '{"text": "Здравствуйте, где мой заказ 123456? уже неделю жду", "provider": "local"}'
assert_status 200 "extract-intent ru"
assert_eq order_status "$(json_of "$HTTP_BODY" '$.intent')" "order status question (ru)"
assert_eq ru "$(json_of "$HTTP_BODY" '$.language.code')" "language ru"
assert_contains '"type":"order"' "$HTTP_BODY" "order number entity"

api POST "$AI/extract-intent" '{"text": "my email is anna.k@example.com, call me at +7 999 123-45-67"}'
assert_status 200 "extract-intent with personal data"
assert_contains '"type":"email"' "$HTTP_BODY" "email entity"
assert_contains '"type":"phone"' "$HTTP_BODY" "phone entity"
assert_contains '"pii":true' "$HTTP_BODY" "personal data marked"

log "analyze-sentiment"
api POST "$AI/analyze-sentiment" '{"text": "I love this dress, thank you so much!! 😍"}'
assert_status 200 "analyze-sentiment"
assert_eq positive "$(json_of "$HTTP_BODY" '$.sentiment')" "positive"
score=$(json_of "$HTTP_BODY" '$.score')
assert_match '^0?\.[0-9]+|^1' "$score" "positive score"
for e in joy gratitude anger sadness fear surprise; do
    assert_match '^[0-9.e-]+$' "$(json_of "$HTTP_BODY" "\$.emotions.$e")" "emotion $e"
done
api POST "$AI/analyze-sentiment" '{"text": "ужасное качество, порвалось через день, верните деньги"}'
assert_status 200 "analyze-sentiment ru"
assert_eq negative "$(json_of "$HTTP_BODY" '$.sentiment')" "negative (ru)"
assert_match '^-' "$(json_of "$HTTP_BODY" '$.score')" "negative score"

log "bad input"
http POST "$AI/extract-intent" -H 'Content-Type: application/json' --data-binary '{"text": "hi"}'
assert_status 401 "no token"
for body in '{}' '{"text": 5}' '{"text": null}' '[1]' '{"text": "hi", "provider": "gpt"}' \
    '{"text": "hi", "provider": 1}'; do
    api POST "$AI/extract-intent" "$body"
    assert_status 422 "extract-intent $body"
    assert_error_body "extract-intent $body" invalid_field
done
api POST "$AI/analyze-sentiment" '{"text": '
assert_status 400 "malformed JSON"
assert_error_body "malformed JSON"
printf '{"text": "caf\xc3\x28"}' >"$TEST_TMP/bad-utf8.json"
http POST "$AI/analyze-sentiment" -H "Authorization: Bearer $(api_token)" \
    -H 'Content-Type: application/json' --data-binary @"$TEST_TMP/bad-utf8.json"
assert_status 400 "invalid UTF-8"
assert_error_body "invalid UTF-8"
api POST "$AI/analyze-sentiment" '{"text": "a\u0000b"}'
assert_match '^4[0-9][0-9]$' "$HTTP_STATUS" "NUL in text"
big=$(head -c 65536 /dev/zero | tr '\0' 'a')
api POST "$AI/analyze-sentiment" "{\"text\": \"$big\"}"
assert_status 200 "exactly 64 KiB"
api POST "$AI/analyze-sentiment" "{\"text\": \"${big}b\"}"
assert_status 422 "64 KiB + 1"
assert_contains "longer than 65536" "$HTTP_BODY" "says the limit"
api POST "$AI/analyze-sentiment" '{"text": ""}'
assert_status 200 "empty text"
assert_eq neutral "$(json_of "$HTTP_BODY" '$.sentiment')" "empty text is neutral"

# ---- intents API and retraining ----
log "intents"
api GET "$AI/intents"
assert_status 200 "list intents"
names=$(json_list "$HTTP_BODY_FILE" '$.data' name | sort | tr '\n' ' ')
for i in greeting thanks goodbye price availability delivery order_status payment returns \
    complaint booking collaboration human_request spam other; do
    assert_contains " $i " " $names" "built-in intent $i"
done
assert_eq built-in "$(json_get "$HTTP_BODY_FILE" '$.model.status')" "no trained version yet"
n=$(json_get "$HTTP_BODY_FILE" '$.data[0].examples.builtin')
assert_match '^[0-9]+$' "$n" "built-in example count"
[ "$n" -ge 80 ] || fail "at least 40 built-in examples per language, got $n"

api POST "$AI/intents" '{"name": "gift_card", "description": "gift cards and vouchers", "examples": [
  "do you sell gift cards?", "can I buy a gift certificate for my sister", "gift card for 50 dollars please",
  "is there a gift voucher", "I want to give a gift card as a present", "gift cards available?",
  "how do gift cards work", "can i send a gift card by email",
  "у вас есть подарочные сертификаты?", "хочу подарочный сертификат на 3000", "подарочная карта есть?",
  "можно купить сертификат в подарок", "сертификат на любую сумму можно?", "podarochnyi sertifikat est?"]}'
assert_status 201 "create intent"
assert_eq 1 "$(json_of "$HTTP_BODY" '$.retraining')" "retraining queued (true)"
assert_eq 14 "$(json_of "$HTTP_BODY" 'json_array_length($.added)')" "examples added"
api POST "$AI/intents" '{"name": "gift_card"}'
assert_status 409 "same intent twice"
assert_error_body "same intent twice" conflict
api POST "$AI/intents" '{"name": "price"}'
assert_status 409 "a built-in intent exists"
for body in '{"name": "Bad Name"}' '{"name": "oos"}' '{}' '{"name": "x", "examples": "nope"}' \
    '{"name": "x", "examples": [""]}' '{"name": "x", "examples": [5]}' '{"name": "x", "description": 5}'; do
    api POST "$AI/intents" "$body"
    assert_status 422 "create intent $body"
done
assert_eq 0 "$(sql "SELECT count(*) FROM nlu_intents WHERE name = 'x'")" "refused intents change nothing"

settle_jobs 60
wait_for "SELECT count(*) FROM nlu_models WHERE status = 'ready'" 1 60
api GET "$AI/intents"
assert_eq ready "$(json_get "$HTTP_BODY_FILE" '$.model.status')" "model status"
v1=$(json_get "$HTTP_BODY_FILE" '$.model.version')
assert_match '^[0-9]+$' "$v1" "model version"
# the HTTP threads pick the new version up within a second
sleep 1.2
api POST "$AI/extract-intent" '{"text": "hello, do you have gift cards? want one for my mom"}'
api POST "$AI/extract-intent" '{"text": "hello, do you have gift cards? want one for my mom"}'
assert_eq gift_card "$(json_of "$HTTP_BODY" '$.intent')" "the new intent is recognised"
assert_eq "$v1" "$(json_of "$HTTP_BODY" '$.model_version')" "answered by the new version"

log "examples"
api POST "$AI/intents/gift_card/examples" '{"examples": ["gift card for my friend?", "do you sell gift cards?"]}'
assert_status 201 "add examples"
assert_eq 1 "$(json_of "$HTTP_BODY" '$.added')" "one new"
assert_eq 1 "$(json_of "$HTTP_BODY" '$.duplicates')" "one duplicate"
ex=$(json_of "$HTTP_BODY" '$.examples[0].id')
api POST "$AI/intents/nope/examples" '{"text": "x"}'
assert_status 404 "examples of an unknown intent"
api POST "$AI/intents/gift_card/examples" '{"examples": []}'
assert_status 422 "no examples"
api POST "$AI/intents/price/examples" '{"text": "what does the blue scarf go for"}'
assert_status 201 "own example for a built-in intent"
api GET "$AI/intents/gift_card"
assert_status 200 "get intent"
assert_eq 15 "$(json_get "$HTTP_BODY_FILE" 'json_array_length($.custom_examples)')" "its examples"
api DELETE "$AI/intents/gift_card/examples/$ex"
assert_status 204 "delete example"
api DELETE "$AI/intents/gift_card/examples/$ex"
assert_status 404 "delete it again"
api DELETE "$AI/intents/gift_card/examples/abc"
assert_status 404 "bad example id"

log "switch off a built-in intent"
settle_jobs 60 # the retrainings queued above are done: the next model is the switched-off one
v_before_off=$(sql "SELECT COALESCE(max(id), 0) FROM nlu_models")
api DELETE "$AI/intents/collaboration"
assert_status 204 "switch off collaboration"
api DELETE "$AI/intents/collaboration"
assert_status 404 "already off"
api DELETE "$AI/intents/no_such_intent"
assert_status 404 "unknown intent"
api GET "$AI/intents/collaboration"
assert_eq 0 "$(json_get "$HTTP_BODY_FILE" '$.enabled')" "collaboration is off (false)"
settle_jobs 60
wait_for "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM nlu_models WHERE status = 'ready' AND id > $v_before_off" 1 60
sleep 1.2
api POST "$AI/extract-intent" '{"text": "hi! I am a blogger with 50k followers, interested in a collab?"}'
api POST "$AI/extract-intent" '{"text": "hi! I am a blogger with 50k followers, interested in a collab?"}'
assert_ne collaboration "$(json_of "$HTTP_BODY" '$.intent')" "a switched-off intent is not predicted"
api POST "$AI/intents" '{"name": "collaboration"}'
assert_status 201 "switch it on again"

# ---- the pipeline stores the analysis on each customer message ----
log "pipeline"
post_fixture message_text_ru_emoji.json
assert_status 200 "delivery"
settle_jobs 60
wait_for "SELECT count(*) FROM messages WHERE sender_type = 'user' AND intent IS NOT NULL AND sentiment IS NOT NULL AND nlu IS NOT NULL AND entities IS NOT NULL" 1 30
assert_eq delivery "$(sql "SELECT intent FROM messages WHERE sender_type = 'user'")" "customer message intent"
assert_eq 1 "$(sql "SELECT count(*) FROM messages WHERE sender_type = 'bot' AND content LIKE 'Мы доставляем%'")" \
    "answered with the delivery template in Russian"
CONV=$(sql "SELECT CAST(id AS TEXT) FROM conversations LIMIT 1")
api GET "/api/v1/conversations/$CONV/history"
assert_contains '"nlu":{' "$HTTP_BODY" "history shows the analysis"

# ---- commands ----
log "direkt nlu"
out=$(direkt nlu analyze "Привет! Сколько стоит худи в черном цвете? 😍")
assert_eq price "$(json_of "$out" '$.intent.name')" "analyze: intent"
assert_eq ru "$(json_of "$out" '$.language.code')" "analyze: language"
assert_contains '"color"' "$out" "analyze: colour entity"
out=$(echo "where is my parcel?? it's been 2 weeks" | direkt nlu analyze -)
assert_eq order_status "$(json_of "$out" '$.intent.name')" "analyze from stdin"
printf 'caf\xc3\x28' >"$TEST_TMP/bad.txt"
direkt nlu analyze "$(cat "$TEST_TMP/bad.txt")" >/dev/null 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "invalid UTF-8 exits 1"
assert_contains "UTF-8" "$(cat "$TEST_TMP/err.txt")" "says why"

cat >"$TEST_TMP/small.jsonl" <<'JSONL'
{"text": "open the door", "label": "door"}
{"text": "please open the front door", "label": "door"}
{"text": "unlock the door for me", "label": "door"}
{"text": "door open now", "label": "door"}
{"text": "turn on the light", "label": "light"}
{"text": "lights on please", "label": "light"}
{"text": "switch the lamp on", "label": "light"}
{"text": "make it bright, turn the lights on", "label": "light"}
{"text": "play some music", "label": "music"}
{"text": "put on a song", "label": "music"}
{"text": "play my playlist", "label": "music"}
{"text": "music please", "label": "music"}
{"text": "what is the capital of peru", "label": "oos"}
{"text": "tell me a joke about cats", "label": "oos"}
JSONL
printf 'text,label\n"open the door, please",door\n"turn the light on",light\n"play a song",music\n' \
    >"$TEST_TMP/small.csv"
direkt nlu train "$TEST_TMP/small.jsonl" --task intent --out "$TEST_TMP/m.bin" >"$TEST_TMP/train.txt" 2>&1
assert_eq 0 "$?" "train: $(cat "$TEST_TMP/train.txt")"
assert_contains "saved to" "$(cat "$TEST_TMP/train.txt")" "train reports"
direkt nlu train "$TEST_TMP/small.jsonl" --task intent --out "$TEST_TMP/m2.bin" >/dev/null 2>&1
cmp -s "$TEST_TMP/m.bin" "$TEST_TMP/m2.bin" || fail "same data and seed must give the same model file"
out=$(direkt nlu eval "$TEST_TMP/small.csv" --task intent --model "$TEST_TMP/m.bin" --json)
assert_eq 0 "$?" "eval --json"
for k in accuracy macro_f1 macro_recall oos_recall per_class n; do
    assert_ne "" "$(json_of "$out" "json_type(\$.$k)")" "eval json has $k"
done
assert_eq 3 "$(json_of "$out" '$.n')" "eval n"
out=$(direkt nlu eval "$TEST_TMP/small.csv" --task intent --model "$TEST_TMP/m.bin")
assert_contains "macro" "$out" "eval prints a table"
out=$(direkt nlu eval "$TEST_TMP/small.csv" --task intent --json)
assert_eq 0 "$?" "eval with the built-in model"
head -c 100 "$TEST_TMP/m.bin" >"$TEST_TMP/trunc.bin"
direkt nlu eval "$TEST_TMP/small.csv" --task intent --model "$TEST_TMP/trunc.bin" 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "truncated model exits 1"
assert_contains "trunc.bin" "$(cat "$TEST_TMP/err.txt")" "the error names the file"
printf 'not a model at all' >"$TEST_TMP/foreign.bin"
direkt nlu analyze hello --model "$TEST_TMP/foreign.bin" 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "foreign file exits 1"
direkt nlu train "$TEST_TMP/small.jsonl" --task sideways --out x 2>/dev/null
assert_eq 2 "$?" "bad task is a usage error"
direkt nlu train "$TEST_TMP/missing.jsonl" --task intent --out x 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "missing file"
assert_contains "missing.jsonl" "$(cat "$TEST_TMP/err.txt")" "names the missing file"
printf '{"text": "ok", "label": "a"}\n{"text": broken\n' >"$TEST_TMP/broken.jsonl"
direkt nlu train "$TEST_TMP/broken.jsonl" --task intent --out x 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "broken JSONL"
assert_contains "line 2" "$(cat "$TEST_TMP/err.txt")" "names the line"

before=$(sql "SELECT max(id) FROM nlu_models WHERE status = 'ready'")
out=$(direkt nlu train --db)
assert_eq 0 "$?" "train --db: $out"
assert_eq 1 "$(sql "SELECT count(*) FROM nlu_models WHERE status = 'ready' AND id > $before")" "train --db stores a version"
assert_contains "version $((before + 1))" "$out" "and says which"
assert_eq 5 "$(sql "SELECT count(*) FROM nlu_models")" "the newest five versions are kept"

# ---- a trained sentiment model replaces the lexicon label (DIREKT_SENTIMENT_MODEL) ----
log "sentiment model"
: >"$TEST_TMP/sent.jsonl"
for i in 1 2 3 4 5 6 7 8; do
    printf '{"text": "the parcel came by zorblat %s", "label": "negative"}\n' "$i" >>"$TEST_TMP/sent.jsonl"
    printf '{"text": "it came with glimmerpost %s", "label": "positive"}\n' "$i" >>"$TEST_TMP/sent.jsonl"
    printf '{"text": "order %s is on its way", "label": "neutral"}\n' "$i" >>"$TEST_TMP/sent.jsonl"
done
direkt nlu train "$TEST_TMP/sent.jsonl" --task sentiment --out "$TEST_TMP/sent.bin" >/dev/null 2>&1
assert_eq 0 "$?" "train a sentiment model"
out=$(direkt nlu analyze "it came by zorblat" --sentiment-model "$TEST_TMP/sent.bin")
assert_eq negative "$(json_of "$out" '$.sentiment.label')" "analyze with --sentiment-model"
out=$(direkt nlu analyze "it came by zorblat")
assert_eq neutral "$(json_of "$out" '$.sentiment.label')" "the lexicons know no zorblat"
direkt DIREKT_SENTIMENT_MODEL="$TEST_TMP/m.bin" DIREKT_LISTEN=127.0.0.1:0 serve >/dev/null 2>"$TEST_TMP/err.txt"
assert_eq 1 "$?" "an intent model is refused as the sentiment model"
assert_contains "DIREKT_SENTIMENT_MODEL" "$(cat "$TEST_TMP/err.txt")" "the error names the setting"
stop_server
start_server DIREKT_SENTIMENT_MODEL="$TEST_TMP/sent.bin" || finish
api POST "$AI/analyze-sentiment" '{"text": "it came by zorblat"}'
assert_status 200 "analyze-sentiment with the trained model"
assert_eq negative "$(json_of "$HTTP_BODY" '$.sentiment')" "the served model decides the label"

finish
