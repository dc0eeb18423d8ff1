/*
 * nlu/entities: finds prices, quantities, sizes, colours, order numbers, dates, times, phones,
 * e-mail addresses, card numbers, URLs and @handles in English and Russian messages.
 *
 * One pass over the raw UTF-8 bytes: the scanner below stops where an entity may start (the
 * first character of a run of letters or digits, or one of "$ + ( # @ № ×" and the currency
 * signs) and calls the recognisers of entities_num.c, entities_time.c and entities_word.c.
 * They propose candidates; candidates that overlap form a cluster that is settled when the
 * scan has moved past it (see entities_int.h). Spans exclude context words: in "order 12345"
 * the span is "12345", in "size M" it is "M", in "в пятницу" it is "пятницу".
 */
#include "nlu/nlu.h"

#include <string.h>
#include <utf8proc.h>

#include "nlu/entities_int.h"

static const char *const KIND_NAMES[NLU_ENT_COUNT] = {
    [NLU_ENT_PRICE] = "price", [NLU_ENT_QUANTITY] = "quantity", [NLU_ENT_SIZE] = "size",
    [NLU_ENT_COLOR] = "color", [NLU_ENT_ORDER] = "order",       [NLU_ENT_DATE] = "date",
    [NLU_ENT_TIME] = "time",   [NLU_ENT_PHONE] = "phone",       [NLU_ENT_EMAIL] = "email",
    [NLU_ENT_CARD] = "card",   [NLU_ENT_URL] = "url",           [NLU_ENT_HANDLE] = "handle",
};

const char *nlu_ent_kind_name(enum nlu_ent_kind kind)
{
    if ((unsigned)kind >= NLU_ENT_COUNT) {
        return "unknown";
    }
    return KIND_NAMES[kind];
}

/* ---- characters ---- */

size_t nlu_ent_decode(const char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || n > len - i) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = c & (0x3Fu >> (n - 1));
    for (size_t k = 1; k < n; k++) {
        unsigned char b = (unsigned char)s[i + k];
        if ((b & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (b & 0x3Fu);
    }
    *cp = v;
    return n;
}

bool nlu_ent_word_cp(uint32_t cp)
{
    if (cp < 0x80) {
        return nlu_ent_alnum((unsigned char)cp);
    }
    if (cp >= 0x400 && cp <= 0x52F) {
        return true;
    }
    if (cp >= 0xC0 && cp <= 0x24F) {
        return cp != 0xD7 && cp != 0xF7;
    }
    if (cp == 0xFFFD || cp > 0x10FFFF) {
        return false;
    }
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

bool nlu_ent_prev_word(const char *s, size_t i)
{
    if (i == 0) {
        return false;
    }
    unsigned char c = (unsigned char)s[i - 1];
    if (c < 0x80) {
        return nlu_ent_alnum(c);
    }
    size_t j = i - 1;
    while (j > 0 && i - j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80) {
        j--;
    }
    uint32_t cp;
    if (nlu_ent_decode(s, i, j, &cp) != i - j) {
        return false;
    }
    return nlu_ent_word_cp(cp);
}

bool nlu_ent_is_word(const char *s, size_t len, size_t i)
{
    if (i >= len) {
        return false;
    }
    uint32_t cp;
    nlu_ent_decode(s, len, i, &cp);
    return nlu_ent_word_cp(cp);
}

size_t nlu_ent_space(const char *s, size_t len, size_t i)
{
    if (i >= len) {
        return 0;
    }
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t') {
        return 1;
    }
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA0) {
        return 2; /* U+00A0 no-break space */
    }
    if (c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80) {
        unsigned char d = (unsigned char)s[i + 2];
        if (d == 0xAF || d == 0x89 || d == 0x8A) {
            return 3; /* U+202F narrow no-break, U+2009 thin, U+200A hair */
        }
    }
    return 0;
}

size_t nlu_ent_skip(const char *s, size_t len, size_t i, unsigned max)
{
    for (unsigned k = 0; k < max; k++) {
        size_t w = nlu_ent_space(s, len, i);
        if (w == 0) {
            break;
        }
        i += w;
    }
    return i;
}

/* ---- words ---- */

/* Appends a byte of the folded word (dropped once the word is too long to be a keyword). */
static inline void put(struct nlu_ent_word *w, size_t *n, uint32_t *h, unsigned char b)
{
    if (*n + 1 < NLU_ENT_WORD_MAX) {
        w->low[*n] = (char)b;
        *h = (*h ^ b) * 16777619u;
    }
    (*n)++;
}

size_t nlu_ent_word(const char *s, size_t len, size_t i, struct nlu_ent_word *w)
{
    size_t n = 0;
    uint32_t h = 2166136261u;
    unsigned nup = 0, nlow = 0, nchars = 0;
    bool cap = false, digit = false, alpha = false;
    w->start = i;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (nlu_ent_digit(c)) {
                digit = true;
            } else if (nlu_ent_alpha(c)) {
                alpha = true;
                if (c <= 'Z') {
                    nup++;
                    cap = cap || nchars == 0;
                    c |= 0x20;
                } else {
                    nlow++;
                }
            } else {
                break;
            }
            put(w, &n, &h, c);
            nchars++;
            i++;
            continue;
        }
        uint32_t cp;
        size_t adv;
        if ((c == 0xD0 || c == 0xD1) && i + 1 < len && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
            adv = 2; /* U+0400-U+047F: all letters */
        } else {
            adv = nlu_ent_decode(s, len, i, &cp);
            if (!nlu_ent_word_cp(cp)) {
                break;
            }
        }
        alpha = true;
        if (cp >= 0x400 && cp <= 0x4FF) {
            uint32_t lc = cp;
            if (cp == 0x401 || cp == 0x451) {
                lc = 0x435; /* ё -> е */
            } else if (cp >= 0x410 && cp <= 0x42F) {
                lc = cp + 0x20;
            } else if (cp < 0x410) {
                lc = cp + 0x50;
            }
            if (cp < 0x430) {
                nup++;
                cap = cap || nchars == 0;
            } else if (cp < 0x460) {
                nlow++;
            }
            put(w, &n, &h, (unsigned char)(0xC0 | (lc >> 6)));
            put(w, &n, &h, (unsigned char)(0x80 | (lc & 0x3F)));
        } else {
            for (size_t k = 0; k < adv; k++) {
                put(w, &n, &h, (unsigned char)s[i + k]);
            }
        }
        nchars++;
        i += adv;
    }
    w->end = i;
    w->n = n < NLU_ENT_WORD_MAX ? n : 0;
    w->low[w->n] = '\0';
    w->hash = h;
    w->nchars = nchars;
    w->upper = nup > 0 && nlow == 0;
    w->cap = cap;
    w->digit = digit;
    w->alpha = alpha;
    return i;
}

bool nlu_ent_word_is(const struct nlu_ent_word *w, const char *lit)
{
    size_t n = strlen(lit);
    return w->n == n && memcmp(w->low, lit, n) == 0;
}

int nlu_ent_kw_at(struct nlu_ent_scan *sc, size_t i, struct nlu_ent_word *w,
                  const struct nlu_ent_kw **kw)
{
    if (sc->cache_pos != i) {
        nlu_ent_word(sc->s, sc->len, i, &sc->cache_word);
        sc->cache_kw = nlu_ent_kw(&sc->cache_word);
        sc->cache_pos = i;
    }
    const struct nlu_ent_word *c = &sc->cache_word;
    w->start = c->start;
    w->end = c->end;
    w->n = c->n;
    w->hash = c->hash;
    w->nchars = c->nchars;
    w->upper = c->upper;
    w->cap = c->cap;
    w->digit = c->digit;
    w->alpha = c->alpha;
    memcpy(w->low, c->low, c->n + 1);
    *kw = sc->cache_kw;
    return *kw != NULL ? (*kw)->type : NLU_ENT_KW_NONE;
}

/* ---- candidates ---- */

static struct nlu_entity *scratch(struct nlu_ent_scan *sc)
{
    sc->scratch.value[0] = '\0';
    sc->scratch.unit[0] = '\0';
    return &sc->scratch;
}

/* Whether pending candidate a beats b. */
static bool beats(const struct nlu_ent_scan *sc, unsigned a, unsigned b)
{
    const struct nlu_entity *x = &sc->pend[a], *y = &sc->pend[b];
    if (sc->rank[a] != sc->rank[b]) {
        return sc->rank[a] > sc->rank[b];
    }
    if (x->end - x->start != y->end - y->start) {
        return x->end - x->start > y->end - y->start;
    }
    if (x->start != y->start) {
        return x->start < y->start;
    }
    return a < b;
}

/* Settles the pending cluster: the best candidates that do not overlap, written in order. */
static void flush(struct nlu_ent_scan *sc)
{
    unsigned order[NLU_ENT_PENDING], kept[NLU_ENT_PENDING];
    size_t n = sc->npend, nkept = 0;
    for (size_t k = 0; k < n; k++) {
        size_t j = k;
        while (j > 0 && beats(sc, (unsigned)k, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (unsigned)k;
    }
    for (size_t k = 0; k < n; k++) {
        const struct nlu_entity *e = &sc->pend[order[k]];
        bool free_span = true;
        for (size_t j = 0; j < nkept && free_span; j++) {
            const struct nlu_entity *f = &sc->pend[kept[j]];
            free_span = e->end <= f->start || f->end <= e->start;
        }
        if (!free_span) {
            continue;
        }
        size_t j = nkept++;
        while (j > 0 && sc->pend[kept[j - 1]].start > e->start) {
            kept[j] = kept[j - 1];
            j--;
        }
        kept[j] = order[k];
    }
    for (size_t k = 0; k < nkept; k++) {
        const struct nlu_entity *e = &sc->pend[kept[k]];
        if (e->start < sc->done_end) {
            continue;
        }
        if (sc->out != NULL && sc->count < sc->max) {
            sc->out[sc->count] = *e;
        }
        sc->count++;
        sc->done_end = e->end;
    }
    sc->npend = 0;
    sc->pend_end = 0;
}

struct nlu_entity *nlu_ent_cand(struct nlu_ent_scan *sc, enum nlu_ent_kind kind, int rank,
                                size_t start, size_t end)
{
    if (start < sc->pos || start >= end || end > sc->len || start < sc->done_end) {
        return scratch(sc);
    }
    if (sc->npend == NLU_ENT_PENDING) {
        flush(sc);
        if (start < sc->done_end) {
            return scratch(sc);
        }
    }
    struct nlu_entity *e = &sc->pend[sc->npend];
    sc->rank[sc->npend] = (uint8_t)rank;
    sc->npend++;
    memset(e, 0, sizeof *e); /* no stack bytes in what the caller gets */
    e->kind = (uint8_t)kind;
    e->pii = kind == NLU_ENT_PHONE || kind == NLU_ENT_EMAIL || kind == NLU_ENT_CARD ||
             kind == NLU_ENT_HANDLE;
    e->start = (uint32_t)start;
    e->end = (uint32_t)end;
    if (end > sc->pend_end) {
        sc->pend_end = end;
    }
    return e;
}

void nlu_ent_value(struct nlu_entity *e, const char *v, size_t n)
{
    if (n >= sizeof e->value) {
        n = sizeof e->value - 1;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(e->value, v, n);
    e->value[n] = '\0';
}

void nlu_ent_unit(struct nlu_entity *e, const char *unit)
{
    size_t n = strlen(unit);
    if (n >= sizeof e->unit) {
        n = sizeof e->unit - 1;
    }
    memcpy(e->unit, unit, n);
    e->unit[n] = '\0';
}

size_t nlu_ent_utoa(char *buf, uint64_t v, unsigned width)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n < width && n < 20) {
        tmp[n++] = '0';
    }
    for (size_t k = 0; k < n; k++) {
        buf[k] = tmp[n - 1 - k];
    }
    return n;
}

/* ---- the scan ---- */

/* Moves the scan to i: closes the pending cluster when nothing new can overlap it. */
static void begin(struct nlu_ent_scan *sc, size_t i)
{
    if (sc->npend > 0 && i >= sc->pend_end) {
        flush(sc);
    }
    sc->pos = i;
}

/* A run of letters and digits at i: returns its end. */
static size_t at_run(struct nlu_ent_scan *sc, size_t i, bool has_at)
{
    const char *s = sc->s;
    size_t len = sc->len;
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    nlu_ent_kw_at(sc, i, &w, &kw);
    /* the bodies of @handles and #hashtags are not words of the message */
    if (i > 0 && (s[i - 1] == '@' || s[i - 1] == '#')) {
        return w.end;
    }
    begin(sc, i);
    if (has_at) {
        nlu_ent_email(sc, i);
    }
    if (w.end < len && (s[w.end] == '.' || s[w.end] == ':' || s[w.end] == '-')) {
        nlu_ent_url(sc, i, w.end);
    }
    if (nlu_ent_digit((unsigned char)s[i])) {
        nlu_ent_at_digit(sc, i);
    } else {
        nlu_ent_at_word(sc, &w, kw);
    }
    return w.end;
}

size_t nlu_entities(const char *s, size_t len, struct nlu_entity *out, size_t max)
{
    if (s == NULL || len == 0) {
        return 0;
    }
    if (len > UINT32_MAX) {
        len = UINT32_MAX; /* spans are 32-bit; texts are far shorter (NLU_MAX_TEXT) */
    }
    struct nlu_ent_scan sc;
    sc.s = s;
    sc.len = len;
    sc.pos = 0;
    sc.pend_end = 0;
    sc.done_end = 0;
    sc.npend = 0;
    sc.out = out;
    sc.max = max;
    sc.count = 0;
    sc.cache_pos = SIZE_MAX;
    bool has_at = memchr(s, '@', len) != NULL;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (nlu_ent_alnum(c)) {
                i = at_run(&sc, i, has_at);
                continue;
            }
            if (c == '$' || c == '+' || c == '(' || c == '#' || c == '@') {
                begin(&sc, i);
                if (c == '$') {
                    nlu_ent_at_symbol(&sc, i, NLU_ENT_USD, 1);
                } else if (c == '#') {
                    nlu_ent_at_hash(&sc, i);
                } else if (c == '@') {
                    nlu_ent_at_handle(&sc, i);
                } else {
                    nlu_ent_at_plus(&sc, i);
                }
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = nlu_ent_decode(s, len, i, &cp);
        if (nlu_ent_word_cp(cp)) {
            i = at_run(&sc, i, has_at);
            continue;
        }
        size_t w;
        int cur = nlu_ent_cur_symbol(s, len, i, &w);
        if (cur >= 0) {
            begin(&sc, i);
            nlu_ent_at_symbol(&sc, i, cur, w);
        } else if (cp == 0x2116) {
            begin(&sc, i);
            nlu_ent_at_numero(&sc, i, n);
        } else if (cp == 0xD7) {
            begin(&sc, i);
            nlu_ent_at_times(&sc, i, n);
        }
        i += n;
    }
    flush(&sc);
    return sc.count;
}
