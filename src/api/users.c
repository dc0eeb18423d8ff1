/* api/users: a customer's profile (with the profile for messaging, cached from the Graph API),
 * preferences and history across conversations. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
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

/* ---- GET /users/{instagram_id}/profile: the user and their profile for messaging ----
 * Served from users.profile_data while fresh; otherwise the request is suspended while the
 * Graph API answers on the outbound loop, and the finisher thread stores what came back. */
#define PROFILE_TIMEOUT_MS 10000

struct profile_call {
    struct http_req *req;
    struct store *store;
    struct pipeline_gen *gen; /* stores the answer off the loop; NULL: stored on the loop */
    struct pipeline_profile_fetch f;
    json_t *user; /* the user row, the answer's base */
    struct ig_result res;
    json_t *profile; /* fetched, or NULL */
    struct dk_err err;
    int rc;
    int64_t fetched_ms;
};

/* The user row with the profile answer's fields (answer stolen). */
static void reply_profile(struct http_req *req, json_t *user, json_t *answer)
{
    json_object_update(user, answer);
    json_decref(answer);
    http_reply_json(req, 200, user);
}

static void profile_call_free(struct profile_call *k)
{
    pipeline_profile_fetch_clear(&k->f);
    json_decref(k->user);
    json_decref(k->profile);
    dk_free(k);
}

/* Graph errors: 502 with what Meta said. */
static void reply_graph_error(struct http_req *req, const struct profile_call *k)
{
    int status = k->err.status >= 500 ? k->err.status : 502;
    json_t *e = json_pack("{s:s, s:s}", "code", "graph_error", "message", k->err.msg);
    if (e == NULL) { /* Meta's text cut inside a UTF-8 character */
        http_reply_error(req, status, "graph_error", "the graph api answered an error");
        return;
    }
    if (k->res.outcome != IG_OK) {
        json_t *g = json_pack("{s:s, s:i, s:i, s:i}", "outcome", ig_outcome_name(k->res.outcome),
                              "http_status", k->res.http_status, "code", k->res.code, "subcode",
                              k->res.subcode);
        json_t *m = json_string(k->res.message);
        if (m != NULL) {
            json_object_set_new(g, "message", m);
        }
        json_object_set_new(e, "graph", g);
    }
    http_reply_json(req, status, json_pack("{s:o}", "error", e));
}

/* Finisher thread: keeps the profile, or marks the account after a token error. */
static int profile_work(struct store_conn *c, void *arg, struct ai_result *res, struct dk_err *err)
{
    (void)res;
    struct profile_call *k = arg;
    return pipeline_profile_store(c, &k->f, &k->res, k->profile, k->fetched_ms, err);
}

static void profile_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                          const struct dk_err *err)
{
    (void)c;
    (void)res;
    struct profile_call *k = arg;
    if (rc != 0) {
        DK_WARN("could not store the profile of %s: %s", k->f.instagram_id, err->msg);
    }
    if (k->rc == 0) {
        json_t *answer = pipeline_profile_json(k->f.instagram_id, k->profile, k->fetched_ms, false);
        reply_profile(k->req, k->user, answer);
        k->user = NULL;
    } else {
        reply_graph_error(k->req, k);
    }
    http_req_resume(k->req);
    profile_call_free(k);
}

/* Loop thread: the answer parsed here (no I/O), stored on the finisher. */
static void profile_done(void *arg, const struct ai_http_resp *resp)
{
    struct profile_call *k = arg;
    if (resp->error != 0) {
        ig_transport_result(resp->error, resp->error == DK_ETIMEOUT, resp->error_msg, &k->res);
    } else {
        ig_parse_result(resp->status, resp->body, resp->len, &k->res);
    }
    k->fetched_ms = dk_now_ms();
    k->rc = pipeline_profile_answer(&k->f, &k->res, resp->body, resp->len, &k->profile, &k->err);
    if (k->gen != NULL) {
        pipeline_gen_finish(k->gen, NULL, "profile", k->f.account_id, NULL, profile_work,
                            profile_after, k);
        return;
    }
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(k->store, &err);
    int rc = c != NULL ? profile_work(c, k, NULL, &err) : err.code;
    store_release(c);
    profile_after(k, NULL, NULL, rc, &err);
}

void api_user_profile(struct http_req *req)
{
    struct api_ctx *ctx = api_ctx(req);
    const char *igid = http_req_param(req, "instagram_id");
    const char *refresh = http_req_query(req, "refresh");
    if (refresh != NULL && strcmp(refresh, "true") != 0 && strcmp(refresh, "false") != 0) {
        http_reply_error(req, 422, "invalid_field", "?refresh must be true or false");
        return;
    }
    if (igid == NULL || strlen(igid) == 0 || strlen(igid) > 64) {
        http_reply_error(req, 404, "not_found", "user not found");
        return;
    }
    bool force = refresh != NULL && strcmp(refresh, "true") == 0;
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *user = NULL, *answer = NULL;
    struct profile_call *k = dk_calloc(1, sizeof(*k));
    const struct pipeline_ig_config *ig = ctx->http != NULL ? ctx->ig : NULL;
    int rc = store_user_get(c, igid, 0, &user, &err);
    if (rc == 0) {
        rc = pipeline_profile_prepare(c, ig, igid, force, dk_now_ms(), &answer, &k->f, &err);
    }
    store_release(c);
    if (rc == DK_ECONFLICT && k->f.problem != NULL && !force) {
        /* nobody to ask: what is stored, saying why it was not fetched */
        answer = pipeline_profile_json(igid, k->f.stored, k->f.stored_ms, true);
        json_object_set_new(answer, "fetch_error",
                            json_pack("{s:s, s:s}", "code", k->f.problem, "message", err.msg));
        rc = 0;
    } else if (rc == DK_ECONFLICT && k->f.problem != NULL) {
        http_reply_error(req, 409, k->f.problem, "%s", err.msg);
        json_decref(user);
        profile_call_free(k);
        return;
    }
    if (rc != 0 || answer != NULL) {
        if (rc == 0) {
            reply_profile(req, user, answer);
        } else if (rc == DK_EINVAL) { /* the stored token cannot be opened */
            json_decref(user);
            http_reply_error(req, 503, "token_unavailable", "%s", err.msg);
        } else {
            json_decref(user);
            api_fail(req, &err);
        }
        profile_call_free(k);
        return;
    }
    k->req = req;
    k->store = ctx->store;
    k->gen = ctx->gen;
    k->user = user;
    const char *headers[2];
    struct ai_http_req hr;
    pipeline_graph_http_req(&k->f.req, PROFILE_TIMEOUT_MS, headers, &hr);
    hr.on_done = profile_done;
    hr.arg = k;
    http_req_suspend(req);
    ai_http_submit(ctx->http, &hr);
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
