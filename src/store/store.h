/*
 * store: the storage interface. One API over two backends, SQLite and PostgreSQL, chosen by
 * the URL scheme ("sqlite:PATH", "sqlite::memory:", "postgres://…" / "postgresql://…").
 *
 * Design: a struct store is a database and a pool of connections (thread-safe). A thread
 * acquires a struct store_conn, uses it alone, and releases it. SQL is written once with
 * $1…$n placeholders; parameters are passed as text (NULL = SQL NULL) and each engine converts
 * them to the column's type (the SQLite backend binds canonical integers as integers).
 * Statements passed to store_query must be string literals or otherwise live for the whole
 * process: backends cache the prepared statement per connection by the text's address.
 * Results are copied out into a struct store_res that the caller frees.
 *
 * Both backends run at full durability: SQLite in WAL mode with synchronous=FULL, PostgreSQL
 * with synchronous_commit=on. store_commit returns only after the commit is durable.
 *
 * Errors map to DK_* codes: a unique/foreign-key violation → DK_ECONFLICT; the database
 * unreachable, the connection lost, or SQLite busy past the timeout → DK_EUNAVAIL (a
 * connection in that state is closed on release and reopened on the next acquire, so the
 * store recovers by itself); any other SQL error → DK_EINTERNAL. Every failure fills err.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum store_dialect { STORE_SQLITE = 1, STORE_POSTGRES = 2 };

struct store;
struct store_conn;
struct store_res;

struct store_opts {
    int pool_max;          /* most connections open at once (default 16) */
    int busy_timeout_ms;   /* SQLite busy timeout / acquire wait (default 5000) */
    int connect_timeout_s; /* PostgreSQL connect_timeout (default 3) */
};

/* Parses the URL and prepares the pool; connects lazily (so a database that is down at start
 * is not fatal here). Returns 0 or DK_EINVAL for a bad URL. *out is owned by the caller:
 * store_close. Any thread. */
int store_open(const char *url, const struct store_opts *opts, struct store **out,
               struct dk_err *err);
/* Closes every pooled connection; all connections must have been released. */
void store_close(struct store *s);
enum store_dialect store_dialect(const struct store *s);
/* The URL with any password replaced by "***", for logs. Owned by s. */
const char *store_url_redacted(const struct store *s);

/* A connection from the pool (opening one if needed, waiting up to busy_timeout_ms when
 * pool_max are in use). NULL with DK_EUNAVAIL when the database cannot be reached. */
struct store_conn *store_acquire(struct store *s, struct dk_err *err);
/* Returns c to the pool. A connection with an open transaction is rolled back first; a broken
 * one is closed. NULL is accepted. */
void store_release(struct store_conn *c);
enum store_dialect store_conn_dialect(const struct store_conn *c);

/* Transactions. store_begin takes the write lock at once on SQLite (BEGIN IMMEDIATE), so a
 * transaction never fails half-way on a lock upgrade. */
int store_begin(struct store_conn *c, struct dk_err *err);
int store_commit(struct store_conn *c, struct dk_err *err);
/* Rolls back; never fails (a broken connection is marked for closing). */
void store_rollback(struct store_conn *c);
bool store_in_tx(const struct store_conn *c);
/* Savepoints inside a transaction; name is an SQL identifier chosen by the caller. */
int store_savepoint(struct store_conn *c, const char *name, struct dk_err *err);
/* Runs fn(arg, true) right after the open transaction commits, or fn(arg, false) when it (or
 * the savepoint fn was registered under) rolls back or the commit fails: for effects that must
 * not happen before the data they follow is durable (a Graph call after its attempt is
 * recorded). Hooks run on the calling thread, in registration order, with no transaction open.
 * Outside a transaction fn(arg, true) runs at once. */
void store_after_commit(struct store_conn *c, void (*fn)(void *arg, bool committed), void *arg);
int store_savepoint_release(struct store_conn *c, const char *name, struct dk_err *err);
int store_savepoint_rollback(struct store_conn *c, const char *name, struct dk_err *err);

/* Runs one statement with nparams text parameters. *res (when res is not NULL) receives the
 * rows (empty for statements without rows); caller frees with store_res_free. */
int store_query(struct store_conn *c, const char *sql, int nparams, const char *const *params,
                struct store_res **res, struct dk_err *err);
/* Runs a script of several statements without parameters (migrations). */
int store_exec_script(struct store_conn *c, const char *sql, struct dk_err *err);

size_t store_res_rows(const struct store_res *r);
size_t store_res_cols(const struct store_res *r);
/* Rows changed by an INSERT/UPDATE/DELETE (with or without RETURNING). */
int64_t store_res_affected(const struct store_res *r);
/* The value as text, or NULL for SQL NULL or out of range. Owned by r. */
const char *store_res_get(const struct store_res *r, size_t row, size_t col);
/* The value parsed as an integer, or dflt for NULL/non-numbers. */
int64_t store_res_int(const struct store_res *r, size_t row, size_t col, int64_t dflt);
double store_res_double(const struct store_res *r, size_t row, size_t col, double dflt);
const char *store_res_colname(const struct store_res *r, size_t col);
void store_res_free(struct store_res *r);

/* Applies every migration compiled into the binary for this dialect that is not yet recorded
 * in schema_migrations, each in its own transaction, in order. Concurrent migrators are
 * serialised (advisory lock / write lock). *applied (may be NULL) gets how many ran. */
int store_migrate(struct store *s, int *applied, struct dk_err *err);
/* The highest applied migration version, or 0. */
int store_schema_version(struct store *s, int *version, struct dk_err *err);

/* Test hook: makes the Nth following store_query call (counting from 1) on any connection fail
 * with DK_EUNAVAIL; 0 disables. Used by failure tests only. */
void store_fail_after(int n);

#endif
