/*
 * nlu/analyze: the whole local analysis of one message — language, intent, sentiment with
 * emotions, entities — and its JSON form, shared by the API, the CLI and the reply pipeline.
 * The text is validated and tokenised once, into the caller's context; the classifiers, the
 * language guess and the lexicons read those tokens.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

int nlu_analyze(struct nlu_ctx *c, const struct nlu_model *intent_model,
                const struct nlu_model *sentiment_model, const char *s, size_t len,
                struct nlu_result *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (intent_model == NULL) {
        intent_model = nlu_default_intent_model();
    }
    int rc = nlu_ctx_tokenize(c, s, len, err);
    if (rc != 0) {
        return rc;
    }
    nlu_classify_tokens(intent_model, c, &out->intent);
    out->lang = c->lang; /* guessed by nlu_ctx_tokenize */
    if (sentiment_model == NULL) {
        nlu_lexicon_scores(&c->toks, out->lang.lang, c->st, &out->sentiment, NULL);
    } else {
        struct nlu_prediction p;
        c->lexsent_valid = false;
        nlu_classify_tokens(sentiment_model, c, &p);
        if (c->lexsent_valid) {
            out->sentiment = c->lexsent; /* computed along the model's features */
        } else {
            nlu_lexicon_scores(&c->toks, out->lang.lang, c->st, &out->sentiment, NULL);
        }
        /* the trained model decides the label; the lexicon score keeps its magnitude, with the
         * model's sign */
        float mag = fabsf(out->sentiment.score);
        float fallback = p.confidence * 0.5f;
        if (strcmp(p.label, "positive") == 0) {
            out->sentiment.label = NLU_POSITIVE;
            out->sentiment.score = mag > 0.05f ? mag : fallback;
        } else if (strcmp(p.label, "negative") == 0) {
            out->sentiment.label = NLU_NEGATIVE;
            out->sentiment.score = -(mag > 0.05f ? mag : fallback);
        } else {
            out->sentiment.label = NLU_NEUTRAL;
        }
    }
    out->nentities = nlu_entities(s, len, out->entities, NLU_MAX_ENTITIES);
    return 0;
}

static double round4(float v)
{
    return round((double)v * 10000.0) / 10000.0;
}

json_t *nlu_intent_json(const struct nlu_prediction *p)
{
    json_t *alt = json_array();
    for (size_t i = 0; i < p->ntop; i++) {
        json_array_append_new(alt, json_pack("{s:s, s:f}", "name", p->top[i].label, "confidence",
                                             round4(clamp01(p->top[i].p))));
    }
    return json_pack("{s:s, s:f, s:b, s:o}", "name", p->label, "confidence",
                     round4(clamp01(p->confidence)), "oos", p->oos, "alternatives", alt);
}

json_t *nlu_sentiment_json(const struct nlu_sentiment *st)
{
    json_t *emo = json_object();
    for (int i = 0; i < NLU_EMO_COUNT; i++) {
        json_object_set_new(emo, nlu_emotion_name((enum nlu_emotion)i),
                            json_real(round4(clamp01(st->emotions[i]))));
    }
    float score = st->score < -1.0f ? -1.0f : (st->score > 1.0f ? 1.0f : st->score);
    return json_pack("{s:s, s:f, s:o}", "label", nlu_polarity_name(st->label), "score",
                     round4(score), "emotions", emo);
}

json_t *nlu_entities_json(const struct nlu_entity *e, size_t n, const char *s, size_t len)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (e[i].end > len || e[i].start > e[i].end) {
            continue;
        }
        json_t *o =
            json_pack("{s:s, s:s%, s:i, s:i, s:s, s:b}", "type",
                      nlu_ent_kind_name((enum nlu_ent_kind)e[i].kind), "text", s + e[i].start,
                      (size_t)(e[i].end - e[i].start), "start", (json_int_t)e[i].start, "end",
                      (json_int_t)e[i].end, "value", e[i].value, "pii", e[i].pii);
        if (o == NULL) {
            continue; /* a span that cuts a character: never from our detector, but no crash */
        }
        if (e[i].unit[0] != '\0') {
            json_object_set_new(o, "unit", json_string(e[i].unit));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *nlu_result_json(const struct nlu_result *r, const char *s, size_t len)
{
    size_t n = r->nentities < NLU_MAX_ENTITIES ? r->nentities : NLU_MAX_ENTITIES;
    bool pii = false;
    for (size_t i = 0; i < n; i++) {
        pii = pii || r->entities[i].pii;
    }
    return json_pack("{s:{s:s, s:f}, s:o, s:o, s:o, s:b}", "language", "code",
                     nlu_lang_code(r->lang.lang), "confidence", round4(clamp01(r->lang.confidence)),
                     "intent", nlu_intent_json(&r->intent), "sentiment",
                     nlu_sentiment_json(&r->sentiment), "entities",
                     nlu_entities_json(r->entities, n, s, len), "pii", pii);
}
