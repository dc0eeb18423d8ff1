/*
 * store/repo: repositories: the SQL of each domain noun, written once for both dialects
 * ($n placeholders, ON CONFLICT, RETURNING, ->>), above the store interface.
 *
 * Every function takes a connection the caller acquired (and, where it writes several rows
 * that belong together, a transaction the caller opened), returns 0 or a negative DK_* code
 * and fills err. Timestamps are int64_t milliseconds (UTC) in C and RFC 3339 text in SQL.
 * Functions that return rows for the API return new json_t objects with typed fields
 * (ids as strings, timestamps as RFC 3339, JSON columns as JSON); the caller decrefs.
 */
#ifndef STORE_REPO_H
#define STORE_REPO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_ID_LEN 37 /* UUID text + NUL */

/* ---- webhook_events: raw deliveries for audit and replay ---- */
/* Inserts the raw body unless a body with the same SHA-256 is already stored; *inserted tells.
 * id_out receives the new (or existing) event id. */
int store_webhook_event_insert(struct store_conn *c, const char *sha256, const char *object,
                               const char *payload, int items, int unhandled, int64_t received_ms,
                               char id_out[STORE_ID_LEN], bool *inserted, struct dk_err *err);
/* Loads the raw payload of an event: *payload is new (dk_free). DK_ENOTFOUND when unknown. */
int store_webhook_event_payload(struct store_conn *c, const char *id, char **payload,
                                struct dk_err *err);
int store_webhook_event_mark_replayed(struct store_conn *c, const char *id, int64_t now_ms,
                                      struct dk_err *err);

/* ---- users ---- */
/* The id of the user with this Instagram-scoped id, creating the row when missing. */
int store_user_ensure(struct store_conn *c, const char *instagram_id, int64_t now_ms,
                      int64_t *user_id, struct dk_err *err);
/* A user as JSON by Instagram id or by internal id (exactly one of them non-NULL/positive).
 * DK_ENOTFOUND when unknown. */
int store_user_get(struct store_conn *c, const char *instagram_id, int64_t id, json_t **out,
                   struct dk_err *err);
/* Replaces the preferences object. DK_ENOTFOUND when unknown. */
int store_user_set_preferences(struct store_conn *c, int64_t id, const char *prefs_json,
                               int64_t now_ms, struct dk_err *err);
/* A user's cached profile for messaging (profile.c of the pipeline). */
struct store_user_profile {
    int64_t id;
    char *profile;       /* profile_data as JSON text, new (dk_free) */
    int64_t fetched_ms;  /* profile_fetched_at, 0 when never fetched */
    char account_id[65]; /* the account of the user's most recent conversation, "" when none */
};
void store_user_profile_clear(struct store_user_profile *p);
/* The profile of the user with this Instagram id; DK_ENOTFOUND when unknown. */
int store_user_profile_load(struct store_conn *c, const char *instagram_id,
                            struct store_user_profile *out, struct dk_err *err);
/* Updates what is given and keeps the rest: profile_json (replaces profile_data), username,
 * full_name (NULL: kept), fetched_ms (profile_fetched_at; 0: kept). DK_ENOTFOUND when
 * unknown. */
int store_user_update_profile(struct store_conn *c, int64_t id, const char *profile_json,
                              const char *username, const char *full_name, int64_t fetched_ms,
                              int64_t now_ms, struct dk_err *err);

/* ---- conversations ---- */
struct store_conversation {
    char id[STORE_ID_LEN];
    int64_t user_id;
    char account_id[65];
    char status[33];
    char *context;        /* JSON text, new (dk_free) */
    char *assigned_to;    /* new or NULL */
    int64_t paused_until; /* ms, 0 = not paused */
    int64_t last_user_message_ms;
    char customer_id[65]; /* the customer's IGSID */
};
void store_conversation_clear(struct store_conversation *conv);

/* The conversation of this customer with this account, creating it when missing. */
int store_conversation_ensure(struct store_conn *c, int64_t user_id, const char *account_id,
                              int64_t now_ms, char id_out[STORE_ID_LEN], bool *created,
                              struct dk_err *err);
/* The user and conversation ids of a customer with an account in one query (the hot path of
 * webhook ingest). *user_id is 0 and conv_out "" for whatever does not exist yet. */
int store_conversation_find(struct store_conn *c, const char *instagram_id, const char *account_id,
                            int64_t *user_id, char conv_out[STORE_ID_LEN], struct dk_err *err);
int store_conversation_load(struct store_conn *c, const char *id, struct store_conversation *out,
                            struct dk_err *err);
/* As JSON for the API. */
int store_conversation_get(struct store_conn *c, const char *id, json_t **out, struct dk_err *err);
/* A customer's message arrived at at_ms: moves last_user_message_at forward (never back). */
int store_conversation_customer_activity(struct store_conn *c, const char *id, int64_t at_ms,
                                         int64_t now_ms, struct dk_err *err);
int store_conversation_set_referral(struct store_conn *c, const char *id, const char *referral,
                                    int64_t now_ms, struct dk_err *err);
int store_conversation_set_context(struct store_conn *c, const char *id, const char *context_json,
                                   int64_t now_ms, struct dk_err *err);
/* Lists conversations by updated_at descending. status and since_ms (0 = any) filter; the
 * cursor (from a previous page, or NULL) continues; *next_cursor is new or NULL at the end. */
int store_conversation_list(struct store_conn *c, const char *status, int64_t since_ms,
                            const char *cursor, int limit, json_t **out, char **next_cursor,
                            struct dk_err *err);
int store_conversation_list_by_user(struct store_conn *c, int64_t user_id, json_t **out,
                                    struct dk_err *err);

/* ---- messages ---- */
struct store_message {
    char id[STORE_ID_LEN]; /* filled by insert */
    const char *conversation_id;
    const char *instagram_mid; /* NULL for messages direkt created */
    const char *sender_type;   /* "user", "bot", "agent" (a person, e.g. an echo from the app) */
    const char *message_type;
    const char *content;
    const char *metadata; /* JSON text or NULL for {} */
    const char *status;   /* "received", "pending_send", "sent", … */
    const char *reply_to_mid;
    const char *intent;
    int64_t created_ms;
};

/* Inserts; a message whose instagram_mid is already stored is skipped (*inserted = false). */
int store_message_insert(struct store_conn *c, struct store_message *m, bool *inserted,
                         struct dk_err *err);
/* Claims the conversation's customer messages still waiting for an answer (status
 * received → processed), oldest first, as a JSON array of {id, content, message_type,
 * created_at, metadata}. Claiming inside the reply transaction makes concurrent reply jobs
 * for one conversation answer each message once. */
int store_message_claim_unanswered(struct store_conn *c, const char *conversation_id, json_t **out,
                                   struct dk_err *err);
int store_message_apply_edit(struct store_conn *c, const char *mid, const char *text, int64_t at_ms,
                             bool *found, struct dk_err *err);
int store_message_mark_deleted(struct store_conn *c, const char *mid, int64_t at_ms, bool *found,
                               struct dk_err *err);
/* The conversation a message belongs to (by Instagram mid); DK_ENOTFOUND when unknown. */
int store_message_conversation(struct store_conn *c, const char *mid, char conv_out[STORE_ID_LEN],
                               struct dk_err *err);
/* A conversation's messages, newest first, with cursor paging (see conversation_list). */
int store_message_history(struct store_conn *c, const char *conversation_id, const char *cursor,
                          int limit, json_t **out, char **next_cursor, struct dk_err *err);
/* A user's messages across their conversations, newest first, with cursor paging. */
int store_message_history_by_user(struct store_conn *c, int64_t user_id, const char *cursor,
                                  int limit, json_t **out, char **next_cursor, struct dk_err *err);

/* ---- message_events: reactions, reads, edits, deletes, referrals, comments, unknown kinds ---- */
/* Records an event once per dedupe_key (*inserted tells). conversation_id and mid may be NULL. */
int store_message_event_insert(struct store_conn *c, const char *dedupe_key,
                               const char *conversation_id, const char *mid, const char *kind,
                               const char *data_json, int64_t occurred_ms, bool *inserted,
                               struct dk_err *err);
int store_message_event_list(struct store_conn *c, const char *conversation_id, json_t **out,
                             struct dk_err *err);

/* ---- api_tokens ---- */
int store_token_insert(struct store_conn *c, const char *name, const char *sha256, int64_t now_ms,
                       int64_t *id, struct dk_err *err);
/* 0 when a token with this hash exists and is not revoked, DK_EAUTH otherwise. */
int store_token_check(struct store_conn *c, const char *sha256, struct dk_err *err);

/* ---- settings (key/value) ---- */
/* *value is new (dk_free) or NULL when unset. */
int store_setting_get(struct store_conn *c, const char *key, char **value, struct dk_err *err);
/* Sets the value unless the key exists already (first writer wins); *value_out (may be NULL)
 * receives the value in force, new. */
int store_setting_init(struct store_conn *c, const char *key, const char *value, int64_t now_ms,
                       char **value_out, struct dk_err *err);

/* ---- bulk writes for group commit ----
 * On PostgreSQL each call is one statement for all rows (a JSON array parameter expanded by
 * json_array_elements: one round trip instead of one per row); on SQLite, where a statement
 * costs no round trip, a loop of the single-row statements. Same effect on both. */
struct store_bulk_event {
    const char *sha256, *object, *payload;
    int items, unhandled;
    int64_t received_ms;
    char id[STORE_ID_LEN]; /* out: the new or existing event id */
    bool inserted;         /* out: false when the same body was stored before */
};
int store_webhook_event_insert_bulk(struct store_conn *c, struct store_bulk_event *ev, size_t n,
                                    struct dk_err *err);

/* Inserts messages, skipping those whose instagram_mid is stored (inserted[i] tells). */
int store_message_insert_bulk(struct store_conn *c, struct store_message *m, bool *inserted,
                              size_t n, struct dk_err *err);

struct store_party {
    const char *customer, *account;
    int64_t user_id;         /* out: 0 when the user does not exist */
    char conv[STORE_ID_LEN]; /* out: "" when the conversation does not exist */
};
/* Finds user and conversation ids for many (customer, account) pairs. */
int store_conversation_find_bulk(struct store_conn *c, struct store_party *p, size_t n,
                                 struct dk_err *err);

struct store_touch {
    char conv[STORE_ID_LEN];
    int64_t at_ms; /* the newest customer message */
};
/* Customer activity for conversations t[0..n) (sorted by id, distinct): locks them in that
 * order, then moves last_user_message_at forward. */
int store_conversation_activity_bulk(struct store_conn *c, const struct store_touch *t, size_t n,
                                     int64_t now_ms, struct dk_err *err);

/* Edits and deletes recorded before their message arrived (Meta does not guarantee order) for
 * any of mids[0..n): rows of {id, mid, kind, data, occurred_at}, oldest first (new JSON
 * array). */
int store_message_event_orphans(struct store_conn *c, const char *const *mids, size_t n,
                                json_t **out, struct dk_err *err);
/* Attaches an event to its conversation once its message is known. */
int store_message_event_attach(struct store_conn *c, const char *event_id,
                               const char *conversation_id, struct dk_err *err);

/* ---- helpers shared by the repositories ---- */
/* A row as a JSON object. spec lists "name:type" per column, in column order, separated by
 * spaces; types: s string, i integer, f float, t timestamp (RFC 3339), j JSON text, b 0/1
 * boolean. NULL columns become null. New reference. */
json_t *store_row_json(const struct store_res *r, size_t row, const char *spec);
/* Formats ms as RFC 3339 into out (DK_TIME_LEN). */
const char *store_ts(int64_t ms, char *out);
/* true when s is a UUID in canonical text form (ids from outside are checked before use). */
bool store_is_uuid(const char *s);
/* Paging cursor "<timestamp>|<id>" encoded as url-safe text, and back. */
char *store_cursor_make(const char *ts, const char *id);
int store_cursor_parse(const char *cursor, char **ts, char **id, struct dk_err *err);
/* Rows fetched with LIMIT limit + 1 as a JSON array of at most limit objects (spec as in
 * store_row_json); *next_cursor is new, from the last kept row's ts_col and column 0, or NULL
 * when there is no further page. */
json_t *store_page(const struct store_res *r, int limit, const char *spec, size_t ts_col,
                   char **next_cursor);

/* ---- nlu: message analysis, the business's intents and examples, trained models (nlu.c) ---- */
struct store_nlu_fields {
    const char *intent;
    double confidence;
    const char *sentiment;
    const char *entities_json; /* JSON array */
    const char *nlu_json;      /* JSON object: language, sentiment score, emotions, top intents */
};
/* Stores what the NLU understood of a message. */
int store_nlu_message_set(struct store_conn *c, const char *id, const struct store_nlu_fields *f,
                          struct dk_err *err);
/* Intent rows ({name, description, builtin, enabled, examples, created_at, updated_at}), as a
 * new JSON array, by name. */
int store_nlu_intent_list(struct store_conn *c, json_t **out, struct dk_err *err);
/* One intent row (new) or *out = NULL when there is none. */
int store_nlu_intent_get(struct store_conn *c, const char *name, json_t **out, struct dk_err *err);
/* Creates or updates an intent row (a NULL description keeps the old one). */
int store_nlu_intent_put(struct store_conn *c, const char *name, const char *description,
                         bool builtin, bool enabled, int64_t now_ms, struct dk_err *err);
/* Deletes an intent row and its examples. */
int store_nlu_intent_delete(struct store_conn *c, const char *name, struct dk_err *err);
/* Adds an example; *out is the new row {id, text, created_at} or NULL when it was there. */
int store_nlu_example_add(struct store_conn *c, const char *intent, const char *text,
                          int64_t now_ms, json_t **out, struct dk_err *err);
int store_nlu_example_delete(struct store_conn *c, const char *intent, int64_t id, bool *found,
                             struct dk_err *err);
/* The intent's examples, oldest first, at most limit ({id, text, created_at}, new array). */
int store_nlu_example_list(struct store_conn *c, const char *intent, int limit, json_t **out,
                           struct dk_err *err);
/* What a retraining uses: examples of enabled intents as [[text, intent], …] and the names of
 * switched-off intents (both new arrays). */
int store_nlu_training_set(struct store_conn *c, json_t **examples, json_t **disabled,
                           struct dk_err *err);
struct store_nlu_model {
    const char *task;   /* "intent" */
    const char *status; /* "ready" or "failed" */
    int64_t examples;
    int64_t labels;
    const char *model_b64; /* NULL when failed */
    const char *metrics_json;
    const char *error;
    int64_t train_ms;
    int64_t created_ms;
};
int store_nlu_model_insert(struct store_conn *c, const struct store_nlu_model *m, int64_t *id,
                           struct dk_err *err);
/* Deletes all but the keep newest model rows of task (ready or failed). */
int store_nlu_model_prune(struct store_conn *c, const char *task, int keep, struct dk_err *err);
/* The newest ready model of task: *id (0 when none) and, when model_b64 is not NULL, its bytes
 * in base64 (caller frees with dk_free; NULL when none). */
int store_nlu_model_latest(struct store_conn *c, const char *task, int64_t *id, char **model_b64,
                           struct dk_err *err);
/* The newest model row of task, ready or failed, without the bytes (new) or NULL. */
int store_nlu_model_status(struct store_conn *c, const char *task, json_t **out,
                           struct dk_err *err);

/* ---- knowledge: the business's facts that replies may quote (knowledge.c) ----
 * Entries belong to one account or, with a NULL account_id, to every account. As JSON:
 * {id, account_id, kind, question, answer, tags, enabled, created_at, updated_at}. */
#define STORE_KB_ACCOUNT  0x01u
#define STORE_KB_KIND     0x02u
#define STORE_KB_QUESTION 0x04u
#define STORE_KB_ANSWER   0x08u
#define STORE_KB_TAGS     0x10u
#define STORE_KB_ENABLED  0x20u
#define STORE_KB_ALL      0x3fu

struct store_knowledge {
    const char *account_id; /* NULL = every account */
    const char *kind;       /* "faq" | "text" (the caller validates) */
    const char *question;   /* may be NULL */
    const char *answer;     /* never NULL when set */
    const char *tags_json;  /* JSON array text; NULL = [] */
    bool enabled;
};
/* Creates an entry (all fields of k); *out is the new row (new). */
int store_knowledge_create(struct store_conn *c, const struct store_knowledge *k, int64_t now_ms,
                           json_t **out, struct dk_err *err);
/* One entry as JSON (new). DK_ENOTFOUND when there is none. */
int store_knowledge_get(struct store_conn *c, int64_t id, json_t **out, struct dk_err *err);
/* Replaces the fields of entry id named in the mask fields (STORE_KB_*) with those of k (one
 * statement, so concurrent changes of other fields are kept), then rewrites the entry's search
 * text: call it inside a transaction. *out (may be NULL) receives the row after the change
 * (new). DK_ENOTFOUND when there is no such entry. */
int store_knowledge_update(struct store_conn *c, int64_t id, const struct store_knowledge *k,
                           unsigned fields, int64_t now_ms, json_t **out, struct dk_err *err);
/* DK_ENOTFOUND when there is no such entry. */
int store_knowledge_delete(struct store_conn *c, int64_t id, struct dk_err *err);
/* Entries by id ascending. account_id (NULL = all) keeps that account's entries and the global
 * ones; q (NULL = all) keeps entries whose question or answer contains it, ignoring case (the
 * same on both engines). cursor is a previous page's *next_cursor or NULL (DK_EUNPROCESS when
 * it is not one); *next_cursor is new or NULL at the end. */
int store_knowledge_list(struct store_conn *c, const char *account_id, const char *q,
                         const char *cursor, int limit, json_t **out, char **next_cursor,
                         struct dk_err *err);

/* An entry for retrieval. */
struct store_kb_entry {
    int64_t id;
    char *question; /* NULL for free text */
    char *answer;
};
/* The enabled entries of account_id and the global ones (account_id NULL: only the global
 * ones), oldest first, at most max: *out is a new array of *n entries (store_kb_entries_free;
 * NULL when there are none). */
int store_knowledge_all(struct store_conn *c, const char *account_id, size_t max,
                        struct store_kb_entry **out, size_t *n, struct dk_err *err);
void store_kb_entries_free(struct store_kb_entry *v, size_t n);

/* ---- ai_calls: one row per AI call attempt, and ai_settings per account (ai_calls.c) ---- */
struct store_ai_call {
    int64_t created_ms;
    const char *task;            /* "reply", "intent", … */
    const char *provider;        /* "openai", "anthropic", "local", … */
    const char *model;           /* NULL = "" */
    const char *account_id;      /* may be NULL */
    const char *conversation_id; /* a UUID or NULL */
    const char *path;            /* "local" | "llm" */
    const char *outcome;         /* ai_outcome_name(): "ok", "retry", "budget", … */
    int http_status;             /* 0 when none */
    int64_t latency_ms;
    int64_t first_token_ms; /* < 0: none */
    int64_t input_tokens;
    int64_t output_tokens;
    bool redacted;
    const char *error; /* may be NULL */
};
/* Inserts calls v[0..n) in one go (one statement on PostgreSQL). DK_EINVAL, and nothing is
 * written, when a conversation_id is not a UUID or a required text is NULL. */
int store_ai_calls_insert(struct store_conn *c, const struct store_ai_call *v, size_t n,
                          struct dk_err *err);
/* Tokens (input + output) that account_id's calls sent to a provider on the UTC day of now_ms:
 * path "llm" and an outcome other than budget, circuit and privacy (refused before sending). */
int store_ai_tokens_today(struct store_conn *c, const char *account_id, int64_t now_ms,
                          int64_t *tokens, struct dk_err *err);
/* Filters of store_ai_call_list; NULL fields match everything. */
struct store_ai_call_filter {
    const char *task;
    const char *provider;
    const char *conversation_id; /* a UUID (the caller checks) */
    const char *account_id;
};
/* Calls newest first ({id, created_at, task, provider, model, account_id, conversation_id,
 * path, outcome, http_status, latency_ms, first_token_ms, input_tokens, output_tokens,
 * redacted, error}), cursor paging by id as store_knowledge_list. */
int store_ai_call_list(struct store_conn *c, const struct store_ai_call_filter *f,
                       const char *cursor, int limit, json_t **out, char **next_cursor,
                       struct dk_err *err);
/* Per provider and outcome since since_ms (0 = all time), account_id NULL = every account:
 * a new array of {provider, outcome, calls, input_tokens, output_tokens, avg_latency_ms,
 * max_latency_ms} ordered by provider and outcome. */
int store_ai_call_summary(struct store_conn *c, const char *account_id, int64_t since_ms,
                          json_t **out, struct dk_err *err);

#define STORE_AI_DEFAULT_ACCOUNT "*"
#define STORE_AIS_SYSTEM_PROMPT  0x01u
#define STORE_AIS_TONE           0x02u
#define STORE_AIS_BUSINESS_NAME  0x04u
#define STORE_AIS_BUDGET         0x08u
#define STORE_AIS_ALL            0x0fu

/* An account's AI settings. From store_ai_settings_get each field is the account's own value
 * or, when the account leaves it unset (NULL), the default row's ('*'). */
struct store_ai_settings {
    char *system_prompt; /* new or NULL */
    char *tone;
    char *business_name;
    int64_t daily_token_budget; /* < 0: unset (the configured default applies); 0 = unlimited */
    unsigned inherited;         /* STORE_AIS_* fields that came from the '*' row */
    bool found;                 /* the account or the '*' row exists */
    int64_t updated_ms;         /* of the account's row, else of the '*' row; 0 when none */
};
void store_ai_settings_clear(struct store_ai_settings *s);
/* The effective settings of account_id ('*' or NULL reads the default row alone); out is
 * cleared first and filled (found false and every field unset when neither row exists). */
int store_ai_settings_get(struct store_conn *c, const char *account_id,
                          struct store_ai_settings *out, struct dk_err *err);
/* What store_ai_settings_put writes (borrowed). */
struct store_ai_settings_in {
    const char *system_prompt;
    const char *tone;
    const char *business_name;
    int64_t daily_token_budget; /* < 0: unset */
};
/* Creates or changes account_id's row: the fields named in the mask (STORE_AIS_*) take the
 * values of in (NULL / < 0 clears them), the others keep theirs. */
int store_ai_settings_put(struct store_conn *c, const char *account_id,
                          const struct store_ai_settings_in *in, unsigned fields, int64_t now_ms,
                          struct dk_err *err);

/* ---- replies generated asynchronously (replies.c) ---- */
/* One message {id, conversation_id, sender_type, content, metadata, intent, status,
 * created_at} (new). DK_ENOTFOUND when there is none. */
int store_message_get(struct store_conn *c, const char *id, json_t **out, struct dk_err *err);
int store_message_set_metadata(struct store_conn *c, const char *id, const char *metadata_json,
                               struct dk_err *err);
/* Fills in a reply that is still "generating"; *updated is false when it was not (done
 * already). intent NULL keeps the stored one. */
int store_message_finish_reply(struct store_conn *c, const char *id, const char *content,
                               const char *status, const char *metadata_json, const char *intent,
                               bool *updated, struct dk_err *err);

/* ---- imports: the state of an account's history import (imports.c) ---- */
struct store_import {
    bool found;      /* the account has an import row */
    char status[17]; /* "running" | "done" | "failed" */
    char *next_url;  /* new or NULL: the Conversations API page to fetch next (NULL while
                        running: the first page) */
    int64_t conversations, messages;
    char *last_error; /* new or NULL */
};
void store_import_clear(struct store_import *im);
/* out is cleared first; found false when the account has no row. */
int store_import_load(struct store_conn *c, const char *account_id, struct store_import *out,
                      struct dk_err *err);
/* Starts (or restarts) the import: status running from the first page, counts zero. */
int store_import_begin(struct store_conn *c, const char *account_id, int64_t now_ms,
                       struct dk_err *err);
/* A page was stored: the next page (NULL: none) and the counts added. */
int store_import_progress(struct store_conn *c, const char *account_id, const char *next_url,
                          int64_t conversations, int64_t messages, int64_t now_ms,
                          struct dk_err *err);
/* Ends the import with status "done" or "failed" (error may be NULL; kept by "done" as NULL). */
int store_import_finish(struct store_conn *c, const char *account_id, const char *status,
                        const char *error, int64_t now_ms, struct dk_err *err);

/* ---- accounts: connected Instagram accounts (accounts.c) ----
 * The token is stored sealed (core/crypto dk_secret_seal); this layer never sees it in clear. */
struct store_account {
    char id[65];
    char *name;              /* new or NULL */
    char flavour[17];        /* "instagram" | "facebook" */
    char *page_id;           /* new or NULL */
    char *token_enc;         /* new or NULL: sealed token */
    char status[33];         /* "active" | "needs_reauth" | "disabled" */
    char *status_reason;     /* new or NULL */
    int64_t throttled_until; /* ms, 0 = not throttled */
    int throttle_level;
};
void store_account_clear(struct store_account *a);
/* Adds or replaces an account (name, flavour, page_id, token_enc may be NULL; flavour NULL is
 * "instagram"): status back to active, reason and throttling cleared; *created tells whether it
 * is new (may be NULL). */
int store_account_upsert(struct store_conn *c, const char *id, const char *name,
                         const char *flavour, const char *page_id, const char *token_enc,
                         int64_t now_ms, bool *created, struct dk_err *err);
/* A row for an account that has none yet (the sender records throttling or a refused token of
 * an IG_ACCESS_TOKEN account); an existing row is left as it is. */
int store_account_ensure(struct store_conn *c, const char *id, int64_t now_ms, struct dk_err *err);
/* DK_ENOTFOUND when unknown. */
int store_account_load(struct store_conn *c, const char *id, struct store_account *out,
                       struct dk_err *err);
/* Every account as a new JSON array of {id, name, flavour, page_id, has_token, status,
 * status_reason, throttled_until (RFC 3339 or null), created_at, updated_at}: never the token. */
int store_account_list(struct store_conn *c, json_t **out, struct dk_err *err);
int store_account_remove(struct store_conn *c, const char *id, bool *found, struct dk_err *err);
/* Sets status ("active", "needs_reauth", "disabled") and its reason (may be NULL).
 * DK_ENOTFOUND when unknown (also for store_account_throttle). */
int store_account_set_status(struct store_conn *c, const char *id, const char *status,
                             const char *reason, int64_t now_ms, struct dk_err *err);
/* Graph throttling: no sends before until_ms; level is the backoff step (0 clears). */
int store_account_throttle(struct store_conn *c, const char *id, int64_t until_ms, int level,
                           int64_t now_ms, struct dk_err *err);
/* The number of accounts an operator added (0: an installation without accounts processes
 * every entry); rows made by store_account_ensure do not count. */
int store_account_count(struct store_conn *c, int64_t *n, struct dk_err *err);
/* Whether an operator added an account with this id. */
int store_account_exists(struct store_conn *c, const char *id, bool *exists, struct dk_err *err);

/* ---- the outbox: bot and operator messages on their way to Instagram (outbox.c) ---- */
struct store_outbox_msg {
    char id[STORE_ID_LEN];
    char sender_type[17];
    char message_type[33];
    char status[33];
    char recipient[65]; /* the customer's IGSID */
    char *content;      /* new or NULL */
    char *metadata;     /* new JSON text */
    int64_t created_ms;
};
void store_outbox_msg_clear(struct store_outbox_msg *m);
/* The conversation's oldest bot or operator message waiting to go out (pending_send) or in
 * flight (sending); *found false when there is none. */
int store_outbox_next(struct store_conn *c, const char *conversation_id,
                      struct store_outbox_msg *out, bool *found, struct dk_err *err);
/* Moves a message from status `from` to `to` with a reason (NULL clears it), metadata (NULL
 * keeps it) and the Instagram mid (NULL keeps it; a mid stored on another message is not
 * taken). *updated false when the message was no longer in `from`. */
int store_outbox_set(struct store_conn *c, const char *id, const char *from, const char *to,
                     const char *reason, const char *metadata_json, const char *mid, bool *updated,
                     struct dk_err *err);
/* Replaces a message's content (a long reply cut into parts keeps the first). */
int store_outbox_set_content(struct store_conn *c, const char *id, const char *content,
                             struct dk_err *err);
/* An echo of a message the business sent: the conversation's oldest message in flight
 * (sending, no mid yet) with this text takes the mid and becomes sent. *matched tells. */
int store_outbox_reconcile_echo(struct store_conn *c, const char *conversation_id, const char *mid,
                                const char *text, bool *matched, struct dk_err *err);
/* Conversations of an account with messages waiting as pending_send (new JSON array of ids). */
int store_outbox_waiting(struct store_conn *c, const char *account_id, json_t **ids,
                         struct dk_err *err);
/* Delivery figures (new object): {"by_status":{status: n}, "refused_by_rule":{rule: n}} over
 * bot and operator messages; account_id may be NULL (all). */
int store_outbox_stats(struct store_conn *c, const char *account_id, json_t **out,
                       struct dk_err *err);
/* The reaction (JSON text; NULL removes it) a customer gave to the message with this mid, kept
 * in its metadata.feedback. *found false when no such message. */
int store_message_set_feedback(struct store_conn *c, const char *mid, const char *feedback_json,
                               bool *found, struct dk_err *err);

/* ---- conversation control (outbox.c) ---- */
/* Pauses the bot until until_ms (0: resumes it). DK_ENOTFOUND when unknown. */
int store_conversation_pause(struct store_conn *c, const char *id, int64_t until_ms, int64_t now_ms,
                             struct dk_err *err);
int store_conversation_set_status(struct store_conn *c, const char *id, const char *status,
                                  int64_t now_ms, struct dk_err *err);

/* ---- comments: one private reply per comment, keyword rules (comments.c) ---- */
/* Takes the comment's one private reply for message_id; *claimed false when it was taken. */
int store_comment_reply_claim(struct store_conn *c, const char *comment_id, const char *account_id,
                              const char *conversation_id, const char *message_id, int64_t rule_id,
                              int64_t comment_ms, bool *claimed, struct dk_err *err);
/* The message that holds the comment's private reply ("" when none). */
int store_comment_reply_owner(struct store_conn *c, const char *comment_id,
                              char message_id[STORE_ID_LEN], struct dk_err *err);
/* Keyword rules: add (account_id NULL: every account), list, delete. */
int store_comment_rule_add(struct store_conn *c, const char *account_id, const char *keyword,
                           const char *reply, const char *public_reply, int64_t *id,
                           struct dk_err *err);
/* Enabled rules of an account (and those for every account), oldest first, as a new array of
 * {id, account_id, keyword, reply, public_reply, enabled, created_at}; account_id NULL: all. */
int store_comment_rule_list(struct store_conn *c, const char *account_id, json_t **out,
                            struct dk_err *err);
int store_comment_rule_delete(struct store_conn *c, int64_t id, bool *found, struct dk_err *err);

#endif
