/*
 * store/migrate: applies the migrations compiled into the binary (store_migrations_<dialect>,
 * generated from src/store/migrations/<dialect>/NNN_name.sql) and records each in
 * schema_migrations.
 *
 * Each migration runs in its own transaction together with its schema_migrations row, so a
 * failed one leaves nothing behind. Migrators (several instances starting at once) are
 * serialised inside that transaction: PostgreSQL by a transaction-scoped advisory lock, SQLite
 * by BEGIN IMMEDIATE. The pending migration is chosen only once the lock is held, so each is
 * applied exactly once.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>

#include "core/dktime.h"
#include "core/log.h"

struct dialect_sql {
    enum store_dialect dialect;
    const struct store_migration *migrations;
    const size_t *count;
    const char *lock;   /* run first in the transaction; NULL when BEGIN locks already */
    const char *exists; /* one row when schema_migrations exists */
};

static const struct dialect_sql dialects[] = {
    {STORE_SQLITE, store_migrations_sqlite, &store_migrations_sqlite_count, NULL,
     "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"},
    /* The key is arbitrary but fixed: "direkt migrations". */
    {STORE_POSTGRES, store_migrations_postgres, &store_migrations_postgres_count,
     "SELECT pg_advisory_xact_lock(7346275821)",
     "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
     "AND tablename = 'schema_migrations'"},
};

static const char create_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                 "applied_at TEXT NOT NULL)";

static const struct dialect_sql *dialect_of(const struct store *s)
{
    for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
        if (dialects[i].dialect == store_dialect(s)) {
            return &dialects[i];
        }
    }
    DK_ASSERT(!"a dialect without migrations");
    return NULL;
}

static int max_version(struct store_conn *c, int *version, struct dk_err *err)
{
    struct store_res *r = NULL;
    int rc =
        store_query(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0, NULL, &r, err);
    if (rc == 0) {
        *version = (int)store_res_int(r, 0, 0, 0);
        store_res_free(r);
    }
    return rc;
}

/* Applies the first migration newer than the database in one transaction. *done when there
 * is none. Fails, rolled back, with the code of the statement that failed; err is not NULL. */
static int apply_next(struct store_conn *c, const struct dialect_sql *d, bool *done,
                      struct dk_err *err)
{
    *done = false;
    int version = 0;
    int rc = store_begin(c, err);
    if (rc == 0 && d->lock != NULL) {
        rc = store_query(c, d->lock, 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = store_exec_script(c, create_sql, err);
    }
    if (rc == 0) {
        rc = max_version(c, &version, err);
    }
    const struct store_migration *m = NULL;
    for (size_t i = 0; rc == 0 && m == NULL && i < *d->count; i++) {
        if (d->migrations[i].version > version) {
            m = &d->migrations[i];
        }
    }
    if (rc == 0 && m == NULL) {
        size_t n = *d->count;
        if (n > 0 && version > d->migrations[n - 1].version) {
            DK_WARN("database schema version %d is newer than this binary's %d", version,
                    d->migrations[n - 1].version);
        }
        *done = true;
        rc = store_commit(c, err);
    } else if (rc == 0) {
        rc = store_exec_script(c, m->sql, err);
        char v[16], now[DK_TIME_LEN];
        snprintf(v, sizeof(v), "%d", m->version);
        const char *params[] = {v, m->name, dk_time_format(dk_now_ms(), now)};
        if (rc == 0) {
            rc = store_query(c,
                             "INSERT INTO schema_migrations (version, name, applied_at) "
                             "VALUES ($1, $2, $3)",
                             3, params, NULL, err);
        }
        if (rc == 0) {
            rc = store_commit(c, err);
        }
        if (rc == 0) {
            DK_INFO("applied migration %s", m->name);
        }
    }
    if (rc != 0) {
        store_rollback(c);
        if (m != NULL) {
            struct dk_err inner = *err;
            dk_err_set(err, rc, "migration %s: %s", m->name, inner.msg);
        }
    }
    return rc;
}

int store_migrate(struct store *s, int *applied, struct dk_err *err)
{
    if (applied != NULL) {
        *applied = 0;
    }
    struct dk_err e;
    struct store_conn *c = store_acquire(s, &e);
    if (c == NULL) {
        return dk_err_set(err, e.code, "could not migrate: %s", e.msg);
    }
    const struct dialect_sql *d = dialect_of(s);
    int n = 0, rc = 0;
    for (bool done = false; rc == 0 && !done;) {
        rc = apply_next(c, d, &done, &e);
        n += rc == 0 && !done;
    }
    store_release(c);
    if (applied != NULL) {
        *applied = n;
    }
    return rc == 0 ? 0 : dk_err_set(err, rc, "could not migrate: %s", e.msg);
}

int store_schema_version(struct store *s, int *version, struct dk_err *err)
{
    *version = 0;
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return DK_EUNAVAIL;
    }
    struct store_res *r = NULL;
    int rc = store_query(c, dialect_of(s)->exists, 0, NULL, &r, err);
    if (rc == 0 && store_res_rows(r) > 0) {
        rc = max_version(c, version, err);
    }
    store_res_free(r);
    store_release(c);
    return rc;
}
