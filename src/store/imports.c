/* store/imports: the state of each account's history import (one row per account), so that an
 * interrupted import continues from the page it stopped at. */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"

static char *dup_or_null(const char *s)
{
    return s != NULL ? dk_strdup(s) : NULL;
}

void store_import_clear(struct store_import *im)
{
    dk_free(im->next_url);
    dk_free(im->last_error);
    memset(im, 0, sizeof(*im));
}

int store_import_load(struct store_conn *c, const char *account_id, struct store_import *out,
                      struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *p[] = {account_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT status, next_url, conversations, messages, last_error "
                         "FROM imports WHERE account_id = $1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) > 0) {
        out->found = true;
        const char *status = store_res_get(r, 0, 0);
        snprintf(out->status, sizeof(out->status), "%s", status != NULL ? status : "");
        out->next_url = dup_or_null(store_res_get(r, 0, 1));
        out->conversations = store_res_int(r, 0, 2, 0);
        out->messages = store_res_int(r, 0, 3, 0);
        out->last_error = dup_or_null(store_res_get(r, 0, 4));
    }
    store_res_free(r);
    return 0;
}

int store_import_begin(struct store_conn *c, const char *account_id, int64_t now_ms,
                       struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {account_id, store_ts(now_ms, ts)};
    return store_query(c,
                       "INSERT INTO imports (account_id, next_url, conversations, messages, "
                       "status, last_error, started_at, updated_at, finished_at) "
                       "VALUES ($1, NULL, 0, 0, 'running', NULL, $2, $2, NULL) "
                       "ON CONFLICT (account_id) DO UPDATE SET next_url = NULL, "
                       "conversations = 0, messages = 0, status = 'running', last_error = NULL, "
                       "started_at = $2, updated_at = $2, finished_at = NULL",
                       2, p, NULL, err);
}

static int update_one(struct store_conn *c, const char *sql, int n, const char *const *p,
                      const char *account_id, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c, sql, n, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t changed = store_res_affected(r);
    store_res_free(r);
    return changed > 0 ? 0 : dk_err_set(err, DK_ENOTFOUND, "no import of account %s", account_id);
}

int store_import_progress(struct store_conn *c, const char *account_id, const char *next_url,
                          int64_t conversations, int64_t messages, int64_t now_ms,
                          struct dk_err *err)
{
    char convs[24], msgs[24], ts[DK_TIME_LEN];
    snprintf(convs, sizeof(convs), "%lld", (long long)conversations);
    snprintf(msgs, sizeof(msgs), "%lld", (long long)messages);
    const char *p[] = {account_id, next_url, convs, msgs, store_ts(now_ms, ts)};
    return update_one(c,
                      "UPDATE imports SET next_url = $2, conversations = conversations + $3, "
                      "messages = messages + $4, status = 'running', last_error = NULL, "
                      "updated_at = $5 WHERE account_id = $1",
                      5, p, account_id, err);
}

int store_import_finish(struct store_conn *c, const char *account_id, const char *status,
                        const char *error, int64_t now_ms, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    bool done = strcmp(status, "done") == 0;
    const char *p[] = {account_id, status, done ? NULL : error, store_ts(now_ms, ts),
                       done ? ts : NULL};
    return update_one(c,
                      "UPDATE imports SET status = $2, last_error = $3, updated_at = $4, "
                      "finished_at = $5 WHERE account_id = $1",
                      5, p, account_id, err);
}
