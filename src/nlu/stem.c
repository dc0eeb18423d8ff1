/*
 * nlu/stem: Snowball stemmers (libstemmer), one set per thread.
 *
 * A struct nlu_stemmer holds one sb_stemmer per language, created on first use (a stemmer
 * that cannot be created is remembered as missing and its words stay as they are), and a
 * buffer for the NUL-terminated result. The script of the token picks the stemmer: Cyrillic
 * is Russian (or left alone in Ukrainian text), Arabic is Arabic, Latin follows the language
 * of the message and falls back to English. Recent stems of short words are cached.
 */
#include "nlu/nlu.h"

#include <libstemmer.h>
#include <string.h>

/* Snowball algorithm names by enum nlu_lang; NULL where there is none. */
static const char *const ALGORITHMS[NLU_LANG_COUNT] = {
    [NLU_LANG_EN] = "english",    [NLU_LANG_RU] = "russian", [NLU_LANG_ES] = "spanish",
    [NLU_LANG_DE] = "german",     [NLU_LANG_FR] = "french",  [NLU_LANG_IT] = "italian",
    [NLU_LANG_PT] = "portuguese", [NLU_LANG_TR] = "turkish", [NLU_LANG_AR] = "arabic",
};

/* A direct-mapped cache of recent stems of short words: words follow Zipf's law, so most
 * calls are answered without running Snowball. */
#define CACHE_SLOTS 1024 /* power of two */
#define CACHE_WORD  24   /* words and stems up to 23 bytes */

struct cache_slot {
    uint8_t lang; /* stemmer language, 0 = empty */
    uint8_t word_len;
    uint8_t stem_len;
    char word[CACHE_WORD];
    char stem[CACHE_WORD];
};

struct nlu_stemmer {
    struct sb_stemmer *sb[NLU_LANG_COUNT];
    bool failed[NLU_LANG_COUNT];
    char *buf;
    size_t cap;
    struct cache_slot cache[CACHE_SLOTS];
};

struct nlu_stemmer *nlu_stemmer_new(void)
{
    return dk_calloc(1, sizeof(struct nlu_stemmer));
}

static struct cache_slot *slot_of(struct nlu_stemmer *st, enum nlu_lang lang, const char *w,
                                  size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)lang;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)w[i];
        h *= 16777619u;
    }
    return &st->cache[h & (CACHE_SLOTS - 1)];
}

void nlu_stemmer_free(struct nlu_stemmer *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < NLU_LANG_COUNT; i++)
        sb_stemmer_delete(st->sb[i]);
    dk_free(st->buf);
    dk_free(st);
}

static struct sb_stemmer *get(struct nlu_stemmer *st, enum nlu_lang lang)
{
    if (st->sb[lang] == NULL && !st->failed[lang] && ALGORITHMS[lang] != NULL) {
        st->sb[lang] = sb_stemmer_new(ALGORITHMS[lang], "UTF_8");
        st->failed[lang] = st->sb[lang] == NULL;
    }
    return st->sb[lang];
}

/* The stemmer language for a word of script in a message of lang; UNKNOWN for none. */
static enum nlu_lang stem_lang(int script, enum nlu_lang lang)
{
    switch (script) {
    case NLU_SCRIPT_CYRILLIC:
        return lang == NLU_LANG_UK ? NLU_LANG_UNKNOWN : NLU_LANG_RU;
    case NLU_SCRIPT_ARABIC:
        return NLU_LANG_AR;
    case NLU_SCRIPT_LATIN:
        switch (lang) {
        case NLU_LANG_ES:
        case NLU_LANG_DE:
        case NLU_LANG_FR:
        case NLU_LANG_IT:
        case NLU_LANG_PT:
        case NLU_LANG_TR:
            return lang;
        default:
            return NLU_LANG_EN;
        }
    default:
        return NLU_LANG_UNKNOWN;
    }
}

const char *nlu_stem(struct nlu_stemmer *st, enum nlu_lang lang, const struct nlu_token *tok,
                     size_t *out_len)
{
    *out_len = tok->norm_len;
    if (st == NULL || tok->kind != NLU_TOK_WORD || (int)lang < 0 || lang >= NLU_LANG_COUNT)
        return tok->norm;
    enum nlu_lang sl = stem_lang(tok->script, lang);
    if (sl == NLU_LANG_UNKNOWN)
        return tok->norm;
    struct cache_slot *c = NULL;
    if (tok->norm_len < CACHE_WORD) {
        c = slot_of(st, sl, tok->norm, tok->norm_len);
        if (c->lang == sl && c->word_len == tok->norm_len &&
            memcmp(c->word, tok->norm, tok->norm_len) == 0) {
            *out_len = c->stem_len;
            return c->stem;
        }
    }
    struct sb_stemmer *sb = get(st, sl);
    if (sb == NULL)
        return tok->norm;
    const sb_symbol *r = sb_stemmer_stem(sb, (const sb_symbol *)tok->norm, (int)tok->norm_len);
    if (r == NULL)
        return tok->norm;
    size_t n = (size_t)sb_stemmer_length(sb);
    if (c != NULL && n < CACHE_WORD) {
        c->lang = (uint8_t)sl;
        c->word_len = (uint8_t)tok->norm_len;
        memcpy(c->word, tok->norm, tok->norm_len);
        c->stem_len = (uint8_t)n;
        memcpy(c->stem, r, n);
        c->stem[n] = '\0';
        *out_len = n;
        return c->stem;
    }
    if (n + 1 > st->cap) {
        st->cap = n + 64;
        st->buf = dk_realloc(st->buf, st->cap);
    }
    memcpy(st->buf, r, n);
    st->buf[n] = '\0';
    *out_len = n;
    return st->buf;
}

const char *nlu_stem_word(struct nlu_stemmer *st, enum nlu_lang lang, const char *w, size_t n,
                          size_t *out_len)
{
    struct nlu_token tok;
    memset(&tok, 0, sizeof(tok));
    tok.norm = w;
    tok.norm_len = (uint32_t)n;
    tok.end = (uint32_t)n;
    tok.kind = NLU_TOK_WORD;
    tok.script = lang == NLU_LANG_RU || lang == NLU_LANG_UK ? NLU_SCRIPT_CYRILLIC
                 : lang == NLU_LANG_AR                      ? NLU_SCRIPT_ARABIC
                                                            : NLU_SCRIPT_LATIN;
    return nlu_stem(st, lang, &tok, out_len);
}
