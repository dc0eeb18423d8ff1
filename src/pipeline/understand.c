/*
 * pipeline/understand: the local NLU inside the message lifecycle. It owns the intent model in
 * use (the built-in one, or the newest ready model the business's examples were trained into,
 * kept in nlu_models), swaps it atomically when a newer version appears in the database (any
 * process may have trained it), and runs the retraining job. Every thread gets its own NLU
 * scratch context.
 */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/repo.h"

/* Model versions kept in the database (each is a few MB); older ones are deleted. */
#define KEEP_VERSIONS 5

/* How often a process looks for a newer model in the database. */
#define CHECK_EVERY_MS 1000

struct pipeline_nlu_model {
    struct nlu_model *model; /* NULL: the built-in default */
    int64_t version;         /* nlu_models.id, 0 for the built-in model */
    atomic_int refs;
};

struct pipeline_nlu {
    struct store *store; /* for checks by callers without a connection; may be NULL */
    pthread_mutex_t mu;
    struct pipeline_nlu_model *cur;
    int64_t checked_ms;
    pthread_mutex_t load_mu; /* one loader at a time; readers keep the old model meanwhile */
};

static struct pipeline_nlu_model *ref_new(struct nlu_model *m, int64_t version)
{
    struct pipeline_nlu_model *r = dk_calloc(1, sizeof(*r));
    r->model = m;
    r->version = version;
    atomic_init(&r->refs, 1);
    return r;
}

static void ref_put(struct pipeline_nlu_model *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
        nlu_model_free(r->model);
        dk_free(r);
    }
}

struct pipeline_nlu *pipeline_nlu_new(struct store *s)
{
    struct pipeline_nlu *h = dk_calloc(1, sizeof(*h));
    h->store = s;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->load_mu, NULL);
    h->cur = ref_new(NULL, 0);
    h->checked_ms = -CHECK_EVERY_MS;
    return h;
}

void pipeline_nlu_free(struct pipeline_nlu *h)
{
    if (h == NULL) {
        return;
    }
    ref_put(h->cur);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->load_mu);
    dk_free(h);
}

const struct nlu_model *pipeline_nlu_model_get(const struct pipeline_nlu_model *r)
{
    return r->model != NULL ? r->model : nlu_default_intent_model();
}

int64_t pipeline_nlu_model_version(const struct pipeline_nlu_model *r)
{
    return r->version;
}

void pipeline_nlu_release(struct pipeline_nlu_model *r)
{
    ref_put(r);
}

static struct pipeline_nlu_model *current(struct pipeline_nlu *h)
{
    pthread_mutex_lock(&h->mu);
    struct pipeline_nlu_model *r = h->cur;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&h->mu);
    return r;
}

/* Loads the newest ready model when it is newer than the one in use. */
static int refresh(struct pipeline_nlu *h, struct store_conn *c, struct dk_err *err)
{
    int64_t latest = 0;
    int rc = store_nlu_model_latest(c, "intent", &latest, NULL, err);
    if (rc != 0) {
        return rc;
    }
    struct pipeline_nlu_model *r = current(h);
    bool newer = latest > r->version;
    ref_put(r);
    if (!newer) {
        return 0;
    }
    pthread_mutex_lock(&h->load_mu);
    char *b64 = NULL;
    rc = store_nlu_model_latest(c, "intent", &latest, &b64, err);
    size_t len = 0;
    void *bytes = rc == 0 && b64 != NULL ? dk_base64_decode(b64, &len) : NULL;
    struct nlu_model *m = NULL;
    if (rc == 0 && bytes == NULL) {
        rc = dk_err_set(err, DK_EINVAL, "intent model %lld is not valid base64", (long long)latest);
    } else if (rc == 0) {
        m = nlu_model_load_mem(bytes, len, err);
        rc = m != NULL ? 0 : DK_EINVAL;
    }
    dk_free(bytes);
    dk_free(b64);
    if (m != NULL) {
        struct pipeline_nlu_model *fresh = ref_new(m, latest);
        pthread_mutex_lock(&h->mu);
        struct pipeline_nlu_model *old = h->cur;
        h->cur = fresh;
        pthread_mutex_unlock(&h->mu);
        ref_put(old);
        DK_INFO("intent model version %lld in use", (long long)latest);
    }
    pthread_mutex_unlock(&h->load_mu);
    return rc;
}

struct pipeline_nlu_model *pipeline_nlu_acquire(struct pipeline_nlu *h, struct store_conn *c)
{
    int64_t now = dk_now_ms();
    bool due = false;
    pthread_mutex_lock(&h->mu);
    if ((c != NULL || h->store != NULL) && now - h->checked_ms >= CHECK_EVERY_MS) {
        h->checked_ms = now;
        due = true;
    }
    pthread_mutex_unlock(&h->mu);
    if (due) {
        struct dk_err err = {0};
        struct store_conn *own = c == NULL ? store_acquire(h->store, &err) : NULL;
        int rc = c != NULL || own != NULL ? refresh(h, c != NULL ? c : own, &err) : -1;
        if (own != NULL) {
            store_release(own);
        }
        if (rc != 0) {
            /* keep answering with the model in use; the next check tries again */
            DK_WARN("could not load the newest intent model: %s", err.msg);
        }
    }
    return current(h);
}

/* ---- per-thread NLU scratch ---- */

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_destroy(void *p)
{
    nlu_ctx_free(p);
}

static void ctx_key_init(void)
{
    pthread_key_create(&ctx_key, ctx_destroy);
}

struct nlu_ctx *pipeline_nlu_thread_ctx(void)
{
    pthread_once(&ctx_once, ctx_key_init);
    struct nlu_ctx *c = pthread_getspecific(ctx_key);
    if (c == NULL) {
        c = nlu_ctx_new();
        pthread_setspecific(ctx_key, c);
    }
    return c;
}

/* ---- retraining ---- */

static bool listed(json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (strcmp(json_string_value(v), name) == 0) {
            return true;
        }
    }
    return false;
}

int pipeline_nlu_training_set(struct store_conn *c, struct nlu_dataset *out, struct dk_err *err)
{
    json_t *custom = NULL, *disabled = NULL;
    int rc = store_nlu_training_set(c, &custom, &disabled, err);
    if (rc != 0) {
        return rc;
    }
    const struct nlu_dataset *builtin = nlu_default_intent_examples();
    for (size_t i = 0; i < builtin->n && rc == 0; i++) {
        if (!listed(disabled, builtin->v[i].label)) {
            rc = nlu_dataset_add(out, builtin->v[i].text, builtin->v[i].label, err);
        }
    }
    size_t i;
    json_t *ex;
    json_array_foreach(custom, i, ex)
    {
        if (rc == 0) {
            rc = nlu_dataset_add(out, json_string_value(json_array_get(ex, 0)),
                                 json_string_value(json_array_get(ex, 1)), err);
        }
    }
    json_decref(custom);
    json_decref(disabled);
    return rc;
}

int pipeline_nlu_retrain(struct store_conn *c, int64_t *version, struct dk_err *err)
{
    struct nlu_dataset d;
    nlu_dataset_init(&d);
    int rc = pipeline_nlu_training_set(c, &d, err);
    struct nlu_model *m = NULL;
    int64_t t0 = dk_now_ms();
    struct dk_err terr = {0};
    if (rc == 0) {
        struct nlu_train_opts opts = {.task = NLU_TASK_INTENT, .seed = nlu_default_seed()};
        m = nlu_train(&d, NULL, &opts, &terr);
    }
    struct dk_buf buf;
    dk_buf_init(&buf, (size_t)256 << 20);
    if (m != NULL && nlu_model_save_mem(m, &buf, &terr) != 0) {
        nlu_model_free(m);
        m = NULL;
    }
    bool own = rc == 0 && !store_in_tx(c);
    if (own) {
        rc = store_begin(c, err);
    }
    if (rc == 0) {
        char *b64 = m != NULL ? dk_base64_encode(buf.data, buf.len) : NULL;
        struct store_nlu_model row = {.task = "intent",
                                      .status = m != NULL ? "ready" : "failed",
                                      .examples = (int64_t)d.n,
                                      .labels = m != NULL ? (int64_t)nlu_model_nlabels(m) : 0,
                                      .model_b64 = b64,
                                      .error = m != NULL ? NULL : terr.msg,
                                      .train_ms = dk_now_ms() - t0,
                                      .created_ms = dk_now_ms()};
        rc = store_nlu_model_insert(c, &row, version, err);
        dk_free(b64);
        if (rc == 0) {
            rc = store_nlu_model_prune(c, "intent", KEEP_VERSIONS, err);
        }
        if (own && rc == 0) {
            rc = store_commit(c, err);
        } else if (own) {
            store_rollback(c);
        }
        if (rc == 0) {
            DK_INFO("intent model version %lld %s: %zu examples, %lld ms%s%s", (long long)*version,
                    row.status, d.n, (long long)row.train_ms, m != NULL ? "" : ": ",
                    m != NULL ? "" : terr.msg);
        }
    }
    dk_buf_free(&buf);
    nlu_model_free(m);
    nlu_dataset_free(&d);
    return rc;
}

int pipeline_nlu_train_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                           struct dk_err *err)
{
    (void)ctx;
    (void)job;
    int64_t version = 0;
    return pipeline_nlu_retrain(c, &version, err);
}

int pipeline_nlu_schedule_retrain(struct store_conn *c, struct dk_err *err)
{
    /* one queued retraining at a time: changes made meanwhile are picked up by it */
    return queue_enqueue(c, PIPELINE_JOB_NLU_TRAIN, "{}", PIPELINE_JOB_NLU_TRAIN, dk_now_ms(), 3,
                         NULL, err);
}
