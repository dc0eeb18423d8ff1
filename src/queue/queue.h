/*
 * queue: durable jobs in the database (DESIGN §6).
 *
 * A job is enqueued inside the caller's transaction, so it exists exactly when the data it
 * refers to does. Workers claim jobs (FOR UPDATE SKIP LOCKED on PostgreSQL, an immediate
 * transaction on SQLite) under a lease; a handler runs inside a transaction that also marks the
 * job done, so a job's effects and its completion commit together: a worker killed with -9
 * rolls back, its lease expires, the scheduler puts the job back, and another worker does it
 * once. Failures retry with exponential backoff and jitter up to max_attempts, then the job
 * stays "failed" (the dead letter), visible through the API. A unique key gives at most one
 * queued job per key; enqueueing again moves its run_at (debounce).
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct queue_job {
    int64_t id;
    char kind[64];
    json_t *payload; /* owned by the job */
    int attempts;    /* including this one */
    int max_attempts;
    char *unique_key; /* owned, or NULL */
    char worker[128];
};
void queue_job_free(struct queue_job *job);

/* Enqueues in the caller's transaction. With a unique_key, an already queued job with that key
 * is updated instead (payload and run_at replaced: the latest enqueue wins). *id may be NULL. */
int queue_enqueue(struct store_conn *c, const char *kind, const char *payload_json,
                  const char *unique_key, int64_t run_at_ms, int max_attempts, int64_t *id,
                  struct dk_err *err);

/* Enqueues n jobs of one kind with unique keys (keys[i], payloads[i]) in the caller's
 * transaction, as queue_enqueue does for each: one statement on PostgreSQL. */
int queue_enqueue_bulk(struct store_conn *c, const char *kind, const char *const *keys,
                       const char *const *payloads, size_t n, int64_t run_at_ms, int max_attempts,
                       struct dk_err *err);

/* Removes the queued job with this unique key (one not yet claimed), in the caller's
 * transaction: work that became unnecessary. *removed may be NULL. */
int queue_dequeue(struct store_conn *c, const char *unique_key, bool *removed, struct dk_err *err);

/* Claims the next due job in its own short transaction. Returns 0 with *job NULL when none is
 * due. Caller frees with queue_job_free. */
int queue_claim(struct store_conn *c, const char *worker, int64_t lease_ms, struct queue_job **job,
                struct dk_err *err);
/* Claims up to max due jobs (oldest run_at first) in one short transaction: jobs[0..*n).
 * Concurrent workers get disjoint sets. Caller frees each with queue_job_free. */
int queue_claim_batch(struct store_conn *c, const char *worker, int64_t lease_ms, int max,
                      struct queue_job **jobs, size_t *n, struct dk_err *err);
/* Marks the job done inside the caller's transaction; DK_EBUSY when this worker no longer holds
 * its lease (the caller must roll back). */
int queue_complete(struct store_conn *c, const struct queue_job *job, struct dk_err *err);
/* Moves the lease of a running job this worker holds to until_ms, in the caller's transaction
 * (or alone). DK_EBUSY when the lease is no longer held. For handlers that hand a job over to
 * asynchronous work (DK_EPENDING) that may outlast the claim's lease. */
int queue_extend_lease(struct store_conn *c, const struct queue_job *job, int64_t until_ms,
                       struct dk_err *err);
/* Records a failure in its own transaction: back to queued with backoff, or failed when
 * attempts are exhausted (or superseded when a queued job with the same key exists). */
int queue_fail(struct store_conn *c, const struct queue_job *job, const char *error,
               struct dk_err *err);
/* Gives back a claimed job that was not run (its batch ran out of time): queued again at once,
 * its attempt not counted (or done when a queued job with the same key supersedes it). In its
 * own transaction. */
int queue_release(struct store_conn *c, const struct queue_job *job, struct dk_err *err);
/* As queue_release, in the caller's transaction: a job whose step is done and whose next step
 * should run at once. DK_EBUSY when the lease is no longer held. */
int queue_requeue(struct store_conn *c, const struct queue_job *job, struct dk_err *err);
/* Puts jobs whose lease expired back to queued (or failed when exhausted). *n may be NULL. */
int queue_reclaim_expired(struct store_conn *c, int64_t now_ms, int *n, struct dk_err *err);
/* Queued and running jobs (with attempts, run_at, lease, last error), and the most recent
 * failed ones, as a JSON array (new). */
int queue_list_active(struct store_conn *c, int limit, json_t **out, struct dk_err *err);
/* Backoff before attempt n+1 after n failed attempts: exponential from 1 s up to 10 min, with
 * jitter in [50 %, 100 %]. */
int64_t queue_backoff_ms(int attempts);

/* Takes or renews the named lease for holder until now + ttl_ms. *held tells whether holder
 * has it now. */
int queue_lease(struct store_conn *c, const char *name, const char *holder, int64_t ttl_ms,
                bool *held, struct dk_err *err);
int queue_lease_release(struct store_conn *c, const char *name, const char *holder,
                        struct dk_err *err);

/* ---- worker pool ---- */

/* Runs a job inside the transaction the pool opened on c. Returns 0 to commit (the pool marks
 * the job done in the same transaction) or a DK_* code to roll back and retry later, with err
 * saying why. DK_EPENDING hands the job over: the handler's work commits, the job stays
 * running under its lease (see queue_extend_lease), and whoever the handler gave it to calls
 * queue_complete (in its own transaction) or queue_fail later; if that never happens the lease
 * expires and the job runs again. Worker threads. */
typedef int (*queue_handler_fn)(void *ctx, struct store_conn *c, const struct queue_job *job,
                                struct dk_err *err);

struct queue_kind {
    const char *kind;
    queue_handler_fn handler;
    /* The handler runs before the batch transaction, on a connection in no transaction, and
     * keeps its own transactions short (long CPU work must not hold SQLite's write lock); the
     * job is then marked done in the batch transaction. At least once: a crash between the
     * two runs the handler again. */
    bool own_tx;
};

struct queue_pool_config {
    struct store *store;
    const struct queue_kind *kinds; /* static table */
    size_t nkinds;
    void *ctx;
    int threads;
    int64_t lease_ms;
    int64_t poll_ms;  /* safety-net polling interval (default 200) */
    int batch;        /* jobs claimed and committed together (default 32) */
    const char *name; /* worker id prefix, e.g. "host:pid" */
};

struct queue_pool;
/* Starts cfg->threads worker threads. Main thread. */
struct queue_pool *queue_pool_start(const struct queue_pool_config *cfg);
/* Wakes idle workers now (after an in-process enqueue). Any thread. */
void queue_pool_wake(struct queue_pool *p);
/* Jobs being run right now. */
int queue_pool_busy(struct queue_pool *p);
/* Stops claiming; waits for running jobs to finish; joins and frees. NULL is accepted. */
void queue_pool_stop(struct queue_pool *p);

/* ---- scheduler: one active per database (lease "scheduler") ---- */
struct queue_scheduler;
/* Every interval_ms: renews the lease and, while holding it, reclaims expired job leases and
 * wakes pool (may be NULL). Main thread. */
struct queue_scheduler *queue_scheduler_start(struct store *s, struct queue_pool *pool,
                                              const char *holder, int64_t interval_ms);
bool queue_scheduler_active(struct queue_scheduler *sch);
void queue_scheduler_stop(struct queue_scheduler *sch);

#endif
