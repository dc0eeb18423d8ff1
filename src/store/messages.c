/* store/messages: the messages of conversations, deduplicated by Instagram mid. */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"

int store_message_insert(struct store_conn *c, struct store_message *m, bool *inserted,
                         struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    dk_uuid_v7(m->id);
    const char *p[] = {m->id,
                       m->conversation_id,
                       m->instagram_mid,
                       m->sender_type,
                       m->message_type != NULL ? m->message_type : "text",
                       m->content,
                       m->metadata != NULL ? m->metadata : "{}",
                       m->status != NULL ? m->status : "received",
                       m->reply_to_mid,
                       m->intent,
                       store_ts(m->created_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO messages (id, conversation_id, instagram_mid, sender_type, "
                         "message_type, content, metadata, status, reply_to_mid, intent, "
                         "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                         "ON CONFLICT (instagram_mid) DO NOTHING",
                         11, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *inserted = store_res_affected(r) > 0;
    store_res_free(r);
    return 0;
}

int store_message_claim_unanswered(struct store_conn *c, const char *conversation_id, json_t **out,
                                   struct dk_err *err)
{
    const char *p[] = {conversation_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE messages SET status = 'processed' WHERE conversation_id = $1 "
                         "AND status = 'received' AND sender_type = 'user' "
                         "RETURNING id, content, message_type, created_at, metadata",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    /* RETURNING has no order: sort oldest first by (created_at, id) */
    size_t n = store_res_rows(r);
    size_t *idx = dk_malloc((n + 1) * sizeof(*idx));
    int64_t *when = dk_malloc((n + 1) * sizeof(*when));
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
        if (dk_time_parse(store_res_get(r, i, 3), &when[i]) != 0) {
            when[i] = 0;
        }
    }
    for (size_t i = 1; i < n; i++) {
        size_t k = idx[i];
        size_t j = i;
        while (j > 0) {
            size_t prev = idx[j - 1];
            int cmp = when[prev] != when[k]
                          ? (when[prev] > when[k] ? 1 : -1)
                          : strcmp(store_res_get(r, prev, 0), store_res_get(r, k, 0));
            if (cmp <= 0) {
                break;
            }
            idx[j] = prev;
            j--;
        }
        idx[j] = k;
    }
    *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            *out,
            store_row_json(r, idx[i], "id:s content:s message_type:s created_at:t metadata:j"));
    }
    dk_free(idx);
    dk_free(when);
    store_res_free(r);
    return 0;
}

static int update_by_mid(struct store_conn *c, const char *sql, int n, const char *const *p,
                         bool *found, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c, sql, n, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *found = store_res_affected(r) > 0;
    store_res_free(r);
    return 0;
}

int store_message_apply_edit(struct store_conn *c, const char *mid, const char *text, int64_t at_ms,
                             bool *found, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {mid, text, store_ts(at_ms, ts)};
    return update_by_mid(
        c,
        "UPDATE messages SET content = $2, edited_at = $3 WHERE instagram_mid = $1 "
        "AND (edited_at IS NULL OR edited_at < $3)",
        3, p, found, err);
}

int store_message_mark_deleted(struct store_conn *c, const char *mid, int64_t at_ms, bool *found,
                               struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {mid, store_ts(at_ms, ts)};
    return update_by_mid(c,
                         "UPDATE messages SET deleted_at = $2 WHERE instagram_mid = $1 "
                         "AND deleted_at IS NULL",
                         2, p, found, err);
}

int store_message_conversation(struct store_conn *c, const char *mid, char conv_out[STORE_ID_LEN],
                               struct dk_err *err)
{
    const char *p[] = {mid};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT conversation_id FROM messages WHERE instagram_mid = $1", 1, p,
                         &r, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = store_res_get(r, 0, 0);
    if (v == NULL) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "message not found");
    }
    snprintf(conv_out, STORE_ID_LEN, "%s", v);
    store_res_free(r);
    return 0;
}

#define MSG_COLS                                                                                   \
    "SELECT m.id, m.conversation_id, m.instagram_mid, m.sender_type, m.message_type, m.content, "  \
    "m.metadata, m.intent, m.sentiment, m.ai_confidence, m.status, m.status_reason, "              \
    "m.reply_to_mid, m.edited_at, m.deleted_at, m.created_at, m.entities, m.nlu FROM messages m "
#define MSG_SPEC                                                                                   \
    "id:s conversation_id:s instagram_mid:s sender_type:s message_type:s content:s metadata:j "    \
    "intent:s sentiment:s ai_confidence:f status:s status_reason:s reply_to_mid:s edited_at:t "    \
    "deleted_at:t created_at:t entities:j nlu:j"

static int history(struct store_conn *c, const char *sql, const char *key, const char *cursor,
                   int limit, json_t **out, char **next_cursor, struct dk_err *err)
{
    char *cts = NULL, *cid = NULL;
    if (cursor != NULL) {
        int rc = store_cursor_parse(cursor, &cts, &cid, err);
        if (rc != 0) {
            return rc;
        }
    }
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {key, cts, cid, lim};
    struct store_res *r = NULL;
    int rc = store_query(c, sql, 4, p, &r, err);
    dk_free(cts);
    dk_free(cid);
    if (rc != 0) {
        return rc;
    }
    *out = store_page(r, limit, MSG_SPEC, 15, next_cursor);
    store_res_free(r);
    return 0;
}

int store_message_history(struct store_conn *c, const char *conversation_id, const char *cursor,
                          int limit, json_t **out, char **next_cursor, struct dk_err *err)
{
    return history(c,
                   MSG_COLS "WHERE m.conversation_id = $1 AND (m.created_at < $2 "
                            "OR (m.created_at = $2 AND m.id < $3) OR $2 IS NULL) "
                            "ORDER BY m.created_at DESC, m.id DESC LIMIT $4",
                   conversation_id, cursor, limit, out, next_cursor, err);
}

int store_message_history_by_user(struct store_conn *c, int64_t user_id, const char *cursor,
                                  int limit, json_t **out, char **next_cursor, struct dk_err *err)
{
    char uid[24];
    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    return history(c,
                   MSG_COLS "JOIN conversations c ON c.id = m.conversation_id "
                            "WHERE c.user_id = $1 AND (m.created_at < $2 "
                            "OR (m.created_at = $2 AND m.id < $3) OR $2 IS NULL) "
                            "ORDER BY m.created_at DESC, m.id DESC LIMIT $4",
                   uid, cursor, limit, out, next_cursor, err);
}

int store_message_event_insert(struct store_conn *c, const char *dedupe_key,
                               const char *conversation_id, const char *mid, const char *kind,
                               const char *data_json, int64_t occurred_ms, bool *inserted,
                               struct dk_err *err)
{
    char ts[DK_TIME_LEN], now[DK_TIME_LEN];
    const char *p[] = {dedupe_key,
                       conversation_id,
                       mid,
                       kind,
                       data_json != NULL ? data_json : "{}",
                       occurred_ms > 0 ? store_ts(occurred_ms, ts) : NULL,
                       store_ts(dk_now_ms(), now)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO message_events (dedupe_key, conversation_id, message_mid, "
                         "kind, data, occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                         "ON CONFLICT (dedupe_key) DO NOTHING",
                         7, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *inserted = store_res_affected(r) > 0;
    store_res_free(r);
    return 0;
}

int store_message_event_list(struct store_conn *c, const char *conversation_id, json_t **out,
                             struct dk_err *err)
{
    const char *p[] = {conversation_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, kind, message_mid, data, occurred_at, created_at "
                         "FROM message_events WHERE conversation_id = $1 ORDER BY id",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(
            *out, store_row_json(r, i, "id:s kind:s mid:s data:j occurred_at:t created_at:t"));
    }
    store_res_free(r);
    return 0;
}
