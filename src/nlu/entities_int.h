/*
 * nlu/entities_int.h: internals shared by the entity recognisers (entities*.c), not by the rest
 * of the module.
 *
 * The scanner (entities.c) walks the input once and, at each place where an entity may start
 * (a word, a number, "$", "+", "#", "@", "№"), calls the recognisers. They propose candidates
 * with a rank; overlapping candidates are settled in small clusters (higher rank, then the
 * longer span wins) and the winners are written out in order. Everything is bounded: a
 * recogniser reads a fixed number of bytes at most, the pending cluster has a fixed size, so
 * the whole pass is linear in the input and allocates nothing.
 */
#ifndef DK_NLU_ENTITIES_INT_H
#define DK_NLU_ENTITIES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nlu/nlu.h"

/* Ranks of candidates: when two overlap, the higher rank wins, then the longer span. An order
 * number announced by a keyword ("order 1234567890") beats a phone; "#1234" does not. */
enum nlu_ent_rank {
    NLU_ENT_RANK_COLOR = 20,
    NLU_ENT_RANK_SIZE = 30,
    NLU_ENT_RANK_QUANTITY = 40,
    NLU_ENT_RANK_TIME = 50,
    NLU_ENT_RANK_DATE = 51,
    NLU_ENT_RANK_PRICE = 60,
    NLU_ENT_RANK_ORDER = 70,
    NLU_ENT_RANK_HANDLE = 75,
    NLU_ENT_RANK_URL = 80,
    NLU_ENT_RANK_EMAIL = 85,
    NLU_ENT_RANK_PHONE = 90,
    NLU_ENT_RANK_ORDER_KW = 95,
    NLU_ENT_RANK_CARD = 100,
};

#define NLU_ENT_WORD_MAX 48

/* A run of letters and digits, lower-cased (ASCII and Cyrillic, "ё" -> "е") for lookups. */
struct nlu_ent_word {
    size_t start, end; /* the run in the input */
    size_t n;          /* bytes in low; 0 when the run is too long to be a keyword */
    uint32_t hash;     /* of low */
    unsigned nchars;
    bool upper; /* it has letters and all of them are upper case */
    bool cap;   /* the first character is an upper-case letter */
    bool digit; /* it has a digit */
    bool alpha; /* it has a letter */
    char low[NLU_ENT_WORD_MAX];
};

/* Candidates waiting for their cluster to close. */
#define NLU_ENT_PENDING 64

struct nlu_ent_scan {
    const char *s;
    size_t len;
    size_t pos;      /* where the current recogniser started: candidates start at or after it */
    size_t pend_end; /* the furthest end among pending candidates */
    size_t done_end; /* end of the last entity written: nothing may start before it */
    size_t npend;
    struct nlu_entity *out;
    size_t max;
    size_t count;
    struct nlu_entity scratch; /* where a candidate that cannot be kept is written */
    size_t cache_pos;          /* the last keyword lookup, for the next recogniser */
    const struct nlu_ent_kw *cache_kw;
    struct nlu_ent_word cache_word;
    uint8_t rank[NLU_ENT_PENDING];
    struct nlu_entity pend[NLU_ENT_PENDING];
};

/* Proposes an entity of kind over s[start, end) and returns it for the caller to fill value
 * and unit (both start empty). A candidate that can no longer be kept returns a scratch
 * entity, so the caller never checks. */
struct nlu_entity *nlu_ent_cand(struct nlu_ent_scan *sc, enum nlu_ent_kind kind, int rank,
                                size_t start, size_t end);
/* Copies v[0..n) into e->value, cut at a character boundary to fit. */
void nlu_ent_value(struct nlu_entity *e, const char *v, size_t n);
void nlu_ent_unit(struct nlu_entity *e, const char *unit);
/* Writes v in decimal, zero-padded to width digits, at buf; returns the length (<= 20). */
size_t nlu_ent_utoa(char *buf, uint64_t v, unsigned width);

/* ---- characters ---- */

static inline bool nlu_ent_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool nlu_ent_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static inline bool nlu_ent_alnum(unsigned char c)
{
    return nlu_ent_digit(c) || nlu_ent_alpha(c);
}

/* Decodes the character at s[i] (i < len) into *cp and returns its length; a broken sequence
 * gives U+FFFD and length 1, so that callers always move on. */
size_t nlu_ent_decode(const char *s, size_t len, size_t i, uint32_t *cp);
/* Letters, marks and digits of any script. */
bool nlu_ent_word_cp(uint32_t cp);
/* Whether the character that ends at s[i] is a letter or digit (false at the start). */
bool nlu_ent_prev_word(const char *s, size_t i);
/* Whether the character at s[i] is a letter or digit (false at the end). */
bool nlu_ent_is_word(const char *s, size_t len, size_t i);
/* Width of a space (ASCII space, tab, no-break and thin spaces) at s[i], or 0. */
size_t nlu_ent_space(const char *s, size_t len, size_t i);
/* Skips up to max spaces from i. */
size_t nlu_ent_skip(const char *s, size_t len, size_t i, unsigned max);

/* ---- words and keywords ---- */

/* Reads the run at i into w and returns its end (i when s[i] is not a letter or digit). */
size_t nlu_ent_word(const char *s, size_t len, size_t i, struct nlu_ent_word *w);
/* Whether the run is exactly lit (lower case ASCII or UTF-8). */
bool nlu_ent_word_is(const struct nlu_ent_word *w, const char *lit);

enum nlu_ent_kw_type {
    NLU_ENT_KW_NONE = 0,
    NLU_ENT_KW_COLOR,      /* val: colour */
    NLU_ENT_KW_COLOR_STEM, /* Russian adjective stem, val: colour */
    NLU_ENT_KW_COLOR_MOD,  /* light/dark, val: 1 light, 2 dark */
    NLU_ENT_KW_MONTH,      /* val: 1-12, +16 when it may lead ("May 5") */
    NLU_ENT_KW_WEEKDAY,    /* val: 0 monday … 6 sunday */
    NLU_ENT_KW_RELDAY,     /* val: relative day */
    NLU_ENT_KW_DAY,        /* "day" (after tomorrow) */
    NLU_ENT_KW_ORDER,      /* order, заказ */
    NLU_ENT_KW_ORDER_FILL, /* number, no, id, номер */
    NLU_ENT_KW_SIZE,       /* size, размер */
    NLU_ENT_KW_SIZE_WORD,  /* xs, xl, 2xl, … */
    NLU_ENT_KW_REGION,     /* eu, us, uk, ru (size systems), val: region */
    NLU_ENT_KW_CUR,        /* val: currency, +NLU_ENT_CUR_CODE when it may lead */
    NLU_ENT_KW_QTY,        /* val: 0 pcs, 1 pairs */
    NLU_ENT_KW_NUMWORD,    /* val: 1-10 */
    NLU_ENT_KW_MULT,       /* val: power of ten (тыс, млн) */
    NLU_ENT_KW_AMPM,       /* val: 0 am, 1 pm */
    NLU_ENT_KW_DAYPART,    /* val: 0 утра, 1 дня, 2 вечера, 3 ночи */
    NLU_ENT_KW_HOURS,      /* часов, ч */
    NLU_ENT_KW_AT,         /* at, around */
    NLU_ENT_KW_RUPREP,     /* в, к, до, после, около, с */
    NLU_ENT_KW_IN,         /* in */
};

#define NLU_ENT_CUR_CODE   0x80
#define NLU_ENT_MONTH_LEAD 16

struct nlu_ent_kw {
    const char *w;
    uint8_t type; /* enum nlu_ent_kw_type */
    uint8_t val;
};

/* The keyword that the run is, or NULL. Thread-safe (the table is built once). */
const struct nlu_ent_kw *nlu_ent_kw(const struct nlu_ent_word *w);
/* The keyword spelt p[0..n) (lower case), or NULL. */
const struct nlu_ent_kw *nlu_ent_kw_bytes(const char *p, size_t n);
/* The keyword type of the run at i (NLU_ENT_KW_NONE when none), with the run in w and the
 * keyword in *kw. The last lookup is cached in sc: several recognisers look at the same word. */
int nlu_ent_kw_at(struct nlu_ent_scan *sc, size_t i, struct nlu_ent_word *w,
                  const struct nlu_ent_kw **kw);

/* ISO codes of currencies, by val of NLU_ENT_KW_CUR (without the code flag). */
enum nlu_ent_cur {
    NLU_ENT_USD = 0,
    NLU_ENT_EUR,
    NLU_ENT_RUB,
    NLU_ENT_GBP,
    NLU_ENT_UAH,
    NLU_ENT_KZT,
    NLU_ENT_TRY,
    NLU_ENT_CNY,
    NLU_ENT_BYN,
    NLU_ENT_INR,
    NLU_ENT_CUR_COUNT
};
extern const char *const nlu_ent_cur_codes[NLU_ENT_CUR_COUNT];
/* Currency of a symbol at s[i] ("$", "€", "₽", …) with its width in *w, or -1. */
int nlu_ent_cur_symbol(const char *s, size_t len, size_t i, size_t *w);

/* ---- recognisers, each called where its entity may start ---- */

/* entities_num.c: at a digit, "+", "(", a currency symbol, "×" */
void nlu_ent_at_digit(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_at_plus(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_at_symbol(struct nlu_ent_scan *sc, size_t i, int cur, size_t width);
void nlu_ent_at_times(struct nlu_ent_scan *sc, size_t i, size_t width);
/* After a currency code ("USD 30"), the word w. */
void nlu_ent_price_code(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, int cur);
/* After "x"/"х" glued to digits: "x2". */
void nlu_ent_qty_x(struct nlu_ent_scan *sc, const struct nlu_ent_word *w);
/* A number word followed by a unit: "two pieces". */
void nlu_ent_qty_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned n);
/* A size number at i: "38", "9.5", "42-44" (a range of neighbouring sizes) up to maxv. */
struct nlu_ent_size {
    size_t end;
    unsigned lo, hi; /* hi == lo unless a range */
    size_t n;
    char text[16]; /* "38", "9.5", "42-44" */
};
bool nlu_ent_size_num(const char *s, size_t len, size_t i, unsigned maxv, struct nlu_ent_size *z);

/* entities_time.c */
void nlu_ent_date_num(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_time_num(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_date_month(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned month);
void nlu_ent_time_prep(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, bool at);
void nlu_ent_date_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w,
                       const struct nlu_ent_kw *kw);

/* entities_word.c: at a letter (keywords, colours, orders, sizes, URLs, e-mail), at "#",
 * "№" and "@" */
void nlu_ent_at_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w,
                     const struct nlu_ent_kw *kw);
void nlu_ent_at_hash(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_at_numero(struct nlu_ent_scan *sc, size_t i, size_t width);
void nlu_ent_at_handle(struct nlu_ent_scan *sc, size_t i);
/* E-mail and URL starting at a run at i (called for digit runs too). */
void nlu_ent_email(struct nlu_ent_scan *sc, size_t i);
void nlu_ent_url(struct nlu_ent_scan *sc, size_t i, size_t run_end);

#endif
