/*
 * store/sqlite: the SQLite backend (URL "sqlite:PATH", relative or absolute, or
 * "sqlite::memory:").
 *
 * Each connection runs in WAL mode with synchronous=FULL, foreign keys on and a busy timeout;
 * transactions start with BEGIN IMMEDIATE so that writers queue on the lock up front (threads
 * of this process queue before that on the store's write turn, see store.c; the busy timeout
 * covers other processes). An in-memory database exists only inside its connection, so its
 * pool holds one connection (threads take turns; a thread must not hold one and wait for a
 * second). Two process-wide SQLite settings are made before the first connection opens (see
 * configure_sqlite).
 *
 * Statements are prepared once per connection and cached by the address of their SQL text,
 * with the map from $N to SQLite's parameter index worked out at prepare time: a query then
 * costs no allocation but the result. Parameters are bound without copying (SQLITE_STATIC:
 * they live until the call returns, and the statement is reset and its bindings cleared before
 * it returns). Rows are gathered in per-connection scratch buffers and copied out in one block.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

#define PARAM_MAX      32766      /* SQLite's own limit on parameters */
#define SCRATCH_KEEP   (1u << 20) /* scratch text kept between queries */
#define SCRATCH_KEEP_N (1u << 16) /* scratch offsets kept between queries */

struct sqlite_stmt {
    sqlite3_stmt *stmt;
    char *text; /* copy of the SQL: an address reused for another text is re-prepared */
    int nmap;   /* highest N of the $N in the statement */
    int map[];  /* map[N - 1]: SQLite's index of $N, 0 when the statement does not use it */
};

struct sqlite_conn {
    struct store_conn base;
    sqlite3 *db;
    struct store_stmt_cache cache;
    uint32_t *off; /* scratch: offsets of the result being gathered */
    size_t noff;
    size_t offcap;
    struct dk_buf text; /* scratch: its names and values */
};

static int fail(struct sqlite_conn *c, int rc, const char *what, struct dk_err *err)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return dk_err_set(err, DK_ECONFLICT, "%s: %s", what, sqlite3_errmsg(c->db));
    default:
        break;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        return dk_err_set(err, DK_EUNAVAIL, "%s: %s", what, sqlite3_errmsg(c->db));
    }
    return dk_err_set(err, DK_EINTERNAL, "%s: %s", what, sqlite3_errmsg(c->db));
}

static int check_target(const char *target, struct store_opts *opts, struct dk_err *err)
{
    if (target[0] == '\0') {
        return dk_err_set(err, DK_EINVAL, "invalid database URL: sqlite: needs a path");
    }
    /* An in-memory database lives in its one connection: the pool holds just that one (threads
     * take turns), and SQLite connections are closed only by store_close. */
    if (strcmp(target, ":memory:") == 0) {
        opts->pool_max = 1;
    }
    return 0;
}

static void stmt_free(void *p)
{
    struct sqlite_stmt *st = p;
    if (st != NULL) {
        sqlite3_finalize(st->stmt);
        dk_free(st->text);
        dk_free(st);
    }
}

/* N of a parameter named "$N" (1..PARAM_MAX), or 0. */
static int param_number(const char *name)
{
    if (name == NULL || name[0] != '$' || name[1] < '1' || name[1] > '9') {
        return 0;
    }
    int n = 0;
    for (const char *p = name + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || n > PARAM_MAX / 10) {
            return 0;
        }
        n = n * 10 + (*p - '0');
    }
    return n <= PARAM_MAX ? n : 0;
}

static bool only_blanks(const char *s)
{
    s += strspn(s, " \t\r\n;");
    return *s == '\0';
}

static int prepare(struct sqlite_conn *c, const char *sql, struct sqlite_stmt **out,
                   struct dk_err *err)
{
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
        return fail(c, rc, "could not prepare statement", err);
    }
    if (stmt == NULL || !only_blanks(tail)) {
        sqlite3_finalize(stmt);
        return dk_err_set(err, DK_EINTERNAL,
                          "could not prepare statement: expected exactly one statement");
    }
    int count = sqlite3_bind_parameter_count(stmt);
    int nmap = 0;
    for (int i = 1; i <= count; i++) {
        int n = param_number(sqlite3_bind_parameter_name(stmt, i));
        if (n == 0) {
            sqlite3_finalize(stmt);
            return dk_err_set(err, DK_EINTERNAL,
                              "could not prepare statement: parameter %d is not written $N", i);
        }
        nmap = n > nmap ? n : nmap;
    }
    struct sqlite_stmt *st = dk_calloc(1, sizeof(*st) + (size_t)nmap * sizeof(int));
    st->stmt = stmt;
    st->text = dk_strdup(sql);
    st->nmap = nmap;
    for (int i = 1; i <= count; i++) {
        st->map[param_number(sqlite3_bind_parameter_name(stmt, i)) - 1] = i;
    }
    *out = st;
    return 0;
}

static int bind(struct sqlite_conn *c, struct sqlite_stmt *st, int nparams,
                const char *const *params, struct dk_err *err)
{
    if (nparams != st->nmap) {
        return dk_err_set(err, DK_EINTERNAL,
                          "could not bind parameters: %d given, the statement uses $1..$%d",
                          nparams, st->nmap);
    }
    for (int n = 0; n < nparams; n++) {
        int idx = st->map[n];
        if (idx == 0) {
            continue;
        }
        int64_t v;
        int rc;
        if (params[n] == NULL) {
            rc = sqlite3_bind_null(st->stmt, idx);
        } else if (store_canonical_int(params[n], &v)) {
            rc = sqlite3_bind_int64(st->stmt, idx, v);
        } else {
            rc = sqlite3_bind_text(st->stmt, idx, params[n], -1, SQLITE_STATIC);
        }
        if (rc != SQLITE_OK) {
            return fail(c, rc, "could not bind parameters", err);
        }
    }
    return 0;
}

static void scratch_reset(struct sqlite_conn *c)
{
    c->noff = 0;
    dk_buf_reset(&c->text);
    if (c->text.cap > SCRATCH_KEEP) {
        dk_buf_free(&c->text);
    }
    if (c->offcap > SCRATCH_KEEP_N) {
        dk_free(c->off);
        c->off = NULL;
        c->offcap = 0;
    }
}

/* Appends one value (NULL for SQL NULL) to the scratch result. */
static int scratch_add(struct sqlite_conn *c, const char *v, size_t n, struct dk_err *err)
{
    if (c->noff == c->offcap) {
        if (c->offcap >= STORE_RES_MAX_BYTES / sizeof(uint32_t)) {
            return dk_err_set(err, DK_EINTERNAL, "could not read rows: result too large");
        }
        c->offcap = c->offcap != 0 ? c->offcap * 2 : 256;
        c->off = dk_realloc(c->off, c->offcap * sizeof(uint32_t));
    }
    if (v == NULL) {
        c->off[c->noff++] = STORE_RES_NULL;
        return 0;
    }
    c->off[c->noff++] = (uint32_t)c->text.len;
    if (dk_buf_append(&c->text, v, n) != 0 || dk_buf_append(&c->text, "", 1) != 0) {
        return dk_err_set(err, DK_EINTERNAL, "could not read rows: result over %u bytes",
                          STORE_RES_MAX_BYTES);
    }
    return 0;
}

/* Steps st to the end, gathering rows when res is not NULL. */
static int run(struct sqlite_conn *c, sqlite3_stmt *stmt, struct store_res **res,
               struct dk_err *err)
{
    int cols = sqlite3_column_count(stmt);
    sqlite3_int64 before = sqlite3_total_changes64(c->db);
    size_t rows = 0;
    int rc = 0;
    for (int i = 0; res != NULL && i < cols && rc == 0; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        rc = scratch_add(c, name != NULL ? name : "", name != NULL ? strlen(name) : 0, err);
    }
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
        for (int i = 0; res != NULL && i < cols && rc == 0; i++) {
            const char *v = (const char *)sqlite3_column_text(stmt, i);
            rc = scratch_add(c, v, v != NULL ? (size_t)sqlite3_column_bytes(stmt, i) : 0, err);
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = fail(c, step, "could not run statement", err);
    }
    if (rc == 0 && res != NULL) {
        struct store_res *r = store_res_new(rows, (size_t)cols, c->text.len);
        if (c->noff > 0) {
            memcpy(r->off, c->off, c->noff * sizeof(uint32_t));
        }
        if (c->text.len > 0) {
            memcpy(r->text, c->text.data, c->text.len);
        }
        /* sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE: trust it only
         * when this statement changed something. */
        r->affected = sqlite3_total_changes64(c->db) != before ? sqlite3_changes64(c->db) : 0;
        *res = r;
    }
    if (res != NULL) {
        scratch_reset(c);
    }
    return rc;
}

static int sqlite_query(struct store_conn *base, const char *sql, int nparams,
                        const char *const *params, struct store_res **res, struct dk_err *err)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    struct sqlite_stmt *st = store_stmt_cache_get(&c->cache, sql);
    bool cached = st != NULL && strcmp(st->text, sql) == 0;
    if (!cached) {
        struct sqlite_stmt *fresh = NULL;
        int rc = prepare(c, sql, &fresh, err);
        if (rc != 0) {
            return rc;
        }
        if (st != NULL) {
            DK_DEBUG("statement text changed at a cached address: re-preparing");
            stmt_free(st);
        }
        st = fresh;
        cached = store_stmt_cache_put(&c->cache, sql, st);
    }
    int rc = bind(c, st, nparams, params, err);
    if (rc == 0) {
        rc = run(c, st->stmt, res, err);
    }
    /* Ends the statement's read of the database now and drops the (borrowed) parameters. */
    sqlite3_reset(st->stmt);
    sqlite3_clear_bindings(st->stmt);
    if (!cached) {
        stmt_free(st);
    }
    return rc;
}

static int sqlite_exec(struct store_conn *base, const char *sql, struct dk_err *err)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(c, rc, "could not run script", err);
}

static int sqlite_begin(struct store_conn *base, struct dk_err *err)
{
    return sqlite_query(base, "BEGIN IMMEDIATE", 0, NULL, NULL, err);
}

static int sqlite_commit(struct store_conn *base, struct dk_err *err)
{
    return sqlite_query(base, "COMMIT", 0, NULL, NULL, err);
}

static bool sqlite_in_tx(const struct store_conn *base)
{
    const struct sqlite_conn *c = (const struct sqlite_conn *)base;
    return sqlite3_get_autocommit(c->db) == 0;
}

static bool sqlite_alive(struct store_conn *base)
{
    (void)base;
    return true;
}

static void sqlite_disconnect(struct store_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    store_stmt_cache_clear(&c->cache, stmt_free);
    if (sqlite3_close(c->db) != SQLITE_OK) {
        DK_WARN("could not close SQLite database: %s", sqlite3_errmsg(c->db));
    }
    dk_buf_free(&c->text);
    dk_free(c->off);
    dk_free(c);
}

/* Process-wide SQLite settings, applied before SQLite's first use (they fail harmlessly if
 * something initialised it earlier). Both avoid a large malloc+free per statement, which
 * makes the C library grow and trim the heap on every statement (measured: 2.5x slower). */
static void configure_sqlite(void)
{
    /* Statement journals (one per writing statement inside a transaction) stay in memory in
     * 1 KiB chunks instead of one 64 KiB chunk that spills to a temp file. */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
    /* No 87 KiB up-front page-cache block per cache: RETURNING opens an ephemeral table, with
     * a cache of its own, per statement. */
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static int sqlite_connect(struct store *s, struct store_conn **out, struct dk_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        s->target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        dk_err_set(err, DK_EUNAVAIL, "SQLite: %s",
                   db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return DK_EUNAVAIL;
    }
    struct sqlite_conn *c = dk_calloc(1, sizeof(*c));
    c->db = db;
    dk_buf_init(&c->text, STORE_RES_MAX_BYTES);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, s->opts.busy_timeout_ms);
    struct store_res *r = NULL;
    rc = sqlite_query(&c->base, "PRAGMA journal_mode=WAL", 0, NULL, &r, err);
    if (rc == 0) {
        const char *mode = store_res_get(r, 0, 0);
        if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
            DK_WARN("SQLite database %s is in journal mode %s, not wal: commits are slower",
                    s->target, mode != NULL ? mode : "unknown");
        }
        store_res_free(r);
        rc = sqlite_exec(
            &c->base,
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=8000", err);
    }
    if (rc != 0) {
        dk_err_set(err, DK_EUNAVAIL, "SQLite: could not set up the connection: %s",
                   sqlite3_errmsg(db));
        sqlite_disconnect(&c->base);
        return DK_EUNAVAIL;
    }
    *out = &c->base;
    return 0;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .dialect = STORE_SQLITE,
    .single_writer = true,
    .check_target = check_target,
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .alive = sqlite_alive,
    .in_tx = sqlite_in_tx,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .exec = sqlite_exec,
    .query = sqlite_query,
};
