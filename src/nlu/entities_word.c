/*
 * nlu/entities_word: the entities that start with a word or a sign: colours, sizes, order
 * numbers, e-mail addresses, URLs and @handles, plus the dispatch of keywords to the number
 * recognisers ("USD 30", "at 5", "May 5", "two pieces").
 *
 * Russian colour adjectives are matched as a stem plus an adjective ending ("черн" + "ая"),
 * so every case and gender is found with one table entry. Single-letter sizes (S, M, L) need
 * a size word next to them ("size M", "M size", "размер M") or "in M"; XS, XL, XXL… stand
 * alone. An order number needs a keyword ("order", "заказ"), "#" or "№" and some digits.
 */
#include <string.h>

#include "nlu/entities_int.h"

static const char *const COLORS[] = {
    "black", "white",  "red",   "blue",  "light blue", "navy",   "green",    "yellow",
    "pink",  "grey",   "beige", "brown", "purple",     "orange", "burgundy", "khaki",
    "cream", "silver", "gold",  "lilac", "turquoise",  "olive",  "mint",
};

#define NCOLORS (sizeof COLORS / sizeof COLORS[0])

static void emit_text(struct nlu_ent_scan *sc, enum nlu_ent_kind kind, int rank, size_t start,
                      size_t end, const char *v)
{
    struct nlu_entity *e = nlu_ent_cand(sc, kind, rank, start, end);
    nlu_ent_value(e, v, strlen(v));
}

/* ---- colours ---- */

/* Russian adjective endings, two and three letters. */
static const char *const ENDINGS2[] = {
    "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие",
    "ым", "им", "ых", "их", "ую", "юю", "ей", "ом", "ем",
};
static const char *const ENDINGS3[] = {"ого", "его", "ому", "ему", "ыми", "ими"};

/* Whether the word ends with one of the n endings of two (three) Cyrillic letters. */
static bool ends_with2(const struct nlu_ent_word *w, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (memcmp(w->low + w->n - 4, list[k], 4) == 0) {
            return true;
        }
    }
    return false;
}

static bool ends_with3(const struct nlu_ent_word *w, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (memcmp(w->low + w->n - 6, list[k], 6) == 0) {
            return true;
        }
    }
    return false;
}

/* The colour of a Russian adjective ("чёрная": stem "черн" + ending "ая"), or -1. */
static int color_stem(const struct nlu_ent_word *w)
{
    const struct nlu_ent_kw *kw = NULL;
    if (w->n < 6 || ((unsigned char)w->low[0] != 0xD0 && (unsigned char)w->low[0] != 0xD1)) {
        return -1;
    }
    if (ends_with3(w, ENDINGS3, sizeof ENDINGS3 / sizeof ENDINGS3[0])) {
        kw = nlu_ent_kw_bytes(w->low, w->n - 6);
    }
    if (kw == NULL && ends_with2(w, ENDINGS2, sizeof ENDINGS2 / sizeof ENDINGS2[0])) {
        kw = nlu_ent_kw_bytes(w->low, w->n - 4);
    }
    return kw != NULL && kw->type == NLU_ENT_KW_COLOR_STEM ? kw->val : -1;
}

/* The colour of a word ("black", "чёрная"), or -1. */
static int color_of(const struct nlu_ent_word *w)
{
    const struct nlu_ent_kw *kw = nlu_ent_kw(w);
    if (kw != NULL) {
        return kw->type == NLU_ENT_KW_COLOR ? kw->val : -1;
    }
    return color_stem(w);
}

static void color(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, int c)
{
    if (c >= 0 && (size_t)c < NCOLORS) {
        emit_text(sc, NLU_ENT_COLOR, NLU_ENT_RANK_COLOR, w->start, w->end, COLORS[c]);
    }
}

/* "light blue", "dark green", "тёмно-синий": the modifier and the colour as one */
static void color_mod(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned mod)
{
    struct nlu_ent_word c;
    size_t k = w->end < sc->len && sc->s[w->end] == '-' ? w->end + 1
                                                        : nlu_ent_skip(sc->s, sc->len, w->end, 1);
    if (k == w->end || nlu_ent_word(sc->s, sc->len, k, &c) == k) {
        return;
    }
    int v = color_of(&c);
    if (v < 0) {
        return;
    }
    if (v == 3 || v == 4) {
        v = mod == 1 ? 4 : 5; /* light blue, dark blue = navy */
    }
    emit_text(sc, NLU_ENT_COLOR, NLU_ENT_RANK_COLOR, w->start, c.end, COLORS[v]);
}

/* ---- sizes ---- */

/* S, M, L in Latin or Cyrillic (с, м, л), either case: the letter, or 0. */
static char size_letter(const struct nlu_ent_word *w)
{
    if (w->nchars != 1) {
        return 0;
    }
    if (w->n == 1 && (w->low[0] == 's' || w->low[0] == 'm' || w->low[0] == 'l')) {
        return (char)(w->low[0] & ~0x20);
    }
    if (w->n == 2 && memcmp(w->low, "\xD1\x81", 2) == 0) {
        return 'S';
    }
    if (w->n == 2 && memcmp(w->low, "\xD0\xBC", 2) == 0) {
        return 'M';
    }
    if (w->n == 2 && memcmp(w->low, "\xD0\xBB", 2) == 0) {
        return 'L';
    }
    return 0;
}

static void size_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w)
{
    char up[NLU_ENT_WORD_MAX];
    for (size_t k = 0; k < w->n; k++) {
        up[k] = (char)(nlu_ent_alpha((unsigned char)w->low[k]) ? w->low[k] & ~0x20 : w->low[k]);
    }
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, w->start, w->end);
    nlu_ent_value(e, up, w->n);
}

static const char *const REGIONS[] = {"EU", "US", "UK", "RU"};

/* "EU 40", "US 9.5": "us" and "uk" are words too, so they must be written in capitals */
static void region_size(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned region)
{
    struct nlu_ent_size z;
    size_t k = nlu_ent_skip(sc->s, sc->len, w->end, 1);
    if ((region != 0 && !w->upper) || region >= 4 || k == w->end ||
        !nlu_ent_size_num(sc->s, sc->len, k, 60, &z) || z.hi != z.lo) {
        return;
    }
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, w->start, z.end);
    nlu_ent_value(e, z.text, z.n);
    nlu_ent_unit(e, REGIONS[region]);
}

/* After "size"/"размер": "38", "42-44", "M", "XL", "EU 40" (with ":", "-", "is" between). */
static void size_kw(struct nlu_ent_scan *sc, const struct nlu_ent_word *w)
{
    const char *s = sc->s;
    size_t len = sc->len;
    size_t k = nlu_ent_skip(s, len, w->end, 2);
    if (k < len && (s[k] == ':' || s[k] == '-' || s[k] == '=')) {
        k = nlu_ent_skip(s, len, k + 1, 2);
    }
    struct nlu_ent_word v;
    const struct nlu_ent_kw *kw;
    int type = nlu_ent_kw_at(sc, k, &v, &kw);
    if (type == NLU_ENT_KW_NONE && nlu_ent_word_is(&v, "is")) {
        k = nlu_ent_skip(s, len, v.end, 1);
        type = nlu_ent_kw_at(sc, k, &v, &kw);
    }
    if (k == w->end || k >= len) {
        return;
    }
    struct nlu_ent_size z;
    if (nlu_ent_digit((unsigned char)s[k])) {
        if (nlu_ent_size_num(s, len, k, 200, &z)) {
            struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, k, z.end);
            nlu_ent_value(e, z.text, z.n);
        }
        return;
    }
    char letter = size_letter(&v);
    if (type == NLU_ENT_KW_SIZE_WORD) {
        size_word(sc, &v);
    } else if (type == NLU_ENT_KW_REGION) {
        region_size(sc, &v, kw->val);
    } else if (letter != 0) {
        struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, k, v.end);
        nlu_ent_value(e, &letter, 1);
    }
}

/* Whether the word at i is "it's" or "I'm" material: after an apostrophe. */
static bool after_apostrophe(const char *s, size_t i)
{
    return (i >= 1 && s[i - 1] == '\'') ||
           (i >= 3 && memcmp(s + i - 3, "\xE2\x80\x99", 3) == 0); /* ’ */
}

/* "M size", "L размер" */
static void letter_size(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, char letter)
{
    struct nlu_ent_word v;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(sc->s, sc->len, w->end, 1);
    if (k > w->end && !after_apostrophe(sc->s, w->start) &&
        nlu_ent_kw_at(sc, k, &v, &kw) == NLU_ENT_KW_SIZE) {
        struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, w->start, w->end);
        nlu_ent_value(e, &letter, 1);
    }
}

/* "in M": a capital S, M or L that ends the phrase */
static void in_size(struct nlu_ent_scan *sc, const struct nlu_ent_word *w)
{
    const char *s = sc->s;
    size_t len = sc->len;
    struct nlu_ent_word v;
    size_t k = nlu_ent_skip(s, len, w->end, 1);
    if (k == w->end || nlu_ent_word(s, len, k, &v) == k || v.n != 1 || !v.upper) {
        return;
    }
    char letter = size_letter(&v);
    size_t e = v.end;
    if (e < len && (s[e] == ',' || s[e] == '.' || s[e] == '!' || s[e] == '?' || s[e] == ')')) {
        e++;
    }
    if (letter != 0 && (e >= len || nlu_ent_space(s, len, e) > 0 || s[e] == '\n')) {
        struct nlu_entity *x = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, k, v.end);
        nlu_ent_value(x, &letter, 1);
    }
}

/* ---- orders ---- */

/* An order id at i: a letter or digit, then letters, digits and inner hyphens; 4-32
 * characters with at least 3 digits. Returns its end, or 0. */
static size_t order_id(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len;
    size_t j = i;
    unsigned nd = 0;
    if (i >= len || !nlu_ent_alnum((unsigned char)s[i])) {
        return 0;
    }
    while (j < len && j - i <= 32 &&
           (nlu_ent_alnum((unsigned char)s[j]) ||
            (s[j] == '-' && j + 1 < len && nlu_ent_alnum((unsigned char)s[j + 1])))) {
        nd += nlu_ent_digit((unsigned char)s[j]);
        j++;
    }
    if (j - i > 32 || j - i < 4 || nd < 3 || nlu_ent_is_word(s, len, j) ||
        (j < len && s[j] == '@')) {
        return 0;
    }
    /* "заказ 1500 руб", "order 1000 pcs" are amounts */
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(s, len, j, 1), cw;
    int type = nlu_ent_kw_at(sc, k, &w, &kw);
    if (type == NLU_ENT_KW_CUR || type == NLU_ENT_KW_QTY || type == NLU_ENT_KW_MULT ||
        (k < len && nlu_ent_cur_symbol(s, len, k, &cw) >= 0)) {
        return 0;
    }
    return j;
}

static void emit_order(struct nlu_ent_scan *sc, int rank, size_t start, size_t id, size_t end)
{
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_ORDER, rank, start, end);
    nlu_ent_value(e, sc->s + id, end - id);
}

static bool numero(const char *s, size_t len, size_t i)
{
    return len - i >= 3 && memcmp(s + i, "\xE2\x84\x96", 3) == 0;
}

/* "order 12345", "order #A-1234", "order number: 12345", "заказ №12345", "номер заказа 1234" */
static void order_kw(struct nlu_ent_scan *sc, const struct nlu_ent_word *w)
{
    const char *s = sc->s;
    size_t len = sc->len, k = w->end;
    for (int n = 0; n < 3; n++) {
        k = nlu_ent_skip(s, len, k, 2);
        if (k < len && s[k] == ':') {
            k++;
            continue;
        }
        struct nlu_ent_word f;
        const struct nlu_ent_kw *kw;
        if (nlu_ent_kw_at(sc, k, &f, &kw) != NLU_ENT_KW_ORDER_FILL && !nlu_ent_word_is(&f, "is") &&
            !nlu_ent_word_is(&f, "was")) {
            break;
        }
        k = f.end < len && s[f.end] == '.' ? f.end + 1 : f.end;
    }
    size_t start = k, id = k;
    if (k < len && s[k] == '#') {
        id = k + 1;
    } else if (k < len && numero(s, len, k)) {
        id = nlu_ent_skip(s, len, k + 3, 1);
    }
    size_t end = order_id(sc, id);
    if (end != 0) {
        emit_order(sc, NLU_ENT_RANK_ORDER_KW, start, id, end);
    }
}

void nlu_ent_at_hash(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i + 1;
    if (nlu_ent_prev_word(s, i) || (i > 0 && (s[i - 1] == '&' || s[i - 1] == '#'))) {
        return;
    }
    while (j < len && j - i <= 21 && nlu_ent_digit((unsigned char)s[j])) {
        j++;
    }
    if (j - i - 1 >= 4 && j - i - 1 <= 20 && !nlu_ent_is_word(s, len, j) &&
        !(j < len && (s[j] == '@' || s[j] == '_'))) {
        emit_order(sc, NLU_ENT_RANK_ORDER, i, i + 1, j);
    }
}

void nlu_ent_at_numero(struct nlu_ent_scan *sc, size_t i, size_t width)
{
    size_t id = nlu_ent_skip(sc->s, sc->len, i + width, 1);
    size_t end = order_id(sc, id);
    if (end != 0) {
        emit_order(sc, NLU_ENT_RANK_ORDER, i, id, end);
    }
}

/* ---- e-mail, URLs, handles ---- */

static bool local_char(unsigned char c)
{
    return nlu_ent_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* Dot-separated labels of letters, digits and inner hyphens from i (ASCII only unless
 * any_script). Returns the end and the start of the last label, or 0 for fewer than two. */
static size_t labels(const char *s, size_t len, size_t i, bool any_script, size_t *last)
{
    size_t j = i, end = 0;
    unsigned n = 0;
    while (j < len && j - i < 253) {
        size_t ls = j;
        while (j < len && j - ls < 63) {
            if (nlu_ent_alnum((unsigned char)s[j]) ||
                (s[j] == '-' && j > ls && j + 1 < len && s[j + 1] != '.')) {
                j++;
            } else if (any_script && (unsigned char)s[j] >= 0x80 && nlu_ent_is_word(s, len, j)) {
                uint32_t cp;
                j += nlu_ent_decode(s, len, j, &cp);
            } else {
                break;
            }
        }
        if (j == ls || s[j - 1] == '-') {
            break;
        }
        n++;
        *last = ls;
        end = j;
        if (j + 1 < len && s[j] == '.' && nlu_ent_is_word(s, len, j + 1)) {
            j++;
            continue;
        }
        break;
    }
    return n >= 2 ? end : 0;
}

void nlu_ent_email(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i, last = 0;
    if (i > 0 && local_char((unsigned char)s[i - 1])) {
        return;
    }
    while (j < len && j - i <= 64 && local_char((unsigned char)s[j])) {
        j++;
    }
    if (j >= len || s[j] != '@' || j - i > 64 || s[j - 1] == '.') {
        return;
    }
    size_t end = labels(s, len, j + 1, false, &last);
    if (end == 0 || end - last < 2 || nlu_ent_is_word(s, len, end) ||
        (end < len && s[end] == '@')) {
        return;
    }
    for (size_t k = last; k < end; k++) {
        if (!nlu_ent_alpha((unsigned char)s[k])) {
            return;
        }
    }
    char buf[64];
    size_t n = end - i < sizeof buf ? end - i : sizeof buf - 1;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[i + k];
        buf[k] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_EMAIL, NLU_ENT_RANK_EMAIL, i, end);
    nlu_ent_value(e, buf, n);
}

static const char *const TLDS[] = {
    "com",  "net",  "org", "ru",  "su",  "io", "co", "me", "shop", "store", "online",
    "site", "info", "biz", "app", "dev", "ua", "kz", "by", "uk",   "de",    "fr",
    "es",   "tr",   "eu",  "pl",  "ly",  "gl", "cc", "ee", "tv",   "ai",    "рф",
};

static bool known_tld(const char *s, size_t len, size_t i)
{
    struct nlu_ent_word w;
    nlu_ent_word(s, len, i, &w);
    for (size_t k = 0; k < sizeof TLDS / sizeof TLDS[0]; k++) {
        if (nlu_ent_word_is(&w, TLDS[k])) {
            return true;
        }
    }
    return false;
}

/* The rest of a URL from j: up to a space or a quote, without trailing punctuation. */
static size_t url_tail(const char *s, size_t len, size_t i, size_t j)
{
    while (j < len && j - i < 2048) {
        unsigned char c = (unsigned char)s[j];
        if (c <= ' ' || c == '"' || c == '<' || c == '>' || c == 0x7F ||
            nlu_ent_space(s, len, j) > 0) {
            break;
        }
        j++;
    }
    while (j > i && j < len && ((unsigned char)s[j] & 0xC0) == 0x80) {
        j--; /* never cut a character (only at the 2048 limit) */
    }
    for (;;) {
        if (j <= i) {
            break;
        }
        char c = s[j - 1];
        if (c == ')') {
            int depth = 0;
            for (size_t k = i; k < j; k++) {
                depth += s[k] == '(' ? 1 : s[k] == ')' ? -1 : 0;
            }
            if (depth >= 0) {
                break;
            }
        } else if (!strchr(".,!?;:'\"]}", c)) {
            break;
        }
        j--;
    }
    return j;
}

void nlu_ent_url(struct nlu_ent_scan *sc, size_t i, size_t run_end)
{
    const char *s = sc->s;
    size_t len = sc->len, end = 0, last = 0;
    if (i > 0 && s[i - 1] != '\0' && strchr("@./-_:", s[i - 1]) != NULL) {
        return; /* inside an address or another URL */
    }
    struct nlu_ent_word w;
    nlu_ent_word(s, len, i, &w);
    if (s[run_end] == ':') {
        if ((nlu_ent_word_is(&w, "http") || nlu_ent_word_is(&w, "https")) && len - run_end > 3 &&
            memcmp(s + run_end, "://", 3) == 0) {
            end = url_tail(s, len, i, run_end + 3);
            end = end > run_end + 3 ? end : 0;
        }
    } else {
        size_t dend = labels(s, len, i, true, &last);
        if (dend == 0 || (dend < len && s[dend] == '@')) {
            return;
        }
        if (!nlu_ent_word_is(&w, "www") && !known_tld(s, len, last)) {
            return;
        }
        end = dend;
        if (dend + 1 < len && (s[dend] == '/' || s[dend] == ':' || s[dend] == '?')) {
            end = url_tail(s, len, i, dend);
        }
    }
    if (end > i) {
        struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_URL, NLU_ENT_RANK_URL, i, end);
        nlu_ent_value(e, s + i, end - i);
    }
}

void nlu_ent_at_handle(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i + 1;
    bool name = false;
    if (nlu_ent_prev_word(s, i) || (i > 0 && local_char((unsigned char)s[i - 1]))) {
        return;
    }
    while (j < len && j - i <= 31 &&
           (nlu_ent_alnum((unsigned char)s[j]) || s[j] == '.' || s[j] == '_')) {
        name = name || nlu_ent_alnum((unsigned char)s[j]);
        j++;
    }
    while (j > i + 1 && s[j - 1] == '.') {
        j--;
    }
    if (!name || j - i - 1 > 30 || nlu_ent_is_word(s, len, j) || (j < len && s[j] == '@')) {
        return;
    }
    char buf[32];
    size_t n = 0;
    buf[n++] = '@';
    for (size_t k = i + 1; k < j; k++) {
        unsigned char c = (unsigned char)s[k];
        buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_HANDLE, NLU_ENT_RANK_HANDLE, i, j);
    nlu_ent_value(e, buf, n);
}

/* ---- the word trigger ---- */

void nlu_ent_at_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *word,
                     const struct nlu_ent_kw *kw)
{
    struct nlu_ent_word w = *word;
    int type = kw != NULL ? kw->type : NLU_ENT_KW_NONE;
    unsigned val = kw != NULL ? kw->val : 0;
    switch (type) {
    case NLU_ENT_KW_COLOR:
        color(sc, &w, (int)val);
        break;
    case NLU_ENT_KW_COLOR_MOD:
        color_mod(sc, &w, val);
        break;
    case NLU_ENT_KW_MONTH:
        if (val & NLU_ENT_MONTH_LEAD) {
            nlu_ent_date_month(sc, &w, val % NLU_ENT_MONTH_LEAD);
        }
        break;
    case NLU_ENT_KW_WEEKDAY:
    case NLU_ENT_KW_RELDAY:
    case NLU_ENT_KW_DAY:
        nlu_ent_date_word(sc, &w, kw);
        break;
    case NLU_ENT_KW_ORDER:
        order_kw(sc, &w);
        break;
    case NLU_ENT_KW_SIZE:
        size_kw(sc, &w);
        break;
    case NLU_ENT_KW_SIZE_WORD:
        size_word(sc, &w);
        break;
    case NLU_ENT_KW_REGION:
        region_size(sc, &w, val);
        break;
    case NLU_ENT_KW_CUR:
        if (val & NLU_ENT_CUR_CODE) {
            nlu_ent_price_code(sc, &w, (int)(val & ~NLU_ENT_CUR_CODE));
        }
        break;
    case NLU_ENT_KW_NUMWORD:
        nlu_ent_qty_word(sc, &w, val);
        break;
    case NLU_ENT_KW_AT:
    case NLU_ENT_KW_RUPREP:
        nlu_ent_time_prep(sc, &w, type == NLU_ENT_KW_AT);
        break;
    case NLU_ENT_KW_IN:
        in_size(sc, &w);
        break;
    case NLU_ENT_KW_NONE: {
        char letter = size_letter(&w);
        if (w.digit) {
            nlu_ent_qty_x(sc, &w);
        } else if (letter != 0) {
            letter_size(sc, &w, letter);
        } else if (w.n >= 6) {
            color(sc, &w, color_stem(&w));
        }
        break;
    }
    default:
        break;
    }
}
