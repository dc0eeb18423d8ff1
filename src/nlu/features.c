/*
 * nlu/features: tokens -> hashed feature buckets, and buckets -> the model's sparse vector.
 *
 * Each token gets a 64-bit symbol hash: the stem of a word (in a negation scope a different
 * one, for sentiment), a class mark for numbers, prices, URLs, e-mails and handles, the text
 * itself for emoji, emoticons, hashtags and punctuation. Unigrams, bigrams (optionally with the
 * edges of the text and one-word skips) come from these symbols; character n-grams come from
 * the normalised word with boundary marks. Buckets are the low hash_bits of a mixed hash, so the
 * model keeps rows only for buckets seen in training. nlu_vectorize sums duplicates through a
 * small hash table sized to the message (no sorting), applies sublinear tf times idf and
 * normalises each feature group to its weight.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <math.h>
#include <string.h>

/* seeds that keep the kinds of features apart */
#define SEED_WORD 0x1f2e3d4c5b6a7988ULL
#define SEED_NEG  0x8a7b6c5d4e3f2011ULL
#define SEED_RAW  0x5555aaaa3333ccccULL
#define SEED_BI   0x0123456789abcdefULL
#define SEED_SKIP 0xfedcba9876543210ULL
#define SEED_CHAR 0x13579bdf2468ace0ULL
#define SEED_MARK 0x2468ace013579bdfULL

#define CHAR_MAX_CP 32 /* character n-grams from the first 32 code points of a word */

void nlu_featcfg_default(struct nlu_featcfg *cfg, enum nlu_task task, unsigned hash_bits)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->hash_bits = (uint8_t)(hash_bits ? hash_bits : 22);
    cfg->sublinear = 1;
    cfg->min_df = 1;
    cfg->flags = NLU_FEAT_BIGRAMS | NLU_FEAT_EDGES;
    cfg->group_w[NLU_FG_WORD] = 1.0f;
    cfg->group_w[NLU_FG_CHAR] = 1.0f;
    cfg->group_w[NLU_FG_DENSE] = 1.0f;
    if (task == NLU_TASK_SENTIMENT) {
        /* measured on SemEval: character bigrams and lexicon bins help sentiment */
        cfg->char_min = 2;
        cfg->char_max = 5;
        cfg->flags |= NLU_FEAT_LEXICON | NLU_FEAT_NEGATION | NLU_FEAT_SHAPE | NLU_FEAT_LEXBINS;
    } else {
        /* 2..5: with the SVM in the mix (train.c) 0.2-0.4 points better than 3..5 on the
         * CLINC150 validation split, for 1% more rows */
        cfg->char_min = 2;
        cfg->char_max = 5;
    }
}

static void emit(struct nlu_rawfeats *r, uint32_t bucket, uint8_t group, float w)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = dk_realloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n].bucket = bucket;
    r->v[r->n].group = group;
    r->v[r->n].w = w;
    r->n++;
}

static inline uint32_t bucket_of(uint64_t h, uint32_t mask)
{
    return (uint32_t)(nlu_mix64(h) & mask);
}

static uint64_t hash_str(uint64_t seed, const char *s, size_t n)
{
    return nlu_fnv_step(NLU_FNV_INIT ^ seed, (const unsigned char *)s, n);
}

static uint64_t hash_pair(uint64_t seed, uint64_t a, uint64_t b)
{
    return nlu_mix64(a ^ seed) * 31 + b;
}

static bool is_negator(const struct nlu_token *t)
{
    static const char *const words[] = {
        "not",     "no",     "never",  "nothing", "nobody", "none",   "nowhere",
        "neither", "nor",    "cannot", "without", "dont",   "cant",   "wont",
        "isnt",    "didnt",  "doesnt", "aint",    "не",     "нет",    "ни",
        "никогда", "ничего", "никто",  "нигде",   "без",    "нельзя", "ничем",
    };
    if (t->kind != NLU_TOK_WORD) {
        return false;
    }
    size_t n = t->norm_len;
    /* "don't", "isn’t" */
    if (n >= 3 && memcmp(t->norm + n - 3, "n't", 3) == 0) {
        return true;
    }
    if (n >= 5 && memcmp(t->norm + n - 5, "n\xe2\x80\x99t", 5) == 0) {
        return true;
    }
    if (n > 14) {
        return false;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (words[i][0] == t->norm[0] && strncmp(words[i], t->norm, n) == 0 &&
            words[i][n] == '\0') {
            return true;
        }
    }
    return false;
}

static bool ends_scope(const struct nlu_token *t)
{
    if (t->kind != NLU_TOK_PUNCT) {
        return t->kind == NLU_TOK_EMOJI || t->kind == NLU_TOK_EMOTICON;
    }
    return strpbrk(t->norm, ".,!?;:") != NULL;
}

/* Byte length of the UTF-8 sequence that starts with c (input is valid UTF-8). */
static inline unsigned cp_len(unsigned char c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c < 0xe0) {
        return 2;
    }
    return c < 0xf0 ? 3 : 4;
}

/* Character n-grams of "^word$": for each start, one FNV state extended code point by code
 * point, emitted at lengths char_min..char_max. */
static void char_ngrams(const struct nlu_featcfg *cfg, struct nlu_rawfeats *r, const char *w,
                        size_t n, uint32_t mask)
{
    uint32_t off[CHAR_MAX_CP + 3];
    size_t ncp = 0;
    /* positions: 0 = start mark, 1..ncp = code points, ncp+1 = end mark */
    size_t i = 0;
    while (i < n && ncp < CHAR_MAX_CP) {
        off[ncp++] = (uint32_t)i;
        i += cp_len((unsigned char)w[i]);
    }
    off[ncp] = (uint32_t)(i < n ? i : n);
    size_t npos = ncp + 2;
    static const unsigned char mark_start = 0x01;
    static const unsigned char mark_end = 0x02;
    for (size_t s = 0; s < npos; s++) {
        uint64_t h = NLU_FNV_INIT ^ SEED_CHAR;
        for (size_t len = 1; len <= cfg->char_max && s + len <= npos; len++) {
            size_t p = s + len - 1;
            if (p == 0) {
                h = nlu_fnv_step(h, &mark_start, 1);
            } else if (p == npos - 1) {
                h = nlu_fnv_step(h, &mark_end, 1);
            } else {
                h = nlu_fnv_step(h, (const unsigned char *)w + off[p - 1], off[p] - off[p - 1]);
            }
            if (len >= cfg->char_min) {
                emit(r, bucket_of(h ^ len, mask), NLU_FG_CHAR, 1.0f);
            }
        }
    }
}

/* The hash of a class mark such as "<num>" (a string literal). */
#define MARK(lit) hash_str(SEED_MARK, lit, sizeof(lit) - 1)

void nlu_features_raw(const struct nlu_featcfg *cfg, struct nlu_ctx *c)
{
    const struct nlu_tokens *toks = &c->toks;
    struct nlu_rawfeats *r = &c->raw;
    uint32_t mask = (1u << cfg->hash_bits) - 1u;
    r->n = 0;
    c->lexsent_valid = false;
    if (c->th_cap < toks->n + 2) {
        c->th_cap = toks->n + 64;
        c->th = dk_realloc(c->th, c->th_cap * sizeof(*c->th));
    }
    bool neg = false;
    size_t nsym = 0;
    unsigned caps = 0;
    unsigned elong = 0;
    c->th[nsym++] = MARK("<s>");
    for (size_t i = 0; i < toks->n; i++) {
        const struct nlu_token *t = &toks->v[i];
        uint64_t h;
        switch (t->kind) {
        case NLU_TOK_WORD: {
            size_t sl = 0;
            const char *stem = nlu_stem(c->st, c->lang.lang, t, &sl);
            bool negated = (cfg->flags & NLU_FEAT_NEGATION) && neg;
            h = hash_str(negated ? SEED_NEG : SEED_WORD, stem, sl);
            if ((cfg->flags & NLU_FEAT_RAWWORDS) &&
                (sl != t->norm_len || memcmp(stem, t->norm, sl) != 0)) {
                emit(r, bucket_of(hash_str(SEED_RAW, t->norm, t->norm_len), mask), NLU_FG_WORD,
                     1.0f);
            }
            if (cfg->char_max > 0) {
                char_ngrams(cfg, r, t->norm, t->norm_len, mask);
            }
            if ((cfg->flags & NLU_FEAT_NEGATION) && is_negator(t)) {
                neg = true;
            }
            caps += (t->flags & NLU_TOKF_CAPS) ? 1 : 0;
            elong += (t->flags & NLU_TOKF_ELONGATED) ? 1 : 0;
            break;
        }
        case NLU_TOK_NUMBER:
            h = MARK("<num>");
            break;
        case NLU_TOK_PRICE:
            h = MARK("<price>");
            break;
        case NLU_TOK_URL:
            h = MARK("<url>");
            break;
        case NLU_TOK_EMAIL:
            h = MARK("<email>");
            break;
        case NLU_TOK_HANDLE:
            h = MARK("<user>");
            break;
        default:
            h = hash_str(SEED_WORD, t->norm, t->norm_len);
            break;
        }
        if (ends_scope(t)) {
            neg = false;
        }
        emit(r, bucket_of(h, mask), NLU_FG_WORD, 1.0f);
        c->th[nsym++] = h;
    }
    c->th[nsym++] = MARK("</s>");
    if (cfg->flags & NLU_FEAT_BIGRAMS) {
        /* with edges: pairs over <s> w1 … wn </s>; without: w1 … wn only */
        size_t from = (cfg->flags & NLU_FEAT_EDGES) ? 1 : 2;
        size_t to = (cfg->flags & NLU_FEAT_EDGES) ? nsym : nsym - 1;
        for (size_t i = from; i < to; i++) {
            emit(r, bucket_of(hash_pair(SEED_BI, c->th[i - 1], c->th[i]), mask), NLU_FG_WORD, 1.0f);
        }
        if (cfg->flags & NLU_FEAT_SKIPGRAM) {
            for (size_t i = 3; i + 1 < nsym; i++) {
                emit(r, bucket_of(hash_pair(SEED_SKIP, c->th[i - 2], c->th[i]), mask), NLU_FG_WORD,
                     1.0f);
            }
        }
    }
    if (cfg->flags & NLU_FEAT_SHAPE) {
        if (caps > 0) {
            emit(r, bucket_of(MARK("<caps>"), mask), NLU_FG_WORD, 1.0f);
        }
        if (elong > 0) {
            emit(r, bucket_of(MARK("<elong>"), mask), NLU_FG_WORD, 1.0f);
        }
    }
    if (cfg->flags & NLU_FEAT_LEXICON) {
        nlu_lexicon_scores(toks, c->lang.lang, c->st, &c->lexsent, c->lex);
        c->lexsent_valid = true;
        for (unsigned i = 0; i < NLU_LEX_NFEAT; i++) {
            if (c->lex[i] != 0.0f && isfinite(c->lex[i])) {
                emit(r, nlu_dense_bucket(cfg, i), NLU_FG_DENSE, c->lex[i]);
            }
            if ((cfg->flags & NLU_FEAT_LEXBINS) && isfinite(c->lex[i])) {
                /* the value's bin of width 0.25 in [-1, 1] as a word feature, so that the
                 * linear model can weigh strong and weak lexicon evidence differently */
                float x = fmaxf(-1.0f, fminf(1.0f, c->lex[i]));
                uint64_t bin = (uint64_t)lrintf((x + 1.0f) * 4.0f);
                emit(r, bucket_of(MARK("<lex>") ^ (i * 64 + bin + 1) * 0x9e3779b97f4a7c15ULL, mask),
                     NLU_FG_WORD, 1.0f);
            }
        }
    }
}

void nlu_vectorize(const struct nlu_model *m, struct nlu_ctx *c)
{
    const struct nlu_rawfeats *r = &c->raw;
    nlu_ctx_reserve(c, m->nlabels);
    size_t slots = 64;
    while (slots < 2 * r->n) {
        slots *= 2;
    }
    if (c->dd_cap < slots) {
        c->dd_cap = slots;
        c->dd = dk_realloc(c->dd, slots * sizeof(*c->dd));
    }
    memset(c->dd, 0, slots * sizeof(*c->dd));
    if (c->fcap < r->n) {
        c->fcap = r->n + 64;
        c->frow = dk_realloc(c->frow, c->fcap * sizeof(*c->frow));
        c->fval = dk_realloc(c->fval, c->fcap * sizeof(*c->fval));
    }
    /* the model's table is large and the buckets random: ask for every slot first, so that
     * the misses overlap */
    for (size_t i = 0; i < r->n; i++) {
        __builtin_prefetch(&m->tab[((r->v[i].bucket + 1u) * 0x9e3779b1u) & m->tab_mask]);
    }
    size_t n = 0;
    uint32_t smask = (uint32_t)(slots - 1);
    for (size_t i = 0; i < r->n; i++) {
        int64_t row = nlu_model_row(m, r->v[i].bucket);
        if (row < 0) {
            continue;
        }
        uint32_t key = (uint32_t)row + 1u;
        uint32_t h = (key * 0x9e3779b1u) & smask;
        while (c->dd[h].key != 0 && c->dd[h].key != key) {
            h = (h + 1) & smask;
        }
        if (c->dd[h].key == key) {
            c->fval[c->dd[h].row] += r->v[i].w;
        } else {
            c->dd[h].key = key;
            c->dd[h].row = (uint32_t)n;
            c->frow[n] = (uint32_t)row;
            c->fval[n] = r->v[i].w;
            n++;
        }
    }
    float norm2[NLU_FG_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        uint32_t row = c->frow[i];
        uint8_t g = m->groups[row];
        float v = c->fval[i];
        if (g != NLU_FG_DENSE && m->cfg.sublinear && v > 1.0f) {
            v = 1.0f + logf(v);
        }
        v *= m->idf[row];
        c->fval[i] = v;
        norm2[g] += v * v;
    }
    float scale[NLU_FG_COUNT];
    for (int g = 0; g < NLU_FG_COUNT; g++) {
        scale[g] = m->cfg.group_w[g];
        if (g != NLU_FG_DENSE && norm2[g] > 0.0f) {
            scale[g] /= sqrtf(norm2[g]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        c->fval[i] *= scale[m->groups[c->frow[i]]];
    }
    c->fn = n;
}
