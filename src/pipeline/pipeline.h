/*
 * pipeline: the message lifecycle of DESIGN §1, one function per step.
 *
 *   ingest.c    webhook deliveries → group commit (many deliveries, one durable transaction)
 *   persist.c   one delivery's events → users, conversations, messages, events, reply jobs
 *   reply.c     the reply job: load → decide → understand → generate → store → update context
 *   understand.c the local NLU in the lifecycle: the intent model in use, retraining
 *   responder.c the built-in local responder (templates per intent, English and Russian)
 *
 * Later issues replace or add steps (NLU, LLM providers, sending) without changing the spine.
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "instagram/graph.h"
#include "instagram/instagram.h"
#include "instagram/policy.h"
#include "nlu/nlu.h"
#include "queue/queue.h"
#include "store/store.h"
#include "ai/ai.h"
#include "store/repo.h"

/* ---- persist ---- */
struct pipeline_persist_stats {
    int messages;   /* new messages stored (customer and echoes) */
    int duplicates; /* messages already stored (same mid) */
    int events;     /* reactions, reads, edits, … recorded */
    int unknown;    /* items kept raw */
    int replies;    /* reply jobs enqueued or debounced */
};

/* How long the bot stays silent in a conversation after a person answered in it from the
 * Instagram app (an echo direkt did not send). Set once at start (default 30 minutes). */
void pipeline_persist_configure(int64_t human_pause_ms);

/* The conversations touched by the deliveries of one transaction. Their customer activity
 * and their (debounced) reply jobs are written once each by pipeline_batch_flush, in
 * conversation-id order: fewer statements for bursts, and concurrent writers lock those rows in
 * one order, so they cannot deadlock on them. One owner at a time. */
struct pipeline_batch;
struct pipeline_batch *pipeline_batch_new(int64_t reply_debounce_ms);
void pipeline_batch_free(struct pipeline_batch *b);
/* Optional, for many deliveries in one transaction: collect the customers of every delivery
 * first, then resolve (find or create) their conversations once each, in sorted order, before
 * storing the deliveries. The deliveries must outlive the batch's next flush. */
void pipeline_batch_collect(struct pipeline_batch *b, const struct ig_delivery *d);
int pipeline_batch_resolve(struct store_conn *c, struct pipeline_batch *b, struct dk_err *err);
/* Writes what b collected inside the caller's transaction and empties b. */
int pipeline_batch_flush(struct store_conn *c, struct pipeline_batch *b,
                         struct pipeline_persist_stats *st, struct dk_err *err);

/* Stores every event of d, in order, inside the caller's transaction; conversations with a new
 * customer message are collected in b (flush before commit). Worker or writer thread. */
int pipeline_persist_delivery(struct store_conn *c, const struct ig_delivery *d,
                              struct pipeline_batch *b, struct pipeline_persist_stats *st,
                              struct dk_err *err);

/* One delivery of a group commit: the raw body and its parse (borrowed), and what storing it
 * gave: the webhook event id and whether the same body was stored before. */
struct pipeline_input {
    const char *body; /* NUL-terminated (a body that parsed as JSON holds no NUL byte) */
    size_t len;
    const struct ig_delivery *d;
    char event_id[37];
    bool duplicate;
};
/* Stores n deliveries in the caller's transaction (see persist.c for the steps). */
int pipeline_store_deliveries(struct store_conn *c, struct pipeline_input *in, size_t n,
                              int64_t reply_debounce_ms, struct pipeline_persist_stats *st,
                              struct dk_err *err);
/* Parses and stores one raw (NUL-terminated) delivery and flushes its batch, inside the caller's
 * transaction (used by tests); *event_id receives the webhook event id. */
int pipeline_store_delivery(struct store_conn *c, const char *body, size_t len,
                            int64_t reply_debounce_ms, char event_id[37], bool *duplicate,
                            struct pipeline_persist_stats *st, struct dk_err *err);

/* ---- ingest (group commit) ---- */
struct pipeline_ingest;

/* Called once per submitted delivery on a writer thread after its batch committed (rc 0) or
 * failed (rc < 0, err says why). event_id is the stored webhook event id on success. */
typedef void (*pipeline_ingest_done_fn)(void *arg, int rc, const struct dk_err *err,
                                        const char *event_id, bool duplicate);

struct pipeline_ingest_config {
    struct store *store;
    int writers;   /* writer threads (each commits its own batches) */
    int batch_max; /* most deliveries per transaction */
    int queue_max; /* most deliveries waiting; beyond, submit fails with DK_EUNAVAIL */
    int64_t reply_debounce_ms;
    void (*on_commit)(void *arg, int replies); /* after each commit with new reply jobs */
    void *on_commit_arg;
};

struct pipeline_ingest *pipeline_ingest_start(const struct pipeline_ingest_config *cfg);
/* Hands a delivery to the writers. body (raw bytes, len, NUL-terminated) and d must stay valid
 * until done is called; d's ownership stays with the caller. Returns 0, or DK_EUNAVAIL when the
 * queue is full or the ingest is stopping (done is then not called). Any thread. */
int pipeline_ingest_submit(struct pipeline_ingest *in, const char *body, size_t len,
                           const struct ig_delivery *d, pipeline_ingest_done_fn done, void *arg,
                           struct dk_err *err);
/* Commits what is queued, then stops the writers and frees. Main thread. */
void pipeline_ingest_stop(struct pipeline_ingest *in);

/* ---- responder (built-in, local) ---- */
struct pipeline_responder;
/* Loads templates from path, or the built-in default when path is NULL.
 * NULL with err (naming the file and the problem) on failure. */
struct pipeline_responder *pipeline_responder_load(const char *path, struct dk_err *err);
void pipeline_responder_free(struct pipeline_responder *r);
/* How strongly an intent answers a burst of messages: 0 for "other", higher for more specific
 * intents (the responder's own order). */
int pipeline_responder_priority(const char *intent);
/* The reply template for intent and language ("handover" when there is none). Borrowed. */
const char *pipeline_responder_reply(const struct pipeline_responder *r, const char *intent,
                                     const char *lang);

/* ---- the local answer: the knowledge base, else the template (answer.c) ---- */
struct ai_kb_entry;
struct pipeline_nlu;
/* The built-in answer to text (the burst's customer text) for an intent in lang: the best
 * knowledge entry of the account when it matches well enough, else the intent's template.
 * *kb_id is the entry used (0 for a template). New string. */
char *pipeline_local_answer(struct nlu_ctx *ctx, const struct pipeline_responder *r,
                            const struct ai_kb_entry *kb, size_t nkb, const char *text,
                            const char *intent, const char *lang, int64_t *kb_id);
/* The same when the entries were ranked already: best is the top entry (NULL: none) and score
 * its score. */
char *pipeline_local_pick(const struct pipeline_responder *r, const struct ai_kb_entry *best,
                          double score, const char *intent, const char *lang, int64_t *kb_id);
/* The same, with the account's knowledge entries read through c (account_id NULL: the global
 * ones). *out is new. */
int pipeline_local_answer_db(struct store_conn *c, const struct pipeline_responder *r,
                             const char *account_id, const char *text, const char *intent,
                             const char *lang, char **out, int64_t *kb_id, struct dk_err *err);
/* Knowledge rows as the ai module's entries (new array, dk_free; strings borrowed). */
struct store_kb_entry;
struct ai_kb_entry *pipeline_kb_view(const struct store_kb_entry *kb, size_t n);
/* The built-in answer to a text on its own (no conversation): its intent and language by the
 * NLU, the account's knowledge (account_id NULL: the global entries), else the template. *out
 * is new. */
int pipeline_local_reply(struct store_conn *c, const struct pipeline_responder *r,
                         struct pipeline_nlu *nlu, const char *account_id, const char *text,
                         char **out, struct dk_err *err);
/* Most knowledge entries loaded for one answer. */
#define PIPELINE_KB_MAX 500

/* ---- personal data bound for an LLM (privacy.c) ---- */
struct pipeline_privacy {
    bool has_pii;
    struct ai_message *red; /* the messages with placeholders (REDACT), or NULL */
    char **strings;         /* red's texts (owned) */
    size_t n;
    struct ai_redaction *map;
};
/* Under mode: whether msgs hold personal data and, for AI_PRIVACY_REDACT, their redacted copy.
 * *out is cleared first; release with pipeline_privacy_clear. DK_E* for text the NLU refuses
 * (invalid UTF-8, too long). */
int pipeline_privacy_apply(enum ai_privacy mode, const struct ai_message *msgs, size_t n,
                           struct pipeline_privacy *out, struct dk_err *err);
/* Puts p's findings into req; the map goes with the request (the router frees it). */
void pipeline_privacy_request(struct pipeline_privacy *p, struct ai_request *req);
void pipeline_privacy_clear(struct pipeline_privacy *p);

/* ---- generation with the AI router (generate.c) ---- */
struct ai_router;
struct ai_result;
struct pipeline_gen;
struct pipeline_gen_config {
    struct store *store;
    struct ai_router *router;
    const struct pipeline_responder *responder;
    struct pipeline_nlu *nlu;
    int max_inflight; /* LLM generations in flight in this process (default 4096) */
};
/* Starts the finisher thread that stores what the router's calls gave. Main thread. */
struct pipeline_gen *pipeline_gen_start(const struct pipeline_gen_config *cfg);
/* Waits up to timeout_ms for the router's calls in flight and the finisher's queue (the HTTP
 * loop must still run). Main thread. NULL accepted. */
void pipeline_gen_wait(struct pipeline_gen *g, int64_t timeout_ms);
/* Stores what is queued, stops the finisher and frees (after the HTTP loop stopped, so that
 * canceled calls were handed over). Main thread. NULL accepted. */
void pipeline_gen_stop(struct pipeline_gen *g);
struct ai_router *pipeline_gen_router(const struct pipeline_gen *g);
/* Whether replies go to an LLM first (the reply route does not start with "local"). */
bool pipeline_gen_uses_llm(const struct pipeline_gen *g);
/* Whether an intent below this confidence is asked of an LLM (local-first). */
bool pipeline_gen_asks_intent(const struct pipeline_gen *g, double confidence);

/* Stores a router result's attempts in ai_calls (path "local" for the built-in provider),
 * in the caller's transaction. */
int pipeline_record_calls(struct store_conn *c, const struct ai_result *res, const char *task,
                          const char *account_id, const char *conversation_id, struct dk_err *err);

/* A finished router call handed to the finisher: it records the attempts, runs work (may be
 * NULL) in the same transaction, commits, then calls after (may be NULL) with the outcome and
 * the connection (in no transaction; NULL when the database is unreachable).
 * Takes ownership of res (freed after after returns); res is NULL for work that is not an AI
 * call (deliveries). Any thread. */
typedef int (*pipeline_gen_work_fn)(struct store_conn *c, void *arg, struct ai_result *res,
                                    struct dk_err *err);
typedef void (*pipeline_gen_after_fn)(void *arg, struct store_conn *c, struct ai_result *res,
                                      int rc, const struct dk_err *err);
void pipeline_gen_finish(struct pipeline_gen *g, struct ai_result *res, const char *task,
                         const char *account_id, const char *conversation_id,
                         pipeline_gen_work_fn work, pipeline_gen_after_fn after, void *arg);

/* A reply prompt for a conversation, ready for the router (pipeline_draft_free). */
struct pipeline_draft;
/* Gathers the conversation, its recent messages, the customer's profile, the account's AI
 * settings and knowledge, and the local answer; intent/lang NULL: from the conversation's
 * context. DK_ENOTFOUND for an unknown conversation. */
int pipeline_draft_prepare(struct store_conn *c, struct pipeline_gen *g, const char *conv_id,
                           const char *intent, const char *lang, struct pipeline_draft **out,
                           struct dk_err *err);
void pipeline_draft_free(struct pipeline_draft *d);
/* The router request of a draft (borrowed from it; target may be NULL, stream as asked). */
void pipeline_draft_request(struct pipeline_draft *d, const char *target, bool stream,
                            struct ai_request *out);
const char *pipeline_draft_local_text(const struct pipeline_draft *d);
const char *pipeline_draft_account(const struct pipeline_draft *d);
/* The final text of a draft's result: the LLM's answer when it passes the checks, else the
 * local answer; *meta (new object) tells who answered, and why a fallback happened. New. */
char *pipeline_draft_final_text(struct pipeline_draft *d, const struct ai_result *res,
                                json_t **meta);

/* ---- the reply job ---- */
struct pipeline_reply_ctx {
    const struct pipeline_responder *responder;
    struct pipeline_nlu *nlu;
    const struct nlu_model *sentiment_model; /* NULL: the lexicons */
    struct pipeline_gen *gen;                /* NULL: replies only from the built-in answers */
    int64_t test_delay_ms;                   /* test hook: sleep inside the job's transaction */
    struct pipeline_deliver *deliver;        /* NULL: replies wait as pending_send */
    const struct pipeline_ig_config *ig;
};
/* queue_handler_fn for kind "reply"; ctx is a struct pipeline_reply_ctx. */
int pipeline_reply_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                       struct dk_err *err);

#define PIPELINE_JOB_REPLY "reply"
/* queue_handler_fn for kind "ai_reply" (own_tx): one step of an LLM reply (the intent when the
 * local one was unsure, then the reply), handed to the router; DK_EPENDING while it runs. */
int pipeline_ai_reply_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                          struct dk_err *err);
#define PIPELINE_JOB_AI_REPLY "ai_reply"
/* The conversation summary (summary.c): after every PIPELINE_SUMMARY_EVERY customer messages
 * answered by an LLM, a job "ai_summary" asks the summary route for a short summary of the
 * recent messages and keeps it in context.summary (the reply prompt's memory of what came
 * before its window). */
#define PIPELINE_SUMMARY_EVERY  8
#define PIPELINE_JOB_AI_SUMMARY "ai_summary"
/* Queues a summary when the conversation's context (borrowed) counts enough customer messages
 * since the last one, in the caller's transaction. */
int pipeline_summary_maybe(struct store_conn *c, const char *conv_id, const json_t *ctx,
                           struct dk_err *err);
/* queue_handler_fn for kind "ai_summary" (own_tx, DK_EPENDING while the router works). */
int pipeline_ai_summary_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                            struct dk_err *err);

/* ---- understand: the NLU in the lifecycle (understand.c) ---- */
/* The intent model in use, shared by every thread of a process and swapped atomically when a
 * newer trained version is ready in the database. */
struct pipeline_nlu;
struct pipeline_nlu_model; /* a counted reference to one model version */
/* s (may be NULL) serves the checks of callers that pass no connection. */
struct pipeline_nlu *pipeline_nlu_new(struct store *s);
void pipeline_nlu_free(struct pipeline_nlu *h);
/* A reference to the model in use (release with pipeline_nlu_release). At most once a second
 * it first looks for a newer ready model (through c, or a connection of the holder's store when
 * c is NULL) and loads it; a failure to load is logged and the old model stays. Any thread. */
struct pipeline_nlu_model *pipeline_nlu_acquire(struct pipeline_nlu *h, struct store_conn *c);
void pipeline_nlu_release(struct pipeline_nlu_model *r);
const struct nlu_model *pipeline_nlu_model_get(const struct pipeline_nlu_model *r);
/* nlu_models.id of the version, 0 for the built-in model. */
int64_t pipeline_nlu_model_version(const struct pipeline_nlu_model *r);
/* This thread's NLU scratch context (created on first use, freed when the thread ends). */
struct nlu_ctx *pipeline_nlu_thread_ctx(void);
/* The examples a retraining uses: the built-in ones of enabled intents plus the business's. */
int pipeline_nlu_training_set(struct store_conn *c, struct nlu_dataset *out, struct dk_err *err);
/* Trains on that set and stores the result as a new model version (ready, or failed with the
 * reason); *version is its id. Called outside a transaction, it reads, trains with no lock held
 * and stores in a short transaction of its own; inside one, it stays in the caller's. */
int pipeline_nlu_retrain(struct store_conn *c, int64_t *version, struct dk_err *err);
/* Queues a retraining (one at a time) in the caller's transaction. */
int pipeline_nlu_schedule_retrain(struct store_conn *c, struct dk_err *err);
/* queue_handler_fn for kind "nlu_train" (an own_tx kind: see struct queue_kind). */
int pipeline_nlu_train_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                           struct dk_err *err);

#define PIPELINE_JOB_NLU_TRAIN "nlu_train"

/* ---- Instagram out: accounts, delivery, profiles, history (graph.c, deliver.c, profile.c,
 * import.c) ---- */

/* The Instagram settings of the pipeline (from the app's configuration). Read-only. */
struct pipeline_ig_config {
    const char *graph_url;     /* IG_GRAPH_URL */
    const char *graph_version; /* IG_GRAPH_VERSION ("" or NULL: none) */
    const char *access_token;  /* IG_ACCESS_TOKEN: for accounts without a token, or NULL */
    bool has_secret_key;       /* DIREKT_SECRET_KEY was given */
    unsigned char secret_key[32];
    int64_t send_rate;      /* DIREKT_IG_SEND_RATE: sends per second per account */
    bool human_agent;       /* DIREKT_IG_HUMAN_AGENT */
    int64_t human_pause_ms; /* DIREKT_HUMAN_PAUSE_MS */
    int64_t profile_ttl_ms; /* DIREKT_PROFILE_TTL_MS */
    int64_t confirm_ms;     /* DIREKT_IG_CONFIRM_MS: an interrupted send waits this long for
                               its echo before it is given up (never sent twice) */
};

/* Where and as whom to call the Graph API for one account. */
struct pipeline_graph {
    struct ig_graph g;         /* ready to pass to ig_build_* (points into this struct) */
    struct store_account acct; /* the account's row; acct.id "" when it has none */
    char account_id[65];
    char *token;  /* new: opened from the account's row, else IG_ACCESS_TOKEN; NULL: none */
    bool known;   /* the account has a row */
    bool dry_run; /* no token at all: sends are recorded, not made */
};
/* Fills out for account_id: the row's flavour and page, the token opened with the secret key
 * (DK_EINVAL with a clear message when the key is missing or wrong), else cfg->access_token,
 * else dry_run. An account without a row is fine (known false). */
int pipeline_graph_for(struct store_conn *c, const struct pipeline_ig_config *cfg,
                       const char *account_id, struct pipeline_graph *out, struct dk_err *err);
void pipeline_graph_clear(struct pipeline_graph *pg);

/* One Graph call, waiting for its answer on the calling thread (never an HTTP server thread:
 * use ai_http_submit with a suspended request there). *status (0 when no answer) and *body
 * (new, "" when none) as received; the result classified into *res. Returns 0 when an answer
 * (any status) arrived, else the transport's DK_* code. */
int pipeline_graph_call(struct ai_http *http, const struct ig_request *req, int64_t timeout_ms,
                        struct ig_result *res, char **body, struct dk_err *err);
/* The outbound HTTP request of req, for ai_http_submit: method, URL and body (borrowed from
 * req), its auth header and, with a body, "Content-Type: application/json" in headers (room
 * for 2), and timeout_ms; on_done and arg are the caller's to set. */
void pipeline_graph_http_req(const struct ig_request *req, int64_t timeout_ms,
                             const char *headers[2], struct ai_http_req *out);

/* Profiles for messaging (profile.c): users.profile_data served while younger than
 * cfg->profile_ttl_ms, else fetched with the token of the account of the customer's most
 * recent conversation and stored (profile_data, profile_fetched_at, username, full_name). */
struct pipeline_profile_fetch {
    char instagram_id[65];
    int64_t user_id;
    char account_id[65];
    bool account_known;  /* the account has a row (a token error marks it needs_reauth) */
    const char *problem; /* static, with DK_ECONFLICT: "no_account" or "no_token" */
    json_t *stored;      /* the stored profile (new, {} when none) */
    int64_t stored_ms;   /* when it was fetched, 0: never */
    struct ig_request req;
};
void pipeline_profile_fetch_clear(struct pipeline_profile_fetch *f);
/* Step 1, any thread: *out (new) is the answer when the cache is fresh and refresh is false;
 * else *out is NULL and f->req the Graph request to make. DK_ENOTFOUND for an unknown user;
 * DK_ECONFLICT (f->problem says which; f->stored is filled) when the user has no conversation,
 * the account no token, or cfg is NULL (no Graph API in this process); pipeline_graph_for's
 * errors. Clear f in every case. */
int pipeline_profile_prepare(struct store_conn *c, const struct pipeline_ig_config *cfg,
                             const char *instagram_id, bool refresh, int64_t now_ms, json_t **out,
                             struct pipeline_profile_fetch *f, struct dk_err *err);
/* Step 2, no I/O (the HTTP loop may call it): the Graph's answer as the profile (*profile new),
 * or DK_EIO with err->status 502 and the Graph's reason. */
int pipeline_profile_answer(const struct pipeline_profile_fetch *f, const struct ig_result *res,
                            const char *body, size_t len, json_t **profile, struct dk_err *err);
/* Step 3: stores a fetched profile (profile not NULL), or marks a known account needs_reauth
 * after a token error; nothing otherwise. */
int pipeline_profile_store(struct store_conn *c, const struct pipeline_profile_fetch *f,
                           const struct ig_result *res, const json_t *profile, int64_t now_ms,
                           struct dk_err *err);
/* {"instagram_id", "profile": {the six fields, null when absent}, "fetched_at", "cached"}
 * (new; profile borrowed). */
json_t *pipeline_profile_json(const char *instagram_id, const json_t *profile, int64_t fetched_ms,
                              bool cached);
/* All three steps on a thread that may block (workers, commands): *out as above (new). */
int pipeline_profile_get(struct store_conn *c, struct ai_http *http,
                         const struct pipeline_ig_config *cfg, const char *instagram_id,
                         bool refresh, json_t **out, struct dk_err *err);

/* History import (import.c): walks the account's conversations through the Conversations API
 * page by page, storing users, conversations and messages (deduplicated by mid) and, with each
 * page in the same transaction, the position in the imports table: an interrupted import
 * continues from the page it stopped at. Customer messages are stored as "imported", never
 * "received", so that nothing old is answered. Calls are paced at 2 per second per account
 * (Meta's limit for this API); throttling and transient answers are retried with backoff. */
struct pipeline_import_progress {
    int64_t conversations; /* stored so far in this import (all runs) */
    int64_t listed;        /* conversations listed so far (the known total) */
    int64_t messages;      /* messages of the stored conversations so far */
    int64_t limit;         /* the conversation limit, 0: none */
    bool page_done;        /* called after a page was committed (else after a conversation) */
};
typedef void (*pipeline_import_progress_fn)(void *arg, const struct pipeline_import_progress *p);
struct pipeline_import_opts {
    const char *account_id;
    int64_t limit_conversations; /* stop once this many conversations are stored; 0: all */
    bool restart;                /* from the first page even when an import ran before */
    int64_t pace_ms;             /* least time between two calls (0: 500, Meta's 2/s) */
    int64_t timeout_ms;          /* per call (0: 30000) */
    int max_retries;             /* per call, for throttling and transient answers (0: 6) */
    pipeline_import_progress_fn progress;
    void *progress_arg;
};
enum pipeline_import_end {
    PIPELINE_IMPORT_DONE = 0, /* every page (or the limit) is stored */
    PIPELINE_IMPORT_ALREADY,  /* done before: nothing fetched (restart to import again) */
    PIPELINE_IMPORT_TOKEN,    /* the token was refused: the account is marked needs_reauth */
    PIPELINE_IMPORT_FAILED,   /* a Graph error, or retries exhausted: resumable */
};
struct pipeline_import_result {
    enum pipeline_import_end end;
    int64_t conversations, messages; /* totals of the import (all runs) */
    int64_t new_messages;            /* not stored before this run (the others were known) */
};
/* Runs an import on the calling thread (it blocks; not an HTTP or loop thread). Returns 0 with
 * r->end saying how it ended (err filled for TOKEN and FAILED), or a DK_* code: DK_ECONFLICT
 * when the account has no token, DK_EBUSY when another import of it is running, or what the
 * database or the account's configuration gave. */
int pipeline_import_run(struct store *s, struct ai_http *http, const struct pipeline_ig_config *cfg,
                        const struct pipeline_import_opts *o, struct pipeline_import_result *r,
                        struct dk_err *err);

/* Delivery (deliver.c): one job "send" per conversation (unique key send:<conversation id>)
 * works through its bot and operator messages waiting as pending_send, oldest first: the send
 * policy decides, the attempt is recorded (status sending) before the call, the answer is
 * stored (sent with the Instagram mid, failed with the reason, skipped with the rule, or back
 * to pending_send to retry). */
#define PIPELINE_JOB_SEND "send"
/* Queues the conversation's send job in the caller's transaction (after storing a message as
 * pending_send). */
int pipeline_send_enqueue(struct store_conn *c, const char *conversation_id, int64_t run_at_ms,
                          struct dk_err *err);
/* Comment-to-DM (comments.c): whether a rule's keyword is in a comment (whole word,
 * case-insensitive; "*" matches anything). */
bool pipeline_comment_matches(const char *keyword, const char *text);
/* A new comment event: the first matching rule's private reply (and public answer) stored as
 * pending_send in conv with the send job; *answered tells. Caller's transaction. */
int pipeline_comment_automation(struct store_conn *c, const struct ig_event *ev, const char *conv,
                                int64_t now, bool *answered, struct dk_err *err);

/* The sender: pacing, the Graph calls in flight and their results. */
struct pipeline_deliver;
struct pipeline_deliver_config {
    struct store *store;
    struct ai_http *http;     /* the outbound HTTP loop */
    struct pipeline_gen *gen; /* its finisher stores the answers */
    const struct pipeline_ig_config *ig;
};
struct pipeline_deliver *pipeline_deliver_new(const struct pipeline_deliver_config *cfg);
/* Waits until no Graph call is in flight (at most timeout_ms). Main thread. */
void pipeline_deliver_wait(struct pipeline_deliver *d, int64_t timeout_ms);
void pipeline_deliver_free(struct pipeline_deliver *d);
/* queue_handler_fn for kind "send" (own_tx); ctx is a struct pipeline_reply_ctx. */
int pipeline_send_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                      struct dk_err *err);
/* Sends the conversation's next waiting message now, in the caller's transaction: the attempt
 * is recorded there and the Graph call is made once it commits (nothing when it rolls back),
 * with the send job queued as a safety net. Without a sender (d NULL) only the job is queued.
 * The reply job uses it so that no job claim stands between a reply and its send. */
int pipeline_deliver_now(struct pipeline_deliver *d, struct store_conn *c, const char *conv_id,
                         struct dk_err *err);
/* A sender action ("typing_on", "mark_seen") to a customer, best effort: not made in dry-run,
 * outside the 24-hour window or when pacing has no room; its answer is only logged. */
void pipeline_deliver_action(struct pipeline_deliver *d, struct store_conn *c,
                             const char *account_id, const char *recipient,
                             int64_t last_user_message_ms, const char *action);
/* Queues the send jobs of an account's conversations with replies waiting (after it was
 * reconnected), in the caller's transaction. *n may be NULL. */
int pipeline_send_resume_account(struct store_conn *c, const char *account_id, int *n,
                                 struct dk_err *err);

#endif
