/*
 * nlu/textnorm: the normal form of token text.
 *
 * ASCII is lower-cased byte by byte. Anything else goes through utf8proc once per token:
 * compatibility decomposition with case folding, canonical composition (NFKC), then our own
 * small mappings ("ё" -> "е", typographic apostrophes and hyphens to ASCII) and, for words,
 * the squeezing of letters repeated three times or more. Code points live in a stack buffer
 * for ordinary tokens; only a token longer than that needs a temporary heap buffer.
 */
#include "nlu/text_int.h"

#include <utf8proc.h>

#define STACK_CPS 256

static void caps_flag(uint8_t *flags, size_t letters, size_t upper)
{
    if (letters >= 2 && upper == letters)
        *flags |= NLU_TOKF_CAPS;
}

void nlu_text_fold_ascii(struct nlu_tokens *t, const char *s, size_t n, enum nlu_fold_mode mode,
                         uint8_t *flags)
{
    char *d = nlu_text_reserve(t, n);
    size_t o = 0, letters = 0, upper = 0, run = 0;
    char prev = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + 32);
            upper++;
            letters++;
        } else if (c >= 'a' && c <= 'z') {
            letters++;
        }
        if (mode == NLU_FOLD_WORD && c >= 'a' && c <= 'z') {
            run = c == prev ? run + 1 : 1;
            prev = c;
            if (run >= 3) {
                *flags |= NLU_TOKF_ELONGATED;
                continue;
            }
        } else {
            prev = 0;
        }
        d[o++] = c;
    }
    if (mode == NLU_FOLD_WORD)
        caps_flag(flags, letters, upper);
    t->text_len += o;
}

/* Counts the cased letters of the original text and how many of them are upper case. */
static void count_case(const char *s, size_t n, size_t *letters, size_t *upper)
{
    size_t i = 0;
    while (i < n) {
        size_t k;
        int32_t cp = nlu_decode(s, i, n, &k);
        i += k;
        int c = utf8proc_category(cp);
        if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) {
            (*letters)++;
            (*upper)++;
        } else if (c == UTF8PROC_CATEGORY_LL) {
            (*letters)++;
        }
    }
}

static int32_t map_cp(int32_t cp)
{
    switch (cp) {
    case 0x0451: /* ё */
        return 0x0435;
    case 0x2019:
    case 0x02BC:
        return '\'';
    case 0x2010:
    case 0x2011:
        return '-';
    default:
        return cp;
    }
}

/* Simple case folding of the code points whose NFKC form is themselves when precomposed:
 * Latin-1 letters (but ß) and the basic Cyrillic block. -1 for anything else; *upper tells
 * whether cp was upper case. */
static int32_t fold_fast(int32_t cp, bool *upper)
{
    *upper = false;
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') {
            *upper = true;
            return cp + 32;
        }
        return cp;
    }
    if (cp >= 0xC0 && cp <= 0xFF && cp != 0xD7 && cp != 0xF7 && cp != 0xDF) {
        if (cp <= 0xDE) {
            *upper = true;
            return cp + 32;
        }
        return cp;
    }
    if (cp >= 0x400 && cp <= 0x45F) {
        *upper = cp < 0x430;
        if (cp < 0x410)
            return cp + 0x50;
        return cp < 0x430 ? cp + 0x20 : cp;
    }
    if (cp == 0x490 || cp == 0x491) {
        *upper = cp == 0x490;
        return 0x491;
    }
    return -1;
}

/* Writes one folded code point of a word: "ё" -> "е", squeezing, script counts. */
struct word_state {
    size_t counts[4];
    size_t run;
    int32_t prev;
};

static size_t put_word_cp(struct word_state *w, int32_t cp, char *d, uint8_t *flags)
{
    cp = map_cp(cp);
    if (nlu_cp_is_common_letter(cp) || nlu_is_alpha((unsigned)cp) || nlu_cp_is_letter(cp)) {
        w->counts[nlu_cp_script(cp)]++;
        w->run = cp == w->prev ? w->run + 1 : 1;
        w->prev = cp;
        if (w->run >= 3) {
            *flags |= NLU_TOKF_ELONGATED;
            return 0;
        }
    } else {
        w->prev = -1;
    }
    if (cp < 0x800) { /* ASCII, Latin, Cyrillic, Arabic: inline */
        if (cp < 0x80) {
            d[0] = (char)cp;
            return 1;
        }
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    return (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)d);
}

static int main_script(const struct word_state *w)
{
    int best = NLU_SCRIPT_OTHER;
    for (int k = NLU_SCRIPT_LATIN; k <= NLU_SCRIPT_ARABIC; k++) {
        if (w->counts[k] > w->counts[best])
            best = k;
    }
    return best;
}

/* The common case of words in Latin-1 or Cyrillic letters without combining marks, with no
 * utf8proc call. Returns false, having written nothing, for anything else. */
static bool fold_word_fast(struct nlu_tokens *t, const char *s, size_t n, uint8_t *flags,
                           int *script)
{
    size_t letters = 0, upper = 0, o = 0;
    struct word_state w = {{0, 0, 0, 0}, 0, -1};
    uint8_t fl = 0;
    char *d = nlu_text_reserve(t, n);
    for (size_t i = 0; i < n;) {
        size_t k;
        bool up;
        int32_t cp = fold_fast(nlu_decode(s, i, n, &k), &up);
        if (cp < 0)
            return false;
        i += k;
        upper += up;
        letters += up || nlu_cp_is_letter(cp);
        o += put_word_cp(&w, cp, d + o, &fl);
    }
    t->text_len += o;
    *flags |= fl;
    caps_flag(flags, letters, upper);
    *script = main_script(&w);
    return true;
}

int nlu_text_fold(struct nlu_tokens *t, const char *s, size_t n, enum nlu_fold_mode mode,
                  uint8_t *flags)
{
    int script;
    if (mode == NLU_FOLD_WORD && fold_word_fast(t, s, n, flags, &script))
        return script;

    utf8proc_int32_t stack[STACK_CPS];
    utf8proc_int32_t *buf = stack;
    utf8proc_option_t opts =
        UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD;
    if (mode == NLU_FOLD_WORD)
        opts |= UTF8PROC_IGNORE;
    const utf8proc_uint8_t *in = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t r = utf8proc_decompose(in, (utf8proc_ssize_t)n, buf, STACK_CPS, opts);
    if (r > STACK_CPS) {
        buf = dk_malloc((size_t)r * sizeof(*buf));
        r = utf8proc_decompose(in, (utf8proc_ssize_t)n, buf, r, opts);
    }
    if (r >= 0)
        r = utf8proc_normalize_utf32(buf, r, opts);
    if (r < 0) { /* cannot happen on valid UTF-8; keep the bytes */
        if (buf != stack)
            dk_free(buf);
        char *d = nlu_text_reserve(t, n);
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
        t->text_len += n;
        return NLU_SCRIPT_OTHER;
    }

    struct word_state w = {{0, 0, 0, 0}, 0, -1};
    char *d = nlu_text_reserve(t, (size_t)r * 4);
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < r; i++) {
        if (mode == NLU_FOLD_WORD)
            o += put_word_cp(&w, buf[i], d + o, flags);
        else
            o += (size_t)utf8proc_encode_char(buf[i], (utf8proc_uint8_t *)d + o);
    }
    t->text_len += o;
    if (buf != stack)
        dk_free(buf);
    if (mode != NLU_FOLD_WORD)
        return NLU_SCRIPT_OTHER;

    size_t letters = 0, upper = 0;
    count_case(s, n, &letters, &upper);
    caps_flag(flags, letters, upper);
    return main_script(&w);
}
