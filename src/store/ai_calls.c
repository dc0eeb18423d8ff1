/*
 * store/ai_calls: the log of AI calls (one row per attempt: provider, model, outcome, latency,
 * tokens) with what is read back from it (today's tokens of an account for its budget, recent
 * calls, a summary per provider and outcome), and the AI settings of each account.
 *
 * Calls are written in batches by the AI workers: on PostgreSQL one statement per batch with
 * the rows as a JSON array, on SQLite a loop of single-row inserts (see bulk.c for why).
 * Settings fall back field by field to the default row '*': an account overrides only what it
 * sets.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/store_int.h"

#define CALLS_MAX_BYTES (64u * 1024u * 1024u)
#define DAY_MS          86400000LL

#define CALL_COLS                                                                                  \
    "id, created_at, task, provider, model, account_id, conversation_id, path, outcome, "          \
    "http_status, latency_ms, first_token_ms, input_tokens, output_tokens, redacted, error"
#define CALL_SPEC                                                                                  \
    "id:i created_at:t task:s provider:s model:s account_id:s conversation_id:s path:s "           \
    "outcome:s http_status:i latency_ms:i first_token_ms:i input_tokens:i output_tokens:i "        \
    "redacted:b error:s"

/* Columns are INTEGER: clamp what C counts in int64_t. */
static long long clamp32(int64_t v)
{
    return v < 0 ? 0 : (v > 2147483647 ? 2147483647 : (long long)v);
}

static int check_call(const struct store_ai_call *a, size_t i, struct dk_err *err)
{
    if (a->task == NULL || a->provider == NULL || a->path == NULL || a->outcome == NULL) {
        return dk_err_set(err, DK_EINVAL,
                          "ai call %zu: task, provider, path and outcome are "
                          "required",
                          i);
    }
    if (a->conversation_id != NULL && !store_is_uuid(a->conversation_id)) {
        return dk_err_set(err, DK_EINVAL, "ai call %zu: conversation id is not a UUID", i);
    }
    return 0;
}

static int insert_one(struct store_conn *c, const struct store_ai_call *a, struct dk_err *err)
{
    char ts[DK_TIME_LEN], st[16], lat[24], ftm[24], in[24], out[24];
    snprintf(st, sizeof(st), "%d", a->http_status);
    snprintf(lat, sizeof(lat), "%lld", clamp32(a->latency_ms));
    snprintf(ftm, sizeof(ftm), "%lld", clamp32(a->first_token_ms));
    snprintf(in, sizeof(in), "%lld", clamp32(a->input_tokens));
    snprintf(out, sizeof(out), "%lld", clamp32(a->output_tokens));
    const char *p[] = {store_ts(a->created_ms, ts),
                       a->task,
                       a->provider,
                       a->model != NULL ? a->model : "",
                       a->account_id,
                       a->conversation_id,
                       a->path,
                       a->outcome,
                       st,
                       lat,
                       a->first_token_ms >= 0 ? ftm : NULL,
                       in,
                       out,
                       a->redacted ? "1" : "0",
                       a->error};
    return store_query(c,
                       "INSERT INTO ai_calls (created_at, task, provider, model, account_id, "
                       "conversation_id, path, outcome, http_status, latency_ms, first_token_ms, "
                       "input_tokens, output_tokens, redacted, error) VALUES ($1, $2, $3, $4, $5, "
                       "$6, $7, $8, $9, $10, $11, $12, $13, $14 = 1, $15)",
                       15, p, NULL, err);
}

static void put_field(struct dk_buf *b, const char *key, const char *v)
{
    dk_buf_printf(b, ",\"%s\":", key);
    dk_json_put_string(b, v);
}

/* One call as a JSON object of the batch statement. */
static void put_call(struct dk_buf *b, const struct store_ai_call *a)
{
    char ts[DK_TIME_LEN];
    dk_buf_puts(b, "{\"at\":");
    dk_json_put_string(b, store_ts(a->created_ms, ts));
    put_field(b, "task", a->task);
    put_field(b, "provider", a->provider);
    put_field(b, "model", a->model != NULL ? a->model : "");
    put_field(b, "account", a->account_id);
    put_field(b, "conv", a->conversation_id);
    put_field(b, "path", a->path);
    put_field(b, "outcome", a->outcome);
    put_field(b, "error", a->error);
    dk_buf_printf(b, ",\"status\":%d,\"lat\":%lld,\"in\":%lld,\"out\":%lld,\"red\":%s",
                  a->http_status, clamp32(a->latency_ms), clamp32(a->input_tokens),
                  clamp32(a->output_tokens), a->redacted ? "true" : "false");
    if (a->first_token_ms >= 0) {
        dk_buf_printf(b, ",\"ftm\":%lld", clamp32(a->first_token_ms));
    }
    dk_buf_puts(b, "}");
}

int store_ai_calls_insert(struct store_conn *c, const struct store_ai_call *v, size_t n,
                          struct dk_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_call(&v[i], i, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (n == 0) {
        return 0;
    }
    if (store_conn_dialect(c) != STORE_POSTGRES) {
        for (size_t i = 0; i < n; i++) {
            int rc = insert_one(c, &v[i], err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, CALLS_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        put_call(&b, &v[i]);
    }
    if (dk_buf_puts(&b, "]") != 0) {
        dk_buf_free(&b);
        return dk_err_set(err, DK_ETOOBIG, "ai call batch over %u bytes", CALLS_MAX_BYTES);
    }
    const char *p[] = {b.data};
    int rc = store_query(
        c,
        "INSERT INTO ai_calls (created_at, task, provider, model, account_id, conversation_id, "
        "path, outcome, http_status, latency_ms, first_token_ms, input_tokens, output_tokens, "
        "redacted, error) SELECT (x->>'at')::timestamp, x->>'task', x->>'provider', "
        "x->>'model', x->>'account', (x->>'conv')::uuid, x->>'path', x->>'outcome', "
        "(x->>'status')::int, (x->>'lat')::int, (x->>'ftm')::int, (x->>'in')::int, "
        "(x->>'out')::int, (x->>'red')::boolean, x->>'error' "
        "FROM json_array_elements($1::json) WITH ORDINALITY AS t(x, n) ORDER BY n",
        1, p, NULL, err);
    dk_buf_free(&b);
    return rc;
}

int store_ai_tokens_today(struct store_conn *c, const char *account_id, int64_t now_ms,
                          int64_t *tokens, struct dk_err *err)
{
    *tokens = 0;
    if (account_id == NULL) {
        return 0;
    }
    int64_t day = now_ms - ((now_ms % DAY_MS) + DAY_MS) % DAY_MS;
    char from[DK_TIME_LEN], to[DK_TIME_LEN];
    const char *p[] = {account_id, store_ts(day, from), store_ts(day + DAY_MS, to)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM ai_calls "
                         "WHERE account_id = $1 AND created_at >= $2 AND created_at < $3 AND "
                         "path = 'llm' AND outcome NOT IN ('budget', 'circuit', 'privacy')",
                         3, p, &r, err);
    if (rc == 0) {
        *tokens = store_res_int(r, 0, 0, 0);
    }
    store_res_free(r);
    return rc;
}

int store_ai_call_list(struct store_conn *c, const struct store_ai_call_filter *f,
                       const char *cursor, int limit, json_t **out, char **next_cursor,
                       struct dk_err *err)
{
    char before[24] = "9223372036854775807", lim[16];
    if (cursor != NULL) {
        int64_t v = 0;
        if (!store_canonical_int(cursor, &v) || v <= 0) {
            return dk_err_set(err, DK_EUNPROCESS, "invalid cursor");
        }
        snprintf(before, sizeof(before), "%lld", (long long)v);
    }
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[] = {f->task, f->provider, f->conversation_id, f->account_id, before, lim};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT " CALL_COLS " FROM ai_calls WHERE (task = $1 OR $1 IS NULL) AND "
                         "(provider = $2 OR $2 IS NULL) AND (conversation_id = $3 OR $3 IS NULL) "
                         "AND (account_id = $4 OR $4 IS NULL) AND id < $5 "
                         "ORDER BY id DESC LIMIT $6",
                         6, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    size_t rows = store_res_rows(r);
    size_t keep = rows > (size_t)limit ? (size_t)limit : rows;
    *out = json_array();
    for (size_t i = 0; i < keep; i++) {
        json_array_append_new(*out, store_row_json(r, i, CALL_SPEC));
    }
    *next_cursor = rows > keep ? dk_strdup(store_res_get(r, keep - 1, 0)) : NULL;
    store_res_free(r);
    return 0;
}

int store_ai_call_summary(struct store_conn *c, const char *account_id, int64_t since_ms,
                          json_t **out, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {account_id, store_ts(since_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT provider, outcome, COUNT(*), COALESCE(SUM(input_tokens), 0), "
                         "COALESCE(SUM(output_tokens), 0), AVG(latency_ms), MAX(latency_ms) "
                         "FROM ai_calls WHERE (account_id = $1 OR $1 IS NULL) AND created_at >= "
                         "$2 GROUP BY provider, outcome ORDER BY provider, outcome",
                         2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *out = json_array();
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i,
                                                   "provider:s outcome:s calls:i input_tokens:i "
                                                   "output_tokens:i avg_latency_ms:f "
                                                   "max_latency_ms:i"));
    }
    store_res_free(r);
    return 0;
}

/* ---- settings ---- */

void store_ai_settings_clear(struct store_ai_settings *s)
{
    dk_free(s->system_prompt);
    dk_free(s->tone);
    dk_free(s->business_name);
    memset(s, 0, sizeof(*s));
    s->daily_token_budget = -1;
}

/* Takes column col of row from r into *field unless it is set already (the account's own
 * value wins); marks it inherited when it came from the default row. */
static void take_text(const struct store_res *r, size_t row, size_t col, bool dflt, unsigned bit,
                      char **field, unsigned *inherited)
{
    const char *v = store_res_get(r, row, col);
    if (*field == NULL && v != NULL) {
        *field = dk_strdup(v);
        *inherited |= dflt ? bit : 0;
    }
}

int store_ai_settings_get(struct store_conn *c, const char *account_id,
                          struct store_ai_settings *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->daily_token_budget = -1;
    if (account_id == NULL) {
        account_id = STORE_AI_DEFAULT_ACCOUNT;
    }
    const char *p[] = {account_id};
    struct store_res *r = NULL;
    /* the account's row first, then the default */
    int rc = store_query(c,
                         "SELECT account_id, system_prompt, tone, business_name, "
                         "daily_token_budget, updated_at FROM ai_settings WHERE account_id = $1 "
                         "OR account_id = '*' ORDER BY CASE WHEN account_id = '*' THEN 1 ELSE 0 "
                         "END",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < store_res_rows(r); i++) {
        const char *who = store_res_get(r, i, 0);
        bool dflt = strcmp(who, STORE_AI_DEFAULT_ACCOUNT) == 0 &&
                    strcmp(account_id, STORE_AI_DEFAULT_ACCOUNT) != 0;
        take_text(r, i, 1, dflt, STORE_AIS_SYSTEM_PROMPT, &out->system_prompt, &out->inherited);
        take_text(r, i, 2, dflt, STORE_AIS_TONE, &out->tone, &out->inherited);
        take_text(r, i, 3, dflt, STORE_AIS_BUSINESS_NAME, &out->business_name, &out->inherited);
        int64_t budget = store_res_int(r, i, 4, -1);
        if (out->daily_token_budget < 0 && budget >= 0) {
            out->daily_token_budget = budget;
            out->inherited |= dflt ? STORE_AIS_BUDGET : 0;
        }
        if (!out->found) {
            int64_t ms = 0;
            const char *ts = store_res_get(r, i, 5);
            if (ts != NULL && dk_time_parse(ts, &ms) == 0) {
                out->updated_ms = ms;
            }
        }
        out->found = true;
    }
    store_res_free(r);
    return 0;
}

int store_ai_settings_put(struct store_conn *c, const char *account_id,
                          const struct store_ai_settings_in *in, unsigned fields, int64_t now_ms,
                          struct dk_err *err)
{
    char ts[DK_TIME_LEN], budget[24];
    bool has_budget = (fields & STORE_AIS_BUDGET) != 0 && in->daily_token_budget >= 0;
    snprintf(budget, sizeof(budget), "%lld", (long long)in->daily_token_budget);
    const char *p[] = {
        account_id,
        (fields & STORE_AIS_SYSTEM_PROMPT) != 0 ? "1" : "0",
        (fields & STORE_AIS_SYSTEM_PROMPT) != 0 ? in->system_prompt : NULL,
        (fields & STORE_AIS_TONE) != 0 ? "1" : "0",
        (fields & STORE_AIS_TONE) != 0 ? in->tone : NULL,
        (fields & STORE_AIS_BUSINESS_NAME) != 0 ? "1" : "0",
        (fields & STORE_AIS_BUSINESS_NAME) != 0 ? in->business_name : NULL,
        (fields & STORE_AIS_BUDGET) != 0 ? "1" : "0",
        has_budget ? budget : NULL,
        store_ts(now_ms, ts),
    };
    return store_query(c,
                       "INSERT INTO ai_settings (account_id, system_prompt, tone, business_name, "
                       "daily_token_budget, updated_at) VALUES ($1, $3, $5, $7, $9, $10) "
                       "ON CONFLICT (account_id) DO UPDATE SET "
                       "system_prompt = CASE WHEN $2 = 1 THEN excluded.system_prompt "
                       "ELSE ai_settings.system_prompt END, "
                       "tone = CASE WHEN $4 = 1 THEN excluded.tone ELSE ai_settings.tone END, "
                       "business_name = CASE WHEN $6 = 1 THEN excluded.business_name "
                       "ELSE ai_settings.business_name END, "
                       "daily_token_budget = CASE WHEN $8 = 1 THEN excluded.daily_token_budget "
                       "ELSE ai_settings.daily_token_budget END, updated_at = excluded.updated_at",
                       10, p, NULL, err);
}
