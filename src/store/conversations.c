/* store/conversations: one conversation per customer and business account. */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"

static int select_conversation(struct store_conn *c, const char *uid, const char *account_id,
                               char id_out[STORE_ID_LEN], bool *found, struct dk_err *err)
{
    const char *p[] = {uid, account_id};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT id FROM conversations WHERE user_id = $1 AND account_id = $2",
                         2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = store_res_get(r, 0, 0);
    *found = v != NULL;
    if (v != NULL) {
        snprintf(id_out, STORE_ID_LEN, "%s", v);
    }
    store_res_free(r);
    return 0;
}

int store_conversation_ensure(struct store_conn *c, int64_t user_id, const char *account_id,
                              int64_t now_ms, char id_out[STORE_ID_LEN], bool *created,
                              struct dk_err *err)
{
    char uid[24];
    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    bool found;
    *created = false;
    int rc = select_conversation(c, uid, account_id, id_out, &found, err);
    if (rc != 0 || found) {
        return rc;
    }
    char id[STORE_ID_LEN], ts[DK_TIME_LEN];
    dk_uuid_v7(id);
    const char *p[] = {id, uid, account_id, store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    rc = store_query(c,
                     "INSERT INTO conversations (id, user_id, account_id, created_at, updated_at) "
                     "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (user_id, account_id) DO NOTHING",
                     4, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *created = store_res_affected(r) > 0;
    store_res_free(r);
    if (*created) {
        memcpy(id_out, id, STORE_ID_LEN);
        return 0;
    }
    rc = select_conversation(c, uid, account_id, id_out, &found, err);
    if (rc == 0 && !found) {
        return dk_err_set(err, DK_EINTERNAL, "could not create conversation");
    }
    return rc;
}

int store_conversation_find(struct store_conn *c, const char *instagram_id, const char *account_id,
                            int64_t *user_id, char conv_out[STORE_ID_LEN], struct dk_err *err)
{
    const char *p[] = {instagram_id, account_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT u.id, c.id FROM users u LEFT JOIN conversations c "
                         "ON c.user_id = u.id AND c.account_id = $2 WHERE u.instagram_id = $1",
                         2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *user_id = store_res_int(r, 0, 0, 0);
    const char *conv = store_res_get(r, 0, 1);
    snprintf(conv_out, STORE_ID_LEN, "%s", conv != NULL ? conv : "");
    store_res_free(r);
    return 0;
}

void store_conversation_clear(struct store_conversation *conv)
{
    dk_free(conv->context);
    dk_free(conv->assigned_to);
    conv->context = NULL;
    conv->assigned_to = NULL;
}

int store_conversation_load(struct store_conn *c, const char *id, struct store_conversation *out,
                            struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *p[] = {id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT c.id, c.user_id, c.account_id, c.status, c.context, "
                         "c.assigned_to, c.bot_paused_until, c.last_user_message_at, "
                         "u.instagram_id FROM conversations c JOIN users u ON u.id = c.user_id "
                         "WHERE c.id = $1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "conversation %s not found", id);
    }
    snprintf(out->id, sizeof(out->id), "%s", store_res_get(r, 0, 0));
    out->user_id = store_res_int(r, 0, 1, 0);
    snprintf(out->account_id, sizeof(out->account_id), "%s", store_res_get(r, 0, 2));
    snprintf(out->status, sizeof(out->status), "%s", store_res_get(r, 0, 3));
    const char *ctx = store_res_get(r, 0, 4);
    out->context = dk_strdup(ctx != NULL ? ctx : "{}");
    const char *as = store_res_get(r, 0, 5);
    out->assigned_to = as != NULL ? dk_strdup(as) : NULL;
    const char *pu = store_res_get(r, 0, 6);
    if (pu == NULL || dk_time_parse(pu, &out->paused_until) != 0) {
        out->paused_until = 0;
    }
    const char *lu = store_res_get(r, 0, 7);
    if (lu == NULL || dk_time_parse(lu, &out->last_user_message_ms) != 0) {
        out->last_user_message_ms = 0;
    }
    const char *cust = store_res_get(r, 0, 8);
    snprintf(out->customer_id, sizeof(out->customer_id), "%s", cust != NULL ? cust : "");
    store_res_free(r);
    return 0;
}

#define CONV_COLS                                                                                  \
    "SELECT c.id, c.user_id, u.instagram_id, c.account_id, c.status, c.context, c.referral, "      \
    "c.last_user_message_at, c.bot_paused_until, c.assigned_to, c.created_at, c.updated_at "       \
    "FROM conversations c JOIN users u ON u.id = c.user_id "
#define CONV_SPEC                                                                                  \
    "id:s user_id:s instagram_id:s account_id:s status:s context:j referral:j "                    \
    "last_user_message_at:t bot_paused_until:t assigned_to:s created_at:t updated_at:t"

int store_conversation_get(struct store_conn *c, const char *id, json_t **out, struct dk_err *err)
{
    const char *p[] = {id};
    struct store_res *r = NULL;
    int rc = store_query(c, CONV_COLS "WHERE c.id = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "conversation %s not found", id);
    }
    *out = store_row_json(r, 0, CONV_SPEC);
    store_res_free(r);
    return 0;
}

int store_conversation_customer_activity(struct store_conn *c, const char *id, int64_t at_ms,
                                         int64_t now_ms, struct dk_err *err)
{
    char at[DK_TIME_LEN], now[DK_TIME_LEN];
    const char *p[] = {id, store_ts(at_ms, at), store_ts(now_ms, now)};
    return store_query(c,
                       "UPDATE conversations SET last_user_message_at = $2, updated_at = $3 "
                       "WHERE id = $1 AND (last_user_message_at IS NULL OR "
                       "last_user_message_at < $2)",
                       3, p, NULL, err);
}

static int update_column(struct store_conn *c, const char *sql, const char *id, const char *value,
                         int64_t now_ms, struct dk_err *err)
{
    char now[DK_TIME_LEN];
    const char *p[] = {id, value, store_ts(now_ms, now)};
    struct store_res *r = NULL;
    int rc = store_query(c, sql, 3, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    return n > 0 ? 0 : dk_err_set(err, DK_ENOTFOUND, "conversation %s not found", id);
}

int store_conversation_set_referral(struct store_conn *c, const char *id, const char *referral,
                                    int64_t now_ms, struct dk_err *err)
{
    return update_column(c, "UPDATE conversations SET referral = $2, updated_at = $3 WHERE id = $1",
                         id, referral, now_ms, err);
}

int store_conversation_set_context(struct store_conn *c, const char *id, const char *context_json,
                                   int64_t now_ms, struct dk_err *err)
{
    return update_column(c, "UPDATE conversations SET context = $2, updated_at = $3 WHERE id = $1",
                         id, context_json, now_ms, err);
}

/* Turns rows (fetched with limit + 1) into a JSON array and the next cursor from the
 * timestamp column ts_col and id column 0 of the last row kept. */
json_t *store_page(const struct store_res *r, int limit, const char *spec, size_t ts_col,
                   char **next_cursor)
{
    json_t *arr = json_array();
    size_t n = store_res_rows(r);
    size_t keep = n > (size_t)limit ? (size_t)limit : n;
    for (size_t i = 0; i < keep; i++) {
        json_array_append_new(arr, store_row_json(r, i, spec));
    }
    *next_cursor = NULL;
    if (n > keep && keep > 0) {
        *next_cursor =
            store_cursor_make(store_res_get(r, keep - 1, ts_col), store_res_get(r, keep - 1, 0));
    }
    return arr;
}

int store_conversation_list(struct store_conn *c, const char *status, int64_t since_ms,
                            const char *cursor, int limit, json_t **out, char **next_cursor,
                            struct dk_err *err)
{
    char *cts = NULL, *cid = NULL;
    if (cursor != NULL) {
        int rc = store_cursor_parse(cursor, &cts, &cid, err);
        if (rc != 0) {
            return rc;
        }
    }
    char since[DK_TIME_LEN], lim[16];
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {status, since_ms > 0 ? store_ts(since_ms, since) : NULL, cts, cid, lim};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         CONV_COLS "WHERE (c.status = $1 OR $1 IS NULL) "
                                   "AND (c.updated_at >= $2 OR $2 IS NULL) "
                                   "AND (c.updated_at < $3 OR (c.updated_at = $3 AND c.id < $4) "
                                   "OR $3 IS NULL) "
                                   "ORDER BY c.updated_at DESC, c.id DESC LIMIT $5",
                         5, p, &r, err);
    dk_free(cts);
    dk_free(cid);
    if (rc != 0) {
        return rc;
    }
    *out = store_page(r, limit, CONV_SPEC, 11, next_cursor);
    store_res_free(r);
    return 0;
}

int store_conversation_list_by_user(struct store_conn *c, int64_t user_id, json_t **out,
                                    struct dk_err *err)
{
    char uid[24];
    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    const char *p[] = {uid};
    struct store_res *r = NULL;
    int rc =
        store_query(c, CONV_COLS "WHERE c.user_id = $1 ORDER BY c.updated_at DESC", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i, CONV_SPEC));
    }
    store_res_free(r);
    return 0;
}
