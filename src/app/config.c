/*
 * app/config: the settings table and its loader (see config.h).
 * To add a setting: a field in struct app_config and one row in SETTINGS.
 */
#include "app/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "core/crypto.h"
#include "core/log.h"

enum setting_type { SET_STRING, SET_INT, SET_URL, SET_LISTEN, SET_LOG, SET_DBURL, SET_KEY };

struct setting {
    const char *name;
    const char *alias; /* also read under this name (e.g. CLAUDE_API_KEY) */
    enum setting_type type;
    size_t offset;
    const char *def; /* default for strings; NULL = unset */
    int64_t idef, min, max;
    bool secret;
    const char *help;
};

#define STR(field) offsetof(struct app_config, field)

static const struct setting SETTINGS[] = {
    {"DIREKT_LISTEN", NULL, SET_LISTEN, STR(listen), "127.0.0.1:8080", 0, 0, 0, false,
     "address and port of the HTTP server"},
    {"DATABASE_URL", NULL, SET_DBURL, STR(database_url), "sqlite:direkt.db", 0, 0, 0, true,
     "sqlite:PATH or postgres://…"},
    {"REDIS_URL", NULL, SET_URL, STR(redis_url), NULL, 0, 0, 0, true,
     "redis://… (not used by this version)"},
    {"IG_APP_SECRET", NULL, SET_STRING, STR(ig_app_secret), NULL, 0, 0, 0, true,
     "app secret that signs webhooks (generated and kept in the database when unset)"},
    {"IG_VERIFY_TOKEN", NULL, SET_STRING, STR(ig_verify_token), NULL, 0, 0, 0, true,
     "token for the webhook verification handshake"},
    {"IG_ACCESS_TOKEN", NULL, SET_STRING, STR(ig_access_token), NULL, 0, 0, 0, true,
     "Instagram access token for accounts without one of their own (no token: dry-run sends)"},
    {"IG_GRAPH_URL", NULL, SET_URL, STR(ig_graph_url), "https://graph.instagram.com", 0, 0, 0,
     false, "Graph API base URL (https://graph.facebook.com for the Facebook-login flavour)"},
    {"IG_GRAPH_VERSION", NULL, SET_STRING, STR(ig_graph_version), "v25.0", 0, 0, 0, false,
     "Graph API version in request paths"},
    {"DIREKT_IG_SEND_RATE", NULL, SET_INT, STR(ig_send_rate), NULL, 20, 1, 100000, false,
     "sends per second per Instagram account (Meta allows 100)"},
    {"DIREKT_IG_HUMAN_AGENT", NULL, SET_INT, STR(ig_human_agent), NULL, 0, 0, 1, false,
     "1 when the app has Meta's Human Agent feature: operators may answer 24 h - 7 d with "
     "the HUMAN_AGENT tag"},
    {"DIREKT_HUMAN_PAUSE_MS", NULL, SET_INT, STR(human_pause_ms), NULL, 1800000, 0,
     30LL * 24 * 3600 * 1000, false,
     "the bot stays silent this long in a conversation after a person answered in it"},
    {"DIREKT_IG_CONFIRM_MS", NULL, SET_INT, STR(ig_confirm_ms), NULL, 60000, 100,
     24LL * 3600 * 1000, false,
     "a send interrupted mid-call waits this long for Meta's echo, then is marked failed (never "
     "sent twice)"},
    {"DIREKT_PROFILE_TTL_MS", NULL, SET_INT, STR(profile_ttl_ms), NULL, 86400000, 0,
     365LL * 24 * 3600 * 1000, false, "how long a fetched Instagram profile is served from cache"},
    {"OPENAI_API_KEY", NULL, SET_STRING, STR(openai_api_key), NULL, 0, 0, 0, true, "OpenAI key"},
    {"OPENAI_BASE_URL", NULL, SET_URL, STR(openai_base_url), NULL, 0, 0, 0, false,
     "OpenAI-compatible base URL incl. /v1 (https://api.openai.com/v1 when only the key is set)"},
    {"OPENAI_MODEL", NULL, SET_STRING, STR(openai_model), "gpt-4o-mini", 0, 0, 0, false,
     "OpenAI model"},
    {"ANTHROPIC_API_KEY", "CLAUDE_API_KEY", SET_STRING, STR(anthropic_api_key), NULL, 0, 0, 0, true,
     "Anthropic key"},
    {"ANTHROPIC_BASE_URL", NULL, SET_URL, STR(anthropic_base_url), NULL, 0, 0, 0, false,
     "Anthropic base URL without /v1 (https://api.anthropic.com when only the key is set)"},
    {"ANTHROPIC_MODEL", NULL, SET_STRING, STR(anthropic_model), "claude-sonnet-4-5", 0, 0, 0, false,
     "Anthropic model"},
    {"LOCAL_LLM_URL", NULL, SET_URL, STR(local_llm_url), NULL, 0, 0, 0, false,
     "OpenAI-compatible local server (Ollama, llama.cpp, vLLM)"},
    {"LOCAL_LLM_MODEL", NULL, SET_STRING, STR(local_llm_model), "llama3.2", 0, 0, 0, false,
     "local model name"},
    {"LOCAL_LLM_API_KEY", NULL, SET_STRING, STR(local_llm_api_key), NULL, 0, 0, 0, true,
     "key of the local server, when it wants one"},
    {"DIREKT_AI_ROUTES", NULL, SET_STRING, STR(ai_routes), NULL, 0, 0, 0, false,
     "providers per task, e.g. reply=openai,anthropic,local;intent=local (default: every "
     "configured LLM, then local)"},
    {"DIREKT_AI_PRIVACY", NULL, SET_STRING, STR(ai_privacy), "off", 0, 0, 0, false,
     "text with personal data: off | local (only local providers) | redact (placeholders)"},
    {"DIREKT_AI_LOCAL_THRESHOLDS", NULL, SET_STRING, STR(ai_thresholds), NULL, 0, 0, 0, false,
     "local-first: ask an LLM below this NLU confidence, e.g. intent=0.5,sentiment=0.5"},
    {"DIREKT_AI_TIMEOUT_MS", NULL, SET_INT, STR(ai_timeout_ms), NULL, 30000, 100, 600000, false,
     "one LLM attempt"},
    {"DIREKT_AI_DEADLINE_MS", NULL, SET_INT, STR(ai_deadline_ms), NULL, 60000, 100, 3600000, false,
     "one AI request with all its retries and fallbacks"},
    {"DIREKT_AI_RETRIES", NULL, SET_INT, STR(ai_retries), NULL, 2, 0, 10, false,
     "retries of a transient failure per provider"},
    {"DIREKT_AI_BREAKER_FAILURES", NULL, SET_INT, STR(ai_breaker_failures), NULL, 5, 1, 1000, false,
     "consecutive failures that open a provider's circuit"},
    {"DIREKT_AI_BREAKER_COOLDOWN_MS", NULL, SET_INT, STR(ai_breaker_cooldown_ms), NULL, 30000, 100,
     3600000, false, "how long an open circuit waits before a probe"},
    {"DIREKT_AI_DAILY_TOKENS", NULL, SET_INT, STR(ai_daily_tokens), NULL, 0, 0, (int64_t)1 << 50,
     false, "tokens per account per UTC day for LLM providers (0 = no limit)"},
    {"DIREKT_AI_MAX_INFLIGHT", NULL, SET_INT, STR(ai_max_inflight), NULL, 4096, 1, 100000, false,
     "LLM replies waiting on providers in one process"},
    {"ELASTICSEARCH_URL", NULL, SET_URL, STR(elasticsearch_url), NULL, 0, 0, 0, false,
     "Elasticsearch (optional)"},
    {"DIREKT_SECRET_KEY", NULL, SET_KEY, STR(secret_key), NULL, 0, 0, 0, true,
     "key that encrypts access tokens at rest: 64 hex digits or base64 of 32 bytes"},
    {"DIREKT_API_TOKEN", NULL, SET_STRING, STR(api_token), NULL, 0, 0, 0, true,
     "an API token accepted in addition to stored ones (for automation)"},
    {"DIREKT_TEMPLATES", NULL, SET_STRING, STR(templates_path), NULL, 0, 0, 0, false,
     "JSON file with reply templates per intent (built-in default when unset)"},
    {"DIREKT_SENTIMENT_MODEL", NULL, SET_STRING, STR(sentiment_model_path), NULL, 0, 0, 0, false,
     "sentiment model file from direkt nlu train --task sentiment (lexicons when unset)"},
    {"DIREKT_LOG", NULL, SET_LOG, STR(log), "info", 0, 0, 0, false,
     "log level (debug|info|warn|error) and optional ,json"},
    {"DIREKT_WORKERS", NULL, SET_INT, STR(workers), NULL, 2, 0, 256, false,
     "job worker threads (0 = none in this process)"},
    {"DIREKT_HTTP_THREADS", NULL, SET_INT, STR(http_threads), NULL, 2, 1, 256, false,
     "HTTP server threads"},
    {"DIREKT_REPLY_DEBOUNCE_MS", NULL, SET_INT, STR(reply_debounce_ms), NULL, 1500, 0, 600000,
     false, "wait this long after a customer's last message before replying"},
    {"DIREKT_JOB_LEASE_MS", NULL, SET_INT, STR(job_lease_ms), NULL, 30000, 1000, 3600000, false,
     "a claimed job is reclaimed this long after its worker stops renewing it"},
    {"DIREKT_DB_POOL", NULL, SET_INT, STR(db_pool), NULL, 16, 2, 512, false,
     "database connections per process"},
    {"DIREKT_INGEST_BATCH", NULL, SET_INT, STR(ingest_batch), NULL, 256, 1, 10000, false,
     "most webhook deliveries committed in one transaction"},
    {"DIREKT_INGEST_WRITERS", NULL, SET_INT, STR(ingest_writers), NULL, 0, 0, 16, false,
     "webhook writer threads (0 = 1 on SQLite, 2 on PostgreSQL)"},
    {"DIREKT_SHUTDOWN_TIMEOUT_MS", NULL, SET_INT, STR(shutdown_timeout_ms), NULL, 10000, 0, 600000,
     false, "how long shutdown waits for requests and jobs in flight"},
};

static int bad(struct dk_err *err, const struct setting *s, const char *why, const char *v)
{
    if (s->secret) {
        return dk_err_set(err, DK_EINVAL, "invalid configuration: %s %s", s->name, why);
    }
    return dk_err_set(err, DK_EINVAL, "invalid configuration: %s %s (got \"%.80s\")", s->name, why,
                      v);
}

static int check_string(const struct setting *s, const char *v, struct dk_err *err)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            return bad(err, s, "must not contain control characters", v);
        }
    }
    switch (s->type) {
    case SET_KEY: {
        unsigned char key[32];
        struct dk_err kerr = {0};
        int rc = dk_secret_key_parse(v, key, &kerr);
        sodium_memzero(key, sizeof(key));
        if (rc != 0) {
            return bad(err, s, "must be 64 hex digits or base64 of 32 bytes", v);
        }
        break;
    }
    case SET_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0 &&
            strncmp(v, "redis://", 8) != 0 && strncmp(v, "rediss://", 9) != 0) {
            return bad(err, s, "must be a URL (http://, https:// or redis://)", v);
        }
        break;
    case SET_DBURL:
        if (strncmp(v, "sqlite:", 7) != 0 && strncmp(v, "postgres://", 11) != 0 &&
            strncmp(v, "postgresql://", 13) != 0) {
            return bad(err, s, "must start with sqlite:, postgres:// or postgresql://", v);
        }
        if (strcmp(v, "sqlite:") == 0) {
            return bad(err, s, "needs a path after sqlite:", v);
        }
        break;
    case SET_LISTEN: {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || colon == v || colon[1] == '\0') {
            return bad(err, s, "must be HOST:PORT", v);
        }
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 0 || port > 65535) {
            return bad(err, s, "must be HOST:PORT with a port from 0 to 65535", v);
        }
        break;
    }
    case SET_LOG:
        if (dk_log_configure(v) != 0) {
            return bad(err, s, "must be debug, info, warn, error or off, optionally with ,json", v);
        }
        break;
    default:
        break;
    }
    return 0;
}

int app_config_load(struct app_config *cfg, struct dk_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]); i++) {
        const struct setting *s = &SETTINGS[i];
        const char *v = getenv(s->name);
        if ((v == NULL || *v == '\0') && s->alias != NULL) {
            v = getenv(s->alias);
        }
        if (v != NULL && *v == '\0') {
            v = NULL;
        }
        char *field = (char *)cfg + s->offset;
        if (s->type == SET_INT) {
            int64_t n = s->idef;
            if (v != NULL) {
                char *end;
                long long x = strtoll(v, &end, 10);
                if (*end != '\0' || end == v || x < s->min || x > s->max) {
                    char why[96];
                    snprintf(why, sizeof(why), "must be an integer from %lld to %lld",
                             (long long)s->min, (long long)s->max);
                    return bad(err, s, why, v);
                }
                n = x;
            }
            memcpy(field, &n, sizeof(n));
            continue;
        }
        const char *val = v != NULL ? v : s->def;
        if (val != NULL) {
            int rc = check_string(s, val, err);
            if (rc != 0) {
                return rc;
            }
        }
        memcpy(field, &val, sizeof(val));
    }
    return 0;
}

void app_config_print(const struct app_config *cfg)
{
    for (size_t i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]); i++) {
        const struct setting *s = &SETTINGS[i];
        const char *field = (const char *)cfg + s->offset;
        if (s->type == SET_INT) {
            int64_t n;
            memcpy(&n, field, sizeof(n));
            printf("%-30s %-24lld %s\n", s->name, (long long)n, s->help);
        } else {
            const char *v;
            memcpy(&v, field, sizeof(v));
            printf("%-30s %-24s %s\n", s->name,
                   v == NULL   ? "(unset)"
                   : s->secret ? "(set)"
                               : v,
                   s->help);
        }
    }
}
