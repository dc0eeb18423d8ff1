/*
 * ai/stream: a streamed answer, for both wires: body bytes → SSE events (sse.c) → text deltas,
 * usage, finish reason, terminator, errors.
 *
 * OpenAI-style: one chunk per event; choices[0].delta.content pieces, finish_reason on the
 * last content chunk, then (include_usage) a chunk with "choices": [] and the usage, then
 * "data: [DONE]". Anthropic: named events; message_start (id, model, input usage),
 * content_block_delta text_delta pieces, message_delta (stop_reason, cumulative usage: the
 * last value wins), message_stop; ping and unknown events are ignored. Either wire may fail
 * after HTTP 200: OpenAI-style as data {"error":…} (old llama.cpp: an "error:" line), Anthropic
 * as event: error. The error is classified like an error response without a status.
 *
 * Completeness is decided by the terminator ([DONE] / message_stop), never by EOF. EOF policy:
 * an event still pending at EOF (no final blank line, as two of Anthropic's own SDK fixtures
 * end) is flushed and counts, so a whole "data: [DONE]" or message_stop line is honoured;
 * a flushed event that does not parse is a cut one and is ignored, so the outcome is then
 * AI_ERR_TRUNCATED. Whatever text arrived is kept in out->text in every outcome.
 *
 * Deltas reach the callback as decoded JSON strings, each checked to be valid UTF-8 without
 * NUL (whole characters: JSON strings cannot end inside one). The text kept is bounded by
 * AI_WIRE_MAX_TEXT, one event by AI_WIRE_MAX_EVENT: beyond either, AI_ERR_MALFORMED.
 */
#include "ai/ai.h"

#include <string.h>

#include "ai/ai_int.h"
#include "core/jsonh.h"
#include "core/mem.h"

struct ai_stream {
    enum ai_wire w;
    ai_delta_fn fn;
    void *arg;
    struct ai_sse *sse;
    struct dk_buf text;
    struct ai_reply r; /* finish, id, model, usage, and an error's fields */
    bool done;         /* the terminator arrived */
    bool failed;       /* r.outcome holds an error */
    bool canceled;     /* fn asked to stop */
    bool started;      /* a delta was delivered */
    bool at_eof;       /* events now come from the EOF flush */
};

static int fail(struct ai_stream *s, const char *what)
{
    ai_wire_malformed(&s->r, what);
    s->failed = true;
    return 1;
}

/* A text piece: checked, kept, delivered. Nonzero stops the stream. */
static int add_text(struct ai_stream *s, const json_t *t)
{
    if (!json_is_string(t)) {
        return t == NULL || json_is_null(t) ? 0 : fail(s, "stream text is not a string");
    }
    const char *p = json_string_value(t);
    size_t n = json_string_length(t);
    if (n == 0) {
        return 0;
    }
    if (!ai_wire_utf8_ok(p, n)) {
        return fail(s, "stream text is not valid UTF-8");
    }
    if (dk_buf_append(&s->text, p, n) != 0) {
        return fail(s, "answer text over 1 MiB");
    }
    s->started = true;
    if (s->fn != NULL && s->fn(s->arg, p, n) != 0) {
        s->canceled = true;
        return 1;
    }
    return 0;
}

static void set_usage(struct ai_stream *s, const json_t *usage, const char *in, const char *out)
{
    if (!json_is_object(usage)) {
        return;
    }
    /* present counts replace earlier ones: Anthropic's message_delta usage is cumulative */
    if (json_object_get(usage, in) != NULL) {
        s->r.usage.input_tokens = ai_wire_tokens(usage, in);
    }
    if (json_object_get(usage, out) != NULL) {
        s->r.usage.output_tokens = ai_wire_tokens(usage, out);
    }
}

static void set_ids(struct ai_stream *s, const json_t *obj)
{
    if (s->r.id[0] == '\0') {
        ai_wire_copy_field(s->r.id, sizeof(s->r.id), obj, "id");
    }
    if (s->r.model[0] == '\0') {
        ai_wire_copy_field(s->r.model, sizeof(s->r.model), obj, "model");
    }
}

/* ---- OpenAI-style chunks ---- */

static bool is_done(const char *data, size_t len)
{
    while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t')) {
        len--;
    }
    while (len > 0 && (*data == ' ' || *data == '\t')) {
        data++;
        len--;
    }
    return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

static int openai_chunk(struct ai_stream *s, const char *event, const json_t *j)
{
    json_t *e = json_object_get(j, "error");
    if ((e != NULL && !json_is_null(e)) || strcmp(event, "error") == 0) {
        ai_openai_error_fill(e != NULL ? e : j, 0, &s->r);
        s->failed = true;
        return 1;
    }
    set_ids(s, j);
    set_usage(s, json_object_get(j, "usage"), "prompt_tokens", "completion_tokens");
    json_t *choices = json_object_get(j, "choices");
    if (choices != NULL && !json_is_array(choices)) {
        return fail(s, "stream chunk choices is not an array");
    }
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
        int64_t idx = 0;
        if (json_object_get(c, "index") != NULL && (!dk_json_int(c, "index", &idx) || idx != 0)) {
            continue; /* one answer is asked for: n > 1 choices are not ours */
        }
        const char *finish = dk_json_str(c, "finish_reason");
        if (finish != NULL) {
            ai_wire_copy(s->r.finish, sizeof(s->r.finish), finish);
        }
        if (add_text(s, json_object_get(json_object_get(c, "delta"), "content")) != 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- Anthropic events ---- */

static const char *const ANTHROPIC_EVENTS[] = {
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "message", /* no event line: the type in the data decides */
};

static bool anthropic_known(const char *event)
{
    for (size_t i = 0; i < sizeof(ANTHROPIC_EVENTS) / sizeof(ANTHROPIC_EVENTS[0]); i++) {
        if (strcmp(event, ANTHROPIC_EVENTS[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int anthropic_event(struct ai_stream *s, const char *event, const json_t *j)
{
    const char *type = dk_json_str(j, "type");
    if (type == NULL) {
        type = event;
    }
    if (strcmp(type, "error") == 0 || strcmp(event, "error") == 0) {
        json_t *e = json_object_get(j, "error");
        const char *etype = dk_json_str(e, "type");
        const char *msg = dk_json_str(e, "message");
        const char *detail = dk_json_str(json_object_get(e, "details"), "error_code");
        s->r.outcome = ai_anthropic_classify(0, etype, false, NULL, detail);
        ai_wire_copy(s->r.error_type, sizeof(s->r.error_type), etype);
        ai_wire_copy(s->r.error, sizeof(s->r.error),
                     msg != NULL     ? msg
                     : etype != NULL ? etype
                                     : "error event in the stream");
        s->failed = true;
        return 1;
    }
    if (strcmp(type, "message_start") == 0) {
        json_t *m = json_object_get(j, "message");
        set_ids(s, m);
        set_usage(s, json_object_get(m, "usage"), "input_tokens", "output_tokens");
    } else if (strcmp(type, "content_block_start") == 0) {
        json_t *b = json_object_get(j, "content_block");
        const char *bt = dk_json_str(b, "type");
        if (bt != NULL && strcmp(bt, "text") == 0) {
            return add_text(s, json_object_get(b, "text"));
        }
    } else if (strcmp(type, "content_block_delta") == 0) {
        json_t *d = json_object_get(j, "delta");
        const char *dt = dk_json_str(d, "type");
        if (dt != NULL && strcmp(dt, "text_delta") == 0) {
            return add_text(s, json_object_get(d, "text"));
        }
    } else if (strcmp(type, "message_delta") == 0) {
        ai_wire_copy_field(s->r.finish, sizeof(s->r.finish), json_object_get(j, "delta"),
                           "stop_reason");
        set_usage(s, json_object_get(j, "usage"), "input_tokens", "output_tokens");
    } else if (strcmp(type, "message_stop") == 0) {
        s->done = true;
        return 1;
    }
    return 0; /* ping, content_block_stop, new event types */
}

/* ---- events ---- */

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct ai_stream *s = arg;
    if (s->w == AI_WIRE_OPENAI && is_done(data, len)) {
        s->done = true;
        return 1;
    }
    if (s->w == AI_WIRE_ANTHROPIC && !anthropic_known(event)) {
        return 0;
    }
    struct dk_err err;
    json_t *j = dk_json_parse(data, len, AI_WIRE_MAX_DEPTH, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        if (s->at_eof) {
            return 0; /* the last event was cut off: the stream is truncated */
        }
        return fail(s, j == NULL ? err.msg : "stream event is not a JSON object");
    }
    int rc = s->w == AI_WIRE_OPENAI ? openai_chunk(s, event, j) : anthropic_event(s, event, j);
    json_decref(j);
    return rc;
}

struct ai_stream *ai_stream_new(enum ai_wire w, ai_delta_fn fn, void *arg)
{
    struct ai_stream *s = dk_calloc(1, sizeof(*s));
    s->w = w;
    s->fn = fn;
    s->arg = arg;
    s->sse = ai_sse_new(AI_WIRE_MAX_EVENT, on_event, s);
    dk_buf_init(&s->text, AI_WIRE_MAX_TEXT);
    ai_wire_reply_init(&s->r, 0, NULL);
    return s;
}

void ai_stream_free(struct ai_stream *s)
{
    if (s == NULL) {
        return;
    }
    ai_sse_free(s->sse);
    dk_buf_free(&s->text);
    dk_free(s);
}

bool ai_stream_started(const struct ai_stream *s)
{
    return s->started;
}

static bool finished(const struct ai_stream *s)
{
    return s->done || s->failed || s->canceled;
}

int ai_stream_feed(struct ai_stream *s, const char *bytes, size_t n)
{
    if (finished(s)) {
        return 1;
    }
    int rc = ai_sse_feed(s->sse, bytes, n);
    if (rc == DK_ETOOBIG && !finished(s)) {
        fail(s, "stream event over 4 MiB");
    }
    return rc != 0 ? 1 : 0;
}

void ai_stream_end(struct ai_stream *s, struct ai_reply *out)
{
    if (!finished(s)) {
        s->at_eof = true;
        if (ai_sse_end(s->sse, true) == DK_ETOOBIG && !finished(s)) {
            fail(s, "stream event over 4 MiB");
        }
    }
    *out = s->r;
    if (s->failed) {
        /* the error's class and message are in place */
    } else if (s->done) {
        out->outcome = AI_OK;
    } else if (s->canceled) {
        out->outcome = AI_ERR_CANCELED;
        ai_wire_copy(out->error, sizeof(out->error), "the receiver stopped the stream");
    } else {
        out->outcome = AI_ERR_TRUNCATED;
        ai_wire_copy(out->error, sizeof(out->error),
                     s->w == AI_WIRE_OPENAI ? "stream ended before data: [DONE]"
                                            : "stream ended before message_stop");
    }
    out->text = NULL;
    if (out->outcome == AI_OK || s->text.len > 0) {
        out->text = dk_strndup(s->text.data != NULL ? s->text.data : "", s->text.len);
    }
}
