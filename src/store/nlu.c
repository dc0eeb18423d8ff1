/*
 * store/nlu: what the local NLU keeps in the database: the analysis of each message, the
 * business's own intents and examples (built-in intents live in the binary; a row for one of
 * them only records that it was switched off), and the intent models trained from them, kept
 * as base64 text so that both dialects store them the same way.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"

static void fmt_i64(char *out, size_t n, int64_t v)
{
    snprintf(out, n, "%lld", (long long)v);
}

int store_nlu_message_set(struct store_conn *c, const char *id, const struct store_nlu_fields *f,
                          struct dk_err *err)
{
    char conf[32];
    snprintf(conf, sizeof(conf), "%.4f", f->confidence);
    const char *p[] = {id, f->intent, conf, f->sentiment, f->entities_json, f->nlu_json};
    return store_query(c,
                       "UPDATE messages SET intent = $2, ai_confidence = $3, sentiment = $4, "
                       "entities = $5, nlu = $6 WHERE id = $1",
                       6, p, NULL, err);
}

#define INTENT_SPEC "name:s description:s builtin:b enabled:b examples:i created_at:t updated_at:t"
#define INTENT_COLS                                                                                \
    "SELECT i.name, i.description, i.builtin, i.enabled, "                                         \
    "(SELECT COUNT(*) FROM nlu_examples e WHERE e.intent = i.name), i.created_at, i.updated_at "   \
    "FROM nlu_intents i "

int store_nlu_intent_list(struct store_conn *c, json_t **out, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c, INTENT_COLS "ORDER BY i.name", 0, NULL, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i, INTENT_SPEC));
    }
    store_res_free(r);
    return 0;
}

int store_nlu_intent_get(struct store_conn *c, const char *name, json_t **out, struct dk_err *err)
{
    const char *p[] = {name};
    struct store_res *r = NULL;
    int rc = store_query(c, INTENT_COLS "WHERE i.name = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = store_res_rows(r) > 0 ? store_row_json(r, 0, INTENT_SPEC) : NULL;
    store_res_free(r);
    return 0;
}

int store_nlu_intent_put(struct store_conn *c, const char *name, const char *description,
                         bool builtin, bool enabled, int64_t now_ms, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {name, description, builtin ? "1" : "0", enabled ? "1" : "0",
                       store_ts(now_ms, ts)};
    /* booleans travel as 0/1 and are compared, so both dialects read them the same way */
    return store_query(
        c,
        "INSERT INTO nlu_intents (name, description, builtin, enabled, created_at, updated_at) "
        "VALUES ($1, $2, $3 = 1, $4 = 1, $5, $5) ON CONFLICT (name) DO UPDATE SET "
        "description = COALESCE(excluded.description, nlu_intents.description), "
        "enabled = excluded.enabled, updated_at = excluded.updated_at",
        5, p, NULL, err);
}

int store_nlu_intent_delete(struct store_conn *c, const char *name, struct dk_err *err)
{
    const char *p[] = {name};
    int rc = store_query(c, "DELETE FROM nlu_examples WHERE intent = $1", 1, p, NULL, err);
    if (rc == 0) {
        rc = store_query(c, "DELETE FROM nlu_intents WHERE name = $1", 1, p, NULL, err);
    }
    return rc;
}

int store_nlu_example_add(struct store_conn *c, const char *intent, const char *text,
                          int64_t now_ms, json_t **out, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {intent, text, store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO nlu_examples (intent, text, created_at) VALUES ($1, $2, $3) "
                         "ON CONFLICT (intent, text) DO NOTHING RETURNING id, text, created_at",
                         3, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = store_res_rows(r) > 0 ? store_row_json(r, 0, "id:i text:s created_at:t") : NULL;
    store_res_free(r);
    return 0;
}

int store_nlu_example_delete(struct store_conn *c, const char *intent, int64_t id, bool *found,
                             struct dk_err *err)
{
    char ids[24];
    fmt_i64(ids, sizeof(ids), id);
    const char *p[] = {intent, ids};
    struct store_res *r = NULL;
    int rc = store_query(c, "DELETE FROM nlu_examples WHERE intent = $1 AND id = $2 RETURNING id",
                         2, p, &r, err);
    if (rc == 0) {
        *found = store_res_rows(r) > 0;
    }
    store_res_free(r);
    return rc;
}

int store_nlu_example_list(struct store_conn *c, const char *intent, int limit, json_t **out,
                           struct dk_err *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {intent, lim};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, text, created_at FROM nlu_examples WHERE intent = $1 "
                         "ORDER BY id LIMIT $2",
                         2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i, "id:i text:s created_at:t"));
    }
    store_res_free(r);
    return 0;
}

int store_nlu_training_set(struct store_conn *c, json_t **examples, json_t **disabled,
                           struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT e.intent, e.text FROM nlu_examples e JOIN nlu_intents i "
                         "ON i.name = e.intent WHERE i.enabled ORDER BY e.id",
                         0, NULL, &r, err);
    if (rc != 0) {
        return rc;
    }
    *examples = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*examples,
                              json_pack("[ss]", store_res_get(r, i, 1), store_res_get(r, i, 0)));
    }
    store_res_free(r);
    r = NULL;
    rc = store_query(c, "SELECT name FROM nlu_intents WHERE NOT enabled ORDER BY name", 0, NULL, &r,
                     err);
    if (rc != 0) {
        json_decref(*examples);
        *examples = NULL;
        return rc;
    }
    *disabled = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*disabled, json_string(store_res_get(r, i, 0)));
    }
    store_res_free(r);
    return 0;
}

int store_nlu_model_insert(struct store_conn *c, const struct store_nlu_model *m, int64_t *id,
                           struct dk_err *err)
{
    char ts[DK_TIME_LEN], ex[24], lb[24], ms[24];
    fmt_i64(ex, sizeof(ex), m->examples);
    fmt_i64(lb, sizeof(lb), m->labels);
    fmt_i64(ms, sizeof(ms), m->train_ms);
    const char *p[] = {m->task,  m->status,    ex,
                       lb,       m->model_b64, m->metrics_json != NULL ? m->metrics_json : "{}",
                       m->error, ms,           store_ts(m->created_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO nlu_models (task, status, examples, labels, model, metrics, "
                         "error, train_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                         "RETURNING id",
                         9, p, &r, err);
    if (rc == 0 && id != NULL) {
        *id = store_res_int(r, 0, 0, 0);
    }
    store_res_free(r);
    return rc;
}

int store_nlu_model_prune(struct store_conn *c, const char *task, int keep, struct dk_err *err)
{
    char k[16];
    snprintf(k, sizeof(k), "%d", keep);
    const char *p[] = {task, k};
    return store_query(
        c,
        "DELETE FROM nlu_models WHERE task = $1 AND id < (SELECT COALESCE(MIN(id), 0) "
        "FROM (SELECT id FROM nlu_models WHERE task = $1 ORDER BY id DESC LIMIT $2) "
        "AS newest)",
        2, p, NULL, err);
}

int store_nlu_model_latest(struct store_conn *c, const char *task, int64_t *id, char **model_b64,
                           struct dk_err *err)
{
    const char *p[] = {task};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         model_b64 != NULL
                             ? "SELECT id, model FROM nlu_models WHERE task = $1 AND status = "
                               "'ready' ORDER BY id DESC LIMIT 1"
                             : "SELECT id FROM nlu_models WHERE task = $1 AND status = 'ready' "
                               "ORDER BY id DESC LIMIT 1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *id = store_res_rows(r) > 0 ? store_res_int(r, 0, 0, 0) : 0;
    if (model_b64 != NULL) {
        const char *v = store_res_rows(r) > 0 ? store_res_get(r, 0, 1) : NULL;
        *model_b64 = v != NULL ? dk_strdup(v) : NULL;
    }
    store_res_free(r);
    return 0;
}

int store_nlu_model_status(struct store_conn *c, const char *task, json_t **out, struct dk_err *err)
{
    const char *p[] = {task};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, status, examples, labels, metrics, error, train_ms, "
                         "created_at FROM nlu_models WHERE task = $1 ORDER BY id DESC LIMIT 1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = store_res_rows(r) > 0 ? store_row_json(r, 0,
                                                  "version:i status:s examples:i labels:i "
                                                  "metrics:j error:s train_ms:i trained_at:t")
                                 : NULL;
    store_res_free(r);
    return 0;
}
