/*
 * Unit tests of ai/config.c: the router's configuration (defaults, the provider table, the
 * default routes per task) and the parsers of DIREKT_AI_ROUTES, DIREKT_AI_LOCAL_THRESHOLDS and
 * DIREKT_AI_PRIVACY. No network: the router itself is tested in test_ai_router.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"

static struct ai_provider_config provider(const char *name, enum ai_wire wire, bool on_premises)
{
    struct ai_provider_config p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.wire = wire;
    p.flavor = wire == AI_WIRE_OPENAI && !on_premises ? AI_FLAVOR_OPENAI : AI_FLAVOR_COMPAT;
    snprintf(p.base_url, sizeof(p.base_url), "http://127.0.0.1:1/%s", name);
    snprintf(p.model, sizeof(p.model), "%s-model", name);
    p.on_premises = on_premises;
    return p;
}

/* defaults, then openai (1), anthropic (2), local_llm (3) and the default routes */
static void three_providers(struct ai_config *cfg)
{
    ai_config_defaults(cfg);
    struct ai_provider_config ps[] = {
        provider("openai", AI_WIRE_OPENAI, false),
        provider("anthropic", AI_WIRE_ANTHROPIC, false),
        provider("local_llm", AI_WIRE_OPENAI, true),
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ai_config_add_provider(cfg, &ps[i], NULL), 0);
    }
    ai_config_default_routes(cfg);
}

/* The route of task as "name/model,name,…" ("" for an empty one). */
static const char *route_str(const struct ai_config *cfg, enum ai_task t, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cfg->nroute[t]; i++) {
        const struct ai_route_step *s = &cfg->routes[t][i];
        assert_true(s->provider >= 0 && (size_t)s->provider < cfg->nproviders);
        int n =
            snprintf(buf + o, cap - o, "%s%s%s%s", i > 0 ? "," : "",
                     cfg->providers[s->provider].name, s->model[0] != '\0' ? "/" : "", s->model);
        assert_true(n > 0 && (size_t)n < cap - o);
        o += (size_t)n;
    }
    return buf;
}

static void assert_route(const struct ai_config *cfg, enum ai_task t, const char *want)
{
    char buf[1024];
    const char *got = route_str(cfg, t, buf, sizeof(buf));
    if (strcmp(got, want) != 0) {
        fail_msg("route %s:\n got  %s\n want %s", ai_task_name(t), got, want);
    }
}

static void test_ai_config_defaults(void **state)
{
    (void)state;
    struct ai_config cfg;
    memset(&cfg, 0x5a, sizeof(cfg)); /* every field must be set, not left over */
    ai_config_defaults(&cfg);
    assert_int_equal(cfg.nproviders, 1);
    const struct ai_provider_config *local = &cfg.providers[0];
    assert_string_equal(local->name, "local");
    assert_string_equal(local->model, "direkt-local");
    assert_true(local->builtin);
    assert_true(local->on_premises);
    assert_string_equal(local->base_url, "");
    assert_string_equal(local->api_key, "");
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        assert_true(cfg.local_threshold[t] == 0.5);
        /* local answers every task but embeddings, which it cannot compute */
        assert_route(&cfg, (enum ai_task)t, t == AI_TASK_EMBEDDING ? "" : "local");
    }
    assert_int_equal(cfg.retries, 2);
    assert_int_equal(cfg.backoff_ms, 500);
    assert_int_equal(cfg.max_backoff_ms, 20000);
    assert_int_equal(cfg.timeout_ms, 30000);
    assert_int_equal(cfg.deadline_ms, 60000);
    assert_int_equal(cfg.breaker_failures, 5);
    assert_int_equal(cfg.breaker_cooldown_ms, 30000);
    assert_int_equal(cfg.privacy, AI_PRIVACY_OFF);
    assert_int_equal(cfg.daily_token_budget, 0);
    assert_int_equal(ai_config_provider(&cfg, "local"), 0);
    assert_int_equal(ai_config_provider(&cfg, "openai"), -1);
    assert_int_equal(ai_config_provider(&cfg, ""), -1);
}

static void test_ai_config_add_provider(void **state)
{
    (void)state;
    struct ai_config cfg;
    ai_config_defaults(&cfg);
    struct ai_provider_config p = provider("openai", AI_WIRE_OPENAI, false);
    snprintf(p.api_key, sizeof(p.api_key), "sk-1");
    assert_int_equal(ai_config_add_provider(&cfg, &p, NULL), 0);
    assert_int_equal(cfg.nproviders, 2);
    assert_int_equal(ai_config_provider(&cfg, "openai"), 1);
    assert_string_equal(cfg.providers[1].api_key, "sk-1");
    assert_string_equal(cfg.providers[1].model, "openai-model");
    p.api_key[0] = 'X'; /* copied, not borrowed */
    assert_string_equal(cfg.providers[1].api_key, "sk-1");

    /* the same name twice, also the built-in's name */
    struct dk_err err = {0};
    assert_int_equal(ai_config_add_provider(&cfg, &p, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "openai"));
    struct ai_provider_config dup = provider("local", AI_WIRE_OPENAI, true);
    assert_int_equal(ai_config_add_provider(&cfg, &dup, NULL), DK_EINVAL);
    assert_int_equal(cfg.nproviders, 2);
    assert_int_equal(cfg.providers[0].builtin, true); /* the built-in was not replaced */

    /* fill the table: AI_MAX_PROVIDERS in all, then one more fails and changes nothing */
    for (int i = 2; i < AI_MAX_PROVIDERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        struct ai_provider_config q = provider(name, AI_WIRE_OPENAI, false);
        assert_int_equal(ai_config_add_provider(&cfg, &q, NULL), 0);
        assert_int_equal(ai_config_provider(&cfg, name), i);
    }
    assert_int_equal(cfg.nproviders, AI_MAX_PROVIDERS);
    struct ai_provider_config extra = provider("extra", AI_WIRE_OPENAI, false);
    memset(&err, 0, sizeof(err));
    assert_int_equal(ai_config_add_provider(&cfg, &extra, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "too many"));
    assert_int_equal(cfg.nproviders, AI_MAX_PROVIDERS);
    assert_int_equal(ai_config_provider(&cfg, "extra"), -1);
}

static void test_ai_config_default_routes(void **state)
{
    (void)state;
    struct ai_config cfg;
    three_providers(&cfg);
    /* the LLM providers in the order they were added, then the built-in local */
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        if (t == AI_TASK_EMBEDDING) {
            continue;
        }
        assert_route(&cfg, (enum ai_task)t, "openai,anthropic,local_llm,local");
    }
    /* embeddings: network providers with an OpenAI wire only (no Anthropic, no local) */
    assert_route(&cfg, AI_TASK_EMBEDDING, "openai,local_llm");
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        for (size_t i = 0; i < cfg.nroute[t]; i++) {
            assert_string_equal(cfg.routes[t][i].model, "");
        }
    }

    /* the app adds local last, after the LLM providers: the same routes */
    struct ai_config app;
    ai_config_defaults(&app);
    struct ai_provider_config local = app.providers[0];
    app.nproviders = 0;
    struct ai_provider_config a = provider("anthropic", AI_WIRE_ANTHROPIC, false);
    assert_int_equal(ai_config_add_provider(&app, &a, NULL), 0);
    assert_int_equal(ai_config_add_provider(&app, &local, NULL), 0);
    ai_config_default_routes(&app);
    assert_route(&app, AI_TASK_REPLY, "anthropic,local");
    assert_route(&app, AI_TASK_EMBEDDING, ""); /* nobody can embed */

    /* rebuilding after a parse replaces what the parse set */
    assert_int_equal(ai_config_parse_routes(&cfg, "reply=local", NULL), 0);
    assert_route(&cfg, AI_TASK_REPLY, "local");
    ai_config_default_routes(&cfg);
    assert_route(&cfg, AI_TASK_REPLY, "openai,anthropic,local_llm,local");
}

static void test_ai_config_parse_routes(void **state)
{
    (void)state;
    struct ai_config cfg;
    three_providers(&cfg);
    struct dk_err err = {0};
    assert_int_equal(
        ai_config_parse_routes(&cfg, "reply=openai,anthropic/claude-x,local;intent=local", &err),
        0);
    assert_route(&cfg, AI_TASK_REPLY, "openai,anthropic/claude-x,local");
    assert_int_equal(cfg.routes[AI_TASK_REPLY][1].provider, 2);
    assert_string_equal(cfg.routes[AI_TASK_REPLY][1].model, "claude-x");
    assert_string_equal(cfg.routes[AI_TASK_REPLY][0].model, "");
    assert_route(&cfg, AI_TASK_INTENT, "local");
    /* the routes it does not name stay as they were */
    assert_route(&cfg, AI_TASK_SENTIMENT, "openai,anthropic,local_llm,local");
    assert_route(&cfg, AI_TASK_EMBEDDING, "openai,local_llm");

    /* the model is everything after the first "/" */
    assert_int_equal(ai_config_parse_routes(&cfg, "summary=local_llm/org/model:7b", NULL), 0);
    assert_string_equal(cfg.routes[AI_TASK_SUMMARY][0].model, "org/model:7b");
    assert_int_equal(cfg.routes[AI_TASK_SUMMARY][0].provider, 3);
    assert_int_equal(cfg.nroute[AI_TASK_SUMMARY], 1);

    /* spaces and tabs around "=", "," and ";"; empty entries and items are ignored */
    assert_int_equal(ai_config_parse_routes(&cfg,
                                            " plan = anthropic , openai/gpt-x ;;\tchat=\tlocal_llm "
                                            ", ,local ; ",
                                            NULL),
                     0);
    assert_route(&cfg, AI_TASK_PLAN, "anthropic,openai/gpt-x");
    assert_route(&cfg, AI_TASK_CHAT, "local_llm,local");
    assert_int_equal(ai_config_parse_routes(&cfg, "", NULL), 0);
    assert_int_equal(ai_config_parse_routes(&cfg, " ; ;", NULL), 0);
    assert_route(&cfg, AI_TASK_PLAN, "anthropic,openai/gpt-x");

    /* exactly AI_MAX_ROUTE steps (a provider may come twice, with other models) */
    assert_int_equal(ai_config_parse_routes(&cfg,
                                            "reply=openai/a,openai/b,anthropic,local_llm,"
                                            "local_llm/c,local",
                                            NULL),
                     0);
    assert_int_equal(cfg.nroute[AI_TASK_REPLY], AI_MAX_ROUTE);
    assert_route(&cfg, AI_TASK_REPLY, "openai/a,openai/b,anthropic,local_llm,local_llm/c,local");

    /* embeddings on OpenAI-wire providers are fine */
    assert_int_equal(ai_config_parse_routes(&cfg, "embedding=local_llm/nomic", NULL), 0);
    assert_route(&cfg, AI_TASK_EMBEDDING, "local_llm/nomic");
}

struct bad_route {
    const char *spec;
    const char *msg; /* a part of the error message */
};

static void test_ai_config_parse_routes_errors(void **state)
{
    (void)state;
    const struct bad_route bad[] = {
        {"replies=openai", "unknown task \"replies\""},
        {"Reply=openai", "unknown task \"Reply\""},
        {"=openai", "unknown task \"\""},
        {"reply=openai,gemini", "\"gemini\""},
        {"reply=openai,OpenAI", "\"OpenAI\""},
        {"reply=/gpt-x", "provider \"\""},
        {"reply=", "route reply is empty"},
        {"reply= , ,", "route reply is empty"},
        {"reply", "is not task=provider"},
        {"intent=local;reply", "is not task=provider"},
        {"reply=openai,openai,openai,openai,openai,openai,openai", "more than 6 steps"},
        {"embedding=local", "local has no embeddings"},
        {"embedding=openai,local", "local has no embeddings"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ai_config cfg;
        three_providers(&cfg);
        struct ai_config before = cfg;
        struct dk_err err = {0};
        int rc = ai_config_parse_routes(&cfg, bad[i].spec, &err);
        if (rc != DK_EINVAL || strstr(err.msg, bad[i].msg) == NULL) {
            fail_msg("routes \"%s\": rc %d, message \"%s\", want DK_EINVAL and \"%s\"", bad[i].spec,
                     rc, err.msg, bad[i].msg);
        }
        /* the route that failed was not touched (ones before it in the spec may have been) */
        assert_int_equal(cfg.nroute[AI_TASK_REPLY], before.nroute[AI_TASK_REPLY]);
        assert_int_equal(cfg.nroute[AI_TASK_EMBEDDING], before.nroute[AI_TASK_EMBEDDING]);
    }
    /* NULL err is accepted */
    struct ai_config cfg;
    three_providers(&cfg);
    assert_int_equal(ai_config_parse_routes(&cfg, "reply=nobody", NULL), DK_EINVAL);
}

/* Regression: an embedding route to an Anthropic provider is accepted, but Anthropic has no
 * embeddings endpoint: every embedding call would go to <base>/embeddings and fail. The
 * default routes leave Anthropic out; the parser should refuse it as it refuses local. */
static void test_ai_config_parse_routes_embedding_anthropic(void **state)
{
    (void)state;
    struct ai_config cfg;
    three_providers(&cfg);
    struct dk_err err = {0};
    assert_int_equal(ai_config_parse_routes(&cfg, "embedding=anthropic", &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "anthropic"));
    assert_route(&cfg, AI_TASK_EMBEDDING, "openai,local_llm");
}

static void test_ai_config_parse_thresholds(void **state)
{
    (void)state;
    struct ai_config cfg;
    ai_config_defaults(&cfg);
    struct dk_err err = {0};
    assert_int_equal(ai_config_parse_thresholds(&cfg, "intent=0.6,sentiment=0.4", &err), 0);
    assert_true(cfg.local_threshold[AI_TASK_INTENT] == 0.6);
    assert_true(cfg.local_threshold[AI_TASK_SENTIMENT] == 0.4);
    assert_true(cfg.local_threshold[AI_TASK_REPLY] == 0.5); /* untouched */
    /* the bounds are inclusive; spaces are trimmed */
    assert_int_equal(ai_config_parse_thresholds(&cfg, " intent = 0 , sentiment=1 ,", NULL), 0);
    assert_true(cfg.local_threshold[AI_TASK_INTENT] == 0.0);
    assert_true(cfg.local_threshold[AI_TASK_SENTIMENT] == 1.0);
    assert_int_equal(ai_config_parse_thresholds(&cfg, "summary=1e-1", NULL), 0);
    assert_true(cfg.local_threshold[AI_TASK_SUMMARY] == 0.1);
    assert_int_equal(ai_config_parse_thresholds(&cfg, "", NULL), 0);

    const struct bad_route bad[] = {
        {"intent=1.01", "[0,1]"},      {"intent=-0.1", "[0,1]"},    {"intent=abc", "[0,1]"},
        {"intent=0.5x", "[0,1]"},      {"intent=", "[0,1]"},        {"intent=nan", "[0,1]"},
        {"intent=inf", "[0,1]"},       {"intent=0.5 0.6", "[0,1]"}, {"intent", "task=number"},
        {"bogus=0.5", "unknown task"}, {"=0.5", "unknown task"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ai_config_defaults(&cfg);
        memset(&err, 0, sizeof(err));
        int rc = ai_config_parse_thresholds(&cfg, bad[i].spec, &err);
        if (rc != DK_EINVAL || strstr(err.msg, bad[i].msg) == NULL) {
            fail_msg("thresholds \"%s\": rc %d, message \"%s\", want DK_EINVAL and \"%s\"",
                     bad[i].spec, rc, err.msg, bad[i].msg);
        }
        assert_true(cfg.local_threshold[AI_TASK_INTENT] == 0.5);
    }
}

static void test_ai_config_privacy_and_names(void **state)
{
    (void)state;
    enum ai_privacy p = AI_PRIVACY_OFF;
    assert_int_equal(ai_privacy_parse("local", &p), 0);
    assert_int_equal(p, AI_PRIVACY_LOCAL);
    assert_int_equal(ai_privacy_parse("redact", &p), 0);
    assert_int_equal(p, AI_PRIVACY_REDACT);
    assert_int_equal(ai_privacy_parse("off", &p), 0);
    assert_int_equal(p, AI_PRIVACY_OFF);
    const char *bad[] = {"", "on", "LOCAL", "Redact", " off", "off ", "redacted", "none"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = AI_PRIVACY_REDACT;
        assert_int_equal(ai_privacy_parse(bad[i], &p), DK_EINVAL);
        assert_int_equal(p, AI_PRIVACY_REDACT); /* left as it was */
    }

    /* task names round-trip; the routes are keyed by them */
    const char *names[AI_TASK_COUNT] = {"reply", "intent",    "sentiment", "summary",
                                        "plan",  "embedding", "chat"};
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        assert_string_equal(ai_task_name((enum ai_task)t), names[t]);
        enum ai_task got = AI_TASK_COUNT;
        assert_int_equal(ai_task_parse(names[t], &got), 0);
        assert_int_equal(got, t);
    }
    enum ai_task got;
    assert_int_equal(ai_task_parse("embeddings", &got), DK_EINVAL);
    assert_int_equal(ai_task_parse(NULL, &got), DK_EINVAL);
    assert_string_equal(ai_outcome_name(AI_ERR_CIRCUIT), "circuit");
    assert_string_equal(ai_outcome_name(AI_ERR_BUDGET), "budget");
    assert_string_equal(ai_outcome_name(AI_ERR_PRIVACY), "privacy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ai_config_defaults),
        cmocka_unit_test(test_ai_config_add_provider),
        cmocka_unit_test(test_ai_config_default_routes),
        cmocka_unit_test(test_ai_config_parse_routes),
        cmocka_unit_test(test_ai_config_parse_routes_errors),
        cmocka_unit_test(test_ai_config_parse_routes_embedding_anthropic),
        cmocka_unit_test(test_ai_config_parse_thresholds),
        cmocka_unit_test(test_ai_config_privacy_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
