/*
 * Fuzz target for the SSE parser and the stream decoders of both wires on arbitrary bytes. The
 * input is fed whole and again split at a position taken from its first byte; the promises:
 * the split changes nothing (the same events; the same outcome, text, usage and finish), every
 * event's data is NUL-terminated at its length and has a name, every delta is non-empty valid
 * UTF-8 and the deltas add up to the text kept, an OK stream has text, the outcome is one a
 * stream can have, and error strings are valid UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/mem.h"
#include "nlu/nlu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ai_sse: broken promise: %s\n", what);
        abort();
    }
}

/* Events rendered as name NUL len data, appended to a buffer. */
static int on_event(void *arg, const char *event, const char *d, size_t len)
{
    struct dk_buf *b = arg;
    check(event != NULL && event[0] != '\0', "events have a name");
    check(d[len] == '\0', "event data is NUL-terminated at its length");
    dk_buf_append(b, event, strlen(event) + 1);
    dk_buf_append(b, &len, sizeof(len));
    dk_buf_append(b, d, len);
    return 0;
}

static char *sse_events(const char *s, size_t size, size_t cut, bool flush, size_t *len, int *rc)
{
    struct dk_buf b;
    dk_buf_init(&b, 1u << 26);
    dk_buf_append(&b, "", 0);
    struct ai_sse *p = ai_sse_new(4096, on_event, &b);
    *rc = ai_sse_feed(p, s, cut);
    if (*rc == 0) {
        *rc = ai_sse_feed(p, s + cut, size - cut);
    }
    int end = ai_sse_end(p, flush);
    if (*rc == 0) {
        *rc = end;
    }
    ai_sse_free(p);
    return dk_buf_take(&b, len);
}

static int on_delta(void *arg, const char *text, size_t len)
{
    struct dk_buf *b = arg;
    check(len > 0, "deltas are not empty");
    check(nlu_utf8_check(text, len, NULL) == 0, "deltas are whole UTF-8 characters");
    dk_buf_append(b, text, len);
    return 0;
}

static void stream(enum ai_wire w, const char *s, size_t size, size_t cut, struct ai_reply *r)
{
    struct dk_buf deltas;
    dk_buf_init(&deltas, 1u << 26);
    dk_buf_append(&deltas, "", 0);
    struct ai_stream *st = ai_stream_new(w, on_delta, &deltas);
    if (ai_stream_feed(st, s, cut) == 0) {
        ai_stream_feed(st, s + cut, size - cut);
    }
    ai_stream_end(st, r);
    check(ai_stream_started(st) == (deltas.len > 0), "started means a delta was delivered");
    ai_stream_free(st);
    check(strcmp(r->text != NULL ? r->text : "", deltas.data) == 0, "deltas add up to the text");
    check(r->outcome != AI_OK || r->text != NULL, "an answer has text");
    check(r->outcome <= AI_ERR_CANCELED && r->outcome != AI_ERR_CANCELED,
          "a stream's outcome (nobody stopped it)");
    check(nlu_utf8_check(r->error, strlen(r->error), NULL) == 0, "error is valid UTF-8");
    check(nlu_utf8_check(r->error_type, strlen(r->error_type), NULL) == 0,
          "error_type is valid UTF-8");
    dk_buf_free(&deltas);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t cut = size > 0 ? (size_t)data[0] * size / 256 : 0;
    for (int flush = 0; flush < 2; flush++) {
        size_t la, lb;
        int ra, rb;
        char *a = sse_events(s, size, size, flush, &la, &ra);
        char *b = sse_events(s, size, cut, flush, &lb, &rb);
        check(ra == rb && la == lb && memcmp(a, b, la) == 0, "a split changes no event");
        check(ra == 0 || ra == DK_ETOOBIG, "feed fails only with DK_ETOOBIG");
        dk_free(a);
        dk_free(b);
    }
    for (int w = 0; w < 2; w++) {
        struct ai_reply a, b;
        stream((enum ai_wire)w, s, size, size, &a);
        stream((enum ai_wire)w, s, size, cut, &b);
        check(a.outcome == b.outcome, "a split changes no outcome");
        check(strcmp(a.text != NULL ? a.text : "-", b.text != NULL ? b.text : "-") == 0,
              "a split changes no text");
        check(a.usage.input_tokens == b.usage.input_tokens &&
                  a.usage.output_tokens == b.usage.output_tokens,
              "a split changes no usage");
        check(strcmp(a.finish, b.finish) == 0 && strcmp(a.id, b.id) == 0,
              "a split changes no finish or id");
        ai_reply_clear(&a);
        ai_reply_clear(&b);
    }
    return 0;
}
