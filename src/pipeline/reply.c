/*
 * pipeline/reply: the reply job, one conversation at a time, each step a function in the
 * order of DESIGN §1:
 *   load_context → claim_messages → decide → understand → generate → store_reply →
 *   update_context
 * It runs inside the transaction the worker opened, which also marks the job done: a crash
 * at any point rolls everything back and the job runs again; a finished job never repeats.
 * The reply is stored as pending_send with the conversation's send job (deliver.c). A
 * customer asking for a person, or a text the NLU cannot place, gets the hand-over template and
 * the conversation becomes needs_human: the bot stays silent until an operator resumes it.
 */
#include "pipeline/pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/repo.h"

/* Below this confidence a message's intent is not acted on (it is still stored). */
#define MIN_CONFIDENCE 0.5f
/* The bot stays silent on a burst only when every message is spam with this confidence. */
#define SPAM_CONFIDENCE 0.9f

struct reply_state {
    struct store_conversation conv;
    json_t *context;    /* the conversation's context, updated and written back */
    json_t *messages;   /* the customer messages this reply answers, oldest first */
    const char *skip;   /* why the bot does not answer, or NULL */
    const char *intent; /* points into intent_buf once understood */
    char intent_buf[72];
    float confidence; /* of the burst's intent */
    const char *lang;
    char *text;      /* the reply (new) */
    char *customer;  /* the burst's text (new) */
    int64_t kb_id;   /* the knowledge entry answered with, 0 for a template */
    bool generating; /* handed to an LLM: the reply is stored when it answers */
    bool unsure;     /* a text the NLU could not place (its intent became "other") */
    bool handover;   /* the reply hands the conversation to a person (needs_human) */
    char reply_id[STORE_ID_LEN];
};

static int load_context(struct store_conn *c, const char *conv_id, struct reply_state *s,
                        struct dk_err *err)
{
    int rc = store_conversation_load(c, conv_id, &s->conv, err);
    if (rc != 0) {
        return rc;
    }
    s->context = json_loads(s->conv.context, 0, NULL);
    if (!json_is_object(s->context)) {
        json_decref(s->context);
        s->context = json_object();
    }
    return 0;
}

static int claim_messages(struct store_conn *c, struct reply_state *s, struct dk_err *err)
{
    return store_message_claim_unanswered(c, s->conv.id, &s->messages, err);
}

/* Should the bot answer? Not when paused, assigned to a person, or waiting for one. */
static void decide(struct reply_state *s, int64_t now)
{
    if (s->conv.paused_until > now) {
        s->skip = "bot paused in this conversation";
    } else if (s->conv.assigned_to != NULL && s->conv.assigned_to[0] != '\0') {
        s->skip = "conversation assigned to a person";
    } else if (strcmp(s->conv.status, "needs_human") == 0 ||
               strcmp(s->conv.status, "closed") == 0) {
        s->skip = "conversation waits for a person";
    }
}

/* What the NLU understood of one message, stored on its row. */
static int store_analysis(struct store_conn *c, const char *id, const struct nlu_result *res,
                          const char *text, size_t len, int64_t version, struct dk_err *err)
{
    json_t *full = nlu_result_json(res, text, len);
    json_t *ents = json_incref(json_object_get(full, "entities"));
    json_object_del(full, "entities");
    json_object_set_new(full, "model_version", json_integer(version));
    char *ents_text = dk_json_dump(ents);
    char *nlu_text = dk_json_dump(full);
    struct store_nlu_fields f = {.intent = res->intent.label,
                                 .confidence = res->intent.confidence,
                                 .sentiment = nlu_polarity_name(res->sentiment.label),
                                 .entities_json = ents_text,
                                 .nlu_json = nlu_text};
    int rc = store_nlu_message_set(c, id, &f, err);
    dk_free(ents_text);
    dk_free(nlu_text);
    json_decref(ents);
    json_decref(full);
    return rc;
}

/* An intent the event itself names: a story mention, or the payload of a tapped quick reply,
 * icebreaker or button ("PRICE", "intent:price", "INTENT_PRICE" name the built-in intent). */
static const char *event_intent(const json_t *m, char *buf, size_t size)
{
    const char *type = dk_json_str(m, "message_type");
    if (type != NULL && strcmp(type, "story_mention") == 0) {
        return "story_mention";
    }
    const json_t *meta = json_object_get(m, "metadata");
    const char *payload = dk_json_str(json_object_get(meta, "quick_reply"), "payload");
    if (payload == NULL) {
        payload = dk_json_str(json_object_get(meta, "postback"), "payload");
    }
    if (payload == NULL) {
        return NULL;
    }
    if (strncasecmp(payload, "intent:", 7) == 0 || strncasecmp(payload, "intent_", 7) == 0) {
        payload += 7;
    }
    size_t n = 0;
    for (; payload[n] != '\0' && n + 1 < size; n++) {
        buf[n] = (char)tolower((unsigned char)payload[n]);
    }
    buf[n] = '\0';
    /* only intents the responder ranks among its own */
    return payload[n] == '\0' && pipeline_responder_priority(buf) > 1 ? buf : NULL;
}

/* The intent of each message (analysed by the local NLU and stored on its row) and of the
 * burst as a whole: the most specific intent among the messages, in the responder's priority
 * order; out-of-scope messages count as "other". */
static int understand(struct store_conn *c, const struct pipeline_reply_ctx *rctx,
                      struct reply_state *s, struct dk_err *err)
{
    int best = -1;
    s->intent = "other";
    /* the language of this burst's text, else the one the conversation had (a story mention or
     * a photo has no text), else English */
    const char *known = dk_json_str(s->context, "language");
    s->lang = known != NULL && strcmp(known, "ru") == 0 ? "ru" : "en";
    struct pipeline_nlu_model *ref = pipeline_nlu_acquire(rctx->nlu, c);
    struct nlu_ctx *ctx = pipeline_nlu_thread_ctx();
    int rc = 0;
    bool only_spam = true;
    size_t i;
    json_t *m;
    json_array_foreach(s->messages, i, m)
    {
        const char *text = dk_json_str(m, "content");
        char named[64];
        const char *fixed = event_intent(m, named, sizeof(named));
        if (fixed != NULL) {
            only_spam = false;
            int score = pipeline_responder_priority(fixed);
            if (score > best) {
                best = score;
                snprintf(s->intent_buf, sizeof(s->intent_buf), "%s", fixed);
                s->intent = s->intent_buf;
                s->confidence = 1.0f;
            }
        }
        if (text == NULL || *text == '\0') {
            only_spam = false;
            continue;
        }
        struct nlu_result res;
        struct dk_err nerr = {0};
        size_t len = strlen(text);
        if (nlu_analyze(ctx, pipeline_nlu_model_get(ref), rctx->sentiment_model, text, len, &res,
                        &nerr) != 0) {
            /* stored text that the NLU refuses (too long): answer it as "other" */
            DK_WARN("message %s not analysed: %s", dk_json_str(m, "id"), nerr.msg);
            only_spam = false;
            continue;
        }
        /* an unsure answer is no answer: such messages get the hand-over */
        const char *intent =
            res.intent.oos || res.intent.confidence < MIN_CONFIDENCE ? "other" : res.intent.label;
        s->unsure = s->unsure || strcmp(intent, "other") == 0;
        const char *type = dk_json_str(m, "message_type");
        if (type != NULL && strcmp(type, "story_reply") == 0 &&
            (strcmp(intent, "other") == 0 || strcmp(intent, "greeting") == 0)) {
            intent = "story_reply"; /* a reaction to the story, never answered as a greeting */
        }
        if (res.lang.lang == NLU_LANG_RU || res.lang.lang == NLU_LANG_UK) {
            s->lang = "ru";
        } else if (res.lang.lang != NLU_LANG_UNKNOWN) {
            s->lang = "en";
        }
        only_spam =
            only_spam && strcmp(intent, "spam") == 0 && res.intent.confidence >= SPAM_CONFIDENCE;
        int score = pipeline_responder_priority(intent);
        if (score > best) {
            best = score;
            s->intent = intent;
            s->confidence = res.intent.oos ? 0.0f : res.intent.confidence;
        }
        rc = store_analysis(c, dk_json_str(m, "id"), &res, text, len,
                            pipeline_nlu_model_version(ref), err);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0 && only_spam && json_array_size(s->messages) > 0 && s->skip == NULL) {
        s->skip = "spam";
        s->intent = "spam";
    }
    /* the burst's intent is a label of the model: keep a copy past the release below */
    if (s->intent != s->intent_buf) {
        snprintf(s->intent_buf, sizeof(s->intent_buf), "%s", s->intent);
        s->intent = s->intent_buf;
    }
    pipeline_nlu_release(ref);
    return rc;
}

/* The burst's text, one message a line. */
static char *burst_text(const json_t *messages)
{
    struct dk_buf b;
    dk_buf_init(&b, 256u << 10);
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *t = dk_json_str(m, "content");
        if (t != NULL && *t != '\0') {
            dk_buf_printf(&b, "%s%s", b.len > 0 ? "\n" : "", t);
        }
    }
    char *out = dk_strdup(b.len > 0 ? b.data : "");
    dk_buf_free(&b);
    return out;
}

/* The local path's entry in ai_calls, like every other provider's. */
static int record_local(struct store_conn *c, struct reply_state *s, int64_t started_ms,
                        struct dk_err *err)
{
    struct ai_result res = {0};
    res.nattempts = 1;
    struct ai_attempt *a = &res.attempts[0];
    snprintf(a->provider, sizeof(a->provider), "local");
    snprintf(a->model, sizeof(a->model), "%s", s->kb_id > 0 ? "knowledge" : "templates");
    a->outcome = AI_OK;
    a->latency_ms = dk_mono_ms() - started_ms;
    a->first_token_ms = -1;
    return pipeline_record_calls(c, &res, "reply",
                                 s->conv.account_id[0] != '\0' ? s->conv.account_id : NULL,
                                 s->conv.id, err);
}

static int store_reply(struct store_conn *c, struct reply_state *s, int64_t now, struct dk_err *err)
{
    json_t *meta = json_object();
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(s->messages, i, m)
    {
        json_array_append(ids, json_object_get(m, "id"));
    }
    json_object_set_new(meta, "in_reply_to", ids);
    json_object_set_new(meta, "responder", json_string(s->generating ? "pending" : "local"));
    json_object_set_new(meta, "language", json_string(s->lang));
    if (s->kb_id > 0) {
        json_object_set_new(meta, "local_kb_id", json_integer(s->kb_id));
    }
    if (s->handover) {
        json_object_set_new(meta, "handover", json_true()); /* sent although needs_human */
    }
    if (s->generating) {
        json_object_set_new(meta, "steps", json_object());
    }
    char *metatext = dk_json_dump(meta);
    json_decref(meta);
    struct store_message msg = {
        .conversation_id = s->conv.id,
        .sender_type = "bot",
        .message_type = "text",
        .content = s->generating ? "" : s->text,
        .metadata = metatext,
        .status = s->generating ? "generating" : "pending_send",
        .intent = s->intent,
        .created_ms = now,
    };
    bool inserted;
    int rc = store_message_insert(c, &msg, &inserted, err);
    dk_free(metatext);
    memcpy(s->reply_id, msg.id, STORE_ID_LEN);
    return rc;
}

/* The reply: the built-in answer now, or a bot message "generating" and the job that asks
 * the LLM route (generate.c), in this transaction. */
static int generate(struct store_conn *c, const struct pipeline_reply_ctx *rctx,
                    struct reply_state *s, int64_t now, struct dk_err *err)
{
    int64_t started = dk_mono_ms();
    s->customer = burst_text(s->messages);
    /* a hand-over is the template's promise of a person, not a model's improvisation */
    s->generating = rctx->gen != NULL && !s->handover && pipeline_gen_uses_llm(rctx->gen);
    if (!s->generating) {
        int rc = pipeline_local_answer_db(
            c, rctx->responder, s->conv.account_id[0] != '\0' ? s->conv.account_id : NULL,
            s->customer, s->intent, s->lang, &s->text, &s->kb_id, err);
        if (rc == 0) {
            rc = store_reply(c, s, now, err);
        }
        if (rc == 0) {
            rc = record_local(c, s, started, err);
        }
        /* the send starts with this transaction's commit: no job claim in between */
        return rc == 0 ? pipeline_deliver_now(rctx->deliver, c, s->conv.id, err) : rc;
    }
    int rc = store_reply(c, s, now, err);
    if (rc != 0) {
        return rc;
    }
    /* Instagram shows the customer their message seen and the bot typing meanwhile */
    pipeline_deliver_action(rctx->deliver, c, s->conv.account_id, s->conv.customer_id,
                            s->conv.last_user_message_ms, "mark_seen");
    pipeline_deliver_action(rctx->deliver, c, s->conv.account_id, s->conv.customer_id,
                            s->conv.last_user_message_ms, "typing_on");
    json_t *payload =
        json_pack("{s:s, s:s, s:s, s:f, s:s, s:b}", "message_id", s->reply_id, "conversation_id",
                  s->conv.id, "intent", s->intent, "confidence", (double)s->confidence, "language",
                  s->lang, "classify", pipeline_gen_asks_intent(rctx->gen, s->confidence));
    char *text = dk_json_dump(payload);
    json_decref(payload);
    char key[64];
    snprintf(key, sizeof(key), "ai_reply:%s", s->reply_id);
    rc = queue_enqueue(c, PIPELINE_JOB_AI_REPLY, text, key, now, 5, NULL, err);
    dk_free(text);
    return rc;
}

static void add_count(json_t *ctx, const char *key, size_t n)
{
    json_int_t v = json_integer_value(json_object_get(ctx, key));
    json_object_set_new(ctx, key, json_integer(v + (json_int_t)n));
}

static int update_context(struct store_conn *c, struct reply_state *s, int64_t now,
                          struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    json_t *ctx = s->context;
    add_count(ctx, "customer_messages", json_array_size(s->messages));
    json_object_set_new(ctx, "last_activity_at", json_string(dk_time_format(now, ts)));
    if (s->skip != NULL) {
        json_object_set_new(ctx, "last_skip_reason", json_string(s->skip));
    } else {
        json_object_set_new(ctx, "last_intent", json_string(s->intent));
        json_object_set_new(ctx, "language", json_string(s->lang));
        json_object_set_new(ctx, "last_reply_id", json_string(s->reply_id));
        json_object_set_new(ctx, "last_reply_at", json_string(ts));
        add_count(ctx, "bot_replies", 1);
    }
    char *text = dk_json_dump(ctx);
    int rc = store_conversation_set_context(c, s->conv.id, text, now, err);
    dk_free(text);
    return rc;
}

int pipeline_reply_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                       struct dk_err *err)
{
    const struct pipeline_reply_ctx *rctx = ctx;
    const char *conv_id = dk_json_str(job->payload, "conversation_id");
    if (conv_id == NULL || !store_is_uuid(conv_id)) {
        return dk_err_set(err, DK_EINVAL, "reply job without a valid conversation_id");
    }
    struct reply_state s = {0};
    int64_t now = dk_now_ms();
    int rc = load_context(c, conv_id, &s, err);
    if (rc == 0) {
        rc = claim_messages(c, &s, err);
    }
    if (rc == 0 && rctx->test_delay_ms > 0) {
        dk_sleep_ms(rctx->test_delay_ms);
    }
    if (rc == 0 && json_array_size(s.messages) > 0) {
        decide(&s, now);
        rc = understand(c, rctx, &s, err);
        /* a person is asked for, or the built-in answers have nothing for this text (an LLM
         * answers what the NLU cannot place) */
        bool llm = rctx->gen != NULL && pipeline_gen_uses_llm(rctx->gen);
        s.handover = s.skip == NULL && (strcmp(s.intent, "human_request") == 0 ||
                                        (strcmp(s.intent, "other") == 0 && s.unsure && !llm));
        if (rc == 0 && s.skip == NULL) {
            rc = generate(c, rctx, &s, now, err);
        }
        if (rc == 0 && s.handover) {
            rc = store_conversation_set_status(c, conv_id, "needs_human", now, err);
        }
        if (rc == 0) {
            rc = update_context(c, &s, now, err);
        }
        if (rc == 0) {
            DK_INFO("conversation %s: %zu message(s), intent=%s, %s", conv_id,
                    json_array_size(s.messages), s.intent,
                    s.skip != NULL ? s.skip
                    : s.generating ? "reply generating"
                                   : "reply pending_send");
        }
    }
    json_decref(s.messages);
    json_decref(s.context);
    dk_free(s.text);
    dk_free(s.customer);
    store_conversation_clear(&s.conv);
    return rc;
}
