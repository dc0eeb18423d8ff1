/*
 * app/ai_setup: the AI router's configuration from the settings table: which providers are
 * configured (a key or a base URL makes one), their order (openai, anthropic, local_llm, then
 * the built-in local), routes, thresholds and privacy. Errors name the variable.
 */
#include "app/app.h"

#include <stdio.h>
#include <string.h>

static void provider(struct ai_provider_config *p, const char *name, enum ai_wire wire,
                     const char *url, const char *key, const char *model)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->wire = wire;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--; /* "…/v1/" + "/chat/completions" would double the slash */
    }
    snprintf(p->base_url, sizeof(p->base_url), "%.*s", (int)n, url);
    snprintf(p->api_key, sizeof(p->api_key), "%s", key != NULL ? key : "");
    snprintf(p->model, sizeof(p->model), "%s", model);
    /* OpenAI proper takes max_completion_tokens; compatible servers read max_tokens */
    p->flavor = strstr(url, "api.openai.com") != NULL ? AI_FLAVOR_OPENAI : AI_FLAVOR_COMPAT;
}

int app_ai_config(const struct app_config *cfg, struct ai_config *out, struct dk_err *err)
{
    ai_config_defaults(out);
    struct ai_config *a = out;
    /* the providers go before the built-in local one: rebuild the table in order */
    struct ai_provider_config local = a->providers[0];
    a->nproviders = 0;
    struct ai_provider_config p;
    if (cfg->openai_api_key != NULL || cfg->openai_base_url != NULL) {
        provider(&p, "openai", AI_WIRE_OPENAI,
                 cfg->openai_base_url != NULL ? cfg->openai_base_url : "https://api.openai.com/v1",
                 cfg->openai_api_key, cfg->openai_model);
        ai_config_add_provider(a, &p, NULL);
    }
    if (cfg->anthropic_api_key != NULL || cfg->anthropic_base_url != NULL) {
        provider(&p, "anthropic", AI_WIRE_ANTHROPIC,
                 cfg->anthropic_base_url != NULL ? cfg->anthropic_base_url
                                                 : "https://api.anthropic.com",
                 cfg->anthropic_api_key, cfg->anthropic_model);
        ai_config_add_provider(a, &p, NULL);
    }
    if (cfg->local_llm_url != NULL) {
        provider(&p, "local_llm", AI_WIRE_OPENAI, cfg->local_llm_url, cfg->local_llm_api_key,
                 cfg->local_llm_model);
        p.flavor = AI_FLAVOR_COMPAT;
        p.on_premises = true;
        ai_config_add_provider(a, &p, NULL);
    }
    ai_config_add_provider(a, &local, NULL);
    ai_config_default_routes(a);
    a->timeout_ms = cfg->ai_timeout_ms;
    a->deadline_ms = cfg->ai_deadline_ms;
    a->retries = (int)cfg->ai_retries;
    a->breaker_failures = (int)cfg->ai_breaker_failures;
    a->breaker_cooldown_ms = cfg->ai_breaker_cooldown_ms;
    a->daily_token_budget = cfg->ai_daily_tokens;
    struct dk_err perr = {0};
    if (ai_privacy_parse(cfg->ai_privacy, &a->privacy) != 0) {
        return dk_err_set(err, DK_EINVAL,
                          "invalid configuration: DIREKT_AI_PRIVACY must be off, local or redact "
                          "(got \"%.40s\")",
                          cfg->ai_privacy);
    }
    if (cfg->ai_routes != NULL && ai_config_parse_routes(a, cfg->ai_routes, &perr) != 0) {
        return dk_err_set(err, DK_EINVAL, "invalid configuration: DIREKT_AI_ROUTES: %s", perr.msg);
    }
    if (cfg->ai_thresholds != NULL &&
        ai_config_parse_thresholds(a, cfg->ai_thresholds, &perr) != 0) {
        return dk_err_set(err, DK_EINVAL, "invalid configuration: DIREKT_AI_LOCAL_THRESHOLDS: %s",
                          perr.msg);
    }
    return 0;
}
