/*
 * store/comments: Meta allows one private reply per comment, so the reply is claimed here (a
 * row keyed by the comment id) in the transaction that creates it; and the business's keyword
 * rules that turn a comment into a DM.
 */
#include "store/repo.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"

int store_comment_reply_claim(struct store_conn *c, const char *comment_id, const char *account_id,
                              const char *conversation_id, const char *message_id, int64_t rule_id,
                              int64_t comment_ms, bool *claimed, struct dk_err *err)
{
    char rule[24], ts[DK_TIME_LEN];
    snprintf(rule, sizeof(rule), "%" PRId64, rule_id);
    const char *p[] = {comment_id,
                       account_id,
                       conversation_id,
                       message_id,
                       rule_id > 0 ? rule : NULL,
                       comment_ms > 0 ? store_ts(comment_ms, ts) : NULL};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO comment_replies (comment_id, account_id, conversation_id, "
                         "message_id, rule_id, comment_at) VALUES ($1, $2, $3, $4, $5, $6) "
                         "ON CONFLICT (comment_id) DO NOTHING",
                         6, p, &r, err);
    if (rc == 0) {
        *claimed = store_res_affected(r) > 0;
    }
    store_res_free(r);
    return rc;
}

int store_comment_reply_owner(struct store_conn *c, const char *comment_id,
                              char message_id[STORE_ID_LEN], struct dk_err *err)
{
    const char *p[] = {comment_id};
    struct store_res *r = NULL;
    message_id[0] = '\0';
    int rc = store_query(c, "SELECT message_id FROM comment_replies WHERE comment_id = $1", 1, p,
                         &r, err);
    if (rc == 0 && store_res_rows(r) == 1) {
        const char *v = store_res_get(r, 0, 0);
        snprintf(message_id, STORE_ID_LEN, "%s", v != NULL ? v : "");
    }
    store_res_free(r);
    return rc;
}

int store_comment_rule_add(struct store_conn *c, const char *account_id, const char *keyword,
                           const char *reply, const char *public_reply, int64_t *id,
                           struct dk_err *err)
{
    const char *p[] = {account_id, keyword, reply, public_reply};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO comment_rules (account_id, keyword, reply, public_reply) "
                         "VALUES ($1, $2, $3, $4) RETURNING id",
                         4, p, &r, err);
    if (rc == 0) {
        *id = store_res_int(r, 0, 0, 0);
    }
    store_res_free(r);
    return rc;
}

int store_comment_rule_list(struct store_conn *c, const char *account_id, json_t **out,
                            struct dk_err *err)
{
    const char *p[] = {account_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, account_id, keyword, reply, public_reply, enabled, created_at "
                         "FROM comment_rules WHERE CAST($1 AS TEXT) IS NULL OR account_id IS NULL "
                         "OR account_id = $1 ORDER BY id",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i,
                                                   "id:i account_id:s keyword:s reply:s "
                                                   "public_reply:s enabled:b created_at:t"));
    }
    store_res_free(r);
    return 0;
}

int store_comment_rule_delete(struct store_conn *c, int64_t id, bool *found, struct dk_err *err)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%" PRId64, id);
    const char *p[] = {idtext};
    struct store_res *r = NULL;
    int rc = store_query(c, "DELETE FROM comment_rules WHERE id = $1", 1, p, &r, err);
    if (rc == 0) {
        *found = store_res_affected(r) > 0;
    }
    store_res_free(r);
    return rc;
}
