/*
 * nlu/textscan: code point classes and the recognisers of the tokenizer for shapes that are
 * not plain words: URLs, domains, e-mails, handles, hashtags, emoticons, emoji, numbers and
 * prices.
 *
 * Each scanner is a small hand-written matcher over valid UTF-8 that returns the end of its
 * match or its start when there is none, so that text.c can try them in order. ASCII is
 * classified inline; other code points through utf8proc's property table.
 */
#include "nlu/text_int.h"

#include <string.h>
#include <utf8proc.h>

/* ---- code point classes ---- */

static int category(int32_t cp)
{
    return utf8proc_category(cp);
}

bool nlu_cp_is_letter(int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return nlu_is_alpha((unsigned)cp);
    if (nlu_cp_is_common_letter(cp))
        return true;
    int c = category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool nlu_cp_is_wordch(int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return nlu_is_alnum((unsigned)cp);
    if (nlu_cp_is_common_letter(cp))
        return true;
    int c = category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;
}

bool nlu_cp_is_inner(int32_t cp)
{
    switch (cp) {
    case 0x00AD: /* soft hyphen */
    case 0x02BC: /* modifier letter apostrophe */
    case 0x2010: /* hyphen */
    case 0x2011: /* non-breaking hyphen */
    case 0x2019: /* right single quotation mark, the typographic apostrophe */
    case 0x200C: /* zero-width non-joiner */
    case 0x200D: /* zero-width joiner */
        return true;
    default:
        return false;
    }
}

bool nlu_cp_is_emoji_start(int32_t cp, const char *s, size_t next, size_t len)
{
    if (cp < 0x203C && cp != 0xA9 && cp != 0xAE) /* no pictographs below ‼ but © and ® */
        return false;
    if (cp >= 0x1F000 && cp <= 0x1FAFF) /* pictographs, flags' letters, skin tones */
        return true;
    int bc = utf8proc_get_property(cp)->boundclass;
    if (bc != UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC && bc != UTF8PROC_BOUNDCLASS_E_ZWG &&
        bc != UTF8PROC_BOUNDCLASS_E_BASE && bc != UTF8PROC_BOUNDCLASS_E_BASE_GAZ &&
        bc != UTF8PROC_BOUNDCLASS_GLUE_AFTER_ZWJ && bc != UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR)
        return false;
    if (cp >= 0x2300)
        return true;
    /* © ® ‼ ™ ↔ …: symbols of running text unless the emoji selector follows */
    size_t n;
    return nlu_decode(s, next, len, &n) == 0xFE0F;
}

bool nlu_cp_is_currency(int32_t cp)
{
    switch (cp) {
    case 0x00A3: /* £ */
    case 0x00A5: /* ¥ */
    case 0x20AC: /* € */
    case 0x20B4: /* ₴ */
    case 0x20B8: /* ₸ */
    case 0x20B9: /* ₹ */
    case 0x20BA: /* ₺ */
    case 0x20BD: /* ₽ */
        return true;
    default:
        return false;
    }
}

bool nlu_cp_is_skip(int32_t cp)
{
    if ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF))
        return true; /* a variation selector with nothing to vary */
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

bool nlu_cp_is_stop(int32_t cp)
{
    switch (cp) {
    case '!':
    case '?':
    case '.':
    case 0x2026: /* … */
    case 0x203C: /* ‼ */
    case 0x2049: /* ⁉ */
    case 0xFF01: /* ！ */
    case 0xFF0E: /* ． */
    case 0xFF1F: /* ？ */
        return true;
    default:
        return false;
    }
}

int nlu_cp_script(int32_t cp)
{
    if (cp < 0x80)
        return nlu_is_alpha((unsigned)cp) ? NLU_SCRIPT_LATIN : NLU_SCRIPT_OTHER;
    if ((cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x1E00 && cp <= 0x1EFF) ||
        (cp >= 0x2C60 && cp <= 0x2C7F) || (cp >= 0xA720 && cp <= 0xA7FF))
        return NLU_SCRIPT_LATIN;
    if ((cp >= 0x400 && cp <= 0x52F) || (cp >= 0x1C80 && cp <= 0x1C8F) ||
        (cp >= 0x2DE0 && cp <= 0x2DFF) || (cp >= 0xA640 && cp <= 0xA69F))
        return NLU_SCRIPT_CYRILLIC;
    if ((cp >= 0x600 && cp <= 0x6FF) || (cp >= 0x750 && cp <= 0x77F) ||
        (cp >= 0x8A0 && cp <= 0x8FF) || (cp >= 0xFB50 && cp <= 0xFDFF) ||
        (cp >= 0xFE70 && cp <= 0xFEFF))
        return NLU_SCRIPT_ARABIC;
    return NLU_SCRIPT_OTHER;
}

bool nlu_wordch_at(const char *s, size_t i, size_t len)
{
    size_t n;
    return nlu_cp_is_wordch(nlu_decode(s, i, len, &n));
}

/* ---- URLs, domains, e-mails, handles, hashtags ---- */

static bool prefix_ci(const char *s, size_t i, size_t len, const char *p)
{
    size_t n = strlen(p);
    if (len - i < n)
        return false;
    for (size_t k = 0; k < n; k++) {
        unsigned c = (unsigned char)s[i + k];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if (c != (unsigned char)p[k])
            return false;
    }
    return true;
}

/* The rest of a URL from j: up to a space or a character that cannot be in one, without the
 * punctuation that ends the sentence around it. */
static size_t url_rest(const char *s, size_t j, size_t len)
{
    size_t open = 0, close = 0;
    while (j < len) {
        unsigned c = (unsigned char)s[j];
        if (c < 0x80) {
            if (c <= ' ' || c == 0x7F || strchr("<>\"`{}|\\^", (int)c) != NULL)
                break;
            open += c == '(';
            close += c == ')';
            j++;
            continue;
        }
        size_t n;
        int32_t cp = nlu_decode(s, j, len, &n);
        if (!nlu_cp_is_wordch(cp) || nlu_cp_is_emoji_start(cp, s, j + n, len))
            break;
        j += n;
    }
    while (j > 0) {
        char c = s[j - 1];
        if (c == ')' && close > open) {
            close--;
            j--;
        } else if (c != ')' && strchr(".,!?;:'\"", c) != NULL) {
            j--;
        } else {
            break;
        }
    }
    return j;
}

static bool is_label_ch(unsigned c)
{
    return nlu_is_alnum(c) || c == '-';
}

size_t nlu_scan_url(const char *s, size_t i, size_t len)
{
    size_t j;
    if (prefix_ci(s, i, len, "https://"))
        j = i + 8;
    else if (prefix_ci(s, i, len, "http://"))
        j = i + 7;
    else if (prefix_ci(s, i, len, "www."))
        j = i + 4;
    else
        return i;
    if (j >= len || !nlu_is_alnum((unsigned char)s[j]))
        return i;
    return url_rest(s, j, len);
}

/* Top-level domains taken alone as a domain ("shop.com"); the ones that are also common
 * words ("it", "me", "in") only with a path ("t.me/shop"). */
static const char *const TLDS[] = {
    "com", "net",  "org",   "ru",     "su",   "ua",   "by",   "kz", "uz", "info",
    "biz", "shop", "store", "online", "site", "io",   "co",   "uk", "de", "fr",
    "es",  "pt",   "tr",    "br",     "ae",   "sa",   "eg",   "eu", "pl", "ca",
    "au",  "app",  "dev",   "xyz",    "top",  "club", "pro",  "ly", "gl", "gg",
    "mx",  "ar",   "cl",    "nl",     "ch",   "link", "page", "gr", "ro",
};
static const char *const TLDS_WITH_PATH[] = {"it", "me", "in", "to", "is", "be", "us",
                                             "am", "my", "so", "at", "do", "tv", "ai"};

static bool tld_in(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t k = 0; k < n; k++) {
        if (strlen(list[k]) == len && memcmp(list[k], s, len) == 0)
            return true;
    }
    return false;
}

size_t nlu_scan_domain(const char *s, size_t i, size_t len)
{
    size_t j = i, labels = 0, tld = i;
    for (;;) {
        size_t start = j;
        while (j < len && is_label_ch((unsigned char)s[j]))
            j++;
        if (j == start || s[start] == '-')
            return i;
        labels++;
        tld = start;
        if (j + 1 < len && s[j] == '.' && nlu_is_alnum((unsigned char)s[j + 1]))
            j++;
        else
            break;
    }
    if (labels < 2 || j - tld > 6)
        return i;
    char low[8];
    for (size_t k = tld; k < j; k++) {
        unsigned c = (unsigned char)s[k];
        if (c < 'a' || c > 'z') /* lower-case letters only: "It.It" is no domain */
            return i;
        low[k - tld] = (char)c;
    }
    bool path = j < len && s[j] == '/';
    if (!tld_in(TLDS, sizeof(TLDS) / sizeof(TLDS[0]), low, j - tld) &&
        !(path &&
          tld_in(TLDS_WITH_PATH, sizeof(TLDS_WITH_PATH) / sizeof(TLDS_WITH_PATH[0]), low, j - tld)))
        return i;
    if (path)
        return url_rest(s, j, len);
    if (j < len && (s[j] == '@' || s[j] == '_' || nlu_wordch_at(s, j, len)))
        return i;
    return j;
}

size_t nlu_scan_email(const char *s, size_t i, size_t len)
{
    size_t j = i;
    while (j < len) {
        unsigned c = (unsigned char)s[j];
        if (nlu_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-')
            j++;
        else
            break;
    }
    if (j >= len || s[j] != '@' || s[j - 1] == '.')
        return i;
    j++;
    size_t labels = 0, end = 0, tld = 0;
    for (;;) {
        size_t start = j;
        while (j < len && is_label_ch((unsigned char)s[j]))
            j++;
        if (j == start)
            break;
        labels++;
        end = j;
        tld = start;
        if (j + 1 < len && s[j] == '.' && nlu_is_alnum((unsigned char)s[j + 1]))
            j++;
        else
            break;
    }
    if (labels < 2 || end - tld < 2)
        return i;
    for (size_t k = tld; k < end; k++) {
        if (!nlu_is_alpha((unsigned char)s[k]))
            return i;
    }
    return end;
}

size_t nlu_scan_handle(const char *s, size_t i, size_t len)
{
    size_t j = i + 1;
    while (j < len && j - i <= 30) {
        unsigned c = (unsigned char)s[j];
        if (nlu_is_alnum(c) || c == '_' || c == '.')
            j++;
        else
            break;
    }
    while (j > i + 1 && s[j - 1] == '.') /* the end of the sentence */
        j--;
    if (j == i + 1 || (j < len && nlu_wordch_at(s, j, len)))
        return i;
    return j;
}

size_t nlu_scan_hashtag(const char *s, size_t i, size_t len)
{
    size_t j = i + 1;
    bool letter = false;
    while (j < len) {
        size_t n;
        int32_t cp = nlu_decode(s, j, len, &n);
        if (cp == '_' || (nlu_cp_is_wordch(cp) && !nlu_cp_is_emoji_start(cp, s, j + n, len))) {
            letter = letter || nlu_cp_is_letter(cp);
            j += n;
        } else {
            break;
        }
    }
    return letter ? j : i; /* "#12345" is an order number, not a tag */
}

/* ---- emoticons and emoji ---- */

static size_t run_of(const char *s, size_t j, size_t len, char c)
{
    while (j < len && s[j] == c)
        j++;
    return j;
}

static bool alnum_at(const char *s, size_t j, size_t len)
{
    return j < len && nlu_is_alnum((unsigned char)s[j]);
}

size_t nlu_scan_emoticon(const char *s, size_t i, size_t len)
{
    char c = s[i];
    size_t k = i + 1, j;
    if (c == '(' || c == ')') { /* Russian-style "))" and "(((" */
        j = run_of(s, i, len, c);
        return j - i >= 2 ? j : i;
    }
    if (c == 'x' || c == 'X') {
        j = run_of(s, k, len, 'D');
        return j > k && !alnum_at(s, j, len) && (j >= len || s[j] != '\'') ? j : i;
    }
    if (c == '<') {
        if (k < len && s[k] == '/')
            k++;
        j = run_of(s, k, len, '3');
        return j > k && !alnum_at(s, j, len) ? j : i;
    }
    if (c == '^') {
        if (k < len && (s[k] == '_' || s[k] == '.' || s[k] == '-'))
            k++;
        return k < len && s[k] == '^' ? k + 1 : i;
    }
    if (c != ':' && c != ';' && c != '=')
        return i;
    bool tear = false;
    if (k < len && (s[k] == '-' || (c == ':' && s[k] == '\''))) {
        tear = s[k] == '\'';
        k++;
    }
    if (k >= len)
        return i;
    char m = s[k];
    if (m == ')' || m == '(')
        return run_of(s, k, len, m);
    if (tear)
        return i;
    if (m == 'D' || m == 'P' || m == 'p' || (c == ':' && (m == 'O' || m == 'o' || m == '*'))) {
        j = m == 'D' ? run_of(s, k, len, 'D') : k + 1;
        return alnum_at(s, j, len) ? i : j;
    }
    if (c == ':' && (m == '/' || m == '|')) {
        j = k + 1;
        return alnum_at(s, j, len) || (j < len && s[j] == '/') ? i : j;
    }
    return i;
}

size_t nlu_scan_keycap(const char *s, size_t i, size_t len)
{
    size_t k = i + 1;
    if (k + 3 <= len && memcmp(s + k, "\xEF\xB8\x8F", 3) == 0) /* U+FE0F */
        k += 3;
    if (k + 3 <= len && memcmp(s + k, "\xE2\x83\xA3", 3) == 0) /* U+20E3 */
        return k + 3;
    return i;
}

size_t nlu_scan_emoji(const char *s, size_t i, size_t len)
{
    size_t n;
    int32_t prev = nlu_decode(s, i, len, &n);
    int32_t state = 0;
    size_t j = i + n;
    while (j < len) {
        int32_t cp = nlu_decode(s, j, len, &n);
        if (cp < 0x80 || utf8proc_grapheme_break_stateful(prev, cp, &state))
            break;
        prev = cp;
        j += n;
    }
    return j;
}

size_t nlu_scan_stops(const char *s, size_t i, size_t len)
{
    size_t j = i;
    while (j < len) {
        size_t n;
        int32_t cp = nlu_decode(s, j, len, &n);
        if (!nlu_cp_is_stop(cp) || nlu_cp_is_emoji_start(cp, s, j + n, len))
            break;
        j += n;
    }
    return j > i ? j : i + 1;
}

/* ---- numbers and prices ---- */

size_t nlu_scan_number(const char *s, size_t i, size_t len, bool *seps)
{
    size_t j = i;
    *seps = false;
    while (j < len && nlu_is_digit((unsigned char)s[j]))
        j++;
    while (j + 1 < len && (s[j] == '.' || s[j] == ',') && nlu_is_digit((unsigned char)s[j + 1])) {
        *seps = true;
        j++;
        while (j < len && nlu_is_digit((unsigned char)s[j]))
            j++;
    }
    return j;
}

/* Currency codes and abbreviations glued after an amount, lower case; matched ignoring the
 * case of ASCII and Cyrillic letters, and only when no letter follows. */
static const char *const CURRENCY_WORDS[] = {
    "usd", "eur", "euro", "rub", "uah", "try", "tl", "gbp", "kzt", "р", "руб", "грн", "тг", "евро",
};

static int32_t fold_simple(int32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F) /* А-Я */
        return cp + 32;
    return cp;
}

size_t nlu_scan_currency(const char *s, size_t i, size_t len)
{
    size_t n;
    int32_t cp = nlu_decode(s, i, len, &n);
    if (cp == '$' || nlu_cp_is_currency(cp))
        return i + n;
    for (size_t w = 0; w < sizeof(CURRENCY_WORDS) / sizeof(CURRENCY_WORDS[0]); w++) {
        const char *p = CURRENCY_WORDS[w];
        size_t plen = strlen(p), k = 0, j = i;
        while (k < plen && j < len) {
            size_t n1, n2;
            int32_t a = fold_simple(nlu_decode(s, j, len, &n1));
            int32_t b = nlu_decode(p, k, plen, &n2);
            if (a != b)
                break;
            j += n1;
            k += n2;
        }
        if (k == plen && !nlu_wordch_at(s, j, len))
            return j;
    }
    return i;
}
