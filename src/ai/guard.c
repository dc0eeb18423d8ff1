/*
 * ai/guard: the checks a generated reply passes before it is stored and sent.
 *
 * In order: the reply is made valid UTF-8 (bad bytes become U+FFFD) and trimmed of white
 * space (also Unicode spaces); nothing left is EMPTY. A reply over AI_TEXT_LIMIT bytes is cut
 * at the last sentence end that fits (". ! ? …" followed by a space or closing quotes, the CJK
 * full stops and marks without one, or a line break); with no such place it is TOO_LONG. The
 * text that would be sent is then checked for a LEAK (eight consecutive words of the system
 * prompt, compared case-folded, or the prompt's first 40 bytes verbatim; runs that are also in
 * a knowledge entry are quotes of facts, not leaks) and for FIGUREs: prices and quantities the
 * NLU finds, and bare numbers next to price, currency or stock words ("costs 1500", "only 12
 * left", "в наличии 5"), must each have their numeric value in a knowledge entry or in the
 * customer's text. Values are compared normalised ("1 500 ₽", "1500", "1,500.00" are 1500;
 * in the sources an ambiguous "1,500" or "1.500" counts both ways). A LEAK outranks a FIGURE,
 * which outranks TOO_LONG.
 */
#include "ai/ai.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/nlu.h"

#define LEAK_WORDS  8
#define LEAK_PREFIX 40
#define NUM_MAX     24 /* canonical numbers: at most 20 integer and a few decimal digits */

/* ---- UTF-8 ---- */

/* Length of the well-formed character at s[i] (its code point in *cp), 0 when malformed. */
static size_t u8_char(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = c >= 0xF5 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || n > len - i)
        return 0;
    uint32_t v = c & (0x7Fu >> n);
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3Fu);
    }
    static const uint32_t MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < MIN[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* A copy of s with every malformed byte replaced by U+FFFD. */
static char *valid_copy(const char *s, size_t len)
{
    if (nlu_utf8_check(s, len, NULL) == 0)
        return dk_strndup(s, len);
    struct dk_buf b;
    dk_buf_init(&b, len * 3 + 1);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = u8_char(p, len, i, &cp);
        if (k == 0) {
            dk_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            dk_buf_append(&b, s + i, k);
            i += k;
        }
    }
    return dk_buf_take(&b, NULL);
}

static bool is_space_cp(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

/* The length of s[0..len) (valid UTF-8) without trailing white space. */
static size_t rtrim_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    while (len > 0) {
        size_t i = len - 1;
        while (i > 0 && (p[i] & 0xC0) == 0x80)
            i--;
        uint32_t cp;
        if (u8_char(p, len, i, &cp) == 0 || !is_space_cp(cp))
            break;
        len = i;
    }
    return len;
}

/* Trims s (valid UTF-8) in place; returns the new length. */
static size_t trim(char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0;
    while (start < len) {
        uint32_t cp;
        size_t k = u8_char(p, len, start, &cp);
        if (k == 0 || !is_space_cp(cp))
            break;
        start += k;
    }
    len = rtrim_len(s + start, len - start);
    memmove(s, s + start, len);
    s[len] = '\0';
    return len;
}

/* ---- sentence ends ---- */

/* 1: a sentence end that needs a space after it, 2: one that does not (CJK), 0: neither. */
static int terminator(uint32_t cp)
{
    switch (cp) {
    case '.':
    case '!':
    case '?':
    case 0x2026: /* … */
    case 0x203C: /* ‼ */
    case 0x2047: /* ⁇ */
    case 0x2048: /* ⁈ */
    case 0x2049: /* ⁉ */
    case 0x061F: /* Arabic question mark */
    case 0x06D4: /* Arabic full stop */
    case 0x0964: /* Devanagari danda */
        return 1;
    case 0x3002: /* 。 */
    case 0xFF01: /* ！ */
    case 0xFF1F: /* ？ */
    case 0xFF0E: /* ． */
    case 0xFF61: /* ｡ */
        return 2;
    default:
        return 0;
    }
}

static bool closer(uint32_t cp)
{
    return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == 0xBB || cp == 0x201D ||
           cp == 0x2019 || cp == 0x300D || cp == 0x300F || cp == 0xFF09;
}

/* The longest prefix of s[0..len) (valid UTF-8) that ends a sentence or a line and has at most
 * limit bytes once trailing white space is dropped; 0 when there is none. */
static size_t sentence_cut(const char *s, size_t len, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t best = 0;
    size_t i = 0;
    while (i < len && i <= limit) {
        uint32_t cp;
        size_t k = u8_char(p, len, i, &cp);
        if (cp == '\n' || cp == '\r') {
            if (rtrim_len(s, i) > 0)
                best = i;
            i += k;
            continue;
        }
        int t = terminator(cp);
        if (t == 0) {
            i += k;
            continue;
        }
        size_t j = i + k;
        bool strong = t == 2;
        while (j < len) { /* "?!", "...", then closing quotes and brackets */
            size_t kk = u8_char(p, len, j, &cp);
            int tt = terminator(cp);
            if (tt == 0)
                break;
            strong = strong || tt == 2;
            j += kk;
        }
        while (j < len) {
            size_t kk = u8_char(p, len, j, &cp);
            if (!closer(cp))
                break;
            j += kk;
        }
        bool end = strong || j == len;
        if (!end) {
            u8_char(p, len, j, &cp);
            end = is_space_cp(cp);
        }
        if (end && j <= limit)
            best = j;
        i = j;
    }
    return rtrim_len(s, best);
}

/* ---- numbers ---- */

/* The canonical form of the number in r (ASCII digits, ',', '.', ' '), reading dec as the
 * decimal mark and the other marks as group separators: "1500", "49.99", "0.5". False when
 * r does not read as a number that way (groups after a separator have exactly three digits,
 * the first one at most three, and nothing but digits follows the decimal mark). */
static bool canon(const char *r, char dec, char out[NUM_MAX])
{
    char ip[NUM_MAX], fp[NUM_MAX];
    size_t ni = 0, nf = 0;
    size_t group = 0;     /* digits since the last mark */
    bool grouped = false; /* a group separator came before this group */
    bool in_frac = false;
    for (const char *c = r;; c++) {
        if (*c >= '0' && *c <= '9') {
            group++;
            if (in_frac) {
                if (nf == 4)
                    return false;
                fp[nf++] = *c;
            } else if (ni > 0 || *c != '0') { /* leading zeros dropped */
                if (ni == 20)
                    return false;
                ip[ni++] = *c;
            }
            continue;
        }
        if (grouped ? group != 3 : (*c != '\0' && *c != dec && group > 3))
            return false;
        if (*c == '\0')
            break;
        if (in_frac)
            return false; /* any mark after the decimal mark */
        if (*c == dec)
            in_frac = true;
        grouped = !in_frac;
        group = 0;
    }
    while (nf > 0 && fp[nf - 1] == '0')
        nf--;
    if (ni == 0)
        ip[ni++] = '0';
    snprintf(out, NUM_MAX, "%.*s%s%.*s", (int)ni, ip, nf ? "." : "", (int)nf, fp);
    return true;
}

/* Width of a space that may separate digit groups at s[i] ("1 500", "1 500"), else 0. */
static size_t group_space(const char *s, size_t len, size_t i)
{
    if (s[i] == ' ')
        return 1;
    if (i + 1 < len && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xA0)
        return 2;
    if (i + 2 < len && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xAF || (unsigned char)s[i + 2] == 0x89))
        return 3; /* U+202F narrow no-break space, U+2009 thin space */
    return 0;
}

static bool digit_at(const char *s, size_t len, size_t i)
{
    return i < len && s[i] >= '0' && s[i] <= '9';
}

/* A run of digits with inner separators ("1 500", "1,500.00", "49,99") starting at s[i] (a
 * digit): its end, and its ASCII form in r (spaces unified to ' '). */
static size_t number_run(const char *s, size_t len, size_t i, char r[64])
{
    size_t n = 0;
    for (;;) {
        while (digit_at(s, len, i)) {
            if (n < 63)
                r[n++] = s[i];
            i++;
        }
        size_t w = i < len ? group_space(s, len, i) : 0;
        if (i < len && (s[i] == ',' || s[i] == '.') && digit_at(s, len, i + 1)) {
            if (n < 63)
                r[n++] = s[i];
            i++;
        } else if (w > 0 && digit_at(s, len, i + w) && digit_at(s, len, i + w + 1) &&
                   digit_at(s, len, i + w + 2) && !digit_at(s, len, i + w + 3)) {
            if (n < 63)
                r[n++] = ' ';
            i += w;
        } else {
            break;
        }
    }
    r[n] = '\0';
    return i;
}

struct numset {
    char (*v)[NUM_MAX];
    size_t n, cap;
};

/* Appends without looking for duplicates: the set is built from every fact but asked about
 * a handful of figures. */
static void numset_add(struct numset *s, const char *num)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->v = dk_realloc(s->v, s->cap * sizeof(*s->v));
    }
    snprintf(s->v[s->n++], NUM_MAX, "%s", num);
}

static bool numset_has(const struct numset *s, const char *num)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], num) == 0)
            return true;
    }
    return false;
}

/* Every reading of r: both decimal marks, and each space-separated group on its own. */
static void add_readings(struct numset *s, const char *r)
{
    char c[NUM_MAX];
    if (canon(r, '.', c))
        numset_add(s, c);
    if (canon(r, ',', c))
        numset_add(s, c);
    if (strchr(r, ' ') == NULL)
        return;
    char part[64];
    for (const char *p = r; *p;) {
        size_t n = strcspn(p, " ");
        snprintf(part, sizeof(part), "%.*s", (int)n, p);
        add_readings(s, part);
        p += n + (p[n] == ' ');
    }
}

/* Adds the numbers of a source text (a knowledge entry, the customer's message). */
static void add_source(struct numset *s, const char *text)
{
    if (text == NULL)
        return;
    size_t len = strlen(text);
    char r[64];
    for (size_t i = 0; i < len;) {
        if (!digit_at(text, len, i)) {
            i++;
            continue;
        }
        i = number_run(text, len, i, r);
        add_readings(s, r);
    }
    /* the NLU's own reading of amounts ("1,5 тыс" and the like) */
    if (len > NLU_MAX_TEXT || nlu_utf8_check(text, len, NULL) < 0)
        return;
    struct nlu_entity ents[NLU_MAX_ENTITIES];
    size_t n = nlu_entities(text, len, ents, NLU_MAX_ENTITIES);
    char c[NUM_MAX];
    for (size_t i = 0; i < n && i < NLU_MAX_ENTITIES; i++) {
        if ((ents[i].kind == NLU_ENT_PRICE || ents[i].kind == NLU_ENT_QUANTITY) &&
            canon(ents[i].value, '.', c))
            numset_add(s, c);
    }
}

/* Whether a reading of r is allowed: only the decimal point for the NLU's normalised values
 * (exact), both marks for text as written. The first reading goes to shown. */
static bool allowed(const struct numset *ok, const char *r, bool exact, char shown[NUM_MAX])
{
    char c[NUM_MAX];
    bool any = false;
    shown[0] = '\0';
    for (int k = 0; k < (exact ? 1 : 2); k++) {
        if (!canon(r, k ? ',' : '.', c))
            continue;
        if (shown[0] == '\0')
            snprintf(shown, NUM_MAX, "%s", c);
        any = any || numset_has(ok, c);
    }
    if (shown[0] == '\0')
        snprintf(shown, NUM_MAX, "%.*s", NUM_MAX - 1, r);
    return any;
}

/* ---- words around a bare number ---- */

enum cue { CUE_NONE, CUE_PRICE, CUE_STOCK };

static bool word_in(const char *w, const char *const *list, bool prefix)
{
    for (size_t i = 0; list[i]; i++) {
        size_t n = strlen(list[i]);
        if (prefix ? strncmp(w, list[i], n) == 0 : strcmp(w, list[i]) == 0)
            return true;
    }
    return false;
}

static const char *const CURRENCY[] = {
    "$",    "€",     "£",     "₽",    "₴",      "₸",       "¥",      "₺",       "usd",
    "eur",  "rub",   "gbp",   "uah",    "kzt",    "р",       "dollar", "dollars", "bucks",
    "euro", "euros", "ruble", "rubles", "rouble", "roubles", "pound",  "pounds",  NULL};
static const char *const CURRENCY_STEMS[] = {"руб", "долл", "евро", "грн", "гривн", "тенге", NULL};
static const char *const PRICE_BEFORE[] = {"price", "prices", "priced", "cost", "costs", NULL};
static const char *const PRICE_BEFORE_STEMS[] = {"цен", "стоимост", "стоит", "стоят", NULL};
static const char *const STOCK[] = {"left",   "stock", "available", "remaining", "pcs", "pc",
                                    "pieces", "piece", "items",     "units",     "шт",  NULL};
static const char *const STOCK_STEMS[] = {"остал", "наличи", "штук", "доступн", "остат", NULL};

/* Whether a punctuation token may sit between a number and its words ("Price: 10", "— 5"). */
static bool transparent(const char *norm)
{
    return strcmp(norm, ":") == 0 || strcmp(norm, "-") == 0 || strcmp(norm, "—") == 0 ||
           strcmp(norm, "–") == 0;
}

/* The cue of token t at distance dist (1: next to the number) on side before/after. */
static enum cue cue_of(const struct nlu_token *t, int dist, bool before)
{
    if (dist == 1 && (word_in(t->norm, CURRENCY, false) || word_in(t->norm, CURRENCY_STEMS, true)))
        return CUE_PRICE;
    if (t->kind == NLU_TOK_WORD && before &&
        (word_in(t->norm, PRICE_BEFORE, false) || word_in(t->norm, PRICE_BEFORE_STEMS, true)))
        return CUE_PRICE;
    if (t->kind == NLU_TOK_WORD &&
        (word_in(t->norm, STOCK, false) || word_in(t->norm, STOCK_STEMS, true)))
        return CUE_STOCK;
    return CUE_NONE;
}

/* What the words within two tokens of the span [start, end) make of the number there. */
static enum cue number_cue(const struct nlu_tokens *tk, size_t start, size_t end)
{
    for (int side = 0; side < 2; side++) {
        bool before = side == 0;
        int dist = 0;
        size_t i = 0;
        if (before) {
            while (i < tk->n && tk->v[i].end <= start)
                i++; /* i: the first token not before the span */
        } else {
            while (i < tk->n && tk->v[i].start < end)
                i++;
        }
        for (;;) {
            const struct nlu_token *t;
            if (before) {
                if (i == 0)
                    break;
                t = &tk->v[--i];
            } else {
                if (i >= tk->n)
                    break;
                t = &tk->v[i++];
            }
            if (t->kind == NLU_TOK_PUNCT && transparent(t->norm))
                continue;
            dist++;
            enum cue c = cue_of(t, dist, before);
            if (c != CUE_NONE)
                return c;
            if (t->kind != NLU_TOK_WORD || dist == 2)
                break;
        }
    }
    return CUE_NONE;
}

static const char *const LIST_JOINERS[] = {",", "/", "&", "-", "and", "or", "и", "или", NULL};
static const char *const SIZE_STEMS[] = {"size", "размер", "рост", NULL};

static bool in_entity(const struct nlu_entity *e, size_t n, unsigned kind,
                      const struct nlu_token *t)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].kind == kind && e[i].start < t->end && e[i].end > t->start)
            return true;
    }
    return false;
}

/* Whether the number at start ends a list of sizes: "sizes 42 and 44", "размер 42, 44 и 46"
 * (the stock words after such a list speak of the sizes, not of a count). */
static bool in_size_list(const struct nlu_tokens *tk, const struct nlu_entity *e, size_t n,
                         size_t start)
{
    size_t i = 0;
    while (i < tk->n && tk->v[i].end <= start)
        i++;
    while (i-- > 0) {
        const struct nlu_token *t = &tk->v[i];
        if (in_entity(e, n, NLU_ENT_SIZE, t))
            return true;
        if (t->kind == NLU_TOK_NUMBER || word_in(t->norm, LIST_JOINERS, false))
            continue;
        return t->kind == NLU_TOK_WORD && word_in(t->norm, SIZE_STEMS, true);
    }
    return false;
}

/* ---- figures ---- */

static bool overlaps(const struct nlu_entity *e, size_t n, size_t start, size_t end)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].start < end && e[i].end > start)
            return true;
    }
    return false;
}

/* FIGURE with the reason filled, or OK. text is valid UTF-8 of at most NLU_MAX_TEXT bytes. */
static enum ai_guard_verdict check_figures(const struct ai_guard_in *in, const char *text,
                                           size_t len, char *reason, size_t reason_len)
{
    struct numset ok = {0};
    for (size_t i = 0; i < in->nkb; i++) {
        add_source(&ok, in->kb[i].question);
        add_source(&ok, in->kb[i].answer);
    }
    add_source(&ok, in->customer_text);

    enum ai_guard_verdict v = AI_GUARD_OK;
    char shown[NUM_MAX], r[64];
    size_t cap = NLU_MAX_ENTITIES;
    struct nlu_entity *ents = dk_malloc(cap * sizeof(*ents));
    size_t n = nlu_entities(text, len, ents, cap);
    if (n > cap) {
        ents = dk_realloc(ents, n * sizeof(*ents));
        n = nlu_entities(text, len, ents, n);
    }
    for (size_t i = 0; i < n && v == AI_GUARD_OK; i++) {
        const struct nlu_entity *e = &ents[i];
        if (e->kind != NLU_ENT_PRICE && e->kind != NLU_ENT_QUANTITY)
            continue;
        bool good = allowed(&ok, e->value, true, shown);
        /* also the digits as written, for readings the NLU did not pick ("1.500 руб") */
        for (size_t j = e->start; j < e->end && !good; j++) {
            if (digit_at(text, e->end, j) && (j == e->start || !digit_at(text, len, j - 1))) {
                char other[NUM_MAX];
                j = number_run(text, e->end, j, r);
                good = allowed(&ok, r, false, other);
            }
        }
        if (!good) {
            snprintf(reason, reason_len, "%s %s is not in the knowledge base",
                     nlu_ent_kind_name((enum nlu_ent_kind)e->kind), shown);
            v = AI_GUARD_FIGURE;
        }
    }

    struct nlu_tokens tk;
    nlu_tokens_init(&tk);
    if (v == AI_GUARD_OK && nlu_tokenize(text, len, &tk, NULL) == 0) {
        for (size_t i = 0; i < len && v == AI_GUARD_OK;) {
            if (!digit_at(text, len, i) || (i > 0 && digit_at(text, len, i - 1))) {
                i++;
                continue;
            }
            size_t end = number_run(text, len, i, r);
            enum cue c = overlaps(ents, n, i, end) || in_size_list(&tk, ents, n, i)
                             ? CUE_NONE
                             : number_cue(&tk, i, end);
            if (c != CUE_NONE && !allowed(&ok, r, false, shown)) {
                snprintf(reason, reason_len, "%s %s is not in the knowledge base",
                         c == CUE_PRICE ? "price" : "quantity", shown);
                v = AI_GUARD_FIGURE;
            }
            i = end;
        }
    }
    nlu_tokens_free(&tk);
    dk_free(ents);
    dk_free(ok.v);
    return v;
}

/* ---- leaks ---- */

static bool is_word(const struct nlu_token *t)
{
    return t->kind != NLU_TOK_PUNCT && t->kind != NLU_TOK_EMOJI && t->kind != NLU_TOK_EMOTICON;
}

/* The word tokens of s as indexes into tk (new array), count in *n; false when s does not
 * tokenise (invalid UTF-8). Text over NLU_MAX_TEXT is read up to there. */
static bool words_of(const char *s, struct nlu_tokens *tk, size_t **idx, size_t *n)
{
    size_t len = strlen(s);
    if (len > NLU_MAX_TEXT) {
        len = NLU_MAX_TEXT;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    *idx = NULL;
    *n = 0;
    if (nlu_tokenize(s, len, tk, NULL) < 0)
        return false;
    *idx = dk_malloc((tk->n ? tk->n : 1) * sizeof(size_t));
    for (size_t i = 0; i < tk->n; i++) {
        if (is_word(&tk->v[i]))
            (*idx)[(*n)++] = i;
    }
    return true;
}

/* Whether the LEAK_WORDS words at a[ai…] of ta equal those at b[bi…] of tb. */
static bool same_run(const struct nlu_tokens *ta, const size_t *a, const struct nlu_tokens *tb,
                     const size_t *b)
{
    for (size_t k = 0; k < LEAK_WORDS; k++) {
        const struct nlu_token *x = &ta->v[a[k]], *y = &tb->v[b[k]];
        if (x->norm_len != y->norm_len || memcmp(x->norm, y->norm, x->norm_len) != 0)
            return false;
    }
    return true;
}

/* The words of the knowledge entries, tokenised when a run first matches the prompt. */
struct fact_words {
    struct nlu_tokens tk;
    size_t *w;
    size_t n;
};

static struct fact_words *fact_words_new(const struct ai_guard_in *in)
{
    struct fact_words *f = dk_calloc(2 * in->nkb + 1, sizeof(*f));
    for (size_t i = 0; i < 2 * in->nkb; i++) {
        const char *s = i % 2 ? in->kb[i / 2].answer : in->kb[i / 2].question;
        nlu_tokens_init(&f[i].tk);
        if (s != NULL)
            words_of(s, &f[i].tk, &f[i].w, &f[i].n);
    }
    return f;
}

static void fact_words_free(struct fact_words *f, size_t nkb)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < 2 * nkb; i++) {
        nlu_tokens_free(&f[i].tk);
        dk_free(f[i].w);
    }
    dk_free(f);
}

/* Whether the run of words at run (indexes into tt) is also a run of some knowledge entry. */
static bool quoted_fact(const struct fact_words *f, size_t nf, const struct nlu_tokens *tt,
                        const size_t *run)
{
    for (size_t i = 0; i < nf; i++) {
        for (size_t j = 0; j + LEAK_WORDS <= f[i].n; j++) {
            if (same_run(tt, run, &f[i].tk, f[i].w + j))
                return true;
        }
    }
    return false;
}

/* LEAK with the reason filled, or OK. */
static enum ai_guard_verdict check_leak(const struct ai_guard_in *in, const char *text,
                                        char *reason, size_t reason_len)
{
    const char *sp = in->system_prompt;
    if (sp == NULL)
        return AI_GUARD_OK;
    sp += strspn(sp, " \t\r\n");
    if (strlen(sp) >= LEAK_PREFIX && memmem(text, strlen(text), sp, LEAK_PREFIX) != NULL) {
        snprintf(reason, reason_len, "repeats the start of the system prompt");
        return AI_GUARD_LEAK;
    }

    enum ai_guard_verdict v = AI_GUARD_OK;
    struct nlu_tokens tp, tr;
    nlu_tokens_init(&tp);
    nlu_tokens_init(&tr);
    struct fact_words *facts = NULL;
    size_t *wp = NULL, *wr = NULL, np = 0, nr = 0;
    if (words_of(sp, &tp, &wp, &np) && np >= LEAK_WORDS && words_of(text, &tr, &wr, &nr)) {
        for (size_t i = 0; i + LEAK_WORDS <= nr && v == AI_GUARD_OK; i++) {
            for (size_t j = 0; j + LEAK_WORDS <= np; j++) {
                if (!same_run(&tr, wr + i, &tp, wp + j))
                    continue;
                if (facts == NULL)
                    facts = fact_words_new(in);
                if (quoted_fact(facts, 2 * in->nkb, &tr, wr + i))
                    break;
                const struct nlu_token *a = &tr.v[wr[i]], *b = &tr.v[wr[i + LEAK_WORDS - 1]];
                snprintf(reason, reason_len, "repeats the system prompt: \"%.*s\"",
                         (int)(b->end - a->start), text + a->start);
                v = AI_GUARD_LEAK;
                break;
            }
        }
    }
    fact_words_free(facts, in->nkb);
    dk_free(wp);
    dk_free(wr);
    nlu_tokens_free(&tp);
    nlu_tokens_free(&tr);
    return v;
}

/* ---- the check ---- */

enum ai_guard_verdict ai_guard_check(const struct ai_guard_in *in, char **fitted, char *reason,
                                     size_t reason_len)
{
    char scratch[8];
    if (reason == NULL || reason_len == 0) {
        reason = scratch;
        reason_len = sizeof(scratch);
    }
    reason[0] = '\0';
    struct ai_guard_in g = {0};
    if (in != NULL)
        g = *in;
    if (g.kb == NULL)
        g.nkb = 0;
    in = &g;
    const char *reply = in->reply != NULL ? in->reply : "";
    char *text = valid_copy(reply, strlen(reply));
    size_t len = trim(text, strlen(text));
    if (fitted != NULL)
        *fitted = text;
    if (len == 0) {
        snprintf(reason, reason_len, "the reply is empty");
        if (fitted == NULL)
            dk_free(text);
        return AI_GUARD_EMPTY;
    }

    bool too_long = false;
    if (len > AI_TEXT_LIMIT) {
        size_t cut = sentence_cut(text, len, AI_TEXT_LIMIT);
        if (cut == 0) {
            too_long = true;
        } else {
            text[cut] = '\0';
            len = cut;
        }
    }

    enum ai_guard_verdict v = check_leak(in, text, reason, reason_len);
    if (v == AI_GUARD_OK) {
        size_t n = len;
        if (n > NLU_MAX_TEXT) { /* a TOO_LONG reply: its start is enough */
            n = NLU_MAX_TEXT;
            while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                n--;
        }
        v = check_figures(in, text, n, reason, reason_len);
    }
    if (v == AI_GUARD_OK && too_long) {
        snprintf(reason, reason_len,
                 "the reply has %zu bytes (limit %d) and no sentence end to cut at", len,
                 AI_TEXT_LIMIT);
        v = AI_GUARD_TOO_LONG;
    }
    if (fitted == NULL)
        dk_free(text);
    return v;
}

const char *ai_guard_name(enum ai_guard_verdict v)
{
    switch (v) {
    case AI_GUARD_OK:
        return "ok";
    case AI_GUARD_EMPTY:
        return "empty";
    case AI_GUARD_TOO_LONG:
        return "too_long";
    case AI_GUARD_LEAK:
        return "leak";
    case AI_GUARD_FIGURE:
        return "figure";
    }
    return "unknown";
}
