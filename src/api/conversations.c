/* api/conversations: list, read, context, history and events of conversations. */
#include "api/api.h"

#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

void api_conversations_list(struct http_req *req)
{
    int limit;
    const char *cursor;
    if (!api_page_args(req, 50, 200, &limit, &cursor)) {
        return;
    }
    const char *status = http_req_query(req, "status");
    if (status != NULL && (strlen(status) == 0 || strlen(status) > 32)) {
        http_reply_error(req, 422, "invalid_field", "status must be 1 to 32 characters");
        return;
    }
    int64_t since = 0;
    const char *since_s = http_req_query(req, "updated_since");
    if (since_s != NULL && dk_time_parse(since_s, &since) != 0) {
        http_reply_error(req, 422, "invalid_field",
                         "updated_since must be an RFC 3339 timestamp, e.g. 2026-11-27T10:00:00Z");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *items = NULL;
    char *next = NULL;
    int rc = store_conversation_list(c, status, since, cursor, limit, &items, &next, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

void api_conversation_get(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    struct store_conn *c = id != NULL ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *conv = NULL;
    int rc = store_conversation_get(c, id, &conv, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, conv);
}

void api_conversation_context_get(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    struct store_conn *c = id != NULL ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *conv = NULL;
    int rc = store_conversation_get(c, id, &conv, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "conversation_id", json_string(id));
    json_object_set(o, "context", json_object_get(conv, "context"));
    json_object_set(o, "updated_at", json_object_get(conv, "updated_at"));
    json_decref(conv);
    http_reply_json(req, 200, o);
}

void api_conversation_context_put(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    if (id == NULL) {
        return;
    }
    json_t *body = http_req_json(req);
    json_t *ctx = json_object_get(body, "context");
    if (!json_is_object(body) || !json_is_object(ctx)) {
        http_reply_error(req, 422, "invalid_field",
                         "body must be an object with a \"context\" object");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    char *text = dk_json_dump(ctx);
    struct dk_err err = {0};
    int rc = store_conversation_set_context(c, id, text, dk_now_ms(), &err);
    dk_free(text);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "conversation_id", json_string(id));
    json_object_set(o, "context", ctx);
    http_reply_json(req, 200, o);
}

void api_conversation_history(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    int limit;
    const char *cursor;
    if (id == NULL || !api_page_args(req, 50, 200, &limit, &cursor)) {
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *conv = NULL, *items = NULL;
    char *next = NULL;
    int rc = store_conversation_get(c, id, &conv, &err);
    if (rc == 0) {
        rc = store_message_history(c, id, cursor, limit, &items, &next, &err);
    }
    store_release(c);
    json_decref(conv);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

void api_conversation_events(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    struct store_conn *c = id != NULL ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *conv = NULL, *items = NULL;
    int rc = store_conversation_get(c, id, &conv, &err);
    if (rc == 0) {
        rc = store_message_event_list(c, id, &items, &err);
    }
    store_release(c);
    json_decref(conv);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, NULL);
}
