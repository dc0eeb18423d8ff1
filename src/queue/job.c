/*
 * queue/job: the SQL of the job table: enqueue, claim, complete, fail, reclaim, leases.
 * The claim statement is the one place where the dialects differ.
 */
#include "queue/queue.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

void queue_job_free(struct queue_job *job)
{
    if (job == NULL) {
        return;
    }
    json_decref(job->payload);
    dk_free(job->unique_key);
    dk_free(job);
}

int queue_enqueue(struct store_conn *c, const char *kind, const char *payload_json,
                  const char *unique_key, int64_t run_at_ms, int max_attempts, int64_t *id,
                  struct dk_err *err)
{
    char run[24], now[24], maxa[16];
    I64(run, run_at_ms);
    I64(now, dk_now_ms());
    I64(maxa, max_attempts > 0 ? max_attempts : 5);
    const char *p[] = {kind, payload_json != NULL ? payload_json : "{}", unique_key, run, maxa,
                       now};
    struct store_res *r = NULL;
    int rc;
    if (unique_key != NULL) {
        rc = store_query(c,
                         "INSERT INTO jobs (kind, payload, unique_key, run_at, max_attempts, "
                         "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
                         "ON CONFLICT (unique_key) WHERE status = 'queued' DO UPDATE SET "
                         "payload = excluded.payload, run_at = excluded.run_at, "
                         "updated_at = excluded.updated_at RETURNING id",
                         6, p, &r, err);
    } else {
        rc = store_query(c,
                         "INSERT INTO jobs (kind, payload, unique_key, run_at, max_attempts, "
                         "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                         6, p, &r, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (id != NULL) {
        *id = store_res_int(r, 0, 0, 0);
    }
    store_res_free(r);
    return 0;
}

int queue_enqueue_bulk(struct store_conn *c, const char *kind, const char *const *keys,
                       const char *const *payloads, size_t n, int64_t run_at_ms, int max_attempts,
                       struct dk_err *err)
{
    if (store_conn_dialect(c) != STORE_POSTGRES) {
        for (size_t i = 0; i < n; i++) {
            int rc =
                queue_enqueue(c, kind, payloads[i], keys[i], run_at_ms, max_attempts, NULL, err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    if (n == 0) {
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, 64u * 1024u * 1024u);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        dk_buf_puts(&b, i > 0 ? ",{\"k\":" : "{\"k\":");
        dk_json_put_string(&b, keys[i]);
        dk_buf_puts(&b, ",\"p\":");
        dk_buf_puts(&b, payloads[i] != NULL ? payloads[i] : "{}");
        dk_buf_puts(&b, "}");
    }
    if (dk_buf_puts(&b, "]") != 0) {
        dk_buf_free(&b);
        return dk_err_set(err, DK_ETOOBIG, "too many jobs in one bulk enqueue");
    }
    char run[24], now[24], maxa[16];
    I64(run, run_at_ms);
    I64(now, dk_now_ms());
    I64(maxa, max_attempts > 0 ? max_attempts : 5);
    const char *p[] = {kind, run, maxa, now, b.data};
    int rc = store_query(c,
                         "INSERT INTO jobs (kind, payload, unique_key, run_at, max_attempts, "
                         "created_at, updated_at) SELECT $1::text, (x->'p')::jsonb, x->>'k', "
                         "$2::bigint, $3::int, $4::bigint, $4::bigint "
                         "FROM json_array_elements($5::json) x "
                         "ON CONFLICT (unique_key) WHERE status = 'queued' DO UPDATE SET "
                         "payload = excluded.payload, run_at = excluded.run_at, "
                         "updated_at = excluded.updated_at",
                         5, p, NULL, err);
    dk_buf_free(&b);
    return rc;
}

static const char CLAIM_PG[] =
    "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, "
    "attempts = attempts + 1, updated_at = $3 WHERE id IN (SELECT id FROM jobs "
    "WHERE status = 'queued' AND run_at <= $3 ORDER BY run_at, id LIMIT $4 "
    "FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload, attempts, max_attempts, unique_key";
static const char CLAIM_SQLITE[] =
    "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, "
    "attempts = attempts + 1, updated_at = $3 WHERE id IN (SELECT id FROM jobs "
    "WHERE status = 'queued' AND run_at <= $3 ORDER BY run_at, id LIMIT $4) "
    "RETURNING id, kind, payload, attempts, max_attempts, unique_key";

static struct queue_job *job_from_row(const struct store_res *r, size_t row, const char *worker)
{
    struct queue_job *j = dk_calloc(1, sizeof(*j));
    j->id = store_res_int(r, row, 0, 0);
    snprintf(j->kind, sizeof(j->kind), "%s", store_res_get(r, row, 1));
    const char *payload = store_res_get(r, row, 2);
    j->payload = payload != NULL ? json_loads(payload, 0, NULL) : NULL;
    if (j->payload == NULL) {
        j->payload = json_object();
    }
    j->attempts = (int)store_res_int(r, row, 3, 1);
    j->max_attempts = (int)store_res_int(r, row, 4, 5);
    const char *uk = store_res_get(r, row, 5);
    j->unique_key = uk != NULL ? dk_strdup(uk) : NULL;
    snprintf(j->worker, sizeof(j->worker), "%s", worker);
    return j;
}

static bool job_after(const struct queue_job *a, const struct queue_job *b)
{
    const char *ka = a->unique_key != NULL ? a->unique_key : "\x7f";
    const char *kb = b->unique_key != NULL ? b->unique_key : "\x7f";
    int c = strcmp(ka, kb);
    return c != 0 ? c > 0 : a->id > b->id;
}

int queue_claim_batch(struct store_conn *c, const char *worker, int64_t lease_ms, int max,
                      struct queue_job **jobs, size_t *n, struct dk_err *err)
{
    *n = 0;
    if (max < 1) {
        max = 1;
    }
    int64_t now = dk_now_ms();
    char until[24], nows[24], lim[16];
    I64(until, now + lease_ms);
    I64(nows, now);
    I64(lim, max);
    const char *p[] = {worker, until, nows, lim};
    const char *sql = store_conn_dialect(c) == STORE_POSTGRES ? CLAIM_PG : CLAIM_SQLITE;
    int rc = store_begin(c, err);
    if (rc != 0) {
        return rc;
    }
    struct store_res *r = NULL;
    rc = store_query(c, sql, 4, p, &r, err);
    if (rc == 0) {
        rc = store_commit(c, err);
    } else {
        store_rollback(c);
    }
    if (rc != 0) {
        store_res_free(r);
        return rc;
    }
    size_t rows = store_res_rows(r);
    size_t count = rows < (size_t)max ? rows : (size_t)max;
    for (size_t i = 0; i < count; i++) {
        jobs[i] = job_from_row(r, i, worker);
    }
    /* One order for every worker: by unique key (e.g. "reply:<conversation>", the order in
     * which webhook writers lock conversations too, so that they cannot deadlock), then id. */
    for (size_t i = 1; i < count; i++) {
        struct queue_job *k = jobs[i];
        size_t m = i;
        while (m > 0 && job_after(jobs[m - 1], k)) {
            jobs[m] = jobs[m - 1];
            m--;
        }
        jobs[m] = k;
    }
    *n = count;
    store_res_free(r);
    return 0;
}

int queue_dequeue(struct store_conn *c, const char *unique_key, bool *removed, struct dk_err *err)
{
    const char *p[] = {unique_key};
    struct store_res *r = NULL;
    int rc = store_query(c, "DELETE FROM jobs WHERE unique_key = $1 AND status = 'queued'", 1, p,
                         &r, err);
    if (rc == 0 && removed != NULL) {
        *removed = store_res_affected(r) > 0;
    }
    store_res_free(r);
    return rc;
}

int queue_claim(struct store_conn *c, const char *worker, int64_t lease_ms, struct queue_job **job,
                struct dk_err *err)
{
    size_t n = 0;
    *job = NULL;
    return queue_claim_batch(c, worker, lease_ms, 1, job, &n, err);
}

int queue_complete(struct store_conn *c, const struct queue_job *job, struct dk_err *err)
{
    char id[24], now[24];
    I64(id, job->id);
    I64(now, dk_now_ms());
    const char *p[] = {id, job->worker, now};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, "
                         "finished_at = $3, updated_at = $3 WHERE id = $1 AND status = 'running' "
                         "AND locked_by = $2",
                         3, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    if (n == 0) {
        return dk_err_set(err, DK_EBUSY, "job %lld: lease lost before completion",
                          (long long)job->id);
    }
    return 0;
}

int queue_extend_lease(struct store_conn *c, const struct queue_job *job, int64_t until_ms,
                       struct dk_err *err)
{
    char id[24], until[24], now[24];
    I64(id, job->id);
    I64(until, until_ms);
    I64(now, dk_now_ms());
    const char *p[] = {id, job->worker, until, now};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE jobs SET locked_until = $3, updated_at = $4 WHERE id = $1 AND "
                         "status = 'running' AND locked_by = $2",
                         4, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    if (n == 0) {
        return dk_err_set(err, DK_EBUSY, "job %lld: lease lost", (long long)job->id);
    }
    return 0;
}

int64_t queue_backoff_ms(int attempts)
{
    int64_t delay = 1000;
    for (int i = 1; i < attempts && delay < 600000; i++) {
        delay *= 2;
    }
    if (delay > 600000) {
        delay = 600000;
    }
    uint32_t r;
    dk_random_bytes(&r, sizeof(r));
    return delay / 2 + (int64_t)(r % (uint32_t)(delay / 2 + 1));
}

/* Where a job with a unique key would return to queued while a newer queued twin exists, the
 * twin does the work: the old one is closed as done ("superseded"). */
#define QUEUED_TWIN                                                                                \
    "(unique_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobs q WHERE q.unique_key = "               \
    "jobs.unique_key AND q.status = 'queued'))"

static const char REQUEUE_SQL[] =
    "UPDATE jobs SET updated_at = $3, run_at = $4, last_error = $2, status = CASE "
    "WHEN attempts >= max_attempts THEN 'failed' WHEN " QUEUED_TWIN " THEN 'done' "
    "ELSE 'queued' END, "
    "finished_at = CASE WHEN attempts >= max_attempts OR " QUEUED_TWIN " THEN $3 "
    "ELSE finished_at END, "
    "locked_by = NULL, locked_until = NULL WHERE id = $1 AND status = 'running' AND locked_by = $5";

static const char RELEASE_SQL[] =
    "UPDATE jobs SET updated_at = $2, run_at = $2, attempts = attempts - 1, status = CASE "
    "WHEN " QUEUED_TWIN " THEN 'done' ELSE 'queued' END, "
    "finished_at = CASE WHEN " QUEUED_TWIN " THEN $2 ELSE finished_at END, "
    "locked_by = NULL, locked_until = NULL "
    "WHERE id = $1 AND status = 'running' AND locked_by = $3";

/* Runs one statement in a transaction of its own. */
static int run_alone(struct store_conn *c, const char *sql, int n, const char *const *p,
                     struct dk_err *err)
{
    int rc = store_begin(c, err);
    if (rc != 0) {
        return rc;
    }
    rc = store_query(c, sql, n, p, NULL, err);
    if (rc == 0) {
        return store_commit(c, err);
    }
    store_rollback(c);
    return rc;
}

int queue_fail(struct store_conn *c, const struct queue_job *job, const char *error,
               struct dk_err *err)
{
    int64_t now = dk_now_ms();
    char id[24], nows[24], run[24];
    I64(id, job->id);
    I64(nows, now);
    I64(run, now + queue_backoff_ms(job->attempts));
    const char *p[] = {id, error, nows, run, job->worker};
    return run_alone(c, REQUEUE_SQL, 5, p, err);
}

int queue_release(struct store_conn *c, const struct queue_job *job, struct dk_err *err)
{
    char id[24], now[24];
    I64(id, job->id);
    I64(now, dk_now_ms());
    const char *p[] = {id, now, job->worker};
    return run_alone(c, RELEASE_SQL, 3, p, err);
}

int queue_requeue(struct store_conn *c, const struct queue_job *job, struct dk_err *err)
{
    char id[24], now[24];
    I64(id, job->id);
    I64(now, dk_now_ms());
    const char *p[] = {id, now, job->worker};
    struct store_res *r = NULL;
    int rc = store_query(c, RELEASE_SQL, 3, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    int64_t n = store_res_affected(r);
    store_res_free(r);
    return n > 0 ? 0 : dk_err_set(err, DK_EBUSY, "job %lld: lease lost", (long long)job->id);
}

int queue_reclaim_expired(struct store_conn *c, int64_t now_ms, int *n, struct dk_err *err)
{
    char nows[24];
    I64(nows, now_ms);
    const char *p[] = {nows};
    int rc = store_begin(c, err);
    if (rc != 0) {
        return rc;
    }
    struct store_res *r = NULL;
    rc = store_query(
        c, "SELECT id, locked_by FROM jobs WHERE status = 'running' AND locked_until < $1", 1, p,
        &r, err);
    if (rc != 0) {
        store_rollback(c);
        return rc;
    }
    int count = 0;
    for (size_t i = 0; i < store_res_rows(r) && rc == 0; i++) {
        const char *q[] = {store_res_get(r, i, 0), "lease expired: the worker stopped", nows, nows,
                           store_res_get(r, i, 1)};
        rc = store_query(c, REQUEUE_SQL, 5, q, NULL, err);
        count++;
    }
    store_res_free(r);
    if (rc != 0) {
        store_rollback(c);
        return rc;
    }
    rc = store_commit(c, err);
    if (rc == 0 && n != NULL) {
        *n = count;
    }
    return rc;
}

int queue_list_active(struct store_conn *c, int limit, json_t **out, struct dk_err *err)
{
    char lim[16];
    I64(lim, limit);
    const char *p[] = {lim};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, kind, status, payload, unique_key, attempts, max_attempts, "
                         "run_at, locked_by, locked_until, last_error, created_at, updated_at "
                         "FROM jobs WHERE status IN ('queued', 'running') "
                         "ORDER BY run_at, id LIMIT $1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_t *o = store_row_json(r, i,
                                   "id:s kind:s status:s payload:j unique_key:s attempts:i "
                                   "max_attempts:i run_at:i locked_by:s locked_until:i "
                                   "last_error:s created_at:i updated_at:i");
        /* millisecond columns as RFC 3339 */
        const char *keys[] = {"run_at", "locked_until", "created_at", "updated_at"};
        for (size_t k = 0; k < 4; k++) {
            json_t *v = json_object_get(o, keys[k]);
            if (json_is_integer(v)) {
                char ts[DK_TIME_LEN];
                json_object_set_new(o, keys[k],
                                    json_string(dk_time_format(json_integer_value(v), ts)));
            }
        }
        json_array_append_new(*out, o);
    }
    store_res_free(r);
    return 0;
}

int queue_lease(struct store_conn *c, const char *name, const char *holder, int64_t ttl_ms,
                bool *held, struct dk_err *err)
{
    int64_t now = dk_now_ms();
    char until[24], nows[24];
    I64(until, now + ttl_ms);
    I64(nows, now);
    const char *p[] = {name, holder, until, nows};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
                         "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                         "expires_at = excluded.expires_at "
                         "WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
                         4, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *held = store_res_affected(r) > 0;
    store_res_free(r);
    return 0;
}

int queue_lease_release(struct store_conn *c, const char *name, const char *holder,
                        struct dk_err *err)
{
    const char *p[] = {name, holder};
    return store_query(c, "DELETE FROM leases WHERE name = $1 AND holder = $2", 2, p, NULL, err);
}
