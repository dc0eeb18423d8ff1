/*
 * api/ai_reply: POST /api/v1/conversations/{id}/ai-reply: a reply for the conversation now,
 * written by the reply route with the same prompt, checks and fallback as the pipeline's.
 * {"send": true} also stores it as a bot message pending_send (the sender takes it from
 * there); {"model": …} picks a provider as /ai/chat-completion does. ?stream=true streams
 * {"type":"reply.delta","data":{"text":…}} events, then {"type":"reply.done","data":{…}} and
 * "data: [DONE]". The request is suspended while providers answer.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

struct reply_call {
    struct http_req *req; /* not touched once the stream started */
    struct ai_router *router;
    struct pipeline_gen *gen;
    struct pipeline_draft *draft;
    uint64_t call;
    bool send, stream, gone;
    struct http_stream *st;
    char conv_id[STORE_ID_LEN];
    char *text;   /* the final reply */
    json_t *meta; /* who answered, checks */
    char message_id[STORE_ID_LEN];
};

static int sse_json(struct http_stream *st, json_t *j)
{
    char *text = dk_json_dump(j);
    json_decref(j);
    int rc = http_stream_sse(st, NULL, text);
    dk_free(text);
    return rc;
}

static int on_delta(void *arg, const char *text, size_t len)
{
    struct reply_call *k = arg;
    if (!k->stream || k->gone || len == 0) {
        return 0;
    }
    if (k->st == NULL) {
        k->st = http_stream_start(k->req, 200, "text/event-stream");
    }
    json_t *ev = json_pack("{s:s, s:{s:s%}}", "type", "reply.delta", "data", "text", text, len);
    if (sse_json(k->st, ev) != 0) {
        k->gone = true;
        ai_router_cancel(k->router, k->call);
    }
    return 0;
}

/* The checked text, and with "send" the stored bot message, in the finisher's transaction. */
static int reply_work(struct store_conn *c, void *arg, struct ai_result *res, struct dk_err *err)
{
    struct reply_call *k = arg;
    k->text = pipeline_draft_final_text(k->draft, res, &k->meta);
    if (!k->send || res->reply.outcome == AI_ERR_CANCELED) {
        return 0;
    }
    json_object_set_new(k->meta, "source", json_string("api"));
    char *meta = dk_json_dump(k->meta);
    struct store_message m = {.conversation_id = k->conv_id,
                              .sender_type = "bot",
                              .message_type = "text",
                              .content = k->text,
                              .metadata = meta,
                              .status = "pending_send",
                              .created_ms = dk_now_ms()};
    bool inserted;
    int rc = store_message_insert(c, &m, &inserted, err);
    dk_free(meta);
    if (rc == 0) {
        memcpy(k->message_id, m.id, STORE_ID_LEN);
        rc = pipeline_send_enqueue(c, k->conv_id, m.created_ms, err);
    }
    return rc;
}

static json_t *result_json(const struct reply_call *k, const struct ai_result *res)
{
    json_t *out = json_pack("{s:s, s:O, s:{s:I, s:I}, s:I}", "reply", k->text, "meta", k->meta,
                            "usage", "input_tokens", (json_int_t)res->reply.usage.input_tokens,
                            "output_tokens", (json_int_t)res->reply.usage.output_tokens,
                            "latency_ms", (json_int_t)res->latency_ms);
    json_object_set(out, "provider", json_object_get(k->meta, "provider"));
    json_object_set(out, "path", json_object_get(k->meta, "path"));
    json_object_set_new(out, "message_id",
                        k->message_id[0] != '\0' ? json_string(k->message_id) : json_null());
    return out;
}

static void reply_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                        const struct dk_err *err)
{
    (void)c;
    struct reply_call *k = arg;
    if (k->st == NULL && k->stream && rc == 0 && res->reply.outcome != AI_ERR_CANCELED) {
        k->st = http_stream_start(k->req, 200, "text/event-stream");
    }
    if (k->st != NULL) {
        if (rc == 0 && res->reply.outcome != AI_ERR_CANCELED) {
            sse_json(k->st,
                     json_pack("{s:s, s:o}", "type", "reply.done", "data", result_json(k, res)));
            http_stream_write(k->st, "data: [DONE]\n\n", 14);
        } else {
            sse_json(k->st, json_pack("{s:s, s:{s:s}}", "type", "error", "data", "message",
                                      rc != 0 ? err->msg : "canceled"));
        }
        http_stream_end(k->st);
    } else if (rc != 0) {
        http_reply_err(k->req, err);
        http_req_resume(k->req);
    } else if (res->reply.outcome == AI_ERR_CANCELED) {
        http_reply_error(k->req, 503, "unavailable", "the reply was canceled (shutting down)");
        http_req_resume(k->req);
    } else {
        http_reply_json(k->req, k->message_id[0] != '\0' ? 201 : 200, result_json(k, res));
        http_req_resume(k->req);
    }
    pipeline_draft_free(k->draft);
    dk_free(k->text);
    json_decref(k->meta);
    dk_free(k);
}

static void reply_done(void *arg, struct ai_result *res)
{
    struct reply_call *k = arg;
    pipeline_gen_finish(k->gen, res, "reply", pipeline_draft_account(k->draft), k->conv_id,
                        reply_work, reply_after, k);
}

void api_conversation_ai_reply(struct http_req *req)
{
    struct api_ctx *ctx = api_ctx(req);
    const char *id = http_req_param(req, "id");
    json_t *body = http_req_json(req);
    if (body != NULL && !json_is_object(body)) {
        http_reply_error(req, 422, "invalid_field", "the body must be a JSON object");
        return;
    }
    json_t *send = json_object_get(body, "send");
    json_t *model = json_object_get(body, "model");
    if (send != NULL && !json_is_boolean(send)) {
        http_reply_error(req, 422, "invalid_field", "\"send\" must be a boolean");
        return;
    }
    if (model != NULL && !json_is_string(model)) {
        http_reply_error(req, 422, "invalid_field", "\"model\" must be a string");
        return;
    }
    const char *stream = http_req_query(req, "stream");
    if (stream != NULL && strcmp(stream, "true") != 0 && strcmp(stream, "false") != 0) {
        http_reply_error(req, 422, "invalid_field", "?stream must be true or false");
        return;
    }
    const char *target = json_string_value(model);
    struct dk_err err = {0};
    if (ai_router_resolve(ctx->router, target, &err) != 0) {
        http_reply_error(req, 422, "invalid_field", "\"model\": %s", err.msg);
        return;
    }
    if (!store_is_uuid(id)) {
        http_reply_error(req, 404, "not_found", "conversation not found");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct pipeline_draft *d = NULL;
    int rc = pipeline_draft_prepare(c, ctx->gen, id, NULL, NULL, &d, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    struct reply_call *k = dk_calloc(1, sizeof(*k));
    k->req = req;
    k->router = ctx->router;
    k->gen = ctx->gen;
    k->draft = d;
    k->send = json_is_true(send);
    k->stream = stream != NULL && strcmp(stream, "true") == 0;
    snprintf(k->conv_id, sizeof(k->conv_id), "%s", id);
    struct ai_request r;
    pipeline_draft_request(d, target, k->stream, &r);
    http_req_suspend(req);
    ai_router_submit(ctx->router, &r, on_delta, reply_done, k, &k->call);
}
