/* dbtest: both-backend cmocka fixtures (see dbtest.h). */
#include "dbtest.h"
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "pgtest.h"

static int open_group(void **state, const char *url, const char *backend)
{
    if (url == NULL) {
        fprintf(stderr, "dbtest: no %s database for the tests\n", backend);
        return -1;
    }
    struct dbtest *t = dk_calloc(1, sizeof(*t));
    struct dk_err err = {0};
    struct store_opts opts = {.pool_max = 8, .busy_timeout_ms = 5000, .connect_timeout_s = 3};
    if (store_open(url, &opts, &t->store, &err) != 0 || store_migrate(t->store, NULL, &err) != 0) {
        fprintf(stderr, "dbtest: could not open %s: %s\n", url, err.msg);
        dk_free(t);
        return -1;
    }
    t->backend = backend;
    *state = t;
    return 0;
}

int dbtest_group_sqlite(void **state)
{
    return open_group(state, pgtest_sqlite_url(), "sqlite");
}

int dbtest_group_postgres(void **state)
{
    if (pgtest_skip_pg()) {
        return open_group(state, pgtest_sqlite_url(), "sqlite (PostgreSQL skipped)");
    }
    return open_group(state, pgtest_url(), "postgres");
}

int dbtest_group_teardown(void **state)
{
    struct dbtest *t = *state;
    if (t != NULL) {
        store_close(t->store);
        dk_free(t);
    }
    return 0;
}

int dbtest_clean(void **state)
{
    struct dbtest *t = *state;
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(t->store, &err);
    if (c == NULL) {
        fprintf(stderr, "dbtest: %s\n", err.msg);
        return -1;
    }
    static const char *const deletes[] = {
        "DELETE FROM message_events",  "DELETE FROM messages",     "DELETE FROM conversations",
        "DELETE FROM users",           "DELETE FROM jobs",         "DELETE FROM leases",
        "DELETE FROM webhook_events",  "DELETE FROM api_tokens",   "DELETE FROM settings",
        "DELETE FROM agent_plans",     "DELETE FROM nlu_examples", "DELETE FROM nlu_intents",
        "DELETE FROM nlu_models",      "DELETE FROM knowledge",    "DELETE FROM ai_calls",
        "DELETE FROM ai_settings",     "DELETE FROM accounts",     "DELETE FROM imports",
        "DELETE FROM comment_replies", "DELETE FROM comment_rules"};
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
        if (store_query(c, deletes[i], 0, NULL, NULL, &err) != 0) {
            fprintf(stderr, "dbtest: %s\n", err.msg);
            store_release(c);
            return -1;
        }
    }
    store_release(c);
    return 0;
}

struct store_conn *dbtest_conn(void **state)
{
    struct dbtest *t = *state;
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(t->store, &err);
    if (c == NULL) {
        fail_msg("dbtest: no connection: %s", err.msg);
    }
    return c;
}

long long dbtest_int1(struct store *s, const char *sql, const char *p1)
{
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    assert_non_null(c);
    struct store_res *r = NULL;
    const char *p[] = {p1};
    int rc = store_query(c, sql, p1 != NULL ? 1 : 0, p, &r, &err);
    if (rc != 0) {
        fprintf(stderr, "dbtest: %s: %s\n", sql, err.msg);
    }
    assert_int_equal(rc, 0);
    long long v = store_res_rows(r) > 0 ? store_res_int(r, 0, 0, -1) : -1;
    store_res_free(r);
    store_release(c);
    return v;
}

long long dbtest_int(struct store *s, const char *sql)
{
    return dbtest_int1(s, sql, NULL);
}

char *dbtest_fixture(const char *name, size_t *len)
{
    return test_fixture("instagram", name, len);
}
