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
#include "instagram/instagram.h"
#include "nlu/nlu.h"
#include "queue/queue.h"
#include "store/store.h"

/* ---- persist ---- */
struct pipeline_persist_stats {
    int messages;   /* new messages stored (customer and echoes) */
    int duplicates; /* messages already stored (same mid) */
    int events;     /* reactions, reads, edits, … recorded */
    int unknown;    /* items kept raw */
    int replies;    /* reply jobs enqueued or debounced */
};

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

/* ---- the reply job ---- */
struct pipeline_reply_ctx {
    const struct pipeline_responder *responder;
    struct pipeline_nlu *nlu;
    const struct nlu_model *sentiment_model; /* NULL: the lexicons */
    int64_t test_delay_ms;                   /* test hook: sleep inside the job's transaction */
};
/* queue_handler_fn for kind "reply"; ctx is a struct pipeline_reply_ctx. */
int pipeline_reply_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                       struct dk_err *err);

#define PIPELINE_JOB_REPLY "reply"

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

#endif
