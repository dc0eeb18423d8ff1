/* Unit tests of pipeline/account.c (pipeline_graph_for) on SQLite and on PostgreSQL: the token
 * opened from the account's row with DIREKT_SECRET_KEY, the clear errors without the key or
 * with another one, the IG_ACCESS_TOKEN fallback, dry runs, and the Facebook-login flavour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "dbtest.h"
#include "pipeline/pipeline.h"

#define ACCT      "17841405822304914"
#define PAGE      "104857600012345"
#define T0        1764000000000LL
#define TOKEN     "IGAAtokenOfTheAccount123"
#define ENV_TOKEN "IGAAfallbackFromTheEnvironment"
#define GRAPH     "http://127.0.0.1:9/graph"

static const unsigned char KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31};

static struct pipeline_ig_config config(bool with_key, const char *env_token)
{
    struct pipeline_ig_config cfg = {
        .graph_url = GRAPH, .graph_version = "v25.0", .access_token = env_token, .send_rate = 20};
    if (with_key) {
        cfg.has_secret_key = true;
        memcpy(cfg.secret_key, KEY, sizeof(KEY));
    }
    return cfg;
}

/* Stores an account whose token is sealed with KEY (token NULL: none). */
static void add_account(struct store_conn *c, const char *flavour, const char *page,
                        const char *token)
{
    char *sealed = token != NULL ? dk_secret_seal(KEY, token) : NULL;
    struct dk_err err = {0};
    int rc = store_account_upsert(c, ACCT, "Shop", flavour, page, sealed, T0, NULL, &err);
    dk_free(sealed);
    if (rc != 0) {
        fail_msg("upsert: %s", err.msg);
    }
}

static void test_pipeline_account_opens_the_stored_token(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    add_account(c, NULL, NULL, TOKEN);
    struct pipeline_ig_config cfg = config(true, ENV_TOKEN);
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), 0);
    assert_true(pg.known);
    assert_false(pg.dry_run);
    assert_string_equal(pg.token, TOKEN); /* the row's, not the environment's */
    assert_string_equal(pg.acct.id, ACCT);
    assert_int_equal(pg.g.flavour, IG_FLAVOUR_INSTAGRAM);
    assert_string_equal(pg.g.base_url, GRAPH);
    assert_string_equal(pg.g.version, "v25.0");
    assert_string_equal(pg.g.account_id, ACCT);
    assert_null(pg.g.page_id);
    assert_ptr_equal(pg.g.token, pg.token);
    pipeline_graph_clear(&pg);
    assert_null(pg.token);
    assert_null(pg.acct.token_enc);
    pipeline_graph_clear(&pg); /* twice is fine */
    store_release(c);
}

static void test_pipeline_account_no_key_is_an_error(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    add_account(c, NULL, NULL, TOKEN);
    struct pipeline_ig_config cfg = config(false, ENV_TOKEN);
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), DK_EINVAL);
    assert_string_equal(err.msg, "DIREKT_SECRET_KEY is not set: cannot open the stored token of "
                                 "account " ACCT);
    /* never falls back to the environment's token for an account that has its own */
    assert_null(pg.token);
    pipeline_graph_clear(&pg);
    store_release(c);
}

static void test_pipeline_account_wrong_key_is_an_error(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    add_account(c, NULL, NULL, TOKEN);
    struct pipeline_ig_config cfg = config(true, ENV_TOKEN);
    cfg.secret_key[0] ^= 0x80;
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, ACCT));
    assert_non_null(strstr(err.msg, "wrong DIREKT_SECRET_KEY?"));
    assert_null(strstr(err.msg, TOKEN));
    assert_null(pg.token);
    pipeline_graph_clear(&pg);

    /* a token column that is not a sealed token at all */
    struct dk_err uerr = {0};
    assert_int_equal(
        store_account_upsert(c, ACCT, NULL, NULL, NULL, "plain-token", T0, NULL, &uerr), 0);
    cfg = config(true, NULL);
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "not a sealed token"));
    pipeline_graph_clear(&pg);
    store_release(c);
}

static void test_pipeline_account_env_token_fallback(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    /* an account with a row but no token of its own */
    add_account(c, NULL, NULL, NULL);
    struct pipeline_ig_config cfg = config(false, ENV_TOKEN);
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), 0);
    assert_true(pg.known);
    assert_false(pg.dry_run);
    assert_string_equal(pg.token, ENV_TOKEN);
    assert_ptr_equal(pg.g.token, pg.token);
    pipeline_graph_clear(&pg);

    /* an account without a row */
    assert_int_equal(pipeline_graph_for(c, &cfg, "acct-without-row", &pg, &err), 0);
    assert_false(pg.known);
    assert_string_equal(pg.acct.id, "");
    assert_string_equal(pg.account_id, "acct-without-row");
    assert_string_equal(pg.g.account_id, "acct-without-row");
    assert_string_equal(pg.token, ENV_TOKEN);
    assert_int_equal(pg.g.flavour, IG_FLAVOUR_INSTAGRAM);
    pipeline_graph_clear(&pg);
    store_release(c);
}

static void test_pipeline_account_dry_run(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    add_account(c, NULL, NULL, NULL);
    struct pipeline_ig_config cfg = config(true, NULL);
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), 0);
    assert_true(pg.dry_run);
    assert_null(pg.token);
    assert_null(pg.g.token);
    pipeline_graph_clear(&pg);
    /* an empty IG_ACCESS_TOKEN is no token */
    cfg = config(false, "");
    assert_int_equal(pipeline_graph_for(c, &cfg, "unknown", &pg, &err), 0);
    assert_true(pg.dry_run);
    assert_false(pg.known);
    pipeline_graph_clear(&pg);
    /* ids that cannot be an account */
    assert_int_equal(pipeline_graph_for(c, &cfg, "", &pg, &err), DK_EINVAL);
    char long_id[80];
    memset(long_id, '1', 70);
    long_id[70] = '\0';
    assert_int_equal(pipeline_graph_for(c, &cfg, long_id, &pg, &err), DK_EINVAL);
    assert_int_equal(pipeline_graph_for(c, &cfg, NULL, &pg, &err), DK_EINVAL);
    store_release(c);
}

static void test_pipeline_account_facebook_flavour(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    add_account(c, "facebook", PAGE, TOKEN);
    struct pipeline_ig_config cfg = config(true, NULL);
    cfg.graph_url = "http://127.0.0.1:9/fb";
    cfg.graph_version = NULL;
    struct pipeline_graph pg;
    struct dk_err err = {0};
    assert_int_equal(pipeline_graph_for(c, &cfg, ACCT, &pg, &err), 0);
    assert_int_equal(pg.g.flavour, IG_FLAVOUR_FACEBOOK);
    assert_string_equal(pg.g.page_id, PAGE);
    assert_string_equal(pg.g.account_id, ACCT);
    assert_string_equal(pg.g.base_url, "http://127.0.0.1:9/fb");
    assert_null(pg.g.version);
    assert_string_equal(pg.g.token, TOKEN);
    /* the graph is ready for the request builders: a send goes out as the Page */
    struct ig_outgoing m = {.recipient_id = "1234567890", .text = "hi"};
    struct ig_request req = {0};
    assert_int_equal(ig_build_send(&pg.g, &m, &req, &err), 0);
    assert_non_null(strstr(req.url, "/" PAGE "/messages"));
    assert_null(strstr(req.url, TOKEN));
    assert_non_null(strstr(req.auth_header, TOKEN));
    ig_request_clear(&req);
    pipeline_graph_clear(&pg);
    store_release(c);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pipeline_account_opens_the_stored_token),
        T(test_pipeline_account_no_key_is_an_error),
        T(test_pipeline_account_wrong_key_is_an_error),
        T(test_pipeline_account_env_token_fallback),
        T(test_pipeline_account_dry_run),
        T(test_pipeline_account_facebook_flavour),
    };
    int failed = cmocka_run_group_tests_name("pipeline_account_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("pipeline_account_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
