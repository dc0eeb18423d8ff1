/*
 * ai/local: the built-in provider's answers for intent and sentiment (the NLU, rendered in the
 * API's shape), and the same shape for LLM providers: the JSON Schema they answer with, the
 * instruction that asks for it, and the normalisation of what they return, so that a caller
 * sees one shape whoever answered.
 */
#include "ai/ai.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/mem.h"
#include "nlu/nlu.h"

static json_t *language_json(const struct nlu_result *res)
{
    return json_pack("{s:s, s:f}", "code", nlu_lang_code(res->lang.lang), "confidence",
                     (double)res->lang.confidence);
}

json_t *ai_local_intent_json(const struct nlu_result *res, const char *text, size_t len)
{
    json_t *in = nlu_intent_json(&res->intent);
    size_t n = res->nentities < NLU_MAX_ENTITIES ? res->nentities : NLU_MAX_ENTITIES;
    json_t *out = json_pack("{s:O, s:O, s:O, s:O, s:o, s:o}", "intent", json_object_get(in, "name"),
                            "confidence", json_object_get(in, "confidence"), "oos",
                            json_object_get(in, "oos"), "alternatives",
                            json_object_get(in, "alternatives"), "language", language_json(res),
                            "entities", nlu_entities_json(res->entities, n, text, len));
    json_decref(in);
    return out;
}

json_t *ai_local_sentiment_json(const struct nlu_result *res)
{
    json_t *s = nlu_sentiment_json(&res->sentiment);
    json_t *out = json_pack("{s:O, s:O, s:f, s:O, s:o}", "sentiment", json_object_get(s, "label"),
                            "score", json_object_get(s, "score"), "confidence",
                            ai_local_confidence(AI_TASK_SENTIMENT, res), "emotions",
                            json_object_get(s, "emotions"), "language", language_json(res));
    json_decref(s);
    return out;
}

double ai_local_confidence(enum ai_task task, const struct nlu_result *res)
{
    if (task == AI_TASK_SENTIMENT) {
        double c = 0.5 + fabs((double)res->sentiment.score);
        return c > 1.0 ? 1.0 : c;
    }
    return res->intent.oos ? 0.0 : (double)res->intent.confidence;
}

const char *ai_intent_schema(void)
{
    return "{\"type\":\"object\",\"properties\":{"
           "\"intent\":{\"type\":\"string\"},"
           "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1}},"
           "\"required\":[\"intent\",\"confidence\"],\"additionalProperties\":false}";
}

const char *ai_sentiment_schema(void)
{
    return "{\"type\":\"object\",\"properties\":{"
           "\"sentiment\":{\"type\":\"string\",\"enum\":[\"positive\",\"neutral\",\"negative\"]},"
           "\"score\":{\"type\":\"number\",\"minimum\":-1,\"maximum\":1},"
           "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1}},"
           "\"required\":[\"sentiment\",\"score\",\"confidence\"],"
           "\"additionalProperties\":false}";
}

char *ai_intent_instruction(const json_t *labels)
{
    struct dk_buf b;
    dk_buf_init(&b, 64u << 10);
    dk_buf_puts(&b, "You classify one customer message sent to a shop on Instagram. Answer only "
                    "with a JSON object {\"intent\": name, \"confidence\": 0..1}. Use one of "
                    "these intent names: ");
    size_t i;
    json_t *l;
    bool first = true;
    json_array_foreach(labels, i, l)
    {
        if (json_is_string(l)) {
            dk_buf_printf(&b, "%s%s", first ? "" : ", ", json_string_value(l));
            first = false;
        }
    }
    if (first) {
        dk_buf_puts(&b, "greeting, thanks, goodbye, price, availability, delivery, order_status, "
                        "payment, returns, complaint, booking, collaboration, human_request, "
                        "spam, other");
    }
    dk_buf_puts(&b, ". Use \"other\" when none fits.");
    char *out = dk_strdup(b.data);
    dk_buf_free(&b);
    return out;
}

const char *ai_sentiment_instruction(void)
{
    return "You rate the sentiment of one customer message sent to a shop on Instagram. Answer "
           "only with a JSON object {\"sentiment\": \"positive\"|\"neutral\"|\"negative\", "
           "\"score\": -1..1, \"confidence\": 0..1}.";
}

/* The JSON object in an LLM's text: the whole text, or the part between the first '{' and the
 * last '}' (models wrap JSON in prose or ``` fences). New object or NULL. */
static json_t *object_in(const char *text, struct dk_err *err)
{
    if (text == NULL) {
        dk_err_set(err, DK_EUNPROCESS, "the provider gave no text");
        return NULL;
    }
    const char *a = strchr(text, '{');
    const char *z = strrchr(text, '}');
    if (a == NULL || z == NULL || z < a) {
        dk_err_set(err, DK_EUNPROCESS, "the provider's answer holds no JSON object");
        return NULL;
    }
    struct dk_err perr = {0};
    json_t *j = dk_json_parse(a, (size_t)(z - a + 1), 16, &perr);
    if (!json_is_object(j)) {
        json_decref(j);
        dk_err_set(err, DK_EUNPROCESS, "the provider's answer is not a JSON object: %s", perr.msg);
        return NULL;
    }
    return j;
}

static bool unit_number(const json_t *v, double lo, double hi, double *out)
{
    if (!json_is_number(v)) {
        return false;
    }
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        return false;
    }
    *out = d;
    return true;
}

json_t *ai_llm_intent_json(const char *text, const json_t *labels, struct dk_err *err)
{
    json_t *j = object_in(text, err);
    if (j == NULL) {
        return NULL;
    }
    const char *name = dk_json_str(j, "intent");
    double conf;
    if (name == NULL || name[0] == '\0' || strlen(name) > 64 ||
        !unit_number(json_object_get(j, "confidence"), 0, 1, &conf)) {
        json_decref(j);
        dk_err_set(err, DK_EUNPROCESS, "the provider's intent answer does not fit the schema");
        return NULL;
    }
    bool known = labels == NULL || json_array_size(labels) == 0;
    size_t i;
    json_t *l;
    json_array_foreach(labels, i, l)
    {
        if (json_is_string(l) && strcmp(json_string_value(l), name) == 0) {
            known = true;
        }
    }
    json_t *out =
        json_pack("{s:s, s:f, s:b, s:[], s:n, s:[]}", "intent", known ? name : "other",
                  "confidence", conf, "oos", !known, "alternatives", "language", "entities");
    json_decref(j);
    return out;
}

json_t *ai_llm_sentiment_json(const char *text, struct dk_err *err)
{
    json_t *j = object_in(text, err);
    if (j == NULL) {
        return NULL;
    }
    const char *label = dk_json_str(j, "sentiment");
    double score, conf;
    bool ok = label != NULL &&
              (strcmp(label, "positive") == 0 || strcmp(label, "neutral") == 0 ||
               strcmp(label, "negative") == 0) &&
              unit_number(json_object_get(j, "score"), -1, 1, &score) &&
              unit_number(json_object_get(j, "confidence"), 0, 1, &conf);
    if (!ok) {
        json_decref(j);
        dk_err_set(err, DK_EUNPROCESS, "the provider's sentiment answer does not fit the schema");
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:f, s:f, s:{}, s:n}", "sentiment", label, "score", score,
                            "confidence", conf, "emotions", "language");
    json_decref(j);
    return out;
}
