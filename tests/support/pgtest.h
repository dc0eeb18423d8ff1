/*
 * pgtest: databases for test programs. A fresh PostgreSQL database, on a server named by
 * DIREKT_TEST_PG_URL or on a private throw-away cluster (tests/support/pg-cluster, found through
 * DIREKT_SOURCE, which ctest sets), and fresh SQLite files.
 *
 * Free of cmocka, so any test program or tool can use it. Call from the main thread only.
 * Everything it creates (clusters, databases on a shared server, files) is removed at exit;
 * a private cluster is also stopped by a watchdog if the program dies without exiting.
 *
 * When PostgreSQL is unavailable the functions return NULL after printing why on stderr; a
 * test must then fail, not skip, unless pgtest_skip_pg() (DIREKT_SKIP_PG=1) says to skip.
 */
#ifndef PGTEST_H
#define PGTEST_H

#include <stdbool.h>

/* URL of a fresh, empty database for this program (created on the first call; later calls
 * return the same URL). On DIREKT_TEST_PG_URL (a URL to an existing server's maintenance
 * database) a uniquely named database is created and dropped at exit; otherwise a private
 * cluster is started. NULL when PostgreSQL cannot be reached or DIREKT_SKIP_PG=1. Owned here. */
const char *pgtest_url(void);

/* True when DIREKT_SKIP_PG=1: PostgreSQL tests skip instead of failing. */
bool pgtest_skip_pg(void);

/* URL ("postgresql:///postgres?host=DIR&user=postgres") of this program's private cluster,
 * started on the first call (always private, whatever DIREKT_TEST_PG_URL says), or NULL. */
const char *pgtest_cluster_url(void);
/* Stops / starts the private cluster again (outage tests). 0, or -1 after printing why. */
int pgtest_cluster_stop(void);
int pgtest_cluster_start(void);

/* A new "sqlite:/tmp/…/N.db" URL on each call: a file that does not exist yet. Owned here. */
const char *pgtest_sqlite_url(void);

#endif
