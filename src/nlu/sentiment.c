/*
 * nlu/sentiment: lexicon sentiment and emotions of tokenised text, VADER-style.
 *
 * One pass over the tokens with a window of the last three words (cleared at punctuation):
 * a word's valence (lexicon.c) gets +-0.733 when it is in capitals among other words,
 * +-0.293 when elongated ("goood"), the intensifiers and diminishers before it (+-0.293,
 * damped by distance: 1, 0.95, 0.9), and x -0.74 for each negator before it. Positive words
 * in a question count half ("can you help?"). A contrast word ("but", "но") closes the
 * clause: what comes before weighs 0.5, what follows 1.5. Emoji, emoticons, Russian-style
 * brackets ("спасибо)))", "жаль((") and laughter ("ахахах") add their valence as they are.
 * Then up to three "!" add 0.292 each and several "?" up to 0.96 in
 * the direction of the sum, which is normalised with x / sqrt(x^2 + 15) into [-1, 1]:
 * positive from 0.05, negative from -0.05. Emotions sum the weights of the emotion
 * lexicons (negated words add none) and map with 1 - exp(-x) into [0, 1].
 *
 * Tables: tokens of Cyrillic words use the Russian lexicon (by stem), Latin words the
 * English one (which also holds transliterated Russian) when lang is English, Russian,
 * Ukrainian or unknown; other languages get emoji and emoticons only. Words not listed as
 * written are looked up by stem, and only when a prefix filter says a stem may match (the
 * stemmer is the costly part). The scorer keeps its state on the stack: a call allocates
 * nothing, and any thread may call it with its own stemmer.
 */
#include "nlu/nlu.h"

#include <math.h>
#include <string.h>

#include "nlu/lexicon_int.h"

#define CAPS_INCR     0.733f
#define BOOST_ELONG   0.293f
#define NEG_SCALAR    -0.74f
#define EXCL_INCR     0.292f
#define EXCL_MAX      3
#define QUEST_INCR    0.18f
#define QUEST_MAX     0.96f
#define QUESTION_POS  0.5f
#define ALPHA         15.0f
#define LABEL_EDGE    0.05f
#define WINDOW        3
#define LAUGH_VALENCE 1.5f

/*
 * The dense features (feats[NLU_LEX_NFEAT]), all in [-1, 1]:
 *  0 positive sum, tanh(sum / 4)       8 emoji valence sum, normalised
 *  1 negative sum, tanh(sum / 4)       9 emoticon valence sum, normalised
 *  2 compound score                   10 negators, tanh(n / 2)
 *  3 positive words, tanh(n / 3)      11 "!" marks, min(n, 3) / 3
 *  4 negative words, tanh(n / 3)      12 "?" marks, min(n, 3) / 3
 *  5 last clause with a valence       13 share of words in capitals
 *  6 highest word valence / 4         14 elongated words, tanh(n / 2)
 *  7 lowest word valence / 4          15 share of words found in the lexicons
 */
enum {
    F_POS = 0,
    F_NEG,
    F_COMPOUND,
    F_NPOS,
    F_NNEG,
    F_LAST,
    F_MAX,
    F_MIN,
    F_EMOJI,
    F_EMOTICON,
    F_NEGATORS,
    F_EXCL,
    F_QUEST,
    F_CAPS,
    F_ELONG,
    F_COVERAGE
};

_Static_assert(F_COVERAGE + 1 == NLU_LEX_NFEAT, "feature table out of step with nlu.h");

const char *nlu_emotion_name(enum nlu_emotion e)
{
    static const char *const names[NLU_EMO_COUNT] = {"joy",     "gratitude", "anger",
                                                     "sadness", "fear",      "surprise"};
    if ((unsigned)e >= NLU_EMO_COUNT) {
        return "unknown";
    }
    return names[e];
}

const char *nlu_polarity_name(enum nlu_polarity p)
{
    switch (p) {
    case NLU_POSITIVE:
        return "positive";
    case NLU_NEGATIVE:
        return "negative";
    default:
        return "neutral";
    }
}

/* What a word (or a two-word phrase) turned out to be. */
struct item {
    uint8_t flags; /* NLU_LEXF_* */
    float valence;
    float boost;
    const float *emo;
    size_t span;   /* tokens used: 1, or 2 for a phrase */
    bool neg_head; /* a phrase that starts with a negator ("not good") */
};

/* A word in the window of the last three. */
struct wslot {
    uint8_t flags;
    float boost;
    bool caps;
};

/* Sums of one side of a contrast. */
struct part {
    float sum;
    float pos;
    float neg;
    float emo[NLU_EMO_COUNT];
};

struct scan {
    const struct nlu_tokens *toks;
    struct nlu_stemmer *st;
    bool latin_ok; /* Latin words use the English tables */
    bool cap_diff; /* some words in capitals, not all */
    struct wslot win[WINDOW];
    size_t nwin;
    struct part pre; /* before the last contrast word */
    struct part cur;
    bool contrast;
    float clause; /* valence since the last contrast or sentence end */
    bool clause_hit;
    float last;  /* the last clause that had a valence */
    size_t term; /* index of the token ending the current sentence */
    bool question;
    /* the last stem computed, of the word at stem_w */
    const char *stem_w;
    size_t stem_n;
    size_t stem_len;
    char stem[NLU_LEX_MAX_KEY + 1];
    unsigned open_parens; /* "(" waiting for its ")" */
    size_t last_close;    /* index of the last lone ")", SIZE_MAX when none */
    /* counts for the features */
    unsigned npos, nneg, nneg_words, nwords, ncaps, nelong, nhits, excl, quest;
    float vmax, vmin, emoji, emoticon;
};

static float signf(float v)
{
    return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f;
}

static float normalise(float x)
{
    float v = x / sqrtf(x * x + ALPHA);
    return v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
}

/* Drops repeated code points: "soo" -> "so", "оочень" -> "очень". */
static size_t collapse(const char *s, size_t n, char *out)
{
    size_t o = 0;
    size_t prev = 0;
    size_t prev_len = 0;
    for (size_t i = 0; i < n;) {
        size_t l = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xc0) {
            l = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        }
        if (i + l > n) {
            l = n - i;
        }
        if (!(prev_len == l && memcmp(s + prev, s + i, l) == 0)) {
            memcpy(out + o, s + i, l);
            o += l;
        }
        prev = i;
        prev_len = l;
        i += l;
    }
    out[o] = '\0';
    return o;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && memcmp(s + n - k, suffix, k) == 0;
}

/* English forms worth a stem lookup: inflections of listed words, not derivations such as
 * "likely" whose stem ("like") has another sentiment. */
static bool en_inflected(const char *s, size_t n)
{
    static const char *const sfx[] = {"s", "ed", "ing", "er", "est", "ness"};
    if (n < 4) {
        return false;
    }
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (ends_with(s, n, sfx[i])) {
            return true;
        }
    }
    return false;
}

/* Laughter such as "хахаха", "ахахах", "hahaha", "xaxa": only a/h/x letters (Latin or
 * Cyrillic), at least two of each kind and four in all. */
static bool laughter(const char *w, size_t n)
{
    unsigned a = 0;
    unsigned h = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == 'a') {
            a++;
        } else if (c == 'h' || c == 'x') {
            h++;
        } else if (c == 0xd0 && i + 1 < n && (unsigned char)w[i + 1] == 0xb0) { /* а */
            a++;
            i++;
        } else if (c == 0xd1 && i + 1 < n && (unsigned char)w[i + 1] == 0x85) { /* х */
            h++;
            i++;
        } else {
            return false;
        }
    }
    return a >= 2 && h >= 2;
}

static void item_from(struct item *it, const struct nlu_lex_entry *e, size_t span)
{
    it->flags = e->flags;
    it->valence = e->valence;
    it->boost = e->boost;
    it->emo = (e->flags & NLU_LEXF_EMO) ? e->emo : NULL;
    it->span = span;
}

static bool useful(const struct nlu_lex_entry *e)
{
    return e != NULL && (e->flags & (NLU_LEXF_VALENCE | NLU_LEXF_EMO | NLU_LEXF_NEG |
                                     NLU_LEXF_BOOST | NLU_LEXF_CONTRAST | NLU_LEXF_STOP));
}

/* The stem of w[0..n). The stem of a token's own norm (keep) is remembered, as the word after
 * a negator is stemmed for the phrase check and then again as a word of its own. */
static const char *stem_of(struct scan *sc, const char *w, size_t n, bool ru, bool keep, size_t *sl)
{
    if (sc->stem_w == w && sc->stem_n == n) {
        *sl = sc->stem_len;
        return sc->stem;
    }
    const char *stem = nlu_stem_word(sc->st, ru ? NLU_LANG_RU : NLU_LANG_EN, w, n, sl);
    if (stem == NULL || *sl > NLU_LEX_MAX_KEY) {
        *sl = 0;
        return "";
    }
    memcpy(sc->stem, stem, *sl);
    sc->stem_len = *sl;
    sc->stem_w = keep ? w : NULL;
    sc->stem_n = n;
    return sc->stem;
}

static const struct nlu_lex_entry *stem_entry(struct scan *sc, enum nlu_lex_table t, const char *w,
                                              size_t n, bool ru, bool keep)
{
    if (!nlu_lex_maybe_stem(t, w, n)) {
        return NULL;
    }
    size_t sl = 0;
    const char *stem = stem_of(sc, w, n, ru, keep, &sl);
    return sl > 0 ? nlu_lex_find(t, stem, sl) : NULL;
}

/* Looks up the word w[0..n) (a token's norm, or a hashtag's word); i is its token when a
 * phrase may start there, else SIZE_MAX. Returns false when nothing is known. */
static bool resolve(struct scan *sc, const char *w, size_t n, bool ru, bool elongated, size_t i,
                    struct item *it)
{
    enum nlu_lex_table wt = ru ? NLU_LEX_RU : NLU_LEX_EN;
    enum nlu_lex_table stt = ru ? NLU_LEX_RU_STEM : NLU_LEX_EN_STEM;
    char buf[NLU_LEX_MAX_KEY + 1];
    const struct nlu_lex_entry *e = nlu_lex_find(wt, w, n);
    if (e == NULL && elongated && n <= NLU_LEX_MAX_KEY) {
        size_t cn = collapse(w, n, buf);
        e = nlu_lex_find(wt, buf, cn);
        if (e != NULL || ru) {
            w = buf;
            n = cn;
        }
    }
    memset(it, 0, sizeof(*it));
    it->span = 1;
    if (e != NULL && (e->flags & (NLU_LEXF_HEAD | NLU_LEXF_NEG)) && sc->st != NULL &&
        i != SIZE_MAX && i + 1 < sc->toks->n) {
        const struct nlu_token *nx = &sc->toks->v[i + 1];
        if (nx->kind == NLU_TOK_WORD && (nx->script == NLU_SCRIPT_CYRILLIC) == ru &&
            nlu_lex_maybe_stem(stt, nx->norm, nx->norm_len)) {
            size_t sl = 0;
            const char *s2 = stem_of(sc, nx->norm, nx->norm_len, ru, true, &sl);
            const struct nlu_lex_entry *p =
                nlu_lex_phrase(ru, w, n, (e->flags & NLU_LEXF_NEG) != 0, s2, sl);
            if (p != NULL) {
                item_from(it, p, 2);
                it->neg_head = (e->flags & NLU_LEXF_NEG) != 0;
                return true;
            }
        }
    }
    if (useful(e)) {
        item_from(it, e, 1);
        if (ru && it->emo == NULL && (e->flags & NLU_LEXF_VALENCE) && sc->st != NULL) {
            /* an exact Russian entry ("=класс") may have its emotions under its stem */
            const struct nlu_lex_entry *se = stem_entry(sc, stt, w, n, ru, w != buf);
            it->emo = se != NULL && (se->flags & NLU_LEXF_EMO) ? se->emo : NULL;
        }
        return true;
    }
    if (laughter(w, n)) {
        static const float joy[NLU_EMO_COUNT] = {[NLU_EMO_JOY] = 0.8f};
        it->flags = NLU_LEXF_VALENCE | NLU_LEXF_EMO;
        it->valence = LAUGH_VALENCE;
        it->emo = joy;
        return true;
    }
    if (sc->st == NULL || (!ru && !en_inflected(w, n))) {
        return false;
    }
    const struct nlu_lex_entry *se = stem_entry(sc, stt, w, n, ru, w != buf);
    if (!useful(se)) {
        return false;
    }
    item_from(it, se, 1);
    return true;
}

static bool has_char(const struct nlu_token *t, char c)
{
    return memchr(t->norm, c, t->norm_len) != NULL;
}

static bool ends_sentence(const struct nlu_token *t)
{
    return t->kind == NLU_TOK_PUNCT && (has_char(t, '.') || has_char(t, '!') || has_char(t, '?'));
}

/* Is token i in a sentence that ends with a question mark (and no "!")? */
static bool in_question(struct scan *sc, size_t i)
{
    if (sc->term == SIZE_MAX || sc->term < i) {
        size_t j = i;
        while (j < sc->toks->n && !ends_sentence(&sc->toks->v[j])) {
            j++;
        }
        sc->term = j;
        sc->question =
            j < sc->toks->n && has_char(&sc->toks->v[j], '?') && !has_char(&sc->toks->v[j], '!');
    }
    return sc->question;
}

static void add_emotions(struct scan *sc, const float *emo, float mult)
{
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        sc->cur.emo[k] += emo[k] * mult;
    }
}

static void add_valence(struct scan *sc, float v)
{
    sc->cur.sum += v;
    sc->clause += v;
    sc->clause_hit = true;
    if (v > 0.0f) {
        sc->cur.pos += v;
        sc->npos++;
    } else if (v < 0.0f) {
        sc->cur.neg += v;
        sc->nneg++;
    }
}

static void push_window(struct scan *sc, uint8_t flags, float boost, bool caps)
{
    memmove(&sc->win[1], &sc->win[0], (WINDOW - 1) * sizeof(sc->win[0]));
    sc->win[0].flags = flags;
    sc->win[0].boost = boost;
    sc->win[0].caps = caps;
    if (sc->nwin < WINDOW) {
        sc->nwin++;
    }
}

/* A word with a valence and/or emotions, with the window before it. */
static void score_word(struct scan *sc, const struct item *it, const struct nlu_token *t, size_t i)
{
    static const float damp[WINDOW] = {1.0f, 0.95f, 0.9f};
    bool caps = (t->flags & NLU_TOKF_CAPS) && sc->cap_diff;
    bool negated = false;
    float emo_mult = caps ? 1.2f : 1.0f;
    float v = it->valence;
    if (it->flags & NLU_LEXF_VALENCE) {
        v += caps ? signf(v) * CAPS_INCR : 0.0f;
        v += (t->flags & NLU_TOKF_ELONGATED) ? signf(v) * BOOST_ELONG : 0.0f;
    }
    for (size_t k = 0; k < sc->nwin; k++) {
        const struct wslot *w = &sc->win[k];
        if ((w->flags & NLU_LEXF_BOOST) && !(w->flags & NLU_LEXF_VALENCE)) {
            float s = v < 0.0f ? -w->boost : w->boost;
            if (w->caps && sc->cap_diff) {
                s += signf(s) * CAPS_INCR;
            }
            v += (it->flags & NLU_LEXF_VALENCE) ? s * damp[k] : 0.0f;
            emo_mult *= 1.0f + w->boost * damp[k];
        }
    }
    /* negators after intensifiers, as in VADER: "not very good" is -0.74 * (1.9 + 0.293) */
    for (size_t k = 0; k < sc->nwin; k++) {
        if (sc->win[k].flags & NLU_LEXF_NEG) {
            v *= NEG_SCALAR;
            negated = !negated;
        }
    }
    if ((it->flags & NLU_LEXF_VALENCE) && it->valence != 0.0f) {
        if (v > 0.0f && in_question(sc, i)) {
            v *= QUESTION_POS;
        }
        add_valence(sc, v);
        sc->vmax = sc->nhits == 0 ? it->valence : fmaxf(sc->vmax, it->valence);
        sc->vmin = sc->nhits == 0 ? it->valence : fminf(sc->vmin, it->valence);
        sc->nhits++;
    }
    if (it->emo != NULL && !negated && emo_mult > 0.0f) {
        add_emotions(sc, it->emo, emo_mult);
    }
}

static void end_clause(struct scan *sc)
{
    if (sc->clause_hit) {
        sc->last = sc->clause;
    }
    sc->clause = 0.0f;
    sc->clause_hit = false;
}

static void close_clause(struct scan *sc)
{
    sc->pre.sum += sc->cur.sum;
    sc->pre.pos += sc->cur.pos;
    sc->pre.neg += sc->cur.neg;
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        sc->pre.emo[k] += sc->cur.emo[k];
    }
    memset(&sc->cur, 0, sizeof(sc->cur));
    sc->contrast = true;
    end_clause(sc);
}

static bool prev_is_comma(const struct nlu_tokens *toks, size_t i)
{
    return i > 0 && toks->v[i - 1].kind == NLU_TOK_PUNCT && has_char(&toks->v[i - 1], ',');
}

static void scan_word(struct scan *sc, size_t i, size_t *next)
{
    const struct nlu_token *t = &sc->toks->v[i];
    bool ru = t->script == NLU_SCRIPT_CYRILLIC;
    struct item it;
    *next = i + 1;
    if (!ru && (t->script != NLU_SCRIPT_LATIN || !sc->latin_ok)) {
        push_window(sc, 0, 0.0f, false);
        return;
    }
    if (!resolve(sc, t->norm, t->norm_len, ru, (t->flags & NLU_TOKF_ELONGATED) != 0, i, &it)) {
        push_window(sc, 0, 0.0f, false);
        return;
    }
    *next = i + it.span;
    if ((it.flags & NLU_LEXF_CONTRAST) && !(it.flags & NLU_LEXF_VALENCE)) {
        if (!(it.flags & NLU_LEXF_COMMA) || prev_is_comma(sc->toks, i)) {
            close_clause(sc);
            sc->nwin = 0;
            return;
        }
    }
    if ((it.flags & NLU_LEXF_NEG) || it.neg_head) {
        sc->nneg_words++;
    }
    if (it.flags & (NLU_LEXF_VALENCE | NLU_LEXF_EMO)) {
        score_word(sc, &it, t, i);
    }
    /* a word with a valence of its own is no intensifier (VADER's rule) */
    push_window(sc, it.flags, it.boost, (t->flags & NLU_TOKF_CAPS) != 0);
}

/* Russian-style bracket smileys: ")))" and "((", optionally after ':', ';' or '='. */
static float bracket_valence(const struct nlu_token *t)
{
    size_t i = 0;
    size_t n = t->norm_len;
    while (i < n &&
           (t->norm[i] == ':' || t->norm[i] == ';' || t->norm[i] == '=' || t->norm[i] == '-')) {
        i++;
    }
    if (i >= n || (t->norm[i] != ')' && t->norm[i] != '(')) {
        return 0.0f;
    }
    char c = t->norm[i];
    size_t run = n - i;
    for (; i < n; i++) {
        if (t->norm[i] != c) {
            return 0.0f;
        }
    }
    float v = fminf(1.5f + 0.3f * (float)(run - 1), 2.5f);
    return c == ')' ? v : -v;
}

static bool is_paren(const struct nlu_token *t, char c)
{
    return t->kind == NLU_TOK_PUNCT && t->norm_len == 1 && t->norm[0] == c;
}

/* A lone "(" or ")" is a smiley unless it pairs with another: "(see photo)". */
static bool paired_paren(struct scan *sc, size_t i)
{
    const struct nlu_token *t = &sc->toks->v[i];
    if (is_paren(t, ')') && sc->open_parens > 0) {
        sc->open_parens--;
        return true;
    }
    if (is_paren(t, '(') && sc->last_close != SIZE_MAX && sc->last_close > i) {
        sc->open_parens++;
        return true;
    }
    return false;
}

static void scan_symbol(struct scan *sc, size_t i)
{
    const struct nlu_token *t = &sc->toks->v[i];
    if (paired_paren(sc, i)) {
        return;
    }
    const struct nlu_lex_entry *e = nlu_lex_symbol(t->norm, t->norm_len);
    if (e == NULL && t->kind == NLU_TOK_EMOTICON) {
        e = nlu_lex_find(NLU_LEX_EN, t->norm, t->norm_len);
    }
    float v = 0.0f;
    if (e != NULL && (e->flags & NLU_LEXF_VALENCE)) {
        v = e->valence;
    } else if (t->kind == NLU_TOK_EMOTICON || t->kind == NLU_TOK_PUNCT) {
        v = bracket_valence(t);
    }
    if (v != 0.0f) {
        add_valence(sc, v);
        if (t->kind == NLU_TOK_EMOJI) {
            sc->emoji += v;
        } else {
            sc->emoticon += v;
        }
    }
    if (e != NULL && (e->flags & NLU_LEXF_EMO)) {
        add_emotions(sc, e->emo, 1.0f);
    }
}

static void scan_hashtag(struct scan *sc, const struct nlu_token *t)
{
    struct item it;
    if (t->norm_len < 2) {
        return;
    }
    bool ru = (unsigned char)t->norm[1] == 0xd0 || (unsigned char)t->norm[1] == 0xd1;
    if (!ru && !sc->latin_ok) {
        return;
    }
    if (resolve(sc, t->norm + 1, t->norm_len - 1, ru, false, SIZE_MAX, &it)) {
        if (it.flags & NLU_LEXF_VALENCE) {
            add_valence(sc, it.valence);
        }
        if (it.emo != NULL) {
            add_emotions(sc, it.emo, 1.0f);
        }
    }
}

static void count_marks(struct scan *sc)
{
    const struct nlu_tokens *toks = sc->toks;
    unsigned caps = 0;
    for (size_t i = 0; i < toks->n; i++) {
        const struct nlu_token *t = &toks->v[i];
        if (t->kind == NLU_TOK_WORD) {
            sc->nwords++;
            caps += (t->flags & NLU_TOKF_CAPS) != 0;
            sc->nelong += (t->flags & NLU_TOKF_ELONGATED) != 0;
        } else if (t->kind == NLU_TOK_PUNCT) {
            sc->last_close = is_paren(t, ')') ? i : sc->last_close;
            for (size_t k = 0; k < t->norm_len; k++) {
                sc->excl += t->norm[k] == '!';
                sc->quest += t->norm[k] == '?';
            }
        }
    }
    sc->ncaps = caps;
    sc->cap_diff = caps > 0 && caps < sc->nwords;
}

static void features(const struct scan *sc, float compound, float *feats)
{
    float words = sc->nwords ? (float)sc->nwords : 1.0f;
    float pos = sc->contrast ? 0.5f * sc->pre.pos + 1.5f * sc->cur.pos : sc->cur.pos;
    float neg = sc->contrast ? 0.5f * sc->pre.neg + 1.5f * sc->cur.neg : sc->cur.neg;
    feats[F_POS] = tanhf(pos / 4.0f);
    feats[F_NEG] = tanhf(neg / 4.0f);
    feats[F_COMPOUND] = compound;
    feats[F_NPOS] = tanhf((float)sc->npos / 3.0f);
    feats[F_NNEG] = tanhf((float)sc->nneg / 3.0f);
    feats[F_LAST] = normalise(sc->clause_hit ? sc->clause : sc->last);
    feats[F_MAX] = fmaxf(-1.0f, fminf(1.0f, sc->vmax / 4.0f));
    feats[F_MIN] = fmaxf(-1.0f, fminf(1.0f, sc->vmin / 4.0f));
    feats[F_EMOJI] = normalise(sc->emoji);
    feats[F_EMOTICON] = normalise(sc->emoticon);
    feats[F_NEGATORS] = tanhf((float)sc->nneg_words / 2.0f);
    feats[F_EXCL] = (float)(sc->excl < EXCL_MAX ? sc->excl : EXCL_MAX) / (float)EXCL_MAX;
    feats[F_QUEST] = (float)(sc->quest < 3 ? sc->quest : 3) / 3.0f;
    feats[F_CAPS] = (float)sc->ncaps / words;
    feats[F_ELONG] = tanhf((float)sc->nelong / 2.0f);
    feats[F_COVERAGE] = fminf(1.0f, (float)sc->nhits / words);
}

void nlu_lexicon_scores(const struct nlu_tokens *toks, enum nlu_lang lang, struct nlu_stemmer *st,
                        struct nlu_sentiment *out, float *feats)
{
    struct scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.toks = toks;
    sc.st = st;
    sc.term = SIZE_MAX;
    sc.last_close = SIZE_MAX;
    sc.latin_ok = lang == NLU_LANG_UNKNOWN || lang == NLU_LANG_EN || lang == NLU_LANG_RU ||
                  lang == NLU_LANG_UK;
    memset(out, 0, sizeof(*out));
    if (toks != NULL) {
        count_marks(&sc);
        for (size_t i = 0; i < toks->n;) {
            const struct nlu_token *t = &toks->v[i];
            size_t next = i + 1;
            switch (t->kind) {
            case NLU_TOK_WORD:
                scan_word(&sc, i, &next);
                break;
            case NLU_TOK_EMOJI:
            case NLU_TOK_EMOTICON:
                scan_symbol(&sc, i);
                break;
            case NLU_TOK_PUNCT:
                if (ends_sentence(t) || has_char(t, ',') || has_char(t, ';') || has_char(t, ':')) {
                    sc.nwin = 0;
                }
                if (ends_sentence(t)) {
                    end_clause(&sc);
                }
                scan_symbol(&sc, i);
                break;
            case NLU_TOK_HASHTAG:
                scan_hashtag(&sc, t);
                break;
            default:
                break;
            }
            i = next;
        }
    }
    float total = sc.contrast ? 0.5f * sc.pre.sum + 1.5f * sc.cur.sum : sc.cur.sum;
    if (total != 0.0f) {
        float amp = (float)(sc.excl < EXCL_MAX ? sc.excl : EXCL_MAX) * EXCL_INCR;
        if (sc.quest > 1) {
            amp += fminf((float)sc.quest * QUEST_INCR, QUEST_MAX);
        }
        total += signf(total) * amp;
    }
    float compound = normalise(total);
    out->score = compound;
    out->label = compound >= LABEL_EDGE    ? NLU_POSITIVE
                 : compound <= -LABEL_EDGE ? NLU_NEGATIVE
                                           : NLU_NEUTRAL;
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        float raw = sc.contrast ? 0.5f * sc.pre.emo[k] + 1.5f * sc.cur.emo[k] : sc.cur.emo[k];
        out->emotions[k] = raw > 0.0f ? 1.0f - expf(-raw) : 0.0f;
    }
    if (feats != NULL) {
        features(&sc, compound, feats);
    }
}
