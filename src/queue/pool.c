/*
 * queue/pool: worker threads. Each worker owns one database connection at a time, claims one
 * job, runs its handler in a transaction together with the job's completion, and on failure
 * records the error with backoff. Idle workers sleep on a condition variable, woken by
 * queue_pool_wake or by the polling interval (the safety net across processes).
 */
#include "queue/queue.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

#define QUEUE_BATCH_MAX 256

struct queue_pool {
    struct queue_pool_config cfg;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    unsigned wakeups;
    int busy;
};

struct worker_arg {
    struct queue_pool *pool;
    int index;
};

static const struct queue_kind *find_kind(const struct queue_pool *p, const char *kind)
{
    for (size_t i = 0; i < p->cfg.nkinds; i++) {
        if (strcmp(p->cfg.kinds[i].kind, kind) == 0) {
            return &p->cfg.kinds[i];
        }
    }
    return NULL;
}

static void idle_wait(struct queue_pool *p, unsigned seen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (p->cfg.poll_ms % 1000) * 1000000;
    ts.tv_sec += p->cfg.poll_ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping && p->wakeups == seen) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

/* Runs one job inside the batch transaction, under its own savepoint, so that a failing job
 * leaves the others' work intact. Returns 0 when the job's work and completion are in. */
static int run_job(struct queue_pool *p, struct store_conn *c, struct queue_job *job,
                   struct dk_err *err)
{
    const struct queue_kind *k = find_kind(p, job->kind);
    if (k == NULL) {
        return dk_err_set(err, DK_EINVAL, "no handler for job kind \"%s\"", job->kind);
    }
    int rc = store_savepoint(c, "job", err);
    if (rc != 0) {
        return rc;
    }
    rc = k->handler(p->cfg.ctx, c, job, err);
    if (rc == 0) {
        rc = queue_complete(c, job, err);
    }
    if (rc == 0 || rc == DK_EPENDING) {
        /* pending: the handler's work commits, and its owner completes the job later */
        int src = store_savepoint_release(c, "job", err);
        return src != 0 ? src : rc;
    }
    struct dk_err ignored = {0};
    if (store_savepoint_rollback(c, "job", &ignored) != 0 ||
        store_savepoint_release(c, "job", &ignored) != 0) {
        return DK_EUNAVAIL; /* the transaction is gone: fail the whole batch */
    }
    return rc;
}

/* Runs a claimed batch in one transaction (one commit, one fsync, for all of them) and records
 * the failures afterwards, each with its backoff. */
static void run_batch(struct queue_pool *p, struct store_conn *c, struct queue_job **jobs, size_t n)
{
    struct dk_err *errs = dk_calloc(n, sizeof(*errs));
    int *rcs = dk_calloc(n, sizeof(*rcs));
    bool *unrun = dk_calloc(n, sizeof(*unrun));
    bool *outside = dk_calloc(n, sizeof(*outside));
    int64_t started = dk_mono_ms();
    /* kinds that keep their own transactions run first, outside the batch's */
    for (size_t i = 0; i < n; i++) {
        const struct queue_kind *k = find_kind(p, jobs[i]->kind);
        if (k != NULL && k->own_tx) {
            char jid[24];
            snprintf(jid, sizeof(jid), "%lld", (long long)jobs[i]->id);
            dk_log_set_ctx("job", jid);
            outside[i] = true;
            rcs[i] = k->handler(p->cfg.ctx, c, jobs[i], &errs[i]);
            if (store_in_tx(c)) {
                store_rollback(c); /* a handler that left one open: its work is not done */
                rcs[i] = rcs[i] != 0
                             ? rcs[i]
                             : dk_err_set(&errs[i], DK_EINTERNAL, "job left a transaction open");
            }
        }
    }
    dk_log_set_ctx(NULL, NULL);
    struct dk_err err = {0};
    int rc = store_begin(c, &err);
    for (size_t i = 0; i < n; i++) {
        if (outside[i]) {
            if (rcs[i] == DK_EPENDING) {
                continue; /* handed over: completed later by the handler's owner */
            }
            if (rc != 0 && rcs[i] == 0) {
                rcs[i] = rc;
                errs[i] = err;
            } else if (rcs[i] == 0) {
                rcs[i] = queue_complete(c, jobs[i], &errs[i]);
            }
            continue;
        }
        memset(&errs[i], 0, sizeof(errs[i]));
        rcs[i] = rc;
        if (rc != 0) {
            errs[i] = err;
            continue;
        }
        /* leases are not renewed: a batch stops at half of its lease, and gives back the jobs it
         * did not reach, so that no claimed job outlives its lease while it waits */
        if (i > 0 && dk_mono_ms() - started > p->cfg.lease_ms / 2) {
            unrun[i] = true;
            continue;
        }
        char jid[24];
        snprintf(jid, sizeof(jid), "%lld", (long long)jobs[i]->id);
        dk_log_set_ctx("job", jid);
        rcs[i] = run_job(p, c, jobs[i], &errs[i]);
        if (rcs[i] == DK_EUNAVAIL) {
            rc = rcs[i];
            err = errs[i];
        }
    }
    dk_log_set_ctx(NULL, NULL);
    if (rc == 0) {
        rc = store_commit(c, &err);
    } else {
        store_rollback(c);
    }
    for (size_t i = 0; i < n; i++) {
        struct queue_job *job = jobs[i];
        if (rc != 0 && (rcs[i] == 0 || (rcs[i] == DK_EPENDING && !outside[i]))) {
            rcs[i] = rc; /* a pending hand-over inside a rolled back batch is void too */
            errs[i] = err;
        }
        char jid[24];
        snprintf(jid, sizeof(jid), "%lld", (long long)job->id);
        dk_log_set_ctx("job", jid);
        if (unrun[i]) {
            struct dk_err rerr = {0};
            if (queue_release(c, job, &rerr) != 0) {
                DK_WARN("could not give back job %s: %s", jid, rerr.msg);
            }
            continue;
        }
        if (rcs[i] == 0 || rcs[i] == DK_EPENDING) {
            DK_DEBUG("job %s %s kind=%s attempt=%d", jid, rcs[i] == 0 ? "done" : "pending",
                     job->kind, job->attempts);
            continue;
        }
        DK_WARN("job %s failed kind=%s attempt=%d/%d: %s", jid, job->kind, job->attempts,
                job->max_attempts, errs[i].msg);
        struct dk_err ferr = {0};
        if (rcs[i] != DK_EBUSY && queue_fail(c, job, errs[i].msg, &ferr) != 0) {
            /* the lease runs out and the scheduler puts the job back */
            DK_WARN("could not record failure of job %s: %s", jid, ferr.msg);
        }
    }
    dk_log_set_ctx(NULL, NULL);
    dk_free(errs);
    dk_free(rcs);
    dk_free(unrun);
    dk_free(outside);
    DK_DEBUG("ran %zu job(s) in %lld ms", n, (long long)(dk_mono_ms() - started));
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct queue_pool *p = wa->pool;
    char name[128];
    snprintf(name, sizeof(name), "%s/w%d", p->cfg.name, wa->index);
    dk_free(wa);
    int64_t backoff = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stopping;
        unsigned seen = p->wakeups;
        pthread_mutex_unlock(&p->mu);
        if (stop) {
            break;
        }
        struct dk_err err = {0};
        struct store_conn *c = store_acquire(p->cfg.store, &err);
        struct queue_job *jobs[QUEUE_BATCH_MAX];
        size_t n = 0;
        int rc = c != NULL
                     ? queue_claim_batch(c, name, p->cfg.lease_ms, p->cfg.batch, jobs, &n, &err)
                     : err.code;
        if (rc != 0) {
            store_release(c);
            /* database unavailable: back off up to 2 s, then retry */
            backoff = backoff == 0 ? 100 : (backoff * 2 > 2000 ? 2000 : backoff * 2);
            DK_WARN("worker %s could not claim a job: %s", name, err.msg);
            dk_sleep_ms(backoff);
            continue;
        }
        backoff = 0;
        if (n == 0) {
            store_release(c);
            idle_wait(p, seen);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        p->busy += (int)n;
        pthread_mutex_unlock(&p->mu);
        run_batch(p, c, jobs, n);
        pthread_mutex_lock(&p->mu);
        p->busy -= (int)n;
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < n; i++) {
            queue_job_free(jobs[i]);
        }
        store_release(c);
    }
    return NULL;
}

struct queue_pool *queue_pool_start(const struct queue_pool_config *cfg)
{
    struct queue_pool *p = dk_calloc(1, sizeof(*p));
    p->cfg = *cfg;
    if (p->cfg.poll_ms <= 0) {
        p->cfg.poll_ms = 200;
    }
    if (p->cfg.batch <= 0 || p->cfg.batch > QUEUE_BATCH_MAX) {
        p->cfg.batch = 32;
    }
    if (p->cfg.name == NULL) {
        p->cfg.name = "worker";
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = dk_calloc((size_t)(cfg->threads > 0 ? cfg->threads : 1), sizeof(pthread_t));
    for (int i = 0; i < cfg->threads; i++) {
        struct worker_arg *wa = dk_malloc(sizeof(*wa));
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            DK_ERROR("could not start worker thread %d", i);
            dk_free(wa);
            p->cfg.threads = i;
            break;
        }
    }
    return p;
}

void queue_pool_wake(struct queue_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->wakeups++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int queue_pool_busy(struct queue_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->busy;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void queue_pool_stop(struct queue_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->cfg.threads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    dk_free(p->threads);
    dk_free(p);
}
