/*
 * nlu/eval: accuracy, per-class precision / recall / F1, macro averages, out-of-scope recall,
 * the most confused pairs and the time per message, for a model (or the lexicons) on a dataset.
 *
 * Macro averages run over the gold classes; for intents "oos" is left out of them and reported
 * as oos_recall, and an in-scope example predicted "oos" counts as wrong in inscope_accuracy.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t index_of(const char *const *set, size_t n, const char *l)
{
    const char *const *hit = bsearch(&l, set, n, sizeof(char *), cmp_str);
    return (size_t)(hit - set);
}

static int cmp_pair(const void *a, const void *b)
{
    const struct nlu_eval_pair *x = a;
    const struct nlu_eval_pair *y = b;
    if (x->count != y->count) {
        return x->count < y->count ? 1 : -1;
    }
    int c = strcmp(x->gold, y->gold);
    return c != 0 ? c : strcmp(x->pred, y->pred);
}

int nlu_eval_labels(enum nlu_task task, const char *const *gold, const char *const *pred, size_t n,
                    struct nlu_eval *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->task = task;
    out->oos_recall = -1.0;
    if (n == 0) {
        return dk_err_set(err, DK_EINVAL, "nothing to evaluate (no examples)");
    }
    /* every label seen, sorted and unique */
    const char **set = dk_malloc(2 * n * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        set[2 * i] = gold[i];
        set[2 * i + 1] = pred[i];
    }
    qsort(set, 2 * n, sizeof(char *), cmp_str);
    size_t ns = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        if (ns == 0 || strcmp(set[i], set[ns - 1]) != 0) {
            set[ns++] = set[i];
        }
    }
    size_t *conf = dk_calloc(ns * ns, sizeof(size_t));
    size_t *support = dk_calloc(ns, sizeof(size_t));
    size_t *predicted = dk_calloc(ns, sizeof(size_t));
    size_t correct = 0;
    size_t in_n = 0;
    size_t in_ok = 0;
    size_t oos_ok = 0;
    for (size_t i = 0; i < n; i++) {
        size_t g = index_of(set, ns, gold[i]);
        size_t p = index_of(set, ns, pred[i]);
        conf[g * ns + p]++;
        support[g]++;
        predicted[p]++;
        correct += g == p;
        bool g_oos = strcmp(gold[i], NLU_OOS_LABEL) == 0;
        if (g_oos) {
            out->n_oos++;
            oos_ok += g == p;
        } else {
            in_n++;
            in_ok += g == p;
        }
    }
    out->n = n;
    out->accuracy = (double)correct / (double)n;
    out->inscope_accuracy = in_n ? (double)in_ok / (double)in_n : 0.0;
    if (out->n_oos > 0) {
        out->oos_recall = (double)oos_ok / (double)out->n_oos;
    }
    size_t ngold = 0;
    for (size_t j = 0; j < ns; j++) {
        ngold += support[j] > 0;
    }
    out->per_class = dk_calloc(ngold ? ngold : 1, sizeof(*out->per_class));
    size_t nmacro = 0;
    for (size_t j = 0; j < ns; j++) {
        if (support[j] == 0) {
            continue;
        }
        struct nlu_eval_class *pc = &out->per_class[out->nclasses++];
        size_t tp = conf[j * ns + j];
        pc->label = dk_strdup(set[j]);
        pc->support = support[j];
        pc->recall = (double)tp / (double)support[j];
        pc->precision = predicted[j] ? (double)tp / (double)predicted[j] : 0.0;
        double pr = pc->precision + pc->recall;
        pc->f1 = pr > 0.0 ? 2.0 * pc->precision * pc->recall / pr : 0.0;
        if (task == NLU_TASK_INTENT && strcmp(set[j], NLU_OOS_LABEL) == 0) {
            continue;
        }
        out->macro_precision += pc->precision;
        out->macro_recall += pc->recall;
        out->macro_f1 += pc->f1;
        nmacro++;
    }
    if (nmacro > 0) {
        out->macro_precision /= (double)nmacro;
        out->macro_recall /= (double)nmacro;
        out->macro_f1 /= (double)nmacro;
    }
    /* the most confused pairs: keep the top NLU_EVAL_CONFUSED */
    struct nlu_eval_pair top[NLU_EVAL_CONFUSED + 1];
    size_t ntop = 0;
    for (size_t g = 0; g < ns; g++) {
        for (size_t p = 0; p < ns; p++) {
            size_t cnt = conf[g * ns + p];
            if (g == p || cnt == 0) {
                continue;
            }
            struct nlu_eval_pair cand = {(char *)set[g], (char *)set[p], cnt};
            if (ntop == NLU_EVAL_CONFUSED && cmp_pair(&cand, &top[ntop - 1]) >= 0) {
                continue;
            }
            size_t at = ntop < NLU_EVAL_CONFUSED ? ntop++ : ntop - 1;
            top[at] = cand;
            while (at > 0 && cmp_pair(&top[at], &top[at - 1]) < 0) {
                struct nlu_eval_pair t = top[at];
                top[at] = top[at - 1];
                top[at - 1] = t;
                at--;
            }
        }
    }
    for (size_t i = 0; i < ntop; i++) {
        out->confused[i].gold = dk_strdup(top[i].gold);
        out->confused[i].pred = dk_strdup(top[i].pred);
        out->confused[i].count = top[i].count;
    }
    out->nconfused = ntop;
    dk_free(set);
    dk_free(conf);
    dk_free(support);
    dk_free(predicted);
    return 0;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int nlu_evaluate(const struct nlu_model *m, enum nlu_task task, const struct nlu_dataset *d,
                 struct nlu_eval *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->oos_recall = -1.0;
    if (d == NULL || d->n == 0) {
        return dk_err_set(err, DK_EINVAL, "nothing to evaluate (no examples)");
    }
    if (m == NULL && task != NLU_TASK_SENTIMENT) {
        return dk_err_set(err, DK_EINVAL, "intent evaluation needs a model");
    }
    if (m != NULL && nlu_model_task(m) != task) {
        return dk_err_set(err, DK_EINVAL, "the model is for another task");
    }
    struct nlu_ctx *c = nlu_ctx_new();
    const char **gold = dk_malloc(d->n * sizeof(char *));
    const char **pred = dk_malloc(d->n * sizeof(char *));
    int rc = 0;
    double t0 = now_us();
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        gold[i] = d->v[i].label;
        struct dk_err e;
        if (m != NULL) {
            struct nlu_prediction p;
            rc = nlu_classify(m, c, d->v[i].text, strlen(d->v[i].text), &p, &e);
            pred[i] = p.label;
        } else {
            rc = nlu_ctx_tokenize(c, d->v[i].text, strlen(d->v[i].text), &e);
            if (rc == 0) {
                struct nlu_sentiment s;
                nlu_lexicon_scores(&c->toks, c->lang.lang, c->st, &s, NULL);
                pred[i] = nlu_polarity_name(s.label);
            }
        }
        if (rc < 0) {
            dk_err_set(err, rc, "example %zu: %s", i + 1, e.msg);
        }
    }
    double t1 = now_us();
    if (rc == 0) {
        rc = nlu_eval_labels(task, gold, pred, d->n, out, err);
        out->us_per_msg = (t1 - t0) / (double)d->n;
    }
    dk_free(gold);
    dk_free(pred);
    nlu_ctx_free(c);
    return rc;
}

void nlu_eval_free(struct nlu_eval *e)
{
    if (e == NULL) {
        return;
    }
    for (size_t i = 0; i < e->nclasses; i++) {
        dk_free(e->per_class[i].label);
    }
    dk_free(e->per_class);
    for (size_t i = 0; i < e->nconfused; i++) {
        dk_free(e->confused[i].gold);
        dk_free(e->confused[i].pred);
    }
    memset(e, 0, sizeof(*e));
}

void nlu_eval_print(const struct nlu_eval *e, FILE *f)
{
    fprintf(f, "examples          %zu\n", e->n);
    fprintf(f, "accuracy          %.2f%%\n", 100.0 * e->accuracy);
    if (e->task == NLU_TASK_INTENT) {
        fprintf(f, "in-scope accuracy %.2f%%\n", 100.0 * e->inscope_accuracy);
        if (e->oos_recall >= 0.0) {
            fprintf(f, "oos recall        %.2f%% (%zu examples)\n", 100.0 * e->oos_recall,
                    e->n_oos);
        }
    }
    fprintf(f, "macro precision   %.2f%%\n", 100.0 * e->macro_precision);
    fprintf(f, "macro recall      %.2f%%\n", 100.0 * e->macro_recall);
    fprintf(f, "macro F1          %.2f%%\n", 100.0 * e->macro_f1);
    fprintf(f, "time per message  %.2f us\n", e->us_per_msg);
    fprintf(f, "\n%-32s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (size_t i = 0; i < e->nclasses; i++) {
        const struct nlu_eval_class *c = &e->per_class[i];
        fprintf(f, "%-32s %8.2f%% %8.2f%% %8.2f%% %8zu\n", c->label, 100.0 * c->precision,
                100.0 * c->recall, 100.0 * c->f1, c->support);
    }
    if (e->nconfused > 0) {
        fprintf(f, "\nmost confused (gold -> predicted):\n");
        for (size_t i = 0; i < e->nconfused; i++) {
            fprintf(f, "  %4zu  %s -> %s\n", e->confused[i].count, e->confused[i].gold,
                    e->confused[i].pred);
        }
    }
}

static json_t *num(double v)
{
    return json_real(round(v * 1e4) / 1e4);
}

json_t *nlu_eval_json(const struct nlu_eval *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)e->n));
    json_object_set_new(o, "accuracy", num(e->accuracy));
    json_object_set_new(o, "inscope_accuracy", num(e->inscope_accuracy));
    json_object_set_new(o, "macro_precision", num(e->macro_precision));
    json_object_set_new(o, "macro_recall", num(e->macro_recall));
    json_object_set_new(o, "macro_f1", num(e->macro_f1));
    json_object_set_new(o, "n_oos", json_integer((json_int_t)e->n_oos));
    json_object_set_new(o, "oos_recall", e->oos_recall >= 0.0 ? num(e->oos_recall) : json_null());
    json_object_set_new(o, "us_per_msg", num(e->us_per_msg));
    json_t *pc = json_object();
    for (size_t i = 0; i < e->nclasses; i++) {
        const struct nlu_eval_class *c = &e->per_class[i];
        json_object_set_new(pc, c->label,
                            json_pack("{s:o, s:o, s:o, s:I}", "precision", num(c->precision),
                                      "recall", num(c->recall), "f1", num(c->f1), "support",
                                      (json_int_t)c->support));
    }
    json_object_set_new(o, "per_class", pc);
    json_t *cf = json_array();
    for (size_t i = 0; i < e->nconfused; i++) {
        json_array_append_new(cf, json_pack("{s:s, s:s, s:I}", "gold", e->confused[i].gold,
                                            "predicted", e->confused[i].pred, "count",
                                            (json_int_t)e->confused[i].count));
    }
    json_object_set_new(o, "confused", cf);
    return o;
}
