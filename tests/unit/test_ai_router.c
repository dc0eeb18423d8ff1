/*
 * Unit tests of ai/router.c against the fake provider of tests/support/aifake.c: routes and
 * fallback, retries and Retry-After, targets, circuit breakers, budgets, privacy LOCAL,
 * cancellation and deadlines. Streams, redaction and embeddings are in test_ai_router_stream.c.
 * Each test builds its own router on the one HTTP loop, with small backoffs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "aifake.h"
#include "ai/ai.h"
#include "core/dktime.h"
#include "core/mem.h"

#define CHAT        AIFAKE_CHAT
#define MESSAGES    AIFAKE_MESSAGES
#define LLM_CHAT    AIFAKE_LLM_CHAT
#define OPENAI_TEXT "Hello! How can I assist you today?"
#define ANTHROPIC_TEXT                                                                             \
    "{\"items\":[{\"product_name\":\"Green Tea\",\"price\":5.50,\"quantity\":2},"                  \
    "{\"product_name\":\"Coffee\",\"price\":3.00,\"quantity\":1}],\"total\":14.0}"
#define PHONE_TEXT "Call me at +7 999 123-45-67 about the order"

static const struct ai_message PII_MSGS[] = {{"user", PHONE_TEXT}};
static struct aifake_waiter g_w; /* run()'s */

static struct ai_result *run(struct ai_router *r, const struct ai_request *req)
{
    return aifake_run(r, req, &g_w);
}

/* Asserts the circuit state and availability of id ("provider/model") in the model list. */
static void assert_state(struct ai_router *r, const char *id, const char *state, bool available)
{
    json_t *m = ai_router_models(r);
    json_t *data = json_object_get(m, "data");
    size_t i;
    json_t *e;
    bool found = false;
    json_array_foreach(data, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
            found = true;
            const char *got = json_string_value(json_object_get(e, "state"));
            if (got == NULL || strcmp(got, state) != 0) {
                fail_msg("%s: state %s, want %s", id, got ? got : "(none)", state);
            }
            assert_int_equal(json_is_true(json_object_get(e, "available")), available);
        }
    }
    json_decref(m);
    if (!found) {
        fail_msg("%s is not in the model list", id);
    }
}

/* ---- fallback, retries and targets, as data ---- */

struct route_case {
    struct aifake_canned script[5]; /* up to the first entry with status 0 */
    const char *routes;             /* NULL: the default routes */
    const char *target;
    const char *local_text;
    const char *attempts; /* "provider:outcome:status,…" */
    const char *paths;    /* the requests the fake saw */
    enum ai_outcome outcome;
    const char *provider;
    const char *text;  /* NULL: none */
    const char *error; /* without text: a part of the reply's error */
};

static const struct route_case ROUTE_CASES[] = {
    /* a plain answer: one attempt */
    {{{.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}},
     .attempts = "openai:ok:200",
     .paths = CHAT,
     .provider = "openai",
     .text = OPENAI_TEXT},
    /* 500, retried on the same provider */
    {{{.path = CHAT, .status = 500, .file = "openai_error_500_server_error.json"},
      {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}},
     .attempts = "openai:retry:500,openai:ok:200",
     .paths = CHAT "," CHAT,
     .provider = "openai",
     .text = OPENAI_TEXT},
    /* quota exhausted: a 429 that is not retried; the next provider answers */
    {{{.path = CHAT, .status = 429, .file = "openai_error_429_insufficient_quota.json"},
      {.path = MESSAGES, .status = 200, .file = "anthropic_message.json"}},
     .attempts = "openai:fatal:429,anthropic:ok:200",
     .paths = CHAT "," MESSAGES,
     .provider = "anthropic",
     .text = ANTHROPIC_TEXT},
    /* 529 overloaded: retried (retries 2), then the next provider */
    {{{.path = MESSAGES, .status = 529, .file = "anthropic_error_529_overloaded.json", .times = 3},
      {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}},
     .routes = "reply=anthropic,openai,local",
     .attempts = "anthropic:retry:529,anthropic:retry:529,anthropic:retry:529,openai:ok:200",
     .paths = MESSAGES "," MESSAGES "," MESSAGES "," CHAT,
     .provider = "openai",
     .text = OPENAI_TEXT},
    /* 401 and 400: fatal, no retry, fallback */
    {{{.path = CHAT, .status = 401, .file = "openai_error_401_invalid_api_key.json"},
      {.path = MESSAGES, .status = 200, .file = "anthropic_message.json"}},
     .attempts = "openai:fatal:401,anthropic:ok:200",
     .paths = CHAT "," MESSAGES,
     .provider = "anthropic",
     .text = ANTHROPIC_TEXT},
    {{{.path = CHAT, .status = 400, .file = "openai_error_400.json"},
      {.path = MESSAGES, .status = 200, .file = "anthropic_message.json"}},
     .attempts = "openai:fatal:400,anthropic:ok:200",
     .paths = CHAT "," MESSAGES,
     .provider = "anthropic",
     .text = ANTHROPIC_TEXT},
    /* 200 with bodies that do not parse: malformed, not retried; local answers */
    {{{.path = CHAT, .status = 200, .body = "{\"id\":\"x\",\"choices\":"},
      {.path = MESSAGES, .status = 200, .body = "[]"}},
     .local_text = "from local",
     .attempts = "openai:malformed:200,anthropic:malformed:200,local:ok:0",
     .paths = CHAT "," MESSAGES,
     .provider = "local",
     .text = "from local"},
    /* everybody fails: local answers with local_text, or the last failure stands */
    {{{.path = CHAT, .status = 401, .file = "openai_error_401_invalid_api_key.json"},
      {.path = MESSAGES, .status = 401, .file = "anthropic_error_401.json"}},
     .local_text = "from local",
     .attempts = "openai:fatal:401,anthropic:fatal:401,local:ok:0",
     .paths = CHAT "," MESSAGES,
     .provider = "local",
     .text = "from local"},
    {{{.path = CHAT, .status = 401, .file = "openai_error_401_invalid_api_key.json"},
      {.path = MESSAGES, .status = 401, .file = "anthropic_error_401.json"}},
     .attempts = "openai:fatal:401,anthropic:fatal:401,local:fatal:0",
     .paths = CHAT "," MESSAGES,
     .outcome = AI_ERR_FATAL,
     .provider = "",
     .error = "invalid x-api-key"},
    /* a target uses that provider only, also when it fails */
    {{{.path = MESSAGES, .status = 529, .file = "anthropic_error_529_overloaded.json", .times = 3}},
     .target = "anthropic",
     .local_text = "from local",
     .attempts = "anthropic:retry:529,anthropic:retry:529,anthropic:retry:529",
     .paths = MESSAGES "," MESSAGES "," MESSAGES,
     .outcome = AI_ERR_RETRY,
     .provider = "",
     .error = "Overloaded"},
    {{{.path = MESSAGES, .status = 200, .file = "anthropic_message.json"}},
     .target = "claude-test",
     .attempts = "anthropic:ok:200",
     .paths = MESSAGES,
     .provider = "anthropic",
     .text = ANTHROPIC_TEXT},
    {{{0}},
     .target = "local",
     .local_text = "from local",
     .attempts = "local:ok:0",
     .paths = "",
     .provider = "local",
     .text = "from local"},
    {{{0}},
     .target = "nope",
     .local_text = "from local",
     .attempts = "",
     .paths = "",
     .outcome = AI_ERR_FATAL,
     .provider = "",
     .error = "no provider"},
};

static void test_ai_router_fallback_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ROUTE_CASES) / sizeof(ROUTE_CASES[0]); i++) {
        const struct route_case *c = &ROUTE_CASES[i];
        size_t n = 0;
        while (n < 5 && c->script[n].status != 0) {
            n++;
        }
        aifake_script(c->script, n);
        struct ai_config cfg;
        aifake_config(&cfg, false, c->routes);
        struct ai_router *r = ai_router_new(&cfg, aifake_http());
        struct ai_request q = aifake_request();
        q.target = c->target;
        q.local_text = c->local_text;
        struct ai_result *res = run(r, &q);
        aifake_assert_attempts(res, c->attempts);
        aifake_assert_paths(c->paths);
        assert_int_equal(res->reply.outcome, c->outcome);
        assert_string_equal(res->provider, c->provider);
        if (c->text != NULL) {
            assert_non_null(res->reply.text);
            assert_string_equal(res->reply.text, c->text);
        } else {
            assert_null(res->reply.text);
            if (strstr(res->reply.error, c->error) == NULL) {
                fail_msg("error \"%s\", want \"%s\" in it", res->reply.error, c->error);
            }
        }
        if (c->local_text != NULL && strcmp(c->provider, "local") == 0) {
            /* local answers as one delta */
            assert_string_equal(res->model, "direkt-local");
            assert_string_equal(aifake_deltas(&g_w), c->local_text);
        }
        aifake_router_free(r);
    }
}

static void test_ai_router_plain_answer(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"},
        {.path = MESSAGES, .status = 200, .file = "anthropic_message.json"},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 3);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.max_tokens = 50;
    struct ai_result *res = run(r, &q);
    assert_int_equal(res->reply.outcome, AI_OK);
    assert_string_equal(res->reply.text, OPENAI_TEXT);
    assert_int_equal(res->reply.usage.input_tokens, 19);
    assert_int_equal(res->reply.usage.output_tokens, 10);
    assert_string_equal(res->reply.finish, "stop");
    assert_string_equal(res->reply.id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    assert_string_equal(res->provider, "openai");
    assert_string_equal(res->model, "gpt-5.4"); /* the model that answered */
    assert_int_equal(res->nattempts, 1);
    assert_string_equal(res->attempts[0].model, "gpt-test"); /* the model asked for */
    assert_int_equal(res->attempts[0].usage.input_tokens, 19);
    assert_int_equal(res->attempts[0].first_token_ms, -1);
    assert_true(res->attempts[0].latency_ms >= 0 && res->attempts[0].latency_ms <= res->latency_ms);
    assert_false(res->redacted);
    assert_null(res->vectors);
    /* what went out */
    aifake_assert_paths(CHAT);
    assert_string_equal(aifake_seen(0)->auth, "Bearer sk-test");
    assert_string_equal(aifake_seen(0)->api_key, "");
    assert_string_equal(aifake_seen(0)->ctype, "application/json");
    assert_string_equal(aifake_seen_str(0, "model"), "gpt-test");
    json_t *body = aifake_seen_json(0);
    assert_int_equal(json_integer_value(json_object_get(body, "max_completion_tokens")), 50);
    assert_null(json_object_get(body, "temperature"));
    assert_true(json_is_false(json_object_get(body, "stream")));
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Do you have green tea?");

    /* Anthropic: its headers, the system prompt apart, max_tokens 1024 when not given */
    q = aifake_request();
    q.target = "anthropic";
    res = run(r, &q);
    assert_string_equal(res->reply.text, ANTHROPIC_TEXT);
    assert_int_equal(res->reply.usage.input_tokens, 406);
    assert_int_equal(res->reply.usage.output_tokens, 50);
    assert_string_equal(res->reply.finish, "end_turn");
    assert_string_equal(res->model, "claude-sonnet-4-5-20250929");
    aifake_assert_paths(CHAT "," MESSAGES);
    assert_string_equal(aifake_seen(1)->api_key, "ak-test");
    assert_string_equal(aifake_seen(1)->auth, "");
    assert_string_equal(aifake_seen(1)->version, "2023-06-01");
    assert_string_equal(aifake_seen_str(1, "model"), "claude-test");
    assert_string_equal(aifake_seen_str(1, "system"), "You answer for a tea shop.");
    assert_int_equal(json_integer_value(json_object_get(aifake_seen_json(1), "max_tokens")), 1024);
    assert_int_equal(json_array_size(json_object_get(aifake_seen_json(1), "messages")), 1);

    /* provider/model: that model goes out */
    q = aifake_request();
    q.target = "openai/gpt-x";
    q.temperature = 0.25;
    res = run(r, &q);
    assert_string_equal(res->provider, "openai");
    assert_string_equal(res->attempts[0].model, "gpt-x");
    assert_string_equal(aifake_seen_str(2, "model"), "gpt-x");
    assert_true(json_real_value(json_object_get(aifake_seen_json(2), "temperature")) == 0.25);

    /* the model list: auto, then every provider with its default model */
    json_t *m = ai_router_models(r);
    assert_string_equal(json_string_value(json_object_get(m, "object")), "list");
    json_t *data = json_object_get(m, "data");
    assert_int_equal(json_array_size(data), 4);
    const char *ids[] = {"auto", "local/direkt-local", "openai/gpt-test", "anthropic/claude-test"};
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(data, i);
        assert_string_equal(json_string_value(json_object_get(e, "id")), ids[i]);
        assert_string_equal(json_string_value(json_object_get(e, "object")), "model");
        assert_true(json_is_true(json_object_get(e, "available")));
    }
    json_decref(m);
    aifake_router_free(r);
}

static void test_ai_router_resolve(void **state)
{
    (void)state;
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    const char *good[] = {NULL,         "auto",  "",         "openai",      "openai/gpt-x",
                          "anthropic/", "local", "gpt-test", "claude-test", "direkt-local"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(ai_router_resolve(r, good[i], NULL), 0);
    }
    const char *bad[] = {"nope",      "nope/gpt-test",
                         "OpenAI",    "gpt-test/x",
                         "/gpt-test", "a-provider-name-longer-than-thirty-two-bytes/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dk_err err = {0};
        assert_int_equal(ai_router_resolve(r, bad[i], &err), DK_ENOTFOUND);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_string_equal(ai_router_config(r)->providers[1].name, "openai");
    aifake_router_free(r);
}

static void test_ai_router_retry_after(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT,
         .status = 429,
         .file = "openai_error_429_rate_limit.json",
         .retry_after = "1"},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"},
        {.path = CHAT,
         .status = 429,
         .file = "openai_error_429_rate_limit.json",
         .retry_after = "1"},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 4);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:retry:429,openai:ok:200");
    assert_string_equal(res->reply.text, OPENAI_TEXT);
    assert_non_null(strstr(res->attempts[0].error, "Rate limit reached"));
    int64_t gap = aifake_seen(1)->at - aifake_seen(0)->at;
    if (gap < 900 || res->latency_ms < 900 || res->latency_ms > 5000) {
        fail_msg("Retry-After 1: retried after %lld ms (call %lld ms)", (long long)gap,
                 (long long)res->latency_ms);
    }
    aifake_router_free(r);

    /* the wait is capped by max_backoff_ms */
    cfg.max_backoff_ms = 200;
    r = ai_router_new(&cfg, aifake_http());
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:retry:429,openai:ok:200");
    gap = aifake_seen(3)->at - aifake_seen(2)->at;
    if (gap < 150 || gap > 800) {
        fail_msg("Retry-After 1 capped at 200 ms: retried after %lld ms", (long long)gap);
    }
    aifake_router_free(r);
}

/* breaker_failures 2, cooldown 200 ms: open after two failed calls, then one probe at a time */
static void test_ai_router_circuit_breaker(void **state)
{
    (void)state;
    /* 400s (our request's fault) count for nothing; 500s do; a probe fails, a slow one works */
    const struct aifake_canned script[] = {
        {.path = CHAT, .status = 400, .file = "openai_error_400.json", .times = 2},
        {.path = CHAT, .status = 500, .file = "openai_error_500_server_error.json", .times = 3},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json", .delay_ms = 400},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 4);
    struct ai_config cfg;
    aifake_config(&cfg, false, "reply=openai,local");
    cfg.retries = 0;
    cfg.breaker_failures = 2;
    cfg.breaker_cooldown_ms = 200;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.local_text = "from local";
    assert_state(r, "openai/gpt-test", "closed", true);
    for (int i = 0; i < 2; i++) {
        aifake_assert_attempts(run(r, &q), "openai:fatal:400,local:ok:0");
    }
    assert_state(r, "openai/gpt-test", "closed", true);
    aifake_assert_attempts(run(r, &q), "openai:retry:500,local:ok:0");
    assert_state(r, "openai/gpt-test", "closed", true);
    aifake_assert_attempts(run(r, &q), "openai:retry:500,local:ok:0");
    assert_state(r, "openai/gpt-test", "open", false);
    assert_state(r, "anthropic/claude-test", "closed", true);
    /* open: skipped without a request */
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:circuit:0,local:ok:0");
    assert_string_equal(res->provider, "local");
    assert_int_equal(aifake_nseen(), 4);
    /* after the cooldown: half-open; a failed probe opens it again at once */
    dk_sleep_ms(250);
    assert_state(r, "openai/gpt-test", "half_open", true);
    aifake_assert_attempts(run(r, &q), "openai:retry:500,local:ok:0");
    assert_state(r, "openai/gpt-test", "open", false);
    dk_sleep_ms(250);
    /* one probe at a time: while it waits, other calls skip the provider */
    struct aifake_waiter probe;
    aifake_waiter_init(&probe);
    ai_router_submit(r, &q, NULL, aifake_on_done, &probe, NULL);
    aifake_wait_seen(6);
    aifake_assert_attempts(run(r, &q), "openai:circuit:0,local:ok:0");
    res = aifake_wait(&probe, 10000);
    aifake_assert_attempts(res, "openai:ok:200");
    assert_string_equal(res->reply.text, OPENAI_TEXT);
    aifake_waiter_free(&probe);
    assert_state(r, "openai/gpt-test", "closed", true);
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    aifake_assert_paths(CHAT "," CHAT "," CHAT "," CHAT "," CHAT "," CHAT "," CHAT);
    aifake_router_free(r);
}

/* Regression: a half-open probe that is canceled closes the circuit as if the provider had
 * answered (router.c on_http_done: "else if (k->probe) breaker_record(r, pi, true, true)" also
 * runs for AI_ERR_CANCELED). */
static void test_ai_router_canceled_probe_keeps_circuit(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT, .status = 500, .file = "openai_error_500_server_error.json", .times = 2},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json", .delay_ms = 3000}};
    aifake_script(script, 2);
    struct ai_config cfg;
    aifake_config(&cfg, false, "reply=openai,local");
    cfg.retries = 0;
    cfg.breaker_failures = 2;
    cfg.breaker_cooldown_ms = 200;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.local_text = "from local";
    run(r, &q);
    run(r, &q);
    assert_state(r, "openai/gpt-test", "open", false);
    dk_sleep_ms(250);
    struct aifake_waiter w;
    aifake_waiter_init(&w);
    uint64_t id = 0;
    ai_router_submit(r, &q, NULL, aifake_on_done, &w, &id);
    aifake_wait_seen(3);
    ai_router_cancel(r, id);
    assert_int_equal(aifake_wait(&w, 5000)->reply.outcome, AI_ERR_CANCELED);
    aifake_waiter_free(&w);
    /* nothing was learnt about the provider: still half-open, the next call probes */
    assert_state(r, "openai/gpt-test", "half_open", true);
    aifake_router_free(r);
}

static void test_ai_router_budget(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json", .times = 3}};
    aifake_script(script, 1);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    cfg.daily_token_budget = 100;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.local_text = "from local";
    q.account_id = "acct-1";
    q.tokens_used_today = 100; /* the configured budget is spent: network providers skipped */
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:budget:0,anthropic:budget:0,local:ok:0");
    assert_non_null(strstr(res->attempts[0].error, "100"));
    assert_string_equal(res->reply.text, "from local");
    assert_int_equal(aifake_nseen(), 0);
    q.daily_token_budget = -1; /* the account's own: unlimited */
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    q.daily_token_budget = 500; /* the account's own, not spent */
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    q.daily_token_budget = 0;
    q.tokens_used_today = 99;
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    q.daily_token_budget = 50; /* the account's own, spent, below the configured one */
    q.tokens_used_today = 60;
    aifake_assert_attempts(run(r, &q), "openai:budget:0,anthropic:budget:0,local:ok:0");
    aifake_assert_paths(CHAT "," CHAT "," CHAT);
    aifake_router_free(r);
}

/* Regression: when every network provider is skipped (budget, privacy, circuit) and local has
 * no answer, the result's outcome is local's skip (AI_ERR_FATAL "the local provider has no
 * answer") instead of the reason the providers were skipped, so the API answers 502 instead
 * of 429 (budget) or 422 (privacy). router.c step_next, the "nothing was tried" branch. */
static void test_ai_router_skip_reason(void **state)
{
    (void)state;
    aifake_script(NULL, 0);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    cfg.daily_token_budget = 100;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.tokens_used_today = 100;
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:budget:0,anthropic:budget:0,local:fatal:0");
    assert_int_equal(res->reply.outcome, AI_ERR_BUDGET);
    aifake_router_free(r);
    cfg.daily_token_budget = 0;
    cfg.privacy = AI_PRIVACY_LOCAL;
    r = ai_router_new(&cfg, aifake_http());
    q = aifake_request();
    q.has_pii = true;
    res = run(r, &q);
    assert_int_equal(res->reply.outcome, AI_ERR_PRIVACY);
    aifake_router_free(r);
}

static void test_ai_router_privacy_local(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = LLM_CHAT, .status = 200, .file = "openai_chat_completion.json"},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 2);
    struct ai_config cfg;
    aifake_config(&cfg, true, NULL);
    cfg.privacy = AI_PRIVACY_LOCAL;
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.messages = PII_MSGS;
    q.nmessages = 1;
    q.max_tokens = 64;
    q.has_pii = true;
    struct ai_result *res = run(r, &q);
    aifake_assert_attempts(res, "openai:privacy:0,anthropic:privacy:0,local_llm:ok:200");
    assert_string_equal(res->provider, "local_llm");
    assert_false(res->redacted);
    aifake_assert_paths(LLM_CHAT);
    /* on premises: the text as it is, the compat flavour's max_tokens, no key */
    assert_non_null(strstr(aifake_seen(0)->body, "+7 999 123-45-67"));
    assert_string_equal(aifake_seen(0)->auth, "");
    assert_string_equal(aifake_seen_str(0, "model"), "llama-test");
    assert_int_equal(json_integer_value(json_object_get(aifake_seen_json(0), "max_tokens")), 64);
    assert_null(json_object_get(aifake_seen_json(0), "max_completion_tokens"));
    q.has_pii = false; /* no personal data: the route as usual */
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    aifake_router_free(r);
}

static void test_ai_router_cancel_and_deadline(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT,
         .status = 200,
         .file = "openai_chat_completion.json",
         .delay_ms = 3000,
         .times = 2},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json", .delay_ms = 1000}};
    aifake_script(script, 2);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct ai_request q = aifake_request();
    q.local_text = "from local";
    struct aifake_waiter w;
    aifake_waiter_init(&w);
    uint64_t id = 0;
    ai_router_submit(r, &q, aifake_on_delta, aifake_on_done, &w, &id);
    aifake_wait_seen(1);
    int64_t t0 = dk_mono_ms();
    ai_router_cancel(r, id);
    struct ai_result *res = aifake_wait(&w, 5000);
    assert_true(dk_mono_ms() - t0 < 1000);
    assert_int_equal(res->reply.outcome, AI_ERR_CANCELED);
    aifake_assert_attempts(res, "openai:canceled:0");
    assert_null(res->reply.text);
    assert_string_equal(res->provider, "");
    assert_int_equal(w.ndeltas, 0); /* local did not answer for a canceled call */
    aifake_waiter_free(&w);
    ai_router_cancel(r, id); /* done already: nothing */
    ai_router_cancel(r, 987654);
    /* canceled right after submit */
    aifake_waiter_init(&w);
    ai_router_submit(r, &q, NULL, aifake_on_done, &w, &id);
    ai_router_cancel(r, id);
    assert_int_equal(aifake_wait(&w, 5000)->reply.outcome, AI_ERR_CANCELED);
    aifake_waiter_free(&w);
    aifake_router_free(r);

    /* deadline 300 ms, the provider answers after 1 s: the attempt times out at the deadline,
     * the next network step is skipped, local answers */
    aifake_script(script + 1, 1);
    cfg.deadline_ms = 300;
    cfg.timeout_ms = 5000;
    r = ai_router_new(&cfg, aifake_http());
    res = run(r, &q);
    aifake_assert_attempts(res, "openai:retry:0,anthropic:retry:0,local:ok:0");
    assert_non_null(strstr(res->attempts[1].error, "deadline"));
    assert_string_equal(res->reply.text, "from local");
    if (res->attempts[0].latency_ms < 250 || res->latency_ms > 900) {
        fail_msg("deadline 300 ms: attempt %lld ms, call %lld ms",
                 (long long)res->attempts[0].latency_ms, (long long)res->latency_ms);
    }
    aifake_assert_paths(CHAT);
    aifake_router_free(r);
}

static void test_ai_router_cancel_all(void **state)
{
    (void)state;
    const struct aifake_canned script[] = {
        {.path = CHAT,
         .status = 200,
         .file = "openai_chat_completion.json",
         .delay_ms = 3000,
         .times = 2},
        {.path = MESSAGES,
         .status = 429,
         .file = "anthropic_error_429_rate_limit.json",
         .retry_after = "1"},
        {.path = CHAT, .status = 200, .file = "openai_chat_completion.json"}};
    aifake_script(script, 3);
    struct ai_config cfg;
    aifake_config(&cfg, false, NULL);
    struct ai_router *r = ai_router_new(&cfg, aifake_http());
    struct aifake_waiter w[3];
    const char *targets[] = {"openai", "openai", "anthropic"};
    for (int i = 0; i < 3; i++) {
        aifake_waiter_init(&w[i]);
        struct ai_request q = aifake_request();
        q.target = targets[i];
        ai_router_submit(r, &q, NULL, aifake_on_done, &w[i], NULL);
    }
    aifake_wait_seen(3);
    dk_sleep_ms(100); /* the 429 is read: that call waits on its retry timer */
    assert_int_equal(ai_router_inflight(r), 3);
    int64_t t0 = dk_mono_ms();
    ai_router_cancel_all(r);
    for (int i = 0; i < 3; i++) {
        struct ai_result *res = aifake_wait(&w[i], 5000);
        assert_int_equal(res->reply.outcome, AI_ERR_CANCELED);
        assert_string_equal(res->provider, "");
        if (i < 2) { /* in flight: at once */
            assert_true(dk_mono_ms() - t0 < 1000);
            aifake_assert_attempts(res, "openai:canceled:0");
        } else { /* canceled on its retry timer: no second attempt */
            aifake_assert_attempts(res, "anthropic:retry:429");
        }
        aifake_waiter_free(&w[i]);
    }
    assert_true(dk_mono_ms() - t0 < 3000);
    assert_int_equal(aifake_nseen(), 3); /* the retry never went out */
    /* later calls are not affected */
    struct ai_request q = aifake_request();
    aifake_assert_attempts(run(r, &q), "openai:ok:200");
    aifake_assert_paths(CHAT "," CHAT "," MESSAGES "," CHAT);
    aifake_router_free(r);
}

#define T(f) AIFAKE_TEST(f, &g_w)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ai_router_fallback_cases),  T(test_ai_router_plain_answer),
        T(test_ai_router_resolve),         T(test_ai_router_retry_after),
        T(test_ai_router_circuit_breaker), T(test_ai_router_canceled_probe_keeps_circuit),
        T(test_ai_router_budget),          T(test_ai_router_skip_reason),
        T(test_ai_router_privacy_local),   T(test_ai_router_cancel_and_deadline),
        T(test_ai_router_cancel_all),
    };
    return cmocka_run_group_tests(tests, aifake_group_setup, aifake_group_teardown);
}
