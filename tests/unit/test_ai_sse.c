/* Unit tests of the SSE parser and the streamed answers of both wires (ai/sse.c, ai/stream.c):
 * every fixture whole, split at every offset and byte by byte; cuts, errors, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/mem.h"
#include "fixture.h"
#include "nlu/nlu.h"

/* $DIREKT_FIXTURES/llm/NAME, NUL-terminated (dk_free). */
static char *read_fixture(const char *name, size_t *len)
{
    return test_fixture("llm", name, len);
}

/* ===== SSE ===== */

/* Renders events as "name=data;" (data's newlines as '|'). */
static int record_event(void *arg, const char *event, const char *data, size_t len)
{
    struct dk_buf *b = arg;
    assert_int_equal(strlen(data), len);
    dk_buf_printf(b, "%s=", event);
    for (size_t i = 0; i < len; i++) {
        dk_buf_append(b, data[i] == '\n' ? "|" : data + i, 1);
    }
    dk_buf_append(b, ";", 1);
    return 0;
}

/* Feeds in[0..first) then pieces of piece bytes (0: the rest at once); renders the events. */
static char *sse_run(const char *in, size_t len, size_t first, size_t piece, bool flush, int *rc)
{
    struct dk_buf b;
    dk_buf_init(&b, 1 << 20);
    dk_buf_append(&b, "", 0);
    struct ai_sse *p = ai_sse_new(256, record_event, &b);
    *rc = ai_sse_feed(p, in, first);
    for (size_t i = first; *rc == 0 && i < len;) {
        size_t n = piece == 0 || piece > len - i ? len - i : piece;
        *rc = ai_sse_feed(p, in + i, n);
        i += n;
    }
    if (*rc == 0) {
        *rc = ai_sse_end(p, flush);
    }
    ai_sse_free(p);
    return dk_buf_take(&b, NULL);
}

/* The events of in, the same whole, split anywhere and byte by byte. */
static void sse_expect(const char *in, bool flush, const char *want)
{
    size_t len = strlen(in);
    int rc;
    char *got = sse_run(in, len, len, 0, flush, &rc);
    assert_int_equal(rc, 0);
    if (strcmp(got, want) != 0) {
        fail_msg("events of \"%s\":\n got  %s\n want %s", in, got, want);
    }
    dk_free(got);
    for (size_t k = 0; k <= len; k++) {
        got = sse_run(in, len, k, k == 0 ? 1 : 0, flush, &rc);
        if (rc != 0 || strcmp(got, want) != 0) {
            fail_msg("split at %zu of \"%s\": got %s", k, in, got);
        }
        dk_free(got);
    }
}

static void test_ai_sse_rules(void **state)
{
    (void)state;
    sse_expect("data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n", false,
               "message=a;message=b;message=c;message=d;");
    /* a CRLF is one line end, also when CR and LF arrive in different pieces */
    sse_expect("event: e\r\ndata: 1\r\ndata: 2\r\n\r\nevent: f\rdata: 3\r\n\n", false,
               "e=1|2;f=3;");
    sse_expect("\xEF\xBB\xBF"
               "data: bom\n\n",
               false, "message=bom;");
    sse_expect("data:\xEF\xBB\xBF\n\n", false, "message=\xEF\xBB\xBF;"); /* only a leading BOM */
    sse_expect(": ping\n:\ndata: x\n: mid\n\n", false, "message=x;");
    sse_expect("data\n\ndata:\n\ndata:nospace\n\ndata:  two\n\n", false,
               "message=;message=;message=nospace;message= two;");
    sse_expect("data: one\ndata: two\ndata:\ndata: four\n\n", false, "message=one|two||four;");
    sse_expect("event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n", false,
               "a=1;message=2;message=3;");
    sse_expect("event: x\nid: 7\nretry: 100\nfoo: bar\ndata: d\n\n", false, "x=d;");
    sse_expect("event: skipped\nid: 1\n\n\n\n", false, "");
    sse_expect("error: {\"code\":500}\n\n", false, "error={\"code\":500};");
    sse_expect("data: {\"a\": \"\xD0\xBF\xF0\x9F\x98\x80\"}\n\n", false,
               "message={\"a\": \"\xD0\xBF\xF0\x9F\x98\x80\"};");
    /* end of stream: the pending event (and an unterminated line) only with flush */
    sse_expect("data: a\n\ndata: pending", false, "message=a;");
    sse_expect("data: a\n\ndata: pending", true, "message=a;message=pending;");
    sse_expect("event: e\ndata: p\n", true, "e=p;");
    sse_expect("data: a\r", true, "message=a;");
}

static void test_ai_sse_limits(void **state)
{
    (void)state;
    char big[600];
    memset(big, 'x', sizeof(big));
    memcpy(big, "data: ", 6);
    big[sizeof(big) - 1] = '\0';
    int rc;
    char *got = sse_run(big, strlen(big), strlen(big), 0, true, &rc);
    assert_int_equal(rc, DK_ETOOBIG);
    dk_free(got);
    /* the bound is per event: many events of 200 bytes pass, one of 4 × 100 does not */
    struct dk_buf in;
    dk_buf_init(&in, 1 << 20);
    for (int i = 0; i < 50; i++) {
        dk_buf_printf(&in, "data: %0194d\n\n", i);
    }
    got = sse_run(in.data, in.len, 1, 7, false, &rc);
    assert_int_equal(rc, 0);
    dk_free(got);
    dk_buf_reset(&in);
    for (int i = 0; i < 4; i++) {
        dk_buf_printf(&in, "data: %094d\n", i);
    }
    got = sse_run(in.data, in.len, in.len, 0, false, &rc);
    assert_int_equal(rc, DK_ETOOBIG);
    dk_free(got);
    dk_buf_free(&in);
}

static int stop_at_second(void *arg, const char *event, const char *data, size_t len)
{
    (void)event, (void)data, (void)len;
    int *count = arg;
    return ++*count == 2 ? 7 : 0;
}

static void test_ai_sse_stop(void **state)
{
    (void)state;
    int count = 0;
    struct ai_sse *p = ai_sse_new(100, stop_at_second, &count);
    const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(ai_sse_feed(p, in, strlen(in)), 7);
    assert_int_equal(ai_sse_feed(p, in, strlen(in)), 7);
    assert_int_equal(count, 2);
    ai_sse_free(p);
    /* Anthropic's fixture has no final blank line: a strict end loses message_stop */
    size_t len;
    char *s = read_fixture("anthropic_stream.sse", &len);
    struct dk_buf b;
    dk_buf_init(&b, 1 << 20);
    p = ai_sse_new(4096, record_event, &b);
    assert_int_equal(ai_sse_feed(p, s, len), 0);
    assert_null(strstr(b.data, "message_stop="));
    assert_int_equal(ai_sse_end(p, false), 0);
    assert_null(strstr(b.data, "message_stop="));
    assert_int_equal(ai_sse_feed(p, s, len), 0);
    assert_int_equal(ai_sse_end(p, true), 0);
    assert_non_null(strstr(b.data, "message_stop={\"type\":\"message_stop\"};"));
    ai_sse_free(p);
    dk_buf_free(&b);
    dk_free(s);
}

/* ===== streams ===== */

struct run {
    struct ai_reply r;
    struct dk_buf deltas;
    int ndeltas;
    int stop_after; /* the delta callback stops after this many (0: never) */
    bool started;
};

static int on_delta(void *arg, const char *text, size_t len)
{
    struct run *run = arg;
    assert_true(len > 0);
    if (nlu_utf8_check(text, len, NULL) != 0) {
        fail_msg("delta is not whole UTF-8: %.*s", (int)len, text);
    }
    dk_buf_append(&run->deltas, text, len);
    run->ndeltas++;
    return run->stop_after != 0 && run->ndeltas >= run->stop_after;
}

/* Streams in[0..first) then pieces as sse_run does. */
static void stream_run(enum ai_wire w, const char *in, size_t len, size_t first, size_t piece,
                       struct run *run)
{
    dk_buf_init(&run->deltas, 8u << 20);
    dk_buf_append(&run->deltas, "", 0);
    run->ndeltas = 0;
    struct ai_stream *s = ai_stream_new(w, on_delta, run);
    int rc = ai_stream_feed(s, in, first);
    for (size_t i = first; rc == 0 && i < len;) {
        size_t n = piece == 0 || piece > len - i ? len - i : piece;
        rc = ai_stream_feed(s, in + i, n);
        i += n;
    }
    ai_stream_end(s, &run->r);
    run->started = ai_stream_started(s);
    ai_stream_free(s);
    /* what was delivered is what is kept */
    const char *text = run->r.text != NULL ? run->r.text : "";
    assert_string_equal(text, run->deltas.data);
    assert_int_equal(run->started, run->ndeltas > 0);
}

static void run_free(struct run *run)
{
    ai_reply_clear(&run->r);
    dk_buf_free(&run->deltas);
}

static void same_result(const struct run *a, const struct run *b, const char *what, size_t k)
{
    const char *ta = a->r.text != NULL ? a->r.text : "(null)";
    const char *tb = b->r.text != NULL ? b->r.text : "(null)";
    if (a->r.outcome != b->r.outcome || strcmp(ta, tb) != 0 ||
        a->r.usage.input_tokens != b->r.usage.input_tokens ||
        a->r.usage.output_tokens != b->r.usage.output_tokens ||
        strcmp(a->r.finish, b->r.finish) != 0 || strcmp(a->r.error_type, b->r.error_type) != 0 ||
        strcmp(a->r.id, b->r.id) != 0) {
        fail_msg("%s split at %zu: %s \"%s\" differs from %s \"%s\"", what, k,
                 ai_outcome_name(b->r.outcome), tb, ai_outcome_name(a->r.outcome), ta);
    }
}

/* Runs in whole, at every split offset and byte by byte; all must agree. Returns the whole
 * run in *out (run_free). */
static void stream_all(enum ai_wire w, const char *in, size_t len, const char *what,
                       struct run *out)
{
    memset(out, 0, sizeof(*out));
    stream_run(w, in, len, len, 0, out);
    for (size_t k = 0; k <= len; k++) {
        struct run r = {0};
        stream_run(w, in, len, k, k == 0 ? 1 : 0, &r);
        same_result(out, &r, what, k);
        run_free(&r);
    }
}

static void expect_run(const struct run *r, enum ai_outcome o, const char *text, int64_t in,
                       int64_t out, const char *finish)
{
    if (r->r.outcome != o) {
        fail_msg("outcome %s (%s), want %s", ai_outcome_name(r->r.outcome), r->r.error,
                 ai_outcome_name(o));
    }
    if (text == NULL) {
        assert_null(r->r.text);
    } else {
        assert_non_null(r->r.text);
        assert_string_equal(r->r.text, text);
    }
    assert_int_equal(r->r.usage.input_tokens, in);
    assert_int_equal(r->r.usage.output_tokens, out);
    assert_string_equal(r->r.finish, finish);
}

static const char OPENAI_TEXT[] =
    "I'm unable to provide real-time weather updates. To get the current weather in San "
    "Francisco, I recommend checking a reliable weather website or a weather app.";

/* Every .sse fixture, its expected result, and the offset at which its terminator is whole. */
static const struct stream_case {
    const char *file;
    enum ai_wire w;
    enum ai_outcome outcome;
    const char *text;
    int64_t in, out;
    const char *finish, *id, *model, *error_type;
    const char *terminator; /* the text that ends the stream; NULL when none */
} STREAMS[] = {
    {"openai_chat_stream.sse", AI_WIRE_OPENAI, AI_OK, OPENAI_TEXT, 14, 30, "stop",
     "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL", "gpt-4o-2024-08-06", "", "data: [DONE]"},
    {"anthropic_stream.sse", AI_WIRE_ANTHROPIC, AI_OK, "Hello there!", 11, 6, "end_turn",
     "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK", "claude-3-opus-latest", "",
     "{\"type\":\"message_stop\"}"},
    {"anthropic_stream_tool_use.sse", AI_WIRE_ANTHROPIC, AI_OK,
     "I'll check the current weather in Paris for you.", 377, 65, "tool_use",
     "msg_019Q1hrJbZG26Fb9BQhrkHEr", "claude-sonnet-4-20250514", "", "{\"type\":\"message_stop\"}"},
    {"anthropic_stream_error.sse", AI_WIRE_ANTHROPIC, AI_ERR_RETRY, NULL, 0, 0, "", "", "",
     "overloaded_error", NULL},
};

static const struct stream_case *stream_case(const char *file)
{
    for (size_t i = 0; i < sizeof(STREAMS) / sizeof(STREAMS[0]); i++) {
        if (strcmp(STREAMS[i].file, file) == 0) {
            return &STREAMS[i];
        }
    }
    return NULL;
}

static void test_ai_sse_stream_fixtures(void **state)
{
    (void)state;
    char *dir = dk_asprintf("%s/llm", getenv("DIREKT_FIXTURES"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".sse") != 0) {
            continue;
        }
        const struct stream_case *c = stream_case(e->d_name);
        if (c == NULL) {
            fail_msg("fixture %s has no expectations in STREAMS", e->d_name);
        }
        size_t len;
        char *in = read_fixture(c->file, &len);
        struct run r;
        stream_all(c->w, in, len, c->file, &r);
        expect_run(&r, c->outcome, c->text, c->in, c->out, c->finish);
        assert_string_equal(r.r.id, c->id);
        assert_string_equal(r.r.model, c->model);
        assert_string_equal(r.r.error_type, c->error_type);
        run_free(&r);
        seen++;
        dk_free(in);
    }
    closedir(d);
    dk_free(dir);
    assert_int_equal(seen, sizeof(STREAMS) / sizeof(STREAMS[0]));
}

/* Cut anywhere before its terminator is whole, a stream is TRUNCATED with a prefix of its
 * text; from there on it is complete (a missing final blank line does not matter). */
static void test_ai_sse_stream_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(STREAMS) / sizeof(STREAMS[0]); i++) {
        const struct stream_case *c = &STREAMS[i];
        if (c->terminator == NULL) {
            continue;
        }
        size_t len;
        char *in = read_fixture(c->file, &len);
        const char *t = strstr(in, c->terminator);
        assert_non_null(t);
        size_t whole = (size_t)(t - in) + strlen(c->terminator);
        for (size_t k = 0; k <= len; k++) {
            struct run r = {0};
            stream_run(c->w, in, k, k, 0, &r);
            enum ai_outcome want = k < whole ? AI_ERR_TRUNCATED : AI_OK;
            if (r.r.outcome != want) {
                fail_msg("%s cut at %zu: %s, want %s", c->file, k, ai_outcome_name(r.r.outcome),
                         ai_outcome_name(want));
            }
            const char *text = r.r.text != NULL ? r.r.text : "";
            assert_true(strncmp(c->text, text, strlen(text)) == 0);
            if (r.ndeltas > 0) {
                assert_non_null(r.r.text);
            }
            run_free(&r);
        }
        dk_free(in);
    }
}

/* A line-ending variant of s: every "\n" becomes eol. */
static char *with_eol(const char *s, size_t len, const char *eol, size_t *outlen)
{
    struct dk_buf b;
    dk_buf_init(&b, 1 << 24);
    for (size_t i = 0; i < len; i++) {
        dk_buf_append(&b, s[i] == '\n' ? eol : s + i, s[i] == '\n' ? strlen(eol) : 1);
    }
    return dk_buf_take(&b, outlen);
}

static void test_ai_sse_stream_line_endings(void **state)
{
    (void)state;
    const char *files[] = {"openai_chat_stream.sse", "anthropic_stream.sse"};
    const char *eols[] = {"\r\n", "\r"};
    for (size_t f = 0; f < 2; f++) {
        const struct stream_case *c = stream_case(files[f]);
        size_t len;
        char *in = read_fixture(c->file, &len);
        for (size_t e = 0; e < 2; e++) {
            size_t n;
            char *v = with_eol(in, len, eols[e], &n);
            struct run r;
            stream_all(c->w, v, n, c->file, &r);
            expect_run(&r, AI_OK, c->text, c->in, c->out, c->finish);
            run_free(&r);
            dk_free(v);
        }
        dk_free(in);
    }
}

static void expect_stream(enum ai_wire w, const char *in, enum ai_outcome o, const char *text,
                          const char *error_type)
{
    struct run r;
    stream_all(w, in, strlen(in), in, &r);
    if (r.r.outcome != o) {
        fail_msg("stream %s: %s (%s), want %s", in, ai_outcome_name(r.r.outcome), r.r.error,
                 ai_outcome_name(o));
    }
    if (text == NULL) {
        assert_null(r.r.text);
    } else {
        assert_string_equal(r.r.text != NULL ? r.r.text : "(null)", text);
    }
    assert_string_equal(r.r.error_type, error_type);
    run_free(&r);
}

#define OAI(content)                                                                               \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" content "\"}}]}\n\n"
#define ANT(text)                                                                                  \
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"             \
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"" text "\"}}\n\n"
#define ANT_STOP "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

static void test_ai_sse_stream_utf8(void **state)
{
    (void)state;
    /* raw multi-byte text: every split lands inside a character somewhere */
    expect_stream(AI_WIRE_OPENAI,
                  OAI("Привет") OAI(", мир ") OAI("\xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD")
                      OAI("!") "data: [DONE]\n\n",
                  AI_OK, "Привет, мир \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD!", "");
    /* escaped: a surrogate pair decodes to one emoji */
    expect_stream(AI_WIRE_ANTHROPIC,
                  ANT("\\u0417\\u0434\\u0440\\u0430\\u0432\\u0441\\u0442\\u0432\\u0443\\u0439")
                      ANT(" \\ud83d\\ude00 ") ANT("ёж") ANT_STOP,
                  AI_OK, "Здравствуй \xF0\x9F\x98\x80 ёж", "");
    /* a lone surrogate or a NUL is not text */
    expect_stream(AI_WIRE_OPENAI, OAI("a\\ud800b") "data: [DONE]\n\n", AI_ERR_MALFORMED, NULL, "");
    expect_stream(AI_WIRE_OPENAI, OAI("ok") OAI("a\\u0000b") "data: [DONE]\n\n", AI_ERR_MALFORMED,
                  "ok", "");
}

static void test_ai_sse_stream_framing(void **state)
{
    (void)state;
    /* comments, pings, id/retry fields, a chunk split over data lines, extra spaces */
    expect_stream(AI_WIRE_OPENAI,
                  ": keep-alive\n\nretry: 3000\nid: 1\n" OAI(
                      "a") ": ping\n\n"
                           "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"b\"},\n"
                           "data: \"finish_reason\":\"stop\"}]}\n\n"
                           "data:   [DONE]  \n\n",
                  AI_OK, "ab", "");
    expect_stream(
        AI_WIRE_ANTHROPIC,
        "event: ping\ndata: {\"type\": \"ping\"}\n\n" ANT(
            "x") "event: brand_new\ndata: <not json>\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
                 "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n" ANT(
                     "y") ANT_STOP "event: junk\ndata: after the end\n\n",
        AI_OK, "xy", "");
    /* after [DONE] nothing counts */
    expect_stream(AI_WIRE_OPENAI, OAI("z") "data: [DONE]\n\ndata: {broken\n\n", AI_OK, "z", "");
    /* the usage chunk has no choices; a second choice is not ours */
    struct run r;
    const char *in = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":"
                     "{\"content\":\"no\"}},{\"index\":0,\"delta\":{\"content\":\"yes\"},"
                     "\"finish_reason\":\"length\"}],\"usage\":null}\n\n"
                     "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":"
                     "1}}\n\ndata: [DONE]\n\n";
    stream_all(AI_WIRE_OPENAI, in, strlen(in), "usage", &r);
    expect_run(&r, AI_OK, "yes", 3, 1, "length");
    assert_string_equal(r.r.id, "c1");
    run_free(&r);
}

static void test_ai_sse_stream_errors(void **state)
{
    (void)state;
    expect_stream(AI_WIRE_OPENAI,
                  OAI("Hel") "data: {\"error\":{\"message\":\"The server had an error\",\"type\":"
                             "\"server_error\",\"param\":null,\"code\":null}}\n\n",
                  AI_ERR_RETRY, "Hel", "server_error");
    expect_stream(AI_WIRE_OPENAI,
                  "data: {\"error\":{\"code\":400,\"message\":\"too long\",\"type\":"
                  "\"exceed_context_size_error\"}}\n\n",
                  AI_ERR_FATAL, NULL, "exceed_context_size_error");
    expect_stream(AI_WIRE_OPENAI,
                  "data: {\"error\":{\"message\":\"quota\",\"type\":\"insufficient_quota\","
                  "\"code\":\"insufficient_quota\"}}\n\n",
                  AI_ERR_FATAL, NULL, "insufficient_quota");
    /* old llama.cpp: a bare error line */
    expect_stream(AI_WIRE_OPENAI,
                  OAI("a") "error: {\"code\":500,\"message\":\"x\",\"type\":\"server_error\"}\n\n",
                  AI_ERR_RETRY, "a", "server_error");
    expect_stream(AI_WIRE_ANTHROPIC,
                  ANT("partial") "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                 "\"invalid_request_error\",\"message\":\"bad\"}}\n\n",
                  AI_ERR_FATAL, "partial", "invalid_request_error");
    /* unparsable data */
    expect_stream(AI_WIRE_OPENAI, OAI("a") "data: {not json}\n\n" OAI("b") "data: [DONE]\n\n",
                  AI_ERR_MALFORMED, "a", "");
    expect_stream(AI_WIRE_OPENAI, "data: {\"choices\":5}\n\ndata: [DONE]\n\n", AI_ERR_MALFORMED,
                  NULL, "");
    expect_stream(AI_WIRE_OPENAI, "data: [1,2]\n\ndata: [DONE]\n\n", AI_ERR_MALFORMED, NULL, "");
    expect_stream(AI_WIRE_ANTHROPIC, "event: content_block_delta\ndata: {\"type\"\n\n" ANT_STOP,
                  AI_ERR_MALFORMED, NULL, "");
    /* cut: a pending event that does not parse is a truncation, not garbage */
    expect_stream(AI_WIRE_OPENAI, OAI("a") "data: {\"choices\":[{\"del", AI_ERR_TRUNCATED, "a", "");
    expect_stream(AI_WIRE_OPENAI, "", AI_ERR_TRUNCATED, NULL, "");
}

static void test_ai_sse_stream_limits(void **state)
{
    (void)state;
    /* text over 1 MiB */
    struct dk_buf in;
    dk_buf_init(&in, 64u << 20);
    char piece[60001];
    memset(piece, 'a', sizeof(piece) - 1);
    piece[sizeof(piece) - 1] = '\0';
    for (int i = 0; i < 20; i++) {
        dk_buf_printf(&in, OAI("%s"), piece);
    }
    dk_buf_puts(&in, "data: [DONE]\n\n");
    struct run r = {0};
    stream_run(AI_WIRE_OPENAI, in.data, in.len, 4096, 4096, &r);
    assert_int_equal(r.r.outcome, AI_ERR_MALFORMED);
    assert_int_equal(strlen(r.r.text), 17 * 60000);
    run_free(&r);
    /* one event over 4 MiB */
    dk_buf_reset(&in);
    dk_buf_puts(&in, "data: {\"pad\":\"");
    for (int i = 0; i < 80; i++) {
        dk_buf_puts(&in, piece);
    }
    stream_run(AI_WIRE_OPENAI, in.data, in.len, in.len, 0, &r);
    assert_int_equal(r.r.outcome, AI_ERR_MALFORMED);
    assert_non_null(strstr(r.r.error, "4 MiB"));
    run_free(&r);
    dk_buf_free(&in);
    /* the receiver stops: canceled, what it got is kept */
    const char *s = OAI("one") OAI("two") "data: [DONE]\n\n";
    r = (struct run){.stop_after = 1};
    stream_run(AI_WIRE_OPENAI, s, strlen(s), 3, 5, &r);
    assert_int_equal(r.r.outcome, AI_ERR_CANCELED);
    assert_string_equal(r.r.text, "one");
    assert_true(r.started);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ai_sse_rules),
        cmocka_unit_test(test_ai_sse_limits),
        cmocka_unit_test(test_ai_sse_stop),
        cmocka_unit_test(test_ai_sse_stream_fixtures),
        cmocka_unit_test(test_ai_sse_stream_truncated),
        cmocka_unit_test(test_ai_sse_stream_line_endings),
        cmocka_unit_test(test_ai_sse_stream_utf8),
        cmocka_unit_test(test_ai_sse_stream_framing),
        cmocka_unit_test(test_ai_sse_stream_errors),
        cmocka_unit_test(test_ai_sse_stream_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
