/*
 * ai/router: one call through its route of providers.
 *
 * A call is a small state machine that lives on the HTTP loop thread: start → (skip or
 * attempt) → on_done → retry after a backoff, fall back to the next step, or finish. Nothing
 * blocks: retries wait on loop timers, answers arrive as loop callbacks, so thousands of calls
 * in flight cost memory, not threads. Each step is checked before it runs: the deadline, the
 * provider's circuit (closed, open for a cooldown after consecutive failures, then half-open
 * for one probe), the account's daily token budget and, with personal data in the text, the
 * privacy mode (cloud providers skipped, or given the redacted text whose answer is restored).
 * Every attempt and every skip is recorded in the result for the ai_calls log.
 */
#include "ai/ai.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

struct breaker {
    int failures;       /* consecutive */
    int64_t open_until; /* mono ms; 0 = closed */
    bool probing;       /* half-open: one call is trying */
};

struct ai_router {
    struct ai_config cfg;
    struct ai_http *http;
    pthread_mutex_t mu; /* breakers (read by ai_router_models from other threads) */
    struct breaker br[AI_MAX_PROVIDERS];
    atomic_uint_fast64_t next_id;
    atomic_int inflight;
    struct call *calls; /* loop thread only: for cancel */
};

struct call {
    struct ai_router *r;
    struct call *prev, *next;
    uint64_t id;
    /* the request, copied */
    struct ai_request req;
    struct ai_message *msgs, *red;
    char *strings; /* one block holding every copied string */
    ai_delta_fn on_delta;
    ai_done_fn done;
    void *arg;
    struct ai_result *res;
    struct ai_route_step steps[AI_MAX_ROUTE];
    size_t nsteps, step;
    int attempt; /* of the current step */
    int64_t started, deadline;
    /* the attempt in flight */
    uint64_t http_id;
    bool in_flight, canceled, use_redacted, probe;
    bool stream_over; /* the stream's terminator or error arrived */
    struct ai_stream *stream;
    struct dk_buf errbody;
    int status;
    int64_t attempt_started, first_token;
};

static void step_next(struct call *k);

/* ---- copying a request ---- */

static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static const char *put(char **cur, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    memcpy(*cur, s, n);
    const char *out = *cur;
    *cur += n;
    return out;
}

static void copy_request(struct call *k, const struct ai_request *req)
{
    size_t total =
        slen(req->json_schema) + slen(req->target) + slen(req->account_id) + slen(req->local_text);
    for (size_t i = 0; i < req->nmessages; i++) {
        total += slen(req->messages[i].role) + slen(req->messages[i].content);
        if (req->redacted != NULL) {
            total += slen(req->redacted[i].role) + slen(req->redacted[i].content);
        }
    }
    k->strings = dk_malloc(total + 1);
    char *cur = k->strings;
    k->req = *req;
    k->req.json_schema = put(&cur, req->json_schema);
    k->req.target = put(&cur, req->target);
    k->req.account_id = put(&cur, req->account_id);
    k->req.local_text = put(&cur, req->local_text);
    k->msgs = dk_calloc(req->nmessages + 1, sizeof(*k->msgs));
    for (size_t i = 0; i < req->nmessages; i++) {
        k->msgs[i].role = put(&cur, req->messages[i].role);
        k->msgs[i].content = put(&cur, req->messages[i].content);
    }
    k->req.messages = k->msgs;
    if (req->redacted != NULL) {
        k->red = dk_calloc(req->nmessages + 1, sizeof(*k->red));
        for (size_t i = 0; i < req->nmessages; i++) {
            k->red[i].role = put(&cur, req->redacted[i].role);
            k->red[i].content = put(&cur, req->redacted[i].content);
        }
    }
    k->req.redacted = k->red;
}

/* ---- resolving the steps ---- */

/* Fills steps for target (NULL/"auto": the task's route). Returns how many, 0 when unknown. */
static size_t resolve(const struct ai_config *cfg, enum ai_task task, const char *target,
                      struct ai_route_step *steps)
{
    if (target == NULL || *target == '\0' || strcmp(target, "auto") == 0 ||
        strcmp(target, "direkt") == 0) {
        memcpy(steps, cfg->routes[task], cfg->nroute[task] * sizeof(steps[0]));
        return cfg->nroute[task];
    }
    char name[32];
    const char *slash = strchr(target, '/');
    size_t n = slash != NULL ? (size_t)(slash - target) : strlen(target);
    if (n < sizeof(name)) {
        memcpy(name, target, n);
        name[n] = '\0';
        int pi = ai_config_provider(cfg, name);
        if (pi >= 0) {
            steps[0].provider = pi;
            snprintf(steps[0].model, sizeof(steps[0].model), "%s", slash != NULL ? slash + 1 : "");
            return 1;
        }
    }
    for (size_t i = 0; i < cfg->nproviders; i++) {
        if (strcmp(cfg->providers[i].model, target) == 0) {
            steps[0].provider = (int)i;
            steps[0].model[0] = '\0';
            return 1;
        }
    }
    return 0;
}

int ai_router_resolve(const struct ai_router *r, const char *target, struct dk_err *err)
{
    struct ai_route_step steps[AI_MAX_ROUTE];
    if (resolve(&r->cfg, AI_TASK_CHAT, target, steps) == 0) {
        return dk_err_set(err, DK_ENOTFOUND, "the model \"%.100s\" does not exist", target);
    }
    return 0;
}

bool ai_router_reaches_local(const struct ai_router *r, enum ai_task task, const char *target)
{
    struct ai_route_step steps[AI_MAX_ROUTE];
    size_t n = resolve(&r->cfg, task, target, steps);
    for (size_t i = 0; i < n; i++) {
        if (r->cfg.providers[steps[i].provider].builtin) {
            return true;
        }
    }
    return false;
}

/* ---- breakers ---- */

static bool breaker_allows(struct ai_router *r, int pi, bool *probe)
{
    bool ok = true;
    *probe = false;
    pthread_mutex_lock(&r->mu);
    struct breaker *b = &r->br[pi];
    if (b->open_until != 0) {
        if (dk_mono_ms() < b->open_until || b->probing) {
            ok = false;
        } else {
            b->probing = true; /* half-open: this call is the probe */
            *probe = true;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void breaker_release(struct ai_router *r, int pi)
{
    pthread_mutex_lock(&r->mu);
    r->br[pi].probing = false;
    pthread_mutex_unlock(&r->mu);
}

static void breaker_record(struct ai_router *r, int pi, bool success, bool probe)
{
    pthread_mutex_lock(&r->mu);
    struct breaker *b = &r->br[pi];
    if (probe) {
        b->probing = false;
    }
    if (success) {
        if (b->open_until != 0) {
            DK_INFO("ai provider %s answers again: circuit closed", r->cfg.providers[pi].name);
        }
        b->failures = 0;
        b->open_until = 0;
    } else {
        b->failures++;
        if (probe || b->failures >= r->cfg.breaker_failures) {
            if (b->open_until == 0 || probe) {
                DK_WARN("ai provider %s failed %d time(s) in a row: circuit open for %lld ms",
                        r->cfg.providers[pi].name, b->failures,
                        (long long)r->cfg.breaker_cooldown_ms);
            }
            b->open_until = dk_mono_ms() + r->cfg.breaker_cooldown_ms;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- finishing ---- */

static struct ai_attempt *add_attempt(struct call *k, int pi, const char *model)
{
    struct ai_result *res = k->res;
    if (res->nattempts >= AI_MAX_ATTEMPTS) {
        memmove(&res->attempts[0], &res->attempts[1],
                (AI_MAX_ATTEMPTS - 1) * sizeof(res->attempts[0]));
        res->nattempts--;
    }
    struct ai_attempt *a = &res->attempts[res->nattempts++];
    memset(a, 0, sizeof(*a));
    snprintf(a->provider, sizeof(a->provider), "%s", k->r->cfg.providers[pi].name);
    snprintf(a->model, sizeof(a->model), "%s", model);
    a->first_token_ms = -1;
    return a;
}

static void finish(struct call *k)
{
    struct ai_router *r = k->r;
    k->res->latency_ms = dk_mono_ms() - k->started;
    if (k->prev != NULL) {
        k->prev->next = k->next;
    } else {
        r->calls = k->next;
    }
    if (k->next != NULL) {
        k->next->prev = k->prev;
    }
    struct ai_result *res = k->res;
    k->done(k->arg, res);
    atomic_fetch_sub(&r->inflight, 1);
    ai_redaction_free(k->req.redaction);
    ai_stream_free(k->stream);
    dk_buf_free(&k->errbody);
    dk_free(k->msgs);
    dk_free(k->red);
    dk_free(k->strings);
    dk_free(k);
}

static void skip(struct call *k, int pi, const char *model, enum ai_outcome why, const char *msg)
{
    struct ai_attempt *a = add_attempt(k, pi, model);
    a->outcome = why;
    snprintf(a->error, sizeof(a->error), "%s", msg);
    k->step++;
    k->attempt = 0;
}

static const char *step_model(const struct call *k, int pi)
{
    const struct ai_route_step *s = &k->steps[k->step];
    return s->model[0] != '\0' ? s->model : k->r->cfg.providers[pi].model;
}

static void answer_locally(struct call *k, int pi)
{
    struct ai_result *res = k->res;
    struct ai_attempt *a = add_attempt(k, pi, step_model(k, pi));
    a->outcome = AI_OK;
    ai_reply_clear(&res->reply);
    res->reply.outcome = AI_OK;
    res->reply.text = dk_strdup(k->req.local_text);
    snprintf(res->reply.finish, sizeof(res->reply.finish), "stop");
    snprintf(res->provider, sizeof(res->provider), "%s", a->provider);
    snprintf(res->model, sizeof(res->model), "%s", a->model);
    snprintf(res->reply.model, sizeof(res->reply.model), "%s", a->model);
    if (k->on_delta != NULL && res->reply.text[0] != '\0') {
        k->on_delta(k->arg, res->reply.text, strlen(res->reply.text));
    }
    finish(k);
}

/* ---- one attempt ---- */

static int on_text(void *arg, const char *text, size_t len)
{
    struct call *k = arg;
    if (k->first_token < 0) {
        k->first_token = dk_mono_ms() - k->attempt_started;
    }
    if (k->use_redacted) {
        return 0; /* placeholders may be split across deltas: restored whole at the end */
    }
    return k->on_delta != NULL ? k->on_delta(k->arg, text, len) : 0;
}

static int on_data(void *arg, int status, const char *p, size_t n)
{
    struct call *k = arg;
    k->status = status;
    if (status < 200 || status >= 300 || k->stream == NULL) {
        return dk_buf_append(&k->errbody, p, n) == 0 ? 0 : 2;
    }
    if (!k->stream_over && ai_stream_feed(k->stream, p, n) != 0) {
        k->stream_over = true; /* terminator or error event: the rest is not ours */
    }
    /* read to the end all the same: a transfer stopped early closes the connection, and the
     * next streamed call would pay a new (TLS) connection before its first token */
    return 0;
}

static int64_t backoff_ms(const struct ai_config *cfg, int attempt, int64_t retry_after)
{
    int64_t d = cfg->backoff_ms;
    for (int i = 0; i < attempt && d < cfg->max_backoff_ms; i++) {
        d *= 2;
    }
    uint32_t rnd;
    dk_random_bytes(&rnd, sizeof(rnd));
    d = d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
    if (retry_after > d) {
        d = retry_after;
    }
    return d > cfg->max_backoff_ms ? cfg->max_backoff_ms : d;
}

static void retry_now(void *arg)
{
    struct call *k = arg;
    if (ai_http_stopping(k->r->http)) {
        k->canceled = true;
    }
    step_next(k);
}

/* Classifies what the provider gave into res->reply and decides what comes next. */
static void on_http_done(void *arg, const struct ai_http_resp *resp)
{
    struct call *k = arg;
    struct ai_router *r = k->r;
    struct ai_result *res = k->res;
    const struct ai_route_step *st = &k->steps[k->step];
    int pi = st->provider;
    const struct ai_provider_config *p = &r->cfg.providers[pi];
    k->in_flight = false;
    struct ai_reply rep = {0};
    bool streamed = k->stream != NULL && ai_stream_started(k->stream);
    bool ok_status = resp->status >= 200 && resp->status < 300;
    if (resp->error != 0 && resp->error != DK_EINTERNAL && resp->error != DK_ECANCELED &&
        k->stream != NULL && ok_status) {
        /* the connection broke in the middle of a stream: complete only with its terminator */
        ai_stream_end(k->stream, &rep);
        if (rep.outcome == AI_OK || rep.outcome == AI_ERR_TRUNCATED) {
            rep.outcome = rep.outcome == AI_OK ? AI_OK : AI_ERR_TRUNCATED;
            snprintf(rep.error, sizeof(rep.error), "stream cut off: %s", resp->error_msg);
        }
        rep.http_status = resp->status;
    } else if (resp->error != 0 && resp->error != DK_EINTERNAL) {
        rep.outcome = resp->error == DK_ECANCELED ? AI_ERR_CANCELED
                      : resp->error == DK_ETOOBIG ? AI_ERR_MALFORMED
                                                  : AI_ERR_RETRY;
        rep.http_status = resp->status;
        rep.retry_after_ms = -1;
        snprintf(rep.error, sizeof(rep.error), "%s", resp->error_msg);
    } else if (k->stream != NULL && resp->status >= 200 && resp->status < 300) {
        ai_stream_end(k->stream, &rep);
        rep.http_status = resp->status;
    } else {
        const char *body = k->stream != NULL ? k->errbody.data : resp->body;
        size_t len = k->stream != NULL ? k->errbody.len : resp->len;
        if (body == NULL) {
            body = "";
        }
        if (k->req.task == AI_TASK_EMBEDDING && resp->status >= 200 && resp->status < 300) {
            dk_free(res->vectors);
            res->vectors = NULL;
            ai_openai_parse_embeddings(resp->status, body, len, &res->vectors, &res->nvectors,
                                       &res->dim, &rep.usage, &rep);
        } else if (p->wire == AI_WIRE_ANTHROPIC) {
            ai_anthropic_parse(resp->status, body, len, resp->retry_after, resp->should_retry,
                               &rep);
        } else {
            ai_openai_parse(resp->status, body, len, resp->retry_after, &rep);
        }
    }
    if (k->canceled) {
        rep.outcome = AI_ERR_CANCELED;
    }
    struct ai_attempt *a = add_attempt(k, pi, step_model(k, pi));
    a->outcome = rep.outcome;
    a->http_status = rep.http_status != 0 ? rep.http_status : resp->status;
    a->latency_ms = dk_mono_ms() - k->attempt_started;
    a->first_token_ms = k->first_token;
    a->usage = rep.usage;
    a->redacted = k->use_redacted;
    snprintf(a->error, sizeof(a->error), "%s", rep.error);
    bool health_failure =
        rep.outcome == AI_ERR_RETRY || rep.outcome == AI_ERR_MALFORMED ||
        rep.outcome == AI_ERR_TRUNCATED ||
        (rep.outcome == AI_ERR_FATAL && (a->http_status == 401 || a->http_status == 403));
    if (rep.outcome == AI_OK) {
        breaker_record(r, pi, true, k->probe);
    } else if (health_failure) {
        breaker_record(r, pi, false, k->probe);
    } else if (k->probe && rep.outcome == AI_ERR_CANCELED) {
        breaker_release(r, pi); /* the probe told nothing: the next call probes */
    } else if (k->probe) {
        breaker_record(r, pi, true, true); /* it answered: our request was the problem */
    }
    k->probe = false;
    ai_stream_free(k->stream);
    k->stream = NULL;
    dk_buf_reset(&k->errbody);

    if (rep.outcome == AI_OK) {
        if (k->use_redacted && rep.text != NULL) {
            char *restored = ai_unredact(k->req.redaction, rep.text);
            dk_free(rep.text);
            rep.text = restored;
            res->redacted = true;
            if (k->on_delta != NULL && rep.text[0] != '\0') {
                k->on_delta(k->arg, rep.text, strlen(rep.text));
            }
        }
        ai_reply_clear(&res->reply);
        res->reply = rep;
        snprintf(res->provider, sizeof(res->provider), "%s", p->name);
        snprintf(res->model, sizeof(res->model), "%s",
                 rep.model[0] != '\0' ? rep.model : step_model(k, pi));
        finish(k);
        return;
    }
    DK_WARN("ai %s call %llu: %s attempt %d failed: %s (%s)", ai_task_name(k->req.task),
            (unsigned long long)k->id, p->name, k->attempt + 1, ai_outcome_name(rep.outcome),
            rep.error);
    ai_reply_clear(&res->reply);
    res->reply = rep;
    if (rep.outcome == AI_ERR_CANCELED || (streamed && !k->use_redacted)) {
        /* text already went to the caller: another provider would repeat or contradict it */
        finish(k);
        return;
    }
    bool transient = rep.outcome == AI_ERR_RETRY || rep.outcome == AI_ERR_TRUNCATED;
    if (transient && k->attempt < r->cfg.retries) {
        int64_t wait = backoff_ms(&r->cfg, k->attempt, rep.retry_after_ms);
        if (dk_mono_ms() + wait < k->deadline) {
            k->attempt++;
            ai_http_post(r->http, wait, retry_now, k);
            return;
        }
    }
    k->step++;
    k->attempt = 0;
    step_next(k);
}

/* Sends the current step's request; false when its body cannot be built (a schema that is
 * not an object, text that is not UTF-8): the step is then skipped as fatal. */
static bool start_attempt(struct call *k, int pi)
{
    struct ai_router *r = k->r;
    const struct ai_provider_config *p = &r->cfg.providers[pi];
    const struct ai_message *msgs = k->use_redacted ? k->req.redacted : k->req.messages;
    struct ai_call_params cp = {.messages = msgs,
                                .nmessages = k->req.nmessages,
                                .model = step_model(k, pi),
                                .max_tokens = k->req.max_tokens,
                                .temperature = k->req.temperature,
                                .json_schema = k->req.json_schema,
                                .stream = k->req.stream && k->req.task != AI_TASK_EMBEDDING,
                                .flavor = p->flavor};
    char url[640], auth[600];
    const char *headers[4];
    size_t nh = 0;
    char *body;
    headers[nh++] = "Content-Type: application/json";
    if (k->req.task == AI_TASK_EMBEDDING) {
        const char **inputs = dk_calloc(k->req.nmessages + 1, sizeof(*inputs));
        for (size_t i = 0; i < k->req.nmessages; i++) {
            inputs[i] = msgs[i].content;
        }
        body = ai_openai_embeddings_body(cp.model, inputs, k->req.nmessages);
        dk_free(inputs);
        snprintf(url, sizeof(url), "%s/embeddings", p->base_url);
    } else if (p->wire == AI_WIRE_ANTHROPIC) {
        body = ai_anthropic_body(&cp);
        snprintf(url, sizeof(url), "%s/v1/messages", p->base_url);
        headers[nh++] = "anthropic-version: 2023-06-01";
    } else {
        body = ai_openai_chat_body(&cp);
        snprintf(url, sizeof(url), "%s/chat/completions", p->base_url);
    }
    if (body == NULL) {
        return false;
    }
    if (p->api_key[0] != '\0') {
        if (p->wire == AI_WIRE_ANTHROPIC) {
            snprintf(auth, sizeof(auth), "x-api-key: %s", p->api_key);
        } else {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->api_key);
        }
        headers[nh++] = auth;
    }
    if (cp.stream) {
        k->stream = ai_stream_new(p->wire, on_text, k);
        k->stream_over = false;
    }
    k->status = 0;
    k->first_token = -1;
    k->attempt_started = dk_mono_ms();
    int64_t left = k->deadline - k->attempt_started;
    struct ai_http_req hr = {.method = "POST",
                             .url = url,
                             .headers = headers,
                             .nheaders = nh,
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = left < r->cfg.timeout_ms ? left : r->cfg.timeout_ms,
                             .connect_timeout_ms = 5000,
                             .max_response = 4u << 20,
                             .on_data = cp.stream ? on_data : NULL,
                             .on_done = on_http_done,
                             .arg = k};
    k->in_flight = true;
    k->http_id = ai_http_submit(r->http, &hr);
    dk_free(body);
    return true;
}

/* Runs the current step, or skips it and goes on; finishes when the route is done. */
static void step_next(struct call *k)
{
    struct ai_router *r = k->r;
    while (!k->canceled && k->step < k->nsteps) {
        int pi = k->steps[k->step].provider;
        const struct ai_provider_config *p = &r->cfg.providers[pi];
        const char *model = step_model(k, pi);
        if (p->builtin) {
            if (k->req.local_text != NULL && k->req.task != AI_TASK_EMBEDDING) {
                answer_locally(k, pi);
                return;
            }
            skip(k, pi, model, AI_ERR_FATAL, "the local provider has no answer for this request");
            continue;
        }
        if (dk_mono_ms() >= k->deadline - 50) {
            skip(k, pi, model, AI_ERR_RETRY, "deadline reached before this provider was tried");
            continue;
        }
        int64_t budget =
            k->req.daily_token_budget == 0 ? r->cfg.daily_token_budget : k->req.daily_token_budget;
        if (budget > 0 && k->req.tokens_used_today >= budget) {
            char msg[128];
            snprintf(msg, sizeof(msg), "daily token budget of %lld spent", (long long)budget);
            skip(k, pi, model, AI_ERR_BUDGET, msg);
            continue;
        }
        k->use_redacted = false;
        if (k->req.has_pii && !p->on_premises) {
            if (r->cfg.privacy == AI_PRIVACY_LOCAL ||
                (r->cfg.privacy == AI_PRIVACY_REDACT && k->req.redacted == NULL)) {
                skip(k, pi, model, AI_ERR_PRIVACY, "personal data stays on local providers");
                continue;
            }
            k->use_redacted = r->cfg.privacy == AI_PRIVACY_REDACT;
        }
        if (!breaker_allows(r, pi, &k->probe)) {
            skip(k, pi, model, AI_ERR_CIRCUIT, "circuit open after repeated failures");
            continue;
        }
        if (start_attempt(k, pi)) {
            return;
        }
        if (k->probe) { /* nothing was sent: the probe is not spent */
            breaker_release(r, pi);
            k->probe = false;
        }
        skip(k, pi, model, AI_ERR_FATAL, "could not build the request (invalid schema or text)");
    }
    if (k->canceled) {
        ai_reply_clear(&k->res->reply);
        k->res->reply.outcome = AI_ERR_CANCELED;
        snprintf(k->res->reply.error, sizeof(k->res->reply.error), "canceled");
    } else if (k->res->reply.outcome == AI_OK) {
        /* nothing was sent: the last network provider's skip says why (budget, privacy,
         * circuit), not the built-in one's "no answer" */
        struct ai_reply *rep = &k->res->reply;
        const struct ai_attempt *why = NULL;
        for (size_t i = k->res->nattempts; i > 0 && why == NULL; i--) {
            if (strcmp(k->res->attempts[i - 1].provider, "local") != 0) {
                why = &k->res->attempts[i - 1];
            }
        }
        if (why == NULL && k->res->nattempts > 0) {
            why = &k->res->attempts[k->res->nattempts - 1];
        }
        rep->outcome = why != NULL ? why->outcome : AI_ERR_FATAL;
        snprintf(rep->error, sizeof(rep->error), "%s",
                 why != NULL ? why->error : "no provider is configured for this task");
    }
    finish(k);
}

static void start(void *arg)
{
    struct call *k = arg;
    struct ai_router *r = k->r;
    k->next = r->calls;
    if (r->calls != NULL) {
        r->calls->prev = k;
    }
    r->calls = k;
    if (ai_http_stopping(r->http)) {
        k->canceled = true;
    }
    step_next(k);
}

void ai_router_submit(struct ai_router *r, const struct ai_request *req, ai_delta_fn on_delta,
                      ai_done_fn done, void *arg, uint64_t *id)
{
    struct call *k = dk_calloc(1, sizeof(*k));
    k->r = r;
    k->id = atomic_fetch_add(&r->next_id, 1);
    copy_request(k, req);
    k->on_delta = on_delta;
    k->done = done;
    k->arg = arg;
    k->res = dk_calloc(1, sizeof(*k->res));
    k->res->reply.retry_after_ms = -1;
    dk_buf_init(&k->errbody, 64u << 10);
    k->nsteps = resolve(&r->cfg, req->task, req->target, k->steps);
    k->started = dk_mono_ms();
    k->deadline = k->started + r->cfg.deadline_ms;
    atomic_fetch_add(&r->inflight, 1);
    if (id != NULL) {
        *id = k->id;
    }
    ai_http_post(r->http, 0, start, k); /* k may be gone once this returns */
}

struct cancel_msg {
    struct ai_router *r;
    uint64_t id;
};

static void cancel_on_loop(void *arg)
{
    struct cancel_msg *m = arg;
    for (struct call *k = m->r->calls; k != NULL; k = k->next) {
        if (k->id == m->id) {
            k->canceled = true;
            if (k->in_flight) {
                ai_http_cancel(m->r->http, k->http_id);
            }
            break; /* a call waiting on a retry timer sees canceled when it fires */
        }
    }
    dk_free(m);
}

static void cancel_all_on_loop(void *arg)
{
    struct ai_router *r = arg;
    for (struct call *k = r->calls; k != NULL; k = k->next) {
        k->canceled = true;
        if (k->in_flight) {
            ai_http_cancel(r->http, k->http_id);
        }
    }
}

void ai_router_cancel_all(struct ai_router *r)
{
    ai_http_post(r->http, 0, cancel_all_on_loop, r);
}

void ai_router_cancel(struct ai_router *r, uint64_t id)
{
    struct cancel_msg *m = dk_malloc(sizeof(*m));
    m->r = r;
    m->id = id;
    ai_http_post(r->http, 0, cancel_on_loop, m);
}

int ai_router_inflight(const struct ai_router *r)
{
    return atomic_load(&((struct ai_router *)r)->inflight);
}

struct ai_router *ai_router_new(const struct ai_config *cfg, struct ai_http *http)
{
    struct ai_router *r = dk_calloc(1, sizeof(*r));
    r->cfg = *cfg;
    r->http = http;
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->next_id, 1);
    atomic_init(&r->inflight, 0);
    return r;
}

void ai_router_free(struct ai_router *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_destroy(&r->mu);
    dk_free(r);
}

const struct ai_config *ai_router_config(const struct ai_router *r)
{
    return &r->cfg;
}

void ai_result_free(struct ai_result *res)
{
    if (res == NULL) {
        return;
    }
    ai_reply_clear(&res->reply);
    dk_free(res->vectors);
    dk_free(res);
}

static json_t *model_entry(const char *id, const char *owner, bool available, const char *state)
{
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(0));
    json_object_set_new(m, "owned_by", json_string(owner));
    json_object_set_new(m, "available", json_boolean(available));
    json_object_set_new(m, "state", json_string(state));
    return m;
}

json_t *ai_router_models(struct ai_router *r)
{
    json_t *data = json_array();
    int64_t now = dk_mono_ms();
    json_array_append_new(data, model_entry("auto", "direkt", true, "route"));
    for (size_t i = 0; i < r->cfg.nproviders; i++) {
        const struct ai_provider_config *p = &r->cfg.providers[i];
        pthread_mutex_lock(&r->mu);
        struct breaker b = r->br[i];
        pthread_mutex_unlock(&r->mu);
        bool open = b.open_until != 0 && now < b.open_until;
        const char *state = b.open_until == 0 ? "closed" : open ? "open" : "half_open";
        char id[200];
        snprintf(id, sizeof(id), "%s/%s", p->name, p->model);
        json_array_append_new(data, model_entry(id, p->name, !open, state));
    }
    json_t *out = json_object();
    json_object_set_new(out, "object", json_string("list"));
    json_object_set_new(out, "data", data);
    return out;
}
