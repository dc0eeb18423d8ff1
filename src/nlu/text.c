/*
 * nlu/text: UTF-8 validation and tokenisation.
 *
 * The tokenizer walks the input once. At each position it tries the recognisers that can start
 * with that character (URL, e-mail, domain, emoticon, keycap, number/price, word, emoji,
 * handle, hashtag, punctuation) and appends one token with its normalised form. ASCII bytes
 * are classified and folded without calling utf8proc, and so are the common Latin-1 and
 * Cyrillic letters; other code points go through utf8proc's tables, and the tokens that hold
 * them are normalised (NFKC + case folding) in one utf8proc pass (textnorm.c). Norm strings
 * are stored back to back, each with
 * its NUL, in out->text, so their pointers are computed once at the end: the buffer may move
 * while it grows. Once the buffers of an nlu_tokens have grown, tokenizing allocates nothing.
 * The recognisers of the less common shapes (URLs, e-mails, emoticons, prices) are in
 * textscan.c.
 */
#include "nlu/nlu.h"
#include "nlu/text_int.h"

#include <string.h>

/* ---- UTF-8 validation ---- */

static int bad_utf8(struct dk_err *err, size_t at, const char *why)
{
    return dk_err_set(err, DK_EINVAL, "invalid UTF-8 at byte %zu: %s", at, why);
}

/* True when none of the 8 bytes is zero or has its top bit set. */
static bool plain_ascii8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
    return ((w | ((w - lo) & ~w)) & hi) == 0;
}

int nlu_utf8_check(const char *s, size_t len, struct dk_err *err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len && plain_ascii8(p + i)) {
            i += 8;
            continue;
        }
        unsigned c = p[i];
        if (c < 0x80) {
            if (c == 0)
                return bad_utf8(err, i, "NUL byte");
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0xC0)
            return bad_utf8(err, i, "unexpected continuation byte");
        if (c < 0xC2)
            return bad_utf8(err, i, "overlong encoding");
        if (c < 0xE0) {
            need = 1;
        } else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return bad_utf8(err, i, "code point above U+10FFFF");
        }
        if (len - i <= need)
            return bad_utf8(err, i, "truncated sequence");
        unsigned c1 = p[i + 1];
        if (c1 < 0x80 || c1 > 0xBF)
            return bad_utf8(err, i, "truncated sequence");
        if (c1 < lo || c1 > hi) {
            if (c == 0xED)
                return bad_utf8(err, i, "surrogate");
            if (c == 0xF4)
                return bad_utf8(err, i, "code point above U+10FFFF");
            return bad_utf8(err, i, "overlong encoding");
        }
        for (size_t k = 2; k <= need; k++) {
            unsigned ck = p[i + k];
            if (ck < 0x80 || ck > 0xBF)
                return bad_utf8(err, i, "truncated sequence");
        }
        i += need + 1;
    }
    return 0;
}

/* ---- token list ---- */

void nlu_tokens_init(struct nlu_tokens *t)
{
    memset(t, 0, sizeof(*t));
}

void nlu_tokens_free(struct nlu_tokens *t)
{
    if (t == NULL)
        return;
    dk_free(t->v);
    dk_free(t->text);
    memset(t, 0, sizeof(*t));
}

char *nlu_text_reserve(struct nlu_tokens *t, size_t n)
{
    if (t->text_cap - t->text_len < n) {
        size_t cap = t->text_cap ? t->text_cap : 256;
        while (cap - t->text_len < n)
            cap *= 2;
        t->text = dk_realloc(t->text, cap);
        t->text_cap = cap;
    }
    return t->text + t->text_len;
}

/* Appends a token whose norm has just been written at out->text + mark (NUL not yet added).
 * Tokens with an empty norm (only ignorable code points) are dropped. */
static void push(struct nlu_tokens *t, size_t mark, size_t start, size_t end, int kind, int script,
                 int flags)
{
    size_t nlen = t->text_len - mark;
    if (nlen == 0)
        return;
    nlu_text_reserve(t, 1);
    t->text[t->text_len++] = '\0';
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->v = dk_realloc(t->v, t->cap * sizeof(*t->v));
    }
    struct nlu_token *k = &t->v[t->n++];
    k->norm = NULL;
    k->norm_len = (uint32_t)nlen;
    k->start = (uint32_t)start;
    k->end = (uint32_t)end;
    k->kind = (uint8_t)kind;
    k->script = (uint8_t)script;
    k->flags = (uint8_t)flags;
}

/* Copies s[0..n) as it is. */
static void put_raw(struct nlu_tokens *t, const char *s, size_t n)
{
    memcpy(nlu_text_reserve(t, n), s, n);
    t->text_len += n;
}

/* Copies ASCII s[0..n) in lower case; when host_only, only up to the first '/' after the
 * scheme (the path of a URL keeps its case). */
static void put_lower(struct nlu_tokens *t, const char *s, size_t n, bool host_only)
{
    char *d = nlu_text_reserve(t, n);
    size_t i = 0, slashes = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (host_only && c == '/') {
            slashes++;
            if (slashes == 3 || (slashes == 1 && (i == 0 || s[i - 1] != ':')))
                break;
        }
        d[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    memcpy(d + i, s + i, n - i);
    t->text_len += n;
}

/* Normalises s[0..n): ASCII is folded here, the rest through utf8proc. */
static void put_norm(struct nlu_tokens *t, const char *s, size_t n, bool ascii, int mode,
                     uint8_t *flags)
{
    if (ascii)
        nlu_text_fold_ascii(t, s, n, mode, flags);
    else
        nlu_text_fold(t, s, n, mode, flags);
}

/* ---- the scanner ---- */

struct scan {
    const char *s;
    size_t len;
    struct nlu_tokens *out;
};

static bool is_space_ascii(unsigned c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Scans a word from i: letters, marks, digits, inner apostrophes and hyphens, and joiners
 * between letters. Sets *ascii when all bytes are ASCII. */
static size_t scan_word(const struct scan *sc, size_t i, bool *ascii)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i;
    *ascii = true;
    while (j < len) {
        unsigned c = (unsigned char)s[j];
        if (c < 0x80) {
            if (nlu_is_alnum(c)) {
                j++;
                continue;
            }
            if ((c == '\'' || c == '-') && j > i && j + 1 < len) {
                size_t n;
                int32_t nx = nlu_decode(s, j + 1, len, &n);
                if (nlu_cp_is_letter(nx) || (c == '-' && nlu_cp_is_wordch(nx))) {
                    j++;
                    continue;
                }
            }
            break;
        }
        size_t n;
        int32_t cp = nlu_decode(s, j, len, &n);
        if (nlu_cp_is_common_letter(cp) ||
            (nlu_cp_is_wordch(cp) && !nlu_cp_is_emoji_start(cp, s, j + n, len))) {
            *ascii = false;
            j += n;
            continue;
        }
        if (nlu_cp_is_inner(cp) && j > i && j + n < len) {
            size_t n2;
            int32_t nx = nlu_decode(s, j + n, len, &n2);
            if (nlu_cp_is_letter(nx)) {
                *ascii = false;
                j += n;
                continue;
            }
        }
        break;
    }
    return j;
}

static void emit_word(const struct scan *sc, size_t i, size_t j, bool ascii)
{
    struct nlu_tokens *t = sc->out;
    size_t mark = t->text_len;
    uint8_t flags = 0;
    int script;
    if (ascii) {
        nlu_text_fold_ascii(t, sc->s + i, j - i, NLU_FOLD_WORD, &flags);
        script = NLU_SCRIPT_OTHER;
        for (size_t k = i; k < j; k++) {
            if (nlu_is_alpha((unsigned char)sc->s[k])) {
                script = NLU_SCRIPT_LATIN;
                break;
            }
        }
    } else {
        script = nlu_text_fold(t, sc->s + i, j - i, NLU_FOLD_WORD, &flags);
    }
    push(t, mark, i, j, NLU_TOK_WORD, script, flags);
}

/* A token whose norm is the input bytes themselves (emoji, emoticons, numbers). */
static void emit_raw(const struct scan *sc, size_t i, size_t j, int kind)
{
    size_t mark = sc->out->text_len;
    put_raw(sc->out, sc->s + i, j - i);
    push(sc->out, mark, i, j, kind, NLU_SCRIPT_OTHER, 0);
}

static void emit_lower(const struct scan *sc, size_t i, size_t j, int kind, bool host_only)
{
    size_t mark = sc->out->text_len;
    put_lower(sc->out, sc->s + i, j - i, host_only);
    push(sc->out, mark, i, j, kind, NLU_SCRIPT_OTHER, 0);
}

static void emit_norm(const struct scan *sc, size_t i, size_t j, int kind, int mode)
{
    bool ascii = true;
    for (size_t k = i; k < j && ascii; k++)
        ascii = (unsigned char)sc->s[k] < 0x80;
    struct nlu_tokens *t = sc->out;
    size_t mark = t->text_len;
    uint8_t flags = 0;
    put_norm(t, sc->s + i, j - i, ascii, mode, &flags);
    if (kind == NLU_TOK_PUNCT && !ascii) {
        /* "№" and "™" would become the words "no" and "tm": symbols keep their bytes */
        for (size_t k = mark; k < t->text_len;) {
            size_t n;
            if (nlu_cp_is_wordch(nlu_decode(t->text, k, t->text_len, &n))) {
                t->text_len = mark;
                put_raw(t, sc->s + i, j - i);
                break;
            }
            k += n;
        }
    }
    push(t, mark, i, j, kind, NLU_SCRIPT_OTHER, 0);
}

/* A token starting with an ASCII letter or digit; returns its end. */
static size_t scan_alnum(const struct scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j;
    unsigned c = (unsigned char)s[i];

    j = nlu_scan_url(s, i, len);
    if (j > i) {
        emit_lower(sc, i, j, NLU_TOK_URL, true);
        return j;
    }
    if (c == 'x' || c == 'X') {
        j = nlu_scan_emoticon(s, i, len);
        if (j > i) {
            emit_raw(sc, i, j, NLU_TOK_EMOTICON);
            return j;
        }
    }
    if (nlu_is_digit(c)) {
        j = nlu_scan_keycap(s, i, len);
        if (j > i) {
            emit_raw(sc, i, j, NLU_TOK_EMOJI);
            return j;
        }
    }
    j = nlu_scan_email(s, i, len);
    if (j > i) {
        emit_lower(sc, i, j, NLU_TOK_EMAIL, false);
        return j;
    }
    j = nlu_scan_domain(s, i, len);
    if (j > i) {
        emit_lower(sc, i, j, NLU_TOK_URL, true);
        return j;
    }
    if (nlu_is_digit(c)) {
        bool seps;
        j = nlu_scan_number(s, i, len, &seps);
        size_t k = nlu_scan_currency(s, j, len);
        if (k > j) {
            emit_norm(sc, i, k, NLU_TOK_PRICE, NLU_FOLD_PLAIN);
            return k;
        }
        if (seps || !nlu_wordch_at(s, j, len)) { /* else a word such as "2pcs" */
            emit_raw(sc, i, j, NLU_TOK_NUMBER);
            return j;
        }
    }
    bool ascii;
    j = scan_word(sc, i, &ascii);
    emit_word(sc, i, j, ascii);
    return j;
}

/* A token starting with a non-ASCII code point cp of n bytes; returns its end. */
static size_t scan_other(const struct scan *sc, size_t i, int32_t cp, size_t n)
{
    const char *s = sc->s;
    size_t len = sc->len, j;
    if (nlu_cp_is_emoji_start(cp, s, i + n, len)) {
        j = nlu_scan_emoji(s, i, len);
        emit_raw(sc, i, j, NLU_TOK_EMOJI);
        return j;
    }
    if (nlu_cp_is_currency(cp) && i + n < len && nlu_is_digit((unsigned char)s[i + n])) {
        bool seps;
        j = nlu_scan_number(s, i + n, len, &seps);
        emit_norm(sc, i, j, NLU_TOK_PRICE, NLU_FOLD_PLAIN);
        return j;
    }
    if (nlu_cp_is_wordch(cp)) {
        bool ascii;
        j = scan_word(sc, i, &ascii);
        emit_word(sc, i, j, ascii);
        return j;
    }
    if (nlu_cp_is_skip(cp)) /* spaces, controls, lone joiners and selectors */
        return i + n;
    j = nlu_cp_is_stop(cp) ? nlu_scan_stops(s, i, len) : i + n;
    emit_norm(sc, i, j, NLU_TOK_PUNCT, NLU_FOLD_PLAIN);
    return j;
}

/* A token starting with ASCII punctuation c; returns its end. */
static size_t scan_punct(const struct scan *sc, size_t i, unsigned c)
{
    const char *s = sc->s;
    size_t len = sc->len, j;
    switch (c) {
    case '@':
        j = nlu_scan_handle(s, i, len);
        if (j > i) {
            emit_lower(sc, i, j, NLU_TOK_HANDLE, false);
            return j;
        }
        break;
    case '#':
        j = nlu_scan_keycap(s, i, len);
        if (j > i) {
            emit_raw(sc, i, j, NLU_TOK_EMOJI);
            return j;
        }
        j = nlu_scan_hashtag(s, i, len);
        if (j > i) {
            emit_norm(sc, i, j, NLU_TOK_HASHTAG, NLU_FOLD_PLAIN);
            return j;
        }
        break;
    case '*':
        j = nlu_scan_keycap(s, i, len);
        if (j > i) {
            emit_raw(sc, i, j, NLU_TOK_EMOJI);
            return j;
        }
        break;
    case '$':
        if (i + 1 < len && nlu_is_digit((unsigned char)s[i + 1])) {
            bool seps;
            j = nlu_scan_number(s, i + 1, len, &seps);
            emit_raw(sc, i, j, NLU_TOK_PRICE);
            return j;
        }
        break;
    case ':':
    case ';':
    case '=':
    case '<':
    case '^':
    case '(':
    case ')':
        j = nlu_scan_emoticon(s, i, len);
        if (j > i) {
            emit_raw(sc, i, j, NLU_TOK_EMOTICON);
            return j;
        }
        break;
    default:
        break;
    }
    if (c == '!' || c == '?' || c == '.') {
        j = nlu_scan_stops(s, i, len);
    } else {
        j = i + 1;
        while (j < len && (unsigned char)s[j] == c && c != '(' && c != ')')
            j++;
    }
    emit_raw(sc, i, j, NLU_TOK_PUNCT);
    return j;
}

int nlu_tokenize(const char *s, size_t len, struct nlu_tokens *out, struct dk_err *err)
{
    out->n = 0;
    out->text_len = 0;
    if (len > NLU_MAX_TEXT)
        return dk_err_set(err, DK_ETOOBIG, "text of %zu bytes is longer than the limit of %d", len,
                          NLU_MAX_TEXT);
    if (len == 0)
        return 0;
    int rc = nlu_utf8_check(s, len, err);
    if (rc < 0)
        return rc;
    /* room for the usual case up front: norms are rarely longer than the input */
    nlu_text_reserve(out, len + len / 2 + 16);

    struct scan sc = {s, len, out};
    size_t i = 0;
    while (i < len) {
        unsigned c = (unsigned char)s[i];
        if (c < 0x80) {
            if (nlu_is_alnum(c))
                i = scan_alnum(&sc, i);
            else if (is_space_ascii(c) || c < 0x20 || c == 0x7F)
                i++;
            else
                i = scan_punct(&sc, i, c);
        } else {
            size_t n;
            int32_t cp = nlu_decode(s, i, len, &n);
            i = scan_other(&sc, i, cp, n);
        }
    }
    /* the norms are back to back, each followed by its NUL */
    size_t off = 0;
    for (size_t k = 0; k < out->n; k++) {
        out->v[k].norm = out->text + off;
        off += out->v[k].norm_len + 1;
    }
    return 0;
}
