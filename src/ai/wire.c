/*
 * ai/wire: the small shared pieces of the wire formats: task and outcome names, replies,
 * Retry-After values, and UTF-8 checks for text that came from a provider.
 *
 * Retry-After is either delta-seconds ("120", fractions accepted as the SDKs do) or an HTTP
 * date in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7), turned into a
 * wait in milliseconds relative to the caller's clock. The date is read field by field (no
 * strptime: its month names follow the locale) and converted with timegm.
 */
#include "ai/ai.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ai/ai_int.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

static const char *const TASK_NAMES[AI_TASK_COUNT] = {
    [AI_TASK_REPLY] = "reply",     [AI_TASK_INTENT] = "intent", [AI_TASK_SENTIMENT] = "sentiment",
    [AI_TASK_SUMMARY] = "summary", [AI_TASK_PLAN] = "plan",     [AI_TASK_EMBEDDING] = "embedding",
    [AI_TASK_CHAT] = "chat",
};

const char *ai_task_name(enum ai_task t)
{
    if ((unsigned)t >= AI_TASK_COUNT) {
        return "unknown";
    }
    return TASK_NAMES[t];
}

int ai_task_parse(const char *name, enum ai_task *out)
{
    for (int i = 0; name != NULL && i < AI_TASK_COUNT; i++) {
        if (strcmp(name, TASK_NAMES[i]) == 0) {
            *out = (enum ai_task)i;
            return 0;
        }
    }
    return DK_EINVAL;
}

const char *ai_outcome_name(enum ai_outcome o)
{
    switch (o) {
    case AI_OK:
        return "ok";
    case AI_ERR_RETRY:
        return "retry";
    case AI_ERR_FATAL:
        return "fatal";
    case AI_ERR_MALFORMED:
        return "malformed";
    case AI_ERR_TRUNCATED:
        return "truncated";
    case AI_ERR_CANCELED:
        return "canceled";
    case AI_ERR_BUDGET:
        return "budget";
    case AI_ERR_CIRCUIT:
        return "circuit";
    case AI_ERR_PRIVACY:
        return "privacy";
    }
    return "unknown";
}

void ai_reply_clear(struct ai_reply *r)
{
    if (r == NULL) {
        return;
    }
    dk_free(r->text);
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
}

/* ---- replies ---- */

void ai_wire_reply_init(struct ai_reply *out, int status, const char *retry_after)
{
    memset(out, 0, sizeof(*out));
    out->http_status = status;
    out->retry_after_ms = ai_retry_after_ms(retry_after, dk_now_ms());
}

void ai_wire_malformed(struct ai_reply *out, const char *what)
{
    dk_free(out->text);
    out->text = NULL;
    out->outcome = AI_ERR_MALFORMED;
    out->error_type[0] = '\0';
    ai_wire_copy(out->error, sizeof(out->error), what);
}

bool ai_wire_set_text(struct ai_reply *out, const char *s, size_t n)
{
    if (n > AI_WIRE_MAX_TEXT || !ai_wire_utf8_ok(s, n)) {
        ai_wire_malformed(out, n > AI_WIRE_MAX_TEXT ? "answer text over 1 MiB"
                                                    : "answer text is not valid UTF-8");
        return false;
    }
    out->text = dk_strndup(s, n);
    return true;
}

void ai_wire_error_body(int status, const char *body, size_t len, struct ai_reply *out)
{
    out->http_status = status;
    /* a non-JSON body (a proxy's HTML page, an empty 502): the status decides, the body
     * gives the message */
    char excerpt[160];
    size_t n = len < sizeof(excerpt) - 1 ? len : sizeof(excerpt) - 1;
    if (body != NULL) {
        memcpy(excerpt, body, n);
    }
    excerpt[body != NULL ? n : 0] = '\0';
    out->outcome = ai_openai_classify(status, NULL, NULL);
    if (excerpt[0] != '\0') {
        char clean[160];
        ai_wire_copy(clean, sizeof(clean), excerpt);
        snprintf(out->error, sizeof(out->error), "HTTP %d: %s", status, clean);
    } else {
        snprintf(out->error, sizeof(out->error), "HTTP %d with an empty body", status);
    }
}

void ai_wire_copy_field(char *dst, size_t cap, const json_t *obj, const char *key)
{
    const char *s = dk_json_str(obj, key);
    if (s != NULL) {
        ai_wire_copy(dst, cap, s);
    }
}

int64_t ai_wire_tokens(const json_t *usage, const char *key)
{
    int64_t v = 0;
    if (!dk_json_int(usage, key, &v) || v < 0) {
        return 0;
    }
    return v;
}

json_t *ai_wire_schema(const char *text)
{
    if (text == NULL) {
        return NULL;
    }
    json_t *s = dk_json_parse(text, strlen(text), AI_WIRE_MAX_DEPTH, NULL);
    if (!json_is_object(s)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- Retry-After ---- */

#define RETRY_AFTER_MAX_S 86400000LL /* 1000 days: anything longer is as good as "never" */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* delta-seconds, optionally with a fraction. -1 when s is not a number. */
static int64_t parse_seconds(const char *s, size_t n)
{
    size_t i = 0;
    int64_t secs = 0;
    while (i < n && is_digit(s[i])) {
        if (secs < RETRY_AFTER_MAX_S) {
            secs = secs * 10 + (s[i] - '0');
        }
        i++;
    }
    if (i == 0) {
        return -1;
    }
    int64_t ms = (secs > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : secs) * 1000;
    if (i < n && s[i] == '.') {
        i++;
        int64_t scale = 100;
        size_t start = i;
        while (i < n && is_digit(s[i])) {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start) {
            return -1;
        }
    }
    return i == n ? ms : -1;
}

/* n digits at s as a number, -1 when any is not a digit. */
static int read_num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" → Unix seconds; false when not that form. */
static bool parse_imf_fixdate(const char *s, size_t n, int64_t *out)
{
    static const char *const DAYS = "MonTueWedThuFriSatSun";
    static const char *const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0) {
        return false;
    }
    bool day_ok = false;
    for (int i = 0; i < 7; i++) {
        day_ok = day_ok || memcmp(s, DAYS + 3 * i, 3) == 0;
    }
    int mon = -1;
    for (int i = 0; i < 12; i++) {
        if (memcmp(s + 8, MONTHS + 3 * i, 3) == 0) {
            mon = i;
        }
    }
    int mday = read_num(s + 5, 2), year = read_num(s + 12, 4);
    int hour = read_num(s + 17, 2), min = read_num(s + 20, 2), sec = read_num(s + 23, 2);
    if (!day_ok || mon < 0 || mday < 1 || mday > 31 || year < 1970 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60) {
        return false;
    }
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return false;
    }
    *out = (int64_t)t;
    return true;
}

int64_t ai_retry_after_ms(const char *value, int64_t now_ms)
{
    if (value == NULL) {
        return -1;
    }
    const char *s = value;
    size_t n = strlen(s);
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        n--;
    }
    if (n == 0) {
        return -1;
    }
    if (is_digit(s[0])) {
        return parse_seconds(s, n);
    }
    int64_t t;
    if (!parse_imf_fixdate(s, n, &t)) {
        return -1;
    }
    int64_t wait = t * 1000 - now_ms;
    return wait > 0 ? wait : 0;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at u[0..n) (n > 0), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *u, size_t n)
{
    unsigned c = u[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (u[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

bool ai_wire_utf8_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = u[i] == 0 ? 0 : utf8_seq(u + i, n - i);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

void ai_wire_copy(char *dst, size_t cap, const char *src)
{
    if (cap == 0) {
        return;
    }
    const unsigned char *u = (const unsigned char *)(src != NULL ? src : "");
    size_t n = strlen((const char *)u);
    size_t i = 0, o = 0;
    while (i < n) {
        size_t len = utf8_seq(u + i, n - i);
        if (len == 0) { /* a stray byte (an HTML error page, say) */
            if (o + 1 >= cap) {
                break;
            }
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + len >= cap) {
            break;
        }
        if (len == 1) {
            dst[o++] = u[i] < 0x20 || u[i] == 0x7F ? ' ' : (char)u[i];
        } else {
            memcpy(dst + o, u + i, len);
            o += len;
        }
        i += len;
    }
    dst[o] = '\0';
}
