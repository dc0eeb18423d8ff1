/*
 * test_store: the storage interface against both backends. The same tests run as two cmocka
 * groups, one on a fresh SQLite file and one on a fresh PostgreSQL database from pgtest (a
 * private cluster unless DIREKT_TEST_PG_URL names a server). The first test migrates the empty
 * database; the others use the schema with keys of their own. Worker threads never call
 * cmocka: they count failures for the main thread to check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/log.h"
#include "pgtest.h"
#include "store/store.h"

struct backend {
    const char *url; /* NULL: PostgreSQL unavailable and DIREKT_SKIP_PG=1 */
    bool pg;
};

static struct backend *backend_of(void **state)
{
    struct backend *b = *state;
    if (b->url == NULL) {
        skip();
    }
    return b;
}

static struct store *open_store(const char *url, const struct store_opts *opts)
{
    struct store *s = NULL;
    struct dk_err err = {0};
    int rc = store_open(url, opts, &s, &err);
    if (rc != 0) {
        fail_msg("store_open: %s", err.msg);
    }
    return s;
}

static struct store_conn *acquire(struct store *s)
{
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    if (c == NULL) {
        fail_msg("store_acquire: %s", err.msg);
    }
    return c;
}

/* Runs sql, failing the test on error; returns the result (caller frees). */
static struct store_res *q(struct store_conn *c, const char *sql, int n, const char *const *p)
{
    struct store_res *r = NULL;
    struct dk_err err = {0};
    int rc = store_query(c, sql, n, p, &r, &err);
    if (rc != 0) {
        fail_msg("store_query \"%s\": %s (%d)", sql, err.msg, rc);
    }
    return r;
}

static void q_ok(struct store_conn *c, const char *sql, int n, const char *const *p)
{
    store_res_free(q(c, sql, n, p));
}

/* The first value of a query as an integer (-1 for NULL). */
static int64_t q_int(struct store_conn *c, const char *sql, int n, const char *const *p)
{
    struct store_res *r = q(c, sql, n, p);
    int64_t v = store_res_int(r, 0, 0, -1);
    store_res_free(r);
    return v;
}

static int64_t user_count(struct store_conn *c, const char *instagram_id)
{
    const char *p[] = {instagram_id};
    return q_int(c, "SELECT COUNT(*) FROM users WHERE instagram_id = $1", 1, p);
}

static int insert_user(struct store_conn *c, const char *instagram_id, struct dk_err *err)
{
    const char *p[] = {instagram_id};
    return store_query(c, "INSERT INTO users (instagram_id) VALUES ($1)", 1, p, NULL, err);
}

/* ---- tests ---- */

struct migrator {
    const char *url;
    int applied;
    int rc;
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct store *s = NULL;
    m->rc = store_open(m->url, NULL, &s, NULL);
    if (m->rc == 0) {
        m->rc = store_migrate(s, &m->applied, NULL);
        store_close(s);
    }
    return NULL;
}

static void test_store_migrate(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    int version = -1, applied = -1;
    assert_int_equal(store_schema_version(s, &version, NULL), 0);
    assert_int_equal(version, 0);

    /* Two processes' worth of migrators at once: each migration is applied exactly once. */
    struct migrator m[2] = {{.url = b->url}, {.url = b->url}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, migrate_thread, &m[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(m[i].rc, 0);
    }
    int total = m[0].applied + m[1].applied;
    assert_true(total >= 1);
    assert_int_equal(store_schema_version(s, &version, NULL), 0);
    assert_int_equal(version, total); /* versions are 1..n */
    assert_int_equal(version, 4);     /* today: 001_init, 002_nlu, 003_ai, 004_instagram */

    assert_int_equal(store_migrate(s, &applied, NULL), 0);
    assert_int_equal(applied, 0);
    struct store_conn *c = acquire(s);
    assert_int_equal(q_int(c, "SELECT COUNT(*) FROM users", 0, NULL), 0);
    struct store_res *r = q(c, "SELECT name FROM schema_migrations WHERE version = 1", 0, NULL);
    assert_string_equal(store_res_get(r, 0, 0), "001_init");
    store_res_free(r);
    store_release(c);
    store_close(s);
}

static void test_store_open_bad_url(void **state)
{
    struct backend *b = backend_of(state);
    const char *bad[] = {
        "", "mysql://x/y", "sqlite:", "postgres://[::1", "postgresql://h/d?bogus=1", "sqlite"};
    struct store *s = NULL;
    struct dk_err err = {0};
    assert_int_equal(store_open(NULL, NULL, &s, &err), DK_EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(store_open(bad[i], NULL, &s, &err), DK_EINVAL);
        assert_null(s);
        assert_int_equal(err.code, DK_EINVAL);
    }
    /* Lazy: a URL to nothing opens, and acquiring reports the database unavailable. */
    const char *down = b->pg ? "postgresql:///x?host=/nonexistent-direkt&user=postgres"
                             : "sqlite:/nonexistent-direkt/dir/x.db";
    s = open_store(down, NULL);
    assert_int_equal(store_dialect(s), b->pg ? STORE_POSTGRES : STORE_SQLITE);
    assert_null(store_acquire(s, &err));
    assert_int_equal(err.code, DK_EUNAVAIL);
    store_close(s);

    s = open_store("postgres://alice:s3cret@db.example:5432/direkt?sslmode=require&password=p2",
                   NULL);
    assert_string_equal(store_url_redacted(s),
                        "postgres://alice:***@db.example:5432/direkt?sslmode=require&password=***");
    store_close(s);
    s = open_store("postgresql://bob:p@ss@/direkt?host=/tmp&password=x#f", NULL);
    assert_string_equal(store_url_redacted(s),
                        "postgresql://bob:***@/direkt?host=/tmp&password=***#f");
    store_close(s);
    s = open_store("postgres:///direkt?password=secret&host=/tmp", NULL);
    assert_string_equal(store_url_redacted(s), "postgres:///direkt?password=***&host=/tmp");
    store_close(s);
    s = open_store(b->url, NULL);
    assert_null(strstr(store_url_redacted(s), "***"));
    store_close(s);
}

static void test_store_params(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    assert_int_equal(store_conn_dialect(c), b->pg ? STORE_POSTGRES : STORE_SQLITE);

    /* A 17-digit id binds as an integer on SQLite and must come back as the same text. */
    const char *p[] = {"17841400000000001", NULL, "Иван Петров 🎉",
                       "{\"name\": \"Иван\", \"emoji\": \"🚀\", \"n\": 5}"};
    struct store_res *r = q(c,
                            "INSERT INTO users (instagram_id, username, full_name, profile_data) "
                            "VALUES ($1, $2, $3, $4) RETURNING id",
                            4, p);
    assert_int_equal(store_res_affected(r), 1);
    assert_true(store_res_int(r, 0, 0, 0) > 0);
    store_res_free(r);

    r = q(c,
          "SELECT username, full_name, profile_data->>'name', profile_data->>'emoji', "
          "instagram_id, profile_data->>'n' FROM users WHERE instagram_id = $1",
          1, p);
    assert_int_equal(store_res_rows(r), 1);
    assert_int_equal(store_res_cols(r), 6);
    assert_string_equal(store_res_colname(r, 0), "username");
    assert_null(store_res_get(r, 0, 0));
    assert_string_equal(store_res_get(r, 0, 1), "Иван Петров 🎉");
    assert_string_equal(store_res_get(r, 0, 2), "Иван");
    assert_string_equal(store_res_get(r, 0, 3), "🚀");
    assert_string_equal(store_res_get(r, 0, 4), "17841400000000001");
    assert_int_equal(store_res_int(r, 0, 5, 0), 5);
    assert_int_equal(store_res_int(r, 0, 0, 42), 42); /* NULL */
    assert_int_equal(store_res_int(r, 0, 1, 42), 42); /* not a number */
    assert_null(store_res_get(r, 1, 0));
    assert_null(store_res_get(r, 0, 6));
    assert_null(store_res_colname(r, 6));
    assert_int_equal(store_res_affected(r), 0);
    store_res_free(r);

    /* Parameters out of order, repeated, and NULL in a comparison; leading zeros stay text. */
    const char *p2[] = {"Иван Петров 🎉", "17841400000000001"};
    assert_int_equal(q_int(c,
                           "SELECT COUNT(*) FROM users WHERE instagram_id = $2 AND full_name = $1 "
                           "AND (username IS NULL OR username = $1)",
                           2, p2),
                     1);
    const char *p3[] = {"007123"};
    r = q(c, "INSERT INTO users (instagram_id) VALUES ($1) RETURNING instagram_id", 1, p3);
    assert_string_equal(store_res_get(r, 0, 0), "007123");
    store_res_free(r);

    /* Integers: large, negative, and past 18 digits (bound as text, converted by the column). */
    const char *pj[] = {"1764205323456", "-5", "9223372036854775807"};
    r = q(c,
          "INSERT INTO jobs (kind, run_at, created_at, updated_at) VALUES ('t', $1, $2, $3) "
          "RETURNING run_at, created_at, updated_at, attempts",
          3, pj);
    assert_int_equal(store_res_int(r, 0, 0, 0), 1764205323456LL);
    assert_int_equal(store_res_int(r, 0, 1, 0), -5);
    assert_string_equal(store_res_get(r, 0, 2), "9223372036854775807");
    assert_int_equal(store_res_int(r, 0, 2, 0), INT64_MAX);
    assert_int_equal(store_res_int(r, 0, 3, -1), 0);
    store_res_free(r);
    assert_int_equal(q_int(c, "SELECT COUNT(*) FROM jobs WHERE run_at = $1", 1, pj), 1);

    const char *pd[] = {"0.75"};
    r = q(c, "SELECT CAST($1 AS REAL)", 1, pd);
    assert_true(store_res_double(r, 0, 0, 0) == 0.75);
    assert_true(store_res_double(r, 1, 0, -1) == -1);
    store_res_free(r);

    /* Affected rows: UPDATE counts changed rows, a skipped insert none. */
    const char *pu[] = {"17841400000000001", "007123"};
    r = q(c, "UPDATE users SET username = 'u' WHERE instagram_id IN ($1, $2)", 2, pu);
    assert_int_equal(store_res_affected(r), 2);
    store_res_free(r);
    r = q(c, "INSERT INTO users (instagram_id) VALUES ($1) ON CONFLICT DO NOTHING", 1, pu);
    assert_int_equal(store_res_affected(r), 0);
    store_res_free(r);

    /* Misuse is an error, not a crash: wrong parameter count, two statements. */
    struct dk_err err = {0};
    assert_int_equal(store_query(c, "SELECT $1, $2", 1, pu, NULL, &err), DK_EINTERNAL);
    assert_int_equal(store_query(c, "SELECT 1; SELECT 2", 0, NULL, NULL, &err), DK_EINTERNAL);
    assert_int_equal(q_int(c, "SELECT 7", 0, NULL), 7);
    store_release(c);
    store_close(s);
}

static void test_store_conflict(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    struct dk_err err = {0};

    assert_int_equal(store_begin(c, &err), 0);
    assert_true(store_in_tx(c));
    assert_int_equal(store_begin(c, &err), DK_EINTERNAL); /* already open */
    assert_int_equal(insert_user(c, "conflict-1", &err), 0);
    assert_int_equal(insert_user(c, "conflict-1", &err), DK_ECONFLICT);
    assert_int_equal(err.code, DK_ECONFLICT);
    assert_int_equal(err.status, 409);
    store_rollback(c);
    assert_false(store_in_tx(c));
    assert_int_equal(user_count(c, "conflict-1"), 0);

    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(insert_user(c, "conflict-2", &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
    assert_int_equal(store_commit(c, &err), DK_EINTERNAL); /* none open */
    assert_int_equal(user_count(c, "conflict-2"), 1);

    /* After a failed statement PostgreSQL has aborted the transaction, and COMMIT says so;
     * SQLite undid only the statement and commits the rest. */
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(insert_user(c, "conflict-3", &err), 0);
    assert_int_equal(insert_user(c, "conflict-2", &err), DK_ECONFLICT);
    assert_int_equal(store_commit(c, &err), b->pg ? DK_EINTERNAL : 0);
    assert_false(store_in_tx(c));
    assert_int_equal(user_count(c, "conflict-3"), b->pg ? 0 : 1);

    /* Outside a transaction, and a foreign key. */
    assert_int_equal(insert_user(c, "conflict-2", &err), DK_ECONFLICT);
    const char *p[] = {"0190f3a0-0000-7000-8000-00000000c0f1", "999999999"};
    assert_int_equal(store_query(c,
                                 "INSERT INTO conversations (id, user_id, account_id) "
                                 "VALUES ($1, $2, 'acct')",
                                 2, p, NULL, &err),
                     DK_ECONFLICT);
    assert_int_equal(user_count(c, "conflict-2"), 1);

    /* Any other SQL error is internal, with the database's reason. */
    assert_int_equal(store_query(c, "SELECT nope FROM users", 0, NULL, NULL, &err), DK_EINTERNAL);
    assert_non_null(strstr(err.msg, "nope"));
    store_release(c);
    store_close(s);
}

static void test_store_savepoint(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    struct dk_err err = {0};

    assert_int_equal(store_savepoint(c, "sp1", &err), DK_EINTERNAL); /* no transaction */
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(insert_user(c, "sp-a", &err), 0);
    assert_int_equal(store_savepoint(c, "sp1", &err), 0);
    assert_int_equal(insert_user(c, "sp-b", &err), 0);
    assert_int_equal(insert_user(c, "sp-a", &err), DK_ECONFLICT); /* aborts PostgreSQL's tx */
    assert_int_equal(store_savepoint_rollback(c, "sp1", &err), 0);
    assert_int_equal(insert_user(c, "sp-c", &err), 0);
    assert_int_equal(store_savepoint(c, "sp_2", &err), 0);
    assert_int_equal(store_savepoint_release(c, "sp_2", &err), 0);
    assert_int_equal(store_savepoint(c, "x; DROP TABLE users", &err), DK_EINVAL);
    assert_int_equal(store_savepoint(c, "", &err), DK_EINVAL);
    assert_int_equal(store_commit(c, &err), 0);

    assert_int_equal(user_count(c, "sp-a"), 1);
    assert_int_equal(user_count(c, "sp-b"), 0);
    assert_int_equal(user_count(c, "sp-c"), 1);
    store_release(c);
    store_close(s);
}

static void test_store_release_rolls_back(void **state)
{
    struct backend *b = backend_of(state);
    struct store_opts opts = {.pool_max = 1};
    struct store *s = open_store(b->url, &opts);
    struct store_conn *c = acquire(s);
    assert_int_equal(store_begin(c, NULL), 0);
    assert_int_equal(insert_user(c, "released-1", NULL), 0);
    store_release(c);
    c = acquire(s); /* the same connection: pool of one */
    assert_false(store_in_tx(c));
    assert_int_equal(user_count(c, "released-1"), 0);
    store_release(c);
    store_release(NULL);
    store_close(s);
}

static void test_store_durability(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    assert_int_equal(store_begin(c, NULL), 0);
    assert_int_equal(insert_user(c, "durable-1", NULL), 0);
    assert_int_equal(store_commit(c, NULL), 0);
    assert_int_equal(store_begin(c, NULL), 0);
    assert_int_equal(insert_user(c, "durable-2", NULL), 0);
    store_release(c); /* never committed */
    store_close(s);

    s = open_store(b->url, NULL);
    c = acquire(s);
    assert_int_equal(user_count(c, "durable-1"), 1);
    assert_int_equal(user_count(c, "durable-2"), 0);
    store_release(c);
    store_close(s);
}

static void test_store_exec_script(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    struct dk_err err = {0};
    assert_int_equal(store_exec_script(c,
                                       "CREATE TABLE script_t (a INTEGER);\n"
                                       "INSERT INTO script_t VALUES (1);\n"
                                       "INSERT INTO script_t VALUES (2);\n",
                                       &err),
                     0);
    assert_int_equal(q_int(c, "SELECT SUM(a) FROM script_t", 0, NULL), 3);
    assert_int_equal(store_exec_script(c, "SELECT * FROM no_such_table", &err), DK_EINTERNAL);
    store_release(c);
    store_close(s);
}

#define THREADS    4
#define INCREMENTS 100

struct counter_arg {
    struct store *s;
    int failures;
    char first_error[sizeof(((struct dk_err *)0)->msg)];
};

static void *counter_thread(void *arg)
{
    struct counter_arg *a = arg;
    for (int i = 0; i < INCREMENTS; i++) {
        struct dk_err err = {0};
        struct store_conn *c = store_acquire(a->s, &err);
        struct store_res *r = NULL;
        int rc = c != NULL ? store_begin(c, &err) : -1;
        if (rc == 0) {
            rc = store_query(c,
                             "UPDATE leases SET expires_at = expires_at + 1 WHERE name = 'counter' "
                             "RETURNING expires_at",
                             0, NULL, &r, &err);
        }
        if (rc == 0) {
            /* Each value may be seen once: a duplicate would be a lost update (conflict). */
            const char *p[] = {store_res_get(r, 0, 0)};
            rc = store_query(c, "INSERT INTO message_events (dedupe_key, kind) VALUES ($1, 'ctr')",
                             1, p, NULL, &err);
        }
        store_res_free(r);
        if (rc == 0) {
            rc = store_commit(c, &err);
        }
        if (rc != 0 && a->failures++ == 0) {
            snprintf(a->first_error, sizeof(a->first_error), "%s", err.msg);
        }
        store_release(c);
    }
    return NULL;
}

static void test_store_concurrent(void **state)
{
    struct backend *b = backend_of(state);
    struct store_opts opts = {.pool_max = THREADS};
    struct store *s = open_store(b->url, &opts);
    struct store_conn *c = acquire(s);
    q_ok(c, "INSERT INTO leases (name, holder, expires_at) VALUES ('counter', 'test', 0)", 0, NULL);
    store_release(c);

    struct counter_arg args[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct counter_arg){.s = s};
        pthread_create(&t[i], NULL, counter_thread, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (args[i].failures != 0) {
            fail_msg("%d failures, first: %s", args[i].failures, args[i].first_error);
        }
    }
    c = acquire(s);
    assert_int_equal(q_int(c, "SELECT expires_at FROM leases WHERE name = 'counter'", 0, NULL),
                     THREADS * INCREMENTS);
    assert_int_equal(q_int(c, "SELECT COUNT(*) FROM message_events WHERE kind = 'ctr'", 0, NULL),
                     THREADS * INCREMENTS);
    store_release(c);
    store_close(s);
}

struct late_release {
    struct store_conn *c;
};

static void *release_later(void *arg)
{
    struct late_release *l = arg;
    dk_sleep_ms(150);
    store_release(l->c);
    return NULL;
}

static void test_store_pool_wait(void **state)
{
    struct backend *b = backend_of(state);
    struct store_opts opts = {.pool_max = 2, .busy_timeout_ms = 300};
    struct store *s = open_store(b->url, &opts);
    struct store_conn *c1 = acquire(s), *c2 = acquire(s);
    struct dk_err err = {0};
    int64_t t0 = dk_mono_ms();
    assert_null(store_acquire(s, &err));
    int64_t waited = dk_mono_ms() - t0;
    assert_int_equal(err.code, DK_EUNAVAIL);
    assert_true(waited >= 290 && waited < 3000);
    store_release(c2);
    store_release(c1);
    store_close(s);

    /* A connection released while a thread waits goes to that thread. */
    opts = (struct store_opts){.pool_max = 1};
    s = open_store(b->url, &opts);
    struct late_release l = {.c = acquire(s)};
    pthread_t t;
    pthread_create(&t, NULL, release_later, &l);
    t0 = dk_mono_ms();
    struct store_conn *c3 = acquire(s);
    waited = dk_mono_ms() - t0;
    pthread_join(t, NULL);
    assert_ptr_equal(c3, l.c);
    assert_true(waited >= 100);
    store_release(c3);
    store_close(s);
}

static void test_store_fault_injection(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    struct dk_err err = {0};

    store_fail_after(3);
    assert_int_equal(store_query(c, "SELECT 1", 0, NULL, NULL, &err), 0);
    assert_int_equal(store_query(c, "SELECT 1", 0, NULL, NULL, &err), 0);
    struct store_res *r = (struct store_res *)&err; /* must be reset to NULL */
    assert_int_equal(store_query(c, "SELECT 1", 0, NULL, &r, &err), DK_EUNAVAIL);
    assert_null(r);
    assert_non_null(strstr(err.msg, "injected failure"));
    assert_int_equal(store_query(c, "SELECT 1", 0, NULL, NULL, &err), 0);

    store_fail_after(1);
    store_fail_after(0); /* disarmed */
    assert_int_equal(store_query(c, "SELECT 1", 0, NULL, NULL, &err), 0);
    store_release(c);
    store_close(s);
}

static void test_store_timestamp(void **state)
{
    struct backend *b = backend_of(state);
    struct store *s = open_store(b->url, NULL);
    struct store_conn *c = acquire(s);
    const char *ts = "2026-11-27T01:02:03.456Z";
    const char *p[] = {"0190f3a0-0000-7000-8000-0000000000a1",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "{}",
                       ts};
    q_ok(c,
         "INSERT INTO webhook_events (id, body_sha256, payload, received_at) "
         "VALUES ($1, $2, $3, $4)",
         4, p);
    const char *id[] = {p[0]};
    struct store_res *r = q(c, "SELECT received_at FROM webhook_events WHERE id = $1", 1, id);
    int64_t want = 0, got = 0;
    assert_int_equal(dk_time_parse(ts, &want), 0);
    assert_non_null(store_res_get(r, 0, 0));
    assert_int_equal(dk_time_parse(store_res_get(r, 0, 0), &got), 0);
    assert_int_equal(got, want);
    store_res_free(r);

    /* Column defaults are UTC "now" in a form dk_time_parse reads. */
    assert_int_equal(insert_user(c, "ts-1", NULL), 0);
    r = q(c, "SELECT created_at FROM users WHERE instagram_id = 'ts-1'", 0, NULL);
    assert_int_equal(dk_time_parse(store_res_get(r, 0, 0), &got), 0);
    assert_true(got > dk_now_ms() - 60000 && got < dk_now_ms() + 60000);
    store_res_free(r);
    store_release(c);
    store_close(s);
}

/* One query on a fresh connection; returns its code (from acquire or the query). */
static int ping(struct store *s, struct dk_err *err)
{
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return err->code;
    }
    int rc = store_query(c, "SELECT 1", 0, NULL, NULL, err);
    store_release(c);
    return rc;
}

static void test_store_pg_restart(void **state)
{
    struct backend *b = backend_of(state);
    if (!b->pg) {
        skip();
    }
    const char *url = pgtest_cluster_url();
    assert_non_null(url);
    struct store_opts opts = {.busy_timeout_ms = 1000, .connect_timeout_s = 2};
    struct store *s = open_store(url, &opts);
    struct dk_err err = {0};
    assert_int_equal(ping(s, &err), 0); /* leaves an idle connection in the pool */
    struct store_conn *held = acquire(s);
    assert_int_equal(store_begin(held, &err), 0);

    assert_int_equal(pgtest_cluster_stop(), 0);
    assert_int_equal(store_query(held, "SELECT 1", 0, NULL, NULL, &err), DK_EUNAVAIL);
    assert_false(store_in_tx(held));
    assert_int_equal(store_commit(held, &err), DK_EUNAVAIL);
    store_release(held); /* closed, not pooled */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ping(s, &err), DK_EUNAVAIL);
    }

    assert_int_equal(pgtest_cluster_start(), 0);
    int rc = ping(s, &err);
    if (rc != 0) {
        fail_msg("after restart: %s", err.msg);
    }
    /* Idle connections that the server dropped while nobody used them are noticed on
     * acquire: the first query after a restart already works. */
    struct store_conn *c1 = acquire(s), *c2 = acquire(s);
    store_release(c1);
    store_release(c2);
    assert_int_equal(pgtest_cluster_stop(), 0);
    assert_int_equal(pgtest_cluster_start(), 0);
    c1 = acquire(s);
    c2 = acquire(s);
    assert_int_equal(store_query(c1, "SELECT 1", 0, NULL, NULL, &err), 0);
    assert_int_equal(store_query(c2, "SELECT 1", 0, NULL, NULL, &err), 0);
    store_release(c1);
    store_release(c2);
    store_close(s);
}

static void test_store_memory(void **state)
{
    struct backend *b = backend_of(state);
    if (b->pg) {
        skip();
    }
    struct store_opts opts = {.busy_timeout_ms = 100};
    struct store *s = open_store("sqlite::memory:", &opts);
    int applied = 0;
    assert_int_equal(store_migrate(s, &applied, NULL), 0);
    assert_int_equal(applied, 4);
    struct store_conn *c = acquire(s);
    assert_int_equal(insert_user(c, "mem-1", NULL), 0);
    struct dk_err err = {0};
    assert_null(store_acquire(s, &err)); /* a pool of one */
    assert_int_equal(err.code, DK_EUNAVAIL);
    store_release(c);
    c = acquire(s);
    assert_int_equal(user_count(c, "mem-1"), 1);
    store_release(c);
    store_close(s);
}

static int setup_sqlite(void **state)
{
    static struct backend b;
    b.url = pgtest_sqlite_url();
    *state = &b;
    return b.url != NULL ? 0 : -1;
}

static int setup_pg(void **state)
{
    static struct backend b = {.pg = true};
    b.url = pgtest_url();
    *state = &b;
    return b.url != NULL || pgtest_skip_pg() ? 0 : -1;
}

int main(void)
{
    const char *log = getenv("DIREKT_LOG"); /* e.g. DIREKT_LOG=debug to see the store's lines */
    if (log == NULL || dk_log_configure(log) != 0) {
        dk_log_set_level(DK_LOG_ERROR);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_migrate), /* first: the database is empty */
        cmocka_unit_test(test_store_open_bad_url),
        cmocka_unit_test(test_store_params),
        cmocka_unit_test(test_store_conflict),
        cmocka_unit_test(test_store_savepoint),
        cmocka_unit_test(test_store_release_rolls_back),
        cmocka_unit_test(test_store_durability),
        cmocka_unit_test(test_store_exec_script),
        cmocka_unit_test(test_store_concurrent),
        cmocka_unit_test(test_store_pool_wait),
        cmocka_unit_test(test_store_fault_injection),
        cmocka_unit_test(test_store_timestamp),
        cmocka_unit_test(test_store_pg_restart),
        cmocka_unit_test(test_store_memory),
    };
    int failed = cmocka_run_group_tests_name("store_sqlite", tests, setup_sqlite, NULL);
    failed += cmocka_run_group_tests_name("store_postgres", tests, setup_pg, NULL);
    return failed != 0;
}
