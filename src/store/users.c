/* store/users: customers, by Instagram-scoped id; their profile (and the cached profile for
 * messaging) and preferences. */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/mem.h"

static int select_user_id(struct store_conn *c, const char *instagram_id, int64_t *user_id,
                          bool *found, struct dk_err *err)
{
    const char *p[] = {instagram_id};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT id FROM users WHERE instagram_id = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *found = store_res_rows(r) > 0;
    *user_id = store_res_int(r, 0, 0, 0);
    store_res_free(r);
    return 0;
}

int store_user_ensure(struct store_conn *c, const char *instagram_id, int64_t now_ms,
                      int64_t *user_id, struct dk_err *err)
{
    bool found;
    int rc = select_user_id(c, instagram_id, user_id, &found, err);
    if (rc != 0 || found) {
        return rc;
    }
    char ts[DK_TIME_LEN];
    const char *p[] = {instagram_id, store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    rc = store_query(c,
                     "INSERT INTO users (instagram_id, created_at, updated_at) VALUES ($1, $2, $2) "
                     "ON CONFLICT (instagram_id) DO NOTHING RETURNING id",
                     2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    found = store_res_rows(r) > 0;
    *user_id = store_res_int(r, 0, 0, 0);
    store_res_free(r);
    if (found) {
        return 0;
    }
    /* another writer created it between our select and insert */
    rc = select_user_id(c, instagram_id, user_id, &found, err);
    if (rc == 0 && !found) {
        return dk_err_set(err, DK_EINTERNAL, "could not create user %s", instagram_id);
    }
    return rc;
}

#define USER_COLS                                                                                  \
    "SELECT id, instagram_id, username, full_name, profile_data, preferences, created_at, "        \
    "updated_at FROM users "
#define USER_SPEC                                                                                  \
    "id:s instagram_id:s username:s full_name:s profile:j preferences:j created_at:t updated_at:t"

int store_user_get(struct store_conn *c, const char *instagram_id, int64_t id, json_t **out,
                   struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc;
    if (instagram_id != NULL) {
        const char *p[] = {instagram_id};
        rc = store_query(c, USER_COLS "WHERE instagram_id = $1", 1, p, &r, err);
    } else {
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
        const char *p[] = {idbuf};
        rc = store_query(c, USER_COLS "WHERE id = $1", 1, p, &r, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "user not found");
    }
    *out = store_row_json(r, 0, USER_SPEC);
    store_res_free(r);
    return 0;
}

int store_user_set_preferences(struct store_conn *c, int64_t id, const char *prefs_json,
                               int64_t now_ms, struct dk_err *err)
{
    char idbuf[24], ts[DK_TIME_LEN];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    const char *p[] = {idbuf, prefs_json, store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c, "UPDATE users SET preferences = $2, updated_at = $3 WHERE id = $1", 3,
                         p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    return n > 0 ? 0 : dk_err_set(err, DK_ENOTFOUND, "user %lld not found", (long long)id);
}

void store_user_profile_clear(struct store_user_profile *p)
{
    dk_free(p->profile);
    memset(p, 0, sizeof(*p));
}

int store_user_profile_load(struct store_conn *c, const char *instagram_id,
                            struct store_user_profile *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *p[] = {instagram_id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT u.id, u.profile_data, u.profile_fetched_at, "
                         "(SELECT c.account_id FROM conversations c WHERE c.user_id = u.id "
                         "ORDER BY c.updated_at DESC, c.id DESC LIMIT 1) "
                         "FROM users u WHERE u.instagram_id = $1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "user not found");
    }
    out->id = store_res_int(r, 0, 0, 0);
    const char *profile = store_res_get(r, 0, 1);
    out->profile = dk_strdup(profile != NULL ? profile : "{}");
    const char *fetched = store_res_get(r, 0, 2);
    if (fetched == NULL || dk_time_parse(fetched, &out->fetched_ms) != 0) {
        out->fetched_ms = 0;
    }
    const char *account = store_res_get(r, 0, 3);
    snprintf(out->account_id, sizeof(out->account_id), "%s", account != NULL ? account : "");
    store_res_free(r);
    return 0;
}

int store_user_update_profile(struct store_conn *c, int64_t id, const char *profile_json,
                              const char *username, const char *full_name, int64_t fetched_ms,
                              int64_t now_ms, struct dk_err *err)
{
    char idbuf[24], fetched[DK_TIME_LEN], ts[DK_TIME_LEN];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
    const char *p[] = {idbuf,
                       profile_json,
                       username,
                       full_name,
                       fetched_ms > 0 ? store_ts(fetched_ms, fetched) : NULL,
                       store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE users SET profile_data = COALESCE($2, profile_data), "
                         "username = COALESCE($3, username), full_name = COALESCE($4, full_name), "
                         "profile_fetched_at = COALESCE($5, profile_fetched_at), updated_at = $6 "
                         "WHERE id = $1",
                         6, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    return n > 0 ? 0 : dk_err_set(err, DK_ENOTFOUND, "user %lld not found", (long long)id);
}

int store_token_insert(struct store_conn *c, const char *name, const char *sha256, int64_t now_ms,
                       int64_t *id, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {name, sha256, store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO api_tokens (name, token_sha256, created_at) "
                         "VALUES ($1, $2, $3) RETURNING id",
                         3, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *id = store_res_int(r, 0, 0, 0);
    store_res_free(r);
    return 0;
}

int store_token_check(struct store_conn *c, const char *sha256, struct dk_err *err)
{
    const char *p[] = {sha256};
    struct store_res *r = NULL;
    int rc =
        store_query(c, "SELECT id FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
                    1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    bool ok = store_res_rows(r) > 0;
    store_res_free(r);
    return ok ? 0 : dk_err_set(err, DK_EAUTH, "invalid or revoked token");
}

int store_setting_get(struct store_conn *c, const char *key, char **value, struct dk_err *err)
{
    const char *p[] = {key};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT value FROM settings WHERE key = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = store_res_get(r, 0, 0);
    *value = v != NULL ? dk_strdup(v) : NULL;
    store_res_free(r);
    return 0;
}

int store_setting_init(struct store_conn *c, const char *key, const char *value, int64_t now_ms,
                       char **value_out, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {key, value, store_ts(now_ms, ts)};
    int rc = store_query(c,
                         "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) "
                         "ON CONFLICT (key) DO NOTHING",
                         3, p, NULL, err);
    if (rc != 0 || value_out == NULL) {
        return rc;
    }
    return store_setting_get(c, key, value_out, err);
}
