/* Unit tests of the AI wire formats: request bodies, whole responses, errors, Retry-After,
 * embeddings, model lists (the SSE parser and streams are in test_ai_sse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "fixture.h"

/* $DIREKT_FIXTURES/llm/NAME, NUL-terminated (dk_free). */
static char *read_fixture(const char *name, size_t *len)
{
    return test_fixture("llm", name, len);
}

static json_t *load_fixture(const char *name)
{
    size_t len;
    char *s = read_fixture(name, &len);
    json_t *j = dk_json_parse(s, len, 64, NULL);
    dk_free(s);
    assert_non_null(j);
    return j;
}

/* ===== whole responses ===== */

static void test_ai_wire_openai_parse(void **state)
{
    (void)state;
    size_t len;
    char *s = read_fixture("openai_chat_completion.json", &len);
    struct ai_reply r;
    ai_openai_parse(200, s, len, NULL, &r);
    assert_int_equal(r.outcome, AI_OK);
    assert_string_equal(r.text, "Hello! How can I assist you today?");
    assert_int_equal(r.usage.input_tokens, 19);
    assert_int_equal(r.usage.output_tokens, 10);
    assert_string_equal(r.finish, "stop");
    assert_string_equal(r.id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    assert_string_equal(r.model, "gpt-5.4");
    assert_int_equal(r.retry_after_ms, -1);
    ai_reply_clear(&r);
    dk_free(s);
    s = read_fixture("openai_chat_completion_tool_calls.json", &len);
    ai_openai_parse(200, s, len, NULL, &r);
    assert_int_equal(r.outcome, AI_OK);
    assert_string_equal(r.text, "");
    assert_string_equal(r.finish, "tool_calls");
    assert_int_equal(r.usage.output_tokens, 17);
    ai_reply_clear(&r);
    dk_free(s);
    const char *bad[] = {"{",
                         "[]",
                         "{}",
                         "{\"choices\":[]}",
                         "{\"choices\":[{}]}",
                         "{\"choices\":[{\"message\":{\"content\":5}}]}",
                         "{\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}]}",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ai_openai_parse(200, bad[i], strlen(bad[i]), NULL, &r);
        assert_int_equal(r.outcome, AI_ERR_MALFORMED);
        assert_null(r.text);
        assert_true(r.error[0] != '\0');
        ai_reply_clear(&r);
    }
}

static const struct error_case {
    enum ai_wire w;
    const char *file; /* a fixture, or NULL: body is inline */
    const char *body;
    int status;
    const char *retry_after, *should_retry;
    enum ai_outcome outcome;
    const char *error_type;
    int64_t retry_ms;
    const char *message; /* a substring of the error */
} ERRORS[] = {
    {AI_WIRE_OPENAI, "openai_error_401_invalid_api_key.json", NULL, 401, NULL, NULL, AI_ERR_FATAL,
     "invalid_api_key", -1, "Incorrect API key"},
    {AI_WIRE_OPENAI, "openai_error_429_rate_limit.json", NULL, 429, "20", NULL, AI_ERR_RETRY,
     "rate_limit_exceeded", 20000, "Rate limit reached"},
    {AI_WIRE_OPENAI, "openai_error_429_insufficient_quota.json", NULL, 429, "20", NULL,
     AI_ERR_FATAL, "insufficient_quota", 20000, "exceeded your current quota"},
    {AI_WIRE_OPENAI, "openai_error_500_server_error.json", NULL, 500, NULL, NULL, AI_ERR_RETRY,
     "server_error", -1, "The server had an error"},
    {AI_WIRE_OPENAI, "openai_error_400.json", NULL, 400, NULL, NULL, AI_ERR_FATAL, "invalid_value",
     -1, "temperature"},
    {AI_WIRE_OPENAI, "llamacpp_health_loading_503.json", NULL, 503, "1", NULL, AI_ERR_RETRY,
     "unavailable_error", 1000, "Loading model"},
    {AI_WIRE_OPENAI, "ollama_error.json", NULL, 500, NULL, NULL, AI_ERR_RETRY, "", -1,
     "the model failed to generate a response"},
    {AI_WIRE_OPENAI, NULL,
     "{\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}", 400,
     NULL, NULL, AI_ERR_FATAL, "BadRequestError", -1, "bad"},
    {AI_WIRE_OPENAI, NULL, "{\"error\":{\"message\":\"m\",\"type\":\"requests\"}}", 408, NULL, NULL,
     AI_ERR_RETRY, "requests", -1, "m"},
    {AI_WIRE_OPENAI, NULL, "{}", 409, NULL, NULL, AI_ERR_RETRY, "", -1, "HTTP 409"},
    {AI_WIRE_OPENAI, NULL, "{\"error\":{\"message\":\"no such model\"}}", 404, NULL, NULL,
     AI_ERR_FATAL, "", -1, "no such model"},
    {AI_WIRE_OPENAI, NULL, "<html>\n<b>Bad \xFF gateway</b></html>", 502, NULL, NULL, AI_ERR_RETRY,
     "", -1, "HTTP 502: <html> <b>Bad ? gateway</b>"},
    {AI_WIRE_OPENAI, NULL, "", 503, NULL, NULL, AI_ERR_RETRY, "", -1, "empty body"},
    {AI_WIRE_ANTHROPIC, "anthropic_error_400_invalid_request.json", NULL, 400, NULL, NULL,
     AI_ERR_FATAL, "invalid_request_error", -1, "tool_result"},
    {AI_WIRE_ANTHROPIC, "anthropic_error_401.json", NULL, 401, NULL, NULL, AI_ERR_FATAL,
     "authentication_error", -1, "invalid x-api-key"},
    {AI_WIRE_ANTHROPIC, "anthropic_error_429_rate_limit.json", NULL, 429, "30", "true",
     AI_ERR_RETRY, "rate_limit_error", 30000, "rate limit"},
    {AI_WIRE_ANTHROPIC, "anthropic_error_529_overloaded.json", NULL, 529, NULL, NULL, AI_ERR_RETRY,
     "overloaded_error", -1, "Overloaded"},
    {AI_WIRE_ANTHROPIC, "anthropic_error_529_overloaded.json", NULL, 529, NULL, "false",
     AI_ERR_FATAL, "overloaded_error", -1, "Overloaded"},
    {AI_WIRE_ANTHROPIC, NULL, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}", 500, NULL,
     NULL, AI_ERR_RETRY, "api_error", -1, "api_error"},
    {AI_WIRE_ANTHROPIC, NULL,
     "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"spend\","
     "\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}}}",
     429, NULL, NULL, AI_ERR_FATAL, "rate_limit_error", -1, "spend"},
    {AI_WIRE_ANTHROPIC, NULL,
     "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"spend\","
     "\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}}}",
     429, "5", NULL, AI_ERR_RETRY, "rate_limit_error", 5000, "spend"},
    {AI_WIRE_ANTHROPIC, NULL, "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\"}}", 402,
     NULL, NULL, AI_ERR_FATAL, "billing_error", -1, "billing"},
    {AI_WIRE_ANTHROPIC, NULL, "{\"type\":\"error\",\"error\":{\"type\":\"new_error\"}}", 503, NULL,
     NULL, AI_ERR_RETRY, "new_error", -1, "new_error"},
    {AI_WIRE_ANTHROPIC, NULL, "upstream connect error", 503, NULL, "false", AI_ERR_FATAL, "", -1,
     "upstream"},
    {AI_WIRE_ANTHROPIC, NULL, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}", 200,
     NULL, NULL, AI_ERR_RETRY, "overloaded_error", -1, "overloaded"},
};

static void test_ai_wire_error_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ERRORS) / sizeof(ERRORS[0]); i++) {
        const struct error_case *c = &ERRORS[i];
        size_t len = c->body != NULL ? strlen(c->body) : 0;
        char *body = c->file != NULL ? read_fixture(c->file, &len) : dk_strdup(c->body);
        const char *should_retry = c->should_retry;
        if (c->file != NULL && strstr(c->file, "429_rate_limit") && c->w == AI_WIRE_ANTHROPIC) {
            json_t *h = load_fixture("anthropic_error_429_rate_limit.headers.json");
            assert_string_equal(dk_json_str(h, "x-should-retry"), should_retry);
            json_decref(h);
        }
        struct ai_reply r;
        if (c->w == AI_WIRE_OPENAI) {
            ai_openai_parse(c->status, body, len, c->retry_after, &r);
        } else {
            ai_anthropic_parse(c->status, body, len, c->retry_after, should_retry, &r);
        }
        if (r.outcome != c->outcome || strcmp(r.error_type, c->error_type) != 0 ||
            r.retry_after_ms != c->retry_ms || strstr(r.error, c->message) == NULL) {
            fail_msg("case %zu (%s): %s type \"%s\" retry %lld error \"%s\"", i,
                     c->file ? c->file : c->body, ai_outcome_name(r.outcome), r.error_type,
                     (long long)r.retry_after_ms, r.error);
        }
        assert_null(r.text);
        assert_int_equal(r.http_status, c->status);
        ai_reply_clear(&r);
        dk_free(body);
    }
}

static void test_ai_wire_anthropic_parse(void **state)
{
    (void)state;
    size_t len;
    char *s = read_fixture("anthropic_message.json", &len);
    struct ai_reply r;
    ai_anthropic_parse(200, s, len, NULL, NULL, &r);
    assert_int_equal(r.outcome, AI_OK);
    assert_string_equal(r.text, "{\"items\":[{\"product_name\":\"Green Tea\",\"price\":5.50,"
                                "\"quantity\":2},{\"product_name\":\"Coffee\",\"price\":3.00,"
                                "\"quantity\":1}],\"total\":14.0}");
    assert_int_equal(r.usage.input_tokens, 406);
    assert_int_equal(r.usage.output_tokens, 50);
    assert_string_equal(r.finish, "end_turn");
    assert_string_equal(r.id, "msg_01T4jd6NyD9xGGtTPDC4ogy5");
    assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
    ai_reply_clear(&r);
    dk_free(s);
    s = read_fixture("anthropic_message_tool_use.json", &len);
    ai_anthropic_parse(200, s, len, NULL, NULL, &r);
    assert_int_equal(r.outcome, AI_OK);
    assert_string_equal(r.text, "");
    assert_string_equal(r.finish, "tool_use");
    assert_int_equal(r.usage.input_tokens, 656);
    ai_reply_clear(&r);
    dk_free(s);
    const char *two = "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"thinking\"},"
                      "{\"type\":\"text\",\"text\":\"б\"}]}";
    ai_anthropic_parse(200, two, strlen(two), NULL, NULL, &r);
    assert_string_equal(r.text, "aб");
    ai_reply_clear(&r);
    const char *bad[] = {"{}", "{\"content\":{}}", "{\"content\":[{\"type\":\"text\"}]}", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ai_anthropic_parse(200, bad[i], strlen(bad[i]), NULL, NULL, &r);
        assert_int_equal(r.outcome, AI_ERR_MALFORMED);
        ai_reply_clear(&r);
    }
}

static void test_ai_wire_retry_after(void **state)
{
    (void)state;
    int64_t now = 1445412480000LL; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(ai_retry_after_ms("120", now), 120000);
    assert_int_equal(ai_retry_after_ms(" 7 ", now), 7000);
    assert_int_equal(ai_retry_after_ms("1.5", now), 1500);
    assert_int_equal(ai_retry_after_ms("0", now), 0);
    assert_int_equal(ai_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
    assert_int_equal(ai_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
    assert_int_equal(ai_retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", 0), 0);
    assert_int_equal(ai_retry_after_ms("99999999999999999999", now), 86400000LL * 1000);
    const char *bad[] = {NULL,
                         "",
                         " ",
                         "abc",
                         "-5",
                         "1.",
                         "1e3",
                         "5s",
                         "Wed, 21 Oct 2015 07:28:30 UTC",
                         "Wed, 21 Foo 2015 07:28:30 GMT",
                         "Wednesday, 21-Oct-15 07:28:30 GMT",
                         "Wed, 32 Oct 2015 07:28:30 GMT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ai_retry_after_ms(bad[i], now) != -1) {
            fail_msg("Retry-After \"%s\" accepted", bad[i] ? bad[i] : "(null)");
        }
    }
}

/* ===== requests ===== */

static json_t *parse_body(char *body)
{
    assert_non_null(body);
    json_t *j = dk_json_parse(body, strlen(body), 64, NULL);
    dk_free(body);
    assert_non_null(j);
    return j;
}

static void expect_json_equal(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *a = dk_json_dump(got), *b = dk_json_dump(want);
        fail_msg("body\n got  %s\n want %s", a, b);
    }
}

static void test_ai_wire_openai_body(void **state)
{
    (void)state;
    json_t *fx = load_fixture("openai_chat_request.json");
    json_t *fm = json_object_get(fx, "messages");
    struct ai_message msgs[2];
    for (size_t i = 0; i < 2; i++) {
        msgs[i].role = dk_json_str(json_array_get(fm, i), "role");
        msgs[i].content = dk_json_str(json_array_get(fm, i), "content");
    }
    struct ai_call_params p = {
        .messages = msgs, .nmessages = 2, .model = "gpt-4o", .max_tokens = 300, .temperature = 0.4};
    /* the fixture is what we send, less the deprecated "user" */
    json_object_del(fx, "user");
    json_t *j = parse_body(ai_openai_chat_body(&p));
    expect_json_equal(j, fx);
    json_decref(j);
    /* compatible servers: max_tokens; streams ask for usage */
    p.flavor = AI_FLAVOR_COMPAT;
    p.stream = true;
    j = parse_body(ai_openai_chat_body(&p));
    assert_null(json_object_get(j, "max_completion_tokens"));
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 300);
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
    json_decref(j);
    p.max_tokens = 0;
    p.temperature = -1;
    j = parse_body(ai_openai_chat_body(&p));
    assert_null(json_object_get(j, "max_tokens"));
    assert_null(json_object_get(j, "temperature"));
    json_decref(j);
    json_decref(fx);

    /* structured output, against the fixture's shape */
    fx = load_fixture("openai_json_schema_request.json");
    fm = json_object_get(fx, "messages");
    for (size_t i = 0; i < 2; i++) {
        msgs[i].role = dk_json_str(json_array_get(fm, i), "role");
        msgs[i].content = dk_json_str(json_array_get(fm, i), "content");
    }
    json_t *js = json_object_get(json_object_get(fx, "response_format"), "json_schema");
    char *schema = dk_json_dump(json_object_get(js, "schema"));
    p = (struct ai_call_params){.messages = msgs,
                                .nmessages = 2,
                                .model = "gpt-4o-mini",
                                .temperature = -1,
                                .json_schema = schema};
    json_object_set_new(js, "name", json_string("result"));
    json_object_set_new(fx, "stream", json_false());
    j = parse_body(ai_openai_chat_body(&p));
    expect_json_equal(j, fx);
    json_decref(j);
    p.flavor = AI_FLAVOR_COMPAT;
    json_object_del(js, "strict");
    j = parse_body(ai_openai_chat_body(&p));
    expect_json_equal(j, fx);
    json_decref(j);
    /* bad input: no body */
    p.json_schema = "[1]";
    assert_null(ai_openai_chat_body(&p));
    p.json_schema = NULL;
    msgs[1].content = "bad \xC0\xAF";
    assert_null(ai_openai_chat_body(&p));
    json_decref(fx);
    dk_free(schema);
}

static void test_ai_wire_anthropic_body(void **state)
{
    (void)state;
    json_t *fx = load_fixture("anthropic_request.json");
    struct ai_message msgs[] = {
        {"system", dk_json_str(fx, "system")},
        {"user", dk_json_str(json_array_get(json_object_get(fx, "messages"), 0), "content")},
    };
    struct ai_call_params p = {
        .messages = msgs, .nmessages = 2, .model = "claude-sonnet-4-5", .temperature = 0.4};
    json_t *j = parse_body(ai_anthropic_body(&p));
    expect_json_equal(j, fx); /* max_tokens 1024 by default */
    json_decref(j);
    json_decref(fx);
    /* systems to the top, same-role turns merged, empty turns dropped */
    struct ai_message many[] = {
        {"system", "S1"},   {"user", "u1"},   {"user", ""},       {"user", "u2"},
        {"assistant", "a"}, {"system", "S2"}, {"assistant", "b"}, {"user", "u3"},
    };
    p = (struct ai_call_params){.messages = many,
                                .nmessages = 8,
                                .model = "m",
                                .max_tokens = 50,
                                .temperature = 1.7,
                                .stream = true,
                                .json_schema = "{\"type\":\"object\"}"};
    j = parse_body(ai_anthropic_body(&p));
    json_t *want = json_pack(
        "{s:s, s:i, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:s, s:f, s:{s:{s:s,s:{s:s}}}, s:b}",
        "model", "m", "max_tokens", 50, "messages", "role", "user", "content", "u1\n\nu2", "role",
        "assistant", "content", "a\n\nb", "role", "user", "content", "u3", "system", "S1\n\nS2",
        "temperature", 1.0, "output_config", "format", "type", "json_schema", "schema", "type",
        "object", "stream", 1);
    expect_json_equal(j, want);
    json_decref(j);
    json_decref(want);
    p.json_schema = "not json";
    assert_null(ai_anthropic_body(&p));
}

/* ===== embeddings, models, names ===== */

static void test_ai_wire_embeddings(void **state)
{
    (void)state;
    const char *in[] = {"hello", "мир"};
    json_t *j = parse_body(ai_openai_embeddings_body("text-embedding-3-large", in, 2));
    json_t *want = json_pack("{s:s, s:[s,s], s:s}", "model", "text-embedding-3-large", "input",
                             "hello", "мир", "encoding_format", "float");
    expect_json_equal(j, want);
    json_decref(j);
    json_decref(want);
    assert_null(ai_openai_embeddings_body("m", in, 0));

    float *v[2];
    size_t n, dim;
    struct ai_usage u;
    struct ai_reply r;
    const char *files[] = {"openai_embeddings_float.json", "openai_embeddings_base64.json"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *s = read_fixture(files[i], &len);
        assert_int_equal(ai_openai_parse_embeddings(200, s, len, &v[i], &n, &dim, &u, &r), 0);
        assert_int_equal(n, 1);
        assert_int_equal(dim, 256);
        assert_int_equal(u.input_tokens, 1);
        assert_int_equal(r.outcome, AI_OK);
        dk_free(s);
    }
    assert_true(v[0][0] == -0.099287055f && v[0][255] == 0.04959709f);
    assert_memory_equal(v[0], v[1], 256 * sizeof(float));
    dk_free(v[0]);
    dk_free(v[1]);
    /* by index, not position */
    const char *rev = "{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":"
                      "\"AACAPwAAAEA=\"}]}";
    assert_int_equal(ai_openai_parse_embeddings(200, rev, strlen(rev), &v[0], &n, &dim, NULL, NULL),
                     0);
    assert_int_equal(n * dim, 4);
    assert_true(v[0][0] == 1.0f && v[0][1] == 2.0f && v[0][2] == 3.0f && v[0][3] == 4.0f);
    dk_free(v[0]);
    const char *bad[] = {
        "{\"data\":[]}",
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}",
        "{\"data\":[{\"embedding\":[1,2]},{\"embedding\":[1]}]}",
        "{\"data\":[{\"embedding\":\"AAA=\"}]}",
        "{\"data\":[{\"embedding\":\"AACAfw==\"}]}", /* +inf */
        "{\"data\":[{\"embedding\":[1,\"x\"]}]}",
        "{\"data\":[{\"index\":5,\"embedding\":[1]}]}",
        "[",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ai_openai_parse_embeddings(200, bad[i], strlen(bad[i]), &v[0], &n, &dim, &u, &r) !=
            DK_EINVAL) {
            fail_msg("embeddings %s accepted", bad[i]);
        }
        assert_null(v[0]);
        assert_int_equal(r.outcome, AI_ERR_MALFORMED);
    }
    size_t len;
    char *s = read_fixture("openai_error_401_invalid_api_key.json", &len);
    assert_int_equal(ai_openai_parse_embeddings(401, s, len, &v[0], &n, &dim, &u, &r), DK_EIO);
    assert_int_equal(r.outcome, AI_ERR_FATAL);
    assert_string_equal(r.error_type, "invalid_api_key");
    ai_reply_clear(&r);
    dk_free(s);
}

static void expect_models(enum ai_wire w, const char *file, const char *want)
{
    size_t len;
    char *s = read_fixture(file, &len);
    struct dk_err err;
    json_t *ids = ai_models_parse(w, s, len, &err);
    assert_non_null(ids);
    char *got = dk_json_dump(ids);
    assert_string_equal(got, want);
    dk_free(got);
    json_decref(ids);
    dk_free(s);
}

static void test_ai_wire_models(void **state)
{
    (void)state;
    expect_models(AI_WIRE_OPENAI, "openai_models_list.json",
                  "[\"model-id-0\",\"model-id-1\",\"model-id-2\"]");
    expect_models(AI_WIRE_OPENAI, "llamacpp_models_list.json",
                  "[\"../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf\"]");
    expect_models(AI_WIRE_ANTHROPIC, "anthropic_models_list.json",
                  "[\"claude-sonnet-4-20250514\"]");
    const char *bad[] = {"", "{", "{}", "{\"data\":{}}", "{\"data\":[{\"name\":\"x\"}]}", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dk_err err = {0};
        assert_null(ai_models_parse(AI_WIRE_OPENAI, bad[i], strlen(bad[i]), &err));
        assert_int_equal(err.code, DK_EINVAL);
    }
}

static void test_ai_wire_names(void **state)
{
    (void)state;
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        enum ai_task back;
        assert_int_equal(ai_task_parse(ai_task_name((enum ai_task)t), &back), 0);
        assert_int_equal(back, t);
    }
    enum ai_task t;
    assert_string_equal(ai_task_name(AI_TASK_SENTIMENT), "sentiment");
    assert_int_equal(ai_task_parse("Reply", &t), DK_EINVAL);
    assert_int_equal(ai_task_parse(NULL, &t), DK_EINVAL);
    assert_string_equal(ai_outcome_name(AI_ERR_TRUNCATED), "truncated");
    assert_string_equal(ai_outcome_name(AI_ERR_RETRY), "retry");
    assert_string_equal(ai_outcome_name(AI_OK), "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ai_wire_openai_parse),
        cmocka_unit_test(test_ai_wire_error_fixtures),
        cmocka_unit_test(test_ai_wire_anthropic_parse),
        cmocka_unit_test(test_ai_wire_retry_after),
        cmocka_unit_test(test_ai_wire_openai_body),
        cmocka_unit_test(test_ai_wire_anthropic_body),
        cmocka_unit_test(test_ai_wire_embeddings),
        cmocka_unit_test(test_ai_wire_models),
        cmocka_unit_test(test_ai_wire_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
