/* Unit tests of the Graph calls that wait (pipeline/graph_call.c), the profile cache
 * (pipeline/profile.c) and the history import (pipeline/import.c), with their repositories
 * (store/imports.c, the profile functions of store/users.c), on SQLite and on PostgreSQL,
 * against the in-process fake HTTP server of tests/support/aifake answering with the shapes
 * of shared/fixtures/instagram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "aifake.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "dbtest.h"
#include "pipeline/pipeline.h"
#include "store/repo.h"

#define ACCT    "17841405822304914"
#define ALIAS   "9000000000000001" /* the account under an app-scoped id */
#define CUST1   "7300000000000001"
#define CUST2   "7300000000000002"
#define CUST3   "7300000000000003"
#define TOKEN   "tok-unit"
#define T0      1764000000000LL
#define LIST    "/v25.0/me/conversations"
#define HOUR_MS 3600000LL

static char g_base[64];

static struct pipeline_ig_config ig_config(const char *token)
{
    return (struct pipeline_ig_config){.graph_url = g_base,
                                       .graph_version = "v25.0",
                                       .access_token = token,
                                       .profile_ttl_ms = HOUR_MS};
}

/* A customer with a conversation on ACCT. */
static int64_t customer(struct store_conn *c, const char *igsid)
{
    struct dk_err err = {0};
    int64_t uid = 0;
    char conv[STORE_ID_LEN];
    bool created;
    assert_int_equal(store_user_ensure(c, igsid, T0, &uid, &err), 0);
    assert_int_equal(store_conversation_ensure(c, uid, ACCT, T0, conv, &created, &err), 0);
    return uid;
}

/* ---- repositories ---- */

static void test_store_import_rows(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    struct store_import im;
    assert_int_equal(store_import_load(c, ACCT, &im, &err), 0);
    assert_false(im.found);
    assert_int_equal(store_import_progress(c, ACCT, NULL, 1, 1, T0, &err), DK_ENOTFOUND);
    assert_int_equal(store_import_begin(c, ACCT, T0, &err), 0);
    assert_int_equal(store_import_progress(c, ACCT, "http://g/next?after=2", 2, 5, T0, &err), 0);
    assert_int_equal(store_import_progress(c, ACCT, "http://g/next?after=4", 2, 3, T0, &err), 0);
    assert_int_equal(store_import_finish(c, ACCT, "failed", "token refused", T0, &err), 0);
    assert_int_equal(store_import_load(c, ACCT, &im, &err), 0);
    assert_true(im.found);
    assert_string_equal(im.status, "failed");
    assert_string_equal(im.next_url, "http://g/next?after=4");
    assert_string_equal(im.last_error, "token refused");
    assert_int_equal(im.conversations, 4);
    assert_int_equal(im.messages, 8);
    store_import_clear(&im);
    assert_int_equal(store_import_progress(c, ACCT, NULL, 1, 2, T0, &err), 0);
    assert_int_equal(store_import_finish(c, ACCT, "done", "ignored", T0, &err), 0);
    assert_int_equal(store_import_load(c, ACCT, &im, &err), 0);
    assert_string_equal(im.status, "done");
    assert_null(im.next_url);
    assert_null(im.last_error);
    assert_int_equal(im.messages, 10);
    store_import_clear(&im);
    /* begin again: from the first page, counts zero */
    assert_int_equal(store_import_begin(c, ACCT, T0 + 1, &err), 0);
    assert_int_equal(store_import_load(c, ACCT, &im, &err), 0);
    assert_string_equal(im.status, "running");
    assert_int_equal(im.conversations + im.messages, 0);
    store_import_clear(&im);
    store_release(c);
}

static void test_store_user_profile(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    struct store_user_profile up;
    assert_int_equal(store_user_profile_load(c, CUST1, &up, &err), DK_ENOTFOUND);
    int64_t uid = 0;
    assert_int_equal(store_user_ensure(c, CUST1, T0, &uid, &err), 0);
    assert_int_equal(store_user_profile_load(c, CUST1, &up, &err), 0);
    assert_int_equal(up.id, uid);
    assert_string_equal(up.profile, "{}");
    assert_int_equal(up.fetched_ms, 0);
    assert_string_equal(up.account_id, "");
    store_user_profile_clear(&up);
    customer(c, CUST1);
    assert_int_equal(store_user_update_profile(c, uid, "{\"name\":\"Ola\"}", "ola", "Ola N", T0 + 5,
                                               T0 + 5, &err),
                     0);
    assert_int_equal(store_user_update_profile(c, uid, NULL, "ola.n", NULL, 0, T0 + 6, &err), 0);
    assert_int_equal(store_user_profile_load(c, CUST1, &up, &err), 0);
    assert_string_equal(up.account_id, ACCT);
    assert_int_equal(up.fetched_ms, T0 + 5);
    json_t *p = json_loads(up.profile, 0, NULL);
    assert_string_equal(dk_json_str(p, "name"), "Ola");
    json_decref(p);
    store_user_profile_clear(&up);
    json_t *user = NULL;
    assert_int_equal(store_user_get(c, CUST1, 0, &user, &err), 0);
    assert_string_equal(dk_json_str(user, "username"), "ola.n");
    assert_string_equal(dk_json_str(user, "full_name"), "Ola N");
    json_decref(user);
    assert_int_equal(store_user_update_profile(c, uid + 1000, NULL, "x", NULL, 0, T0, &err),
                     DK_ENOTFOUND);
    store_release(c);
}

/* ---- one call that waits ---- */

static void test_pipeline_graph_call(void **state)
{
    (void)state;
    size_t len;
    char *profile = dbtest_fixture("profile.json", &len);
    char *expired = dbtest_fixture("error_token_expired.json", &len);
    const struct aifake_canned script[] = {
        {.path = "/v25.0/" CUST1, .status = 200, .body = profile},
        {.path = "/v25.0/" CUST1, .status = 400, .body = expired},
        {.path = "/v25.0/" CUST1, .status = 200, .body = "{}", .delay_ms = 2000},
    };
    aifake_script(script, 3);
    struct ig_request req = {.method = "GET", .auth_header = "Authorization: Bearer " TOKEN};
    char url[128];
    snprintf(url, sizeof(url), "%s/v25.0/%s", g_base, CUST1);
    req.url = url;
    struct ig_result res;
    char *body = NULL;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_call(aifake_http(), &req, 5000, &res, &body, &err), 0);
    assert_int_equal(res.outcome, IG_OK);
    assert_int_equal(res.http_status, 200);
    assert_non_null(strstr(body, "maria.k"));
    dk_free(body);
    assert_string_equal(aifake_seen(0)->auth, "Bearer " TOKEN);
    assert_string_equal(aifake_seen(0)->ctype, "");
    /* an error answer is an answer: 0, classified */
    assert_int_equal(pipeline_graph_call(aifake_http(), &req, 5000, &res, NULL, &err), 0);
    assert_int_equal(res.outcome, IG_TOKEN);
    assert_int_equal(res.code, 190);
    assert_int_equal(res.subcode, 463);
    /* no answer in time: the transport's code; it may have reached Meta */
    assert_int_equal(pipeline_graph_call(aifake_http(), &req, 200, &res, &body, &err), DK_ETIMEOUT);
    assert_int_equal(res.outcome, IG_UNCERTAIN);
    assert_string_equal(body, "");
    assert_null(strstr(err.msg, "?"));
    dk_free(body);
    /* a body goes with its content type */
    const struct aifake_canned sent[] = {
        {.status = 200, .body = "{\"recipient_id\":\"1\",\"message_id\":\"m.1\"}"}};
    aifake_script(sent, 1);
    req.method = "POST";
    req.body = "{\"a\":1}";
    req.body_len = 7;
    assert_int_equal(pipeline_graph_call(aifake_http(), &req, 5000, &res, NULL, &err), 0);
    assert_string_equal(res.message_id, "m.1");
    assert_string_equal(aifake_seen(0)->ctype, "application/json");
    assert_string_equal(aifake_seen(0)->body, "{\"a\":1}");
    dk_free(profile);
    dk_free(expired);
}

/* ---- the profile cache ---- */

static void test_pipeline_profile_cache(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    size_t len;
    char *profile = dbtest_fixture("profile.json", &len);
    char *expired = dbtest_fixture("error_token_expired.json", &len);
    const struct aifake_canned script[] = {
        {.path = "/v25.0/" CUST1, .status = 200, .body = profile, .times = 2},
        {.path = "/v25.0/" CUST1, .status = 400, .body = expired},
    };
    aifake_script(script, 2);
    struct pipeline_ig_config cfg = ig_config(TOKEN);
    json_t *out = NULL;
    assert_int_equal(pipeline_profile_get(c, aifake_http(), &cfg, CUST1, false, &out, &err),
                     DK_ENOTFOUND);
    customer(c, CUST1);
    assert_int_equal(pipeline_profile_get(c, aifake_http(), &cfg, CUST1, false, &out, &err), 0);
    assert_false(json_is_true(json_object_get(out, "cached")));
    json_t *p = json_object_get(out, "profile");
    assert_string_equal(dk_json_str(p, "username"), "maria.k");
    assert_int_equal(json_integer_value(json_object_get(p, "follower_count")), 1243);
    assert_true(json_is_false(json_object_get(p, "is_verified_user")));
    assert_null(json_object_get(p, "is_business_follow_user")); /* not asked for */
    json_decref(out);
    assert_int_equal(aifake_nseen(), 1);
    assert_non_null(strstr(aifake_seen(0)->path, CUST1));
    /* fresh: from the cache */
    assert_int_equal(pipeline_profile_get(c, aifake_http(), &cfg, CUST1, false, &out, &err), 0);
    assert_true(json_is_true(json_object_get(out, "cached")));
    assert_string_equal(dk_json_str(json_object_get(out, "profile"), "name"), "Maria K");
    json_decref(out);
    assert_int_equal(aifake_nseen(), 1);
    /* refresh, then a TTL of 0: fetched each time */
    assert_int_equal(pipeline_profile_get(c, aifake_http(), &cfg, CUST1, true, &out, &err), 0);
    json_decref(out);
    assert_int_equal(aifake_nseen(), 2);
    json_t *user = NULL;
    assert_int_equal(store_user_get(c, CUST1, 0, &user, &err), 0);
    assert_string_equal(dk_json_str(user, "username"), "maria.k");
    assert_string_equal(dk_json_str(user, "full_name"), "Maria K");
    json_decref(user);
    /* a token error: 502, and the known account needs to be connected again */
    assert_int_equal(store_account_upsert(c, ACCT, "shop", NULL, NULL, NULL, T0, NULL, &err), 0);
    cfg.profile_ttl_ms = 0;
    assert_int_equal(pipeline_profile_get(c, aifake_http(), &cfg, CUST1, false, &out, &err),
                     DK_EIO);
    assert_int_equal(err.status, 502);
    assert_non_null(strstr(err.msg, "190/463"));
    struct store_account a;
    assert_int_equal(store_account_load(c, ACCT, &a, &err), 0);
    assert_string_equal(a.status, "needs_reauth");
    store_account_clear(&a);
    /* no token at all: nothing asked */
    struct pipeline_ig_config none = ig_config(NULL);
    struct pipeline_profile_fetch f;
    assert_int_equal(pipeline_profile_prepare(c, &none, CUST1, true, dk_now_ms(), &out, &f, &err),
                     DK_ECONFLICT);
    assert_string_equal(f.problem, "no_token");
    assert_non_null(strstr(err.msg, "direkt account add"));
    assert_string_equal(dk_json_str(f.stored, "username"), "maria.k");
    pipeline_profile_fetch_clear(&f);
    /* a customer without a conversation */
    int64_t uid;
    assert_int_equal(store_user_ensure(c, CUST2, T0, &uid, &err), 0);
    assert_int_equal(pipeline_profile_prepare(c, &cfg, CUST2, false, T0, &out, &f, &err),
                     DK_ECONFLICT);
    assert_string_equal(f.problem, "no_account");
    pipeline_profile_fetch_clear(&f);
    assert_int_equal(aifake_nseen(), 3);
    dk_free(profile);
    dk_free(expired);
    store_release(c);
}

/* ---- the history import ---- */

static char *message(const char *mid, const char *at, const char *from, const char *to,
                     const char *text)
{
    return dk_asprintf("{\"id\":\"%s\",\"created_time\":\"%s\",\"from\":{\"id\":\"%s\","
                       "\"username\":\"u%s\"},\"to\":{\"data\":[{\"id\":\"%s\"}]}%s%s%s}",
                       mid, at, from, from, to, text != NULL ? ",\"message\":\"" : "",
                       text != NULL ? text : "", text != NULL ? "\"" : "");
}

/* {"messages":{"data":[…]},"id"} newest first, as Meta lists them. */
static char *conversation(const char *id, char *m1, char *m2)
{
    char *s = dk_asprintf("{\"messages\":{\"data\":[%s%s%s]},\"id\":\"%s\"}", m2 != NULL ? m2 : "",
                          m2 != NULL ? "," : "", m1, id);
    dk_free(m1);
    dk_free(m2);
    return s;
}

struct history {
    char *page1, *page2, *conv1, *conv2, *conv3;
};

/* Page 1: conv-1 and conv-2, where the API names the account by ALIAS; page 2: conv-3 with the
 * account's own id and a customer message without text. */
static void history_make(struct history *h)
{
    h->page1 = dk_asprintf("{\"data\":[{\"id\":\"conv-1\",\"updated_time\":\"x\"},{\"id\":"
                           "\"conv-2\"}],\"paging\":{\"cursors\":{\"after\":\"Mg\"},\"next\":"
                           "\"%s/v25.0/me/conversations?platform=instagram&access_token=SECRET"
                           "&after=Mg\"}}",
                           g_base);
    h->page2 = dk_strdup("{\"data\":[{\"id\":\"conv-3\"}],\"paging\":{\"cursors\":{}}}");
    h->conv1 = conversation(
        "conv-1", message("m-1a", "2026-11-20T10:00:00+0000", CUST1, ALIAS, "hi"),
        message("m-1b", "2026-11-20T10:05:00+0000", ALIAS, CUST1, "hello! how can I help?"));
    h->conv2 =
        conversation("conv-2", message("m-2a", "2026-11-19T08:00:00+0000", CUST2, ALIAS, "price?"),
                     message("m-2b", "2026-11-19T08:01:00+0000", ALIAS, CUST2, "49 EUR"));
    h->conv3 =
        conversation("conv-3", message("m-3a", "2026-11-18T11:00:00+0000", CUST3, ACCT, NULL),
                     message("m-3b", "2026-11-18T11:02:00+0000", ACCT, CUST3, "thanks"));
}

static void history_free(struct history *h)
{
    dk_free(h->page1);
    dk_free(h->page2);
    dk_free(h->conv1);
    dk_free(h->conv2);
    dk_free(h->conv3);
}

struct seen_progress {
    int calls;
    int64_t last_conversations, last_messages;
};

static void on_progress(void *arg, const struct pipeline_import_progress *p)
{
    struct seen_progress *s = arg;
    s->calls++;
    s->last_conversations = p->conversations;
    s->last_messages = p->messages;
}

static int run_import(void **state, const struct pipeline_ig_config *cfg, bool restart,
                      int64_t limit, struct pipeline_import_result *r, struct dk_err *err)
{
    struct dbtest *t = *state;
    static struct seen_progress prog;
    memset(&prog, 0, sizeof(prog));
    struct pipeline_import_opts o = {.account_id = ACCT,
                                     .restart = restart,
                                     .limit_conversations = limit,
                                     .pace_ms = 1,
                                     .max_retries = 1,
                                     .progress = on_progress,
                                     .progress_arg = &prog};
    int rc = pipeline_import_run(t->store, aifake_http(), cfg, &o, r, err);
    if (rc == 0 && r->end == PIPELINE_IMPORT_DONE) {
        assert_true(prog.calls > 0);
        assert_int_equal(prog.last_conversations, r->conversations);
        assert_int_equal(prog.last_messages, r->messages);
    }
    return rc;
}

static void test_pipeline_import_history(void **state)
{
    struct dbtest *t = *state;
    struct history h;
    history_make(&h);
    const struct aifake_canned script[] = {
        {.path = LIST, .status = 200, .body = h.page1},
        {.path = "/v25.0/conv-1", .status = 200, .body = h.conv1},
        {.path = "/v25.0/conv-2", .status = 200, .body = h.conv2},
        {.path = LIST, .status = 200, .body = h.page2},
        {.path = "/v25.0/conv-3", .status = 200, .body = h.conv3},
    };
    aifake_script(script, 5);
    struct pipeline_ig_config cfg = ig_config(TOKEN);
    struct pipeline_import_result r;
    struct dk_err err = {0};
    assert_int_equal(run_import(state, &cfg, false, 0, &r, &err), 0);
    assert_int_equal(r.end, PIPELINE_IMPORT_DONE);
    assert_int_equal(r.conversations, 3);
    assert_int_equal(r.messages, 6);
    assert_int_equal(r.new_messages, 6);
    aifake_assert_paths(LIST ",/v25.0/conv-1,/v25.0/conv-2," LIST ",/v25.0/conv-3");
    assert_string_equal(aifake_seen(3)->auth, "Bearer " TOKEN);
    struct store *s = t->store;
    assert_int_equal(
        dbtest_int(s, "SELECT COUNT(*) FROM conversations WHERE account_id = '" ACCT "'"), 3);
    /* the account under its alias is the agent, the other id the customer */
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM users WHERE instagram_id = '" ALIAS "'"),
                     0);
    assert_int_equal(
        dbtest_int(s, "SELECT COUNT(*) FROM messages WHERE sender_type = 'agent' AND status = "
                      "'sent'"),
        3);
    assert_int_equal(
        dbtest_int(s, "SELECT COUNT(*) FROM messages WHERE sender_type = 'user' AND status = "
                      "'imported'"),
        3);
    assert_int_equal(dbtest_int1(s,
                                 "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = "
                                 "m.conversation_id JOIN users u ON u.id = c.user_id WHERE "
                                 "u.instagram_id = $1",
                                 CUST3),
                     2);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM messages WHERE instagram_mid = 'm-3a' "
                                   "AND message_type = 'unsupported' AND content IS NULL"),
                     1);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM jobs"), 0);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM leases"), 0); /* given back */
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM imports WHERE status = 'done' AND "
                                   "conversations = 3 AND messages = 6 AND next_url IS NULL"),
                     1);

    /* done: nothing fetched */
    aifake_script(NULL, 0);
    assert_int_equal(run_import(state, &cfg, false, 0, &r, &err), 0);
    assert_int_equal(r.end, PIPELINE_IMPORT_ALREADY);
    assert_int_equal(r.messages, 6);
    assert_int_equal(aifake_nseen(), 0);

    /* restart with a limit: the first two conversations, nothing new */
    const struct aifake_canned again[] = {
        {.path = LIST, .status = 200, .body = h.page1},
        {.path = "/v25.0/conv-1", .status = 200, .body = h.conv1},
        {.path = "/v25.0/conv-2", .status = 200, .body = h.conv2},
    };
    aifake_script(again, 3);
    assert_int_equal(run_import(state, &cfg, true, 2, &r, &err), 0);
    assert_int_equal(r.end, PIPELINE_IMPORT_DONE);
    assert_int_equal(r.conversations, 2);
    assert_int_equal(r.messages, 4);
    assert_int_equal(r.new_messages, 0);
    aifake_assert_paths(LIST ",/v25.0/conv-1,/v25.0/conv-2");
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM messages"), 6);
    history_free(&h);
}

static void test_pipeline_import_resume(void **state)
{
    struct dbtest *t = *state;
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_account_upsert(c, ACCT, "shop", NULL, NULL, NULL, T0, NULL, &err), 0);
    store_release(c);
    struct history h;
    history_make(&h);
    size_t len;
    char *expired = dbtest_fixture("error_token_expired.json", &len);
    char *bad = dk_strdup("{\"error\":{\"message\":\"(#100) no such conversation\",\"code\":100}}");
    const struct aifake_canned first[] = {
        {.path = LIST, .status = 200, .body = h.page1},
        {.path = "/v25.0/conv-1", .status = 200, .body = h.conv1},
        {.path = "/v25.0/conv-2", .status = 200, .body = h.conv2},
        {.path = LIST, .status = 400, .body = expired},
    };
    aifake_script(first, 4);
    struct pipeline_ig_config cfg = ig_config(TOKEN);
    struct pipeline_import_result r;
    assert_int_equal(run_import(state, &cfg, false, 0, &r, &err), 0);
    if (r.end != PIPELINE_IMPORT_TOKEN) {
        fail_msg("end %d: %s", (int)r.end, err.msg);
    }
    assert_non_null(strstr(err.msg, "was refused"));
    assert_non_null(strstr(err.msg, "direkt account add"));
    assert_int_equal(r.conversations, 2);
    assert_int_equal(r.messages, 4);
    struct store *s = t->store;
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM accounts WHERE status = 'needs_reauth'"),
                     1);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM imports WHERE status = 'failed' AND "
                                   "conversations = 2 AND messages = 4"),
                     1);
    /* the page to continue from, as it will be requested: without the token */
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM imports WHERE next_url LIKE '%after=Mg' "
                                   "AND next_url NOT LIKE '%SECRET%'"),
                     1);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM messages"), 4);

    /* the next run continues with page 2, whose conversation Meta refuses: skipped */
    const struct aifake_canned second[] = {
        {.path = LIST, .status = 200, .body = h.page2},
        {.path = "/v25.0/conv-3", .status = 400, .body = bad},
    };
    aifake_script(second, 2);
    assert_int_equal(run_import(state, &cfg, false, 0, &r, &err), 0);
    assert_int_equal(r.end, PIPELINE_IMPORT_DONE);
    assert_int_equal(r.conversations, 3);
    assert_int_equal(r.messages, 4);
    assert_int_equal(r.new_messages, 0);
    aifake_assert_paths(LIST ",/v25.0/conv-3");
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM messages"), 4);

    /* a next page on another host is refused: the token never leaves the graph's host */
    char *elsewhere = dk_strdup("{\"data\":[],\"paging\":{\"next\":\"http://example.com/x\"}}");
    const struct aifake_canned third[] = {{.path = LIST, .status = 200, .body = elsewhere}};
    aifake_script(third, 1);
    assert_int_equal(run_import(state, &cfg, true, 0, &r, &err), 0);
    assert_int_equal(r.end, PIPELINE_IMPORT_DONE); /* that page was the last one */
    aifake_assert_paths(LIST);

    /* another import of the account is running: this one waits for nothing and asks nothing */
    aifake_script(NULL, 0);
    c = dbtest_conn(state);
    bool held = false;
    assert_int_equal(queue_lease(c, "import:" ACCT, "someone", 60000, &held, &err), 0);
    assert_true(held);
    store_release(c);
    assert_int_equal(run_import(state, &cfg, true, 0, &r, &err), DK_EBUSY);
    assert_non_null(strstr(err.msg, "running already"));
    assert_int_equal(aifake_nseen(), 0);
    assert_int_equal(dbtest_int(s, "SELECT COUNT(*) FROM leases WHERE holder = 'someone'"), 1);

    /* no token: nothing asked */
    struct pipeline_ig_config none = ig_config(NULL);
    c = dbtest_conn(state);
    assert_int_equal(store_account_remove(c, ACCT, NULL, &err), 0);
    store_release(c);
    assert_int_equal(run_import(state, &none, true, 0, &r, &err), DK_ECONFLICT);
    assert_non_null(strstr(err.msg, "no access token"));
    dk_free(elsewhere);
    dk_free(bad);
    dk_free(expired);
    history_free(&h);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    if (aifake_start() != 0) {
        fprintf(stderr, "could not start the fake server\n");
        return 1;
    }
    snprintf(g_base, sizeof(g_base), "http://127.0.0.1:%u", (unsigned)aifake_port());
    const struct CMUnitTest tests[] = {
        T(test_store_import_rows),       T(test_store_user_profile),
        T(test_pipeline_graph_call),     T(test_pipeline_profile_cache),
        T(test_pipeline_import_history), T(test_pipeline_import_resume),
    };
    int failed = cmocka_run_group_tests_name("pipeline_import_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("pipeline_import_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    aifake_stop();
    return failed;
}
