/*
 * pipeline/summary: the conversation's memory beyond the reply prompt's window. After every
 * PIPELINE_SUMMARY_EVERY customer messages answered by an LLM, a job "ai_summary" asks the
 * summary route for a few sentences on what the customer wants, the facts they gave and what
 * is still open, from the previous summary and the recent messages; the answer goes to
 * context.summary, which the reply prompt includes. Like a reply step, the call is handed to
 * the router (DK_EPENDING) and stored by the finisher with its ai_calls rows. The built-in
 * answer, when no LLM can, is an extract: the customer's topics and last message.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "pipeline/gen_int.h"
#include "store/repo.h"

#define SUMMARY_MESSAGES 40
#define TRANSCRIPT_MAX   (12u * 1024u)
#define SUMMARY_MAX      1500

static const char INSTRUCTION[] =
    "You keep notes on a conversation between a shop and a customer on Instagram. Given the "
    "notes so far and the recent messages, write the new notes: at most 5 short sentences on "
    "what the customer wants, the facts they gave (order numbers, sizes, dates, addresses "
    "only as placeholders if shown so), what the shop promised and what is still open. Plain "
    "text, in English, no greeting.";

static json_t *load_context(struct store_conn *c, const char *conv_id,
                            struct store_conversation *conv, struct dk_err *err)
{
    int rc = store_conversation_load(c, conv_id, conv, err);
    if (rc != 0) {
        return NULL;
    }
    json_t *ctx = json_loads(conv->context != NULL ? conv->context : "{}", 0, NULL);
    if (!json_is_object(ctx)) {
        json_decref(ctx);
        ctx = json_object();
    }
    return ctx;
}

int pipeline_summary_maybe(struct store_conn *c, const char *conv_id, const json_t *ctx,
                           struct dk_err *err)
{
    json_int_t seen = json_integer_value(json_object_get(ctx, "customer_messages"));
    json_int_t at = json_integer_value(json_object_get(ctx, "summary_at_messages"));
    if (seen - at < PIPELINE_SUMMARY_EVERY) {
        return 0;
    }
    char payload[96], key[64];
    snprintf(payload, sizeof(payload), "{\"conversation_id\":\"%s\"}", conv_id);
    snprintf(key, sizeof(key), "summary:%s", conv_id);
    return queue_enqueue(c, PIPELINE_JOB_AI_SUMMARY, payload, key, dk_now_ms(), 3, NULL, err);
}

/* The recent messages, oldest first, as "Customer: …" / "Shop: …" lines (the newest kept
 * within TRANSCRIPT_MAX), and the built-in summary: the customer's topics and last words. */
static void transcript(json_t *newest_first, struct dk_buf *out, struct dk_buf *local)
{
    json_t *topics = json_array();
    const char *last = NULL;
    size_t n = json_array_size(newest_first);
    size_t first = n;
    size_t used = 0;
    for (size_t k = 0; k < n; k++) { /* how many of the newest fit */
        const char *t = dk_json_str(json_array_get(newest_first, k), "content");
        used += (t != NULL ? strlen(t) : 0) + 12;
        if (used > TRANSCRIPT_MAX) {
            break;
        }
        first = k + 1;
    }
    for (size_t k = first; k > 0; k--) {
        json_t *m = json_array_get(newest_first, k - 1);
        const char *t = dk_json_str(m, "content");
        const char *who = dk_json_str(m, "sender_type");
        if (t == NULL || *t == '\0') {
            continue;
        }
        bool user = who != NULL && strcmp(who, "user") == 0;
        dk_buf_printf(out, "%s: %s\n", user ? "Customer" : "Shop", t);
        const char *intent = dk_json_str(m, "intent");
        if (user) {
            last = t;
        }
        if (user && intent != NULL && strcmp(intent, "other") != 0) {
            bool known = false;
            size_t i;
            json_t *v;
            json_array_foreach(topics, i, v)
            {
                known = known || strcmp(json_string_value(v), intent) == 0;
            }
            if (!known) {
                json_array_append_new(topics, json_string(intent));
            }
        }
    }
    dk_buf_puts(local, "The customer asked about: ");
    size_t i;
    json_t *v;
    json_array_foreach(topics, i, v)
    {
        dk_buf_printf(local, "%s%s", i > 0 ? ", " : "", json_string_value(v));
    }
    if (json_array_size(topics) == 0) {
        dk_buf_puts(local, "nothing specific");
    }
    if (last != NULL) {
        dk_buf_printf(local, ". Last message: \"%.200s\"", last);
    }
    dk_buf_puts(local, ".");
    json_decref(topics);
}

struct sum_call {
    struct pipeline_gen *g;
    struct queue_job job;
    char conv_id[STORE_ID_LEN];
    char *account_id;
    char *local_text;
    json_int_t at; /* customer messages the summary covers */
};

static void sum_free(struct sum_call *sc)
{
    dk_free(sc->account_id);
    dk_free(sc->local_text);
    dk_free(sc);
}

static int sum_work(struct store_conn *c, void *arg, struct ai_result *res, struct dk_err *err)
{
    struct sum_call *sc = arg;
    if (res->reply.outcome == AI_ERR_CANCELED) {
        return dk_err_set(err, DK_ECANCELED, "canceled (shutting down)");
    }
    bool llm = res->reply.outcome == AI_OK && res->reply.text != NULL &&
               res->reply.text[0] != '\0' && strcmp(res->provider, "local") != 0;
    const char *text = llm ? res->reply.text : sc->local_text;
    struct store_conversation conv = {0};
    json_t *ctx = load_context(c, sc->conv_id, &conv, err);
    if (ctx == NULL) {
        return err != NULL && err->code != 0 ? err->code : DK_EINTERNAL;
    }
    char ts[DK_TIME_LEN];
    int64_t now = dk_now_ms();
    json_object_set_new(ctx, "summary", json_stringn(text, strnlen(text, SUMMARY_MAX)));
    json_object_set_new(ctx, "summary_at_messages", json_integer(sc->at));
    json_object_set_new(ctx, "summary_provider", json_string(llm ? res->provider : "local"));
    json_object_set_new(ctx, "summary_at", json_string(dk_time_format(now, ts)));
    char *ctext = dk_json_dump(ctx);
    int rc = store_conversation_set_context(c, sc->conv_id, ctext, now, err);
    dk_free(ctext);
    json_decref(ctx);
    store_conversation_clear(&conv);
    return rc == 0 ? queue_complete(c, &sc->job, err) : rc;
}

static void sum_after(void *arg, struct store_conn *c, struct ai_result *res, int rc,
                      const struct dk_err *err)
{
    (void)res;
    struct sum_call *sc = arg;
    gen_job_outcome(c, &sc->job, rc, err);
    sum_free(sc);
}

static void sum_done(void *arg, struct ai_result *res)
{
    struct sum_call *sc = arg;
    pipeline_gen_finish(sc->g, res, "summary", sc->account_id, sc->conv_id, sum_work, sum_after,
                        sc);
}

int pipeline_ai_summary_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                            struct dk_err *err)
{
    const struct pipeline_reply_ctx *rctx = ctx;
    struct pipeline_gen *g = rctx->gen;
    const char *conv_id = dk_json_str(job->payload, "conversation_id");
    if (g == NULL) {
        return dk_err_set(err, DK_EUNAVAIL, "this process has no AI router");
    }
    if (conv_id == NULL || !store_is_uuid(conv_id)) {
        return dk_err_set(err, DK_EINVAL, "ai_summary job without a valid conversation_id");
    }
    struct store_conversation conv = {0};
    json_t *cctx = load_context(c, conv_id, &conv, err);
    if (cctx == NULL) {
        return err != NULL && err->code == DK_ENOTFOUND ? 0 : err->code;
    }
    json_t *newest = NULL;
    char *next = NULL;
    int rc = store_message_history(c, conv_id, NULL, SUMMARY_MESSAGES, &newest, &next, err);
    dk_free(next);
    if (rc == 0) {
        rc = gen_extend_lease(g, c, job, err);
    }
    if (rc != 0) {
        json_decref(newest);
        json_decref(cctx);
        store_conversation_clear(&conv);
        return rc;
    }
    struct dk_buf text, local;
    dk_buf_init(&text, TRANSCRIPT_MAX + 4096);
    dk_buf_init(&local, 4096);
    const char *before = dk_json_str(cctx, "summary");
    dk_buf_printf(&text, "Notes so far: %.2000s\n\nRecent messages:\n",
                  before != NULL ? before : "none");
    transcript(newest, &text, &local);
    struct sum_call *sc = dk_calloc(1, sizeof(*sc));
    sc->g = g;
    gen_job_copy(&sc->job, job);
    snprintf(sc->conv_id, sizeof(sc->conv_id), "%s", conv.id);
    sc->account_id = dk_strdup(conv.account_id[0] != '\0' ? conv.account_id : "*");
    sc->local_text = dk_strdup(local.data != NULL ? local.data : "");
    sc->at = json_integer_value(json_object_get(cctx, "customer_messages"));
    struct ai_message msgs[2] = {{"system", INSTRUCTION}, {"user", text.data}};
    struct ai_request req = {.task = AI_TASK_SUMMARY,
                             .messages = msgs,
                             .nmessages = 2,
                             .max_tokens = 250,
                             .temperature = 0.2,
                             .account_id = sc->account_id,
                             .local_text = sc->local_text};
    struct pipeline_privacy priv;
    if (pipeline_privacy_apply(ai_router_config(pipeline_gen_router(g))->privacy, msgs, 2, &priv,
                               NULL) != 0) {
        priv.has_pii = true; /* cannot tell: keep it local */
    }
    pipeline_privacy_request(&priv, &req);
    ai_router_submit(pipeline_gen_router(g), &req, NULL, sum_done, sc, NULL);
    pipeline_privacy_clear(&priv);
    dk_buf_free(&text);
    dk_buf_free(&local);
    json_decref(newest);
    json_decref(cctx);
    store_conversation_clear(&conv);
    return DK_EPENDING;
}
