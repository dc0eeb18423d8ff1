/*
 * ai: the AI providers behind one router (DESIGN §10).
 *
 *   http.c       outbound HTTP: one event-loop thread driving libcurl's multi interface, so
 *                that thousands of slow LLM calls wait on sockets, not on threads
 *   sse.c        the Server-Sent Events parser (bytes in any pieces → events)
 *   openai.c     the OpenAI Chat Completions / Embeddings wire format (also every
 *                OpenAI-compatible local server: Ollama, llama.cpp, vLLM, LM Studio)
 *   anthropic.c  the Anthropic Messages wire format
 *   stream.c     a streamed answer: SSE events → text deltas, usage, terminator, errors
 *   router.c     task → ordered provider/model list; retries, fallback, circuit breakers,
 *                budgets, privacy; every attempt recorded
 *   redact.c     personal data (NLU PII entities) → placeholders and back
 *   prompt.c     the reply prompt within a token budget; token estimates
 *   guard.c      checks of a generated reply before it is stored
 *   knowledge.c  ranking knowledge-base entries against a message (stems, no network)
 *   local.c      the built-in provider: NLU answers for intent and sentiment
 *
 * Providers never touch the database: callers pass what a call needs and store what it gave.
 * Callbacks of asynchronous calls run on the HTTP loop thread and must not block.
 */
#ifndef AI_H
#define AI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct nlu_ctx;
struct nlu_model;

/* ===== tasks, messages, usage ===== */

enum ai_task {
    AI_TASK_REPLY,
    AI_TASK_INTENT,
    AI_TASK_SENTIMENT,
    AI_TASK_SUMMARY,
    AI_TASK_PLAN,
    AI_TASK_EMBEDDING,
    AI_TASK_CHAT, /* /api/v1/ai/chat-completion without an explicit model */
    AI_TASK_COUNT
};
/* "reply", "intent", … (static). */
const char *ai_task_name(enum ai_task t);
/* DK_EINVAL for an unknown name. */
int ai_task_parse(const char *name, enum ai_task *out);

struct ai_message {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
};

struct ai_usage {
    int64_t input_tokens;
    int64_t output_tokens;
};

/* ===== outbound HTTP event loop (http.c) ===== */

struct ai_http;

struct ai_http_config {
    int max_connections;      /* total open connections (default 2048) */
    int max_host_connections; /* per host (default 1024) */
    const char *user_agent;   /* default "direkt" */
};

/* What one exchange gave. Valid during the on_done call only. */
struct ai_http_resp {
    uint64_t id;
    int status;            /* HTTP status; 0 when no response arrived */
    int error;             /* 0, DK_ETIMEOUT, DK_EIO (connection, TLS, reset), DK_ECANCELED,
                            * DK_ETOOBIG (body over max_response), DK_EINTERNAL (on_data stopped it),
                            * DK_EINVAL (no url, a malformed url, a line break in a header) */
    const char *error_msg; /* for people, "" when error is 0 */
    const char *body; /* whole body (NUL-terminated) when the request had no on_data, else "" */
    size_t len;
    const char *retry_after;  /* response headers or NULL: Retry-After */
    const char *should_retry; /* x-should-retry */
    const char *request_id;   /* x-request-id or request-id */
    int64_t elapsed_ms;       /* submit → done */
    int64_t first_byte_ms;    /* submit → first body byte, -1 when none */
};

struct ai_http_req {
    const char *method; /* "GET", "POST", … (NULL: POST with a body, else GET) */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const char *body; /* may be NULL */
    size_t body_len;
    int64_t timeout_ms;         /* whole exchange (default 60000) */
    int64_t connect_timeout_ms; /* default 5000 */
    size_t max_response;        /* body bytes kept without on_data (default 8 MiB) */
    /* Optional: body bytes as they arrive with the HTTP status known; return nonzero to stop
     * the transfer (on_done then sees error DK_EINTERNAL unless the callback returned 1 to mean
     * "done early, not an error": error 0). Loop thread. */
    int (*on_data)(void *arg, int status, const char *p, size_t n);
    /* Called exactly once per submitted request, on the loop thread. */
    void (*on_done)(void *arg, const struct ai_http_resp *resp);
    void *arg;
};

/* Starts the loop thread (cfg may be NULL: defaults). NULL with err on failure. Main thread. */
struct ai_http *ai_http_start(const struct ai_http_config *cfg, struct dk_err *err);
/* Stops the loop: what is in flight or queued, and whatever callbacks submit meanwhile, ends
 * with DK_ECANCELED (on_done on the loop thread, never on the caller's); every pending post
 * runs, due or not; then joins and frees. NULL accepted. Main thread, not the loop thread. */
void ai_http_stop(struct ai_http *h);
/* Queues a request; everything in r is copied. Returns its id (> 0). on_done is always called,
 * also when the loop is stopping (then with DK_ECANCELED, on the loop thread). Any thread, also
 * the loop thread. The one exception: a submit from another thread racing ai_http_stop that
 * arrives after the loop thread has finished completes on the calling thread (DK_ECANCELED)
 * before ai_http_submit returns. */
uint64_t ai_http_submit(struct ai_http *h, const struct ai_http_req *r);
/* Stops a request early: its on_done sees DK_ECANCELED (nothing when it already finished).
 * Any thread. */
void ai_http_cancel(struct ai_http *h, uint64_t id);
/* Runs fn(arg) on the loop thread after delay_ms (0: soon); equal due times run in posting
 * order. Posts still pending at stop run then, with ai_http_stopping() true (a post that keeps
 * reposting itself while stopping delays the stop forever). Any thread; a post racing
 * ai_http_stop after the loop finished runs at once on the calling thread. */
void ai_http_post(struct ai_http *h, int64_t delay_ms, void (*fn)(void *arg), void *arg);
bool ai_http_stopping(const struct ai_http *h);
/* Requests submitted whose on_done has not returned yet (queued or on the network). Any
 * thread. */
int ai_http_inflight(const struct ai_http *h);
/* Whether the calling thread is h's loop thread. */
bool ai_http_on_loop(const struct ai_http *h);

/* ===== Server-Sent Events (sse.c) ===== */

/* One event: its name ("message" when none was given) and its data lines joined by "\n"
 * (NUL-terminated, len bytes). Return 0 to go on, nonzero to stop (ai_sse_feed returns it). */
typedef int (*ai_sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

struct ai_sse;
/* max_event bounds one event's size (lines and data); beyond, feeding fails with DK_ETOOBIG. */
struct ai_sse *ai_sse_new(size_t max_event, ai_sse_event_fn fn, void *arg);
/* Feeds bytes in any pieces (lines, CR/LF pairs and UTF-8 characters may be split). Returns 0,
 * the callback's nonzero value, or DK_ETOOBIG; after either, later feeds return the same value
 * until ai_sse_end resets the parser. Comments are skipped, a leading BOM dropped, and an
 * "error: …" line (old llama.cpp) read as an "error" event. */
int ai_sse_feed(struct ai_sse *p, const char *bytes, size_t n);
/* End of stream: an event still pending (no final blank line) is dispatched only when
 * flush is true. Returns what the callback returned, or 0. */
int ai_sse_end(struct ai_sse *p, bool flush);
void ai_sse_free(struct ai_sse *p);

/* ===== wire formats (openai.c, anthropic.c, stream.c) ===== */

enum ai_wire {
    AI_WIRE_OPENAI,    /* OpenAI and OpenAI-compatible servers */
    AI_WIRE_ANTHROPIC, /* Anthropic Messages */
};

/* How an exchange ended, as the router acts on it. */
enum ai_outcome {
    AI_OK = 0,
    AI_ERR_RETRY,     /* transient: 429 rate limit, 408, 409, 5xx, 529, timeout, connection */
    AI_ERR_FATAL,     /* will fail again: 400, 401, 403, 404, 413, quota exhausted */
    AI_ERR_MALFORMED, /* the provider answered something we cannot parse */
    AI_ERR_TRUNCATED, /* a stream ended before its terminator */
    AI_ERR_CANCELED,
    AI_ERR_BUDGET,  /* the account's daily token budget is spent */
    AI_ERR_CIRCUIT, /* the provider's circuit is open */
    AI_ERR_PRIVACY, /* personal data may not go to this provider */
};
/* "ok", "retry", "fatal", … (static). */
const char *ai_outcome_name(enum ai_outcome o);

/* Quirks of OpenAI-compatible servers. */
enum ai_flavor {
    AI_FLAVOR_OPENAI, /* api.openai.com: max_completion_tokens */
    AI_FLAVOR_COMPAT, /* Ollama, llama.cpp, vLLM, LM Studio: max_tokens, no "strict" */
};

/* One call's parameters (all borrowed). */
struct ai_call_params {
    const struct ai_message *messages; /* the system message, if any, first */
    size_t nmessages;
    const char *model;
    int max_tokens;          /* 0: the provider's default (Anthropic requires one: 1024 then) */
    double temperature;      /* < 0: the provider's default */
    const char *json_schema; /* structured output: a JSON Schema (text) of an object, or NULL */
    bool stream;
    enum ai_flavor flavor;
};

/* A parsed answer or failure. Owned by whoever holds it; ai_reply_clear frees text. */
struct ai_reply {
    enum ai_outcome outcome;
    char *text; /* the assistant's text (dk_malloc'd, NUL-terminated) or NULL on failure */
    struct ai_usage usage;
    char finish[32];        /* "stop", "length", "end_turn", "max_tokens", … */
    char id[128];           /* the provider's response id */
    char model[128];        /* the model that answered */
    int http_status;        /* 0 when none */
    int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date), -1 when absent */
    char error_type[64];    /* "rate_limit_exceeded", "insufficient_quota", "overloaded_error" */
    char error[256];        /* for people */
};
void ai_reply_clear(struct ai_reply *r);

/* The request body (new, dk_free) for a chat call, or NULL when json_schema is not the text of
 * a JSON object or a string is not valid UTF-8. OpenAI: the flavor picks max_completion_tokens
 * and "strict" or max_tokens; streams ask for the usage chunk. Anthropic: system messages go
 * to "system", same-role turns are merged and empty ones dropped, max_tokens 0 sends 1024,
 * temperature is clamped to 0..1. Any thread. */
char *ai_openai_chat_body(const struct ai_call_params *p);
char *ai_anthropic_body(const struct ai_call_params *p);
/* Parses a whole (non-streamed) response or error body with its status and headers (may be
 * NULL) into out (cleared first: overwritten, not freed, so ai_reply_clear a used one). Never
 * fails: bad bodies give AI_ERR_MALFORMED. out->text is set (maybe "") exactly when AI_OK. */
void ai_openai_parse(int status, const char *body, size_t len, const char *retry_after,
                     struct ai_reply *out);
void ai_anthropic_parse(int status, const char *body, size_t len, const char *retry_after,
                        const char *should_retry, struct ai_reply *out);
/* Embeddings (OpenAI-compatible): request body for inputs (NULL when n is 0 or over 2048 or
 * an input is not UTF-8), and the vectors of a response (float arrays or base64 little-endian
 * float32, placed by "index"). *vecs is dk_malloc'd n × *dim floats. Returns 0; DK_EIO for an
 * error response (err_out, may be NULL, classified as ai_openai_parse does); DK_EINVAL for a
 * malformed body (err_out AI_ERR_MALFORMED); *vecs is NULL on failure. */
char *ai_openai_embeddings_body(const char *model, const char *const *inputs, size_t n);
int ai_openai_parse_embeddings(int status, const char *body, size_t len, float **vecs, size_t *n,
                               size_t *dim, struct ai_usage *usage, struct ai_reply *err_out);
/* Model lists: the ids of an OpenAI-style or Anthropic-style list as a new JSON array of
 * strings, or NULL with err when the body is not a list. */
json_t *ai_models_parse(enum ai_wire w, const char *body, size_t len, struct dk_err *err);

/* A streamed answer (2xx bodies only: error bodies go to the *_parse functions). Text deltas
 * reach fn as they are decoded (whole UTF-8 characters only); fn returns nonzero to stop. */
typedef int (*ai_delta_fn)(void *arg, const char *text, size_t len);
struct ai_stream;
struct ai_stream *ai_stream_new(enum ai_wire w, ai_delta_fn fn, void *arg);
/* Body bytes in any pieces. Returns 0 to go on, nonzero when reading should stop (the
 * terminator or an error event arrived, or fn asked to stop). */
int ai_stream_feed(struct ai_stream *s, const char *bytes, size_t n);
/* End of body: fills out (cleared first) with the whole text, usage, finish and outcome:
 * AI_OK only when the protocol's terminator arrived ([DONE] / message_stop); an error event
 * gives its class (an overloaded/server error is AI_ERR_RETRY, an invalid request FATAL); an
 * end without terminator AI_ERR_TRUNCATED; unparsable data or text over 1 MiB
 * AI_ERR_MALFORMED; fn asking to stop AI_ERR_CANCELED. out->text is the text received in
 * every outcome (NULL only for a failure before any text). At EOF an event that lacks its
 * final blank line is flushed: a whole terminator line counts, a cut-off event is ignored. */
void ai_stream_end(struct ai_stream *s, struct ai_reply *out);
/* Whether any text delta was delivered (a retry after that would repeat text). */
bool ai_stream_started(const struct ai_stream *s);
void ai_stream_free(struct ai_stream *s);

/* Retry-After header value → milliseconds (seconds or an HTTP date), -1 when absent or bad. */
int64_t ai_retry_after_ms(const char *value, int64_t now_ms);

/* ===== personal data (redact.c) ===== */

/* Placeholders ("[PHONE_1]", "[EMAIL_1]", …) for the PII entities of texts, and the values to
 * put back. One map per conversation call; not thread-safe (one owner at a time). */
#define AI_REDACT_MAX 256 /* distinct values one map holds */
struct ai_redaction;
/* A new, empty map (never NULL). */
struct ai_redaction *ai_redaction_new(void);
/* NULL accepted. */
void ai_redaction_free(struct ai_redaction *m);
/* The text with every PII entity (phone, e-mail, card, handle, as the NLU finds them) replaced
 * by its placeholder, numbered per kind; the same value (the same bytes) gets the same
 * placeholder in every call on m. New string (dk_free); *found (may be NULL) counts
 * replacements. NULL with err: DK_EINVAL for invalid UTF-8, DK_ETOOBIG for text over
 * NLU_MAX_TEXT or when m would exceed AI_REDACT_MAX values (m is then left as it was).
 * ctx may be NULL (the entity finder needs no scratch). */
char *ai_redact(struct ai_redaction *m, struct nlu_ctx *ctx, const char *text, size_t len,
                int *found, struct dk_err *err);
/* Whether text holds PII by the same rules. Text that cannot be checked (invalid UTF-8, over
 * NLU_MAX_TEXT) counts as holding PII: it could not be redacted either. ctx may be NULL. */
bool ai_has_pii(struct nlu_ctx *ctx, const char *text, size_t len);
/* The text with placeholders known to m replaced by their values, every occurrence; only the
 * exact form counts ("[PHONE_1]", not "[phone_1]" or "[ PHONE_1 ]"), unknown ones are left.
 * Phones, e-mail addresses and handles come back as written; cards as the NLU's masked value
 * ("**** **** **** 1111"). New string (dk_free); NULL only for NULL text. m may be NULL. */
char *ai_unredact(const struct ai_redaction *m, const char *text);
/* Distinct values in m (0 for NULL). */
size_t ai_redaction_count(const struct ai_redaction *m);

/* ===== prompts (prompt.c) ===== */

/* Conservative token estimate for a text, rounded up: bytes/4 for ASCII, chars/2.3 for other
 * scripts, and characters outside the Basic Multilingual Plane (emoji) at bytes/4, that is one
 * token each. The framing of a message (AI_MSG_FRAMING) is added by ai_prompt_build, not here. */
#define AI_MSG_FRAMING 4
int64_t ai_tokens_estimate(const char *text, size_t len);

struct ai_kb_entry {
    int64_t id;
    const char *question; /* may be NULL for free text */
    const char *answer;   /* the text */
};

struct ai_prompt_in {
    const char *system_prompt;    /* the business's, or NULL for the built-in one */
    const char *tone;             /* "friendly", "formal", … or NULL */
    const char *business_name;    /* may be NULL */
    const char *summary;          /* the conversation's summary or NULL */
    const json_t *history;        /* array of {"role":"user"|"assistant","content":…}, oldest
                                   * first; the newest are kept within the budget */
    const json_t *profile;        /* the customer's profile object or NULL */
    const json_t *preferences;    /* object or NULL */
    const struct ai_kb_entry *kb; /* matching knowledge entries, best first */
    size_t nkb;
    const char *intent;    /* the NLU's, or NULL */
    const char *sentiment; /* "positive" | "neutral" | "negative" or NULL */
    const char *language;  /* "en", "ru", … or NULL */
    int64_t max_tokens;    /* budget of the whole prompt (default 3000) */
};

/* The messages of a reply prompt: one system message (instructions, tone, facts from the
 * knowledge base, profile, NLU result, summary) then the conversation, newest turns kept
 * within max_tokens (each message counted as its estimate plus AI_MSG_FRAMING). The system
 * message is always sent: when it alone is over budget the facts are dropped from the end,
 * then the profile and preferences. The newest user turn is always sent, cut at a character
 * boundary when it does not fit (it keeps at least 64 tokens). *out is a new JSON array of
 * {"role","content"}. DK_EINVAL (with the field in err) for a history that is not an array
 * of {"role": "user"|"assistant", "content": string}, a profile or preferences that is not
 * an object, or strings that are not valid UTF-8. Any thread. */
int ai_prompt_build(const struct ai_prompt_in *in, json_t **out, struct dk_err *err);
/* The built-in system prompt (static). */
const char *ai_prompt_default_system(void);

/* ===== reply checks (guard.c) ===== */

#define AI_TEXT_LIMIT 1000 /* Instagram: message text ≤ 1000 UTF-8 bytes */

struct ai_guard_in {
    const char *reply;
    const char *system_prompt;    /* the prompt the model was given (leak check) */
    const struct ai_kb_entry *kb; /* every fact the reply may quote a figure from */
    size_t nkb;
    const char *customer_text; /* figures the customer wrote may be repeated */
};
enum ai_guard_verdict {
    AI_GUARD_OK = 0,
    AI_GUARD_EMPTY,
    AI_GUARD_TOO_LONG, /* over AI_TEXT_LIMIT and no sentence boundary to cut at */
    AI_GUARD_LEAK,     /* repeats a stretch of the system prompt */
    AI_GUARD_FIGURE,   /* a price or stock figure found in no knowledge entry */
};
/* Checks a reply (see guard.c for the rules). Returns the verdict and, when not OK, a reason
 * for people in reason (may be NULL; "price 49.99 is not in the knowledge base"). *fitted
 * (fitted may be NULL) is always a new string (dk_free): the reply as valid UTF-8, trimmed of
 * white space and, when over the limit, cut at the last sentence end that fits (with
 * TOO_LONG: uncut). The checks run on that text; LEAK outranks FIGURE, FIGURE outranks
 * TOO_LONG. Any thread. */
enum ai_guard_verdict ai_guard_check(const struct ai_guard_in *in, char **fitted, char *reason,
                                     size_t reason_len);
const char *ai_guard_name(enum ai_guard_verdict v);

/* ===== knowledge base retrieval (knowledge.c) ===== */

/* Scores entries against a query by shared stems (question weighs more than answer), in
 * [0,1]. Fills idx (best first) with up to k entries scoring at least min_score and returns
 * how many. ctx is the caller's NLU context. Stop words and punctuation do not count; an entry
 * that shares no term with the query is never returned (also with min_score 0); equal scores
 * keep the entries' order. idx (and scores, which may be NULL) must hold k values. An empty
 * query, or text that is not valid UTF-8, gives 0. Any thread (with its own ctx). */
size_t ai_knowledge_rank(struct nlu_ctx *ctx, const char *query, const struct ai_kb_entry *kb,
                         size_t n, size_t k, double min_score, size_t *idx, double *scores);

/* ===== the built-in local provider and the shapes of structured answers (local.c) ===== */

struct nlu_result;
/* The NLU's answers in the API's shape (new objects):
 * intent: {"intent","confidence","oos","alternatives","language","entities"}
 * sentiment: {"sentiment","score","confidence","emotions","language"}. */
json_t *ai_local_intent_json(const struct nlu_result *res, const char *text, size_t len);
json_t *ai_local_sentiment_json(const struct nlu_result *res);
/* How sure the NLU is for a task (intent: calibrated confidence, 0 when out of scope;
 * sentiment: 0.5 + |score|, at most 1), compared with the local-first threshold. */
double ai_local_confidence(enum ai_task task, const struct nlu_result *res);
/* The JSON Schema (static text) an LLM answers intent / sentiment with. */
const char *ai_intent_schema(void);
const char *ai_sentiment_schema(void);
/* The instruction (system message) for an intent / sentiment call; labels is a JSON array of
 * the known intent names (borrowed) or NULL. New string. */
char *ai_intent_instruction(const json_t *labels);
const char *ai_sentiment_instruction(void);
/* An LLM's structured answer (text holding a JSON object, maybe inside a ``` fence) in the
 * same shape as the local one (new object), or NULL with err (DK_EUNPROCESS) when it does not
 * fit the schema. labels (may be NULL) restricts the intent names; others become "other". */
json_t *ai_llm_intent_json(const char *text, const json_t *labels, struct dk_err *err);
json_t *ai_llm_sentiment_json(const char *text, struct dk_err *err);

/* ===== router (router.c) ===== */

#define AI_MAX_PROVIDERS 8
#define AI_MAX_ROUTE     6
#define AI_MAX_ATTEMPTS  16

enum ai_privacy {
    AI_PRIVACY_OFF,    /* text goes where the route says */
    AI_PRIVACY_LOCAL,  /* text with PII only to local providers */
    AI_PRIVACY_REDACT, /* text with PII goes to cloud providers redacted, values restored */
};

struct ai_provider_config {
    char name[32];     /* "openai", "anthropic", "local_llm", "local" */
    enum ai_wire wire; /* ignored for the built-in "local" */
    enum ai_flavor flavor;
    char base_url[512]; /* "https://api.openai.com/v1", "https://api.anthropic.com" */
    char api_key[512];  /* may be empty (local servers) */
    char model[128];    /* default model */
    bool builtin;       /* the built-in local provider (no network) */
    bool on_premises;   /* data stays here (built-in, LOCAL_LLM_URL): privacy allows it */
};

struct ai_route_step {
    int provider;    /* index into providers */
    char model[128]; /* "" = the provider's default */
};

struct ai_config {
    struct ai_provider_config providers[AI_MAX_PROVIDERS];
    size_t nproviders;
    struct ai_route_step routes[AI_TASK_COUNT][AI_MAX_ROUTE];
    size_t nroute[AI_TASK_COUNT];
    double local_threshold[AI_TASK_COUNT]; /* local-first: ask an LLM below this confidence */
    int retries;                 /* retries of a transient failure per provider (default 2) */
    int64_t backoff_ms;          /* first backoff (default 500), doubled, jittered */
    int64_t max_backoff_ms;      /* cap, also of Retry-After (default 20000) */
    int64_t timeout_ms;          /* per attempt (default 30000) */
    int64_t deadline_ms;         /* a whole request, all attempts (default 60000) */
    int breaker_failures;        /* consecutive failures that open a circuit (default 5) */
    int64_t breaker_cooldown_ms; /* open → half-open (default 30000) */
    enum ai_privacy privacy;
    int64_t daily_token_budget; /* per account, 0 = unlimited */
};

/* No providers but the built-in "local", every route [local], thresholds 0.5, retries 2,
 * backoff 500 ms (cap 20 s), timeout 30 s, deadline 60 s, breaker 5 failures / 30 s. */
void ai_config_defaults(struct ai_config *cfg);
/* Adds a provider (copied). DK_EINVAL when the table is full or the name is taken. */
int ai_config_add_provider(struct ai_config *cfg, const struct ai_provider_config *p,
                           struct dk_err *err);
/* Routes for the configured providers, in the order they were added: every task tries the
 * LLM providers then "local" (intent and sentiment ask them only below the local threshold);
 * embeddings only the network providers with an OpenAI wire. */
void ai_config_default_routes(struct ai_config *cfg);
/* "reply=openai,anthropic/claude-haiku-4-5,local;intent=local" replaces the routes it names
 * (a model after the first "/"). DK_EINVAL naming the bad part (unknown task or provider). */
int ai_config_parse_routes(struct ai_config *cfg, const char *spec, struct dk_err *err);
/* "intent=0.6,sentiment=0.4": local-first thresholds in [0,1]. */
int ai_config_parse_thresholds(struct ai_config *cfg, const char *spec, struct dk_err *err);
/* "off" | "local" | "redact". */
int ai_privacy_parse(const char *s, enum ai_privacy *out);
/* Index of a provider by name, -1 when not configured. */
int ai_config_provider(const struct ai_config *cfg, const char *name);

struct ai_request {
    enum ai_task task;
    const struct ai_message *messages;
    size_t nmessages;
    int max_tokens;
    double temperature; /* < 0 default */
    const char *json_schema;
    bool stream;
    /* "provider", "provider/model" or a configured model name: use only that; NULL: the
     * task's route */
    const char *target;
    const char *account_id;     /* for budgets, may be NULL */
    int64_t tokens_used_today;  /* by this account (the caller reads it from ai_calls) */
    int64_t daily_token_budget; /* the account's: 0 = the configured default, < 0 unlimited */
    bool has_pii;               /* the caller found personal data in the messages */
    /* Under AI_PRIVACY_REDACT with has_pii: the messages with PII replaced (same count), sent
     * to providers that are not on_premises, and the map that restores the values in their
     * answer (stolen by ai_router_submit; may be NULL otherwise). */
    const struct ai_message *redacted;
    struct ai_redaction *redaction;
    /* What the built-in local provider answers for this request (the caller computed it:
     * knowledge base, templates, NLU); NULL when local cannot answer. */
    const char *local_text;
};

struct ai_attempt {
    char provider[32];
    char model[128];
    enum ai_outcome outcome;
    int http_status;
    int64_t latency_ms;
    int64_t first_token_ms; /* streams: -1 when none */
    struct ai_usage usage;
    bool redacted;
    char error[256];
};

struct ai_result {
    struct ai_reply reply; /* the answer (outcome AI_OK) or the last failure */
    char provider[32];     /* who answered ("" when nobody) */
    char model[128];
    struct ai_attempt attempts[AI_MAX_ATTEMPTS];
    size_t nattempts;
    int64_t latency_ms; /* submit → done */
    bool redacted;      /* the text went out redacted (and was restored) */
    float *vectors;     /* AI_TASK_EMBEDDING: nvectors × dim (dk_malloc'd) */
    size_t nvectors, dim;
};
void ai_result_free(struct ai_result *r);

struct ai_router;
/* cfg is copied; http carries the network calls. Main thread. */
struct ai_router *ai_router_new(const struct ai_config *cfg, struct ai_http *http);
void ai_router_free(struct ai_router *r);
const struct ai_config *ai_router_config(const struct ai_router *r);

/* Called once with the outcome; takes ownership of res (ai_result_free). Loop thread. */
typedef void (*ai_done_fn)(void *arg, struct ai_result *res);

/* Runs req through its route: each provider in order (skipping open circuits, spent budgets
 * and, under privacy, cloud providers), retrying transient failures with backoff (honouring
 * Retry-After), falling back on failure; streams deltas to on_delta (may be NULL) from the
 * provider that answers (a provider that failed after streaming text is not replaced: the
 * result is then that failure). req is copied. *id (may be NULL) receives the call's id
 * before the call can start (done may run on the loop thread before this returns). Any
 * thread. */
void ai_router_submit(struct ai_router *r, const struct ai_request *req, ai_delta_fn on_delta,
                      ai_done_fn done, void *arg, uint64_t *id);
/* Stops a call: its done callback sees AI_ERR_CANCELED (nothing when it already finished).
 * Any thread. */
void ai_router_cancel(struct ai_router *r, uint64_t id);
/* Cancels every call in flight (shutdown). Any thread. */
void ai_router_cancel_all(struct ai_router *r);
/* Whether target ("auto", "provider", "provider/model" or a configured model name) names
 * something configured; DK_ENOTFOUND with err otherwise. NULL and "auto" are the route. */
int ai_router_resolve(const struct ai_router *r, const char *target, struct dk_err *err);
/* Whether the steps for target (as ai_router_submit resolves it) include the built-in local
 * provider, i.e. whether a request's local_text can be used. */
bool ai_router_reaches_local(const struct ai_router *r, enum ai_task task, const char *target);
/* Calls in flight. Any thread. */
int ai_router_inflight(const struct ai_router *r);
/* The configured provider/model pairs with their availability (circuit state), in OpenAI's
 * list format: {"object":"list","data":[{"id","object":"model","created","owned_by",
 * "available"}]} (new). */
json_t *ai_router_models(struct ai_router *r);

#endif
