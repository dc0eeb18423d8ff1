/*
 * nlu internals shared by the files of the module (not an API for other modules).
 *
 * The classifier: text -> tokens (text.c) -> hashed feature buckets (features.c) -> the rows
 * that the model saw in training (a bucket -> row table, model.c) -> a tf-idf weighted, per
 * group L2-normalised sparse vector -> linear scores per label (linear.c) -> calibrated
 * softmax, out-of-scope decision (classify.c). struct nlu_ctx (ctx.c) holds every scratch
 * buffer so that a call allocates nothing once the buffers have grown.
 */
#ifndef DK_NLU_INT_H
#define DK_NLU_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nlu/nlu.h"

/* ---- feature configuration (stored in the model file) ---- */

/* Feature groups: each group is L2-normalised on its own and then scaled by its weight. */
enum nlu_fgroup { NLU_FG_WORD = 0, NLU_FG_CHAR = 1, NLU_FG_DENSE = 2, NLU_FG_COUNT = 3 };

#define NLU_FEAT_BIGRAMS  0x01u /* word bigrams of adjacent stems */
#define NLU_FEAT_LEXICON  0x02u /* NLU_LEX_NFEAT dense lexicon features (sentiment) */
#define NLU_FEAT_NEGATION 0x04u /* words in a negation scope hash apart (sentiment) */
#define NLU_FEAT_SHAPE    0x08u /* caps, elongation, ?!, emoji counts as word features */
#define NLU_FEAT_RAWWORDS 0x10u /* the surface form as well as the stem */
#define NLU_FEAT_SKIPGRAM 0x20u /* word pairs with one word between them */
#define NLU_FEAT_EDGES    0x40u /* bigrams with the start and the end of the text */
#define NLU_FEAT_LEXBINS  0x80u /* lexicon features also as binned word features */
#define NLU_FEAT_ALL      0xffu

struct nlu_featcfg {
    uint8_t hash_bits; /* hashed buckets live in [0, 2^hash_bits) */
    uint8_t char_min;  /* character n-grams of words, char_min..char_max code points with */
    uint8_t char_max;  /* word boundary marks; char_max 0 = none */
    uint8_t flags;     /* NLU_FEAT_* */
    uint8_t sublinear; /* 1: tf -> 1 + ln(tf); 0: tf as is */
    uint8_t min_df;    /* rows for buckets seen in at least min_df training texts */
    float group_w[NLU_FG_COUNT];
};

#define NLU_HASH_BITS_MIN 12
#define NLU_HASH_BITS_MAX 24

/* The dense lexicon features sit just above the hashed buckets. */
static inline uint32_t nlu_dense_bucket(const struct nlu_featcfg *cfg, unsigned i)
{
    return (1u << cfg->hash_bits) + i;
}

/* A raw feature before the model's vocabulary is applied. */
struct nlu_rawfeat {
    uint32_t bucket;
    uint8_t group;
    float w;
};

struct nlu_rawfeats {
    struct nlu_rawfeat *v;
    size_t n;
    size_t cap;
};

/* Hashes the tokens in c->toks (already tokenised, language c->lang) into c->raw,
 * replacing what was there. For NLU_FEAT_LEXICON it calls nlu_lexicon_scores. */
struct nlu_ctx;
void nlu_features_raw(const struct nlu_featcfg *cfg, struct nlu_ctx *c);

/* The default feature configuration of a task with hash_bits (0 = default). */
void nlu_featcfg_default(struct nlu_featcfg *cfg, enum nlu_task task, unsigned hash_bits);

/* ---- the model ---- */

/* Weight storage: float32 rows, or int8 rows with one float scale per row. */
enum nlu_wfmt { NLU_WF_F32 = 0, NLU_WF_I8 = 1 };

/* A slot of the bucket -> row table: key and row side by side (one cache line per probe). */
struct nlu_slot {
    uint32_t key; /* bucket + 1; 0 = empty */
    uint32_t row;
};

struct nlu_model {
    uint8_t task; /* enum nlu_task */
    struct nlu_featcfg cfg;
    size_t nlabels;
    char **labels;
    size_t oos; /* index of the "oos" label, or nlabels when there is none */
    float temperature;
    float oos_threshold; /* max in-scope probability below it -> out of scope */
    /* rows: one per feature bucket kept in training, buckets strictly increasing */
    size_t nrows;
    uint32_t *buckets;
    uint8_t *groups;
    float *idf; /* tf-idf weight of the row (for dense rows: a standardising scale) */
    uint8_t wfmt;
    float *w;      /* NLU_WF_F32: nrows * nlabels, row-major */
    int8_t *wq;    /* NLU_WF_I8: nrows * nlabels */
    float *wscale; /* NLU_WF_I8: per row */
    float *bias;   /* nlabels */
    /* bucket -> row lookup, built at load (open addressing, keys are bucket + 1) */
    struct nlu_slot *tab;
    uint32_t tab_mask;
};

/* Row of bucket or -1. */
static inline int64_t nlu_model_row(const struct nlu_model *m, uint32_t bucket)
{
    uint32_t h = (bucket + 1u) * 0x9e3779b1u;
    uint32_t i = h & m->tab_mask;
    for (;;) {
        uint32_t k = m->tab[i].key;
        if (k == bucket + 1u) {
            return m->tab[i].row;
        }
        if (k == 0) {
            return -1;
        }
        i = (i + 1) & m->tab_mask;
    }
}

/* Builds the lookup table from buckets (model.c). */
void nlu_model_index(struct nlu_model *m);
/* Checks the invariants of a model built by the trainer or read from a file. */
int nlu_model_check(const struct nlu_model *m, struct dk_err *err);
/* Parses a model file image; with verify false the checksum is not checked (for fuzzing
 * the parser behind it). */
struct nlu_model *nlu_model_parse(const void *data, size_t len, bool verify, const char *name,
                                  struct dk_err *err);
/* Converts float weights to int8 rows with a per-row scale. */
void nlu_model_quantize(struct nlu_model *m);

/* ---- per-thread context ---- */

struct nlu_ctx {
    struct nlu_tokens toks;
    struct nlu_stemmer *st;
    struct nlu_lang_guess lang; /* of toks */
    struct nlu_rawfeats raw;
    /* the sparse vector: rows and values */
    uint32_t *frow;
    float *fval;
    size_t fn;
    size_t fcap;
    /* row -> position in frow while building: a small table sized to the message (it stays
     * in the L1 cache, unlike anything indexed by row) */
    struct nlu_slot *dd;
    size_t dd_cap;
    /* per-token hashes for n-grams */
    uint64_t *th;
    size_t th_cap;
    float *scores;
    size_t scores_cap;
    float lex[NLU_LEX_NFEAT];
    struct nlu_sentiment lexsent; /* the lexicon result computed along the features */
    bool lexsent_valid;
};

/* Grows the context's score buffer for a model's labels. */
void nlu_ctx_reserve(struct nlu_ctx *c, size_t nlabels);
/* Tokenises s into c->toks and guesses the language into c->lang. */
int nlu_ctx_tokenize(struct nlu_ctx *c, const char *s, size_t len, struct dk_err *err);

/* Turns c->raw into the model's sparse vector (c->frow, c->fval, c->fn): unknown buckets
 * dropped, duplicates summed, tf-idf weighting and per-group normalisation. */
void nlu_vectorize(const struct nlu_model *m, struct nlu_ctx *c);

/* Classifies the tokens already in c (nlu_ctx_tokenize), for nlu_analyze. */
void nlu_classify_tokens(const struct nlu_model *m, struct nlu_ctx *c, struct nlu_prediction *out);

/* Raw linear scores of the vector in c into scores[nlabels]. */
void nlu_linear_scores(const struct nlu_model *m, const uint32_t *rows, const float *vals, size_t n,
                       float *scores);
/* In place softmax of scores/temperature; returns nothing, scores become probabilities. */
void nlu_softmax(float *scores, size_t n, float temperature);

/* ---- training (linear.c, svm.c, train.c) ---- */

/* Examples as sparse rows of the model's feature space. */
struct nlu_csr {
    size_t n;
    size_t *ptr; /* n + 1 */
    uint32_t *col;
    float *val;
    uint32_t *y; /* label index */
};

struct nlu_sgd_opts {
    float l2;   /* lambda of lambda/2 |W|^2 + mean loss */
    float eta0; /* learning rate at the start */
    unsigned max_epochs;
    unsigned patience;    /* epochs without a better validation score before stopping */
    bool macro;           /* validation score: macro recall (else accuracy) */
    bool average;         /* averaged SGD */
    const float *class_w; /* per label loss weights, or NULL */
    uint64_t seed;
    void (*progress)(void *arg, unsigned epoch, unsigned max_epochs, float val_score);
    void *progress_arg;
};

/* Trains W (nrows x k, row-major) and b (k) on tr; keeps the epoch with the best score on va
 * (when va has examples; else the last epoch). Returns that score (0..1). */
double nlu_sgd_train(const struct nlu_csr *tr, const struct nlu_csr *va, size_t nrows, size_t k,
                     const struct nlu_sgd_opts *o, float *w, float *b);

struct nlu_svm_opts {
    float c;   /* the loss weight C */
    float eps; /* stop when no example violates the optimality conditions by more */
    unsigned max_epochs;
    uint64_t seed;
};

/* A Crammer-Singer multi-class linear SVM by dual coordinate descent (svm.c): W (nrows x k,
 * row-major) and b (k) from tr. */
void nlu_svm_train(const struct nlu_csr *tr, size_t nrows, size_t k, const struct nlu_svm_opts *o,
                   float *w, float *b);
/* The temperature that minimises the negative log-likelihood of va under m, plus a weak prior
 * on ln T ((ln T)^2 / n) so that a tiny validation set cannot push T to its bounds. */
float nlu_fit_temperature(const struct nlu_model *m, const struct nlu_csr *va);
/* The out-of-scope threshold of m tuned on va: the cut on the best in-scope probability that
 * maximises the accuracy over all of va ("oos" a class like the others). 0 when m has no oos
 * label or va has no oos or no in-scope example. */
float nlu_fit_oos_threshold(const struct nlu_model *m, const struct nlu_csr *va);

/* ---- datasets ---- */

/* Parses a dataset image (name is used in messages; split is the part after '#' or NULL). */
int nlu_dataset_parse_split(const char *name, const char *data, size_t len, const char *split,
                            struct nlu_dataset *d, struct dk_err *err);

#define NLU_DATASET_MAX_BYTES    (512u << 20)
#define NLU_DATASET_MAX_EXAMPLES 2000000u
#define NLU_LABEL_MAX            128u

/* ---- small kernels ---- */

/* y[0..n) += a * x[0..n), unrolled so that -O2 vectorises the blocks. */
static inline void nlu_axpy(float *restrict y, float a, const float *restrict x, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        y[j] += a * x[j];
        y[j + 1] += a * x[j + 1];
        y[j + 2] += a * x[j + 2];
        y[j + 3] += a * x[j + 3];
        y[j + 4] += a * x[j + 4];
        y[j + 5] += a * x[j + 5];
        y[j + 6] += a * x[j + 6];
        y[j + 7] += a * x[j + 7];
    }
    for (; j < n; j++) {
        y[j] += a * x[j];
    }
}

/* y[0..n) += a * q[0..n) for int8 weights. */
static inline void nlu_axpy_i8(float *restrict y, float a, const int8_t *restrict q, size_t n)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        y[j] += a * (float)q[j];
        y[j + 1] += a * (float)q[j + 1];
        y[j + 2] += a * (float)q[j + 2];
        y[j + 3] += a * (float)q[j + 3];
        y[j + 4] += a * (float)q[j + 4];
        y[j + 5] += a * (float)q[j + 5];
        y[j + 6] += a * (float)q[j + 6];
        y[j + 7] += a * (float)q[j + 7];
    }
    for (; j < n; j++) {
        y[j] += a * (float)q[j];
    }
}

/* ---- hashing and random numbers ---- */

static inline uint64_t nlu_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint64_t nlu_fnv_step(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define NLU_FNV_INIT 0xcbf29ce484222325ULL

struct nlu_rng {
    uint64_t s;
};

static inline uint64_t nlu_rng_next(struct nlu_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return nlu_mix64(r->s);
}

/* Uniform in [0, n). */
static inline size_t nlu_rng_below(struct nlu_rng *r, size_t n)
{
    return (size_t)(nlu_rng_next(r) % (uint64_t)n);
}

#endif
