/* api/users: a customer's profile, preferences and history across conversations. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

/* The internal user id from {id}; replies 404 when it is not a positive integer. */
static bool user_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    char *end = NULL;
    long long v = s != NULL && *s != '\0' && strlen(s) <= 18 ? strtoll(s, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v <= 0) {
        http_reply_error(req, 404, "not_found", "user not found");
        return false;
    }
    *id = v;
    return true;
}

void api_user_profile(struct http_req *req)
{
    const char *igid = http_req_param(req, "instagram_id");
    if (igid == NULL || strlen(igid) == 0 || strlen(igid) > 64) {
        http_reply_error(req, 404, "not_found", "user not found");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *user = NULL;
    int rc = store_user_get(c, igid, 0, &user, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, user);
}

void api_user_preferences_put(struct http_req *req)
{
    int64_t id;
    if (!user_id(req, &id)) {
        return;
    }
    json_t *body = http_req_json(req);
    json_t *prefs = json_object_get(body, "preferences");
    if (!json_is_object(body) || !json_is_object(prefs)) {
        http_reply_error(req, 422, "invalid_field",
                         "body must be an object with a \"preferences\" object");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    char *text = dk_json_dump(prefs);
    struct dk_err err = {0};
    json_t *user = NULL;
    int rc = store_user_set_preferences(c, id, text, dk_now_ms(), &err);
    if (rc == 0) {
        rc = store_user_get(c, NULL, id, &user, &err);
    }
    dk_free(text);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, user);
}

void api_user_conversation_history(struct http_req *req)
{
    int64_t id;
    int limit;
    const char *cursor;
    if (!user_id(req, &id) || !api_page_args(req, 50, 200, &limit, &cursor)) {
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *user = NULL, *convs = NULL, *msgs = NULL;
    char *next = NULL;
    int rc = store_user_get(c, NULL, id, &user, &err);
    if (rc == 0) {
        rc = store_conversation_list_by_user(c, id, &convs, &err);
    }
    if (rc == 0) {
        rc = store_message_history_by_user(c, id, cursor, limit, &msgs, &next, &err);
    }
    store_release(c);
    if (rc != 0) {
        json_decref(user);
        json_decref(convs);
        api_fail(req, &err);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "user", user);
    json_object_set_new(o, "conversations", convs);
    json_object_set_new(o, "data", msgs);
    json_object_set_new(o, "next_cursor", next != NULL ? json_string(next) : json_null());
    dk_free(next);
    http_reply_json(req, 200, o);
}
