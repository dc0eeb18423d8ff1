/*
 * Unit tests of ai/router.c, the streamed side, against the fake provider of
 * tests/support/aifake.c: streamed answers of both wires (deltas, first token, usage), error
 * statuses and error events before any text (retried, then the next step), streams cut after
 * text went out (truncated, no fallback), the caller stopping a stream, privacy REDACT
 * (placeholders out, values restored, also across split deltas) and embeddings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aifake.h"
#include "ai/ai.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "nlu/nlu.h"

#define CHAT        AIFAKE_CHAT
#define MESSAGES    AIFAKE_MESSAGES
#define LLM_CHAT    AIFAKE_LLM_CHAT
#define OPENAI_TEXT "Hello! How can I assist you today?"
#define STREAM_TEXT                                                                                \
    "I'm unable to provide real-time weather updates. To get the current weather in San "          \
    "Francisco, I recommend checking a reliable weather website or a weather app."
#define PHONE_TEXT "Call me at +7 999 123-45-67 about the order"

static const struct ai_message PII_MSGS[] = {{"user", PHONE_TEXT}};
/* a stream whose placeholder is split between two deltas */
static const char RED_SSE[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Calling [PHO\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"NE_1] now\"}}]}\n\n"
    "data: [DONE]\n\n";
static struct aifake_waiter g_w; /* run()'s */

static struct ai_result *run(struct ai_router *r, const struct ai_request *req)
{
    return aifake_run(r, req, &g_w);
}

static void test_ai_router_privacy_redact(void **state)
{
    (void)state;
    struct nlu_ctx *ctx = nlu_ctx_new();
    struct ai_redaction *map = ai_redaction_new();
    struct dk_err err = {0};
    int found = 0;
    char *red = ai_redact(map, ctx, PHONE_TEXT, strlen(PHONE_TEXT), &found, &err);
    assert_non_null(red);
    assert_string_equal(red, "Call me at [PHONE_1] about the order");
    assert_int_equal(found, 1);
    const struct ai_message red_msgs[] = {{"user", red}};
    const struct aifake_canned script[] = {
        {.path = CHAT,
         .status = 200,
         .body = "{\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion\",\"model\":\"gpt-test\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                 "\"We will call [PHONE_1] today.\"},\"finish_reason\":\"stop\"}],"
                 "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7}}"},
        /* streamed; then cut before [DONE] (text held back: retried), then whole */
        {.path = CHAT, .status = 200, .body = RED_SSE},
        {.path = CHAT, .status = 200, .body = RED_SSE, .cut = sizeof(RED_SSE) - 15},
        {.path = CHAT, .status = 200, .body = RED_SSE},
        {.path = LLM_CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 5);
    struct ai_config cfg;
    aifake_config(&cfg, true, NULL);
    cfg.privacy = AI_PRIVACY_REDACT;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.messages = PII_MSGS;
    q.nmessages = 1;
    q.has_pii = true;
    q.redacted = red_msgs;
    q.redaction = map; /* stolen */
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:ok:200");
    assert_true(res->redacted);
    assert_true(res->attempts[0].redacted);
    assert_string_equal(res->reply.text, "We will call +7 999 123-45-67 today.");
    /* the cloud saw the placeholder, not the number */
    assert_null(strstr(aifake_seen(0)->body, "999"));
    assert_null(strstr(aifake_seen(0)->body, "45-67"));
    json_t *m0 = json_array_get(json_object_get(aifake_seen_json(0), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "content")),
                        "Call me at [PHONE_1] about the order");

    /* streamed: nothing goes out before the whole text is restored */
    map = ai_redaction_new();
    char *red2 = ai_redact(map, ctx, PHONE_TEXT, strlen(PHONE_TEXT), NULL, &err);
    assert_string_equal(red2, red);
    q.redaction = map;
    q.stream = true;
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:ok:200");
    assert_string_equal(res->reply.text, "Calling +7 999 123-45-67 now");
    assert_string_equal(aifake_deltas(&g_w), "Calling +7 999 123-45-67 now");
    assert_int_equal(g_w.ndeltas, 1);
    assert_true(res->redacted);
    assert_null(strstr(aifake_seen(1)->body, "999"));

    /* a redacted stream that breaks after text: nothing went to the caller, so it is retried
     * and the caller sees the restored text once */
    q.redaction = ai_redaction_new();
    char *red3 = ai_redact(q.redaction, ctx, PHONE_TEXT, strlen(PHONE_TEXT), NULL, &err);
    dk_free(red3);
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:truncated:200,openai:ok:200");
    assert_true(res->attempts[0].redacted);
    assert_string_equal(aifake_deltas(&g_w), "Calling +7 999 123-45-67 now");
    assert_int_equal(g_w.ndeltas, 1);

    /* redact without redacted messages: the cloud is skipped; on premises gets the text */
    q = aifake_request();
    q.messages = PII_MSGS;
    q.nmessages = 1;
    q.has_pii = true;
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:privacy:0,anthropic:privacy:0,local_llm:ok:200");
    assert_false(res->redacted);
    assert_non_null(strstr(aifake_seen(4)->body, "+7 999 123-45-67"));
    aifake_assert_paths(CHAT "," CHAT "," CHAT "," CHAT "," LLM_CHAT);
    aifake_router_free(r);
    dk_free(red);
    dk_free(red2);
    nlu_ctx_free(ctx);
}

/* The offset just after the n-th event ("\n\n") of an SSE text. */
static size_t after_events(const char *s, int n)
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        p = strstr(p, "\n\n");
        assert_non_null(p);
        p += 2;
    }
    return (size_t)(p - s);
}

static void test_ai_router_streams(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT, .status = 200, .file = "openai_chat_stream.sse"},
        {.path = MESSAGES, .status = 200, .file = "anthropic_stream.sse"},
        {.path = CHAT, .status = 500, .file = "openai_error_500_server_error.json"},
        {.path = CHAT, .status = 200, .file = "openai_chat_stream.sse", .times = 2}};
    aifake_script(script, 4);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.stream = true;
    q.local_text = "from local";
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:ok:200");
    assert_string_equal(res->reply.text, STREAM_TEXT);
    assert_string_equal(aifake_deltas(&g_w), STREAM_TEXT);
    assert_int_equal(g_w.ndeltas, 30); /* one per content chunk */
    assert_int_equal(res->reply.usage.input_tokens, 14);
    assert_int_equal(res->reply.usage.output_tokens, 30);
    assert_string_equal(res->reply.finish, "stop");
    assert_string_equal(res->model, "gpt-4o-2024-08-06");
    const struct ai_attempt *a = &res->attempts[0];
    assert_true(a->first_token_ms >= 0 && a->first_token_ms <= a->latency_ms);
    assert_true(json_is_true(json_object_get(aifake_seen_json(0), "stream")));
    assert_true(json_is_true(
        json_object_get(json_object_get(aifake_seen_json(0), "stream_options"), "include_usage")));

    q.target = "anthropic";
    res = run(r, &q);
    aifake_assert_attempts(res, "anthropic:ok:200");
    assert_string_equal(res->reply.text, "Hello there!");
    assert_string_equal(aifake_deltas(&g_w), "Hello there!");
    assert_int_equal(g_w.ndeltas, 3);
    assert_int_equal(res->reply.usage.input_tokens, 11);
    assert_int_equal(res->reply.usage.output_tokens, 6);
    assert_string_equal(res->reply.finish, "end_turn");
    assert_true(res->attempts[0].first_token_ms >= 0);
    assert_true(json_is_true(json_object_get(aifake_seen_json(1), "stream")));

    /* an error status on a stream request: parsed as an error body and retried */
    q.target = NULL;
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:retry:500,openai:ok:200");
    assert_non_null(strstr(res->attempts[0].error, "The server had an error"));
    assert_string_equal(aifake_deltas(&g_w), STREAM_TEXT);
    assert_int_equal(res->attempts[0].first_token_ms, -1);

    /* the caller stops the stream after the first delta: canceled, no fallback */
    aifake_waiter_free(&g_w);
    aifake_waiter_init(&g_w);
    g_w.stop_after = 1;
    ai_router_submit(r, &q, aifake_on_delta, aifake_on_done, &g_w, NULL);
    res = aifake_wait(&g_w, 10000);
    assert_int_equal(res->reply.outcome, AI_ERR_CANCELED);
    assert_string_equal(aifake_deltas(&g_w), "I'm");
    aifake_assert_attempts(res, "openai:canceled:200");
    assert_string_equal(res->provider, "");
    aifake_assert_paths(CHAT "," MESSAGES "," CHAT "," CHAT "," CHAT);
    aifake_router_free(r);
}

static void test_ai_router_stream_failures(void **state)
{
    (void)state;
    size_t len;
    char *sse = aifake_fixture("openai_chat_stream.sse", &len);
    size_t cut = after_events(sse, 6); /* the role chunk and five words */
    sse[cut] = '\0';
    const struct aifake_canned script[] = {
        /* an error event before any text: retried, then the next step */
        {.path = MESSAGES, .status = 200, .file = "anthropic_stream_error.sse", .times = 2},
        /* text went out, then the connection broke / the body ended without [DONE] */
        {.path = CHAT, .status = 200, .file = "openai_chat_stream.sse", .cut = cut},
        {.path = CHAT, .status = 200, .body = sse}};
    aifake_script(script, 3);
    struct ai_config cfg;
    aifake_config(&cfg, false, "reply=anthropic,local");
    cfg.retries = 1;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.stream = true;
    q.local_text = "from local";
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "anthropic:retry:200,anthropic:retry:200,local:ok:0");
    assert_non_null(strstr(res->attempts[0].error, "Overloaded"));
    assert_string_equal(aifake_deltas(&g_w), "from local"); /* nothing of the failed stream */
    assert_string_equal(res->reply.text, "from local");
    aifake_router_free(r);

    aifake_config(&cfg, false, NULL); /* openai, anthropic, local: none of them may take over */
    r = ai_router_new(&cfg, aifake_http());
    for (int i = 0; i < 2; i++) {
        res = run(r, &q);
        aifake_assert_attempts(res, "openai:truncated:200");
        assert_int_equal(res->reply.outcome, AI_ERR_TRUNCATED);
        assert_string_equal(res->reply.text, "I'm unable to provide real");
        assert_string_equal(aifake_deltas(&g_w), "I'm unable to provide real");
        assert_string_equal(res->provider, "");
        assert_non_null(strstr(res->attempts[0].error, i == 0 ? "stream cut off" : "[DONE]"));
    }
    aifake_assert_paths(MESSAGES "," MESSAGES "," CHAT "," CHAT);
    aifake_router_free(r);
    dk_free(sse);
}

static const struct ai_message EMB_INPUTS[] = {{"user", "green tea"}, {"user", "black tea"}};

/* The embeddings fixture with a second vector (index 1, first value 0.25). */
static char *two_vectors(void)
{
    size_t len;
    char *s = aifake_fixture("openai_embeddings_float.json", &len);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    dk_free(s);
    json_t *data = json_object_get(j, "data");
    json_t *v = json_deep_copy(json_array_get(data, 0));
    json_object_set_new(v, "index", json_integer(1));
    json_array_set_new(json_object_get(v, "embedding"), 0, json_real(0.25));
    json_array_append_new(data, v);
    char *out = dk_json_dump(j);
    json_decref(j);
    return out;
}

static void check_vectors(const struct ai_result *res)
{
    assert_int_equal(res->reply.outcome, AI_OK);
    assert_int_equal(res->nvectors, 2);
    assert_int_equal(res->dim, 256);
    assert_non_null(res->vectors);
    assert_true(fabsf(res->vectors[0] - -0.099287055f) < 1e-6f);
    assert_true(fabsf(res->vectors[1] - -0.032646775f) < 1e-6f);
    assert_true(res->vectors[256] == 0.25f);
    assert_true(res->vectors[257] == res->vectors[1]);
    assert_string_equal(res->provider, "openai");
}

static void test_ai_router_embeddings(void **state)
{
    (void)state;
    char *body = two_vectors();
    const struct aifake_canned script[] = {{.path = AIFAKE_EMBED, .status = 200, .body = body}};
    aifake_script(script, 1);
    struct ai_config cfg;
    aifake_config(&cfg, false, "embedding=openai/text-embedding-3-small");
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = {.task = AI_TASK_EMBEDDING,
                           .messages = EMB_INPUTS,
                           .nmessages = 2,
                           .temperature = -1,
                           .local_text = "local cannot embed"};
    struct ai_result *res = run(r, &q);
    check_vectors(res);
    aifake_assert_attempts(res, "openai:ok:200");
    assert_int_equal(res->reply.usage.input_tokens, 1);
    aifake_assert_paths(AIFAKE_EMBED);
    assert_string_equal(aifake_seen(0)->auth, "Bearer sk-test");
    assert_string_equal(aifake_seen_str(0, "model"), "text-embedding-3-small");
    json_t *in = json_object_get(aifake_seen_json(0), "input");
    assert_int_equal(json_array_size(in), 2);
    assert_string_equal(json_string_value(json_array_get(in, 1)), "black tea");
    /* the default embedding route skips Anthropic and local */
    aifake_config(&cfg, false, NULL);
    assert_int_equal(cfg.nroute[AI_TASK_EMBEDDING], 1);
    aifake_router_free(r);
    dk_free(body);
}

/* Regression: an embedding request with stream set is sent without streaming (on_data NULL,
 * the body in resp->body) but on_http_done reads the body from errbody because it tests
 * k->req.stream: the answer is parsed from "" and fails as MALFORMED (router.c on_http_done,
 * "const char *body = k->stream != NULL || k->req.stream ? …"). */
static void test_ai_router_embeddings_stream_flag(void **state)
{
    (void)state;
    char *body = two_vectors();
    const struct aifake_canned script[] = {{.path = AIFAKE_EMBED, .status = 200, .body = body}};
    aifake_script(script, 1);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = {.task = AI_TASK_EMBEDDING,
                           .messages = EMB_INPUTS,
                           .nmessages = 2,
                           .temperature = -1,
                           .stream = true};
    check_vectors(run(r, &q));
    aifake_router_free(r);
    dk_free(body);
}

#define T(f) AIFAKE_TEST(f, &g_w)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ai_router_privacy_redact),         T(test_ai_router_streams),
        T(test_ai_router_stream_failures),        T(test_ai_router_embeddings),
        T(test_ai_router_embeddings_stream_flag),
    };
    return cmocka_run_group_tests(tests, aifake_group_setup, aifake_group_teardown);
}
