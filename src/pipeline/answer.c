/*
 * pipeline/answer: what the built-in "local" provider replies: the business's own knowledge
 * entry when one matches the customer's words well enough (a question asked in other words
 * still finds its entry through shared stems), else the template of the intent. Deterministic,
 * no network: the answer of the embedded default and every LLM route's last resort.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/repo.h"

/* A knowledge entry answers only when it shares enough of the question's words. */
#define KB_MIN_SCORE 0.34
/* Intents a knowledge entry must not override: the template is the right answer. */
static bool template_first(const char *intent)
{
    static const char *const FIXED[] = {"greeting", "thanks",        "goodbye",  "human_request",
                                        "spam",     "collaboration", "complaint"};
    for (size_t i = 0; i < sizeof(FIXED) / sizeof(FIXED[0]); i++) {
        if (strcmp(intent, FIXED[i]) == 0) {
            return true;
        }
    }
    return false;
}

char *pipeline_local_pick(const struct pipeline_responder *r, const struct ai_kb_entry *best,
                          double score, const char *intent, const char *lang, int64_t *kb_id)
{
    *kb_id = 0;
    if (best != NULL && score >= KB_MIN_SCORE && !template_first(intent)) {
        *kb_id = best->id;
        return dk_strdup(best->answer);
    }
    return dk_strdup(pipeline_responder_reply(r, intent, lang));
}

char *pipeline_local_answer(struct nlu_ctx *ctx, const struct pipeline_responder *r,
                            const struct ai_kb_entry *kb, size_t nkb, const char *text,
                            const char *intent, const char *lang, int64_t *kb_id)
{
    size_t best = 0;
    double score = 0;
    bool found = nkb > 0 && text != NULL && *text != '\0' && !template_first(intent) &&
                 ai_knowledge_rank(ctx, text, kb, nkb, 1, KB_MIN_SCORE, &best, &score) == 1;
    return pipeline_local_pick(r, found ? &kb[best] : NULL, score, intent, lang, kb_id);
}

struct ai_kb_entry *pipeline_kb_view(const struct store_kb_entry *kb, size_t n)
{
    struct ai_kb_entry *v = dk_calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = (struct ai_kb_entry){kb[i].id, kb[i].question, kb[i].answer};
    }
    return v;
}

int pipeline_local_answer_db(struct store_conn *c, const struct pipeline_responder *r,
                             const char *account_id, const char *text, const char *intent,
                             const char *lang, char **out, int64_t *kb_id, struct dk_err *err)
{
    struct store_kb_entry *kb = NULL;
    size_t n = 0;
    int rc = store_knowledge_all(c, account_id, PIPELINE_KB_MAX, &kb, &n, err);
    if (rc != 0) {
        return rc;
    }
    struct ai_kb_entry *akb = pipeline_kb_view(kb, n);
    *out = pipeline_local_answer(pipeline_nlu_thread_ctx(), r, akb, n, text, intent, lang, kb_id);
    dk_free(akb);
    store_kb_entries_free(kb, n);
    return 0;
}

int pipeline_local_reply(struct store_conn *c, const struct pipeline_responder *r,
                         struct pipeline_nlu *nlu, const char *account_id, const char *text,
                         char **out, struct dk_err *err)
{
    const char *intent = "other", *lang = "en";
    char label[72];
    size_t len = strlen(text);
    if (len > 0 && len <= NLU_MAX_TEXT) {
        struct pipeline_nlu_model *ref = pipeline_nlu_acquire(nlu, c);
        struct nlu_result res;
        struct dk_err nerr = {0};
        if (nlu_analyze(pipeline_nlu_thread_ctx(), pipeline_nlu_model_get(ref), NULL, text, len,
                        &res, &nerr) == 0) {
            if (!res.intent.oos && res.intent.confidence >= 0.5f) {
                snprintf(label, sizeof(label), "%s", res.intent.label);
                intent = label;
            }
            lang = res.lang.lang == NLU_LANG_RU || res.lang.lang == NLU_LANG_UK ? "ru" : "en";
        }
        pipeline_nlu_release(ref);
    }
    int64_t kb_id;
    return pipeline_local_answer_db(c, r, account_id, text, intent, lang, out, &kb_id, err);
}
