/*
 * api/ai_admin: what operators see and set of the AI module.
 *   GET /api/v1/ai/calls      recent AI calls, newest first: ?limit ?cursor ?task ?provider
 *                             ?conversation_id ?account_id
 *   GET /api/v1/ai/settings   ?account_id (default '*'): the settings in force for the account
 *                             (its own values, else the defaults of '*'), and which came from '*'
 *   PUT /api/v1/ai/settings   {account_id?, system_prompt?, tone?, business_name?,
 *                             daily_token_budget?}: the fields given replace the stored ones
 *                             (null or "" clears one)
 */
#include "api/api.h"

#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

#define SET_PROMPT_MAX   8192
#define SET_TONE_MAX     64
#define SET_BUSINESS_MAX 200
#define SET_BUDGET_MAX   1000000000000LL /* tokens a day */

/* A short lower-case name filter (task, provider): 1-32 of a-z, 0-9, _ and -. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
            return false;
        }
    }
    return true;
}

void api_ai_calls_list(struct http_req *req)
{
    int limit;
    const char *cursor;
    if (!api_page_args(req, 50, 200, &limit, &cursor)) {
        return;
    }
    struct store_ai_call_filter f = {
        .task = http_req_query(req, "task"),
        .provider = http_req_query(req, "provider"),
        .conversation_id = http_req_query(req, "conversation_id"),
        .account_id = http_req_query(req, "account_id"),
    };
    const char *bad = NULL;
    if (f.task != NULL && !valid_name(f.task)) {
        bad = "task must be 1-32 characters of a-z, 0-9, _ and -";
    } else if (f.provider != NULL && !valid_name(f.provider)) {
        bad = "provider must be 1-32 characters of a-z, 0-9, _ and -";
    } else if (f.conversation_id != NULL && !store_is_uuid(f.conversation_id)) {
        bad = "conversation_id must be a conversation id (UUID)";
    } else if (f.account_id != NULL && !api_account_id_valid(f.account_id)) {
        bad = "account_id must be 1-64 letters, digits and _-.:";
    }
    if (bad != NULL) {
        http_reply_error(req, 422, "invalid_field", "%s", bad);
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *items = NULL;
    char *next = NULL;
    int rc = store_ai_call_list(c, &f, cursor, limit, &items, &next, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

static json_t *text_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* The GET shape of an account's settings (new). */
static json_t *settings_json(const char *account, const struct store_ai_settings *s)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"system_prompt", STORE_AIS_SYSTEM_PROMPT},
                 {"tone", STORE_AIS_TONE},
                 {"business_name", STORE_AIS_BUSINESS_NAME},
                 {"daily_token_budget", STORE_AIS_BUDGET}};
    json_t *inherited = json_array();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((s->inherited & names[i].bit) != 0) {
            json_array_append_new(inherited, json_string(names[i].name));
        }
    }
    char ts[DK_TIME_LEN];
    json_t *o = json_object();
    json_object_set_new(o, "account_id", json_string(account));
    json_object_set_new(o, "system_prompt", text_or_null(s->system_prompt));
    json_object_set_new(o, "tone", text_or_null(s->tone));
    json_object_set_new(o, "business_name", text_or_null(s->business_name));
    json_object_set_new(o, "daily_token_budget",
                        s->daily_token_budget >= 0 ? json_integer(s->daily_token_budget)
                                                   : json_null());
    json_object_set_new(o, "inherited", inherited);
    json_object_set_new(o, "updated_at",
                        s->found ? json_string(dk_time_format(s->updated_ms, ts)) : json_null());
    return o;
}

/* Reads the settings of account on c and replies with them. Releases c. */
static void reply_settings(struct http_req *req, struct store_conn *c, const char *account)
{
    struct dk_err err = {0};
    struct store_ai_settings s;
    int rc = store_ai_settings_get(c, account, &s, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    json_t *o = settings_json(account, &s);
    store_ai_settings_clear(&s);
    http_reply_json(req, 200, o);
}

static bool valid_account(const char *s)
{
    return s != NULL && (strcmp(s, STORE_AI_DEFAULT_ACCOUNT) == 0 || api_account_id_valid(s));
}

void api_ai_settings_get(struct http_req *req)
{
    const char *account = http_req_query(req, "account_id");
    if (account == NULL) {
        account = STORE_AI_DEFAULT_ACCOUNT;
    }
    if (!valid_account(account)) {
        http_reply_error(req, 422, "invalid_field",
                         "account_id must be \"*\" or 1-64 letters, digits and _-.:");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c != NULL) {
        reply_settings(req, c, account);
    }
}

/* An optional text field: null or "" clears; else at most max bytes. */
static bool read_text(json_t *v, size_t max, const char **out)
{
    *out = NULL;
    if (json_is_null(v)) {
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) > max) {
        return false;
    }
    *out = json_string_length(v) > 0 ? json_string_value(v) : NULL;
    return true;
}

/* One field of a PUT body into s and the mask. Returns false with *why (NULL for an unknown
 * field) when it cannot be taken. */
static bool read_setting(const char *key, json_t *v, struct store_ai_settings_in *s,
                         unsigned *fields, const char **why)
{
    *why = NULL;
    if (strcmp(key, "system_prompt") == 0) {
        *fields |= STORE_AIS_SYSTEM_PROMPT;
        *why = "\"system_prompt\" must be null or a text of at most 8192 bytes";
        return read_text(v, SET_PROMPT_MAX, &s->system_prompt);
    }
    if (strcmp(key, "tone") == 0) {
        *fields |= STORE_AIS_TONE;
        *why = "\"tone\" must be null or a text of at most 64 bytes";
        return read_text(v, SET_TONE_MAX, &s->tone);
    }
    if (strcmp(key, "business_name") == 0) {
        *fields |= STORE_AIS_BUSINESS_NAME;
        *why = "\"business_name\" must be null or a text of at most 200 bytes";
        return read_text(v, SET_BUSINESS_MAX, &s->business_name);
    }
    if (strcmp(key, "daily_token_budget") == 0) {
        *fields |= STORE_AIS_BUDGET;
        *why = "\"daily_token_budget\" must be null or a whole number of tokens from 0 "
               "(unlimited) to 10^12";
        s->daily_token_budget = json_is_integer(v) ? json_integer_value(v) : -1;
        return json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0 &&
                                   json_integer_value(v) <= SET_BUDGET_MAX);
    }
    return false;
}

void api_ai_settings_put(struct http_req *req)
{
    json_t *body = http_req_json(req);
    if (!json_is_object(body)) {
        http_reply_error(req, 422, "invalid_field", "body must be a JSON object");
        return;
    }
    json_t *acct = json_object_get(body, "account_id");
    const char *account = acct != NULL ? json_string_value(acct) : STORE_AI_DEFAULT_ACCOUNT;
    if (!valid_account(account)) {
        http_reply_error(req, 422, "invalid_field",
                         "\"account_id\" must be \"*\" or 1-64 letters, digits and _-.:");
        return;
    }
    struct store_ai_settings_in s = {.daily_token_budget = -1}; /* texts borrowed from body */
    unsigned fields = 0;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        const char *why;
        if (strcmp(key, "account_id") != 0 && !read_setting(key, v, &s, &fields, &why)) {
            if (why == NULL) {
                http_reply_error(req, 422, "invalid_field", "unknown field \"%s\"", key);
            } else {
                http_reply_error(req, 422, "invalid_field", "%s", why);
            }
            return;
        }
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    if (store_ai_settings_put(c, account, &s, fields, dk_now_ms(), &err) != 0) {
        store_release(c);
        api_fail(req, &err);
        return;
    }
    reply_settings(req, c, account);
}
