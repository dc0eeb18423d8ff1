/*
 * nlu/entities_time: dates and times.
 *
 * Dates: "12.05", "12.05.2024", "12/05/2024" (day first unless the second number cannot be a
 * month), "2024-05-12", "5 May", "May 5th, 2024", "5 мая", weekdays and relative days. A
 * complete date becomes "2024-05-12", one without a year "--05-12", a relative day its English
 * name ("tomorrow"), a weekday its English name ("friday"). Times: "15:30", "3pm", "3 p.m.",
 * "5 вечера", "в 18.00", "в 5 часов", "at 5"; the value is "HH:MM" on a 24-hour clock. The
 * numbers are checked (no 31 April, no 25:00) so that a decimal or a score does not pass.
 */
#include <string.h>

#include "nlu/entities_int.h"

static const char *const RELDAYS[] = {
    "today", "tomorrow", "yesterday", "day after tomorrow", "day before yesterday",
};

static const char *const WEEKDAYS[] = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
};

/* Up to maxd digits at i (fails on a longer run): value, count and end. */
static bool digits(const char *s, size_t len, size_t i, unsigned maxd, unsigned *v, unsigned *nd,
                   size_t *end)
{
    unsigned n = 0, x = 0;
    while (i < len && nlu_ent_digit((unsigned char)s[i])) {
        if (n == maxd) {
            return false;
        }
        x = x * 10 + (unsigned)(s[i] - '0');
        n++;
        i++;
    }
    *v = x;
    *nd = n;
    *end = i;
    return n > 0;
}

/* Whether what ended at i goes on as the same token: a letter or digit, or "." / ":" / "/"
 * followed by a digit ("-" starts a range: "10:00-18:00"). */
static bool goes_on(const char *s, size_t len, size_t i)
{
    if (i >= len) {
        return false;
    }
    if (nlu_ent_is_word(s, len, i) || s[i] == '@' || s[i] == '_') {
        return true;
    }
    return (s[i] == '.' || s[i] == ',' || s[i] == ':' || s[i] == '/') && i + 1 < len &&
           nlu_ent_digit((unsigned char)s[i + 1]);
}

static bool valid_day(unsigned y, unsigned m, unsigned d)
{
    static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m]) {
        return false;
    }
    if (m == 2 && d == 29 && y != 0) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    }
    return y == 0 || (y >= 1900 && y <= 2099);
}

/* y == 0: no year. */
static void emit_date(struct nlu_ent_scan *sc, size_t start, size_t end, unsigned y, unsigned m,
                      unsigned d)
{
    if (!valid_day(y, m, d)) {
        return;
    }
    char buf[16];
    size_t n;
    if (y != 0) {
        n = nlu_ent_utoa(buf, y, 4);
    } else {
        buf[0] = '-';
        n = 1;
    }
    buf[n++] = '-';
    n += nlu_ent_utoa(buf + n, m, 2);
    buf[n++] = '-';
    n += nlu_ent_utoa(buf + n, d, 2);
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_DATE, NLU_ENT_RANK_DATE, start, end);
    nlu_ent_value(e, buf, n);
}

static void emit_text(struct nlu_ent_scan *sc, enum nlu_ent_kind kind, int rank, size_t start,
                      size_t end, const char *v)
{
    struct nlu_entity *e = nlu_ent_cand(sc, kind, rank, start, end);
    nlu_ent_value(e, v, strlen(v));
}

/* An ordinal suffix glued at i ("5th", "1st"): its end, or i. */
static size_t ordinal(const char *s, size_t len, size_t i)
{
    struct nlu_ent_word w;
    if (i < len && nlu_ent_alpha((unsigned char)s[i]) && nlu_ent_word(s, len, i, &w) > i &&
        (nlu_ent_word_is(&w, "st") || nlu_ent_word_is(&w, "nd") || nlu_ent_word_is(&w, "rd") ||
         nlu_ent_word_is(&w, "th"))) {
        return w.end;
    }
    return i;
}

/* A year after a date at i (", 2024", " 2024", " 2024 г."): its value and end, or 0. */
static unsigned year_after(const char *s, size_t len, size_t i, size_t *end)
{
    size_t k = i < len && s[i] == ',' ? i + 1 : i;
    unsigned y, nd;
    k = nlu_ent_skip(s, len, k, 1);
    if (k == i || !digits(s, len, k, 4, &y, &nd, end) || nd != 4 || y < 1900 || y > 2099 ||
        goes_on(s, len, *end)) {
        return 0;
    }
    return y;
}

/* "5 May", "5th of May 2024", "5 мая" */
static void date_day_month(struct nlu_ent_scan *sc, size_t i, unsigned day, size_t j)
{
    const char *s = sc->s;
    size_t len = sc->len;
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(s, len, ordinal(s, len, j), 1);
    int type = nlu_ent_kw_at(sc, k, &w, &kw);
    if (type == NLU_ENT_KW_NONE && nlu_ent_word_is(&w, "of")) {
        type = nlu_ent_kw_at(sc, nlu_ent_skip(s, len, w.end, 1), &w, &kw);
    }
    if (type != NLU_ENT_KW_MONTH) {
        return;
    }
    size_t end = w.end, yend;
    unsigned y = year_after(s, len, end, &yend);
    emit_date(sc, i, y != 0 ? yend : end, y, kw->val % NLU_ENT_MONTH_LEAD, day);
}

void nlu_ent_date_num(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, ja, jb, jc;
    unsigned a, b, c, na, nb, nc;
    if (!digits(s, len, i, 4, &a, &na, &ja)) {
        return;
    }
    if (na <= 2 && a >= 1 && a <= 31) {
        date_day_month(sc, i, a, ja);
    }
    if (ja + 1 >= len || (s[ja] != '.' && s[ja] != '/' && s[ja] != '-')) {
        return;
    }
    char sep = s[ja];
    if (!digits(s, len, ja + 1, 2, &b, &nb, &jb)) {
        return;
    }
    if (na == 4) {
        /* 2024-05-12 */
        if (jb + 1 < len && s[jb] == sep && digits(s, len, jb + 1, 2, &c, &nc, &jc) &&
            !goes_on(s, len, jc)) {
            emit_date(sc, i, jc, a, b, c);
        }
        return;
    }
    if (na > 2) {
        return;
    }
    unsigned y = 0;
    size_t end = jb;
    if (jb + 1 < len && s[jb] == sep && nlu_ent_digit((unsigned char)s[jb + 1])) {
        if (!digits(s, len, jb + 1, 4, &c, &nc, &jc) || (nc != 2 && nc != 4)) {
            return;
        }
        y = nc == 2 ? 2000 + c : c;
        end = jc;
    } else if (sep == '-' || (sep == '.' && nb != 2) || (sep == '/' && (na != 2 || nb != 2))) {
        return; /* "10-15", "3.5" and "5/10" are not dates */
    }
    if (goes_on(s, len, end)) {
        return;
    }
    if (sep == '/' && b > 12 && a <= 12) {
        emit_date(sc, i, end, y, a, b);
    } else {
        emit_date(sc, i, end, y, b, a);
    }
}

void nlu_ent_date_month(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, unsigned month)
{
    const char *s = sc->s;
    size_t len = sc->len, j = w->end, end;
    unsigned d, nd;
    /* "may" is mostly a verb: only "May 5" */
    if (month == 5 && !w->cap) {
        return;
    }
    if (j < len && s[j] == '.') {
        j++;
    }
    size_t k = nlu_ent_skip(s, len, j, 1);
    if (k == j || !digits(s, len, k, 2, &d, &nd, &end)) {
        return;
    }
    end = ordinal(s, len, end);
    if (goes_on(s, len, end)) {
        return;
    }
    size_t yend;
    unsigned y = year_after(s, len, end, &yend);
    emit_date(sc, w->start, y != 0 ? yend : end, y, month, d);
}

void nlu_ent_date_word(struct nlu_ent_scan *sc, const struct nlu_ent_word *w,
                       const struct nlu_ent_kw *kw)
{
    if (kw->type == NLU_ENT_KW_RELDAY) {
        emit_text(sc, NLU_ENT_DATE, NLU_ENT_RANK_DATE, w->start, w->end, RELDAYS[kw->val]);
    } else if (kw->type == NLU_ENT_KW_WEEKDAY) {
        emit_text(sc, NLU_ENT_DATE, NLU_ENT_RANK_DATE, w->start, w->end, WEEKDAYS[kw->val]);
    } else if (kw->type == NLU_ENT_KW_DAY) {
        /* "day after tomorrow", "day before yesterday" */
        struct nlu_ent_word a, b;
        size_t k = nlu_ent_skip(sc->s, sc->len, w->end, 1);
        if (nlu_ent_word(sc->s, sc->len, k, &a) == k) {
            return;
        }
        k = nlu_ent_skip(sc->s, sc->len, a.end, 1);
        if (nlu_ent_word(sc->s, sc->len, k, &b) == k) {
            return;
        }
        if (nlu_ent_word_is(&a, "after") && nlu_ent_word_is(&b, "tomorrow")) {
            emit_text(sc, NLU_ENT_DATE, NLU_ENT_RANK_DATE, w->start, b.end, RELDAYS[3]);
        } else if (nlu_ent_word_is(&a, "before") && nlu_ent_word_is(&b, "yesterday")) {
            emit_text(sc, NLU_ENT_DATE, NLU_ENT_RANK_DATE, w->start, b.end, RELDAYS[4]);
        }
    }
}

/* ---- times ---- */

static void emit_time(struct nlu_ent_scan *sc, size_t start, size_t end, unsigned h, unsigned m)
{
    if (h > 23 || m > 59) {
        return;
    }
    char buf[8];
    nlu_ent_utoa(buf, h, 2);
    buf[2] = ':';
    nlu_ent_utoa(buf + 3, m, 2);
    struct nlu_entity *e = nlu_ent_cand(sc, NLU_ENT_TIME, NLU_ENT_RANK_TIME, start, end);
    nlu_ent_value(e, buf, 5);
}

/* "am"/"pm"/"a.m."/"p.m." at i (glued or after one space): 0 am, 1 pm, -1 none. */
static int ampm(struct nlu_ent_scan *sc, size_t i, size_t *end)
{
    const char *s = sc->s;
    size_t len = sc->len;
    size_t k = nlu_ent_skip(s, len, i, 1);
    if (k + 2 < len && s[k + 1] == '.' && (s[k + 2] | 0x20) == 'm' &&
        ((s[k] | 0x20) == 'a' || (s[k] | 0x20) == 'p')) {
        size_t e = k + 3 < len && s[k + 3] == '.' ? k + 4 : k + 3;
        if (!nlu_ent_is_word(s, len, e)) {
            *end = e;
            return (s[k] | 0x20) == 'p';
        }
    }
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    if (nlu_ent_kw_at(sc, k, &w, &kw) != NLU_ENT_KW_AMPM) {
        return -1;
    }
    *end = w.end;
    return kw->val;
}

/* 12-hour clock to 24: h in 1..12, or 24 (invalid). */
static unsigned from12(unsigned h, int pm)
{
    if (h < 1 || h > 12) {
        return 24;
    }
    if (pm) {
        return h == 12 ? 12 : h + 12;
    }
    return h == 12 ? 0 : h;
}

/* "5 утра" 05:00, "2 дня" 14:00, "7 вечера" 19:00, "2 ночи" 02:00; 24 when it cannot be. */
static unsigned daypart(unsigned h, unsigned part)
{
    switch (part) {
    case 0:
        return h <= 11 ? h : 24;
    case 1:
        return h >= 11 && h <= 12 ? h : h >= 1 && h <= 5 ? h + 12 : 24;
    case 2:
        return h >= 4 && h <= 11 ? h + 12 : 24;
    default:
        return h == 12 ? 0 : h <= 5 ? h : 24;
    }
}

/* A day part after i ("утра", "вечера"; "дня" only when allowed): its value and end, or -1. */
static int daypart_after(struct nlu_ent_scan *sc, size_t i, bool day, size_t *end)
{
    const char *s = sc->s;
    size_t len = sc->len;
    struct nlu_ent_word w;
    const struct nlu_ent_kw *kw;
    size_t k = nlu_ent_skip(s, len, i, 1);
    if (k == i || nlu_ent_kw_at(sc, k, &w, &kw) != NLU_ENT_KW_DAYPART || (kw->val == 1 && !day)) {
        return -1;
    }
    *end = w.end;
    return kw->val;
}

void nlu_ent_time_num(struct nlu_ent_scan *sc, size_t i)
{
    const char *s = sc->s;
    size_t len = sc->len, j, end, e2;
    unsigned h, m, nh, nm;
    if (!digits(s, len, i, 2, &h, &nh, &j) || h > 23) {
        return;
    }
    if (j + 1 < len && s[j] == ':' && nlu_ent_digit((unsigned char)s[j + 1])) {
        /* 15:30, 15:30:00, 3:30 pm */
        if (!digits(s, len, j + 1, 2, &m, &nm, &end) || nm != 2) {
            return;
        }
        unsigned sec, ns;
        if (end + 1 < len && s[end] == ':' && digits(s, len, end + 1, 2, &sec, &ns, &e2) &&
            ns == 2) {
            end = e2;
        }
        int pm = ampm(sc, end, &e2);
        if (pm >= 0) {
            h = from12(h, pm);
            end = e2;
        }
        if (!goes_on(s, len, end)) {
            emit_time(sc, i, end, h, m);
        }
        return;
    }
    int pm = ampm(sc, j, &end);
    if (pm >= 0) {
        emit_time(sc, i, end, from12(h, pm), 0);
        return;
    }
    int part = daypart_after(sc, j, false, &end);
    if (part >= 0 && !nlu_ent_is_word(s, len, j)) {
        emit_time(sc, i, end, daypart(h, (unsigned)part), 0);
    }
}

void nlu_ent_time_prep(struct nlu_ent_scan *sc, const struct nlu_ent_word *w, bool at)
{
    const char *s = sc->s;
    size_t len = sc->len, j, end;
    unsigned h, m, nh, nm;
    size_t k = nlu_ent_skip(s, len, w->end, 1);
    if (k == w->end || !digits(s, len, k, 2, &h, &nh, &j) || h > 23) {
        return;
    }
    if (j + 2 < len && s[j] == '.' && digits(s, len, j + 1, 2, &m, &nm, &end) && nm == 2) {
        /* "в 18.00"; "в 12.05" stays a date */
        if (!valid_day(0, m, h) && !goes_on(s, len, end)) {
            emit_time(sc, k, end, h, m);
        }
        return;
    }
    if (j < len && (s[j] == ':' || nlu_ent_is_word(s, len, j))) {
        return; /* "at 15:30", "at 3pm": the number itself says it */
    }
    struct nlu_ent_word u;
    const struct nlu_ent_kw *kw;
    size_t q = nlu_ent_skip(s, len, j, 1);
    int type = q > j ? nlu_ent_kw_at(sc, q, &u, &kw) : NLU_ENT_KW_NONE;
    if (type == NLU_ENT_KW_HOURS) {
        /* "в 5 часов", "в 5 часов вечера" */
        int part = daypart_after(sc, u.end, true, &end);
        if (part >= 0) {
            emit_time(sc, k, end, daypart(h, (unsigned)part), 0);
        } else {
            emit_time(sc, k, u.end, h, 0);
        }
        return;
    }
    int part = daypart_after(sc, j, true, &end);
    if (part >= 0) {
        emit_time(sc, k, end, daypart(h, (unsigned)part), 0);
        return;
    }
    /* a bare "at 5", unless a unit says what the number counts */
    if (!at || goes_on(s, len, j) || (j < len && (s[j] == '%' || s[j] == '$'))) {
        return;
    }
    size_t cw;
    if (q < len && nlu_ent_cur_symbol(s, len, q, &cw) >= 0) {
        return;
    }
    if (type == NLU_ENT_KW_CUR || type == NLU_ENT_KW_QTY || type == NLU_ENT_KW_SIZE ||
        type == NLU_ENT_KW_MONTH || type == NLU_ENT_KW_MULT || type == NLU_ENT_KW_AMPM) {
        return;
    }
    emit_time(sc, k, j, h, 0);
}
