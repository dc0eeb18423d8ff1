/*
 * queue/scheduler: one thread that holds the "scheduler" lease (so only one scheduler is
 * active per database, whatever the number of processes) and, while holding it, reclaims jobs
 * whose lease expired and wakes the local workers. Delayed jobs need no timer of their own:
 * workers claim any job whose run_at has come.
 */
#include "queue/queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

struct queue_scheduler {
    struct store *store;
    struct queue_pool *pool;
    char holder[128];
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    atomic_bool active;
};

static void tick(struct queue_scheduler *s)
{
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s->store, &err);
    if (c == NULL) {
        DK_WARN("scheduler could not reach the database: %s", err.msg);
        atomic_store(&s->active, false);
        return;
    }
    bool held = false;
    if (queue_lease(c, "scheduler", s->holder, s->interval_ms * 5, &held, &err) != 0) {
        DK_WARN("scheduler could not renew its lease: %s", err.msg);
        held = false;
    }
    bool was = atomic_exchange(&s->active, held);
    if (held != was) {
        DK_INFO("scheduler %s is %s", s->holder, held ? "active" : "standing by");
    }
    if (held) {
        int n = 0;
        if (queue_reclaim_expired(c, dk_now_ms(), &n, &err) != 0) {
            DK_WARN("scheduler could not reclaim expired jobs: %s", err.msg);
        } else if (n > 0) {
            DK_WARN("scheduler reclaimed %d job(s) whose worker stopped", n);
            queue_pool_wake(s->pool);
        }
    }
    store_release(c);
}

static void *scheduler_main(void *arg)
{
    struct queue_scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->mu);
        tick(s);
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (s->interval_ms % 1000) * 1000000;
        ts.tv_sec += s->interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

struct queue_scheduler *queue_scheduler_start(struct store *st, struct queue_pool *pool,
                                              const char *holder, int64_t interval_ms)
{
    struct queue_scheduler *s = dk_calloc(1, sizeof(*s));
    s->store = st;
    s->pool = pool;
    s->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    snprintf(s->holder, sizeof(s->holder), "%s", holder);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->active, false);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        DK_ERROR("could not start the scheduler thread");
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        dk_free(s);
        return NULL;
    }
    return s;
}

bool queue_scheduler_active(struct queue_scheduler *s)
{
    return s != NULL && atomic_load(&s->active);
}

void queue_scheduler_stop(struct queue_scheduler *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s->store, &err);
    if (c != NULL) {
        queue_lease_release(c, "scheduler", s->holder, &err);
        store_release(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    dk_free(s);
}
