/*
 * dbtest: cmocka fixtures that run a test against both backends. A group's setup opens the
 * store (SQLite file or a fresh PostgreSQL database from pgtest) and migrates it; each test's
 * setup empties every table, so tests see a clean database without paying a new one each.
 */
#ifndef DBTEST_H
#define DBTEST_H

#include "store/store.h"

struct dbtest {
    struct store *store;
    const char *backend; /* "sqlite" or "postgres" */
};

/* Group setups / teardown for cmocka_run_group_tests_name; *state becomes a struct dbtest. */
int dbtest_group_sqlite(void **state);
int dbtest_group_postgres(void **state);
int dbtest_group_teardown(void **state);
/* Per-test setup: deletes every row of every table. */
int dbtest_clean(void **state);
/* A connection of the group's store (release with store_release); fails the test when there
 * is none. */
struct store_conn *dbtest_conn(void **state);

/* Runs SQL on a fresh connection and returns the first column of the first row as an integer
 * (or -1 when there is no row). Fails the test on error. */
long long dbtest_int(struct store *s, const char *sql);
/* Same with one text parameter. */
long long dbtest_int1(struct store *s, const char *sql, const char *p1);

/* Reads $DIREKT_FIXTURES/instagram/NAME into a new buffer (dk_free), failing the test when
 * missing. */
char *dbtest_fixture(const char *name, size_t *len);

#endif
