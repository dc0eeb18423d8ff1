/*
 * nlu/linear: the linear model's scores, its training by stochastic gradient descent, and the
 * calibration fitted on validation data.
 *
 * Training minimises lambda/2 |W|^2 + mean weighted softmax cross-entropy one example at a
 * time, in an order shuffled by a seeded generator, with a rate eta0 / (1 + lambda eta0 t)
 * (power 0.75 when averaging). W is kept as V / wdiv so that the L2 shrinkage of all weights is
 * one division (Bottou's trick) and an update touches only the rows of the example; averaged
 * SGD keeps the running mean the same way (Bottou's ASGD: A, adiv, wfrac). After each epoch
 * the validation score decides whether the weights are kept; training stops after `patience`
 * epochs without progress. Single-threaded and seeded: the same input gives the same weights,
 * bit for bit. The scoring kernels prefetch the scattered weight rows.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <float.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

void nlu_linear_scores(const struct nlu_model *m, const uint32_t *rows, const float *vals, size_t n,
                       float *scores)
{
    size_t k = m->nlabels;
    memcpy(scores, m->bias, k * sizeof(float));
    if (m->wfmt == NLU_WF_F32) {
        for (size_t i = 0; i < n; i++) {
            /* the rows are scattered: ask for the next ones early */
            if (i + 4 < n) {
                __builtin_prefetch(m->w + (size_t)rows[i + 4] * k);
            }
            nlu_axpy(scores, vals[i], m->w + (size_t)rows[i] * k, k);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (i + 4 < n) {
                __builtin_prefetch(m->wq + (size_t)rows[i + 4] * k);
            }
            nlu_axpy_i8(scores, vals[i] * m->wscale[rows[i]], m->wq + (size_t)rows[i] * k, k);
        }
    }
}

void nlu_softmax(float *scores, size_t n, float temperature)
{
    float mx = -FLT_MAX;
    for (size_t i = 0; i < n; i++) {
        mx = fmaxf(mx, scores[i]);
    }
    float sum = 0.0f;
    float inv = 1.0f / temperature;
    for (size_t i = 0; i < n; i++) {
        scores[i] = expf((scores[i] - mx) * inv);
        sum += scores[i];
    }
    for (size_t i = 0; i < n; i++) {
        scores[i] /= sum;
    }
}

/* z = b + s * V x for row i of a. */
static void csr_scores(const struct nlu_csr *a, size_t i, const float *v, float s, const float *b,
                       size_t k, float *z)
{
    memset(z, 0, k * sizeof(float));
    for (size_t p = a->ptr[i]; p < a->ptr[i + 1]; p++) {
        nlu_axpy(z, a->val[p], v + (size_t)a->col[p] * k, k);
    }
    for (size_t j = 0; j < k; j++) {
        z[j] = z[j] * s + b[j];
    }
}

static size_t argmax(const float *z, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++) {
        if (z[j] > z[best]) {
            best = j;
        }
    }
    return best;
}

/* Gradient of the softmax cross-entropy with respect to the scores z, into g. */
static void loss_grad(const float *z, size_t k, uint32_t y, float *g)
{
    memcpy(g, z, k * sizeof(float));
    nlu_softmax(g, k, 1.0f);
    g[y] -= 1.0f;
}

/* z = b + (A x + wfrac V x) / adiv for row i of a (the averaged weights), or b + V x / wdiv
 * when A is NULL. */
static void model_scores(const struct nlu_csr *a, size_t i, const float *v, const float *av,
                         double wdiv, double adiv, double wfrac, const float *b, size_t k, float *z,
                         float *tmp)
{
    if (av == NULL) {
        csr_scores(a, i, v, (float)(1.0 / wdiv), b, k, z);
        return;
    }
    memset(tmp, 0, k * sizeof(float));
    csr_scores(a, i, av, 1.0f, tmp, k, z);
    csr_scores(a, i, v, 1.0f, tmp, k, tmp);
    float fa = (float)(1.0 / adiv);
    float fw = (float)(wfrac / adiv);
    for (size_t j = 0; j < k; j++) {
        z[j] = z[j] * fa + tmp[j] * fw + b[j];
    }
}

struct sgd_state {
    size_t nrows, k;
    float *v, *av; /* w = v / wdiv; averaged a = (av + wfrac v) / adiv */
    float *b, *ab;
    double wdiv, adiv, wfrac;
};

static void renorm(struct sgd_state *st)
{
    size_t n = st->nrows * st->k;
    if (st->av != NULL) {
        float fa = (float)(1.0 / st->adiv);
        float fw = (float)(st->wfrac / st->adiv);
        for (size_t p = 0; p < n; p++) {
            st->av[p] = st->av[p] * fa + st->v[p] * fw;
        }
        st->adiv = 1.0;
        st->wfrac = 0.0;
    }
    float f = (float)(1.0 / st->wdiv);
    for (size_t p = 0; p < n; p++) {
        st->v[p] *= f;
    }
    st->wdiv = 1.0;
}

static double state_score(const struct sgd_state *st, const struct nlu_csr *va, bool macro,
                          float *z, float *tmp)
{
    size_t k = st->k;
    size_t correct = 0;
    size_t *hit = dk_calloc(k, sizeof(size_t));
    size_t *sup = dk_calloc(k, sizeof(size_t));
    for (size_t i = 0; i < va->n; i++) {
        model_scores(va, i, st->v, st->av, st->wdiv, st->adiv, st->wfrac, st->av ? st->ab : st->b,
                     k, z, tmp);
        bool ok = argmax(z, k) == va->y[i];
        correct += ok;
        sup[va->y[i]]++;
        hit[va->y[i]] += ok;
    }
    double sum = 0.0;
    size_t nc = 0;
    for (size_t j = 0; j < k; j++) {
        if (sup[j] > 0) {
            sum += (double)hit[j] / (double)sup[j];
            nc++;
        }
    }
    dk_free(hit);
    dk_free(sup);
    if (!macro) {
        return (double)correct / (double)va->n;
    }
    return nc ? sum / (double)nc : 0.0;
}

double nlu_sgd_train(const struct nlu_csr *tr, const struct nlu_csr *va, size_t nrows, size_t k,
                     const struct nlu_sgd_opts *o, float *w, float *b)
{
    struct sgd_state st = {nrows, k, NULL, NULL, NULL, NULL, 1.0, 1.0, 0.0};
    st.v = dk_calloc(nrows * k, sizeof(float));
    st.av = o->average ? dk_calloc(nrows * k, sizeof(float)) : NULL;
    st.b = dk_calloc(k, sizeof(float));
    st.ab = dk_calloc(k, sizeof(float));
    float *z = dk_malloc(k * sizeof(float));
    float *g = dk_malloc(k * sizeof(float));
    float *tmp = dk_malloc(k * sizeof(float));
    size_t *order = dk_malloc((tr->n ? tr->n : 1) * sizeof(size_t));
    struct nlu_rng rng = {o->seed ^ 0x5eed5eed5eed5eedULL};
    bool have_val = va != NULL && va->n > 0;
    double best = -1.0;
    unsigned since = 0;
    double t = 0.0;
    /* averaging starts with the second epoch */
    double t0 = o->max_epochs > 1 ? (double)tr->n : 0.0;
    for (size_t i = 0; i < tr->n; i++) {
        order[i] = i;
    }
    memset(w, 0, nrows * k * sizeof(float));
    memset(b, 0, k * sizeof(float));
    for (unsigned epoch = 1; epoch <= o->max_epochs; epoch++) {
        for (size_t i = tr->n; i > 1; i--) {
            size_t j = nlu_rng_below(&rng, i);
            size_t sw = order[i - 1];
            order[i - 1] = order[j];
            order[j] = sw;
        }
        for (size_t ii = 0; ii < tr->n; ii++) {
            size_t i = order[ii];
            uint32_t y = tr->y[i];
            double eta = o->average ? o->eta0 / pow(1.0 + o->l2 * o->eta0 * t, 0.75)
                                    : o->eta0 / (1.0 + o->l2 * o->eta0 * t);
            double mu = t >= t0 ? 1.0 / fmax(1.0, t - t0) : 0.0;
            t += 1.0;
            if (st.wdiv > 1e5 || st.adiv > 1e5) {
                renorm(&st);
            }
            csr_scores(tr, i, st.v, (float)(1.0 / st.wdiv), st.b, k, z);
            loss_grad(z, k, y, g);
            st.wdiv /= 1.0 - eta * o->l2;
            float cw = o->class_w ? o->class_w[y] : 1.0f;
            float etd = (float)(-eta * cw * st.wdiv);
            float aetd = (float)(-st.wfrac) * etd;
            bool avg = st.av != NULL && mu > 0.0 && mu < 1.0;
            for (size_t p = tr->ptr[i]; p < tr->ptr[i + 1]; p++) {
                size_t off = (size_t)tr->col[p] * k;
                nlu_axpy(st.v + off, etd * tr->val[p], g, k);
                if (avg) {
                    nlu_axpy(st.av + off, aetd * tr->val[p], g, k);
                }
            }
            for (size_t j = 0; j < k; j++) {
                st.b[j] -= (float)eta * cw * g[j];
            }
            if (st.av != NULL && mu >= 1.0) {
                memset(st.av, 0, nrows * k * sizeof(float));
                st.adiv = st.wdiv;
                st.wfrac = 1.0;
                memcpy(st.ab, st.b, k * sizeof(float));
            } else if (avg) {
                st.adiv /= 1.0 - mu;
                st.wfrac += mu * st.adiv / st.wdiv;
                for (size_t j = 0; j < k; j++) {
                    st.ab[j] += (float)mu * (st.b[j] - st.ab[j]);
                }
            }
        }
        double sc = have_val ? state_score(&st, va, o->macro, z, tmp) : 0.0;
        if (o->progress != NULL) {
            o->progress(o->progress_arg, epoch, o->max_epochs, (float)sc);
        }
        if (!have_val || sc > best) {
            best = sc;
            since = 0;
            renorm(&st);
            memcpy(w, st.av ? st.av : st.v, nrows * k * sizeof(float));
            memcpy(b, st.av ? st.ab : st.b, k * sizeof(float));
        } else if (++since >= o->patience) {
            break;
        }
    }
    dk_free(st.v);
    dk_free(st.av);
    dk_free(st.b);
    dk_free(st.ab);
    dk_free(z);
    dk_free(g);
    dk_free(tmp);
    dk_free(order);
    return have_val ? best : 0.0;
}

/* ---- calibration ---- */

/* Scores of every example of va under m, row after row (va->n * nlabels). */
static float *all_scores(const struct nlu_model *m, const struct nlu_csr *va)
{
    size_t k = m->nlabels;
    float *z = dk_malloc((va->n ? va->n : 1) * k * sizeof(float));
    for (size_t i = 0; i < va->n; i++) {
        size_t p = va->ptr[i];
        nlu_linear_scores(m, va->col + p, va->val + p, va->ptr[i + 1] - p, z + i * k);
    }
    return z;
}

static double nll(const float *z, const uint32_t *y, size_t n, size_t k, double t)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *zi = z + i * k;
        double mx = zi[argmax(zi, k)];
        double se = 0.0;
        for (size_t j = 0; j < k; j++) {
            se += exp((zi[j] - mx) / t);
        }
        sum += log(se) - (zi[y[i]] - mx) / t;
    }
    /* a weak prior on ln T keeps a small validation set (all right, say) from pushing T to
     * its bounds */
    return sum / (double)(n ? n : 1) + log(t) * log(t) / (double)(n ? n : 1);
}

float nlu_fit_temperature(const struct nlu_model *m, const struct nlu_csr *va)
{
    if (va == NULL || va->n == 0) {
        return 1.0f;
    }
    float *z = all_scores(m, va);
    /* golden-section search of ln T in [ln 0.02, ln 50] */
    const double gr = 0.6180339887498949;
    double lo = log(0.02);
    double hi = log(50.0);
    double a = hi - gr * (hi - lo);
    double c = lo + gr * (hi - lo);
    double fa = nll(z, va->y, va->n, m->nlabels, exp(a));
    double fc = nll(z, va->y, va->n, m->nlabels, exp(c));
    for (int it = 0; it < 40; it++) {
        if (fa < fc) {
            hi = c;
            c = a;
            fc = fa;
            a = hi - gr * (hi - lo);
            fa = nll(z, va->y, va->n, m->nlabels, exp(a));
        } else {
            lo = a;
            a = c;
            fa = fc;
            c = lo + gr * (hi - lo);
            fc = nll(z, va->y, va->n, m->nlabels, exp(c));
        }
    }
    dk_free(z);
    return (float)exp((lo + hi) / 2.0);
}

struct oos_item {
    float s;   /* max in-scope probability */
    bool oos;  /* gold is out of scope */
    bool good; /* in scope: the argmax is the gold label; oos: the argmax is oos */
};

static int cmp_item(const void *a, const void *b)
{
    float x = ((const struct oos_item *)a)->s;
    float y = ((const struct oos_item *)b)->s;
    return (x > y) - (x < y);
}

float nlu_fit_oos_threshold(const struct nlu_model *m, const struct nlu_csr *va)
{
    size_t k = m->nlabels;
    if (m->oos >= k || va == NULL || va->n == 0) {
        return 0.0f;
    }
    float *z = all_scores(m, va);
    struct oos_item *it = dk_malloc(va->n * sizeof(*it));
    size_t n_oos = 0;
    size_t n_in = 0;
    size_t in_ok = 0;  /* at threshold 0 */
    size_t oos_ok = 0; /* at threshold 0 */
    for (size_t i = 0; i < va->n; i++) {
        float *p = z + i * k;
        nlu_softmax(p, k, m->temperature);
        size_t best = argmax(p, k);
        float s = 0.0f;
        for (size_t j = 0; j < k; j++) {
            if (j != m->oos) {
                s = fmaxf(s, p[j]);
            }
        }
        it[i].s = s;
        it[i].oos = va->y[i] == m->oos;
        it[i].good = best == va->y[i];
        n_oos += it[i].oos;
        n_in += !it[i].oos;
        in_ok += !it[i].oos && it[i].good;
        oos_ok += it[i].oos && it[i].good;
    }
    float thr = 0.0f;
    if (n_oos > 0 && n_in > 0) {
        qsort(it, va->n, sizeof(*it), cmp_item);
        /* criterion: accuracy over all validation examples, "oos" a class like the others */
        size_t best = in_ok + oos_ok;
        /* raising the threshold past it[i].s flags examples 0..i as out of scope */
        for (size_t i = 0; i < va->n; i++) {
            if (it[i].oos) {
                oos_ok += !it[i].good;
            } else {
                in_ok -= it[i].good;
            }
            if (i + 1 < va->n && it[i + 1].s == it[i].s) {
                continue;
            }
            if (in_ok + oos_ok > best) {
                best = in_ok + oos_ok;
                thr = i + 1 < va->n ? (it[i].s + it[i + 1].s) / 2.0f : it[i].s + 1e-6f;
            }
        }
    }
    dk_free(it);
    dk_free(z);
    return thr > 1.0f ? 1.0f : thr;
}
