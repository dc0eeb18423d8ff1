/*
 * store: URL parsing, the connection pool, and the wrappers that call the backend's
 * struct store_ops (see store.h and store_int.h).
 *
 * The pool is a LIFO list of idle connections under one mutex, with a condition variable for
 * threads waiting for a free slot; queries never touch it. A connection is opened lazily on
 * acquire, checked cheaply when taken from the idle list, and closed on release when broken,
 * so a database that went away and came back is picked up without reopening the store.
 * The wrappers are the one place for logging and for the store_fail_after test hook (one
 * relaxed atomic load per query).
 */
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

#define DEFAULT_POOL_MAX        16
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_S       3
#define CONNECT_WARN_EVERY_MS   1000 /* at most one "could not connect" line per second */
#define SAVEPOINT_NAME_MAX      63

static void conn_disconnect(struct store *s, struct store_conn *c);

static atomic_int g_fail_after;

/* ---- URL ---- */

/* A copy of url (dk_free) with every password, in the userinfo or a password= parameter,
 * replaced by "***". */
static char *redact_url(const char *url)
{
    struct dk_buf b;
    dk_buf_init(&b, strlen(url) + 64);
    const char *scheme_end = strstr(url, "://");
    if (scheme_end == NULL) {
        dk_buf_puts(&b, url);
        return dk_buf_take(&b, NULL);
    }
    const char *auth = scheme_end + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        dk_buf_append(&b, url, (size_t)(colon + 1 - url));
        dk_buf_puts(&b, "***");
        dk_buf_append(&b, at, (size_t)(auth_end - at));
    } else {
        dk_buf_append(&b, url, (size_t)(auth_end - url));
    }
    /* The path, then the query's key=value pairs. */
    const char *p = auth_end;
    while (*p != '\0') {
        size_t n = strcspn(p + 1, "?&#") + 1;
        if ((*p == '?' || *p == '&') && strncmp(p + 1, "password=", 9) == 0) {
            dk_buf_append(&b, p, 10);
            dk_buf_puts(&b, "***");
        } else {
            dk_buf_append(&b, p, n);
        }
        p += n;
    }
    return dk_buf_take(&b, NULL);
}

static const struct store_ops *ops_for_url(const char *url, const char **target)
{
    static const struct {
        const char *prefix;
        bool keep_prefix; /* libpq takes the whole URL */
        const struct store_ops *ops;
    } schemes[] = {
        {"sqlite:", false, &store_sqlite_ops},
        {"postgres://", true, &store_pg_ops},
        {"postgresql://", true, &store_pg_ops},
    };
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncmp(url, schemes[i].prefix, n) == 0) {
            *target = schemes[i].keep_prefix ? url : url + n;
            return schemes[i].ops;
        }
    }
    return NULL;
}

int store_open(const char *url, const struct store_opts *opts, struct store **out,
               struct dk_err *err)
{
    *out = NULL;
    const char *target = NULL;
    const struct store_ops *ops = url != NULL ? ops_for_url(url, &target) : NULL;
    if (ops == NULL) {
        return dk_err_set(err, DK_EINVAL,
                          "invalid database URL: expected sqlite:PATH or postgres://...");
    }
    struct store_opts o = {0};
    if (opts != NULL) {
        o = *opts;
    }
    if (o.pool_max <= 0) {
        o.pool_max = DEFAULT_POOL_MAX;
    }
    if (o.busy_timeout_ms <= 0) {
        o.busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    }
    if (o.connect_timeout_s <= 0) {
        o.connect_timeout_s = DEFAULT_CONNECT_S;
    }
    int rc = ops->check_target(target, &o, err);
    if (rc != 0) {
        return rc;
    }
    struct store *s = dk_calloc(1, sizeof(*s));
    s->ops = ops;
    s->opts = o;
    s->target = dk_strdup(target);
    s->redacted = redact_url(url);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_cond_init(&s->writer_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    int idle = 0;
    for (struct store_conn *c = s->idle; c != NULL; idle++) {
        struct store_conn *next = c->next_idle;
        conn_disconnect(s, c);
        c = next;
    }
    DK_ASSERT(idle == s->nopen); /* every connection was released */
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->writer_cv);
    pthread_mutex_destroy(&s->mu);
    dk_free(s->target);
    dk_free(s->redacted);
    dk_free(s);
}

enum store_dialect store_dialect(const struct store *s)
{
    return s->ops->dialect;
}

const char *store_url_redacted(const struct store *s)
{
    return s->redacted;
}

/* ---- pool ---- */

static struct timespec deadline_after(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Gives back a slot of a connection that was closed or never opened; caller holds s->mu. */
static void slot_free_locked(struct store *s)
{
    s->nopen--;
    pthread_cond_signal(&s->cv);
}

static struct store_conn *open_conn(struct store *s, struct dk_err *err)
{
    struct store_conn *c = NULL;
    struct dk_err local;
    int rc = s->ops->connect(s, &c, &local);
    if (rc == 0) {
        c->store = s;
        c->next_idle = NULL;
        c->broken = false;
        c->holds_write = false;
        return c;
    }
    dk_err_set(err, DK_EUNAVAIL, "could not connect to the database: %s", local.msg);
    pthread_mutex_lock(&s->mu);
    slot_free_locked(s);
    int64_t now = dk_mono_ms();
    bool warn = now - s->last_warn_ms >= CONNECT_WARN_EVERY_MS;
    if (warn) {
        s->last_warn_ms = now;
    }
    pthread_mutex_unlock(&s->mu);
    if (warn) {
        DK_WARN("could not connect to database %s: %s", s->redacted, local.msg);
    }
    return NULL;
}

struct store_conn *store_acquire(struct store *s, struct dk_err *err)
{
    struct timespec deadline = deadline_after(s->opts.busy_timeout_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct store_conn *c = s->idle;
        if (c != NULL) {
            s->idle = c->next_idle;
            pthread_mutex_unlock(&s->mu);
            c->next_idle = NULL;
            if (s->ops->alive(c)) {
                return c;
            }
            DK_INFO("closing an idle connection to database %s: the server ended it", s->redacted);
            conn_disconnect(s, c);
            pthread_mutex_lock(&s->mu);
            slot_free_locked(s);
            continue;
        }
        if (s->nopen < s->opts.pool_max) {
            s->nopen++;
            pthread_mutex_unlock(&s->mu);
            return open_conn(s, err);
        }
        int rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
        if (rc == ETIMEDOUT && s->idle == NULL && s->nopen >= s->opts.pool_max) {
            pthread_mutex_unlock(&s->mu);
            dk_err_set(err, DK_EUNAVAIL,
                       "could not get a database connection: all %d in use for %d ms",
                       s->opts.pool_max, s->opts.busy_timeout_ms);
            return NULL;
        }
    }
}

void store_release(struct store_conn *c)
{
    if (c == NULL) {
        return;
    }
    struct store *s = c->store;
    store_rollback(c);
    if (c->broken) {
        conn_disconnect(s, c);
        pthread_mutex_lock(&s->mu);
        slot_free_locked(s);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_lock(&s->mu);
    c->next_idle = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

enum store_dialect store_conn_dialect(const struct store_conn *c)
{
    return c->store->ops->dialect;
}

/* ---- wrappers ---- */

/* Logs a failed call (err may be the caller's NULL: then local holds the message). Database
 * messages can quote values, so only lost connections are logged above debug. */
static int failed(struct store_conn *c, const char *what, int rc, const struct dk_err *e)
{
    if (rc == DK_EUNAVAIL) {
        DK_WARN("%s failed on database %s: %s", what, c->store->redacted, e->msg);
    } else {
        DK_DEBUG("%s failed: %s", what, e->msg);
    }
    return rc;
}

static int conn_lost(struct store_conn *c, struct dk_err *err)
{
    return dk_err_set(err, DK_EUNAVAIL, "the connection to database %s was lost",
                      c->store->redacted);
}

/* SQLite has one writer at a time. Threads of this process wait for their turn here, woken as
 * soon as it is free, rather than in SQLite's busy handler, which polls the lock with sleeps
 * of up to 100 ms. The turn is a flag, not a mutex, so any thread may end the transaction. */
static int write_turn_take(struct store_conn *c, struct dk_err *err)
{
    struct store *s = c->store;
    if (!s->ops->single_writer) {
        return 0;
    }
    struct timespec deadline = deadline_after(s->opts.busy_timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->writer_busy) {
        if (pthread_cond_timedwait(&s->writer_cv, &s->mu, &deadline) == ETIMEDOUT &&
            s->writer_busy) {
            pthread_mutex_unlock(&s->mu);
            return dk_err_set(err, DK_EUNAVAIL,
                              "could not begin: another transaction held the database for %d ms",
                              s->opts.busy_timeout_ms);
        }
    }
    s->writer_busy = true;
    pthread_mutex_unlock(&s->mu);
    c->holds_write = true;
    return 0;
}

static void write_turn_give(struct store_conn *c)
{
    if (!c->holds_write) {
        return;
    }
    c->holds_write = false;
    pthread_mutex_lock(&c->store->mu);
    c->store->writer_busy = false;
    pthread_cond_signal(&c->store->writer_cv);
    pthread_mutex_unlock(&c->store->mu);
}

/* ---- hooks after commit ---- */

void store_after_commit(struct store_conn *c, void (*fn)(void *arg, bool committed), void *arg)
{
    if (!store_in_tx(c)) {
        fn(arg, true);
        return;
    }
    if (c->nhooks == c->hookcap) {
        c->hookcap = c->hookcap != 0 ? c->hookcap * 2 : 16;
        c->hooks = dk_realloc(c->hooks, c->hookcap * sizeof(*c->hooks));
    }
    c->hooks[c->nhooks++] = (struct store_hook){fn, arg};
}

/* Runs the hooks from index from on (committed or not) and forgets them. */
static void run_hooks(struct store_conn *c, size_t from, bool committed)
{
    /* a hook may register no new ones: it runs outside the transaction */
    for (size_t i = from; i < c->nhooks; i++) {
        c->hooks[i].fn(c->hooks[i].arg, committed);
    }
    c->nhooks = from;
}

static void conn_disconnect(struct store *s, struct store_conn *c)
{
    run_hooks(c, 0, false);
    dk_free(c->hooks);
    c->hooks = NULL;
    c->hookcap = 0;
    s->ops->disconnect(c);
}

int store_begin(struct store_conn *c, struct dk_err *err)
{
    if (c->broken) {
        return conn_lost(c, err);
    }
    if (c->store->ops->in_tx(c)) {
        return dk_err_set(err, DK_EINTERNAL, "could not begin: a transaction is already open");
    }
    struct dk_err local;
    struct dk_err *e = err != NULL ? err : &local;
    int rc = write_turn_take(c, e);
    if (rc == 0) {
        rc = c->store->ops->begin(c, e);
    }
    if (rc != 0) {
        write_turn_give(c);
        return failed(c, "begin", rc, e);
    }
    return 0;
}

int store_commit(struct store_conn *c, struct dk_err *err)
{
    if (c->broken) {
        return conn_lost(c, err);
    }
    if (!c->store->ops->in_tx(c)) {
        return dk_err_set(err, DK_EINTERNAL, "could not commit: no transaction is open");
    }
    struct dk_err local;
    struct dk_err *e = err != NULL ? err : &local;
    int rc = c->store->ops->commit(c, e);
    if (!store_in_tx(c)) {
        write_turn_give(c);
    }
    c->nmarks = 0;
    if (rc != 0 && store_in_tx(c)) {
        return failed(c, "commit", rc, e); /* still open: the caller rolls back */
    }
    run_hooks(c, 0, rc == 0);
    return rc == 0 ? 0 : failed(c, "commit", rc, e);
}

void store_rollback(struct store_conn *c)
{
    if (!c->broken && c->store->ops->in_tx(c)) {
        struct dk_err e = {.msg = "the transaction is still open"};
        if (c->store->ops->exec(c, "ROLLBACK", &e) != 0 || c->store->ops->in_tx(c)) {
            DK_WARN("could not roll back on database %s, closing the connection: %s",
                    c->store->redacted, e.msg);
            c->broken = true;
        }
    }
    write_turn_give(c);
    c->nmarks = 0;
    run_hooks(c, 0, false);
}

bool store_in_tx(const struct store_conn *c)
{
    return !c->broken && c->store->ops->in_tx(c);
}

static bool valid_identifier(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > SAVEPOINT_NAME_MAX || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_')) {
            return false;
        }
    }
    return true;
}

static int savepoint_cmd(struct store_conn *c, const char *verb, const char *name,
                         struct dk_err *err)
{
    if (!valid_identifier(name)) {
        return dk_err_set(err, DK_EINVAL,
                          "invalid savepoint name (expected [A-Za-z_][A-Za-z0-9_]*)");
    }
    if (c->broken) {
        return conn_lost(c, err);
    }
    if (!c->store->ops->in_tx(c)) {
        return dk_err_set(err, DK_EINTERNAL, "could not run %s %s: no transaction is open", verb,
                          name);
    }
    char sql[SAVEPOINT_NAME_MAX + 32];
    snprintf(sql, sizeof(sql), "%s %s", verb, name);
    struct dk_err local;
    struct dk_err *e = err != NULL ? err : &local;
    int rc = c->store->ops->exec(c, sql, e);
    return rc == 0 ? 0 : failed(c, verb, rc, e);
}

int store_savepoint(struct store_conn *c, const char *name, struct dk_err *err)
{
    int rc = savepoint_cmd(c, "SAVEPOINT", name, err);
    if (rc == 0) {
        DK_ASSERT(c->nmarks < (int)(sizeof(c->marks) / sizeof(c->marks[0])));
        c->marks[c->nmarks++] = c->nhooks;
    }
    return rc;
}

int store_savepoint_release(struct store_conn *c, const char *name, struct dk_err *err)
{
    int rc = savepoint_cmd(c, "RELEASE SAVEPOINT", name, err);
    if (rc == 0 && c->nmarks > 0) {
        c->nmarks--; /* its hooks now belong to the enclosing transaction */
    }
    return rc;
}

int store_savepoint_rollback(struct store_conn *c, const char *name, struct dk_err *err)
{
    int rc = savepoint_cmd(c, "ROLLBACK TO SAVEPOINT", name, err);
    if (rc == 0 && c->nmarks > 0) {
        run_hooks(c, c->marks[c->nmarks - 1], false); /* the savepoint stays open */
    }
    return rc;
}

void store_fail_after(int n)
{
    atomic_store(&g_fail_after, n > 0 ? n : 0);
}

/* True for the call that the test hook selected; counts down while armed. */
static bool injected_failure(void)
{
    int n = atomic_load_explicit(&g_fail_after, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&g_fail_after, &n, n - 1)) {
            return n == 1;
        }
    }
    return false;
}

/* sql must live for the whole process (in practice a string literal): the backends cache the
 * prepared statement per connection by its address. */
int store_query(struct store_conn *c, const char *sql, int nparams, const char *const *params,
                struct store_res **res, struct dk_err *err)
{
    DK_ASSERT(sql != NULL && nparams >= 0 && (nparams == 0 || params != NULL));
    if (res != NULL) {
        *res = NULL;
    }
    if (injected_failure()) {
        return dk_err_set(err, DK_EUNAVAIL, "could not run query: injected failure");
    }
    if (c->broken) {
        return conn_lost(c, err);
    }
    struct dk_err local;
    struct dk_err *e = err != NULL ? err : &local;
    int rc = c->store->ops->query(c, sql, nparams, params, res, e);
    return rc == 0 ? 0 : failed(c, "query", rc, e);
}

int store_exec_script(struct store_conn *c, const char *sql, struct dk_err *err)
{
    if (c->broken) {
        return conn_lost(c, err);
    }
    struct dk_err local;
    struct dk_err *e = err != NULL ? err : &local;
    int rc = c->store->ops->exec(c, sql, e);
    return rc == 0 ? 0 : failed(c, "script", rc, e);
}

/* ---- results ---- */

struct store_res *store_res_new(size_t rows, size_t cols, size_t textlen)
{
    size_t noff;
    DK_ASSERT(textlen <= STORE_RES_MAX_BYTES);
    DK_ASSERT(!__builtin_mul_overflow(cols, rows + 1, &noff) && noff <= STORE_RES_MAX_BYTES);
    struct store_res *r = dk_malloc(sizeof(*r) + noff * sizeof(uint32_t) + textlen + 1);
    r->rows = rows;
    r->cols = cols;
    r->affected = 0;
    r->text = (char *)&r->off[noff];
    r->text[textlen] = '\0';
    return r;
}

size_t store_res_rows(const struct store_res *r)
{
    return r != NULL ? r->rows : 0;
}

size_t store_res_cols(const struct store_res *r)
{
    return r != NULL ? r->cols : 0;
}

int64_t store_res_affected(const struct store_res *r)
{
    return r != NULL ? r->affected : 0;
}

const char *store_res_get(const struct store_res *r, size_t row, size_t col)
{
    if (r == NULL || row >= r->rows || col >= r->cols) {
        return NULL;
    }
    uint32_t off = r->off[r->cols + row * r->cols + col];
    return off == STORE_RES_NULL ? NULL : r->text + off;
}

/* Integers; booleans too ("t"/"f" from PostgreSQL), so callers need not know the dialect. */
int64_t store_res_int(const struct store_res *r, size_t row, size_t col, int64_t dflt)
{
    const char *v = store_res_get(r, row, col);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    if (strcmp(v, "t") == 0 || strcmp(v, "f") == 0) {
        return v[0] == 't';
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return (*end != '\0' || errno != 0) ? dflt : (int64_t)n;
}

double store_res_double(const struct store_res *r, size_t row, size_t col, double dflt)
{
    const char *v = store_res_get(r, row, col);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    return (*end != '\0' || errno == ERANGE) ? dflt : d;
}

const char *store_res_colname(const struct store_res *r, size_t col)
{
    if (r == NULL || col >= r->cols) {
        return NULL;
    }
    return r->text + r->off[col];
}

void store_res_free(struct store_res *r)
{
    dk_free(r);
}

bool store_canonical_int(const char *s, int64_t *v)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg) {
        p++;
    }
    if (*p < '0' || *p > '9' || (*p == '0' && (neg || p[1] != '\0'))) {
        return false;
    }
    int64_t x = 0;
    for (int n = 0; *p != '\0'; p++, n++) {
        if (*p < '0' || *p > '9' || n == 18) {
            return false;
        }
        x = x * 10 + (*p - '0');
    }
    *v = neg ? -x : x;
    return true;
}

/* ---- prepared statement cache ---- */

static size_t slot_of(const char *sql, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)sql * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

void *store_stmt_cache_get(const struct store_stmt_cache *sc, const char *sql)
{
    if (sc->cap == 0) {
        return NULL;
    }
    for (size_t i = slot_of(sql, sc->cap);; i = (i + 1) & (sc->cap - 1)) {
        if (sc->keys[i] == sql) {
            return sc->vals[i];
        }
        if (sc->keys[i] == NULL) {
            return NULL;
        }
    }
}

static void cache_insert(struct store_stmt_cache *sc, const char *sql, void *val)
{
    size_t i = slot_of(sql, sc->cap);
    while (sc->keys[i] != NULL && sc->keys[i] != sql) {
        i = (i + 1) & (sc->cap - 1);
    }
    if (sc->keys[i] == NULL) {
        sc->len++;
    }
    sc->keys[i] = sql;
    sc->vals[i] = val;
}

bool store_stmt_cache_put(struct store_stmt_cache *sc, const char *sql, void *val)
{
    if (store_stmt_cache_get(sc, sql) == NULL && (sc->len + 1) * 2 > sc->cap) {
        if (sc->len >= STORE_STMT_CACHE_MAX) {
            return false;
        }
        struct store_stmt_cache old = *sc;
        sc->cap = old.cap != 0 ? old.cap * 2 : 64;
        sc->keys = dk_calloc(sc->cap, sizeof(*sc->keys));
        sc->vals = dk_calloc(sc->cap, sizeof(*sc->vals));
        sc->len = 0;
        for (size_t i = 0; i < old.cap; i++) {
            if (old.keys[i] != NULL) {
                cache_insert(sc, old.keys[i], old.vals[i]);
            }
        }
        dk_free(old.keys);
        dk_free(old.vals);
    }
    cache_insert(sc, sql, val);
    return true;
}

void store_stmt_cache_clear(struct store_stmt_cache *sc, void (*free_val)(void *))
{
    for (size_t i = 0; i < sc->cap; i++) {
        if (sc->keys[i] != NULL) {
            free_val(sc->vals[i]);
        }
    }
    dk_free(sc->keys);
    dk_free(sc->vals);
    memset(sc, 0, sizeof(*sc));
}
