/*
 * api/intents: the business's intents and examples for the local intent model.
 *   GET    /api/v1/ai/intents                       built-in and own intents, model status
 *   POST   /api/v1/ai/intents                       {name, description?, examples?}
 *   GET    /api/v1/ai/intents/{name}                one intent with its own examples
 *   DELETE /api/v1/ai/intents/{name}                own intent: deleted; built-in: switched off
 *   POST   /api/v1/ai/intents/{name}/examples       {examples: [text, …]} or {text}
 *   DELETE /api/v1/ai/intents/{name}/examples/{id}
 * Every change queues one retraining job in the same transaction; the new model version
 * replaces the old one atomically when it is ready (pipeline/understand.c).
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

#define MAX_EXAMPLES_PER_REQUEST 1000
#define MAX_EXAMPLE_BYTES        2048
#define MAX_EXAMPLES_LISTED      1000

static bool valid_name(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 64 || !(s[0] >= 'a' && s[0] <= 'z') || strcmp(s, NLU_OOS_LABEL) == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
            return false;
        }
    }
    return true;
}

static size_t builtin_count(const char *name)
{
    const struct nlu_dataset *d = nlu_default_intent_examples();
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        n += strcmp(d->v[i].label, name) == 0;
    }
    return n;
}

/* {name, description, builtin, enabled, examples: {builtin, custom}} from a row (may be NULL)
 * and the built-in examples (new). */
static json_t *intent_json(const char *name, json_t *row)
{
    size_t nb = builtin_count(name);
    json_t *enabled = json_object_get(row, "enabled");
    return json_pack("{s:s, s:O, s:b, s:b, s:{s:I, s:I}}", "name", name, "description",
                     row != NULL ? json_object_get(row, "description") : json_null(), "builtin",
                     nb > 0, "enabled", enabled == NULL || json_is_true(enabled), "examples",
                     "builtin", (json_int_t)nb, "custom",
                     json_integer_value(json_object_get(row, "examples")));
}

static json_t *find_row(json_t *rows, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(dk_json_str(r, "name"), name) == 0) {
            return r;
        }
    }
    return NULL;
}

void api_intents_list(struct http_req *req)
{
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *rows = NULL, *model = NULL;
    int rc = store_nlu_intent_list(c, &rows, &err);
    if (rc == 0) {
        rc = store_nlu_model_status(c, "intent", &model, &err);
    }
    store_release(c);
    if (rc != 0) {
        json_decref(rows);
        api_fail(req, &err);
        return;
    }
    /* built-in intents in the order of their examples, then the business's own */
    json_t *data = json_array();
    const struct nlu_dataset *d = nlu_default_intent_examples();
    for (size_t i = 0; i < d->n; i++) {
        if (find_row(data, d->v[i].label) == NULL) {
            json_array_append_new(data, intent_json(d->v[i].label, find_row(rows, d->v[i].label)));
        }
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (find_row(data, dk_json_str(r, "name")) == NULL) {
            json_array_append_new(data, intent_json(dk_json_str(r, "name"), r));
        }
    }
    json_decref(rows);
    if (model == NULL) {
        model = json_pack("{s:i, s:s}", "version", 0, "status", "built-in");
    }
    http_reply_json(req, 200, json_pack("{s:o, s:o}", "data", data, "model", model));
}

/* Validates the examples of a request ({examples: [...]} or {text}); NULL after replying. */
static json_t *request_examples(struct http_req *req, json_t *body, bool required)
{
    json_t *list = json_object_get(body, "examples");
    json_t *text = json_object_get(body, "text");
    json_t *out = json_array();
    if (list == NULL && text != NULL) {
        json_array_append(out, text);
    } else if (list != NULL && !json_is_array(list)) {
        json_decref(out);
        http_reply_error(req, 422, "invalid_field", "\"examples\" must be a list of texts");
        return NULL;
    } else if (list != NULL) {
        json_array_extend(out, list);
    }
    if (required && json_array_size(out) == 0) {
        json_decref(out);
        http_reply_error(req, 422, "invalid_field", "\"examples\" (or \"text\") is required");
        return NULL;
    }
    if (json_array_size(out) > MAX_EXAMPLES_PER_REQUEST) {
        json_decref(out);
        http_reply_error(req, 422, "invalid_field", "at most %d examples per request",
                         MAX_EXAMPLES_PER_REQUEST);
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e)
    {
        size_t n = json_string_length(e);
        if (!json_is_string(e) || n == 0 || n > MAX_EXAMPLE_BYTES ||
            nlu_utf8_check(json_string_value(e), n, NULL) != 0) {
            json_decref(out);
            http_reply_error(req, 422, "invalid_field",
                             "examples[%zu] must be a non-empty text of at most %d bytes", i,
                             MAX_EXAMPLE_BYTES);
            return NULL;
        }
    }
    return out;
}

/* Adds examples to intent name inside the open transaction; counts what was new. */
static int add_examples(struct store_conn *c, const char *name, json_t *examples, json_t *added,
                        struct dk_err *err)
{
    int64_t now = dk_now_ms();
    size_t i;
    json_t *e;
    json_array_foreach(examples, i, e)
    {
        json_t *row = NULL;
        int rc = store_nlu_example_add(c, name, json_string_value(e), now, &row, err);
        if (rc != 0) {
            return rc;
        }
        if (row != NULL) {
            json_array_append_new(added, row);
        }
    }
    return 0;
}

/* Runs the change in one transaction with a retraining queued; replies with status and
 * reply (stolen) on success. */
static void commit_change(struct http_req *req, struct store_conn *c, int rc, struct dk_err *err,
                          int status, json_t *reply)
{
    if (rc == 0) {
        rc = pipeline_nlu_schedule_retrain(c, err);
    }
    if (rc == 0) {
        rc = store_commit(c, err);
    }
    if (rc != 0) {
        store_rollback(c);
        store_release(c);
        json_decref(reply);
        api_fail(req, err);
        return;
    }
    store_release(c);
    if (reply == NULL) {
        http_reply(req, status, NULL, "", 0);
        return;
    }
    json_object_set_new(reply, "retraining", json_true());
    http_reply_json(req, status, reply);
}

/* A connection with a transaction open; NULL after replying. */
static struct store_conn *begin(struct http_req *req)
{
    struct store_conn *c = api_conn(req);
    struct dk_err err = {0};
    if (c != NULL && store_begin(c, &err) != 0) {
        store_release(c);
        api_fail(req, &err);
        return NULL;
    }
    return c;
}

/* What is known of an intent: built in, has a row, switched on. */
struct intent_state {
    bool builtin;
    bool row;
    bool enabled;
};

static int lookup(struct store_conn *c, const char *name, struct intent_state *st,
                  struct dk_err *err)
{
    json_t *row = NULL;
    int rc = store_nlu_intent_get(c, name, &row, err);
    st->builtin = builtin_count(name) > 0;
    st->row = row != NULL;
    st->enabled = row != NULL ? json_is_true(json_object_get(row, "enabled")) : st->builtin;
    json_decref(row);
    return rc;
}

/* Rolls back, releases c and replies with an error. */
static void refuse(struct http_req *req, struct store_conn *c, int status, const char *code,
                   const char *what, const char *name)
{
    store_rollback(c);
    store_release(c);
    http_reply_error(req, status, code, "intent \"%s\" %s", name, what);
}

/* Examples of the request and a connection in a transaction; false after replying. */
static bool start_change(struct http_req *req, json_t *body, bool required, json_t **examples,
                         struct store_conn **c)
{
    *examples = request_examples(req, body, required);
    if (*examples == NULL) {
        return false;
    }
    *c = begin(req);
    if (*c == NULL) {
        json_decref(*examples);
        return false;
    }
    return true;
}

void api_intent_create(struct http_req *req)
{
    json_t *body = http_req_json(req);
    const char *name = dk_json_str(body, "name");
    json_t *desc = json_object_get(body, "description");
    if (!json_is_object(body) || !valid_name(name)) {
        http_reply_error(req, 422, "invalid_field",
                         "\"name\" must be 1-64 characters of a-z, 0-9 and _, starting with a "
                         "letter (and not \"oos\")");
        return;
    }
    if (desc != NULL && (!json_is_string(desc) || json_string_length(desc) > 1000)) {
        http_reply_error(req, 422, "invalid_field",
                         "\"description\" must be a text of at most "
                         "1000 bytes");
        return;
    }
    json_t *examples = NULL;
    struct store_conn *c = NULL;
    if (!start_change(req, body, false, &examples, &c)) {
        return;
    }
    struct dk_err err = {0};
    struct intent_state st;
    int rc = lookup(c, name, &st, &err);
    if (rc == 0 && st.enabled) {
        json_decref(examples);
        refuse(req, c, 409, "conflict", "exists", name);
        return;
    }
    json_t *added = json_array();
    if (rc == 0) {
        rc = store_nlu_intent_put(c, name, json_string_value(desc), st.builtin, true, dk_now_ms(),
                                  &err);
    }
    if (rc == 0) {
        rc = add_examples(c, name, examples, added, &err);
    }
    json_t *row = NULL;
    if (rc == 0) {
        rc = store_nlu_intent_get(c, name, &row, &err);
    }
    json_t *reply = rc == 0 ? intent_json(name, row) : NULL;
    json_decref(row);
    if (reply != NULL) {
        json_object_set_new(reply, "added", added);
    } else {
        json_decref(added);
    }
    json_decref(examples);
    commit_change(req, c, rc, &err, 201, reply);
}

/* {name} of the path, validated; NULL after replying 404. */
static const char *path_name(struct http_req *req)
{
    const char *name = http_req_param(req, "name");
    if (!valid_name(name)) {
        http_reply_error(req, 404, "not_found", "intent not found");
        return NULL;
    }
    return name;
}

void api_intent_get(struct http_req *req)
{
    const char *name = path_name(req);
    struct store_conn *c = name != NULL ? api_conn(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *row = NULL, *examples = NULL;
    int rc = store_nlu_intent_get(c, name, &row, &err);
    if (rc == 0) {
        rc = store_nlu_example_list(c, name, MAX_EXAMPLES_LISTED, &examples, &err);
    }
    store_release(c);
    if (rc != 0) {
        json_decref(row);
        api_fail(req, &err);
        return;
    }
    if (row == NULL && builtin_count(name) == 0) {
        json_decref(examples);
        http_reply_error(req, 404, "not_found", "intent \"%s\" not found", name);
        return;
    }
    json_t *out = intent_json(name, row);
    json_object_set_new(out, "custom_examples", examples);
    json_decref(row);
    http_reply_json(req, 200, out);
}

void api_intent_delete(struct http_req *req)
{
    const char *name = path_name(req);
    struct store_conn *c = name != NULL ? begin(req) : NULL;
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    struct intent_state st;
    int rc = lookup(c, name, &st, &err);
    if (rc == 0 && !st.enabled) {
        refuse(req, c, 404, "not_found", "not found", name);
        return;
    }
    if (rc == 0) {
        /* a built-in intent is switched off (its own examples stay for when it comes back) */
        rc = st.builtin ? store_nlu_intent_put(c, name, NULL, true, false, dk_now_ms(), &err)
                        : store_nlu_intent_delete(c, name, &err);
    }
    commit_change(req, c, rc, &err, 204, NULL);
}

void api_intent_examples_add(struct http_req *req)
{
    const char *name = path_name(req);
    if (name == NULL) {
        return;
    }
    json_t *body = http_req_json(req);
    if (!json_is_object(body)) {
        http_reply_error(req, 422, "invalid_field", "body must be an object with \"examples\"");
        return;
    }
    json_t *examples = NULL;
    struct store_conn *c = NULL;
    if (!start_change(req, body, true, &examples, &c)) {
        return;
    }
    struct dk_err err = {0};
    struct intent_state st;
    int rc = lookup(c, name, &st, &err);
    if (rc == 0 && (!st.enabled || !(st.row || st.builtin))) {
        json_decref(examples);
        bool known = st.row || st.builtin;
        refuse(req, c, known ? 409 : 404, known ? "conflict" : "not_found",
               known ? "is switched off" : "not found", name);
        return;
    }
    if (rc == 0 && !st.row) {
        /* the first own example of a built-in intent */
        rc = store_nlu_intent_put(c, name, NULL, true, true, dk_now_ms(), &err);
    }
    json_t *added = json_array();
    if (rc == 0) {
        rc = add_examples(c, name, examples, added, &err);
    }
    json_t *reply = json_pack("{s:s, s:I, s:I, s:o}", "intent", name, "added",
                              (json_int_t)json_array_size(added), "duplicates",
                              (json_int_t)(json_array_size(examples) - json_array_size(added)),
                              "examples", added);
    json_decref(examples);
    commit_change(req, c, rc, &err, 201, reply);
}

void api_intent_example_delete(struct http_req *req)
{
    const char *name = path_name(req);
    if (name == NULL) {
        return;
    }
    const char *ids = http_req_param(req, "id");
    char *end = NULL;
    long long id = ids != NULL && strlen(ids) <= 18 ? strtoll(ids, &end, 10) : 0;
    if (end == NULL || *end != '\0' || id <= 0) {
        http_reply_error(req, 404, "not_found", "example not found");
        return;
    }
    struct store_conn *c = begin(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    bool found = false;
    int rc = store_nlu_example_delete(c, name, id, &found, &err);
    if (rc == 0 && !found) {
        store_rollback(c);
        store_release(c);
        http_reply_error(req, 404, "not_found", "example %lld of intent \"%s\" not found", id,
                         name);
        return;
    }
    commit_change(req, c, rc, &err, 204, NULL);
}
