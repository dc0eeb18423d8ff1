/*
 * ai/sse: the Server-Sent Events parser (WHATWG "event stream interpretation").
 *
 * Bytes arrive in any pieces. They are gathered raw into the current line until a terminator
 * (CR, LF or CRLF; a CR at the end of one piece whose LF comes in the next counts once), so a
 * line, a CRLF pair or a UTF-8 character split across pieces is never seen half. A complete line
 * is then a comment (":…", ignored), a field "name:value" (one optional space after the colon)
 * or a bare field name with an empty value. "data" lines append value + LF to the data buffer,
 * "event" sets the event name, "id" and "retry" are ignored, and a blank line dispatches the
 * event (no dispatch when no data line came). A leading UTF-8 BOM is dropped.
 *
 * One deviation from the spec, on purpose: old llama.cpp builds reported a failure mid-stream
 * as a bare "error: {…}" line. The spec drops unknown fields, which would hide that failure, so
 * an "error" field is read as event name "error" plus a data line.
 *
 * Everything one event holds (the pending line, the data, the name) is bounded by max_event;
 * beyond it the parser fails with DK_ETOOBIG and stays failed. A callback's nonzero return
 * also stops the parser for good: later feeds return the same value without reading.
 */
#include "ai/ai.h"

#include <string.h>

#include "core/mem.h"

struct ai_sse {
    size_t max_event;
    ai_sse_event_fn fn;
    void *arg;
    struct dk_buf line;  /* the current, unterminated line (raw bytes) */
    struct dk_buf data;  /* data lines, each followed by LF */
    struct dk_buf event; /* the event name, "" when none was given */
    bool after_cr;       /* the last byte was a CR: a following LF ends nothing */
    bool first_line;     /* the next complete line is the stream's first (BOM check) */
    int stopped;         /* the sticky result once the callback stopped or a limit was hit */
};

struct ai_sse *ai_sse_new(size_t max_event, ai_sse_event_fn fn, void *arg)
{
    struct ai_sse *p = dk_calloc(1, sizeof(*p));
    p->max_event = max_event;
    p->fn = fn;
    p->arg = arg;
    /* each buffer may hold at most the whole event; the sum is checked separately */
    dk_buf_init(&p->line, max_event + 1);
    dk_buf_init(&p->data, max_event + 1);
    dk_buf_init(&p->event, max_event + 1);
    p->first_line = true;
    return p;
}

void ai_sse_free(struct ai_sse *p)
{
    if (p == NULL) {
        return;
    }
    dk_buf_free(&p->line);
    dk_buf_free(&p->data);
    dk_buf_free(&p->event);
    dk_free(p);
}

/* The bytes one event holds right now, the pending line included. */
static size_t pending_size(const struct ai_sse *p)
{
    return p->line.len + p->data.len + p->event.len;
}

/* Whether n more bytes of data or name fit, once the line they come from is dropped. */
static bool fits(const struct ai_sse *p, size_t n)
{
    return p->data.len + p->event.len + n <= p->max_event;
}

static void reset_event(struct ai_sse *p)
{
    dk_buf_reset(&p->data);
    dk_buf_reset(&p->event);
}

/* Blank line: hands the event to the callback unless it has no data. */
static int dispatch(struct ai_sse *p)
{
    if (p->data.len == 0) {
        reset_event(p);
        return 0;
    }
    size_t len = p->data.len - 1; /* the last LF goes */
    p->data.data[len] = '\0';
    /* a name is a C string: one that is empty up to a NUL byte counts as none */
    const char *name = p->event.len > 0 && p->event.data[0] != '\0' ? p->event.data : "message";
    int rc = p->fn(p->arg, name, p->data.data, len);
    reset_event(p);
    return rc;
}

static int append_data(struct ai_sse *p, const char *v, size_t n)
{
    if (!fits(p, n + 1)) {
        return DK_ETOOBIG;
    }
    if (dk_buf_append(&p->data, v, n) != 0 || dk_buf_append(&p->data, "\n", 1) != 0) {
        return DK_ETOOBIG;
    }
    return 0;
}

static int set_event(struct ai_sse *p, const char *v, size_t n)
{
    dk_buf_reset(&p->event);
    if (!fits(p, n)) {
        return DK_ETOOBIG;
    }
    return dk_buf_append(&p->event, v, n) == 0 ? 0 : DK_ETOOBIG;
}

static bool field_is(const char *f, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(f, name, n) == 0;
}

/* One complete line (without its terminator). Consumes p->line. */
static int process_line(struct ai_sse *p)
{
    const char *s = p->line.data;
    size_t n = p->line.len;
    if (p->first_line) {
        p->first_line = false;
        if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
    }
    if (n == 0) {
        dk_buf_reset(&p->line);
        return dispatch(p);
    }
    if (s[0] == ':') { /* comment: keep-alives, llama.cpp pings */
        dk_buf_reset(&p->line);
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    size_t flen = colon != NULL ? (size_t)(colon - s) : n;
    const char *v = colon != NULL ? colon + 1 : s + n;
    size_t vlen = n - (size_t)(v - s);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    /* v points into the line: it is copied out before the line is reset */
    int rc = 0;
    if (field_is(s, flen, "data")) {
        rc = append_data(p, v, vlen);
    } else if (field_is(s, flen, "event")) {
        rc = set_event(p, v, vlen);
    } else if (field_is(s, flen, "error")) {
        rc = set_event(p, "error", 5);
        if (rc == 0) {
            rc = append_data(p, v, vlen);
        }
    }
    /* "id", "retry" and unknown fields are ignored */
    dk_buf_reset(&p->line);
    return rc;
}

static int add_to_line(struct ai_sse *p, const char *b, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (pending_size(p) + n > p->max_event) {
        return DK_ETOOBIG;
    }
    return dk_buf_append(&p->line, b, n) == 0 ? 0 : DK_ETOOBIG;
}

int ai_sse_feed(struct ai_sse *p, const char *bytes, size_t n)
{
    if (p->stopped != 0) {
        return p->stopped;
    }
    size_t i = 0;
    while (i < n) {
        if (p->after_cr) {
            p->after_cr = false;
            if (bytes[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && bytes[j] != '\n' && bytes[j] != '\r') {
            j++;
        }
        int rc = add_to_line(p, bytes + i, j - i);
        if (rc == 0 && j < n) {
            p->after_cr = bytes[j] == '\r';
            rc = process_line(p);
        }
        if (rc != 0) {
            p->stopped = rc;
            return rc;
        }
        i = j + 1;
    }
    return 0;
}

int ai_sse_end(struct ai_sse *p, bool flush)
{
    int rc = p->stopped;
    if (rc == 0 && flush) {
        if (p->line.len > 0) {
            rc = process_line(p);
        }
        if (rc == 0) {
            rc = dispatch(p);
        }
    }
    dk_buf_reset(&p->line);
    reset_event(p);
    p->after_cr = false;
    p->first_line = true;
    p->stopped = 0;
    return rc;
}
