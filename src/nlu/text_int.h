/*
 * nlu/text_int: internals shared by the tokenizer files (text.c, textscan.c, textnorm.c).
 *
 * Every function here works on text already checked by nlu_utf8_check: decoding trusts the
 * input. Scanners take the text s[0..len) and a start i, and return the end of what they
 * recognised, or i when nothing matched.
 */
#ifndef DK_NLU_TEXT_INT_H
#define DK_NLU_TEXT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nlu/nlu.h"

static inline bool nlu_is_alpha(unsigned c)
{
    return (unsigned)((c | 32u) - 'a') < 26u;
}

static inline bool nlu_is_digit(unsigned c)
{
    return c - '0' < 10u;
}

static inline bool nlu_is_alnum(unsigned c)
{
    return nlu_is_alpha(c) || nlu_is_digit(c);
}

/* The code point at s[i] (valid UTF-8) and its length in *n; -1 with *n = 0 at the end. */
static inline int32_t nlu_decode(const char *s, size_t i, size_t len, size_t *n)
{
    const unsigned char *p = (const unsigned char *)s + i;
    if (i >= len) {
        *n = 0;
        return -1;
    }
    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if (p[0] < 0xE0) {
        *n = 2;
        return ((int32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (p[0] < 0xF0) {
        *n = 3;
        return ((int32_t)(p[0] & 0x0F) << 12) | ((int32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *n = 4;
    return ((int32_t)(p[0] & 0x07) << 18) | ((int32_t)(p[1] & 0x3F) << 12) |
           ((int32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

/* Letters of the scripts we see most (Latin-1 and Latin Extended, Cyrillic, basic Arabic),
 * known without a table lookup: the fast path of the classes below. */
static inline bool nlu_cp_is_common_letter(int32_t cp)
{
    return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) ||
           (cp >= 0x400 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x52F) ||
           (cp >= 0x620 && cp <= 0x64A);
}

/* ---- code point classes (textscan.c) ---- */

bool nlu_cp_is_letter(int32_t cp); /* general category L* */
bool nlu_cp_is_wordch(int32_t cp); /* L*, M*, N* */
/* Apostrophes, hyphens and joiners that stay inside a word when a letter follows. */
bool nlu_cp_is_inner(int32_t cp);
/* Starts an emoji; next is the offset after cp (text-style symbols need U+FE0F there). */
bool nlu_cp_is_emoji_start(int32_t cp, const char *s, size_t next, size_t len);
bool nlu_cp_is_currency(int32_t cp); /* € £ ¥ ₽ … (not '$', which is ASCII) */
bool nlu_cp_is_skip(int32_t cp);     /* spaces, controls, format characters, selectors */
bool nlu_cp_is_stop(int32_t cp);     /* ! ? . … and their full-width forms */
int nlu_cp_script(int32_t cp);       /* enum nlu_script of a letter */

/* ---- scanners (textscan.c) ---- */

size_t nlu_scan_url(const char *s, size_t i, size_t len);    /* http(s)://…, www.… */
size_t nlu_scan_domain(const char *s, size_t i, size_t len); /* shop.com, shop.com/x */
size_t nlu_scan_email(const char *s, size_t i, size_t len);
size_t nlu_scan_handle(const char *s, size_t i, size_t len);  /* at '@' */
size_t nlu_scan_hashtag(const char *s, size_t i, size_t len); /* at '#' */
size_t nlu_scan_emoticon(const char *s, size_t i, size_t len);
size_t nlu_scan_keycap(const char *s, size_t i, size_t len); /* 1️⃣ #️⃣ *⃣ */
size_t nlu_scan_emoji(const char *s, size_t i, size_t len);  /* one grapheme cluster */
size_t nlu_scan_stops(const char *s, size_t i, size_t len);  /* a run of ! ? . … */
/* Digits with inner '.' or ',' groups ("1,000.50"); *seps tells whether there were any. */
size_t nlu_scan_number(const char *s, size_t i, size_t len, bool *seps);
/* A currency symbol or code glued after a number at i ("$", "₽", "eur", "руб"). */
size_t nlu_scan_currency(const char *s, size_t i, size_t len);
/* True when a letter, mark or digit starts at s[i]. */
bool nlu_wordch_at(const char *s, size_t i, size_t len);

/* ---- normalisation (textnorm.c) ---- */

enum nlu_fold_mode {
    NLU_FOLD_PLAIN = 0, /* NFKC + case folding */
    NLU_FOLD_WORD,      /* also ignorables dropped, "ё" -> "е", elongation squeezed, caps flag */
};

/* Room for n more bytes of norm text; returns where they go (out->text_len is unchanged). */
char *nlu_text_reserve(struct nlu_tokens *t, size_t n);
/* Appends the normal form of ASCII s[0..n) to t->text, adding NLU_TOKF_* to *flags. */
void nlu_text_fold_ascii(struct nlu_tokens *t, const char *s, size_t n, enum nlu_fold_mode mode,
                         uint8_t *flags);
/* The same for any UTF-8 through utf8proc; returns the main enum nlu_script of the letters. */
int nlu_text_fold(struct nlu_tokens *t, const char *s, size_t n, enum nlu_fold_mode mode,
                  uint8_t *flags);

#endif
