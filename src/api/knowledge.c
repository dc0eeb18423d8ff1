/*
 * api/knowledge: the knowledge base that replies draw their facts from.
 *   GET    /api/v1/knowledge          ?limit ?cursor ?account_id (its entries and the global
 *                                     ones) ?q (substring of question or answer, any case)
 *   POST   /api/v1/knowledge          {answer, question?, kind?, tags?, account_id?, enabled?}
 *   GET    /api/v1/knowledge/{id}
 *   PUT    /api/v1/knowledge/{id}     the fields given replace the stored ones
 *   DELETE /api/v1/knowledge/{id}
 * Bodies are checked against a field table before anything is written: an unknown field, a
 * wrong type, an unknown kind or a text over its limit is 422 and changes nothing.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

#define KB_ANSWER_MAX   8192
#define KB_QUESTION_MAX 2048
#define KB_TAGS_MAX     32
#define KB_TAG_MAX      64
#define KB_QUERY_MAX    256

bool api_account_id_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == ':')) {
            return false;
        }
    }
    return true;
}

static const struct {
    const char *name;
    unsigned bit;
} kb_fields[] = {
    {"account_id", STORE_KB_ACCOUNT}, {"kind", STORE_KB_KIND}, {"question", STORE_KB_QUESTION},
    {"answer", STORE_KB_ANSWER},      {"tags", STORE_KB_TAGS}, {"enabled", STORE_KB_ENABLED},
};

/* Replies 422 with the message; returns false for the caller to return. */
static bool invalid(struct http_req *req, const char *msg)
{
    http_reply_error(req, 422, "invalid_field", "%s", msg);
    return false;
}

/* An optional text: null or "" → NULL; else at most max bytes. */
static bool opt_text(json_t *v, size_t max, const char **out)
{
    if (json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) > max) {
        return false;
    }
    *out = json_string_length(v) > 0 ? json_string_value(v) : NULL;
    return true;
}

static bool valid_tags(json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) > KB_TAGS_MAX) {
        return false;
    }
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            json_string_length(t) > KB_TAG_MAX) {
            return false;
        }
    }
    return true;
}

/* Checks one known field and stores it in k. */
static bool read_field(struct http_req *req, unsigned bit, json_t *v, struct store_knowledge *k,
                       char **tags)
{
    switch (bit) {
    case STORE_KB_ACCOUNT:
        if (!json_is_null(v) && !api_account_id_valid(json_string_value(v))) {
            return invalid(req, "\"account_id\" must be null (every account) or an account id "
                                "of 1-64 letters, digits and _-.:");
        }
        k->account_id = json_string_value(v);
        return true;
    case STORE_KB_KIND: {
        const char *kind = json_string_value(v);
        if (kind == NULL || (strcmp(kind, "faq") != 0 && strcmp(kind, "text") != 0)) {
            return invalid(req, "\"kind\" must be \"faq\" or \"text\"");
        }
        k->kind = kind;
        return true;
    }
    case STORE_KB_QUESTION:
        if (!opt_text(v, KB_QUESTION_MAX, &k->question)) {
            return invalid(req, "\"question\" must be null or a text of at most 2048 bytes");
        }
        return true;
    case STORE_KB_ANSWER:
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > KB_ANSWER_MAX) {
            return invalid(req, "\"answer\" must be a non-empty text of at most 8192 bytes");
        }
        k->answer = json_string_value(v);
        return true;
    case STORE_KB_TAGS:
        if (!valid_tags(v)) {
            return invalid(req, "\"tags\" must be a list of at most 32 texts of 1-64 bytes");
        }
        *tags = dk_json_dump(v);
        k->tags_json = *tags;
        return true;
    default:
        if (!json_is_boolean(v)) {
            return invalid(req, "\"enabled\" must be true or false");
        }
        k->enabled = json_is_true(v);
        return true;
    }
}

/* Reads the body into k and the mask of the fields it names; false after replying. *tags is
 * the tags' text (new, dk_free) when given. */
static bool read_body(struct http_req *req, struct store_knowledge *k, unsigned *fields,
                      char **tags)
{
    json_t *body = http_req_json(req);
    *fields = 0;
    *tags = NULL;
    if (!json_is_object(body)) {
        return invalid(req, "body must be a JSON object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(kb_fields) / sizeof(kb_fields[0]); i++) {
            if (strcmp(key, kb_fields[i].name) == 0) {
                bit = kb_fields[i].bit;
            }
        }
        if (bit == 0) {
            http_reply_error(req, 422, "invalid_field", "unknown field \"%s\"", key);
            dk_free(*tags);
            return false;
        }
        if (!read_field(req, bit, v, k, tags)) {
            dk_free(*tags);
            return false;
        }
        *fields |= bit;
    }
    return true;
}

/* The {id} parameter; replies 404 when it cannot be an entry's id. */
static bool path_id(struct http_req *req, int64_t *id)
{
    const char *s = http_req_param(req, "id");
    char *end = NULL;
    long long v =
        s != NULL && strlen(s) <= 18 && s[0] >= '1' && s[0] <= '9' ? strtoll(s, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v <= 0) {
        http_reply_error(req, 404, "not_found", "knowledge entry not found");
        return false;
    }
    *id = v;
    return true;
}

/* Replies with the outcome of a repository call: status and out (stolen) or the error. */
static void finish(struct http_req *req, int rc, const struct dk_err *err, int status, json_t *out)
{
    if (rc != 0) {
        json_decref(out);
        api_fail(req, err);
        return;
    }
    if (out == NULL) {
        http_reply(req, status, NULL, "", 0);
        return;
    }
    http_reply_json(req, status, out);
}

void api_knowledge_list(struct http_req *req)
{
    int limit;
    const char *cursor;
    if (!api_page_args(req, 50, 200, &limit, &cursor)) {
        return;
    }
    const char *account = http_req_query(req, "account_id");
    if (account != NULL && !api_account_id_valid(account)) {
        http_reply_error(req, 422, "invalid_field",
                         "account_id must be 1-64 letters, digits and _-.:");
        return;
    }
    const char *q = http_req_query(req, "q");
    if (q != NULL && (strlen(q) == 0 || strlen(q) > KB_QUERY_MAX)) {
        http_reply_error(req, 422, "invalid_field", "q must be 1 to %d bytes", KB_QUERY_MAX);
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *items = NULL;
    char *next = NULL;
    int rc = store_knowledge_list(c, account, q, cursor, limit, &items, &next, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

void api_knowledge_create(struct http_req *req)
{
    struct store_knowledge k = {.enabled = true};
    unsigned fields;
    char *tags;
    if (!read_body(req, &k, &fields, &tags)) {
        return;
    }
    if ((fields & STORE_KB_ANSWER) == 0) {
        dk_free(tags);
        invalid(req, "\"answer\" is required");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        dk_free(tags);
        return;
    }
    struct dk_err err = {0};
    json_t *out = NULL;
    int rc = store_knowledge_create(c, &k, dk_now_ms(), &out, &err);
    store_release(c);
    dk_free(tags);
    finish(req, rc, &err, 201, out);
}

void api_knowledge_get(struct http_req *req)
{
    int64_t id;
    struct store_conn *c = path_id(req, &id) ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *out = NULL;
    int rc = store_knowledge_get(c, id, &out, &err);
    store_release(c);
    finish(req, rc, &err, 200, out);
}

void api_knowledge_put(struct http_req *req)
{
    int64_t id;
    if (!path_id(req, &id)) {
        return;
    }
    struct store_knowledge k = {0};
    unsigned fields;
    char *tags;
    if (!read_body(req, &k, &fields, &tags)) {
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        dk_free(tags);
        return;
    }
    /* in a transaction: the row stays locked until its search text matches it */
    struct dk_err err = {0};
    json_t *out = NULL;
    int rc = store_begin(c, &err);
    if (rc == 0) {
        rc = store_knowledge_update(c, id, &k, fields, dk_now_ms(), &out, &err);
    }
    if (rc == 0) {
        rc = store_commit(c, &err);
    }
    if (rc != 0) {
        store_rollback(c);
    }
    store_release(c);
    dk_free(tags);
    finish(req, rc, &err, 200, out);
}

void api_knowledge_delete(struct http_req *req)
{
    int64_t id;
    struct store_conn *c = path_id(req, &id) ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    int rc = store_knowledge_delete(c, id, &err);
    store_release(c);
    finish(req, rc, &err, 204, NULL);
}
