/*
 * api/ai: text in, understanding out: POST /api/v1/ai/analyze-sentiment and
 * /api/v1/ai/extract-intent. "provider" picks who answers:
 *   "local" (the default): the built-in NLU, on the HTTP thread (microseconds, no network);
 *   "auto": local first, and an LLM of the task's route only when the NLU's confidence is
 *           below the task's threshold (the local answer stays the fallback);
 *   a provider ("openai", "anthropic/claude-…", …): that provider, with structured output.
 * Every answer has the local shape plus "provider" and "path" ("local" | "llm"); LLM calls are
 * suspended requests, recorded in ai_calls.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/mem.h"

struct understand_call {
    struct http_req *req;
    enum ai_task task;
    json_t *local; /* the local answer (the shape, and the fallback) */
    bool fallback; /* "auto": the local answer when the LLMs fail */
};

/* The request's text, validated; NULL after replying 400/422. */
static const char *request_text(struct http_req *req, size_t *len, const char **provider)
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
    json_t *p = json_object_get(body, "provider");
    *provider = "local";
    if (p != NULL) {
        struct dk_err err = {0};
        if (!json_is_string(p)) {
            http_reply_error(req, 422, "invalid_field", "\"provider\" must be a string");
            return NULL;
        }
        *provider = json_string_value(p);
        if (strcmp(*provider, "local") != 0 &&
            ai_router_resolve(api_ctx(req)->router, *provider, &err) != 0) {
            http_reply_error(req, 422, "invalid_field",
                             "\"provider\": %s (GET /api/v1/ai/models lists them)", err.msg);
            return NULL;
        }
    }
    *len = json_string_length(text);
    if (*len > NLU_MAX_TEXT) {
        http_reply_error(req, 422, "invalid_field", "\"text\" is longer than %d bytes",
                         NLU_MAX_TEXT);
        return NULL;
    }
    return json_string_value(text);
}

static void set_path(json_t *j, const char *provider, const char *path)
{
    json_object_set_new(j, "provider", json_string(provider));
    json_object_set_new(j, "path", json_string(path));
}

static void understand_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                             const struct dk_err *err)
{
    (void)c;
    (void)rc;
    (void)err;
    struct understand_call *k = arg;
    struct dk_err perr = {0};
    json_t *llm = NULL;
    bool local_answered = res->reply.outcome == AI_OK && strcmp(res->provider, "local") == 0;
    if (res->reply.outcome == AI_OK && !local_answered) {
        llm = k->task == AI_TASK_INTENT ? ai_llm_intent_json(res->reply.text, NULL, &perr)
                                        : ai_llm_sentiment_json(res->reply.text, &perr);
    }
    if (llm != NULL) {
        json_t *out = json_deep_copy(k->local);
        const char *keys[] = {"intent", "confidence", "oos", "alternatives", "sentiment", "score"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_t *v = json_object_get(llm, keys[i]);
            if (v != NULL) {
                json_object_set(out, keys[i], v);
            }
        }
        set_path(out, res->provider, "llm");
        json_object_set_new(out, "model", json_string(res->model));
        json_decref(llm);
        http_reply_json(k->req, 200, out);
    } else if (local_answered || k->fallback) {
        json_t *out = json_incref(k->local);
        set_path(out, "local", "local");
        if (!local_answered) {
            json_object_set_new(
                out, "fallback",
                json_string(llm == NULL && perr.msg[0] ? perr.msg : res->reply.error));
        }
        http_reply_json(k->req, 200, out);
    } else if (res->reply.outcome == AI_OK) {
        http_reply_error(k->req, 502, "provider_error", "%s", perr.msg);
    } else {
        http_reply_error(k->req, res->reply.outcome == AI_ERR_BUDGET ? 429 : 502, "provider_error",
                         "the provider failed: %s", res->reply.error);
    }
    http_req_resume(k->req);
    json_decref(k->local);
    dk_free(k);
}

static void understand_done(void *arg, struct ai_result *res)
{
    struct understand_call *k = arg;
    pipeline_gen_finish(api_ctx(k->req)->gen, res, ai_task_name(k->task), NULL, NULL, NULL,
                        understand_after, k);
}

/* Asks the router (LLM path): suspends the request. */
static void ask_llm(struct http_req *req, enum ai_task task, const char *target, const char *text,
                    json_t *local, bool fallback)
{
    struct api_ctx *ctx = api_ctx(req);
    char *instruction = task == AI_TASK_INTENT ? ai_intent_instruction(NULL)
                                               : dk_strdup(ai_sentiment_instruction());
    struct ai_message msgs[2] = {{"system", instruction}, {"user", text}};
    char *local_text = fallback ? dk_json_dump(local) : NULL;
    struct ai_request r = {.task = task,
                           .messages = msgs,
                           .nmessages = 2,
                           .max_tokens = 100,
                           .temperature = 0,
                           .json_schema =
                               task == AI_TASK_INTENT ? ai_intent_schema() : ai_sentiment_schema(),
                           .target = target,
                           .local_text = local_text};
    /* the text was analysed already: it is valid, and within the NLU's limit */
    struct pipeline_privacy priv;
    pipeline_privacy_apply(ai_router_config(ctx->router)->privacy, msgs, 2, &priv, NULL);
    pipeline_privacy_request(&priv, &r);
    struct understand_call *k = dk_calloc(1, sizeof(*k));
    k->req = req;
    k->task = task;
    k->local = local;
    k->fallback = fallback;
    http_req_suspend(req);
    ai_router_submit(ctx->router, &r, NULL, understand_done, k, NULL);
    pipeline_privacy_clear(&priv);
    dk_free(local_text);
    dk_free(instruction);
}

static void answer(struct http_req *req, enum ai_task task)
{
    const char *provider;
    size_t len;
    const char *text = request_text(req, &len, &provider);
    if (text == NULL) {
        return;
    }
    struct api_ctx *ctx = api_ctx(req);
    /* no connection of our own: the holder takes one when a check for a newer model is due */
    struct pipeline_nlu_model *ref = pipeline_nlu_acquire(ctx->nlu, NULL);
    struct dk_err err = {0};
    struct nlu_result res;
    int rc = nlu_analyze(pipeline_nlu_thread_ctx(), pipeline_nlu_model_get(ref),
                         ctx->sentiment_model, text, len, &res, &err);
    int64_t version = pipeline_nlu_model_version(ref);
    pipeline_nlu_release(ref);
    if (rc != 0) {
        http_reply_error(req, 422, "invalid_field", "\"text\": %s", err.msg);
        return;
    }
    json_t *local = task == AI_TASK_INTENT ? ai_local_intent_json(&res, text, len)
                                           : ai_local_sentiment_json(&res);
    if (task == AI_TASK_INTENT) {
        json_object_set_new(local, "model_version", json_integer(version));
    }
    const struct ai_config *acfg = ai_router_config(ctx->router);
    bool has_llm =
        acfg->nroute[task] > 0 && !acfg->providers[acfg->routes[task][0].provider].builtin;
    if (strcmp(provider, "local") == 0 ||
        (strcmp(provider, "auto") == 0 &&
         (!has_llm || ai_local_confidence(task, &res) >= acfg->local_threshold[task]))) {
        set_path(local, "local", "local");
        http_reply_json(req, 200, local);
        return;
    }
    bool fallback = strcmp(provider, "auto") == 0;
    ask_llm(req, task, fallback ? NULL : provider, text, local, fallback);
}

void api_ai_analyze_sentiment(struct http_req *req)
{
    answer(req, AI_TASK_SENTIMENT);
}

void api_ai_extract_intent(struct http_req *req)
{
    answer(req, AI_TASK_INTENT);
}
