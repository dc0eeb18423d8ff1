/*
 * app/config: the settings table (DESIGN §11), read once at start from the environment.
 *
 * Every setting is one row of a static table: its variable, type, default, bounds and
 * whether it is a secret (never logged). app_config_load fills a struct app_config or fails
 * with one line naming the variable. After start the config is read-only and shared.
 */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct app_config {
    const char *listen;
    const char *database_url;
    const char *redis_url;
    const char *ig_app_secret;
    const char *ig_verify_token;
    const char *ig_access_token;
    const char *ig_graph_url;
    const char *ig_graph_version;
    const char *openai_api_key;
    const char *openai_base_url;
    const char *openai_model;
    const char *anthropic_api_key;
    const char *anthropic_base_url;
    const char *anthropic_model;
    const char *local_llm_url;
    const char *local_llm_model;
    const char *local_llm_api_key;
    const char *ai_routes;
    const char *ai_privacy;
    const char *ai_thresholds;
    const char *elasticsearch_url;
    const char *secret_key;
    const char *api_token;
    const char *templates_path;
    const char *sentiment_model_path;
    const char *log;
    int64_t workers;
    int64_t http_threads;
    int64_t reply_debounce_ms;
    int64_t job_lease_ms;
    int64_t db_pool;
    int64_t ingest_batch;
    int64_t ingest_writers;
    int64_t shutdown_timeout_ms;
    int64_t ai_timeout_ms;
    int64_t ai_deadline_ms;
    int64_t ai_retries;
    int64_t ai_breaker_failures;
    int64_t ai_breaker_cooldown_ms;
    int64_t ai_daily_tokens;
    int64_t ai_max_inflight;
    int64_t ig_send_rate;
    int64_t ig_human_agent;
    int64_t human_pause_ms;
    int64_t profile_ttl_ms;
    int64_t ig_confirm_ms;
};

/* Reads every setting from the environment (getenv). Returns 0, or DK_EINVAL with err->msg
 * the one line to print: "invalid configuration: NAME …". Strings point into the environment
 * or static defaults. Main thread, once. */
int app_config_load(struct app_config *cfg, struct dk_err *err);

/* Prints the table (name, value or "(set)" for secrets, description) to stdout. */
void app_config_print(const struct app_config *cfg);

#endif
