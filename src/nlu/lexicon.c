/*
 * nlu/lexicon: the sentiment and emotion lexicons, built once from the files under
 * data/nlu/lexicons/ (sources and licences in the NOTICE there) into open-addressing hash
 * tables that are read-only afterwards.
 *
 * Precedence of a word's valence: en_extra.tsv (our shop-talk overrides), then VADER, then
 * AFINN scaled by 0.8 to VADER's range; Russian words come from ru_sentiment.tsv, keyed by
 * their Snowball stem so that inflections match. Symbols: emoji_valence.tsv, then the Emoji
 * Sentiment Ranking (smoothed share of positive minus negative uses, times 3), then the
 * emoticons of VADER and AFINN. Emotions come from emotions_en.tsv and emotions_ru.tsv.
 * English stems take the mean valence of the listed words sharing them when all agree in
 * sign, so that unlisted inflections still score. Keys are normalised like the tokenizer's
 * output for these scripts: lower case, "ё" read as "е".
 */
#include "nlu/lexicon_int.h"

#include <pthread.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

struct slot {
    uint32_t hash;
    uint32_t idx; /* entry index + 1; 0 = empty */
};

struct table {
    struct slot *slots;
    uint32_t mask;
    struct nlu_lex_entry *ents;
    uint32_t *koff; /* key offset in pool */
    uint16_t *klen;
    size_t n;
    size_t cap;
    char *pool;
    size_t pool_len;
    size_t pool_cap;
};

static struct table tabs[NLU_LEX_NTABLES];

/* Per stem table: a bit for the hash of the first (up to) four letters of every stem (see
 * nlu_lex_maybe_stem). */
#define FILTER_BITS    16
#define FILTER_LETTERS 4
static uint64_t filters[NLU_LEX_NTABLES][(1u << FILTER_BITS) / 64];
static pthread_once_t build_once = PTHREAD_ONCE_INIT;

enum key_script { KS_LATIN, KS_CYRILLIC, KS_SYMBOL };

#define PHRASE_MAX (2 * NLU_LEX_MAX_KEY + 2)

static uint32_t hash_key(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

static struct nlu_lex_entry *tab_get(const struct table *t, const char *key, size_t len, uint32_t h)
{
    if (t->slots == NULL) {
        return NULL;
    }
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct slot *s = &t->slots[i];
        if (s->idx == 0) {
            return NULL;
        }
        size_t e = s->idx - 1;
        if (s->hash == h && t->klen[e] == len && memcmp(t->pool + t->koff[e], key, len) == 0) {
            return &t->ents[e];
        }
    }
}

static void slot_insert(struct table *t, uint32_t h, size_t e)
{
    uint32_t i = h & t->mask;
    while (t->slots[i].idx != 0) {
        i = (i + 1) & t->mask;
    }
    t->slots[i].hash = h;
    t->slots[i].idx = (uint32_t)e + 1;
}

static void tab_rehash(struct table *t, uint32_t nslots)
{
    dk_free(t->slots);
    t->slots = dk_calloc(nslots, sizeof(*t->slots));
    t->mask = nslots - 1;
    for (size_t e = 0; e < t->n; e++) {
        slot_insert(t, hash_key(t->pool + t->koff[e], t->klen[e]), e);
    }
}

/* The entry of key, created empty when missing. Valid until the next call on t. */
static struct nlu_lex_entry *tab_put(struct table *t, const char *key, size_t len)
{
    uint32_t h = hash_key(key, len);
    struct nlu_lex_entry *found = tab_get(t, key, len, h);
    if (found != NULL) {
        return found;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->ents = dk_realloc(t->ents, t->cap * sizeof(*t->ents));
        t->koff = dk_realloc(t->koff, t->cap * sizeof(*t->koff));
        t->klen = dk_realloc(t->klen, t->cap * sizeof(*t->klen));
    }
    if (t->pool_len + len > t->pool_cap) {
        t->pool_cap = (t->pool_cap + len) * 2;
        t->pool = dk_realloc(t->pool, t->pool_cap);
    }
    memcpy(t->pool + t->pool_len, key, len);
    t->koff[t->n] = (uint32_t)t->pool_len;
    t->klen[t->n] = (uint16_t)len;
    t->pool_len += len;
    memset(&t->ents[t->n], 0, sizeof(t->ents[t->n]));
    t->n++;
    if (t->slots == NULL || t->n * 2 > (size_t)t->mask + 1) {
        tab_rehash(t, t->slots ? (t->mask + 1) * 2 : 512);
    } else {
        slot_insert(t, h, t->n - 1);
    }
    return &t->ents[t->n - 1];
}

/* ---- keys ---- */

static enum key_script script_of(const char *s, size_t len)
{
    unsigned char c = len ? (unsigned char)s[0] : 0;
    if ((c | 32u) - 'a' < 26u) {
        return KS_LATIN;
    }
    if (c == 0xd0 || c == 0xd1) {
        return KS_CYRILLIC;
    }
    if (c >= 0xc3 && c <= 0xc9) { /* Latin-1 Supplement and Latin Extended letters */
        return KS_LATIN;
    }
    return KS_SYMBOL;
}

/* Lower-cases ASCII and Cyrillic, reads "ё" as "е". Returns the length written to
 * out[NLU_LEX_MAX_KEY + 1] (NUL-terminated), 0 when the key is empty or too long. */
static size_t norm_key(const char *s, size_t len, char *out)
{
    if (len == 0 || len > NLU_LEX_MAX_KEY) {
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') {
            out[o++] = (char)(c + 32);
        } else if (c == 0xd0 && i + 1 < len) {
            unsigned char d = (unsigned char)s[++i];
            if (d == 0x81) { /* Ё */
                d = 0xb5;
            } else if (d >= 0x90 && d <= 0x9f) { /* А-П */
                d = (unsigned char)(d + 0x20);
            } else if (d >= 0xa0 && d <= 0xaf) { /* Р-Я */
                c = 0xd1;
                d = (unsigned char)(d - 0x20);
            }
            out[o++] = (char)c;
            out[o++] = (char)d;
        } else if (c == 0xd1 && i + 1 < len && (unsigned char)s[i + 1] == 0x91) { /* ё */
            out[o++] = (char)0xd0;
            out[o++] = (char)0xb5;
            i++;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

static size_t stem_key(struct nlu_stemmer *st, bool ru, const char *key, size_t len, char *out)
{
    size_t n = 0;
    const char *s = nlu_stem_word(st, ru ? NLU_LANG_RU : NLU_LANG_EN, key, len, &n);
    if (s == NULL || n == 0 || n > NLU_LEX_MAX_KEY) {
        s = key;
        n = len;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

static size_t phrase_key(bool ru, const char *head, size_t hl, bool neg, const char *s2, size_t l2,
                         char *out)
{
    if (neg) {
        head = ru ? "не" : "not";
        hl = strlen(head);
    }
    if (hl == 0 || l2 == 0 || hl > NLU_LEX_MAX_KEY || l2 > NLU_LEX_MAX_KEY) {
        return 0;
    }
    memcpy(out, head, hl);
    out[hl] = ' ';
    memcpy(out + hl + 1, s2, l2);
    out[hl + 1 + l2] = '\0';
    return hl + 1 + l2;
}

static uint32_t utf8_next(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (*i + n > len) {
        n = len - *i;
    }
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k < n; k++) {
        cp = (cp << 6) | ((unsigned char)s[*i + k] & 0x3fu);
    }
    *i += n;
    return cp;
}

/* Canonical symbol key: no variation selectors or skin tones, ASCII lower-cased. Sets
 * *zwj to the key length before the first ZWJ (or the whole length) and *first to the
 * length of the first code point. */
static size_t sym_key(const char *s, size_t len, char *out, size_t *zwj, size_t *first)
{
    size_t o = 0;
    *zwj = 0;
    *first = 0;
    for (size_t i = 0; i < len;) {
        size_t at = i;
        uint32_t cp = utf8_next(s, len, &i);
        if (cp == 0xfe0e || cp == 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff)) {
            continue;
        }
        if (o + (i - at) > NLU_LEX_MAX_KEY) {
            return 0;
        }
        if (cp == 0x200d && *zwj == 0) {
            *zwj = o;
        }
        for (size_t k = at; k < i; k++) {
            unsigned char c = (unsigned char)s[k];
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (*first == 0) {
            *first = o;
        }
    }
    if (*zwj == 0) {
        *zwj = o;
    }
    out[o] = '\0';
    return o;
}

/* The filter bits of the first one, two, ... FILTER_LETTERS letters of w[0..n) (FNV-1a with
 * "y" read as "i", as English stems turn a final "y" into "i": "cry" -> "cri"). Returns how
 * many prefixes there are. */
static size_t prefix_bits(const char *w, size_t n, uint32_t *bits)
{
    uint32_t h = 2166136261u;
    size_t i = 0;
    size_t k = 0;
    while (k < FILTER_LETTERS && i < n) {
        unsigned char c = (unsigned char)w[i];
        size_t end = i + (c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4);
        for (; i < end && i < n; i++) {
            h ^= w[i] == 'y' ? 'i' : (unsigned char)w[i];
            h *= 16777619u;
        }
        bits[k++] = (h ^ (h >> 15)) & ((1u << FILTER_BITS) - 1);
    }
    return k;
}

/* Notes the first (up to) FILTER_LETTERS letters of stem s[0..n) in the filter of t. */
static void filter_add(enum nlu_lex_table t, const char *s, size_t n)
{
    uint32_t bits[FILTER_LETTERS];
    size_t k = prefix_bits(s, n, bits);
    if (k > 0) {
        filters[t][bits[k - 1] / 64] |= 1ull << (bits[k - 1] % 64);
    }
}

/* ---- lookups ---- */

static void build(void);

const struct nlu_lex_entry *nlu_lex_find(enum nlu_lex_table t, const char *key, size_t len)
{
    pthread_once(&build_once, build);
    if ((unsigned)t >= NLU_LEX_NTABLES || len == 0 || len > PHRASE_MAX) {
        return NULL;
    }
    return tab_get(&tabs[t], key, len, hash_key(key, len));
}

const struct nlu_lex_entry *nlu_lex_phrase(bool ru, const char *head, size_t head_len,
                                           bool head_neg, const char *stem2, size_t stem2_len)
{
    char key[PHRASE_MAX + 1];
    size_t n = phrase_key(ru, head, head_len, head_neg, stem2, stem2_len, key);
    if (n == 0) {
        return NULL;
    }
    return nlu_lex_find(ru ? NLU_LEX_RU_STEM : NLU_LEX_EN_STEM, key, n);
}

const struct nlu_lex_entry *nlu_lex_symbol(const char *s, size_t len)
{
    char key[NLU_LEX_MAX_KEY + 1];
    size_t zwj = 0;
    size_t first = 0;
    size_t n = sym_key(s, len, key, &zwj, &first);
    if (n == 0) {
        return NULL;
    }
    const struct nlu_lex_entry *e = nlu_lex_find(NLU_LEX_SYM, key, n);
    if (e == NULL && zwj < n) {
        e = nlu_lex_find(NLU_LEX_SYM, key, zwj);
    }
    if (e == NULL && first < zwj && (unsigned char)key[0] >= 0x80) {
        e = nlu_lex_find(NLU_LEX_SYM, key, first);
    }
    return e;
}

bool nlu_lex_maybe_stem(enum nlu_lex_table t, const char *w, size_t n)
{
    pthread_once(&build_once, build);
    if (t != NLU_LEX_EN_STEM && t != NLU_LEX_RU_STEM) {
        return true;
    }
    uint32_t bits[FILTER_LETTERS];
    size_t k = prefix_bits(w, n, bits);
    for (size_t i = 0; i < k; i++) {
        if (filters[t][bits[i] / 64] & (1ull << (bits[i] % 64))) {
            return true;
        }
    }
    return false;
}

size_t nlu_lex_size(enum nlu_lex_table t)
{
    pthread_once(&build_once, build);
    if ((unsigned)t >= NLU_LEX_NTABLES) {
        return 0;
    }
    return tabs[t].n;
}

/* ---- reading the files ---- */

struct lines {
    const char *p;
    const char *end;
};

static bool next_line(struct lines *l, const char **s, size_t *n)
{
    if (l->p == NULL || l->p >= l->end) {
        return false;
    }
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    *s = l->p;
    *n = (size_t)(e - l->p);
    if (*n > 0 && (*s)[*n - 1] == '\r') {
        (*n)--;
    }
    l->p = nl ? nl + 1 : l->end;
    return true;
}

static size_t split(const char *s, size_t n, char sep, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i == n || s[i] == sep) {
            f[k] = s + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* A decimal number such as "-1.5" (no locale, no exponent). */
static bool parse_num(const char *s, size_t n, float *out)
{
    size_t i = n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    double v = 0.0;
    double scale = 0.0; /* 0 before the point, then 0.1, 0.01, ... */
    bool digits = false;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            scale /= scale > 0.0 ? 10.0 : 1.0;
            v = scale > 0.0 ? v + (s[i] - '0') * scale : v * 10.0 + (s[i] - '0');
            digits = true;
        } else if (s[i] == '.' && scale == 0.0) {
            scale = 1.0;
        } else {
            return false;
        }
    }
    *out = (float)(n > 0 && s[0] == '-' ? -v : v);
    return digits;
}

static struct lines open_data(const char *name)
{
    size_t len = 0;
    const char *d = nlu_data_get(name, &len);
    if (d == NULL) {
        DK_WARN("nlu lexicon %s is missing from the binary: sentiment will be weaker", name);
        len = 0;
    }
    struct lines l = {d, d ? d + len : NULL};
    return l;
}

static bool skip_line(const char *s, size_t n)
{
    return n == 0 || s[0] == '#';
}

static void set_valence(struct nlu_lex_entry *e, float v, bool override)
{
    if (override || !(e->flags & NLU_LEXF_VALENCE)) {
        e->valence = v;
        e->flags |= NLU_LEXF_VALENCE;
    }
}

static bool is_negator(bool ru, const char *w, size_t n)
{
    const struct nlu_lex_entry *e =
        tab_get(&tabs[ru ? NLU_LEX_RU : NLU_LEX_EN], w, n, hash_key(w, n));
    return e != NULL && (e->flags & NLU_LEXF_NEG);
}

/* The entry of "head word2" in the stem table; marks head as a phrase head. */
static struct nlu_lex_entry *put_phrase(struct nlu_stemmer *st, const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    if (sp == NULL || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)) != NULL) {
        return NULL; /* one space exactly */
    }
    char head[NLU_LEX_MAX_KEY + 1];
    char w2[NLU_LEX_MAX_KEY + 1];
    char s2[NLU_LEX_MAX_KEY + 1];
    char key[PHRASE_MAX + 1];
    size_t hl = norm_key(s, (size_t)(sp - s), head);
    size_t l2 = norm_key(sp + 1, n - (size_t)(sp + 1 - s), w2);
    if (hl == 0 || l2 == 0) {
        return NULL;
    }
    bool ru = script_of(head, hl) == KS_CYRILLIC;
    enum nlu_lex_table wt = ru ? NLU_LEX_RU : NLU_LEX_EN;
    bool neg = is_negator(ru, head, hl);
    tab_put(&tabs[wt], head, hl)->flags |= NLU_LEXF_HEAD;
    size_t sl = stem_key(st, script_of(w2, l2) == KS_CYRILLIC, w2, l2, s2);
    size_t kl = phrase_key(ru, head, hl, neg, s2, sl, key);
    if (kl == 0) {
        return NULL;
    }
    return tab_put(&tabs[ru ? NLU_LEX_RU_STEM : NLU_LEX_EN_STEM], key, kl);
}

/* A word as written, in the English or the Russian table by its script. */
static struct nlu_lex_entry *put_word(const char *s, size_t n)
{
    char key[NLU_LEX_MAX_KEY + 1];
    size_t kl = norm_key(s, n, key);
    bool ru = script_of(key, kl) == KS_CYRILLIC;
    return kl ? tab_put(&tabs[ru ? NLU_LEX_RU : NLU_LEX_EN], key, kl) : NULL;
}

/* The entry a lexicon line's term names: "=word" as written, "a b" a phrase, Cyrillic words
 * by stem, Latin words as written, anything else as a symbol. NULL when unusable. */
static struct nlu_lex_entry *put_term(struct nlu_stemmer *st, const char *s, size_t n)
{
    char key[NLU_LEX_MAX_KEY + 1];
    char stem[NLU_LEX_MAX_KEY + 1];
    bool exact = n > 1 && s[0] == '=' && script_of(s + 1, n - 1) != KS_SYMBOL; /* not "=)" */
    if (exact) {
        s++;
        n--;
    }
    if (memchr(s, ' ', n) != NULL) {
        return put_phrase(st, s, n);
    }
    enum key_script ks = script_of(s, n);
    if (ks == KS_SYMBOL) {
        size_t zwj = 0;
        size_t first = 0;
        size_t kl = sym_key(s, n, key, &zwj, &first);
        return kl ? tab_put(&tabs[NLU_LEX_SYM], key, kl) : NULL;
    }
    if (ks == KS_LATIN || exact) {
        return put_word(s, n);
    }
    size_t kl = norm_key(s, n, key);
    if (kl == 0) {
        return NULL;
    }
    size_t sl = stem_key(st, true, key, kl, stem);
    return tab_put(&tabs[NLU_LEX_RU_STEM], stem, sl);
}

/* modifiers.tsv: term, kind (neg, boost, contrast, "contrast,", stop), value. */
static void load_modifiers(struct nlu_stemmer *st)
{
    static const struct {
        const char *name;
        uint8_t flags;
    } kinds[] = {{"neg", NLU_LEXF_NEG},
                 {"stop", NLU_LEXF_STOP},
                 {"contrast", NLU_LEXF_CONTRAST},
                 {"contrast,", NLU_LEXF_CONTRAST | NLU_LEXF_COMMA},
                 {"boost", NLU_LEXF_BOOST}};
    struct lines l = open_data("lexicons/modifiers.tsv");
    const char *s;
    size_t n;
    while (next_line(&l, &s, &n)) {
        const char *f[3];
        size_t fl[3];
        size_t nf = skip_line(s, n) ? 0 : split(s, n, '\t', f, fl, 3);
        uint8_t flags = 0;
        float boost = 0.0f;
        for (size_t k = 0; nf >= 2 && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            if (strlen(kinds[k].name) == fl[1] && memcmp(kinds[k].name, f[1], fl[1]) == 0) {
                flags = kinds[k].flags;
            }
        }
        if (flags == 0 ||
            ((flags & NLU_LEXF_BOOST) && (nf < 3 || !parse_num(f[2], fl[2], &boost)))) {
            continue;
        }
        struct nlu_lex_entry *e =
            memchr(f[0], ' ', fl[0]) ? put_phrase(st, f[0], fl[0]) : put_word(f[0], fl[0]);
        if (e != NULL) {
            e->flags |= flags;
            e->boost = (flags & NLU_LEXF_BOOST) ? boost : e->boost;
        }
    }
}

/* The next "term TAB number …" line of l, skipping blank lines, and '#' comments when
 * comments (only our own files have them: in the published lists a term could start with
 * '#'). false at the end. */
static bool next_scored(struct lines *l, bool comments, const char **term, size_t *tl, float *v)
{
    const char *s;
    size_t n;
    while (next_line(l, &s, &n)) {
        const char *f[2];
        size_t fl[2];
        if ((comments ? skip_line(s, n) : n == 0) || split(s, n, '\t', f, fl, 2) < 2 ||
            !parse_num(f[1], fl[1], v)) {
            continue;
        }
        *term = f[0];
        *tl = fl[0];
        return true;
    }
    return false;
}

/* VADER (token TAB mean ...) and AFINN (term TAB integer): valences scaled by scale, kept
 * where nothing better is known. In VADER a lower-case token wins over its capitalised
 * twin ("lol" over "LOL"), as VADER looks up lower-cased words. */
static void load_scored(struct nlu_stemmer *st, const char *name, float scale, bool vader)
{
    struct lines l = open_data(name);
    const char *t;
    size_t tl;
    float v = 0.0f;
    while (next_scored(&l, false, &t, &tl, &v)) {
        bool upper = false;
        for (size_t i = 0; i < tl; i++) {
            upper |= t[i] >= 'A' && t[i] <= 'Z';
        }
        struct nlu_lex_entry *e = NULL;
        if (memchr(t, ' ', tl) != NULL) {
            e = put_phrase(st, t, tl);
        } else {
            /* "=)" is an emoticon here, not an exact term as in our files */
            e = script_of(t, tl) == KS_LATIN ? put_word(t, tl) : put_term(st, t, tl);
        }
        if (e != NULL) {
            set_valence(e, v * scale, vader && !upper);
        }
    }
}

/* Our own valence files: term TAB valence, comments with '#'. */
static void load_valences(struct nlu_stemmer *st, const char *name, bool override)
{
    struct lines l = open_data(name);
    const char *t;
    size_t tl;
    float v = 0.0f;
    while (next_scored(&l, true, &t, &tl, &v)) {
        struct nlu_lex_entry *e = put_term(st, t, tl);
        if (e != NULL) {
            set_valence(e, v, override);
        }
    }
}

/* Emoji Sentiment Ranking CSV: Emoji,Unicode codepoint,Occurrences,Position,Negative,
 * Neutral,Positive,... The score is the Laplace-smoothed positive minus negative share. */
static void load_esr(void)
{
    struct lines l = open_data("lexicons/Emoji_Sentiment_Data_v1.0.csv");
    const char *s;
    size_t n;
    bool header = true;
    while (next_line(&l, &s, &n)) {
        const char *f[7];
        size_t fl[7];
        float occ = 0.0f;
        float neg = 0.0f;
        float pos = 0.0f;
        if (header || split(s, n, ',', f, fl, 7) < 7 || !parse_num(f[2], fl[2], &occ) ||
            !parse_num(f[4], fl[4], &neg) || !parse_num(f[6], fl[6], &pos) || occ < 5.0f) {
            header = false;
            continue;
        }
        char key[NLU_LEX_MAX_KEY + 1];
        size_t zwj = 0;
        size_t first = 0;
        size_t kl = sym_key(f[0], fl[0], key, &zwj, &first);
        if (kl > 0) {
            float v = 3.0f * ((pos + 1.0f) - (neg + 1.0f)) / (occ + 3.0f);
            set_valence(tab_put(&tabs[NLU_LEX_SYM], key, kl), v, false);
        }
    }
}

static int emotion_of(const char *s, size_t n)
{
    for (int e = 0; e < NLU_EMO_COUNT; e++) {
        const char *name = nlu_emotion_name((enum nlu_emotion)e);
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            return e;
        }
    }
    return -1;
}

static void merge_emo(struct nlu_lex_entry *e, const float *w)
{
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        if (w[k] > e->emo[k]) {
            e->emo[k] = w[k];
            e->flags |= NLU_LEXF_EMO;
        }
    }
}

/* Emotion files: term TAB emotion[:weight][,emotion[:weight]...]. English words are also
 * entered by stem, for forms that are not listed. */
static void load_emotions(struct nlu_stemmer *st, const char *name)
{
    struct lines l = open_data(name);
    const char *s;
    size_t n;
    while (next_line(&l, &s, &n)) {
        const char *f[2];
        size_t fl[2];
        if (skip_line(s, n) || split(s, n, '\t', f, fl, 2) < 2) {
            continue;
        }
        float w[NLU_EMO_COUNT] = {0};
        const char *part[NLU_EMO_COUNT];
        size_t pl[NLU_EMO_COUNT];
        size_t np = split(f[1], fl[1], ',', part, pl, NLU_EMO_COUNT);
        for (size_t i = 0; i < np; i++) {
            const char *c = memchr(part[i], ':', pl[i]);
            size_t nl = c ? (size_t)(c - part[i]) : pl[i];
            float v = 1.0f;
            int e = emotion_of(part[i], nl);
            if (e >= 0 && (c == NULL || parse_num(c + 1, pl[i] - nl - 1, &v))) {
                w[e] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
        }
        struct nlu_lex_entry *e = put_term(st, f[0], fl[0]);
        if (e != NULL) {
            merge_emo(e, w);
        }
        char key[NLU_LEX_MAX_KEY + 1];
        char stem[NLU_LEX_MAX_KEY + 1];
        size_t kl = norm_key(f[0], fl[0], key);
        if (kl > 0 && script_of(key, kl) == KS_LATIN && memchr(key, ' ', kl) == NULL) {
            size_t sl = stem_key(st, false, key, kl, stem);
            merge_emo(tab_put(&tabs[NLU_LEX_EN_STEM], stem, sl), w);
        }
    }
}

static bool plain_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)((s[i] | 32) - 'a') >= 26u) {
            return false;
        }
    }
    return n > 2;
}

/* English stems: the mean valence of the listed words sharing a stem when all agree in
 * sign. */
static void derive_en_stems(struct nlu_stemmer *st)
{
    struct table *en = &tabs[NLU_LEX_EN];
    struct table *stems = &tabs[NLU_LEX_EN_STEM];
    size_t cap = stems->n + en->n + 1;
    float *sum = dk_calloc(cap, sizeof(float));
    uint32_t *cnt = dk_calloc(cap, sizeof(uint32_t));
    uint8_t *sign = dk_calloc(cap, 1);
    char stem[NLU_LEX_MAX_KEY + 1];
    for (size_t i = 0; i < en->n; i++) {
        const char *k = en->pool + en->koff[i];
        if (!(en->ents[i].flags & NLU_LEXF_VALENCE) || !plain_word(k, en->klen[i])) {
            continue;
        }
        float v = en->ents[i].valence;
        size_t sl = stem_key(st, false, k, en->klen[i], stem);
        struct nlu_lex_entry *e = tab_put(stems, stem, sl);
        size_t idx = (size_t)(e - stems->ents);
        if (idx < cap) {
            sum[idx] += v;
            cnt[idx]++;
            sign[idx] |= v > 0.0f ? 1 : v < 0.0f ? 2 : 0;
        }
    }
    for (size_t i = 0; i < stems->n && i < cap; i++) {
        if (cnt[i] > 0 && sign[i] != 3 && !(stems->ents[i].flags & NLU_LEXF_VALENCE)) {
            set_valence(&stems->ents[i], sum[i] / (float)cnt[i], false);
        }
    }
    dk_free(sum);
    dk_free(cnt);
    dk_free(sign);
}

static void build(void)
{
    struct nlu_stemmer *st = nlu_stemmer_new();
    load_modifiers(st);
    load_scored(st, "lexicons/vader_lexicon.txt", 1.0f, true);
    load_scored(st, "lexicons/AFINN-en-165.txt", 0.8f, false);
    load_scored(st, "lexicons/AFINN-emoticon-8.txt", 0.8f, false);
    load_valences(st, "lexicons/en_extra.tsv", true);
    load_valences(st, "lexicons/ru_sentiment.tsv", false);
    load_esr();
    load_valences(st, "lexicons/emoji_valence.tsv", true);
    load_emotions(st, "lexicons/emotions_en.tsv");
    load_emotions(st, "lexicons/emotions_ru.tsv");
    derive_en_stems(st);
    nlu_stemmer_free(st);
    static const enum nlu_lex_table stem_tables[] = {NLU_LEX_EN_STEM, NLU_LEX_RU_STEM};
    for (size_t s = 0; s < sizeof(stem_tables) / sizeof(stem_tables[0]); s++) {
        enum nlu_lex_table t = stem_tables[s];
        const struct table *tab = &tabs[t];
        for (size_t i = 0; i < tab->n; i++) {
            const char *k = tab->pool + tab->koff[i];
            const char *sp = memchr(k, ' ', tab->klen[i]);
            if (sp == NULL) {
                filter_add(t, k, tab->klen[i]);
            } else {
                filter_add(t, sp + 1, tab->klen[i] - (size_t)(sp + 1 - k));
            }
        }
    }
    DK_DEBUG("nlu lexicons built: en=%zu en_stem=%zu ru=%zu ru_stem=%zu sym=%zu",
             tabs[NLU_LEX_EN].n, tabs[NLU_LEX_EN_STEM].n, tabs[NLU_LEX_RU].n,
             tabs[NLU_LEX_RU_STEM].n, tabs[NLU_LEX_SYM].n);
}
