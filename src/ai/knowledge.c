/*
 * ai/knowledge: which knowledge-base entries answer a message, without a network or a model.
 *
 * The query and every entry are cut into tokens by the NLU; words (less stop words and
 * single letters) become Snowball stems and numbers stay as written. Only the query's distinct
 * terms matter (at most KB_MAX_TERMS), so an entry is reduced to two bit masks: which query
 * terms its question holds and which its answer holds. A term weighs by a smoothed idf over
 * the given entries (terms that every entry shares weigh little, terms no entry has still
 * count against coverage), and an entry scores the weight of the query terms it holds, a
 * question match fully and an answer-only match at ANSWER_WEIGHT, over the weight of all
 * query terms: a value in [0, 1]. Ties keep the entries' order, so results are deterministic.
 */
#include "ai/ai.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/nlu.h"

#define KB_MAX_TERMS  64
#define KB_TERM_MAX   63   /* bytes of a stem kept; longer ones are cut */
#define ANSWER_WEIGHT 0.7  /* an answer-only match against a question match (1) */
#define LANG_MIN_CONF 0.5f /* below, Latin words are stemmed as English */

/* Stop words, normalised (case-folded, "ё" as "е"), in strcmp order for bsearch. */
static const char *const stop_words[] = {
    "a",
    "about",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "can't",
    "could",
    "did",
    "do",
    "does",
    "don't",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "he",
    "hello",
    "her",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "i'm",
    "if",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "just",
    "me",
    "more",
    "much",
    "my",
    "no",
    "not",
    "of",
    "ok",
    "okay",
    "on",
    "or",
    "our",
    "please",
    "pls",
    "she",
    "so",
    "some",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "too",
    "u",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "what's",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "а",
    "без",
    "бы",
    "был",
    "была",
    "были",
    "было",
    "быть",
    "в",
    "вам",
    "вас",
    "ваш",
    "ваша",
    "ваше",
    "весь",
    "во",
    "вот",
    "все",
    "вы",
    "где",
    "да",
    "для",
    "до",
    "его",
    "ее",
    "если",
    "есть",
    "еще",
    "же",
    "за",
    "здравствуйте",
    "и",
    "из",
    "или",
    "им",
    "их",
    "к",
    "как",
    "какая",
    "какие",
    "какой",
    "ко",
    "когда",
    "кто",
    "ли",
    "меня",
    "мне",
    "мой",
    "мы",
    "на",
    "над",
    "не",
    "нет",
    "ни",
    "но",
    "ну",
    "о",
    "об",
    "от",
    "очень",
    "по",
    "под",
    "подскажите",
    "пожалуйста",
    "привет",
    "про",
    "с",
    "сколько",
    "со",
    "спасибо",
    "так",
    "там",
    "то",
    "тоже",
    "только",
    "ты",
    "у",
    "уже",
    "хочу",
    "что",
    "чтобы",
    "эта",
    "эти",
    "это",
    "этот",
    "я",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static bool is_stop(const char *w)
{
    return bsearch(w, stop_words, sizeof(stop_words) / sizeof(stop_words[0]), sizeof(stop_words[0]),
                   cmp_word) != NULL;
}

/* Code points in a NUL-terminated UTF-8 string, counting up to 2. */
static int short_word(const char *s)
{
    int n = 0;
    for (; *s != '\0' && n < 2; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n < 2;
}

/* The distinct terms of the query. */
struct terms {
    char v[KB_MAX_TERMS][KB_TERM_MAX + 1];
    size_t len[KB_MAX_TERMS];
    size_t n;
};

/* The term of a token (stem or number) into *len bytes at the returned pointer, or NULL when
 * the token carries no meaning for retrieval. Valid until the next call on st. */
static const char *term_of(const struct nlu_token *t, enum nlu_lang lang, struct nlu_stemmer *st,
                           size_t *len)
{
    if (t->kind == NLU_TOK_NUMBER) {
        *len = t->norm_len;
        return t->norm;
    }
    if (t->kind != NLU_TOK_WORD || short_word(t->norm) || is_stop(t->norm)) {
        return NULL;
    }
    const char *s = nlu_stem(st, lang, t, len);
    if (*len > KB_TERM_MAX) {
        *len = KB_TERM_MAX;
    }
    return *len > 0 ? s : NULL;
}

static int find_term(const struct terms *q, const char *s, size_t len)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->len[i] == len && memcmp(q->v[i], s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Tokenises text into toks; false (toks empty) for NULL, invalid or oversized text. */
static bool tokenize(const char *text, struct nlu_tokens *toks)
{
    toks->n = 0;
    return text != NULL && nlu_tokenize(text, strlen(text), toks, NULL) == 0;
}

/* Which query terms text holds, as a bit mask. */
static uint64_t match_mask(const char *text, const struct terms *q, enum nlu_lang lang,
                           struct nlu_stemmer *st, struct nlu_tokens *toks)
{
    uint64_t mask = 0;
    if (!tokenize(text, toks)) {
        return 0;
    }
    for (size_t i = 0; i < toks->n; i++) {
        size_t len;
        const char *s = term_of(&toks->v[i], lang, st, &len);
        int at = s != NULL ? find_term(q, s, len) : -1;
        if (at >= 0) {
            mask |= (uint64_t)1 << at;
        }
    }
    return mask;
}

struct scored {
    double score;
    size_t index;
};

static int cmp_scored(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/* Scores every entry into out[0..n) from the masks and the idf of each term. */
static void score_entries(const struct terms *q, const uint64_t *inq, const uint64_t *ina, size_t n,
                          double *out)
{
    double w[KB_MAX_TERMS], total = 0.0;
    for (size_t t = 0; t < q->n; t++) {
        size_t df = 0;
        for (size_t i = 0; i < n; i++) {
            df += ((inq[i] | ina[i]) >> t) & 1u;
        }
        w[t] = log(1.0 + (double)n / (double)(1 + df));
        total += w[t];
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t t = 0; t < q->n; t++) {
            if ((inq[i] >> t) & 1u) {
                s += w[t];
            } else if ((ina[i] >> t) & 1u) {
                s += ANSWER_WEIGHT * w[t];
            }
        }
        out[i] = total > 0.0 ? s / total : 0.0;
    }
}

size_t ai_knowledge_rank(struct nlu_ctx *ctx, const char *query, const struct ai_kb_entry *kb,
                         size_t n, size_t k, double min_score, size_t *idx, double *scores)
{
    if (query == NULL || kb == NULL || n == 0 || k == 0) {
        return 0;
    }
    struct nlu_stemmer *st = nlu_ctx_stemmer(ctx);
    struct nlu_tokens toks;
    nlu_tokens_init(&toks);
    if (!tokenize(query, &toks)) {
        nlu_tokens_free(&toks);
        return 0;
    }
    struct nlu_lang_guess g = nlu_lang_detect(&toks);
    enum nlu_lang lang = g.confidence >= LANG_MIN_CONF ? g.lang : NLU_LANG_EN;
    struct terms *q = dk_calloc(1, sizeof(*q));
    for (size_t i = 0; i < toks.n && q->n < KB_MAX_TERMS; i++) {
        size_t len;
        const char *s = term_of(&toks.v[i], lang, st, &len);
        if (s != NULL && find_term(q, s, len) < 0) {
            memcpy(q->v[q->n], s, len);
            q->v[q->n][len] = '\0';
            q->len[q->n++] = len;
        }
    }
    size_t found = 0;
    if (q->n > 0) {
        uint64_t *inq = dk_calloc(n, sizeof(*inq));
        uint64_t *ina = dk_calloc(n, sizeof(*ina));
        double *sc = dk_calloc(n, sizeof(*sc));
        struct scored *cand = dk_calloc(n, sizeof(*cand));
        for (size_t i = 0; i < n; i++) {
            inq[i] = match_mask(kb[i].question, q, lang, st, &toks);
            ina[i] = match_mask(kb[i].answer, q, lang, st, &toks);
        }
        score_entries(q, inq, ina, n, sc);
        size_t nc = 0;
        for (size_t i = 0; i < n; i++) {
            if (sc[i] > 0.0 && sc[i] >= min_score) {
                cand[nc++] = (struct scored){sc[i], i};
            }
        }
        qsort(cand, nc, sizeof(*cand), cmp_scored);
        for (; found < nc && found < k; found++) {
            idx[found] = cand[found].index;
            if (scores != NULL) {
                scores[found] = cand[found].score;
            }
        }
        dk_free(inq);
        dk_free(ina);
        dk_free(sc);
        dk_free(cand);
    }
    dk_free(q);
    nlu_tokens_free(&toks);
    return found;
}
