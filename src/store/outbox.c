/*
 * store/outbox: bot and operator messages on their way to Instagram, and the conversation
 * controls the sender obeys. A message goes pending_send → sending (the attempt is recorded
 * before the Graph call) → sent / failed / skipped, or back to pending_send to retry; every
 * move is guarded by the status it leaves, so a late answer never undoes a newer state.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

void store_outbox_msg_clear(struct store_outbox_msg *m)
{
    dk_free(m->content);
    dk_free(m->metadata);
    memset(m, 0, sizeof(*m));
}

static void copy_col(char *dst, size_t size, const struct store_res *r, size_t col)
{
    const char *v = store_res_get(r, 0, col);
    snprintf(dst, size, "%s", v != NULL ? v : "");
}

int store_outbox_next(struct store_conn *c, const char *conversation_id,
                      struct store_outbox_msg *out, bool *found, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    *found = false;
    const char *p[] = {conversation_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT m.id, m.sender_type, m.message_type, m.status, u.instagram_id, "
                         "m.content, m.metadata, m.created_at FROM messages m "
                         "JOIN conversations c ON c.id = m.conversation_id "
                         "JOIN users u ON u.id = c.user_id "
                         "WHERE m.conversation_id = $1 AND m.status IN ('pending_send', 'sending') "
                         "ORDER BY m.created_at, m.id LIMIT 1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 1) {
        *found = true;
        copy_col(out->id, sizeof(out->id), r, 0);
        copy_col(out->sender_type, sizeof(out->sender_type), r, 1);
        copy_col(out->message_type, sizeof(out->message_type), r, 2);
        copy_col(out->status, sizeof(out->status), r, 3);
        copy_col(out->recipient, sizeof(out->recipient), r, 4);
        const char *content = store_res_get(r, 0, 5);
        out->content = content != NULL ? dk_strdup(content) : NULL;
        const char *meta = store_res_get(r, 0, 6);
        out->metadata = dk_strdup(meta != NULL ? meta : "{}");
        const char *ts = store_res_get(r, 0, 7);
        if (ts == NULL || dk_time_parse(ts, &out->created_ms) != 0) {
            out->created_ms = 0;
        }
    }
    store_res_free(r);
    return 0;
}

static int affected(struct store_conn *c, const char *sql, int n, const char *const *p,
                    bool *updated, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c, sql, n, p, &r, err);
    if (rc == 0 && updated != NULL) {
        *updated = store_res_affected(r) > 0;
    }
    store_res_free(r);
    return rc;
}

int store_outbox_set(struct store_conn *c, const char *id, const char *from, const char *to,
                     const char *reason, const char *metadata_json, const char *mid, bool *updated,
                     struct dk_err *err)
{
    const char *p[] = {id, from, to, reason, metadata_json, mid};
    /* a mid already on another message (an echo stored before this answer) is not taken */
    return affected(
        c,
        "UPDATE messages SET status = $3, status_reason = $4, "
        "metadata = COALESCE($5, metadata), "
        "instagram_mid = CASE WHEN CAST($6 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM messages o "
        "WHERE o.instagram_mid = $6 AND o.id <> $1) THEN instagram_mid ELSE $6 END "
        "WHERE id = $1 AND status = $2",
        6, p, updated, err);
}

int store_outbox_set_content(struct store_conn *c, const char *id, const char *content,
                             struct dk_err *err)
{
    const char *p[] = {id, content};
    return affected(c, "UPDATE messages SET content = $2 WHERE id = $1", 2, p, NULL, err);
}

int store_outbox_reconcile_echo(struct store_conn *c, const char *conversation_id, const char *mid,
                                const char *text, bool *matched, struct dk_err *err)
{
    const char *p[] = {conversation_id, mid, text};
    return affected(c,
                    "UPDATE messages SET instagram_mid = $2, status = 'sent', status_reason = NULL "
                    "WHERE id = (SELECT id FROM messages WHERE conversation_id = $1 "
                    "AND status = 'sending' AND instagram_mid IS NULL "
                    "AND sender_type IN ('bot', 'agent') AND (content = $3 OR $3 IS NULL) "
                    "ORDER BY created_at, id LIMIT 1) "
                    "AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.instagram_mid = $2)",
                    3, p, matched, err);
}

int store_outbox_waiting(struct store_conn *c, const char *account_id, json_t **ids,
                         struct dk_err *err)
{
    const char *p[] = {account_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT DISTINCT m.conversation_id FROM messages m "
                         "JOIN conversations c ON c.id = m.conversation_id "
                         "WHERE c.account_id = $1 AND m.status = 'pending_send'",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *ids = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*ids, json_string(store_res_get(r, i, 0)));
    }
    store_res_free(r);
    return 0;
}

static int count_into(struct store_conn *c, const char *sql, const char *account_id, json_t *obj,
                      struct dk_err *err)
{
    const char *p[] = {account_id};
    struct store_res *r = NULL;
    int rc = store_query(c, sql, 1, p, &r, err);
    for (size_t i = 0; rc == 0 && i < store_res_rows(r); i++) {
        const char *k = store_res_get(r, i, 0);
        json_object_set_new(obj, k != NULL ? k : "unknown",
                            json_integer(store_res_int(r, i, 1, 0)));
    }
    store_res_free(r);
    return rc;
}

int store_outbox_stats(struct store_conn *c, const char *account_id, json_t **out,
                       struct dk_err *err)
{
    json_t *by_status = json_object();
    json_t *by_rule = json_object();
    int rc = count_into(c,
                        "SELECT m.status, COUNT(*) FROM messages m "
                        "JOIN conversations c ON c.id = m.conversation_id "
                        "WHERE m.sender_type IN ('bot', 'agent') "
                        "AND (CAST($1 AS TEXT) IS NULL OR c.account_id = $1) GROUP BY m.status",
                        account_id, by_status, err);
    if (rc == 0) {
        rc = count_into(
            c,
            "SELECT m.metadata->'policy'->>'rule', COUNT(*) FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.status = 'skipped' AND (CAST($1 AS TEXT) IS NULL OR c.account_id = $1) "
            "GROUP BY 1",
            account_id, by_rule, err);
    }
    if (rc != 0) {
        json_decref(by_status);
        json_decref(by_rule);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "by_status", by_status, "refused_by_rule", by_rule);
    return 0;
}

int store_message_set_feedback(struct store_conn *c, const char *mid, const char *feedback_json,
                               bool *found, struct dk_err *err)
{
    const char *p[] = {mid};
    struct store_res *r = NULL;
    int rc =
        store_query(c, "SELECT id, metadata FROM messages WHERE instagram_mid = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *found = store_res_rows(r) == 1;
    if (*found) {
        json_t *meta = json_loads(store_res_get(r, 0, 1), 0, NULL);
        if (!json_is_object(meta)) {
            json_decref(meta);
            meta = json_object();
        }
        json_t *fb = feedback_json != NULL ? json_loads(feedback_json, 0, NULL) : NULL;
        if (fb != NULL) {
            json_object_set_new(meta, "feedback", fb);
        } else {
            json_object_del(meta, "feedback");
        }
        char *text = dk_json_dump(meta);
        json_decref(meta);
        const char *u[] = {store_res_get(r, 0, 0), text};
        rc = affected(c, "UPDATE messages SET metadata = $2 WHERE id = $1", 2, u, NULL, err);
        dk_free(text);
    }
    store_res_free(r);
    return rc;
}

static int update_conv(struct store_conn *c, const char *sql, const char *id, const char *value,
                       int64_t now_ms, struct dk_err *err)
{
    if (!store_is_uuid(id)) {
        return dk_err_set(err, DK_ENOTFOUND, "conversation not found");
    }
    char ts[DK_TIME_LEN];
    const char *p[] = {id, value, store_ts(now_ms, ts)};
    bool updated = false;
    int rc = affected(c, sql, 3, p, &updated, err);
    if (rc == 0 && !updated) {
        return dk_err_set(err, DK_ENOTFOUND, "conversation %s not found", id);
    }
    return rc;
}

int store_conversation_pause(struct store_conn *c, const char *id, int64_t until_ms, int64_t now_ms,
                             struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    return update_conv(c,
                       "UPDATE conversations SET bot_paused_until = $2, updated_at = $3 "
                       "WHERE id = $1",
                       id, until_ms > 0 ? store_ts(until_ms, ts) : NULL, now_ms, err);
}

int store_conversation_set_status(struct store_conn *c, const char *id, const char *status,
                                  int64_t now_ms, struct dk_err *err)
{
    return update_conv(c, "UPDATE conversations SET status = $2, updated_at = $3 WHERE id = $1", id,
                       status, now_ms, err);
}
