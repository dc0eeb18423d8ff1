/*
 * nlu/classify: one text -> label, calibrated confidence, top alternatives, out-of-scope flag.
 *
 * The probabilities are softmax(scores / T) with the temperature fitted on validation data.
 * A text is out of scope when the "oos" label wins or when the best in-scope probability is
 * below the model's threshold (tuned on validation data); the confidence is always that best
 * in-scope probability. Everything runs in the caller's context: no allocation once it has
 * grown.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <string.h>

void nlu_classify_tokens(const struct nlu_model *m, struct nlu_ctx *c, struct nlu_prediction *out)
{
    size_t k = m->nlabels;
    nlu_features_raw(&m->cfg, c);
    nlu_vectorize(m, c);
    float *p = c->scores;
    nlu_linear_scores(m, c->frow, c->fval, c->fn, p);
    nlu_softmax(p, k, m->temperature);
    size_t best = 0;
    size_t best_in = k;
    for (size_t j = 0; j < k; j++) {
        if (p[j] > p[best]) {
            best = j;
        }
        if (j != m->oos && (best_in == k || p[j] > p[best_in])) {
            best_in = j;
        }
    }
    memset(out, 0, sizeof(*out));
    out->confidence = best_in < k ? p[best_in] : 0.0f;
    out->oos = (m->oos < k && best == m->oos) || out->confidence < m->oos_threshold;
    out->label = out->oos ? NLU_OOS_LABEL : m->labels[best_in];
    /* top labels by probability, ties by index (selection: k is small and NLU_TOPK is 3) */
    for (size_t t = 0; t < NLU_TOPK && t < k; t++) {
        size_t arg = k;
        for (size_t j = 0; j < k; j++) {
            bool taken = false;
            for (size_t u = 0; u < t; u++) {
                taken = taken || out->top[u].label == m->labels[j];
            }
            if (!taken && (arg == k || p[j] > p[arg])) {
                arg = j;
            }
        }
        out->top[t].label = m->labels[arg];
        out->top[t].p = p[arg];
        out->ntop = t + 1;
    }
}

int nlu_classify(const struct nlu_model *m, struct nlu_ctx *c, const char *s, size_t len,
                 struct nlu_prediction *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->label = NLU_OOS_LABEL;
    out->oos = true;
    int rc = nlu_ctx_tokenize(c, s, len, err);
    if (rc < 0) {
        return rc;
    }
    nlu_classify_tokens(m, c, out);
    return 0;
}
