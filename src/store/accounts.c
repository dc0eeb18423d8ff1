/*
 * store/accounts: the connected Instagram accounts: flavour, sending Page, sealed token,
 * status (re-authentication) and Graph throttling. The token column holds what
 * dk_secret_seal made; nothing here reads or writes a token in clear, and the JSON for the API
 * only says whether there is one.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"

#define ACCOUNT_ID_MAX   64
#define ACCOUNT_NAME_MAX 255
#define ACCOUNT_PAGE_MAX 64

static int check_id(const char *id, struct dk_err *err)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > ACCOUNT_ID_MAX) {
        return dk_err_set(err, DK_EINVAL, "an account id has 1 to %d characters", ACCOUNT_ID_MAX);
    }
    return 0;
}

static bool valid_status(const char *s)
{
    return s != NULL && (strcmp(s, "active") == 0 || strcmp(s, "needs_reauth") == 0 ||
                         strcmp(s, "disabled") == 0);
}

void store_account_clear(struct store_account *a)
{
    dk_free(a->name);
    dk_free(a->page_id);
    dk_free(a->token_enc);
    dk_free(a->status_reason);
    a->name = a->page_id = a->token_enc = a->status_reason = NULL;
}

/* Runs one statement; *n gets the rows it changed (changed) or the integer in its first column
 * (a count). */
static int query_n(struct store_conn *c, const char *sql, int nparams, const char *const *p,
                   bool changed, int64_t *n, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c, sql, nparams, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *n = changed ? store_res_affected(r) : store_res_int(r, 0, 0, 0);
    store_res_free(r);
    return 0;
}

/* An UPDATE of the account p[0] with four parameters; DK_ENOTFOUND when it has no row. */
static int update_one(struct store_conn *c, const char *sql, const char *const p[4],
                      struct dk_err *err)
{
    int64_t n = 0;
    int rc = query_n(c, sql, 4, p, true, &n, err);
    if (rc == 0 && n == 0) {
        rc = dk_err_set(err, DK_ENOTFOUND, "account %s not found", p[0]);
    }
    return rc;
}

int store_account_ensure(struct store_conn *c, const char *id, int64_t now_ms, struct dk_err *err)
{
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    char ts[DK_TIME_LEN];
    const char *p[] = {id, store_ts(now_ms, ts)};
    int64_t n = 0;
    return query_n(c,
                   "INSERT INTO accounts (id, registered, created_at, updated_at) "
                   "VALUES ($1, FALSE, $2, $2) "
                   "ON CONFLICT (id) DO NOTHING",
                   2, p, true, &n, err);
}

int store_account_upsert(struct store_conn *c, const char *id, const char *name,
                         const char *flavour, const char *page_id, const char *token_enc,
                         int64_t now_ms, bool *created, struct dk_err *err)
{
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    if (flavour == NULL) {
        flavour = "instagram";
    }
    if (strcmp(flavour, "instagram") != 0 && strcmp(flavour, "facebook") != 0) {
        return dk_err_set(err, DK_EINVAL, "an account's flavour is instagram or facebook");
    }
    if ((name != NULL && strlen(name) > ACCOUNT_NAME_MAX) ||
        (page_id != NULL && strlen(page_id) > ACCOUNT_PAGE_MAX)) {
        return dk_err_set(err, DK_EINVAL,
                          "an account's name has at most %d characters, its page "
                          "id at most %d",
                          ACCOUNT_NAME_MAX, ACCOUNT_PAGE_MAX);
    }
    char ts[DK_TIME_LEN];
    const char *p[] = {id, name, flavour, page_id, token_enc, store_ts(now_ms, ts)};
    static const char update_sql[] =
        "UPDATE accounts SET name = $2, flavour = $3, page_id = $4, token_enc = $5, "
        "status = 'active', status_reason = NULL, throttled_until = 0, throttle_level = 0, "
        "registered = TRUE, "
        "updated_at = $6 WHERE id = $1";
    int64_t n = 0;
    bool is_new = false;
    /* update first, insert when missing, update again when another writer inserted in
     * between: the same SQL on both engines, and it tells whether the row is new */
    rc = query_n(c, update_sql, 6, p, true, &n, err);
    if (rc == 0 && n == 0) {
        rc = query_n(c,
                     "INSERT INTO accounts (id, name, flavour, page_id, token_enc, created_at, "
                     "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
                     "ON CONFLICT (id) DO NOTHING",
                     6, p, true, &n, err);
        is_new = rc == 0 && n > 0;
        if (rc == 0 && n == 0) {
            rc = query_n(c, update_sql, 6, p, true, &n, err);
            if (rc == 0 && n == 0) {
                rc = dk_err_set(err, DK_EINTERNAL, "could not store account %s", id);
            }
        }
    }
    if (created != NULL) {
        *created = is_new;
    }
    return rc;
}

/* Column col of row 0 as a new string, NULL for SQL NULL. */
static char *col_dup(const struct store_res *r, size_t col)
{
    const char *v = store_res_get(r, 0, col);
    return v != NULL ? dk_strdup(v) : NULL;
}

int store_account_load(struct store_conn *c, const char *id, struct store_account *out,
                       struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    const char *p[] = {id};
    struct store_res *r = NULL;
    rc = store_query(c,
                     "SELECT id, name, flavour, page_id, token_enc, status, status_reason, "
                     "throttled_until, throttle_level FROM accounts WHERE id = $1",
                     1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "account %s not found", id);
    }
    const char *flavour = store_res_get(r, 0, 2), *status = store_res_get(r, 0, 5);
    snprintf(out->id, sizeof(out->id), "%s", store_res_get(r, 0, 0));
    out->name = col_dup(r, 1);
    snprintf(out->flavour, sizeof(out->flavour), "%s", flavour != NULL ? flavour : "instagram");
    out->page_id = col_dup(r, 3);
    out->token_enc = col_dup(r, 4);
    snprintf(out->status, sizeof(out->status), "%s", status != NULL ? status : "active");
    out->status_reason = col_dup(r, 6);
    out->throttled_until = store_res_int(r, 0, 7, 0);
    out->throttle_level = (int)store_res_int(r, 0, 8, 0);
    store_res_free(r);
    return 0;
}

#define ACCOUNT_SPEC                                                                               \
    "id:s name:s flavour:s page_id:s has_token:b status:s status_reason:s throttled_until:i "      \
    "created_at:t updated_at:t"

int store_account_list(struct store_conn *c, json_t **out, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, name, flavour, page_id, "
                         "CASE WHEN token_enc IS NULL THEN 0 ELSE 1 END, status, status_reason, "
                         "throttled_until, created_at, updated_at FROM accounts "
                         "ORDER BY created_at, id",
                         0, NULL, &r, err);
    if (rc != 0) {
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_t *o = store_row_json(r, i, ACCOUNT_SPEC);
        /* throttled_until is stored in ms: RFC 3339 while it lies ahead of 0, else null */
        int64_t until = store_res_int(r, i, 7, 0);
        char ts[DK_TIME_LEN];
        json_object_set_new(o, "throttled_until",
                            until > 0 ? json_string(store_ts(until, ts)) : json_null());
        json_array_append_new(arr, o);
    }
    store_res_free(r);
    *out = arr;
    return 0;
}

int store_account_remove(struct store_conn *c, const char *id, bool *found, struct dk_err *err)
{
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    const char *p[] = {id};
    int64_t n = 0;
    rc = query_n(c, "DELETE FROM accounts WHERE id = $1", 1, p, true, &n, err);
    if (found != NULL) {
        *found = rc == 0 && n > 0;
    }
    return rc;
}

int store_account_set_status(struct store_conn *c, const char *id, const char *status,
                             const char *reason, int64_t now_ms, struct dk_err *err)
{
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    if (!valid_status(status)) {
        return dk_err_set(err, DK_EINVAL,
                          "an account's status is active, needs_reauth or disabled");
    }
    char ts[DK_TIME_LEN];
    const char *p[] = {id, status, reason, store_ts(now_ms, ts)};
    return update_one(c,
                      "UPDATE accounts SET status = $2, status_reason = $3, updated_at = $4 "
                      "WHERE id = $1",
                      p, err);
}

int store_account_throttle(struct store_conn *c, const char *id, int64_t until_ms, int level,
                           int64_t now_ms, struct dk_err *err)
{
    int rc = check_id(id, err);
    if (rc != 0) {
        return rc;
    }
    char until[24], lvl[16], ts[DK_TIME_LEN];
    /* level 0 ends the throttling whatever until_ms says */
    snprintf(until, sizeof(until), "%lld", level > 0 && until_ms > 0 ? (long long)until_ms : 0LL);
    snprintf(lvl, sizeof(lvl), "%d", level > 0 ? level : 0);
    const char *p[] = {id, until, lvl, store_ts(now_ms, ts)};
    return update_one(c,
                      "UPDATE accounts SET throttled_until = $2, throttle_level = $3, "
                      "updated_at = $4 WHERE id = $1",
                      p, err);
}

int store_account_count(struct store_conn *c, int64_t *n, struct dk_err *err)
{
    return query_n(c, "SELECT count(*) FROM accounts WHERE registered", 0, NULL, false, n, err);
}

int store_account_exists(struct store_conn *c, const char *id, bool *exists, struct dk_err *err)
{
    *exists = false;
    if (id == NULL || *id == '\0' || strlen(id) > ACCOUNT_ID_MAX) {
        return 0; /* no such id can be stored */
    }
    const char *p[] = {id};
    int64_t n = 0;
    int rc = query_n(c, "SELECT count(*) FROM accounts WHERE id = $1 AND registered", 1, p, false,
                     &n, err);
    *exists = rc == 0 && n > 0;
    return rc;
}
