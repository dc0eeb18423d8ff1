/*
 * pipeline/deliver: replies out to Instagram, one conversation at a time, in order.
 *
 * The job "send" (unique per conversation) takes the conversation's oldest message waiting as
 * pending_send and, in one short transaction: asks the send policy (instagram/policy.c) —
 * refused: stored as skipped with the rule; not now: left waiting with the reason and the job
 * queued for later — then cuts a text over Instagram's limit into parts (each its own message,
 * in order), and records the attempt (status sending) before anything leaves. The Graph call
 * goes to the outbound HTTP loop and the worker is free at once (DK_EPENDING); the answer is
 * stored by the finisher thread (pipeline/generate.c) with the job's completion:
 *   ok          → sent, with Instagram's message id; the next message is sent at once;
 *   transient   → back to pending_send, retried with backoff (at most SEND_RETRIES times);
 *   throttled   → the whole account waits (exponential per account), then retries;
 *   window, permission, unavailable, invalid → failed with Meta's reason;
 *   token       → the account is marked needs_reauth and its sends wait for an operator;
 *   uncertain   → (a timeout, Meta's "sent but…" error) left as sending: never sent twice.
 * A message left as sending (a crash mid-call, an uncertain answer) is settled by Meta's echo
 * (persist.c matches it by text and takes its mid) or, after DIREKT_IG_CONFIRM_MS without one,
 * marked failed — never sent again.
 */
#include "pipeline/pipeline.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "pipeline/gen_int.h"

#define SEND_TIMEOUT_MS 30000
#define SEND_RETRIES    5
#define SEND_STEPS_MAX  32 /* messages settled in one run of the job before it yields */
#define THROTTLE_MAX_MS (15LL * 60 * 1000)
#define SPLIT_PARTS_MAX 64

struct pipeline_deliver {
    struct pipeline_deliver_config cfg;
    struct ig_pace *pace;
    atomic_int inflight;
};

/* One Graph call in flight: what the finisher needs once it is answered. */
struct send_call {
    struct pipeline_deliver *d;
    bool has_job;         /* sent by a send job (else straight from the reply that stored it) */
    struct queue_job job; /* copy: id, worker, attempts */
    char message_id[STORE_ID_LEN];
    char conversation_id[STORE_ID_LEN];
    char account_id[65];
    bool account_known;
    int throttle_level;
    json_t *meta;          /* the message's metadata as stored with status sending */
    struct ig_request req; /* kept until the call is made after the commit (deliver_now) */
    struct ig_result res;
};

struct pipeline_deliver *pipeline_deliver_new(const struct pipeline_deliver_config *cfg)
{
    struct pipeline_deliver *d = dk_calloc(1, sizeof(*d));
    d->cfg = *cfg;
    d->pace = ig_pace_new(cfg->ig->send_rate > 0 ? (double)cfg->ig->send_rate : 20.0);
    atomic_init(&d->inflight, 0);
    return d;
}

void pipeline_deliver_wait(struct pipeline_deliver *d, int64_t timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    while (d != NULL && atomic_load(&d->inflight) > 0 && dk_mono_ms() < until) {
        dk_sleep_ms(10);
    }
}

void pipeline_deliver_free(struct pipeline_deliver *d)
{
    if (d != NULL) {
        ig_pace_free(d->pace);
        dk_free(d);
    }
}

int pipeline_send_enqueue(struct store_conn *c, const char *conversation_id, int64_t run_at_ms,
                          struct dk_err *err)
{
    char key[64], payload[96];
    snprintf(key, sizeof(key), "send:%s", conversation_id);
    snprintf(payload, sizeof(payload), "{\"conversation_id\":\"%s\"}", conversation_id);
    return queue_enqueue(c, PIPELINE_JOB_SEND, payload, key, run_at_ms, 10, NULL, err);
}

int pipeline_send_resume_account(struct store_conn *c, const char *account_id, int *n,
                                 struct dk_err *err)
{
    json_t *ids = NULL;
    int rc = store_outbox_waiting(c, account_id, &ids, err);
    size_t i;
    json_t *id;
    int64_t now = dk_now_ms();
    json_array_foreach(ids, i, id)
    {
        if (rc == 0) {
            rc = pipeline_send_enqueue(c, json_string_value(id), now, err);
        }
    }
    if (n != NULL) {
        *n = (int)json_array_size(ids);
    }
    json_decref(ids);
    return rc;
}

/* ---- one step: the oldest waiting message of the conversation ---- */

enum step_result { STEP_DONE, STEP_NEXT, STEP_SUBMIT };

static json_t *load_meta(const char *text)
{
    json_t *m = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        m = json_object();
    }
    return m;
}

/* Moves msg from `from` to `to` with reason and meta; *moved false when someone else did. */
static int move(struct store_conn *c, const char *id, const char *from, const char *to,
                const char *reason, json_t *meta, const char *mid, bool *moved, struct dk_err *err)
{
    char *text = meta != NULL ? dk_json_dump(meta) : NULL;
    bool updated = false;
    int rc = store_outbox_set(c, id, from, to, reason, text, mid, &updated, err);
    dk_free(text);
    if (moved != NULL) {
        *moved = updated;
    }
    return rc;
}

static enum ig_send_kind send_kind(const struct store_outbox_msg *m, const json_t *meta)
{
    if (dk_json_str(meta, "public_reply_to") != NULL) {
        return IG_SEND_COMMENT_REPLY;
    }
    if (dk_json_str(meta, "comment_id") != NULL) {
        return IG_SEND_PRIVATE_REPLY;
    }
    return strcmp(m->sender_type, "agent") == 0 ? IG_SEND_HUMAN : IG_SEND_BOT;
}

static int policy_facts(struct store_conn *c, struct pipeline_deliver *d,
                        const struct store_conversation *conv, const struct pipeline_graph *pg,
                        const struct store_outbox_msg *m, const json_t *meta,
                        struct ig_policy_input *in, struct dk_err *err)
{
    memset(in, 0, sizeof(*in));
    in->kind = send_kind(m, meta);
    in->now_ms = dk_now_ms();
    in->last_user_message_ms = conv->last_user_message_ms;
    in->bot_paused_until_ms = conv->paused_until;
    in->assigned = conv->assigned_to != NULL && conv->assigned_to[0] != '\0';
    /* the hand-over message itself goes out: it tells the customer a person will answer */
    in->needs_human =
        (strcmp(conv->status, "needs_human") == 0 || strcmp(conv->status, "closed") == 0) &&
        !json_is_true(json_object_get(meta, "handover"));
    in->account_needs_reauth = pg->known && strcmp(pg->acct.status, "needs_reauth") == 0;
    in->account_disabled = pg->known && strcmp(pg->acct.status, "disabled") == 0;
    in->account_throttled_until_ms = pg->known ? pg->acct.throttled_until : 0;
    in->human_agent_enabled = d->cfg.ig->human_agent;
    const char *comment = dk_json_str(meta, "comment_id");
    if (in->kind == IG_SEND_PRIVATE_REPLY && comment != NULL) {
        char owner[STORE_ID_LEN];
        int rc = store_comment_reply_owner(c, comment, owner, err);
        if (rc != 0) {
            return rc;
        }
        in->comment_replied = owner[0] != '\0' && strcmp(owner, m->id) != 0;
        const char *at = dk_json_str(meta, "comment_at");
        if (at == NULL || dk_time_parse(at, &in->comment_created_ms) != 0) {
            in->comment_created_ms = 0;
        }
    }
    return 0;
}

/* A text over Instagram's limit becomes several messages, in order: this one keeps the first
 * part, the others follow it 1 ms apart. */
static int split_long(struct store_conn *c, const char *conv_id, struct store_outbox_msg *m,
                      json_t *meta, struct dk_err *err)
{
    if (m->content == NULL || strlen(m->content) <= IG_TEXT_MAX) {
        return 0;
    }
    struct ig_span parts[SPLIT_PARTS_MAX];
    size_t n = ig_split_text(m->content, IG_TEXT_MAX, parts, SPLIT_PARTS_MAX);
    if (n > SPLIT_PARTS_MAX) {
        n = SPLIT_PARTS_MAX; /* 64 kB of reply: the rest is not sent */
    }
    if (n == 0) {
        return 0;
    }
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        char *text = dk_strndup(m->content + parts[i].off, parts[i].len);
        json_t *pm = json_pack("{s:s, s:I, s:I}", "part_of", m->id, "part", (json_int_t)i + 1,
                               "parts", (json_int_t)n);
        char *pmeta = dk_json_dump(pm);
        json_decref(pm);
        struct store_message part = {.conversation_id = conv_id,
                                     .sender_type = m->sender_type,
                                     .message_type = "text",
                                     .content = text,
                                     .metadata = pmeta,
                                     .status = "pending_send",
                                     .created_ms = m->created_ms + (int64_t)i};
        bool inserted;
        rc = store_message_insert(c, &part, &inserted, err);
        dk_free(text);
        dk_free(pmeta);
    }
    char *first = dk_strndup(m->content + parts[0].off, parts[0].len);
    if (rc == 0) {
        rc = store_outbox_set_content(c, m->id, first, err);
    }
    dk_free(m->content);
    m->content = first;
    json_object_set_new(meta, "part", json_integer(1));
    json_object_set_new(meta, "parts", json_integer((json_int_t)n));
    return rc;
}

/* The Graph request for the message (quick replies and an attachment from its metadata). */
static int build_request(const struct pipeline_graph *pg, const struct store_outbox_msg *m,
                         const json_t *meta, const char *tag, struct ig_request *req,
                         struct dk_err *err)
{
    const char *public_to = dk_json_str(meta, "public_reply_to");
    if (public_to != NULL) {
        return ig_build_comment_reply(&pg->g, public_to, m->content, req, err);
    }
    struct ig_quick_reply quick[IG_QUICK_REPLIES_MAX + 1];
    size_t nquick = 0;
    json_t *qr = json_object_get(meta, "quick_replies");
    size_t i;
    json_t *q;
    json_array_foreach(qr, i, q)
    {
        if (nquick <= IG_QUICK_REPLIES_MAX) {
            quick[nquick].title = dk_json_str(q, "title");
            quick[nquick].payload = dk_json_str(q, "payload");
            nquick++;
        }
    }
    json_t *att = json_object_get(meta, "attachment");
    struct ig_outgoing out = {
        .recipient_id = dk_json_str(meta, "comment_id") == NULL ? m->recipient : NULL,
        .comment_id = dk_json_str(meta, "comment_id"),
        .text = m->content != NULL && m->content[0] != '\0' ? m->content : NULL,
        .attachment_type = dk_json_str(att, "type"),
        .attachment_url = dk_json_str(att, "url"),
        .quick = nquick > 0 ? quick : NULL,
        .nquick = nquick,
        .tag = tag,
    };
    return ig_build_send(&pg->g, &out, req, err);
}

/* Records the attempt and hands the call to the HTTP loop's caller (STEP_SUBMIT). */
static int start_call(struct store_conn *c, struct pipeline_deliver *d, const struct queue_job *job,
                      const struct store_conversation *conv, const struct pipeline_graph *pg,
                      const struct store_outbox_msg *m, json_t *meta, const char *tag,
                      struct send_call **call, bool *moved, struct dk_err *err)
{
    json_t *send = json_object_get(meta, "send");
    if (!json_is_object(send)) {
        send = json_object();
        json_object_set_new(meta, "send", send);
    }
    char ts[DK_TIME_LEN];
    int64_t now = dk_now_ms();
    json_object_set_new(send, "attempts",
                        json_integer(json_integer_value(json_object_get(send, "attempts")) + 1));
    json_object_set_new(send, "at", json_string(dk_time_format(now, ts)));
    json_object_set_new(send, "tag", tag != NULL ? json_string(tag) : json_null());
    int rc = move(c, m->id, "pending_send", "sending", NULL, meta, NULL, moved, err);
    if (rc == 0 && *moved && job != NULL) {
        rc = queue_extend_lease(c, job, now + SEND_TIMEOUT_MS + 15000, err);
    }
    if (rc != 0 || !*moved) {
        return rc;
    }
    struct send_call *sc = dk_calloc(1, sizeof(*sc));
    sc->d = d;
    sc->has_job = job != NULL;
    if (job != NULL) {
        gen_job_copy(&sc->job, job);
    }
    memcpy(sc->message_id, m->id, STORE_ID_LEN);
    memcpy(sc->conversation_id, conv->id, STORE_ID_LEN);
    snprintf(sc->account_id, sizeof(sc->account_id), "%s", conv->account_id);
    sc->account_known = pg->known;
    sc->throttle_level = pg->known ? pg->acct.throttle_level : 0;
    sc->meta = json_incref(meta);
    *call = sc;
    return 0;
}

static int refuse(struct store_conn *c, const struct store_outbox_msg *m, json_t *meta,
                  const struct ig_policy_result *pr, const char *conv_id, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    json_object_set_new(meta, "policy",
                        json_pack("{s:s, s:s, s:s}", "rule", pr->rule, "reason", pr->reason, "at",
                                  dk_time_format(dk_now_ms(), ts)));
    DK_INFO("conversation %s: message %s not sent (%s): %s", conv_id, m->id, pr->rule, pr->reason);
    return move(c, m->id, "pending_send", "skipped", pr->reason, meta, NULL, NULL, err);
}

static int step(struct pipeline_deliver *d, struct store_conn *c, const struct queue_job *job,
                const char *conv_id, struct send_call **call, struct ig_request *req,
                enum step_result *out, struct dk_err *err)
{
    *out = STEP_DONE;
    struct store_conversation conv;
    int rc = store_conversation_load(c, conv_id, &conv, err);
    if (rc == DK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    struct store_outbox_msg m;
    bool found = false;
    struct pipeline_graph pg = {0};
    json_t *meta = NULL;
    int64_t now = dk_now_ms();
    rc = store_outbox_next(c, conv_id, &m, &found, err);
    if (rc != 0 || !found) {
        goto done;
    }
    meta = load_meta(m.metadata);
    if (strcmp(m.status, "sending") == 0) {
        /* an attempt whose answer never arrived: wait for its echo, then give it up */
        int64_t at = 0;
        const char *ts = dk_json_str(json_object_get(meta, "send"), "at");
        if (ts == NULL || dk_time_parse(ts, &at) != 0) {
            at = 0;
        }
        if (now < at + d->cfg.ig->confirm_ms) {
            rc = pipeline_send_enqueue(c, conv_id, at + d->cfg.ig->confirm_ms, err);
            goto done;
        }
        DK_WARN("conversation %s: message %s: the send was interrupted and no echo confirmed it; "
                "not sent again",
                conv_id, m.id);
        rc = move(c, m.id, "sending", "failed",
                  "unconfirmed: the send was interrupted and no echo arrived (not sent again)",
                  NULL, NULL, NULL, err);
        *out = STEP_NEXT;
        goto done;
    }
    rc = pipeline_graph_for(c, d->cfg.ig, conv.account_id, &pg, err);
    if (rc != 0) {
        goto done;
    }
    struct ig_policy_input in;
    rc = policy_facts(c, d, &conv, &pg, &m, meta, &in, err);
    if (rc != 0) {
        goto done;
    }
    struct ig_policy_result pr;
    ig_policy_decide(&in, &pr);
    if (pr.decision == IG_ALLOW && !pg.dry_run) {
        in.pace_wait_ms = ig_pace_take(d->pace, conv.account_id, dk_mono_ms());
        if (in.pace_wait_ms > 0) {
            ig_policy_decide(&in, &pr);
        }
    }
    if (pr.decision == IG_REFUSE) {
        rc = refuse(c, &m, meta, &pr, conv_id, err);
        *out = STEP_NEXT;
        goto done;
    }
    if (pr.decision == IG_DEFER) {
        rc = move(c, m.id, "pending_send", "pending_send", pr.reason, NULL, NULL, NULL, err);
        if (rc == 0 && pr.defer_until_ms > 0) {
            rc = pipeline_send_enqueue(c, conv_id, pr.defer_until_ms, err);
        }
        goto done;
    }
    rc = split_long(c, conv_id, &m, meta, err);
    if (rc != 0) {
        goto done;
    }
    if (pg.dry_run) {
        char ts[DK_TIME_LEN];
        json_object_set_new(meta, "send",
                            json_pack("{s:b, s:s}", "dry_run", 1, "at", dk_time_format(now, ts)));
        rc = move(c, m.id, "pending_send", "sent", "dry run: no access token", meta, NULL, NULL,
                  err);
        *out = STEP_NEXT;
        goto done;
    }
    struct dk_err berr = {0};
    if (build_request(&pg, &m, meta, pr.tag, req, &berr) != 0) {
        char reason[sizeof(berr.msg) + 32];
        snprintf(reason, sizeof(reason), "invalid message: %s", berr.msg);
        rc = move(c, m.id, "pending_send", "failed", reason, NULL, NULL, NULL, err);
        *out = STEP_NEXT;
        goto done;
    }
    bool moved = false;
    rc = start_call(c, d, job, &conv, &pg, &m, meta, pr.tag, call, &moved, err);
    if (rc == 0) {
        *out = moved ? STEP_SUBMIT : STEP_DONE; /* not moved: another job has it */
    }
done:
    json_decref(meta);
    pipeline_graph_clear(&pg);
    store_outbox_msg_clear(&m);
    store_conversation_clear(&conv);
    return rc;
}

/* ---- the answer, stored by the finisher ---- */

static void call_free(struct send_call *sc)
{
    json_decref(sc->meta);
    ig_request_clear(&sc->req);
    dk_free(sc);
}

/* Throttled: the whole account waits 2^level seconds (at most THROTTLE_MAX_MS). */
static int throttle_account(struct store_conn *c, struct send_call *sc, int64_t now, int64_t *until,
                            struct dk_err *err)
{
    int level = sc->throttle_level + 1;
    int64_t wait = level >= 20 ? THROTTLE_MAX_MS : 1000LL << (level - 1);
    if (wait > THROTTLE_MAX_MS) {
        wait = THROTTLE_MAX_MS;
    }
    *until = now + wait;
    if (!sc->account_known) {
        /* an account without a row (IG_ACCESS_TOKEN): the row keeps its throttling */
        int rc = store_account_ensure(c, sc->account_id, now, err);
        if (rc != 0) {
            return rc;
        }
    }
    return store_account_throttle(c, sc->account_id, *until, level, now, err);
}

static int mark_reauth(struct store_conn *c, struct send_call *sc, const char *reason, int64_t now,
                       struct dk_err *err)
{
    int rc = 0;
    if (!sc->account_known) {
        rc = store_account_ensure(c, sc->account_id, now, err);
    }
    if (rc == 0) {
        rc = store_account_set_status(c, sc->account_id, "needs_reauth", reason, now, err);
    }
    DK_ERROR("account %s needs re-authentication (%s): its sends wait until it is connected "
             "again with `direkt account add`",
             sc->account_id, reason);
    return rc;
}

/* After a message went out: the next one at once when the conversation has more waiting;
 * else no send job is needed (*next_at 0), and the safety net queued by deliver_now goes. */
static int more_waiting(struct store_conn *c, struct send_call *sc, int64_t *next_at,
                        struct dk_err *err)
{
    struct store_outbox_msg m;
    bool found = false;
    int rc = store_outbox_next(c, sc->conversation_id, &m, &found, err);
    store_outbox_msg_clear(&m);
    if (rc != 0 || found) {
        return rc;
    }
    *next_at = 0;
    char key[64];
    snprintf(key, sizeof(key), "send:%s", sc->conversation_id);
    return sc->has_job ? 0 : queue_dequeue(c, key, NULL, err);
}

static int finish_send(struct store_conn *c, void *arg, struct ai_result *ai, struct dk_err *err)
{
    (void)ai;
    struct send_call *sc = arg;
    const struct ig_result *r = &sc->res;
    int64_t now = dk_now_ms();
    char reason[400];
    ig_result_reason(r, reason, sizeof(reason));
    json_t *send = json_object_get(sc->meta, "send");
    json_object_set_new(send, "outcome", json_string(ig_outcome_name(r->outcome)));
    if (r->code != 0) {
        json_object_set_new(send, "error",
                            json_pack("{s:i, s:i, s:s}", "code", r->code, "subcode", r->subcode,
                                      "message", r->message));
    }
    const char *id = sc->message_id;
    int rc = 0;
    int64_t next_at = now; /* when the conversation's next message may go */
    switch (r->outcome) {
    case IG_OK:
        json_object_del(send, "error");
        rc = move(c, id, "sending", "sent", NULL, sc->meta, r->message_id, NULL, err);
        if (rc == 0 && sc->account_known && sc->throttle_level > 0) {
            rc = store_account_throttle(c, sc->account_id, 0, 0, now, err);
        }
        if (rc == 0) {
            rc = more_waiting(c, sc, &next_at, err);
        }
        break;
    case IG_RETRY: {
        json_int_t retries = json_integer_value(json_object_get(send, "retries")) + 1;
        json_object_set_new(send, "retries", json_integer(retries));
        if (retries > SEND_RETRIES) {
            char why[480];
            snprintf(why, sizeof(why), "gave up after %d attempts: %s", SEND_RETRIES + 1, reason);
            rc = move(c, id, "sending", "failed", why, sc->meta, NULL, NULL, err);
        } else {
            char why[480];
            snprintf(why, sizeof(why), "retrying: %s", reason);
            rc = move(c, id, "sending", "pending_send", why, sc->meta, NULL, NULL, err);
            next_at = now + queue_backoff_ms((int)retries);
        }
        break;
    }
    case IG_THROTTLED:
        rc = throttle_account(c, sc, now, &next_at, err);
        if (rc == 0) {
            rc = move(c, id, "sending", "pending_send",
                      "waiting: Instagram is throttling this account", sc->meta, NULL, NULL, err);
        }
        break;
    case IG_TOKEN:
        rc = move(c, id, "sending", "pending_send", "waiting: account needs re-authentication",
                  sc->meta, NULL, NULL, err);
        if (rc == 0) {
            rc = mark_reauth(c, sc, reason, now, err);
        }
        next_at = 0; /* resumed when the account is connected again */
        break;
    case IG_UNCERTAIN: {
        /* it may have gone out: Meta's echo settles it; never sent again */
        rc = move(c, id, "sending", "sending", reason, sc->meta, NULL, NULL, err);
        const char *ts = dk_json_str(send, "at");
        int64_t at = now;
        if (ts == NULL || dk_time_parse(ts, &at) != 0) {
            at = now;
        }
        next_at = at + sc->d->cfg.ig->confirm_ms;
        break;
    }
    default: /* window, permission, unavailable, invalid: Meta said no */
        DK_WARN("conversation %s: message %s failed: %s", sc->conversation_id, id, reason);
        rc = move(c, id, "sending", "failed", reason, sc->meta, NULL, NULL, err);
        break;
    }
    if (rc == 0 && next_at > 0) {
        rc = pipeline_send_enqueue(c, sc->conversation_id, next_at, err);
    }
    return rc == 0 && sc->has_job ? queue_complete(c, &sc->job, err) : rc;
}

static void after_send(void *arg, struct store_conn *c, struct ai_result *ai, int rc,
                       const struct dk_err *err)
{
    (void)ai;
    struct send_call *sc = arg;
    if (sc->has_job) {
        gen_job_outcome(c, &sc->job, rc, err);
    } else if (rc != 0) {
        /* the message stays sending: the conversation's send job settles it later */
        DK_WARN("could not store the answer to message %s: %s", sc->message_id, err->msg);
    }
    atomic_fetch_sub(&sc->d->inflight, 1);
    call_free(sc);
}

/* On the HTTP loop thread: classify and hand to the finisher. */
static void send_done(void *arg, const struct ai_http_resp *resp)
{
    struct send_call *sc = arg;
    if (resp->status > 0) {
        ig_parse_result(resp->status, resp->body, resp->len, &sc->res);
    } else {
        /* a timeout or a cancel may come after Meta got the request; a failed connection
         * did not reach it */
        bool sent = resp->error == DK_ETIMEOUT || resp->error == DK_ECANCELED;
        ig_transport_result(resp->error, sent, resp->error_msg, &sc->res);
    }
    DK_DEBUG("conversation %s: graph answered %d (%s) in %lld ms", sc->conversation_id,
             resp->status, ig_outcome_name(sc->res.outcome), (long long)resp->elapsed_ms);
    pipeline_gen_finish(sc->d->cfg.gen, NULL, "send", sc->account_id, sc->conversation_id,
                        finish_send, after_send, sc);
}

/* Hands req to the outbound HTTP loop; on_done(arg) runs on its thread. */
static void submit(struct pipeline_deliver *d, const struct ig_request *req, int64_t timeout_ms,
                   void (*on_done)(void *, const struct ai_http_resp *), void *arg)
{
    const char *headers[2];
    struct ai_http_req hr;
    pipeline_graph_http_req(req, timeout_ms, headers, &hr);
    hr.max_response = 1u << 20;
    hr.on_done = on_done;
    hr.arg = arg;
    atomic_fetch_add(&d->inflight, 1);
    ai_http_submit(d->cfg.http, &hr);
}

int pipeline_send_job(void *ctx, struct store_conn *c, const struct queue_job *job,
                      struct dk_err *err)
{
    const struct pipeline_reply_ctx *rctx = ctx;
    struct pipeline_deliver *d = rctx->deliver;
    const char *conv_id = dk_json_str(job->payload, "conversation_id");
    if (conv_id == NULL || !store_is_uuid(conv_id)) {
        return dk_err_set(err, DK_EINVAL, "send job without a valid conversation_id");
    }
    if (d == NULL) {
        return dk_err_set(err, DK_EUNAVAIL, "this process does not send");
    }
    for (int i = 0; i < SEND_STEPS_MAX; i++) {
        struct send_call *sc = NULL;
        struct ig_request req = {0};
        enum step_result r = STEP_DONE;
        int rc = store_begin(c, err);
        if (rc == 0) {
            rc = step(d, c, job, conv_id, &sc, &req, &r, err);
        }
        if (rc == 0) {
            rc = store_commit(c, err);
        } else if (store_in_tx(c)) {
            store_rollback(c);
        }
        if (rc != 0 || r != STEP_SUBMIT) {
            ig_request_clear(&req);
            if (sc != NULL) {
                call_free(sc);
            }
            if (rc != 0 || r == STEP_DONE) {
                return rc;
            }
            continue;
        }
        submit(d, &req, SEND_TIMEOUT_MS, send_done, sc);
        ig_request_clear(&req);
        return DK_EPENDING;
    }
    /* many settled at once: the rest in a later run, after other jobs had their turn */
    int rc = store_begin(c, err);
    if (rc == 0) {
        rc = pipeline_send_enqueue(c, conv_id, dk_now_ms(), err);
        if (rc == 0) {
            rc = store_commit(c, err);
        } else {
            store_rollback(c);
        }
    }
    return rc;
}

/* ---- sender actions: best effort ---- */

static void action_done(void *arg, const struct ai_http_resp *resp)
{
    struct pipeline_deliver *d = arg;
    if (resp->status != 200) {
        DK_DEBUG("sender action not made: status %d %s", resp->status, resp->error_msg);
    }
    atomic_fetch_sub(&d->inflight, 1);
}

void pipeline_deliver_action(struct pipeline_deliver *d, struct store_conn *c,
                             const char *account_id, const char *recipient,
                             int64_t last_user_message_ms, const char *action)
{
    int64_t now = dk_now_ms();
    if (d == NULL || recipient == NULL || recipient[0] == '\0' || last_user_message_ms == 0 ||
        now - last_user_message_ms > IG_WINDOW_MS) {
        return;
    }
    struct pipeline_graph pg = {0};
    struct dk_err err = {0};
    struct ig_request req = {0};
    if (pipeline_graph_for(c, d->cfg.ig, account_id, &pg, &err) == 0 && !pg.dry_run &&
        (!pg.known || strcmp(pg.acct.status, "active") == 0) && pg.acct.throttled_until <= now &&
        ig_pace_take(d->pace, account_id, dk_mono_ms()) == 0 &&
        ig_build_sender_action(&pg.g, recipient, action, &req, &err) == 0) {
        submit(d, &req, 10000, action_done, d);
    }
    ig_request_clear(&req);
    pipeline_graph_clear(&pg);
}

/* ---- straight from the reply: no send job between the reply and its send ---- */

/* After the reply's transaction: the call goes out; rolled back, nothing was recorded. */
static void call_after_commit(void *arg, bool committed)
{
    struct send_call *sc = arg;
    if (!committed) {
        call_free(sc);
        return;
    }
    struct pipeline_deliver *d = sc->d;
    submit(d, &sc->req, SEND_TIMEOUT_MS, send_done, sc);
}

int pipeline_deliver_now(struct pipeline_deliver *d, struct store_conn *c, const char *conv_id,
                         struct dk_err *err)
{
    if (d == NULL) {
        return pipeline_send_enqueue(c, conv_id, dk_now_ms(), err);
    }
    struct send_call *sc = NULL;
    struct ig_request req = {0};
    enum step_result r = STEP_DONE;
    int rc = step(d, c, NULL, conv_id, &sc, &req, &r, err);
    if (rc == 0 && r == STEP_SUBMIT) {
        /* the safety net: if the answer is never stored, this job settles the message */
        rc = pipeline_send_enqueue(c, conv_id, dk_now_ms() + d->cfg.ig->confirm_ms, err);
        if (rc == 0) {
            sc->req = req;
            memset(&req, 0, sizeof(req));
            store_after_commit(c, call_after_commit, sc);
            sc = NULL;
        }
    } else if (rc == 0 && r == STEP_NEXT) {
        rc = pipeline_send_enqueue(c, conv_id, dk_now_ms(), err); /* more may wait */
    }
    if (sc != NULL) {
        call_free(sc);
    }
    ig_request_clear(&req);
    return rc;
}
