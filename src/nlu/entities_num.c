/*
 * nlu/entities_num: the entities built from numbers: prices, quantities, numeric sizes, card
 * numbers and phone numbers.
 *
 * Amounts take thousands separators (space, no-break space, "," "." "'" before exactly three
 * digits), a decimal part of one or two digits and a multiplier ("2.5k", "5 тыс"); values are
 * kept in cents in a uint64_t with overflow checks. Card numbers must pass Luhn and look
 * grouped like cards; phones are 10-15 digits (9 with "+") in groups, and are refused when
 * they read as a date, an amount in thousands or a price. Every reader stops after a fixed
 * number of digits, so a long run of digits costs the same as a short one.
 */
#include <string.h>

#include "nlu/entities_int.h"

struct num {
    size_t end;
    uint64_t v;
    unsigned nd;
};

/* Digits at i, at most maxd of them: a longer run fails. */
static bool read_num(const char *s, size_t len, size_t i, unsigned maxd, struct num *n)
{
    n->v = 0;
    n->nd = 0;
    while (i < len && nlu_ent_digit((unsigned char)s[i])) {
        if (n->nd == maxd) {
            return false;
        }
        n->v = n->v * 10 + (uint64_t)(s[i] - '0');
        n->nd++;
        i++;
    }
    n->end = i;
    return n->nd > 0;
}

/* Whether a number that ended at i goes on: glued letters, "@", "_", or ",5" / ".5". */
static bool continues(const char *s, size_t len, size_t i)
{
    if (i >= len) {
        return false;
    }
    if (s[i] == '@' || s[i] == '_' || nlu_ent_is_word(s, len, i)) {
        return true;
    }
    return (s[i] == '.' || s[i] == ',') && i + 1 < len && nlu_ent_digit((unsigned char)s[i + 1]);
}

/* ---- prices ---- */

struct amount {
    size_t end;
    uint64_t cents;
};

static bool three_digits(const char *s, size_t len, size_t i)
{
    return i + 3 <= len && nlu_ent_digit((unsigned char)s[i]) &&
           nlu_ent_digit((unsigned char)s[i + 1]) && nlu_ent_digit((unsigned char)s[i + 2]) &&
           (i + 3 == len || !nlu_ent_digit((unsigned char)s[i + 3]));
}

/* An amount at i: "1500", "1 500", "1,500.50", "15,50", "2.5". */
static bool read_amount(const char *s, size_t len, size_t i, struct amount *a)
{
    struct num n;
    if (!read_num(s, len, i, 12, &n)) {
        return false;
    }
    uint64_t v = n.v;
    size_t j = n.end;
    int group = 0;
    for (int g = 0; g < 4 && n.nd <= 3; g++) {
        size_t w = nlu_ent_space(s, len, j);
        int kind = w > 0 ? ' ' : 0;
        if (w == 0 && j < len && (s[j] == ',' || s[j] == '.' || s[j] == '\'')) {
            w = 1;
            kind = s[j];
        }
        if (w == 0 || (group != 0 && kind != group) || !three_digits(s, len, j + w)) {
            break;
        }
        j += w;
        v = v * 1000 + (uint64_t)((s[j] - '0') * 100 + (s[j + 1] - '0') * 10 + (s[j + 2] - '0'));
        j += 3;
        group = kind;
    }
    uint64_t cents = v * 100;
    if (j + 1 < len && (s[j] == '.' || s[j] == ',') && s[j] != group &&
        nlu_ent_digit((unsigned char)s[j + 1])) {
        if (j + 2 == len || !nlu_ent_digit((unsigned char)s[j + 2])) {
            cents += (uint64_t)(s[j + 1] - '0') * 10;
            j += 2;
        } else if (j + 3 == len || !nlu_ent_digit((unsigned char)s[j + 3])) {
            cents += (uint64_t)((s[j + 1] - '0') * 10 + (s[j + 2] - '0'));
            j += 3;
        }
    }
    a->end = j;
    a->cents = cents;
    return true;
}

/* A multiplier after an amount: "k" or "к" glued, "тыс", "млн", "thousand". Returns the power
 * of ten (0 when none) and its end in *end. */
static unsigned read_mult(struct nlu_ent_scan *sc, size_t j, size_t *end)
{
    const char *s = sc->s;
    size_t len = sc->len;
    if (j < len && (s[j] == 'k' || s[j] == 'K') && !nlu_ent_is_word(s, len, j + 1)) {
        *end = j + 1;
        return 3;
    }
    if (j + 1 < len && (unsigned char)s[j] == 0xD0 &&
        ((unsigned char)s[j + 1] == 0xBA || (unsigned char)s[j + 1] == 0x9A) &&
        !nlu_ent_is_word(s, len, j + 2)) {
        *end = j + 2; /* к, К */
        return 3;
    }
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    if (nlu_ent_kw_at(sc, nlu_ent_skip(s, len, j, 1), &w, &kw) != NLU_ENT_KW_MULT) {
        return 0;
    }
    *end = w.end < len && s[w.end] == '.' ? w.end + 1 : w.end;
    return kw->val;
}

/* The currency after an amount that ended at j (one space at most): its index and end, or
 * -1. "т.р." (thousands of roubles) adds 3 to *mult. */
static int read_cur_after(struct nlu_ent_scan *sc, size_t j, size_t *end, unsigned *mult)
{
    const char *s = sc->s;
    size_t len = sc->len;
    size_t k = nlu_ent_skip(s, len, j, 1), w;
    if (k >= len) {
        return -1;
    }
    int cur = nlu_ent_cur_symbol(s, len, k, &w);
    if (cur >= 0) {
        /* in "$20 $30" the second sign leads 30 */
        if (k + w < len && nlu_ent_digit((unsigned char)s[k + w])) {
            return -1;
        }
        *end = k + w;
        return cur;
    }
    if (len - k >= 5 && memcmp(s + k, "\xD1\x82.\xD1\x80", 5) == 0 &&
        !nlu_ent_is_word(s, len, k + 5)) {
        *end = k + 5;
        *mult += 3;
        return NLU_ENT_RUB;
    }
    struct nlu_ent_word wd;
    const struct nlu_ent_kw *kw;
    if (nlu_ent_kw_at(sc, k, &wd, &kw) != NLU_ENT_KW_CUR) {
        return -1;
    }
    if (nlu_ent_word_is(&wd, "try") && !wd.upper) {
        return -1;
    }
    *end = wd.end;
    return kw->val & ~NLU_ENT_CUR_CODE;
}

static void emit_price(struct nlu_ent_scan *sc, size_t start, size_t end, uint64_t cents,
                       unsigned mult, int cur)
{
    for (unsigned k = 0; k < mult; k++) {
        if (cents > UINT64_MAX / 10) {
            return;
        }
        cents *= 10;
    }
    char buf[48];
    size_t n = nlu_ent_utoa(buf, cents / 100, 1);
    buf[n++] = '.';
    n += nlu_ent_utoa(buf + n, cents % 100, 2);
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_PRICE, NLU_ENT_RANK_PRICE, start, end);
    nlu_ent_value(e, buf, n);
    nlu_ent_unit(e, nlu_ent_cur_codes[cur]);
}

/* An amount and what follows it: "20$", "1 500 руб", "2.5k руб", "15 eur". */
static void price_after(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, end;
    struct amount a;
    if (!read_amount(s, len, i, &a)) {
        return;
    }
    unsigned mult = read_mult(sc, a.end, &end);
    if (mult == 0) {
        end = a.end;
    }
    size_t cend;
    int cur = read_cur_after(sc, end, &cend, &mult);
    if (cur >= 0) {
        emit_price(sc, i, cend, a.cents, mult, cur);
    }
}

/* An amount after a sign or code that starts at start and ends at j: "$20", "USD 30". */
static void price_before(struct nlu_ent_scan *sc, size_t start, size_t j, int cur)
{
    const char *s = sc->s;
    size_t len = sc->len, end;
    size_t k = nlu_ent_skip(s, len, j, 1);
    struct amount a;
    if (k >= len || !nlu_ent_digit((unsigned char)s[k]) || !read_amount(s, len, k, &a)) {
        return;
    }
    unsigned mult = read_mult(sc, a.end, &end);
    if (mult == 0) {
        end = a.end;
    }
    if (continues(s, len, end)) {
        return;
    }
    emit_price(sc, start, end, a.cents, mult, cur);
}

void nlu_ent_at_symbol(struct nlu_ent_scan *sc, size_t i, int cur, size_t width)
{
    /* "20$30": the sign belongs to the amount before it */
    if (i > 0 && nlu_ent_digit((unsigned char)sc->s[i - 1])) {
        return;
    }
    price_before(sc, i, i + width, cur);
}

void nlu_ent_price_code(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, int cur)
{
    if (cur == NLU_ENT_TRY && !w->upper) {
        return;
    }
    price_before(sc, w->start, w->end, cur);
}

/* ---- quantities ---- */

static void emit_qty(struct nlu_ent_scan *sc, size_t start, size_t end, uint64_t n, bool pairs)
{
    char buf[24];
    size_t bn = nlu_ent_utoa(buf, n, 1);
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_QUANTITY, NLU_ENT_RANK_QUANTITY, start, end);
    nlu_ent_value(e, buf, bn);
    nlu_ent_unit(e, pairs ? "pairs" : "pcs");
}

/* "2 pcs", "3шт", "2 пары" */
static void qty_after(struct nlu_ent_scan *sc, size_t i)
{
    struct num n;
    if (!read_num(sc->s, sc->len, i, 5, &n) || n.v == 0) {
        return;
    }
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(sc->s, sc->len, n.end, 1);
    if (nlu_ent_kw_at(sc, k, &w, &kw) == NLU_ENT_KW_QTY) {
        emit_qty(sc, i, w.end, n.v, kw->val == 1);
    }
}

void nlu_ent_qty_x(struct nlu_ent_scan *sc, const struct nlu_ent_word *w)
{
    size_t lead;
    if (w->n >= 2 && w->low[0] == 'x') {
        lead = 1;
    } else if (w->n >= 3 && memcmp(w->low, "\xD1\x85", 2) == 0) {
        lead = 2; /* Cyrillic х */
    } else {
        return;
    }
    uint64_t v = 0;
    for (size_t k = lead; k < w->n; k++) {
        if (!nlu_ent_digit((unsigned char)w->low[k]) || k - lead >= 4) {
            return;
        }
        v = v * 10 + (uint64_t)(w->low[k] - '0');
    }
    if (v > 0) {
        emit_qty(sc, w->start, w->end, v, false);
    }
}

void nlu_ent_at_times(struct nlu_ent_scan *sc, size_t i, size_t width)
{
    struct num n;
    size_t k = nlu_ent_skip(sc->s, sc->len, i + width, 1);
    if (read_num(sc->s, sc->len, k, 4, &n) && n.v > 0 && !continues(sc->s, sc->len, n.end)) {
        emit_qty(sc, i, n.end, n.v, false);
    }
}

void nlu_ent_qty_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned n)
{
    struct nlu_ent_word u;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(sc->s, sc->len, w->end, 1);
    if (k > w->end && nlu_ent_kw_at(sc, k, &u, &kw) == NLU_ENT_KW_QTY) {
        emit_qty(sc, w->start, u.end, n, kw->val == 1);
    }
}

/* ---- sizes ---- */

bool nlu_ent_size_num(const char *s, size_t len, size_t i, unsigned maxv, struct nlu_ent_size *z)
{
    struct num a, b;
    if (!read_num(s, len, i, 3, &a) || a.v == 0 || a.v > maxv) {
        return false;
    }
    size_t j = a.end;
    z->lo = z->hi = (unsigned)a.v;
    z->n = nlu_ent_utoa(z->text, a.v, 1);
    if (j + 1 < len && (s[j] == '.' || s[j] == ',') && s[j + 1] == '5') {
        z->text[z->n++] = '.';
        z->text[z->n++] = '5';
        j += 2;
    } else if (j + 1 < len && s[j] == '-' && nlu_ent_digit((unsigned char)s[j + 1])) {
        if (!read_num(s, len, j + 1, 3, &b) || b.v <= a.v || b.v - a.v > 4 || b.v > maxv) {
            return false;
        }
        z->hi = (unsigned)b.v;
        z->text[z->n++] = '-';
        z->n += nlu_ent_utoa(z->text + z->n, b.v, 1);
        j = b.end;
    }
    if (continues(s, len, j) || (j < len && (s[j] == ':' || s[j] == '/' || s[j] == '-'))) {
        return false;
    }
    z->end = j;
    z->text[z->n] = '\0';
    return true;
}

/* "38 размер", "42-44 size", and a bare clothing range "42-44" */
static void size_before(struct nlu_ent_scan *sc, size_t i)
{
    struct nlu_ent_size z;
    if (!nlu_ent_size_num(sc->s, sc->len, i, 200, &z)) {
        return;
    }
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(sc->s, sc->len, z.end, 1);
    bool named = nlu_ent_kw_at(sc, k, &w, &kw) == NLU_ENT_KW_SIZE;
    bool range = z.hi == z.lo + 2 && z.lo % 2 == 0 && z.lo >= 38 && z.hi <= 66;
    if (named || range) {
        struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, i, z.end);
        nlu_ent_value(e, z.text, z.n);
    }
}

/* ---- cards ---- */

#define MAX_GROUPS 8

struct groups {
    char d[24];
    unsigned nd, ng;
    bool more;                  /* the digits go on past what was read */
    unsigned count[MAX_GROUPS]; /* digits up to the end of each group */
    size_t end[MAX_GROUPS];
    char sep[MAX_GROUPS]; /* separator after the group: ' ', '-', '.', '(' */
};

/* Reads the digits at *j into g as its next group (no separator yet). false, with g->more
 * set, when the digits go on past max in all: the group is then not recorded. */
static bool read_group(struct groups *g, const char *s, size_t len, size_t *j, unsigned max)
{
    while (*j < len && nlu_ent_digit((unsigned char)s[*j])) {
        if (g->nd == max) {
            g->more = true;
            return false;
        }
        g->d[g->nd++] = s[(*j)++];
    }
    g->count[g->ng] = g->nd;
    g->sep[g->ng] = 0;
    g->end[g->ng++] = *j;
    return true;
}

static bool luhn(const char *d, unsigned n)
{
    unsigned sum = 0;
    bool dbl = false, same = true;
    for (unsigned k = n; k-- > 0;) {
        unsigned v = (unsigned)(d[k] - '0');
        if (dbl) {
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        }
        sum += v;
        dbl = !dbl;
        same = same && d[k] == d[0];
    }
    return sum % 10 == 0 && !same;
}

/* Whether the first ng groups are grouped like a card: 4-4-4-4(-3), 4-6-5 or 4-6-4. */
static bool card_groups(const struct groups *g, unsigned ng)
{
    if (ng == 1) {
        return true;
    }
    unsigned prev = 0, size[MAX_GROUPS] = {0};
    for (unsigned k = 0; k < ng; k++) {
        size[k] = g->count[k] - prev;
        prev = g->count[k];
    }
    if (ng == 3 && size[0] == 4 && size[1] == 6 && (size[2] == 5 || size[2] == 4)) {
        return true;
    }
    for (unsigned k = 0; k + 1 < ng; k++) {
        if (size[k] != 4) {
            return false;
        }
    }
    return size[ng - 1] >= 1 && size[ng - 1] <= 4;
}

static void card(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i;
    struct groups g = {.nd = 0, .ng = 0, .more = false};
    char sep = 0;
    while (g.ng < MAX_GROUPS && read_group(&g, s, len, &j, 19)) {
        if (j + 1 < len && (s[j] == ' ' || s[j] == '-') && (sep == 0 || s[j] == sep) &&
            nlu_ent_digit((unsigned char)s[j + 1])) {
            sep = s[j++];
            continue;
        }
        break;
    }
    /* the longest run of whole groups that is a card; a space may cut what follows */
    for (unsigned k = g.ng; k >= 1; k--) {
        unsigned nd = g.count[k - 1];
        if (nd < 13) {
            break;
        }
        bool last = k == g.ng && !g.more;
        if (nd > 19 || (!last && sep != ' ') || !card_groups(&g, k)) {
            continue;
        }
        if (last && continues(s, len, g.end[k - 1])) {
            continue;
        }
        if (luhn(g.d, nd)) {
            char buf[24] = "**** **** **** ";
            memcpy(buf + 15, g.d + nd - 4, 4);
            struct nlu_entity *e =
                nlu_ent_cand(sc, NLU_ENT_CARD, NLU_ENT_RANK_CARD, i, g.end[k - 1]);
            nlu_ent_value(e, buf, 19);
            return;
        }
    }
}

/* ---- phones ---- */

/* The separator between two digit groups at j: spaces, "-", ".", "(" and ")" (at most three
 * characters, parentheses balanced with *paren: 0 none yet, 1 open, 2 closed). Returns the
 * position of the next digit, or 0 when the number ends here. */
static size_t phone_sep(const char *s, size_t len, size_t j, int *paren, char *kind)
{
    int p = *paren;
    char k = 0;
    for (unsigned n = 0; n < 3 && j < len; n++) {
        size_t w = nlu_ent_space(s, len, j);
        if (s[j] == ')' && p == 1) {
            p = 2;
            w = 1;
            k = k == 0 ? '(' : k;
        } else if (s[j] == '(' && p == 0) {
            p = 1;
            w = 1;
            k = k == 0 ? '(' : k;
        } else if (s[j] == '-' || s[j] == '.') {
            k = k == 0 || k == '(' ? s[j] : k;
            w = 1;
        } else if (w > 0) {
            k = k == 0 || k == '(' ? ' ' : k;
        } else {
            break;
        }
        j += w;
    }
    if (k == 0 || j >= len || !nlu_ent_digit((unsigned char)s[j])) {
        return 0;
    }
    *paren = p;
    *kind = k;
    return j;
}

static bool valid_date(unsigned y, unsigned m, unsigned d)
{
    return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static unsigned group_value(const struct groups *g, unsigned k)
{
    unsigned v = 0;
    for (unsigned x = k > 0 ? g->count[k - 1] : 0; x < g->count[k]; x++) {
        v = v * 10 + (unsigned)(g->d[x] - '0');
    }
    return v;
}

/* Whether the groups read as something else: a date, or an amount in thousands. */
static bool not_a_phone(const struct groups *g, bool plus)
{
    unsigned size[MAX_GROUPS], prev = 0;
    bool dot = false, thousands = g->count[0] <= 3;
    for (unsigned k = 0; k < g->ng; k++) {
        size[k] = g->count[k] - prev;
        prev = g->count[k];
        dot = dot || (k + 1 < g->ng && g->sep[k] == '.');
        thousands = thousands && (k == 0 || size[k] == 3) && (k + 1 == g->ng || g->sep[k] == ' ');
    }
    if (plus) {
        return false;
    }
    if (thousands && g->ng > 1) {
        return true;
    }
    if (g->ng >= 3 && size[0] == 4 && size[1] == 2 && size[2] == 2 &&
        valid_date(group_value(g, 0), group_value(g, 1), group_value(g, 2))) {
        return true;
    }
    if (g->ng >= 3 && size[0] == 2 && size[1] == 2 && size[2] == 4 &&
        valid_date(group_value(g, 2), group_value(g, 1), group_value(g, 0))) {
        return true;
    }
    if (dot) {
        /* only 415.555.0100 */
        return !(g->ng == 3 && size[0] == 3 && size[1] == 3 && size[2] == 4 && g->sep[0] == '.' &&
                 g->sep[1] == '.');
    }
    return false;
}

/* Whether a price follows the number that ends at j ("1 000 000 000 руб"). */
static bool price_follows(struct nlu_ent_scan *sc, size_t j)
{
    size_t end;
    unsigned mult = 0;
    return read_cur_after(sc, j, &end, &mult) >= 0;
}

static void phone(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j = i;
    bool plus = s[j] == '+';
    int paren = 0;
    struct groups g = {.nd = 0, .ng = 0, .more = false};
    if (plus) {
        j++;
    }
    if (j < len && s[j] == '(') {
        paren = 1;
        j++;
    }
    if (j >= len || !nlu_ent_digit((unsigned char)s[j])) {
        return;
    }
    while (g.ng < MAX_GROUPS && read_group(&g, s, len, &j, 20)) {
        int p = paren;
        size_t next = phone_sep(s, len, j, &p, &g.sep[g.ng - 1]);
        if (next == 0) {
            break;
        }
        paren = p;
        j = next;
    }
    if (g.ng == MAX_GROUPS) {
        g.more = g.more || g.sep[g.ng - 1] != 0;
    }
    unsigned ng = g.ng;
    /* "… 45 67 15:00": the last group starts a time */
    if (!g.more && ng > 1 && g.end[ng - 1] + 1 < len && s[g.end[ng - 1]] == ':' &&
        nlu_ent_digit((unsigned char)s[g.end[ng - 1] + 1])) {
        ng--;
    }
    /* +7 / 8 / +1 numbers have 11 digits: what follows a space after them is something else */
    bool plan11 = (plus && (g.d[0] == '7' || g.d[0] == '1')) || (!plus && g.d[0] == '8');
    for (unsigned k = 0; plan11 && k + 1 < ng; k++) {
        if (g.count[k] == 11 && g.sep[k] == ' ') {
            ng = k + 1;
            g.more = false;
        }
    }
    if (g.more || ng == 0) {
        return;
    }
    g.ng = ng;
    g.nd = g.count[ng - 1];
    size_t end = g.end[ng - 1];
    if (g.nd > 15 || g.nd < (plus ? 9u : 10u) || paren == 1) {
        return;
    }
    if (ng == 1 && !plus &&
        !((g.nd == 11 && (g.d[0] == '7' || g.d[0] == '8')) || (g.nd == 10 && g.d[0] == '9'))) {
        return;
    }
    if (not_a_phone(&g, plus) || continues(s, len, end) || price_follows(sc, end)) {
        return;
    }
    char buf[24];
    size_t n = 0;
    if (plus) {
        buf[n++] = '+';
    }
    memcpy(buf + n, g.d, g.nd);
    n += g.nd;
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_PHONE, NLU_ENT_RANK_PHONE, i, end);
    nlu_ent_value(e, buf, n);
}

void nlu_ent_at_plus(struct nlu_ent_scan *sc, size_t i)
{
    if (nlu_ent_prev_word(sc->s, i) || (i > 0 && sc->s[i - 1] == '+')) {
        return;
    }
    phone(sc, i);
}

/* ---- the digit trigger ---- */

void nlu_ent_at_digit(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len;
    if (i > 0) {
        unsigned char p = (unsigned char)s[i - 1];
        if (p == '+' || p == '/' || p == '=' || p == '&' || p == '_' || p == '\\' || p == '#') {
            return;
        }
        /* the inside of a number: "05" in "12.05", "44" in "42-44"; but the second half of
         * a range may be a price, a date or a time: "1000-1500 руб", "10:00-18:00" */
        if ((p == '.' || p == ',' || p == ':' || p == '-') && i > 1 &&
            nlu_ent_digit((unsigned char)s[i - 2])) {
            if (p == '-') {
                price_after(sc, i);
                nlu_ent_date_num(sc, i);
                nlu_ent_time_num(sc, i);
            }
            return;
        }
    }
    /* "5678" in "1234 5678 9012 3456" is not where a phone or a card starts */
    bool inner = false;
    for (size_t k = i, n = 0; k > 0 && n < 2 && !inner; k--, n++) {
        unsigned char c = (unsigned char)s[k - 1];
        if (nlu_ent_digit(c)) {
            inner = n > 0;
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            break;
        }
    }
    if (!inner) {
        card(sc, i);
        phone(sc, i);
    }
    nlu_ent_date_num(sc, i);
    nlu_ent_time_num(sc, i);
    price_after(sc, i);
    qty_after(sc, i);
    size_before(sc, i);
    size_t j = i;
    while (j < len && nlu_ent_digit((unsigned char)s[j])) {
        j++;
    }
    if (j < len && nlu_ent_alpha((unsigned char)s[j])) {
        struct nlu_ent_word w;
        const struct nlu_ent_kw *kw;
        if (nlu_ent_kw_at(sc, i, &w, &kw) == NLU_ENT_KW_SIZE_WORD) {
            char up[NLU_ENT_WORD_MAX];
            for (size_t k = 0; k < w.n; k++) {
                up[k] =
                    (char)(nlu_ent_alpha((unsigned char)w.low[k]) ? w.low[k] & ~0x20 : w.low[k]);
            }
            struct nlu_entity *e =
                nlu_ent_cand(sc, NLU_ENT_SIZE, NLU_ENT_RANK_SIZE, w.start, w.end);
            nlu_ent_value(e, up, w.n);
        }
    }
}
