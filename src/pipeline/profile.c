/*
 * pipeline/profile: a customer's profile for messaging (name, username, profile_pic,
 * follower_count, is_user_follow_business, is_verified_user), cached in users.profile_data for
 * profile_ttl_ms and fetched from the Graph API with the token of the account the customer last
 * wrote to (the account of their most recent conversation).
 *
 * Three steps, so that an HTTP thread can suspend its request while the Graph answers:
 * prepare (the cache, or the request to make), answer (the Graph's reply parsed and
 * classified; no I/O) and store (the profile kept, or the account marked needs_reauth on a
 * token error). pipeline_profile_get runs all three on a thread that may block.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

#define PROFILE_TIMEOUT_MS 10000

/* The keys of the profile answer, in the order they are rendered. */
static const char *const PROFILE_KEYS[] = {
    "name",
    "username",
    "profile_pic",
    "follower_count",
    "is_user_follow_business",
    "is_verified_user",
};

void pipeline_profile_fetch_clear(struct pipeline_profile_fetch *f)
{
    ig_request_clear(&f->req);
    json_decref(f->stored);
    memset(f, 0, sizeof(*f));
}

json_t *pipeline_profile_json(const char *instagram_id, const json_t *profile, int64_t fetched_ms,
                              bool cached)
{
    json_t *p = json_object();
    for (size_t i = 0; i < sizeof(PROFILE_KEYS) / sizeof(PROFILE_KEYS[0]); i++) {
        json_t *v = json_object_get(profile, PROFILE_KEYS[i]);
        json_object_set_new(p, PROFILE_KEYS[i], v != NULL ? json_incref(v) : json_null());
    }
    char ts[DK_TIME_LEN];
    return json_pack("{s:s, s:o, s:o, s:b}", "instagram_id", instagram_id, "profile", p,
                     "fetched_at",
                     fetched_ms > 0 ? json_string(dk_time_format(fetched_ms, ts)) : json_null(),
                     "cached", cached);
}

int pipeline_profile_prepare(struct store_conn *c, const struct pipeline_ig_config *cfg,
                             const char *instagram_id, bool refresh, int64_t now_ms, json_t **out,
                             struct pipeline_profile_fetch *f, struct dk_err *err)
{
    *out = NULL;
    memset(f, 0, sizeof(*f));
    if (instagram_id == NULL || *instagram_id == '\0' ||
        strlen(instagram_id) >= sizeof(f->instagram_id)) {
        return dk_err_set(err, DK_ENOTFOUND, "user not found");
    }
    struct store_user_profile up;
    int rc = store_user_profile_load(c, instagram_id, &up, err);
    if (rc != 0) {
        return rc;
    }
    snprintf(f->instagram_id, sizeof(f->instagram_id), "%s", instagram_id);
    f->user_id = up.id;
    snprintf(f->account_id, sizeof(f->account_id), "%s", up.account_id);
    f->stored = dk_json_parse(up.profile, strlen(up.profile), DK_JSON_MAX_DEPTH, NULL);
    if (!json_is_object(f->stored)) {
        json_decref(f->stored); /* unreadable: as if never fetched */
        f->stored = json_object();
        up.fetched_ms = 0;
    }
    f->stored_ms = up.fetched_ms;
    store_user_profile_clear(&up);
    if (!refresh && cfg != NULL && f->stored_ms > 0 &&
        now_ms - f->stored_ms < cfg->profile_ttl_ms) {
        *out = pipeline_profile_json(instagram_id, f->stored, f->stored_ms, true);
        return 0;
    }
    if (cfg == NULL) {
        f->problem = "no_token";
        return dk_err_set(err, DK_ECONFLICT, "this process does not call the graph api");
    }
    if (f->account_id[0] == '\0') {
        f->problem = "no_account";
        return dk_err_set(err, DK_ECONFLICT,
                          "user %s has no conversation, so no account whose token could ask "
                          "for the profile",
                          instagram_id);
    }
    struct pipeline_graph pg;
    rc = pipeline_graph_for(c, cfg, f->account_id, &pg, err);
    if (rc != 0) {
        return rc;
    }
    f->account_known = pg.known;
    if (pg.dry_run) {
        f->problem = "no_token";
        rc = dk_err_set(err, DK_ECONFLICT,
                        "no access token for account %s: connect it with direkt account add",
                        f->account_id);
    } else {
        rc = ig_build_profile(&pg.g, instagram_id, &f->req, err);
    }
    pipeline_graph_clear(&pg);
    return rc;
}

int pipeline_profile_answer(const struct pipeline_profile_fetch *f, const struct ig_result *res,
                            const char *body, size_t len, json_t **profile, struct dk_err *err)
{
    *profile = NULL;
    if (res->outcome != IG_OK) {
        char reason[512];
        int rc = dk_err_set(err, DK_EIO, "could not fetch the profile of %s: %s", f->instagram_id,
                            ig_result_reason(res, reason, sizeof(reason)));
        err->status = 502;
        return rc;
    }
    struct dk_err perr = {0};
    if (ig_parse_profile(body, len, profile, &perr) != 0) {
        int rc = dk_err_set(err, DK_EIO, "could not read the profile of %s from the graph api: %s",
                            f->instagram_id, perr.msg);
        err->status = 502;
        return rc;
    }
    return 0;
}

int pipeline_profile_store(struct store_conn *c, const struct pipeline_profile_fetch *f,
                           const struct ig_result *res, const json_t *profile, int64_t now_ms,
                           struct dk_err *err)
{
    if (profile != NULL) {
        char *text = dk_json_dump(profile);
        int rc = store_user_update_profile(c, f->user_id, text, dk_json_str(profile, "username"),
                                           dk_json_str(profile, "name"), now_ms, now_ms, err);
        dk_free(text);
        return rc;
    }
    if (res->outcome == IG_TOKEN && f->account_known) {
        char reason[512];
        ig_result_reason(res, reason, sizeof(reason));
        DK_WARN("account %s needs to be connected again: %s", f->account_id, reason);
        return store_account_set_status(c, f->account_id, "needs_reauth", reason, now_ms, err);
    }
    return 0;
}

int pipeline_profile_get(struct store_conn *c, struct ai_http *http,
                         const struct pipeline_ig_config *cfg, const char *instagram_id,
                         bool refresh, json_t **out, struct dk_err *err)
{
    struct pipeline_profile_fetch f;
    int rc = pipeline_profile_prepare(c, cfg, instagram_id, refresh, dk_now_ms(), out, &f, err);
    if (rc != 0 || *out != NULL) {
        pipeline_profile_fetch_clear(&f);
        return rc;
    }
    struct ig_result res;
    char *body = NULL;
    json_t *profile = NULL;
    pipeline_graph_call(http, &f.req, PROFILE_TIMEOUT_MS, &res, &body, NULL);
    rc = pipeline_profile_answer(&f, &res, body, strlen(body), &profile, err);
    int64_t now = dk_now_ms();
    struct dk_err serr = {0};
    int src = pipeline_profile_store(c, &f, &res, profile, now, &serr);
    if (src != 0) {
        DK_WARN("could not store the profile of %s: %s", f.instagram_id, serr.msg);
    }
    if (rc == 0) {
        *out = pipeline_profile_json(f.instagram_id, profile, now, false);
    }
    json_decref(profile);
    dk_free(body);
    pipeline_profile_fetch_clear(&f);
    return rc;
}
