/*
 * store/postgres: the PostgreSQL backend (libpq; URL "postgres://…" or "postgresql://…",
 * passed to libpq as is, with connect_timeout from the options unless the URL sets one).
 *
 * Each connection sets synchronous_commit=on, TimeZone UTC and ISO dates once. Statements
 * are prepared once per connection under generated names (dk_1, dk_2, …) and cached by the
 * address of their SQL text; a query is then one PQexecPrepared with text parameters, and the
 * PGresult is copied into a struct store_res in one allocation. Transaction control, savepoints
 * and scripts go through plain PQexec.
 *
 * A connection error (the connection is bad, SQLSTATE class 08, or 57P01..57P03: the server
 * shutting down or starting) marks the connection broken: it is closed on release and the
 * next acquire connects again. Idle pooled connections are checked without a round trip
 * (anything readable on an idle socket is the server saying goodbye, or EOF).
 */
#include "store/store_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

#define STMT_NAME_LEN 24

struct pg_stmt {
    char *text; /* copy of the SQL: an address reused for another text is re-prepared */
    char name[STMT_NAME_LEN];
};

struct pg_conn {
    struct store_conn base;
    PGconn *pg;
    struct store_stmt_cache cache;
    unsigned next_id;
};

/* Fills err with "what: msg" on one line (libpq messages span lines). Returns code. */
static int set_err(struct dk_err *err, int code, const char *what, const char *msg)
{
    dk_err_set(err, code, "%s: %s", what, msg != NULL ? msg : "unknown error");
    if (err != NULL) {
        size_t n = 0;
        for (char *p = err->msg; *p != '\0'; p++) {
            char ch = (*p == '\n' || *p == '\t') ? ' ' : *p;
            if (!(ch == ' ' && (n == 0 || err->msg[n - 1] == ' '))) {
                err->msg[n++] = ch;
            }
        }
        while (n > 0 && err->msg[n - 1] == ' ') {
            n--;
        }
        err->msg[n] = '\0';
    }
    return code;
}

/* Maps a failed result (or NULL: nothing came back) to a DK_* code, marking the connection
 * broken when it is gone or the server is going away. */
static int fail(struct pg_conn *c, const PGresult *r, const char *what, struct dk_err *err)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL) {
        msg = r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r)
                                                              : PQerrorMessage(c->pg);
    }
    /* 08P01 at severity ERROR is a bad message (a wrong parameter count), not a lost link. */
    const char *severity = r != NULL ? PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    bool bad_message = state != NULL && strcmp(state, "08P01") == 0 && severity != NULL &&
                       strcmp(severity, "ERROR") == 0;
    if (PQstatus(c->pg) != CONNECTION_OK ||
        (state != NULL && !bad_message &&
         (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
          strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0))) {
        c->base.broken = true;
        return set_err(err, DK_EUNAVAIL, what, msg);
    }
    if (state != NULL && (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0)) {
        return set_err(err, DK_ECONFLICT, what, msg);
    }
    return set_err(err, DK_EINTERNAL, what, msg);
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return r != NULL &&
           (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY);
}

static int check_target(const char *target, struct store_opts *opts, struct dk_err *err)
{
    (void)opts;
    char *msg = NULL;
    PQconninfoOption *info = PQconninfoParse(target, &msg);
    /* libpq's message may quote a piece of the URL, password included: not repeated here. */
    PQfreemem(msg);
    if (info == NULL) {
        return dk_err_set(err, DK_EINVAL, "invalid database URL: libpq cannot parse it");
    }
    PQconninfoFree(info);
    return 0;
}

static void stmt_free(void *p)
{
    struct pg_stmt *st = p;
    if (st != NULL) {
        dk_free(st->text);
        dk_free(st);
    }
}

/* Copies a successful result out; rows only when res is not NULL. */
static int copy_result(const PGresult *r, struct store_res **res, struct dk_err *err)
{
    if (res == NULL) {
        return 0;
    }
    int rows = PQntuples(r), cols = PQnfields(r);
    size_t len = 0;
    for (int j = 0; j < cols; j++) {
        len += strlen(PQfname(r, j)) + 1;
    }
    for (int i = 0; i < rows && len <= STORE_RES_MAX_BYTES; i++) {
        for (int j = 0; j < cols; j++) {
            len += PQgetisnull(r, i, j) ? 0 : (size_t)PQgetlength(r, i, j) + 1;
        }
    }
    if (len > STORE_RES_MAX_BYTES || ((size_t)rows + 1) * (size_t)cols > STORE_RES_MAX_BYTES) {
        return dk_err_set(err, DK_EINTERNAL, "could not read rows: result over %u bytes",
                          STORE_RES_MAX_BYTES);
    }
    struct store_res *out = store_res_new((size_t)rows, (size_t)cols, len);
    size_t pos = 0, k = 0;
    for (int j = 0; j < cols; j++) {
        size_t n = strlen(PQfname(r, j)) + 1;
        memcpy(out->text + pos, PQfname(r, j), n);
        out->off[k++] = (uint32_t)pos;
        pos += n;
    }
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            if (PQgetisnull(r, i, j)) {
                out->off[k++] = STORE_RES_NULL;
                continue;
            }
            size_t n = (size_t)PQgetlength(r, i, j);
            memcpy(out->text + pos, PQgetvalue(r, i, j), n);
            out->text[pos + n] = '\0';
            out->off[k++] = (uint32_t)pos;
            pos += n + 1;
        }
    }
    /* PQcmdTuples also counts SELECT rows; only changes count here. */
    const char *tag = PQcmdStatus((PGresult *)r);
    if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
        strncmp(tag, "DELETE", 6) == 0 || strncmp(tag, "MERGE", 5) == 0) {
        out->affected = strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
    }
    *res = out;
    return 0;
}

/* The cached statement for sql, preparing it when needed; NULL (and *rc) on failure, or
 * with *rc = 0 when the cache is full and the caller should run sql unprepared. */
static struct pg_stmt *prepared(struct pg_conn *c, const char *sql, int *rc, struct dk_err *err)
{
    *rc = 0;
    struct pg_stmt *st = store_stmt_cache_get(&c->cache, sql);
    if (st != NULL && strcmp(st->text, sql) == 0) {
        return st;
    }
    if (st == NULL && c->cache.len >= STORE_STMT_CACHE_MAX) {
        return NULL;
    }
    struct pg_stmt *fresh = dk_calloc(1, sizeof(*fresh));
    snprintf(fresh->name, sizeof(fresh->name), "dk_%u", ++c->next_id);
    PGresult *r = PQprepare(c->pg, fresh->name, sql, 0, NULL);
    if (!result_ok(r)) {
        *rc = fail(c, r, "could not prepare statement", err);
        PQclear(r);
        stmt_free(fresh);
        return NULL;
    }
    PQclear(r);
    fresh->text = dk_strdup(sql);
    if (st != NULL) {
        DK_DEBUG("statement text changed at a cached address: re-preparing");
        char drop[STMT_NAME_LEN + 16];
        snprintf(drop, sizeof(drop), "DEALLOCATE %s", st->name);
        PQclear(PQexec(c->pg, drop));
        stmt_free(st);
    }
    store_stmt_cache_put(&c->cache, sql, fresh); /* room: checked above, or replacing */
    return fresh;
}

static int pg_query(struct store_conn *base, const char *sql, int nparams,
                    const char *const *params, struct store_res **res, struct dk_err *err)
{
    struct pg_conn *c = (struct pg_conn *)base;
    int rc;
    struct pg_stmt *st = prepared(c, sql, &rc, err);
    if (rc != 0) {
        return rc;
    }
    PGresult *r = st != NULL ? PQexecPrepared(c->pg, st->name, nparams, params, NULL, NULL, 0)
                             : PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    rc = result_ok(r) ? copy_result(r, res, err) : fail(c, r, "could not run statement", err);
    PQclear(r);
    return rc;
}

static int pg_exec(struct store_conn *base, const char *sql, struct dk_err *err)
{
    struct pg_conn *c = (struct pg_conn *)base;
    PGresult *r = PQexec(c->pg, sql);
    int rc = result_ok(r) ? 0 : fail(c, r, "could not run script", err);
    PQclear(r);
    return rc;
}

static int pg_begin(struct store_conn *base, struct dk_err *err)
{
    return pg_exec(base, "BEGIN", err);
}

static int pg_commit(struct store_conn *base, struct dk_err *err)
{
    struct pg_conn *c = (struct pg_conn *)base;
    PGresult *r = PQexec(c->pg, "COMMIT");
    int rc = result_ok(r) ? 0 : fail(c, r, "could not commit", err);
    /* COMMIT of a transaction that an error aborted answers ROLLBACK, not an error. */
    if (rc == 0 && strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        rc = dk_err_set(err, DK_EINTERNAL,
                        "could not commit: the transaction was rolled back after an error");
    }
    PQclear(r);
    return rc;
}

static bool pg_in_tx(const struct store_conn *base)
{
    const struct pg_conn *c = (const struct pg_conn *)base;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static bool pg_alive(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    for (int i = 0; i < 4; i++) {
        if (PQstatus(c->pg) != CONNECTION_OK) {
            return false;
        }
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        int n = poll(&p, 1, 0);
        if (n == 0) {
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 || PQconsumeInput(c->pg) == 0) {
            return false;
        }
        /* Parses what came (a notice goes to the notice processor) and drops notifications. */
        PGnotify *note;
        while ((note = PQnotifies(c->pg)) != NULL) {
            PQfreemem(note);
        }
    }
    return PQstatus(c->pg) == CONNECTION_OK;
}

static void notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    snprintf(line, sizeof(line), "%s", message);
    line[strcspn(line, "\n")] = '\0';
    DK_DEBUG("database notice: %s", line);
}

static void pg_disconnect(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    store_stmt_cache_clear(&c->cache, stmt_free);
    PQfinish(c->pg);
    dk_free(c);
}

static int pg_connect(struct store *s, struct store_conn **out, struct dk_err *err)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", s->opts.connect_timeout_s);
    /* Keywords before dbname are defaults that the URL (expanded from dbname) overrides. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {timeout, "direkt", s->target, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        set_err(err, DK_EUNAVAIL, "PostgreSQL", PQerrorMessage(pg));
        PQfinish(pg);
        return DK_EUNAVAIL;
    }
    PQsetNoticeProcessor(pg, notice, NULL);
    struct pg_conn *c = dk_calloc(1, sizeof(*c));
    c->pg = pg;
    struct dk_err e;
    if (pg_exec(&c->base,
                "SET synchronous_commit = on; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'",
                &e) != 0) {
        set_err(err, DK_EUNAVAIL, "PostgreSQL: could not set up the session", e.msg);
        pg_disconnect(&c->base);
        return DK_EUNAVAIL;
    }
    *out = &c->base;
    return 0;
}

const struct store_ops store_pg_ops = {
    .name = "postgres",
    .dialect = STORE_POSTGRES,
    .check_target = check_target,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .alive = pg_alive,
    .in_tx = pg_in_tx,
    .begin = pg_begin,
    .commit = pg_commit,
    .exec = pg_exec,
    .query = pg_query,
};
