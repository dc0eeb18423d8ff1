/*
 * app/serve: the long-running roles. Signals are blocked in every thread and taken by the
 * main thread with sigwait; shutdown then runs in dependency order: stop accepting, let
 * requests in flight finish (their deliveries still commit), stop the writers, let running
 * jobs finish, stop the scheduler, close the store.
 */
#include "app/app.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"
#include "pipeline/pipeline.h"
#include "queue/queue.h"
#include "store/repo.h"

static const struct queue_kind JOB_KINDS[] = {
    {PIPELINE_JOB_REPLY, pipeline_reply_job, .own_tx = false},
    {PIPELINE_JOB_NLU_TRAIN, pipeline_nlu_train_job, .own_tx = true},
    /* hands its step to the AI router and returns at once (DK_EPENDING) */
    {PIPELINE_JOB_AI_REPLY, pipeline_ai_reply_job, .own_tx = true},
    {PIPELINE_JOB_AI_SUMMARY, pipeline_ai_summary_job, .own_tx = true},
    /* records each attempt, hands the Graph call to the HTTP loop (DK_EPENDING) */
    {PIPELINE_JOB_SEND, pipeline_send_job, .own_tx = true},
};

struct store *app_open_store(const struct app_config *cfg, bool migrate)
{
    struct dk_err err = {0};
    struct store_opts opts = {
        .pool_max = (int)cfg->db_pool, .busy_timeout_ms = 5000, .connect_timeout_s = 3};
    struct store *s = NULL;
    if (store_open(cfg->database_url, &opts, &s, &err) != 0) {
        fprintf(stderr, "direkt: invalid configuration: DATABASE_URL: %s\n", err.msg);
        return NULL;
    }
    if (migrate) {
        int applied = 0;
        if (store_migrate(s, &applied, &err) != 0) {
            fprintf(stderr, "direkt: could not migrate %s: %s\n", store_url_redacted(s), err.msg);
            store_close(s);
            return NULL;
        }
    }
    return s;
}

char *app_webhook_secret(const struct app_config *cfg, struct store *s, struct dk_err *err)
{
    if (cfg->ig_app_secret != NULL) {
        return dk_strdup(cfg->ig_app_secret);
    }
    struct store_conn *c = store_acquire(s, err);
    if (c == NULL) {
        return NULL;
    }
    unsigned char raw[24];
    char hex[DK_SHA256_HEX];
    dk_random_bytes(raw, sizeof(raw));
    dk_sha256_hex(raw, sizeof(raw), hex);
    char *value = NULL;
    int rc = store_setting_init(c, "ig_app_secret", hex, dk_now_ms(), &value, err);
    store_release(c);
    return rc == 0 ? value : NULL;
}

static void on_commit(void *arg, int replies)
{
    (void)replies;
    queue_pool_wake(arg);
}

static void worker_name(char *out, size_t n)
{
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(out, n, "%s:%d", host, (int)getpid());
}

/* One line per task with an LLM in its route: what answers, in order. */
static void log_ai_routes(const struct ai_config *a)
{
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        char line[512] = "";
        size_t used = 0;
        bool llm = false;
        for (size_t i = 0; i < a->nroute[t] && used < sizeof(line); i++) {
            const struct ai_provider_config *p = &a->providers[a->routes[t][i].provider];
            llm = llm || !p->builtin;
            used +=
                (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i ? " → " : "", p->name);
        }
        if (llm) {
            DK_INFO("ai route %s: %s", ai_task_name((enum ai_task)t), line);
        }
    }
}

int app_serve(const struct app_config *cfg, unsigned roles, bool migrate)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread started below */
    /* keep freed heap for reuse: SQLite's per-statement buffers otherwise make glibc grow and
     * trim the heap on every statement */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    signal(SIGPIPE, SIG_IGN);

    struct store *s = app_open_store(cfg, migrate);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    struct pipeline_responder *responder = pipeline_responder_load(cfg->templates_path, &err);
    if (responder == NULL) {
        fprintf(stderr, "direkt: invalid configuration: DIREKT_TEMPLATES: %s\n", err.msg);
        store_close(s);
        return 1;
    }
    char name[128];
    worker_name(name, sizeof(name));
    /* train the built-in intent model now, not on the first message */
    int64_t t0 = dk_now_ms();
    const struct nlu_model *dflt = nlu_default_intent_model();
    DK_INFO("built-in intent model ready: %zu intents, %zu examples, %lld ms",
            nlu_model_nlabels(dflt), nlu_default_intent_examples()->n,
            (long long)(dk_now_ms() - t0));
    struct nlu_model *sentiment = NULL;
    if (cfg->sentiment_model_path != NULL) {
        sentiment = nlu_model_load(cfg->sentiment_model_path, &err);
        if (sentiment == NULL || nlu_model_task(sentiment) != NLU_TASK_SENTIMENT) {
            fprintf(stderr, "direkt: invalid configuration: DIREKT_SENTIMENT_MODEL: %s\n",
                    sentiment == NULL ? err.msg : "not a sentiment model");
            nlu_model_free(sentiment);
            pipeline_responder_free(responder);
            store_close(s);
            return 1;
        }
    }
    static struct pipeline_ig_config igcfg; /* read by the workers until they stop */
    if (app_ig_config(cfg, &igcfg, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        nlu_model_free(sentiment);
        pipeline_responder_free(responder);
        store_close(s);
        return 1;
    }
    pipeline_persist_configure(igcfg.human_pause_ms);
    struct ai_config aicfg;
    if (app_ai_config(cfg, &aicfg, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        nlu_model_free(sentiment);
        pipeline_responder_free(responder);
        store_close(s);
        return 1;
    }
    struct ai_http *outbound = ai_http_start(&(struct ai_http_config){0}, &err);
    if (outbound == NULL) {
        fprintf(stderr, "direkt: could not start the outbound HTTP loop: %s\n", err.msg);
        nlu_model_free(sentiment);
        pipeline_responder_free(responder);
        store_close(s);
        return 1;
    }
    struct ai_router *router = ai_router_new(&aicfg, outbound);
    log_ai_routes(&aicfg);
    struct pipeline_nlu *nlu = pipeline_nlu_new(s);
    struct pipeline_gen_config gc = {.store = s,
                                     .router = router,
                                     .responder = responder,
                                     .nlu = nlu,
                                     .max_inflight = (int)cfg->ai_max_inflight};
    struct pipeline_gen *gen = pipeline_gen_start(&gc);
    struct pipeline_deliver *deliver = pipeline_deliver_new(
        &(struct pipeline_deliver_config){.store = s, .http = outbound, .gen = gen, .ig = &igcfg});
    struct pipeline_reply_ctx reply_ctx = {.responder = responder,
                                           .nlu = nlu,
                                           .sentiment_model = sentiment,
                                           .gen = gen,
                                           .deliver = deliver,
                                           .ig = &igcfg};
    const char *delay = getenv("DIREKT_TEST_REPLY_DELAY_MS");
    if (delay != NULL) {
        reply_ctx.test_delay_ms = strtoll(delay, NULL, 10);
    }

    struct queue_pool *pool = NULL;
    if ((roles & APP_ROLE_WORKER) && cfg->workers > 0) {
        struct queue_pool_config pc = {.store = s,
                                       .kinds = JOB_KINDS,
                                       .nkinds = sizeof(JOB_KINDS) / sizeof(JOB_KINDS[0]),
                                       .ctx = &reply_ctx,
                                       .threads = (int)cfg->workers,
                                       .lease_ms = cfg->job_lease_ms,
                                       .name = name};
        pool = queue_pool_start(&pc);
    }
    struct queue_scheduler *sched = NULL;
    if (roles & APP_ROLE_SCHEDULER) {
        sched = queue_scheduler_start(s, pool, name, 1000);
    }

    struct api_ctx actx = {.store = s,
                           .nlu = nlu,
                           .router = router,
                           .gen = gen,
                           .responder = responder,
                           .sentiment_model = sentiment,
                           .ig = &igcfg,
                           .http = outbound,
                           .verify_token = cfg->ig_verify_token,
                           .started_ms = dk_now_ms()};
    char *secret = NULL;
    char token_sha[DK_SHA256_HEX];
    struct http_server *http = NULL;
    int code = 0;
    if (roles & APP_ROLE_API) {
        secret = app_webhook_secret(cfg, s, &err);
        if (secret == NULL) {
            fprintf(stderr, "direkt: could not read the webhook secret: %s\n", err.msg);
            code = 1;
            goto stop;
        }
        if (cfg->ig_app_secret == NULL) {
            DK_WARN("IG_APP_SECRET is not set: webhooks are verified with a secret generated for "
                    "this database (print a signature with `direkt sign FILE`)");
        }
        actx.app_secret = secret;
        if (cfg->api_token != NULL) {
            dk_sha256_hex(cfg->api_token, strlen(cfg->api_token), token_sha);
            actx.static_token_sha256 = token_sha;
        }
        int writers = (int)cfg->ingest_writers;
        if (writers == 0) {
            writers = store_dialect(s) == STORE_SQLITE ? 1 : 2;
        }
        struct pipeline_ingest_config ic = {.store = s,
                                            .writers = writers,
                                            .batch_max = (int)cfg->ingest_batch,
                                            .queue_max = 20000,
                                            .reply_debounce_ms = cfg->reply_debounce_ms,
                                            .on_commit = on_commit,
                                            .on_commit_arg = pool};
        actx.ingest = pipeline_ingest_start(&ic);
        struct http_config hc = {.listen = cfg->listen,
                                 .threads = (int)cfg->http_threads,
                                 .auth = api_auth,
                                 .auth_ctx = &actx,
                                 .app = &actx};
        if (http_server_start(&hc, api_routes, api_routes_count, &http, &err) != 0) {
            fprintf(stderr, "direkt: could not listen on %s: %s\n", cfg->listen, err.msg);
            code = 1;
            goto stop;
        }
    }
    DK_INFO("direkt serving: database=%s listen=%s port=%u workers=%d scheduler=%s",
            store_url_redacted(s), http != NULL ? cfg->listen : "-",
            http != NULL ? http_server_port(http) : 0, pool != NULL ? (int)cfg->workers : 0,
            sched != NULL ? "yes" : "no");

    int sig = 0;
    sigwait(&sigs, &sig);
    DK_INFO("received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");

stop:
    /* AI calls in flight finish (or are canceled) while their HTTP requests can still be
     * answered; the loop itself stops after the workers, which may still hand it calls, and
     * before the finisher, which stores what the canceled calls leave behind */
    if (http != NULL) {
        http_server_quiesce(http);
    }
    pipeline_gen_wait(gen, cfg->shutdown_timeout_ms);
    ai_router_cancel_all(router);
    pipeline_gen_wait(gen, 2000);
    if (http != NULL) {
        http_server_stop(http, (int)cfg->shutdown_timeout_ms);
    }
    pipeline_ingest_stop(actx.ingest);
    queue_pool_stop(pool);
    /* Graph calls in flight get their answers stored: one cut off now could have gone out */
    pipeline_deliver_wait(deliver, cfg->shutdown_timeout_ms);
    pipeline_gen_wait(gen, 2000);
    ai_http_stop(outbound);
    pipeline_gen_stop(gen);
    pipeline_deliver_free(deliver);
    ai_router_free(router);
    queue_scheduler_stop(sched);
    pipeline_responder_free(responder);
    pipeline_nlu_free(nlu);
    nlu_model_free(sentiment);
    dk_free(secret);
    store_close(s);
    if (code == 0) {
        DK_INFO("stopped cleanly");
    }
    return code;
}
