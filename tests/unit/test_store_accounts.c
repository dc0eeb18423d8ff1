/* Unit tests of store/accounts.c on SQLite and on PostgreSQL: upsert (create, update, the
 * reactivation that re-authentication relies on), load, the list without tokens, remove,
 * status, throttling, count and exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/mem.h"
#include "dbtest.h"
#include "store/repo.h"

#define ACCT   "17841405822304914" /* digits: bound as an integer by the SQLite backend */
#define OTHER  "acct-2"
#define T0     1764000000000LL /* 2025-11-24T16:00:00Z */
#define SEALED "c2VhbGVkLXRva2VuLW5vdC1yZWFsbHktc2VhbGVk"

static void load(struct store_conn *c, const char *id, struct store_account *a)
{
    struct dk_err err = {0};
    if (store_account_load(c, id, a, &err) != 0) {
        fail_msg("load %s: %s", id, err.msg);
    }
}

static void test_store_accounts_upsert_creates_then_updates(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    bool created = false;
    assert_int_equal(store_account_upsert(c, ACCT, "Shop", NULL, NULL, SEALED, T0, &created, &err),
                     0);
    assert_true(created);
    struct store_account a;
    load(c, ACCT, &a);
    assert_string_equal(a.id, ACCT);
    assert_string_equal(a.name, "Shop");
    assert_string_equal(a.flavour, "instagram"); /* NULL flavour */
    assert_null(a.page_id);
    assert_string_equal(a.token_enc, SEALED);
    assert_string_equal(a.status, "active");
    assert_null(a.status_reason);
    assert_int_equal(a.throttled_until, 0);
    assert_int_equal(a.throttle_level, 0);
    store_account_clear(&a);
    assert_null(a.name);

    /* the same id again replaces every field: created is false */
    created = true;
    assert_int_equal(store_account_upsert(c, ACCT, NULL, "facebook", "1122334455", NULL, T0 + 1000,
                                          &created, &err),
                     0);
    assert_false(created);
    load(c, ACCT, &a);
    assert_null(a.name);
    assert_string_equal(a.flavour, "facebook");
    assert_string_equal(a.page_id, "1122334455");
    assert_null(a.token_enc);
    store_account_clear(&a);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM accounts"), 1);
    /* created may be NULL */
    assert_int_equal(store_account_upsert(c, OTHER, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM accounts"), 2);
    store_release(c);
}

static void test_store_accounts_upsert_reactivates(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_account_upsert(c, ACCT, "Shop", NULL, NULL, SEALED, T0, NULL, &err), 0);
    assert_int_equal(store_account_set_status(c, ACCT, "needs_reauth",
                                              "graph error 190/463: token expired", T0 + 1, &err),
                     0);
    assert_int_equal(store_account_throttle(c, ACCT, T0 + 60000, 3, T0 + 2, &err), 0);
    struct store_account a;
    load(c, ACCT, &a);
    assert_string_equal(a.status, "needs_reauth");
    assert_string_equal(a.status_reason, "graph error 190/463: token expired");
    assert_int_equal(a.throttled_until, T0 + 60000);
    assert_int_equal(a.throttle_level, 3);
    store_account_clear(&a);

    /* re-authentication: a new token, active again, reason and throttling gone */
    assert_int_equal(store_account_upsert(c, ACCT, "Shop", NULL, NULL, "bmV3", T0 + 3, NULL, &err),
                     0);
    load(c, ACCT, &a);
    assert_string_equal(a.status, "active");
    assert_null(a.status_reason);
    assert_int_equal(a.throttled_until, 0);
    assert_int_equal(a.throttle_level, 0);
    assert_string_equal(a.token_enc, "bmV3");
    store_account_clear(&a);
    store_release(c);
}

static void test_store_accounts_rejects_bad_input(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    char long_id[70];
    memset(long_id, '7', 65);
    long_id[65] = '\0';
    assert_int_equal(store_account_upsert(c, long_id, NULL, NULL, NULL, NULL, T0, NULL, &err),
                     DK_EINVAL);
    assert_int_equal(store_account_upsert(c, "", NULL, NULL, NULL, NULL, T0, NULL, &err),
                     DK_EINVAL);
    assert_int_equal(store_account_upsert(c, ACCT, NULL, "messenger", NULL, NULL, T0, NULL, &err),
                     DK_EINVAL);
    char long_name[300];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    assert_int_equal(store_account_upsert(c, ACCT, long_name, NULL, NULL, NULL, T0, NULL, &err),
                     DK_EINVAL);
    assert_int_equal(store_account_upsert(c, ACCT, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_account_set_status(c, ACCT, "sleeping", NULL, T0, &err), DK_EINVAL);
    struct dbtest *t = *state;
    assert_int_equal(dbtest_int(t->store, "SELECT count(*) FROM accounts"), 1);
    store_release(c);
}

static void test_store_accounts_load_unknown(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    struct store_account a;
    assert_int_equal(store_account_load(c, "404", &a, &err), DK_ENOTFOUND);
    assert_string_equal(err.msg, "account 404 not found");
    assert_string_equal(a.id, "");
    assert_null(a.token_enc);
    store_account_clear(&a);
    store_release(c);
}

static void test_store_accounts_list_has_no_token(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_account_upsert(c, ACCT, "Shop", NULL, NULL, SEALED, T0, NULL, &err), 0);
    assert_int_equal(
        store_account_upsert(c, OTHER, NULL, "facebook", "99887766", NULL, T0 + 1000, NULL, &err),
        0);
    assert_int_equal(store_account_set_status(c, OTHER, "needs_reauth", "expired", T0 + 2000, &err),
                     0);
    assert_int_equal(store_account_throttle(c, OTHER, T0 + 5000, 1, T0 + 3000, &err), 0);
    json_t *rows = NULL;
    assert_int_equal(store_account_list(c, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 2);
    char *dump = dk_json_dump(rows);
    assert_null(strstr(dump, SEALED));
    assert_null(strstr(dump, "token_enc"));
    dk_free(dump);

    json_t *a = json_array_get(rows, 0); /* created first */
    assert_string_equal(json_string_value(json_object_get(a, "id")), ACCT);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "Shop");
    assert_string_equal(json_string_value(json_object_get(a, "flavour")), "instagram");
    assert_true(json_is_null(json_object_get(a, "page_id")));
    assert_true(json_is_true(json_object_get(a, "has_token")));
    assert_string_equal(json_string_value(json_object_get(a, "status")), "active");
    assert_true(json_is_null(json_object_get(a, "status_reason")));
    assert_true(json_is_null(json_object_get(a, "throttled_until")));
    assert_string_equal(json_string_value(json_object_get(a, "created_at")),
                        "2025-11-24T16:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(a, "updated_at")),
                        "2025-11-24T16:00:00.000Z");

    json_t *b = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(b, "id")), OTHER);
    assert_true(json_is_null(json_object_get(b, "name")));
    assert_string_equal(json_string_value(json_object_get(b, "flavour")), "facebook");
    assert_string_equal(json_string_value(json_object_get(b, "page_id")), "99887766");
    assert_true(json_is_false(json_object_get(b, "has_token")));
    assert_string_equal(json_string_value(json_object_get(b, "status")), "needs_reauth");
    assert_string_equal(json_string_value(json_object_get(b, "status_reason")), "expired");
    assert_string_equal(json_string_value(json_object_get(b, "throttled_until")),
                        "2025-11-24T16:00:05.000Z");
    assert_string_equal(json_string_value(json_object_get(b, "updated_at")),
                        "2025-11-24T16:00:03.000Z");
    json_decref(rows);
    store_release(c);
}

static void test_store_accounts_remove(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_account_upsert(c, ACCT, NULL, NULL, NULL, SEALED, T0, NULL, &err), 0);
    assert_int_equal(store_account_upsert(c, OTHER, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    bool found = false;
    assert_int_equal(store_account_remove(c, ACCT, &found, &err), 0);
    assert_true(found);
    assert_int_equal(store_account_remove(c, ACCT, &found, &err), 0);
    assert_false(found);
    assert_int_equal(store_account_remove(c, "never", NULL, &err), 0);
    bool exists = true;
    assert_int_equal(store_account_exists(c, ACCT, &exists, &err), 0);
    assert_false(exists);
    assert_int_equal(store_account_exists(c, OTHER, &exists, &err), 0);
    assert_true(exists);
    store_release(c);
}

static void test_store_accounts_status_and_throttle(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    assert_int_equal(store_account_set_status(c, ACCT, "disabled", NULL, T0, &err), DK_ENOTFOUND);
    assert_int_equal(store_account_throttle(c, ACCT, T0 + 1000, 1, T0, &err), DK_ENOTFOUND);
    assert_int_equal(store_account_upsert(c, ACCT, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_account_set_status(c, ACCT, "disabled", "by operator", T0, &err), 0);
    struct store_account a;
    load(c, ACCT, &a);
    assert_string_equal(a.status, "disabled");
    assert_string_equal(a.status_reason, "by operator");
    store_account_clear(&a);
    /* back to active with no reason */
    assert_int_equal(store_account_set_status(c, ACCT, "active", NULL, T0, &err), 0);
    load(c, ACCT, &a);
    assert_string_equal(a.status, "active");
    assert_null(a.status_reason);
    store_account_clear(&a);

    /* throttling steps up, then level 0 clears it whatever until says */
    assert_int_equal(store_account_throttle(c, ACCT, T0 + 1000, 1, T0, &err), 0);
    assert_int_equal(store_account_throttle(c, ACCT, T0 + 4000, 2, T0 + 1000, &err), 0);
    load(c, ACCT, &a);
    assert_int_equal(a.throttled_until, T0 + 4000);
    assert_int_equal(a.throttle_level, 2);
    store_account_clear(&a);
    assert_int_equal(store_account_throttle(c, ACCT, T0 + 9000, 0, T0 + 5000, &err), 0);
    load(c, ACCT, &a);
    assert_int_equal(a.throttled_until, 0);
    assert_int_equal(a.throttle_level, 0);
    assert_string_equal(a.status, "active"); /* throttling leaves the status alone */
    store_account_clear(&a);
    store_release(c);
}

static void test_store_accounts_count_and_exists(void **state)
{
    struct store_conn *c = dbtest_conn(state);
    struct dk_err err = {0};
    int64_t n = -1;
    assert_int_equal(store_account_count(c, &n, &err), 0);
    assert_int_equal(n, 0);
    bool exists = true;
    assert_int_equal(store_account_exists(c, ACCT, &exists, &err), 0);
    assert_false(exists);
    assert_int_equal(store_account_upsert(c, ACCT, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_account_upsert(c, OTHER, NULL, NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_account_upsert(c, ACCT, "again", NULL, NULL, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_account_count(c, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_account_exists(c, ACCT, &exists, &err), 0);
    assert_true(exists);
    /* ids that cannot be stored simply do not exist */
    assert_int_equal(store_account_exists(c, "", &exists, &err), 0);
    assert_false(exists);
    assert_int_equal(store_account_exists(c, "1784140582230491", &exists, &err), 0);
    assert_false(exists);
    store_release(c);
}

#define T(f) cmocka_unit_test_setup(f, dbtest_clean)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_accounts_upsert_creates_then_updates),
        T(test_store_accounts_upsert_reactivates),
        T(test_store_accounts_rejects_bad_input),
        T(test_store_accounts_load_unknown),
        T(test_store_accounts_list_has_no_token),
        T(test_store_accounts_remove),
        T(test_store_accounts_status_and_throttle),
        T(test_store_accounts_count_and_exists),
    };
    int failed = cmocka_run_group_tests_name("store_accounts_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("store_accounts_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    return failed;
}
