/* api/common: what every handler shares: the context, a connection, paging, errors, auth. */
#include "api/api.h"

#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"
#include "store/repo.h"

struct api_ctx *api_ctx(const struct http_req *req)
{
    return http_req_app(req);
}

struct store_conn *api_conn(struct http_req *req)
{
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(api_ctx(req)->store, &err);
    if (c == NULL) {
        http_reply_header(req, "Retry-After", "1");
        http_reply_error(req, 503, "unavailable", "database unavailable: %s", err.msg);
    }
    return c;
}

const char *api_conversation_param(struct http_req *req)
{
    const char *id = http_req_param(req, "id");
    if (!store_is_uuid(id)) {
        http_reply_error(req, 404, "not_found", "conversation not found");
        return NULL;
    }
    return id;
}

void api_fail(struct http_req *req, const struct dk_err *err)
{
    if (err->code == 0) {
        http_reply_error(req, 500, "internal", "internal error");
        return;
    }
    if (err->code == DK_EUNAVAIL) {
        http_reply_header(req, "Retry-After", "1");
    }
    http_reply_err(req, err);
}

bool api_page_args(struct http_req *req, int dflt, int max, int *limit, const char **cursor)
{
    struct dk_err err = {0};
    int64_t v;
    if (http_query_int(req, "limit", dflt, 1, max, &v, &err) != 0) {
        http_reply_err(req, &err);
        return false;
    }
    *limit = (int)v;
    *cursor = http_req_query(req, "cursor");
    if (*cursor != NULL && (**cursor == '\0' || strlen(*cursor) > 128)) {
        http_reply_error(req, 422, "invalid_field", "invalid cursor");
        return false;
    }
    return true;
}

void api_reply_page(struct http_req *req, json_t *items, char *next)
{
    json_t *o = json_object();
    json_object_set_new(o, "data", items);
    json_object_set_new(o, "next_cursor", next != NULL ? json_string(next) : json_null());
    dk_free(next);
    http_reply_json(req, 200, o);
}

int api_auth(void *ctx, const char *token)
{
    struct api_ctx *a = ctx;
    size_t n = strlen(token);
    if (n == 0 || n > 256) {
        return DK_EAUTH;
    }
    char sha[DK_SHA256_HEX];
    dk_sha256_hex(token, n, sha);
    if (a->static_token_sha256 != NULL &&
        dk_ct_equal(sha, strlen(sha), a->static_token_sha256, strlen(a->static_token_sha256))) {
        return 0;
    }
    /* stored tokens are looked up by their hash: the secret itself never reaches the database */
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(a->store, &err);
    if (c == NULL) {
        return DK_EUNAVAIL;
    }
    int rc = store_token_check(c, sha, &err);
    store_release(c);
    return rc == 0 ? 0 : (rc == DK_EAUTH ? DK_EAUTH : DK_EUNAVAIL);
}
