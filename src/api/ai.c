/*
 * api/ai: text in, understanding out: POST /api/v1/ai/analyze-sentiment and
 * /api/v1/ai/extract-intent. "provider": "local" (the default, and for now the only one) runs
 * the built-in NLU on the HTTP thread: it takes microseconds and touches no network.
 */
#include "api/api.h"

#include <string.h>

#include "core/jsonh.h"

/* The request's text, validated; NULL after replying 400/422. */
static const char *request_text(struct http_req *req, size_t *len)
{
    json_t *body = http_req_json(req);
    if (!json_is_object(body)) {
        http_reply_error(req, 422, "invalid_field", "body must be a JSON object with \"text\"");
        return NULL;
    }
    json_t *text = json_object_get(body, "text");
    if (text == NULL) {
        http_reply_error(req, 422, "invalid_field", "\"text\" is required");
        return NULL;
    }
    if (!json_is_string(text)) {
        http_reply_error(req, 422, "invalid_field", "\"text\" must be a string");
        return NULL;
    }
    json_t *provider = json_object_get(body, "provider");
    if (provider != NULL &&
        (!json_is_string(provider) || strcmp(json_string_value(provider), "local") != 0)) {
        http_reply_error(req, 422, "invalid_field",
                         "\"provider\" must be one of: local (LLM providers are not configured)");
        return NULL;
    }
    *len = json_string_length(text);
    if (*len > NLU_MAX_TEXT) {
        http_reply_error(req, 422, "invalid_field", "\"text\" is longer than %d bytes",
                         NLU_MAX_TEXT);
        return NULL;
    }
    return json_string_value(text);
}

/* Analyses the request's text; false after replying. */
static bool analyze(struct http_req *req, struct nlu_result *res, const char **text, size_t *len,
                    int64_t *version)
{
    *text = request_text(req, len);
    if (*text == NULL) {
        return false;
    }
    struct api_ctx *ctx = api_ctx(req);
    /* no connection of our own: the holder takes one when a check for a newer model is due */
    struct pipeline_nlu_model *ref = pipeline_nlu_acquire(ctx->nlu, NULL);
    struct dk_err err = {0};
    int rc = nlu_analyze(pipeline_nlu_thread_ctx(), pipeline_nlu_model_get(ref),
                         ctx->sentiment_model, *text, *len, res, &err);
    *version = pipeline_nlu_model_version(ref);
    pipeline_nlu_release(ref);
    if (rc != 0) {
        http_reply_error(req, 422, "invalid_field", "\"text\": %s", err.msg);
        return false;
    }
    return true;
}

static json_t *language_json(const struct nlu_result *res)
{
    return json_pack("{s:s, s:f}", "code", nlu_lang_code(res->lang.lang), "confidence",
                     (double)res->lang.confidence);
}

static json_t *sentiment_reply(const struct nlu_result *res, const char *text, size_t len,
                               int64_t version)
{
    (void)text;
    (void)len;
    (void)version;
    json_t *s = nlu_sentiment_json(&res->sentiment);
    json_t *out =
        json_pack("{s:O, s:O, s:O, s:o, s:s}", "sentiment", json_object_get(s, "label"), "score",
                  json_object_get(s, "score"), "emotions", json_object_get(s, "emotions"),
                  "language", language_json(res), "provider", "local");
    json_decref(s);
    return out;
}

static json_t *intent_reply(const struct nlu_result *res, const char *text, size_t len,
                            int64_t version)
{
    json_t *in = nlu_intent_json(&res->intent);
    size_t n = res->nentities < NLU_MAX_ENTITIES ? res->nentities : NLU_MAX_ENTITIES;
    json_t *out = json_pack(
        "{s:O, s:O, s:O, s:O, s:o, s:o, s:s, s:I}", "intent", json_object_get(in, "name"),
        "confidence", json_object_get(in, "confidence"), "oos", json_object_get(in, "oos"),
        "alternatives", json_object_get(in, "alternatives"), "language", language_json(res),
        "entities", nlu_entities_json(res->entities, n, text, len), "provider", "local",
        "model_version", (json_int_t)version);
    json_decref(in);
    return out;
}

/* Analyses the request's text and replies with render's view of the result. */
static void answer(struct http_req *req,
                   json_t *(*render)(const struct nlu_result *, const char *, size_t, int64_t))
{
    struct nlu_result res;
    const char *text;
    size_t len;
    int64_t version;
    if (analyze(req, &res, &text, &len, &version)) {
        http_reply_json(req, 200, render(&res, text, len, version));
    }
}

void api_ai_analyze_sentiment(struct http_req *req)
{
    answer(req, sentiment_reply);
}

void api_ai_extract_intent(struct http_req *req)
{
    answer(req, intent_reply);
}
