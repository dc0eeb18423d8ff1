/*
 * nlu/lexicon_int.h: the sentiment lexicons (lexicon.c) as seen by the scorer (sentiment.c),
 * not by the rest of the module.
 *
 * Five hash tables map a key to an entry: English words as written, English stems and
 * phrases, Russian words as written, Russian stems and phrases, and symbols (emoji and
 * emoticons). An entry carries a valence, emotion weights and modifier flags (negator,
 * intensifier, contrast, stop word, first word of a phrase). A phrase key is the first
 * word as written (any negator becomes "not" / "не") and the stem of the second word,
 * separated by one space. The tables are built once from nlu_data_get() and never change.
 */
#ifndef DK_NLU_LEXICON_INT_H
#define DK_NLU_LEXICON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nlu/nlu.h"

enum nlu_lex_table {
    NLU_LEX_EN = 0,  /* English words and transliterated Russian, as written */
    NLU_LEX_EN_STEM, /* English stems (fallback for unlisted forms) and phrases */
    NLU_LEX_RU,      /* Russian words as written: modifiers, stop words, exact entries */
    NLU_LEX_RU_STEM, /* Russian stems and phrases */
    NLU_LEX_SYM,     /* emoji (no variation selectors, no skin tones) and emoticons */
    NLU_LEX_NTABLES
};

#define NLU_LEXF_VALENCE  0x01u /* valence is set */
#define NLU_LEXF_EMO      0x02u /* emo[] has a weight above 0 */
#define NLU_LEXF_NEG      0x04u /* negator */
#define NLU_LEXF_BOOST    0x08u /* intensifier (boost > 0) or diminisher (boost < 0) */
#define NLU_LEXF_CONTRAST 0x10u /* "but": the clause after it weighs more */
#define NLU_LEXF_COMMA    0x20u /* with CONTRAST: only right after a comma ("а", "yet") */
#define NLU_LEXF_STOP     0x40u /* common word without sentiment */
#define NLU_LEXF_HEAD     0x80u /* first word of at least one phrase */

struct nlu_lex_entry {
    float valence; /* -4..4 */
    float boost;
    float emo[NLU_EMO_COUNT]; /* 0..1 */
    uint8_t flags;
};

/* Longest key looked up; longer words have no entry. */
#define NLU_LEX_MAX_KEY 96

/* The entry of key in table t or NULL. Builds the lexicons on first use (thread-safe). */
const struct nlu_lex_entry *nlu_lex_find(enum nlu_lex_table t, const char *key, size_t len);

/* The entry of the phrase (head, stem2) in the stem table of ru or en; head_neg: the head
 * is a negator (then "not" / "не" stands for it). NULL when there is none. */
const struct nlu_lex_entry *nlu_lex_phrase(bool ru, const char *head, size_t head_len,
                                           bool head_neg, const char *stem2, size_t stem2_len);

/* The entry of an emoji or emoticon token (its normalised text): variation selectors and
 * skin tones are ignored, and a ZWJ sequence without an entry of its own falls back to its
 * first emoji. NULL when there is none. */
const struct nlu_lex_entry *nlu_lex_symbol(const char *s, size_t len);

/* False when no key of the stem table t (NLU_LEX_EN_STEM, NLU_LEX_RU_STEM) can be the stem
 * of the word w[0..n), or the second word of a phrase: Snowball stems are prefixes of their
 * words (but for an English final "y" -> "i"), so a filter on the first four letters spares
 * most stemmer calls. True for other tables. */
bool nlu_lex_maybe_stem(enum nlu_lex_table t, const char *w, size_t n);

/* Number of keys in table t (for tests). */
size_t nlu_lex_size(enum nlu_lex_table t);

#endif
