/*
 * api/ai_chat: direkt as an OpenAI-compatible gateway. POST /api/v1/ai/chat-completion (and
 * …/ai/chat/completions, the path OpenAI's clients call under the base URL
 * http://HOST/api/v1/ai) takes a Chat Completions request, runs it through the router (the
 * "model" picks a provider, "provider/model", or "auto" for the chat route) and answers in
 * OpenAI's format: one JSON object, or with "stream": true Server-Sent Events ending with
 * "data: [DONE]". Errors use OpenAI's shape, which also carries our "code" and "message".
 * GET /api/v1/ai/models lists what "model" accepts. The request is suspended while providers
 * answer: no HTTP thread waits.
 */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

#define CHAT_MAX_MESSAGES 256
#define CHAT_MAX_TOKENS   16384

void api_openai_error(struct http_req *req, int status, const char *type, const char *code,
                      const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s, s:s?, s:s}", "message", msg, "type", type, "param", param,
                          "code", code);
    if (status == 429 || status == 503) {
        http_reply_header(req, "Retry-After", "1");
    }
    if (status >= 400 && status < 500 && status != 408 && status != 409 && status != 429) {
        http_reply_header(req, "x-should-retry", "false");
    }
    http_reply_json(req, status, json_pack("{s:o}", "error", e));
}

/* A router failure as an OpenAI-style status and error. */
void api_openai_failure(struct http_req *req, const struct ai_result *res)
{
    const struct ai_reply *rep = &res->reply;
    const char *msg = rep->error[0] != '\0' ? rep->error : "no provider could answer";
    switch (rep->outcome) {
    case AI_ERR_BUDGET:
        api_openai_error(req, 429, "insufficient_quota", "insufficient_quota", NULL, "%s", msg);
        break;
    case AI_ERR_CANCELED:
    case AI_ERR_CIRCUIT:
    case AI_ERR_RETRY:
        api_openai_error(req, 503, "api_error", "unavailable", NULL, "providers unavailable: %s",
                         msg);
        break;
    case AI_ERR_PRIVACY:
        api_openai_error(req, 422, "invalid_request_error", "privacy", NULL, "%s", msg);
        break;
    default:
        api_openai_error(req, 502, "api_error", "provider_error", NULL, "the provider failed: %s",
                         msg);
        break;
    }
}

struct chat {
    struct http_req *req; /* not touched once the stream started */
    struct ai_router *router;
    struct pipeline_gen *gen;
    uint64_t call;
    bool stream, include_usage;
    struct http_stream *st; /* once the first delta arrived */
    bool gone;              /* the client went away */
    char id[40];
    int64_t created;
    char model[200];
};

static json_t *chunk(const struct chat *k, json_t *delta, const char *finish)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:o, s:n}]}", "id", k->id, "object",
                     "chat.completion.chunk", "created", (json_int_t)k->created, "model", k->model,
                     "choices", "index", 0, "delta", delta, "finish_reason",
                     finish != NULL ? json_string(finish) : json_null(), "logprobs");
}

static int send_json(struct chat *k, json_t *j)
{
    char *text = dk_json_dump(j);
    json_decref(j);
    int rc = http_stream_sse(k->st, NULL, text);
    dk_free(text);
    return rc;
}

static int on_delta(void *arg, const char *text, size_t len)
{
    struct chat *k = arg;
    if (!k->stream || k->gone) {
        return 0;
    }
    if (k->st == NULL) {
        k->st = http_stream_start(k->req, 200, "text/event-stream");
        send_json(k, chunk(k, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL));
    }
    json_t *d = json_object();
    json_object_set_new(d, "content", json_stringn(text, len));
    if (send_json(k, chunk(k, d, NULL)) != 0) {
        k->gone = true; /* stop paying for tokens nobody reads */
        ai_router_cancel(k->router, k->call);
    }
    return 0;
}

static json_t *usage_json(const struct ai_reply *rep)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)rep->usage.input_tokens,
                     "completion_tokens", (json_int_t)rep->usage.output_tokens, "total_tokens",
                     (json_int_t)(rep->usage.input_tokens + rep->usage.output_tokens));
}

static void model_name(struct chat *k, const struct ai_result *res)
{
    if (res->provider[0] != '\0') {
        snprintf(k->model, sizeof(k->model), "%s/%s", res->provider, res->model);
    }
}

static void stream_done(struct chat *k, struct ai_result *res)
{
    const struct ai_reply *rep = &res->reply;
    model_name(k, res);
    if (rep->outcome == AI_OK) {
        const char *finish =
            rep->finish[0] != '\0' && strcmp(rep->finish, "end_turn") != 0 ? rep->finish : "stop";
        if (strcmp(finish, "max_tokens") == 0) {
            finish = "length";
        }
        send_json(k, chunk(k, json_object(), finish));
        if (k->include_usage) {
            json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", k->id, "object",
                                  "chat.completion.chunk", "created", (json_int_t)k->created,
                                  "model", k->model, "choices", "usage", usage_json(rep));
            send_json(k, u);
        }
        http_stream_write(k->st, "data: [DONE]\n\n", 14);
    } else {
        /* after text went out the error can only travel inside the stream (no [DONE]) */
        send_json(k, json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message",
                               rep->error[0] ? rep->error : "the provider failed", "type",
                               "api_error", "param", "code", ai_outcome_name(rep->outcome)));
    }
    http_stream_end(k->st);
}

static void chat_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                       const struct dk_err *err)
{
    (void)c;
    (void)rc;
    (void)err;
    struct chat *k = arg;
    if (k->st != NULL) {
        stream_done(k, res);
        dk_free(k);
        return;
    }
    const struct ai_reply *rep = &res->reply;
    if (rep->outcome != AI_OK) {
        api_openai_failure(k->req, res);
    } else {
        model_name(k, res);
        const char *finish = strcmp(rep->finish, "max_tokens") == 0 ? "length" : "stop";
        json_t *out = json_pack(
            "{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s, s:n}, s:n, s:s}], s:o, s:n, s:s}", "id",
            k->id, "object", "chat.completion", "created", (json_int_t)k->created, "model",
            k->model, "choices", "index", 0, "message", "role", "assistant", "content",
            rep->text != NULL ? rep->text : "", "refusal", "logprobs", "finish_reason", finish,
            "usage", usage_json(rep), "system_fingerprint", "provider", res->provider);
        if (k->stream) {
            /* streamed, but nothing came before the end: the one chunk sequence now */
            on_delta(k, "", 0);
            if (k->st != NULL) {
                json_decref(out);
                stream_done(k, res);
                dk_free(k);
                return;
            }
        }
        http_reply_json(k->req, 200, out);
    }
    http_req_resume(k->req);
    dk_free(k);
}

static void chat_done(void *arg, struct ai_result *res)
{
    struct chat *k = arg;
    pipeline_gen_finish(k->gen, res, "chat", NULL, NULL, NULL, chat_after, k);
}

/* A message's text: a string, or the text parts of an array of content parts. */
static const char *content_text(struct http_req *req, json_t *content)
{
    if (json_is_string(content)) {
        return json_string_value(content);
    }
    if (!json_is_array(content)) {
        return NULL;
    }
    struct dk_buf b;
    dk_buf_init(&b, 1u << 20);
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *t = dk_json_str(part, "text");
        if (t != NULL) {
            dk_buf_puts(&b, t);
        }
    }
    char *s = dk_arena_alloc(http_req_arena(req), b.len + 1);
    memcpy(s, b.data != NULL ? b.data : "", b.len);
    s[b.len] = '\0';
    dk_buf_free(&b);
    return s;
}

/* Parses the messages; false after replying. */
static bool parse_messages(struct http_req *req, json_t *arr, struct ai_message **out, size_t *n)
{
    size_t count = json_array_size(arr);
    if (!json_is_array(arr) || count == 0 || count > CHAT_MAX_MESSAGES) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_value", "messages",
                         "messages must be an array of 1 to %d messages", CHAT_MAX_MESSAGES);
        return false;
    }
    struct ai_message *m = dk_arena_alloc(http_req_arena(req), count * sizeof(*m));
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(arr, i);
        const char *role = dk_json_str(item, "role");
        const char *text = content_text(req, json_object_get(item, "content"));
        if (role == NULL || (strcmp(role, "system") != 0 && strcmp(role, "developer") != 0 &&
                             strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            api_openai_error(req, 400, "invalid_request_error", "invalid_value", "messages",
                             "messages[%zu].role must be system, developer, user or assistant", i);
            return false;
        }
        if (text == NULL) {
            api_openai_error(req, 400, "invalid_request_error", "invalid_value", "messages",
                             "messages[%zu].content must be a string or an array of text parts", i);
            return false;
        }
        m[i].role = strcmp(role, "developer") == 0 ? "system" : role;
        m[i].content = text;
    }
    *out = m;
    *n = count;
    return true;
}

/* The structured-output schema of response_format, as text in the arena; false after replying. */
static bool parse_format(struct http_req *req, json_t *fmt, const char **schema)
{
    *schema = NULL;
    if (fmt == NULL || json_is_null(fmt)) {
        return true;
    }
    const char *type = dk_json_str(fmt, "type");
    if (type == NULL || (strcmp(type, "text") != 0 && strcmp(type, "json_object") != 0 &&
                         strcmp(type, "json_schema") != 0)) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_value", "response_format",
                         "response_format.type must be text, json_object or json_schema");
        return false;
    }
    if (strcmp(type, "json_schema") == 0) {
        json_t *s = json_object_get(json_object_get(fmt, "json_schema"), "schema");
        if (!json_is_object(s)) {
            api_openai_error(req, 400, "invalid_request_error", "invalid_value", "response_format",
                             "response_format.json_schema.schema must be an "
                             "object");
            return false;
        }
        char *text = dk_json_dump(s);
        size_t n = strlen(text) + 1;
        char *copy = dk_arena_alloc(http_req_arena(req), n);
        memcpy(copy, text, n);
        dk_free(text);
        *schema = copy;
    }
    return true;
}

void api_ai_chat_completion(struct http_req *req)
{
    struct api_ctx *ctx = api_ctx(req);
    json_t *body = http_req_json(req);
    if (!json_is_object(body)) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_request", NULL,
                         "the body must be a JSON object");
        return;
    }
    struct ai_request r = {.task = AI_TASK_CHAT, .temperature = -1};
    const char *model = dk_json_str(body, "model");
    struct dk_err err = {0};
    if (json_object_get(body, "model") != NULL && model == NULL) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_type", "model",
                         "model must be a string");
        return;
    }
    if (ai_router_resolve(ctx->router, model, &err) != 0) {
        api_openai_error(req, 404, "invalid_request_error", "model_not_found", "model",
                         "The model `%.100s` does not exist (GET /api/v1/ai/models lists them)",
                         model);
        return;
    }
    struct ai_message *msgs;
    if (!parse_messages(req, json_object_get(body, "messages"), &msgs, &r.nmessages) ||
        !parse_format(req, json_object_get(body, "response_format"), &r.json_schema)) {
        return;
    }
    r.messages = msgs;
    json_t *v = json_object_get(body, "max_completion_tokens");
    if (v == NULL || json_is_null(v)) {
        v = json_object_get(body, "max_tokens");
    }
    if (v != NULL && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < 1 ||
         json_integer_value(v) > CHAT_MAX_TOKENS)) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_value", "max_tokens",
                         "max_tokens must be an integer from 1 to %d", CHAT_MAX_TOKENS);
        return;
    }
    r.max_tokens = v != NULL && json_is_integer(v) ? (int)json_integer_value(v) : 0;
    v = json_object_get(body, "temperature");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2) {
            api_openai_error(req, 400, "invalid_request_error", "invalid_value", "temperature",
                             "temperature must be a number from 0 to 2");
            return;
        }
        r.temperature = json_number_value(v);
    }
    v = json_object_get(body, "stream");
    if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
        api_openai_error(req, 400, "invalid_request_error", "invalid_type", "stream",
                         "stream must be a boolean");
        return;
    }
    r.stream = json_is_true(v);
    r.target = model;
    /* the built-in provider answers the last user message */
    const char *last = "";
    for (size_t i = r.nmessages; i > 0; i--) {
        if (strcmp(msgs[i - 1].role, "user") == 0) {
            last = msgs[i - 1].content;
            break;
        }
    }
    /* the built-in answer (a knowledge read and the NLU) only when the route can reach it */
    char *local = NULL;
    if (r.json_schema == NULL && ai_router_reaches_local(ctx->router, AI_TASK_CHAT, model)) {
        struct store_conn *c = api_conn(req);
        if (c == NULL) {
            return;
        }
        int rc = pipeline_local_reply(c, ctx->responder, ctx->nlu, NULL, last, &local, &err);
        store_release(c);
        if (rc != 0) {
            api_fail(req, &err);
            return;
        }
    }
    r.local_text = local;
    struct pipeline_privacy priv;
    if (pipeline_privacy_apply(ai_router_config(ctx->router)->privacy, msgs, r.nmessages, &priv,
                               &err) != 0) {
        dk_free(local);
        api_openai_error(req, 400, "invalid_request_error", "invalid_value", "messages", "%s",
                         err.msg);
        return;
    }
    pipeline_privacy_request(&priv, &r);
    struct chat *k = dk_calloc(1, sizeof(*k));
    k->req = req;
    k->router = ctx->router;
    k->gen = ctx->gen;
    k->stream = r.stream;
    k->include_usage =
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    unsigned char rnd[12];
    dk_random_bytes(rnd, sizeof(rnd));
    int off = snprintf(k->id, sizeof(k->id), "chatcmpl-");
    for (size_t i = 0; i < sizeof(rnd); i++) {
        off += snprintf(k->id + off, sizeof(k->id) - (size_t)off, "%02x", rnd[i]);
    }
    k->created = dk_now_ms() / 1000;
    snprintf(k->model, sizeof(k->model), "%s", model != NULL ? model : "auto");
    http_req_suspend(req);
    ai_router_submit(ctx->router, &r, on_delta, chat_done, k, &k->call);
    pipeline_privacy_clear(&priv);
    dk_free(local);
}

void api_ai_models(struct http_req *req)
{
    http_reply_json(req, 200, ai_router_models(api_ctx(req)->router));
}
