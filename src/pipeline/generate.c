/*
 * pipeline/generate: replies written by an LLM without a thread waiting for them.
 *
 * The reply job (reply.c) decides that a burst needs an LLM and stores a bot message in status
 * "generating" with a job "ai_reply" in the same transaction. That job runs in steps, each
 * persisted in the message's metadata before the next starts: "intent" (only when the local
 * NLU was unsure and a route for intents exists) and "reply". A step's handler reads what the
 * prompt needs, moves the job's lease past the router's deadline, hands the call to the router
 * and returns DK_EPENDING: the worker thread is free at once. When the answer arrives (on the
 * HTTP loop thread) it goes to the finisher thread, which in one short transaction records
 * every attempt in ai_calls and stores the step: the intent (then the job is queued again for
 * the reply step) or the checked reply as pending_send with the job marked done. A crash while
 * a call is in flight loses nothing: the lease runs out and the step runs again; a finished
 * step is never repeated.
 */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "pipeline/gen_int.h"
#include "store/repo.h"

struct fin_item {
    struct fin_item *next;
    struct ai_result *res;
    char task[16];
    char *account_id;
    char conversation_id[STORE_ID_LEN];
    pipeline_gen_work_fn work;
    pipeline_gen_after_fn after;
    void *arg;
};

struct pipeline_gen {
    struct pipeline_gen_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fin_item *head, *tail;
    int queued;
    bool busy, stopping;
};

const struct pipeline_responder *gen_responder(const struct pipeline_gen *g)
{
    return g->cfg.responder;
}

struct ai_router *pipeline_gen_router(const struct pipeline_gen *g)
{
    return g->cfg.router;
}

bool pipeline_gen_uses_llm(const struct pipeline_gen *g)
{
    const struct ai_config *cfg = ai_router_config(g->cfg.router);
    return cfg->nroute[AI_TASK_REPLY] > 0 &&
           !cfg->providers[cfg->routes[AI_TASK_REPLY][0].provider].builtin;
}

bool pipeline_gen_asks_intent(const struct pipeline_gen *g, double confidence)
{
    const struct ai_config *cfg = ai_router_config(g->cfg.router);
    return cfg->nroute[AI_TASK_INTENT] > 0 &&
           !cfg->providers[cfg->routes[AI_TASK_INTENT][0].provider].builtin &&
           confidence < cfg->local_threshold[AI_TASK_INTENT];
}

/* ---- ai_calls ---- */

int pipeline_record_calls(struct store_conn *c, const struct ai_result *res, const char *task,
                          const char *account_id, const char *conversation_id, struct dk_err *err)
{
    if (res == NULL || res->nattempts == 0) {
        return 0; /* also the finisher's non-AI work (deliveries) */
    }
    struct store_ai_call v[AI_MAX_ATTEMPTS];
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < res->nattempts; i++) {
        const struct ai_attempt *a = &res->attempts[i];
        v[i] = (struct store_ai_call){
            .created_ms = now,
            .task = task,
            .provider = a->provider,
            .model = a->model,
            .account_id = account_id,
            .conversation_id =
                conversation_id != NULL && conversation_id[0] != '\0' ? conversation_id : NULL,
            .path = strcmp(a->provider, "local") == 0 ? "local" : "llm",
            .outcome = ai_outcome_name(a->outcome),
            .http_status = a->http_status,
            .latency_ms = a->latency_ms,
            .first_token_ms = a->first_token_ms,
            .input_tokens = a->usage.input_tokens,
            .output_tokens = a->usage.output_tokens,
            .redacted = a->redacted,
            .error = a->error[0] != '\0' ? a->error : NULL,
        };
    }
    return store_ai_calls_insert(c, v, res->nattempts, err);
}

/* ---- the finisher thread ---- */

/* Most results stored in one transaction (each under its own savepoint). */
#define FINISH_BATCH 64

/* One result's records and work, under a savepoint of the batch's transaction. */
static int run_item(struct store_conn *c, struct fin_item *it, struct dk_err *err)
{
    int rc = store_savepoint(c, "fin", err);
    if (rc != 0) {
        return rc;
    }
    rc = pipeline_record_calls(c, it->res, it->task, it->account_id, it->conversation_id, err);
    if (rc == 0 && it->work != NULL) {
        rc = it->work(c, it->arg, it->res, err);
    }
    struct dk_err ignored = {0};
    if (rc == 0) {
        return store_savepoint_release(c, "fin", err);
    }
    if (store_savepoint_rollback(c, "fin", &ignored) != 0 ||
        store_savepoint_release(c, "fin", &ignored) != 0) {
        return DK_EUNAVAIL; /* the transaction is gone */
    }
    return rc;
}

static void free_item(struct fin_item *it)
{
    ai_result_free(it->res);
    dk_free(it->account_id);
    dk_free(it);
}

/* Stores a batch of results in one transaction, then tells each owner how it went. */
static void run_batch(struct pipeline_gen *g, struct fin_item **items, size_t n)
{
    struct dk_err berr = {0};
    struct dk_err errs[FINISH_BATCH];
    int rcs[FINISH_BATCH];
    struct store_conn *c = store_acquire(g->cfg.store, &berr);
    int brc = c != NULL ? store_begin(c, &berr) : DK_EUNAVAIL;
    for (size_t i = 0; i < n; i++) {
        memset(&errs[i], 0, sizeof(errs[i]));
        rcs[i] = brc == 0 ? run_item(c, items[i], &errs[i]) : brc;
        if (brc != 0) {
            errs[i] = berr;
        } else if (rcs[i] == DK_EUNAVAIL) {
            brc = rcs[i];
            berr = errs[i];
        }
    }
    if (c != NULL && store_in_tx(c)) {
        if (brc == 0) {
            brc = store_commit(c, &berr);
        } else {
            store_rollback(c);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct fin_item *it = items[i];
        if (brc != 0 && rcs[i] == 0) {
            rcs[i] = brc; /* its savepoint went with the transaction */
            errs[i] = berr;
        }
        if (rcs[i] != 0 && rcs[i] != DK_ECANCELED) {
            DK_WARN("could not store the result of an ai %s call: %s", it->task, errs[i].msg);
        }
        if (it->after != NULL) {
            it->after(it->arg, c, it->res, rcs[i], &errs[i]);
        }
        free_item(it);
    }
    if (c != NULL) {
        store_release(c);
    }
}

static void *finisher_main(void *arg)
{
    struct pipeline_gen *g = arg;
    struct fin_item *items[FINISH_BATCH];
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->head == NULL && !g->stopping) {
            pthread_cond_wait(&g->cv, &g->mu);
        }
        size_t n = 0;
        while (g->head != NULL && n < FINISH_BATCH) {
            items[n++] = g->head;
            g->head = g->head->next;
        }
        if (g->head == NULL) {
            g->tail = NULL;
        }
        if (n == 0) {
            break; /* stopping with nothing left */
        }
        g->busy = true;
        pthread_mutex_unlock(&g->mu);
        run_batch(g, items, n);
        pthread_mutex_lock(&g->mu);
        g->queued -= (int)n;
        g->busy = false;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

void pipeline_gen_finish(struct pipeline_gen *g, struct ai_result *res, const char *task,
                         const char *account_id, const char *conversation_id,
                         pipeline_gen_work_fn work, pipeline_gen_after_fn after, void *arg)
{
    struct fin_item *it = dk_calloc(1, sizeof(*it));
    it->res = res;
    snprintf(it->task, sizeof(it->task), "%s", task);
    it->account_id = account_id != NULL ? dk_strdup(account_id) : NULL;
    snprintf(it->conversation_id, sizeof(it->conversation_id), "%s",
             conversation_id != NULL ? conversation_id : "");
    it->work = work;
    it->after = after;
    it->arg = arg;
    pthread_mutex_lock(&g->mu);
    if (g->tail != NULL) {
        g->tail->next = it;
    } else {
        g->head = it;
    }
    g->tail = it;
    g->queued++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

struct pipeline_gen *pipeline_gen_start(const struct pipeline_gen_config *cfg)
{
    struct pipeline_gen *g = dk_calloc(1, sizeof(*g));
    g->cfg = *cfg;
    if (g->cfg.max_inflight <= 0) {
        g->cfg.max_inflight = 4096;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    pthread_create(&g->thread, NULL, finisher_main, g);
    return g;
}

void pipeline_gen_wait(struct pipeline_gen *g, int64_t timeout_ms)
{
    if (g == NULL) {
        return;
    }
    int64_t until = dk_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        bool idle = g->queued == 0 && !g->busy;
        pthread_mutex_unlock(&g->mu);
        if ((idle && ai_router_inflight(g->cfg.router) == 0) || dk_mono_ms() >= until) {
            return;
        }
        dk_sleep_ms(20);
    }
}

void pipeline_gen_stop(struct pipeline_gen *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    dk_free(g);
}

void gen_job_copy(struct queue_job *to, const struct queue_job *job)
{
    memset(to, 0, sizeof(*to));
    to->id = job->id;
    snprintf(to->kind, sizeof(to->kind), "%s", job->kind);
    snprintf(to->worker, sizeof(to->worker), "%s", job->worker);
    to->attempts = job->attempts;
    to->max_attempts = job->max_attempts;
}

int gen_extend_lease(struct pipeline_gen *g, struct store_conn *c, const struct queue_job *job,
                     struct dk_err *err)
{
    /* the router gives up at its deadline; the margin covers the finisher's queue. A crash
     * meanwhile: the step runs again once this lease is over */
    const struct ai_config *acfg = ai_router_config(g->cfg.router);
    int64_t margin = acfg->deadline_ms / 4 > 5000 ? acfg->deadline_ms / 4 : 5000;
    /* in a transaction of its own: the store's write turn, not SQLite's sleeping busy handler,
     * orders it with the other writers */
    int rc = store_begin(c, err);
    if (rc == 0) {
        rc = queue_extend_lease(c, job, dk_now_ms() + acfg->deadline_ms + margin, err);
    }
    if (rc == 0) {
        rc = store_commit(c, err);
    } else if (store_in_tx(c)) {
        store_rollback(c);
    }
    return rc;
}

/* ---- the ai_reply job ---- */

enum step { STEP_INTENT, STEP_REPLY };

/* One step in flight: what the finisher needs once the router answered. */
struct job_call {
    struct pipeline_gen *g;
    struct queue_job job; /* copy: id, worker, attempts (payload not kept) */
    enum step step;
    char message_id[STORE_ID_LEN];
    char conversation_id[STORE_ID_LEN];
    json_t *metadata; /* the message's, updated with the step */
    struct pipeline_draft *draft;
    char local_intent[72];
};

static void job_call_free(struct job_call *jc)
{
    json_decref(jc->metadata);
    pipeline_draft_free(jc->draft);
    dk_free(jc);
}

/* The conversation's context after a reply; then, from the same context, whether a summary is
 * due. */
static int update_context(struct store_conn *c, const char *conv_id, const char *reply_id,
                          const char *intent, const char *provider, struct dk_err *err)
{
    struct store_conversation conv = {0};
    int rc = store_conversation_load(c, conv_id, &conv, err);
    if (rc != 0) {
        return rc;
    }
    json_t *ctx = json_loads(conv.context != NULL ? conv.context : "{}", 0, NULL);
    if (!json_is_object(ctx)) {
        json_decref(ctx);
        ctx = json_object();
    }
    int64_t now = dk_now_ms();
    char ts[DK_TIME_LEN];
    json_object_set_new(ctx, "last_reply_id", json_string(reply_id));
    json_object_set_new(ctx, "last_reply_at", json_string(dk_time_format(now, ts)));
    json_object_set_new(ctx, "last_reply_provider", json_string(provider));
    if (intent != NULL) {
        json_object_set_new(ctx, "last_intent", json_string(intent));
    }
    json_int_t n = json_integer_value(json_object_get(ctx, "bot_replies"));
    json_object_set_new(ctx, "bot_replies", json_integer(n + 1));
    char *text = dk_json_dump(ctx);
    rc = store_conversation_set_context(c, conv_id, text, now, err);
    dk_free(text);
    if (rc == 0) {
        rc = pipeline_summary_maybe(c, conv.id, ctx, err);
    }
    json_decref(ctx);
    store_conversation_clear(&conv);
    return rc;
}

static int store_intent_step(struct store_conn *c, struct job_call *jc, struct ai_result *res,
                             struct dk_err *err)
{
    json_t *steps = json_object_get(jc->metadata, "steps");
    if (!json_is_object(steps)) {
        steps = json_object();
        json_object_set_new(jc->metadata, "steps", steps);
    }
    struct dk_err perr = {0};
    json_t *llm = NULL;
    if (res->reply.outcome == AI_OK && strcmp(res->provider, "local") != 0) {
        llm = ai_llm_intent_json(res->reply.text, NULL, &perr);
        if (llm == NULL) {
            DK_WARN("intent from %s ignored: %s", res->provider, perr.msg);
        }
    }
    json_t *step = llm != NULL
                       ? json_pack("{s:O, s:O, s:s, s:s}", "intent", json_object_get(llm, "intent"),
                                   "confidence", json_object_get(llm, "confidence"), "provider",
                                   res->provider, "path", "llm")
                       : json_pack("{s:s, s:s, s:s}", "intent", jc->local_intent, "provider",
                                   "local", "path", "local");
    json_decref(llm);
    json_object_set_new(steps, "intent", step);
    char *text = dk_json_dump(jc->metadata);
    int rc = store_message_set_metadata(c, jc->message_id, text, err);
    dk_free(text);
    if (rc == 0) {
        rc = queue_requeue(c, &jc->job, err); /* the reply step runs next, at once */
    }
    return rc;
}

static int store_reply_step(struct store_conn *c, struct job_call *jc, struct ai_result *res,
                            struct dk_err *err)
{
    json_t *meta = NULL;
    char *text = pipeline_draft_final_text(jc->draft, res, &meta);
    json_t *steps = json_object_get(jc->metadata, "steps");
    if (!json_is_object(steps)) {
        steps = json_object();
        json_object_set_new(jc->metadata, "steps", steps);
    }
    json_object_set(steps, "reply", meta);
    json_object_update(jc->metadata, meta);
    json_object_set_new(jc->metadata, "responder", json_string(dk_json_str(meta, "provider")));
    json_decref(meta);
    char *metatext = dk_json_dump(jc->metadata);
    bool updated = false;
    const char *intent = pipeline_draft_intent(jc->draft);
    int rc = store_message_finish_reply(c, jc->message_id, text, "pending_send", metatext, intent,
                                        &updated, err);
    if (rc == 0 && updated) {
        rc = update_context(c, jc->conversation_id, jc->message_id, intent,
                            dk_json_str(jc->metadata, "responder"), err);
    }
    if (rc == 0 && updated) {
        rc = pipeline_send_enqueue(c, jc->conversation_id, dk_now_ms(), err);
    }
    if (rc == 0) {
        rc = queue_complete(c, &jc->job, err);
    }
    dk_free(metatext);
    dk_free(text);
    return rc;
}

static int job_work(struct store_conn *c, void *arg, struct ai_result *res, struct dk_err *err)
{
    struct job_call *jc = arg;
    if (res->reply.outcome == AI_ERR_CANCELED) {
        return dk_err_set(err, DK_ECANCELED, "canceled (shutting down)");
    }
    return jc->step == STEP_INTENT ? store_intent_step(c, jc, res, err)
                                   : store_reply_step(c, jc, res, err);
}

void gen_job_outcome(struct store_conn *c, const struct queue_job *job, int rc,
                     const struct dk_err *err)
{
    struct dk_err e2 = {0};
    if (rc == DK_ECANCELED && c != NULL) {
        queue_release(c, job, &e2); /* runs again at the next start, attempt not counted */
    } else if (rc == DK_EBUSY) {
        DK_INFO("%s job %lld: lease lost, another worker has it", job->kind, (long long)job->id);
    } else if (rc != 0 && c != NULL) {
        queue_fail(c, job, err->msg, &e2);
    }
}

static void job_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                      const struct dk_err *err)
{
    (void)res;
    struct job_call *jc = arg;
    gen_job_outcome(c, &jc->job, rc, err);
    job_call_free(jc);
}

static void job_done(void *arg, struct ai_result *res)
{
    struct job_call *jc = arg;
    pipeline_gen_finish(jc->g, res, jc->step == STEP_INTENT ? "intent" : "reply",
                        pipeline_draft_account(jc->draft), jc->conversation_id, job_work, job_after,
                        jc);
}

/* The intent call: the instruction and the customer's text; local answers with its own. */
static void submit_intent(struct job_call *jc)
{
    char *instruction = ai_intent_instruction(NULL);
    const char *text = pipeline_draft_customer_text(jc->draft);
    struct ai_message msgs[2] = {{"system", instruction}, {"user", text}};
    char local[160];
    snprintf(local, sizeof(local), "{\"intent\":\"%s\",\"confidence\":0}", jc->local_intent);
    struct ai_request req;
    pipeline_draft_request(jc->draft, NULL, false, &req);
    ai_redaction_free(req.redaction); /* the draft's is for the reply prompt */
    req.task = AI_TASK_INTENT;
    req.messages = msgs;
    req.nmessages = 2;
    req.max_tokens = 100;
    req.temperature = 0;
    req.json_schema = ai_intent_schema();
    req.local_text = local;
    struct pipeline_privacy priv;
    if (pipeline_privacy_apply(ai_router_config(jc->g->cfg.router)->privacy, msgs, 2, &priv,
                               NULL) != 0) {
        priv.has_pii = true; /* cannot tell: keep it local */
    }
    pipeline_privacy_request(&priv, &req);
    ai_router_submit(jc->g->cfg.router, &req, NULL, job_done, jc, NULL);
    pipeline_privacy_clear(&priv);
    dk_free(instruction);
}

int pipeline_ai_reply_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                          struct dk_err *err)
{
    const struct pipeline_reply_ctx *rctx = ctx;
    struct pipeline_gen *g = rctx->gen;
    if (g == NULL) {
        return dk_err_set(err, DK_EUNAVAIL, "this process has no AI router");
    }
    const char *mid = dk_json_str(job->payload, "message_id");
    if (mid == NULL || !store_is_uuid(mid)) {
        return dk_err_set(err, DK_EINVAL, "ai_reply job without a valid message_id");
    }
    if (ai_router_inflight(g->cfg.router) >= g->cfg.max_inflight) {
        return dk_err_set(err, DK_EBUSY, "%d AI calls in flight: later",
                          ai_router_inflight(g->cfg.router));
    }
    json_t *msg = NULL;
    int rc = store_message_get(c, mid, &msg, err);
    if (rc == DK_ENOTFOUND) {
        return 0; /* deleted meanwhile: nothing to do */
    }
    if (rc != 0) {
        return rc;
    }
    const char *status = dk_json_str(msg, "status");
    if (status == NULL || strcmp(status, "generating") != 0) {
        json_decref(msg);
        return 0; /* its reply step finished before a crash: never again */
    }
    struct job_call *jc = dk_calloc(1, sizeof(*jc));
    jc->g = g;
    gen_job_copy(&jc->job, job);
    snprintf(jc->message_id, sizeof(jc->message_id), "%s", mid);
    snprintf(jc->conversation_id, sizeof(jc->conversation_id), "%s",
             dk_json_str(msg, "conversation_id"));
    jc->metadata = json_incref(json_object_get(msg, "metadata"));
    if (!json_is_object(jc->metadata)) {
        json_decref(jc->metadata);
        jc->metadata = json_object();
    }
    json_decref(msg);
    const char *intent = dk_json_str(job->payload, "intent");
    snprintf(jc->local_intent, sizeof(jc->local_intent), "%s", intent ? intent : "other");
    json_t *done_intent = json_object_get(json_object_get(jc->metadata, "steps"), "intent");
    bool classify = json_is_true(json_object_get(job->payload, "classify"));
    jc->step = classify && done_intent == NULL ? STEP_INTENT : STEP_REPLY;
    const char *use_intent = done_intent != NULL ? dk_json_str(done_intent, "intent") : intent;
    rc = pipeline_draft_prepare(c, g, jc->conversation_id, use_intent,
                                dk_json_str(job->payload, "language"), &jc->draft, err);
    if (rc == 0) {
        rc = gen_extend_lease(g, c, job, err);
    }
    if (rc != 0) {
        job_call_free(jc);
        return rc;
    }
    if (jc->step == STEP_INTENT) {
        submit_intent(jc);
    } else {
        struct ai_request req;
        pipeline_draft_request(jc->draft, NULL, false, &req);
        ai_router_submit(g->cfg.router, &req, NULL, job_done, jc, NULL);
    }
    return DK_EPENDING;
}
