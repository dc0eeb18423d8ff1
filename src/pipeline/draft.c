/*
 * pipeline/draft: everything a reply prompt needs, read from the database in one go: the
 * conversation (summary, language, last intent), its recent messages, the customer's profile
 * and preferences, the account's AI settings (system prompt, tone, budget), its knowledge
 * entries (the best ones go into the prompt, all of them guard the figures of the answer), the
 * tokens it used today, and the local answer (the route's last resort). Under a privacy mode
 * it also finds personal data and prepares the redacted copy of the prompt.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "pipeline/gen_int.h"
#include "store/repo.h"

#define HISTORY_MESSAGES 30
#define PROMPT_KB        5
#define PROMPT_TOKENS    3000
#define REPLY_MAX_TOKENS 400

struct pipeline_draft {
    char conv_id[STORE_ID_LEN];
    char *account_id;
    json_t *prompt; /* [{role, content}] */
    struct ai_message *msgs;
    size_t nmsgs;
    struct pipeline_privacy priv; /* personal data, redacted copies */
    char *local_text;
    int64_t kb_id;
    char *system_prompt; /* the instructions (the leak check compares with them) */
    char *customer_text;
    struct store_kb_entry *kb;
    size_t nkb;
    struct ai_kb_entry *akb;
    int64_t tokens_today, budget;
    char intent[72], lang[8];
};

void pipeline_draft_free(struct pipeline_draft *d)
{
    if (d == NULL) {
        return;
    }
    json_decref(d->prompt);
    dk_free(d->msgs);
    pipeline_privacy_clear(&d->priv);
    dk_free(d->account_id);
    dk_free(d->local_text);
    dk_free(d->system_prompt);
    dk_free(d->customer_text);
    store_kb_entries_free(d->kb, d->nkb);
    dk_free(d->akb);
    dk_free(d);
}

/* The conversation's recent turns, oldest first, and the customer's newest run of messages. */
static json_t *history_turns(json_t *newest_first, char **customer_text)
{
    json_t *turns = json_array();
    struct dk_buf cust;
    dk_buf_init(&cust, 64u << 10);
    bool in_run = true;
    size_t n = json_array_size(newest_first);
    for (size_t k = 0; k < n; k++) {
        json_t *m = json_array_get(newest_first, k);
        const char *who = dk_json_str(m, "sender_type");
        const char *text = dk_json_str(m, "content");
        const char *status = dk_json_str(m, "status");
        bool user = who != NULL && strcmp(who, "user") == 0;
        if (status != NULL && strcmp(status, "generating") == 0) {
            continue;
        }
        if (!user) {
            in_run = false;
        } else if (in_run && text != NULL && *text != '\0') {
            /* newest first: put each earlier message in front */
            struct dk_buf t;
            dk_buf_init(&t, 64u << 10);
            dk_buf_puts(&t, text);
            if (cust.len > 0) {
                dk_buf_puts(&t, "\n");
                dk_buf_append(&t, cust.data, cust.len);
            }
            dk_buf_reset(&cust);
            dk_buf_append(&cust, t.data, t.len);
            dk_buf_free(&t);
        }
        if (text == NULL || *text == '\0' || !json_is_null(json_object_get(m, "deleted_at"))) {
            continue;
        }
        json_array_insert_new(
            turns, 0,
            json_pack("{s:s, s:s}", "role", user ? "user" : "assistant", "content", text));
    }
    *customer_text = dk_strdup(cust.len > 0 ? cust.data : "");
    dk_buf_free(&cust);
    return turns;
}

static int load_kb(struct store_conn *c, struct pipeline_draft *d, struct dk_err *err)
{
    int rc = store_knowledge_all(c, d->account_id, PIPELINE_KB_MAX, &d->kb, &d->nkb, err);
    if (rc != 0) {
        return rc;
    }
    d->akb = pipeline_kb_view(d->kb, d->nkb);
    return 0;
}

/* The best knowledge entries for the customer's words (the prompt's facts), ranked once: the
 * top one is also the local answer when it matches well enough. */
static size_t rank_facts(struct pipeline_draft *d, struct pipeline_gen *g,
                         struct ai_kb_entry *facts)
{
    size_t best[PROMPT_KB];
    double scores[PROMPT_KB];
    size_t nbest = ai_knowledge_rank(pipeline_nlu_thread_ctx(), d->customer_text, d->akb, d->nkb,
                                     PROMPT_KB, 0.05, best, scores);
    for (size_t i = 0; i < nbest; i++) {
        facts[i] = d->akb[best[i]];
    }
    d->local_text = pipeline_local_pick(gen_responder(g), nbest > 0 ? &facts[0] : NULL,
                                        nbest > 0 ? scores[0] : 0, d->intent, d->lang, &d->kb_id);
    return nbest;
}

static int build_prompt(struct pipeline_draft *d, const struct store_ai_settings *set,
                        const char *summary, json_t *turns, json_t *user,
                        const struct ai_kb_entry *facts, size_t nbest, struct dk_err *err)
{
    struct ai_prompt_in in = {
        .system_prompt = set->system_prompt,
        .tone = set->tone,
        .business_name = set->business_name,
        .summary = summary,
        .history = turns,
        .profile = json_object_get(user, "profile"),
        .preferences = json_object_get(user, "preferences"),
        .kb = facts,
        .nkb = nbest,
        .intent = d->intent,
        .language = d->lang,
        .max_tokens = PROMPT_TOKENS,
    };
    d->system_prompt =
        dk_strdup(set->system_prompt != NULL ? set->system_prompt : ai_prompt_default_system());
    int rc = ai_prompt_build(&in, &d->prompt, err);
    if (rc != 0) {
        return rc;
    }
    d->nmsgs = json_array_size(d->prompt);
    d->msgs = dk_calloc(d->nmsgs + 1, sizeof(*d->msgs));
    for (size_t i = 0; i < d->nmsgs; i++) {
        json_t *m = json_array_get(d->prompt, i);
        d->msgs[i] = (struct ai_message){dk_json_str(m, "role"), dk_json_str(m, "content")};
    }
    return 0;
}

int pipeline_draft_prepare(struct store_conn *c, struct pipeline_gen *g, const char *conv_id,
                           const char *intent, const char *lang, struct pipeline_draft **out,
                           struct dk_err *err)
{
    struct store_conversation conv = {0};
    int rc = store_conversation_load(c, conv_id, &conv, err);
    if (rc != 0) {
        return rc;
    }
    struct pipeline_draft *d = dk_calloc(1, sizeof(*d));
    snprintf(d->conv_id, sizeof(d->conv_id), "%s", conv.id);
    d->account_id = dk_strdup(conv.account_id[0] != '\0' ? conv.account_id : "*");
    json_t *ctx = json_loads(conv.context != NULL ? conv.context : "{}", 0, NULL);
    const char *known_lang = dk_json_str(ctx, "language");
    const char *known_intent = dk_json_str(ctx, "last_intent");
    snprintf(d->intent, sizeof(d->intent), "%s",
             intent != NULL         ? intent
             : known_intent != NULL ? known_intent
                                    : "other");
    snprintf(d->lang, sizeof(d->lang), "%s",
             lang != NULL         ? lang
             : known_lang != NULL ? known_lang
                                  : "en");
    json_t *newest = NULL, *user = NULL, *turns = NULL;
    char *next = NULL;
    struct store_ai_settings set = {0};
    rc = store_message_history(c, conv_id, NULL, HISTORY_MESSAGES, &newest, &next, err);
    if (rc == 0) {
        turns = history_turns(newest, &d->customer_text);
        rc = store_user_get(c, NULL, conv.user_id, &user, err);
        if (rc == DK_ENOTFOUND) {
            rc = 0;
        }
    }
    if (rc == 0) {
        rc = store_ai_settings_get(c, d->account_id, &set, err);
    }
    if (rc == 0) {
        rc = load_kb(c, d, err);
    }
    if (rc == 0) {
        rc = store_ai_tokens_today(c, d->account_id, dk_now_ms(), &d->tokens_today, err);
        /* unset (< 0): the configured default (0 in the request); 0 in the settings: none */
        d->budget = set.daily_token_budget < 0    ? 0
                    : set.daily_token_budget == 0 ? -1
                                                  : set.daily_token_budget;
    }
    if (rc == 0) {
        struct ai_kb_entry facts[PROMPT_KB];
        size_t nfacts = rank_facts(d, g, facts);
        rc = build_prompt(d, &set, dk_json_str(ctx, "summary"), turns, user, facts, nfacts, err);
    }
    if (rc == 0) {
        rc = pipeline_privacy_apply(ai_router_config(pipeline_gen_router(g))->privacy, d->msgs,
                                    d->nmsgs, &d->priv, err);
    }
    dk_free(next);
    json_decref(newest);
    json_decref(turns);
    json_decref(user);
    json_decref(ctx);
    store_ai_settings_clear(&set);
    store_conversation_clear(&conv);
    if (rc != 0) {
        pipeline_draft_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void pipeline_draft_request(struct pipeline_draft *d, const char *target, bool stream,
                            struct ai_request *out)
{
    memset(out, 0, sizeof(*out));
    out->task = AI_TASK_REPLY;
    out->messages = d->msgs;
    out->nmessages = d->nmsgs;
    out->max_tokens = REPLY_MAX_TOKENS;
    out->temperature = 0.3;
    out->stream = stream;
    out->target = target;
    out->account_id = d->account_id;
    out->tokens_used_today = d->tokens_today;
    out->daily_token_budget = d->budget;
    pipeline_privacy_request(&d->priv, out);
    out->local_text = d->local_text;
}

const char *pipeline_draft_local_text(const struct pipeline_draft *d)
{
    return d->local_text;
}

const char *pipeline_draft_account(const struct pipeline_draft *d)
{
    return d->account_id;
}

const char *pipeline_draft_customer_text(const struct pipeline_draft *d)
{
    return d->customer_text;
}

const char *pipeline_draft_intent(const struct pipeline_draft *d)
{
    return d->intent;
}

char *pipeline_draft_final_text(struct pipeline_draft *d, const struct ai_result *res,
                                json_t **meta)
{
    json_t *m = json_object();
    *meta = m;
    const struct ai_reply *rep = &res->reply;
    json_object_set_new(m, "provider", json_string(res->provider[0] ? res->provider : "local"));
    json_object_set_new(m, "model", json_string(res->model));
    if (d->kb_id > 0) {
        json_object_set_new(m, "local_kb_id", json_integer(d->kb_id));
    }
    if (rep->outcome != AI_OK || rep->text == NULL) {
        json_object_set_new(m, "path", json_string("local"));
        json_object_set_new(m, "provider", json_string("local"));
        json_object_set_new(m, "fallback", json_string(rep->error[0] ? rep->error : "failed"));
        return dk_strdup(d->local_text);
    }
    if (strcmp(res->provider, "local") == 0) {
        json_object_set_new(m, "path", json_string("local"));
        return dk_strdup(rep->text);
    }
    json_object_set_new(m, "path", json_string("llm"));
    json_object_set_new(m, "latency_ms", json_integer(res->latency_ms));
    if (res->redacted) {
        json_object_set_new(m, "redacted", json_true());
    }
    struct ai_guard_in in = {.reply = rep->text,
                             .system_prompt = d->system_prompt,
                             .kb = d->akb,
                             .nkb = d->nkb,
                             .customer_text = d->customer_text};
    char *fitted = NULL;
    char reason[256] = "";
    enum ai_guard_verdict v = ai_guard_check(&in, &fitted, reason, sizeof(reason));
    if (v == AI_GUARD_OK) {
        return fitted;
    }
    dk_free(fitted);
    DK_WARN("reply of %s for conversation %s refused: %s (%s): the local answer goes instead",
            res->provider, d->conv_id, ai_guard_name(v), reason);
    json_object_set_new(m, "guard",
                        json_pack("{s:s, s:s}", "verdict", ai_guard_name(v), "reason", reason));
    json_object_set_new(m, "path", json_string("local"));
    return dk_strdup(d->local_text);
}
