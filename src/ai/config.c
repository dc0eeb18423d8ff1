/*
 * ai/config: the router's configuration: providers, routes per task, local-first thresholds,
 * privacy. app/ fills it from the settings table; the parsers here read the compact forms of
 * DIREKT_AI_ROUTES ("reply=openai,local;intent=local") and DIREKT_AI_LOCAL_THRESHOLDS.
 */
#include "ai/ai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ai_config_defaults(struct ai_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    struct ai_provider_config *local = &cfg->providers[0];
    snprintf(local->name, sizeof(local->name), "local");
    snprintf(local->model, sizeof(local->model), "direkt-local");
    local->builtin = true;
    local->on_premises = true;
    cfg->nproviders = 1;
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        cfg->local_threshold[t] = 0.5;
    }
    ai_config_default_routes(cfg);
    cfg->retries = 2;
    cfg->backoff_ms = 500;
    cfg->max_backoff_ms = 20000;
    cfg->timeout_ms = 30000;
    cfg->deadline_ms = 60000;
    cfg->breaker_failures = 5;
    cfg->breaker_cooldown_ms = 30000;
    cfg->privacy = AI_PRIVACY_OFF;
}

int ai_config_provider(const struct ai_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nproviders; i++) {
        if (strcmp(cfg->providers[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int ai_config_add_provider(struct ai_config *cfg, const struct ai_provider_config *p,
                           struct dk_err *err)
{
    if (ai_config_provider(cfg, p->name) >= 0) {
        return dk_err_set(err, DK_EINVAL, "provider %s configured twice", p->name);
    }
    if (cfg->nproviders >= AI_MAX_PROVIDERS) {
        return dk_err_set(err, DK_EINVAL, "too many AI providers (at most %d)", AI_MAX_PROVIDERS);
    }
    cfg->providers[cfg->nproviders++] = *p;
    return 0;
}

void ai_config_default_routes(struct ai_config *cfg)
{
    for (int t = 0; t < AI_TASK_COUNT; t++) {
        size_t n = 0;
        for (size_t i = 0; i < cfg->nproviders && n < AI_MAX_ROUTE; i++) {
            const struct ai_provider_config *p = &cfg->providers[i];
            if (p->builtin) {
                continue;
            }
            if (t == AI_TASK_EMBEDDING && p->wire != AI_WIRE_OPENAI) {
                continue; /* Anthropic has no embeddings */
            }
            cfg->routes[t][n].provider = (int)i;
            cfg->routes[t][n].model[0] = '\0';
            n++;
        }
        int local = ai_config_provider(cfg, "local");
        if (t != AI_TASK_EMBEDDING && local >= 0 && n < AI_MAX_ROUTE) {
            cfg->routes[t][n].provider = local;
            cfg->routes[t][n].model[0] = '\0';
            n++;
        }
        cfg->nroute[t] = n;
    }
}

/* Splits s at sep into a copy of the next part (trimmed) in out; returns the rest or NULL. */
static const char *next_part(const char *s, char sep, char *out, size_t n)
{
    const char *end = strchr(s, sep);
    size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    if (len >= n) {
        len = n - 1;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return end != NULL ? end + 1 : NULL;
}

static int parse_route(struct ai_config *cfg, const char *entry, struct dk_err *err)
{
    char task_name[32], list[1024];
    const char *eq = strchr(entry, '=');
    if (eq == NULL) {
        return dk_err_set(err, DK_EINVAL, "\"%.60s\" is not task=provider,…", entry);
    }
    next_part(entry, '=', task_name, sizeof(task_name));
    next_part(eq + 1, ';', list, sizeof(list));
    enum ai_task task;
    if (ai_task_parse(task_name, &task) != 0) {
        return dk_err_set(err, DK_EINVAL, "unknown task \"%s\"", task_name);
    }
    struct ai_route_step steps[AI_MAX_ROUTE];
    size_t n = 0;
    const char *rest = list;
    while (rest != NULL) {
        char item[192];
        rest = next_part(rest, ',', item, sizeof(item));
        if (item[0] == '\0') {
            continue;
        }
        if (n >= AI_MAX_ROUTE) {
            return dk_err_set(err, DK_EINVAL, "route %s has more than %d steps", task_name,
                              AI_MAX_ROUTE);
        }
        char *slash = strchr(item, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        int pi = ai_config_provider(cfg, item);
        if (pi < 0) {
            return dk_err_set(err, DK_EINVAL,
                              "route %s names provider \"%s\", which is not "
                              "configured",
                              task_name, item);
        }
        if (task == AI_TASK_EMBEDDING &&
            (cfg->providers[pi].builtin || cfg->providers[pi].wire != AI_WIRE_OPENAI)) {
            return dk_err_set(err, DK_EINVAL, "route embedding: %s has no embeddings", item);
        }
        steps[n].provider = pi;
        snprintf(steps[n].model, sizeof(steps[n].model), "%s", slash != NULL ? slash + 1 : "");
        n++;
    }
    if (n == 0) {
        return dk_err_set(err, DK_EINVAL, "route %s is empty", task_name);
    }
    memcpy(cfg->routes[task], steps, n * sizeof(steps[0]));
    cfg->nroute[task] = n;
    return 0;
}

int ai_config_parse_routes(struct ai_config *cfg, const char *spec, struct dk_err *err)
{
    const char *rest = spec;
    while (rest != NULL) {
        char entry[1280];
        rest = next_part(rest, ';', entry, sizeof(entry));
        if (entry[0] == '\0') {
            continue;
        }
        int rc = parse_route(cfg, entry, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int ai_config_parse_thresholds(struct ai_config *cfg, const char *spec, struct dk_err *err)
{
    const char *rest = spec;
    while (rest != NULL) {
        char entry[96], name[32], value[48];
        rest = next_part(rest, ',', entry, sizeof(entry));
        if (entry[0] == '\0') {
            continue;
        }
        const char *eq = strchr(entry, '=');
        if (eq == NULL) {
            return dk_err_set(err, DK_EINVAL, "\"%s\" is not task=number", entry);
        }
        next_part(entry, '=', name, sizeof(name));
        next_part(eq + 1, ',', value, sizeof(value));
        enum ai_task task;
        if (ai_task_parse(name, &task) != 0) {
            return dk_err_set(err, DK_EINVAL, "unknown task \"%s\"", name);
        }
        char *end = NULL;
        double v = strtod(value, &end);
        if (end == value || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
            return dk_err_set(err, DK_EINVAL, "threshold of %s must be a number in [0,1]", name);
        }
        cfg->local_threshold[task] = v;
    }
    return 0;
}

int ai_privacy_parse(const char *s, enum ai_privacy *out)
{
    if (strcmp(s, "off") == 0) {
        *out = AI_PRIVACY_OFF;
    } else if (strcmp(s, "local") == 0) {
        *out = AI_PRIVACY_LOCAL;
    } else if (strcmp(s, "redact") == 0) {
        *out = AI_PRIVACY_REDACT;
    } else {
        return DK_EINVAL;
    }
    return 0;
}
