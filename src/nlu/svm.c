/*
 * nlu/svm: a multi-class linear SVM (Crammer and Singer) trained by dual coordinate descent,
 * the algorithm of liblinear's MCSVM_CS solver (Keerthi et al. 2008).
 *
 * Problem: min 1/2 sum_m |w_m|^2 + C sum_i max(0, 1 + max_{m != y_i} w_m.x_i - w_{y_i}.x_i),
 * the bias a feature of value 1 (regularised, as liblinear does). The dual has k alphas per
 * example with sum_m alpha_im = 0, alpha_im <= 0 for m != y_i and alpha_iy_i <= C; one step
 * solves the k alphas of one example exactly (sort and threshold). W is row-major (nrows x k)
 * as the classifier reads it, so the scores of an example are one sweep of its rows and the
 * step another. Examples are visited in a seeded shuffled order each epoch, without shrinking:
 * the same input gives the same weights, bit for bit. Training stops when the largest
 * violation of the optimality conditions in an epoch is below eps, or after max_epochs.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a;
    float y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The subproblem of one example (liblinear's solve_sub_problem): the new alphas from
 * bv = G - A alpha with A = |x|^2, the gold label yi bounded by c, the others by 0. */
static void solve_sub(float a, size_t yi, float c, size_t k, const float *bv, float *dsort,
                      float *anew)
{
    memcpy(dsort, bv, k * sizeof(float));
    dsort[yi] += a * c;
    qsort(dsort, k, sizeof(float), cmp_desc);
    double beta = (double)dsort[0] - (double)a * c;
    size_t r = 1;
    for (; r < k && beta < (double)r * dsort[r]; r++) {
        beta += dsort[r];
    }
    beta /= (double)r;
    for (size_t m = 0; m < k; m++) {
        double v = (beta - bv[m]) / a;
        anew[m] = (float)(m == yi ? fmin(c, v) : fmin(0.0, v));
    }
}

/* One coordinate step on example i; returns its violation of the optimality conditions. */
static float step(const struct nlu_csr *tr, size_t i, size_t k, float ci, float qd, float *alpha,
                  float *w, float *b, float *g, float *scratch)
{
    float *bv = scratch;
    float *ds = scratch + k;
    float *an = scratch + 2 * k;
    uint32_t yi = tr->y[i];
    for (size_t m = 0; m < k; m++) {
        g[m] = b[m] + (m == yi ? 0.0f : 1.0f);
    }
    for (size_t p = tr->ptr[i]; p < tr->ptr[i + 1]; p++) {
        nlu_axpy(g, tr->val[p], w + (size_t)tr->col[p] * k, k);
    }
    float ming = INFINITY;
    float maxg = -INFINITY;
    for (size_t m = 0; m < k; m++) {
        if (alpha[m] < 0.0f && g[m] < ming) {
            ming = g[m];
        }
        maxg = fmaxf(maxg, g[m]);
    }
    if (alpha[yi] < ci && g[yi] < ming) {
        ming = g[yi];
    }
    if (maxg - ming <= 1e-12f) {
        return 0.0f;
    }
    for (size_t m = 0; m < k; m++) {
        bv[m] = g[m] - qd * alpha[m];
    }
    solve_sub(qd, yi, ci, k, bv, ds, an);
    /* g becomes the step */
    for (size_t m = 0; m < k; m++) {
        g[m] = an[m] - alpha[m];
        alpha[m] = an[m];
        b[m] += g[m];
    }
    for (size_t p = tr->ptr[i]; p < tr->ptr[i + 1]; p++) {
        nlu_axpy(w + (size_t)tr->col[p] * k, tr->val[p], g, k);
    }
    return maxg - ming;
}

void nlu_svm_train(const struct nlu_csr *tr, size_t nrows, size_t k, const struct nlu_svm_opts *o,
                   float *w, float *b)
{
    size_t n = tr->n;
    float *alpha = dk_calloc((n ? n : 1) * k, sizeof(float));
    float *qd = dk_malloc((n ? n : 1) * sizeof(float));
    size_t *order = dk_malloc((n ? n : 1) * sizeof(size_t));
    float *g = dk_malloc(k * sizeof(float));
    float *scratch = dk_malloc(3 * k * sizeof(float));
    struct nlu_rng rng = {o->seed ^ 0x5f3759df5f3759dfULL};
    memset(w, 0, nrows * k * sizeof(float));
    memset(b, 0, k * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double s = 1.0; /* the bias feature */
        for (size_t p = tr->ptr[i]; p < tr->ptr[i + 1]; p++) {
            s += (double)tr->val[p] * tr->val[p];
        }
        qd[i] = (float)s;
        order[i] = i;
    }
    for (unsigned epoch = 0; epoch < o->max_epochs; epoch++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = nlu_rng_below(&rng, i);
            size_t sw = order[i - 1];
            order[i - 1] = order[j];
            order[j] = sw;
        }
        float worst = 0.0f;
        for (size_t ii = 0; ii < n; ii++) {
            size_t i = order[ii];
            float v = step(tr, i, k, o->c, qd[i], alpha + i * k, w, b, g, scratch);
            worst = fmaxf(worst, v);
        }
        if (worst <= o->eps) {
            break;
        }
    }
    dk_free(alpha);
    dk_free(qd);
    dk_free(order);
    dk_free(g);
    dk_free(scratch);
}
