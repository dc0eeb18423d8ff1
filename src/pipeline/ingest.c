/*
 * pipeline/ingest: group commit of webhook deliveries.
 *
 * HTTP threads verify and parse a delivery, submit it here and suspend the request. Writer
 * threads take every delivery waiting (up to batch_max), store them all in one transaction
 * and commit once: one fsync acknowledges many deliveries, at full durability. Only then is
 * each request resumed with 200. When the batch fails (database down) every request gets the
 * error (503) and nothing is half-written; when a single delivery fails for another reason, the
 * batch is retried one delivery per transaction so that the others still commit.
 */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <string.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

struct item {
    struct item *next;
    const char *body;
    size_t len;
    const struct ig_delivery *d;
    pipeline_ingest_done_fn done;
    void *arg;
    char event_id[37];
    bool duplicate;
};

struct pipeline_ingest {
    struct pipeline_ingest_config cfg;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head, *tail;
    int queued;
    bool stopping;
};

/* Stores items [first, end) in one transaction. Returns 0 when committed. */
static int store_batch(struct pipeline_ingest *in, struct store_conn *c, struct item *first,
                       struct item *end, int *replies, struct dk_err *err)
{
    size_t n = 0;
    for (struct item *it = first; it != end; it = it->next) {
        n++;
    }
    struct pipeline_input *inputs = dk_calloc(n, sizeof(*inputs));
    size_t i = 0;
    for (struct item *it = first; it != end; it = it->next, i++) {
        inputs[i] = (struct pipeline_input){.body = it->body, .len = it->len, .d = it->d};
    }
    struct pipeline_persist_stats st = {0};
    int rc = store_begin(c, err);
    if (rc == 0) {
        rc = pipeline_store_deliveries(c, inputs, n, in->cfg.reply_debounce_ms, &st, err);
        if (rc == 0) {
            rc = store_commit(c, err);
        } else {
            store_rollback(c);
        }
    }
    i = 0;
    for (struct item *it = first; it != end; it = it->next, i++) {
        memcpy(it->event_id, inputs[i].event_id, sizeof(it->event_id));
        it->duplicate = inputs[i].duplicate;
    }
    dk_free(inputs);
    if (rc == 0) {
        *replies += st.replies;
    }
    return rc;
}

static void finish(struct item *first, struct item *end, int rc, const struct dk_err *err)
{
    for (struct item *it = first; it != end;) {
        struct item *next = it->next;
        it->done(it->arg, rc, err, it->event_id, it->duplicate);
        dk_free(it);
        it = next;
    }
}

/* Each writer keeps its connection between batches: on SQLite a connection's page cache stays
 * warm only while it is the one writing. *conn is released (and reopened on the next batch)
 * after the database failed. */
static void write_batch(struct pipeline_ingest *in, struct store_conn **conn, struct item *batch,
                        int n)
{
    struct dk_err err = {0};
    int replies = 0;
    int64_t started = dk_mono_ms();
    if (*conn == NULL) {
        *conn = store_acquire(in->cfg.store, &err);
    }
    struct store_conn *c = *conn;
    int rc = c != NULL ? store_batch(in, c, batch, NULL, &replies, &err) : err.code;
    bool failed = rc != 0;
    if (rc != 0 && rc != DK_EUNAVAIL && n > 1) {
        /* one bad delivery must not fail the others: one transaction each */
        DK_WARN("batch of %d deliveries failed (%s); retrying one by one", n, err.msg);
        for (struct item *it = batch; it != NULL;) {
            struct item *next = it->next;
            struct dk_err e1 = {0};
            int r1 = store_batch(in, c, it, next, &replies, &e1);
            if (r1 != 0) {
                DK_ERROR("could not store webhook delivery: %s", e1.msg);
            }
            it->next = NULL;
            finish(it, NULL, r1, &e1);
            it = next;
        }
        batch = NULL;
        rc = 0;
    }
    if (failed) {
        /* a fresh connection next time (a broken one is closed on release) */
        store_release(c);
        *conn = NULL;
    }
    if (rc != 0) {
        DK_WARN("could not store %d webhook deliveries: %s", n, err.msg);
    } else {
        DK_DEBUG("committed %d deliveries in %lld ms", n, (long long)(dk_mono_ms() - started));
    }
    finish(batch, NULL, rc, &err);
    if (replies > 0 && in->cfg.on_commit != NULL) {
        in->cfg.on_commit(in->cfg.on_commit_arg, replies);
    }
}

static void *writer_main(void *arg)
{
    struct pipeline_ingest *in = arg;
    struct store_conn *conn = NULL;
    pthread_mutex_lock(&in->mu);
    for (;;) {
        while (in->head == NULL && !in->stopping) {
            pthread_cond_wait(&in->cv, &in->mu);
        }
        if (in->head == NULL && in->stopping) {
            break;
        }
        struct item *batch = in->head;
        struct item *last = batch;
        int n = 1;
        while (last->next != NULL && n < in->cfg.batch_max) {
            last = last->next;
            n++;
        }
        in->head = last->next;
        if (in->head == NULL) {
            in->tail = NULL;
        }
        last->next = NULL;
        in->queued -= n;
        pthread_mutex_unlock(&in->mu);
        write_batch(in, &conn, batch, n);
        pthread_mutex_lock(&in->mu);
    }
    pthread_mutex_unlock(&in->mu);
    store_release(conn);
    return NULL;
}

struct pipeline_ingest *pipeline_ingest_start(const struct pipeline_ingest_config *cfg)
{
    struct pipeline_ingest *in = dk_calloc(1, sizeof(*in));
    in->cfg = *cfg;
    if (in->cfg.writers < 1) {
        in->cfg.writers = 1;
    }
    if (in->cfg.batch_max < 1) {
        in->cfg.batch_max = 256;
    }
    if (in->cfg.queue_max < 1) {
        in->cfg.queue_max = 20000;
    }
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    in->threads = dk_calloc((size_t)in->cfg.writers, sizeof(pthread_t));
    for (int i = 0; i < in->cfg.writers; i++) {
        if (pthread_create(&in->threads[i], NULL, writer_main, in) != 0) {
            DK_ERROR("could not start ingest writer %d", i);
            in->cfg.writers = i;
            break;
        }
    }
    return in;
}

int pipeline_ingest_submit(struct pipeline_ingest *in, const char *body, size_t len,
                           const struct ig_delivery *d, pipeline_ingest_done_fn done, void *arg,
                           struct dk_err *err)
{
    pthread_mutex_lock(&in->mu);
    if (in->stopping || in->queued >= in->cfg.queue_max || in->cfg.writers == 0) {
        bool stopping = in->stopping;
        pthread_mutex_unlock(&in->mu);
        return dk_err_set(err, DK_EUNAVAIL, "%s",
                          stopping ? "shutting down" : "too many deliveries waiting to be stored");
    }
    struct item *it = dk_calloc(1, sizeof(*it));
    it->body = body;
    it->len = len;
    it->d = d;
    it->done = done;
    it->arg = arg;
    if (in->tail != NULL) {
        in->tail->next = it;
    } else {
        in->head = it;
    }
    in->tail = it;
    in->queued++;
    pthread_cond_signal(&in->cv);
    pthread_mutex_unlock(&in->mu);
    return 0;
}

void pipeline_ingest_stop(struct pipeline_ingest *in)
{
    if (in == NULL) {
        return;
    }
    pthread_mutex_lock(&in->mu);
    in->stopping = true;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    for (int i = 0; i < in->cfg.writers; i++) {
        pthread_join(in->threads[i], NULL);
    }
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    dk_free(in->threads);
    dk_free(in);
}
