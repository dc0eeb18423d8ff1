/*
 * pipeline/persist: the durable record of webhook deliveries, set-based for group commit.
 * For a batch of deliveries in one transaction:
 *   1. the raw bodies (deduplicated by SHA-256: a body stored before was fully processed then),
 *   2. the customers' users and conversations, found in one query and created when missing, in
 *      sorted order,
 *   3. every event in order: messages are collected and inserted together (deduplicated by mid);
 *      reactions, reads, edits, deletes, referrals, comments and unknown kinds are recorded one
 *      by one (after the messages collected so far, so that an edit finds its message),
 *   4. per conversation with a new customer message: its activity and one debounced reply job,
 *      in conversation-id order (the order in which workers lock conversations too).
 * On PostgreSQL steps 1, 2, 3 (messages) and 4 are one statement each for the whole batch.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/repo.h"

/* A message waiting for the next bulk insert. */
struct pending {
    struct store_message m;
    char conv[STORE_ID_LEN];
    char *meta;     /* owned */
    char *referral; /* owned, or NULL */
    bool customer;  /* a customer's message (not an echo) */
    bool echo;      /* an echo that no send of direkt's explains: a person in the app */
};

struct pipeline_batch {
    struct store_touch *touches;
    size_t ntouch, touchcap;
    struct store_party *parties; /* sorted by (customer, account) once resolved */
    size_t nparties, partycap, resolved;
    struct pending *msgs;
    size_t nmsgs, msgcap;
    int64_t debounce_ms;
    /* the accounts known to this installation, looked up once per batch */
    int64_t naccounts; /* -1: not counted yet */
    char (*known)[65];
    char (*unknown)[65];
    size_t nknown, nunknown, knowncap, unknowncap;
};

static int64_t human_pause_ms = 30LL * 60 * 1000;

void pipeline_persist_configure(int64_t pause_ms)
{
    human_pause_ms = pause_ms;
}

#define GROW(arr, n, cap) grow((void **)&(arr), (n), &(cap), sizeof(*(arr)))

static void grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 64;
        *arr = dk_realloc(*arr, *cap * size);
    }
}

struct pipeline_batch *pipeline_batch_new(int64_t reply_debounce_ms)
{
    struct pipeline_batch *b = dk_calloc(1, sizeof(*b));
    b->debounce_ms = reply_debounce_ms;
    b->naccounts = -1;
    return b;
}

static void clear_msgs(struct pipeline_batch *b)
{
    for (size_t i = 0; i < b->nmsgs; i++) {
        dk_free(b->msgs[i].meta);
        dk_free(b->msgs[i].referral);
    }
    b->nmsgs = 0;
}

void pipeline_batch_free(struct pipeline_batch *b)
{
    if (b != NULL) {
        clear_msgs(b);
        dk_free(b->msgs);
        dk_free(b->touches);
        dk_free(b->parties);
        dk_free(b->known);
        dk_free(b->unknown);
        dk_free(b);
    }
}

static int party_cmp(const void *a, const void *b)
{
    const struct store_party *x = a, *y = b;
    int c = strcmp(x->customer, y->customer);
    return c != 0 ? c : strcmp(x->account, y->account);
}

static int touch_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_touch *)a)->conv, ((const struct store_touch *)b)->conv);
}

static bool event_has_party(const struct ig_event *ev)
{
    switch (ev->kind) {
    case IG_EV_MESSAGE:
    case IG_EV_ECHO:
    case IG_EV_POSTBACK:
    case IG_EV_REACTION:
    case IG_EV_READ:
    case IG_EV_REFERRAL:
        return ev->customer_id != NULL && ev->account_id != NULL;
    default:
        return false;
    }
}

void pipeline_batch_collect(struct pipeline_batch *b, const struct ig_delivery *d)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct ig_event *ev = &d->events[i];
        if (!event_has_party(ev)) {
            continue;
        }
        GROW(b->parties, b->nparties, b->partycap);
        struct store_party *p = &b->parties[b->nparties++];
        memset(p, 0, sizeof(*p));
        p->customer = ev->customer_id;
        p->account = ev->account_id;
    }
}

/* The conversation of a customer with an account, creating user and conversation when
 * missing (uid: the user when known, else 0). */
static int create_missing(struct store_conn *c, struct store_party *p, int64_t now,
                          struct dk_err *err)
{
    bool created;
    int rc = 0;
    if (p->user_id == 0) {
        rc = store_user_ensure(c, p->customer, now, &p->user_id, err);
    }
    if (rc == 0) {
        rc = store_conversation_ensure(c, p->user_id, p->account, now, p->conv, &created, err);
    }
    return rc;
}

/* Whether the entry's account is one this installation serves: every account when none is
 * registered (the single-account setup), else only the registered ones. */
static int account_served(struct store_conn *c, struct pipeline_batch *b, const char *account,
                          bool *served, struct dk_err *err)
{
    *served = true;
    if (account == NULL) {
        return 0;
    }
    int rc = 0;
    if (b->naccounts < 0) {
        rc = store_account_count(c, &b->naccounts, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (b->naccounts == 0) {
        return 0;
    }
    for (size_t i = 0; i < b->nknown; i++) {
        if (strcmp(b->known[i], account) == 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < b->nunknown; i++) {
        if (strcmp(b->unknown[i], account) == 0) {
            *served = false;
            return 0;
        }
    }
    bool exists = false;
    rc = store_account_exists(c, account, &exists, err);
    if (rc != 0) {
        return rc;
    }
    if (exists) {
        GROW(b->known, b->nknown, b->knowncap);
        snprintf(b->known[b->nknown++], 65, "%s", account);
    } else {
        GROW(b->unknown, b->nunknown, b->unknowncap);
        snprintf(b->unknown[b->nunknown++], 65, "%s", account);
        *served = false;
    }
    return 0;
}

int pipeline_batch_resolve(struct store_conn *c, struct pipeline_batch *b, struct dk_err *err)
{
    /* one order for every writer, so that two batches creating the same new customers cannot
     * deadlock on each other */
    if (b->nparties > 1) {
        qsort(b->parties, b->nparties, sizeof(*b->parties), party_cmp);
    }
    size_t out = 0;
    for (size_t i = 0; i < b->nparties; i++) {
        if (out == 0 || party_cmp(&b->parties[out - 1], &b->parties[i]) != 0) {
            b->parties[out++] = b->parties[i];
        }
    }
    /* customers of accounts this installation does not serve get no user, no conversation */
    size_t kept = 0;
    int rc = 0;
    for (size_t i = 0; i < out && rc == 0; i++) {
        bool served = true;
        rc = account_served(c, b, b->parties[i].account, &served, err);
        if (served) {
            b->parties[kept++] = b->parties[i];
        }
    }
    if (rc != 0) {
        return rc;
    }
    out = kept;
    b->nparties = out;
    rc = store_conversation_find_bulk(c, b->parties, out, err);
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < out && rc == 0; i++) {
        if (b->parties[i].conv[0] == '\0') {
            rc = create_missing(c, &b->parties[i], now, err);
        }
    }
    if (rc == 0) {
        b->resolved = out;
    }
    return rc;
}

static int ensure_conversation(struct store_conn *c, struct pipeline_batch *b,
                               const struct ig_event *ev, int64_t now, char conv[STORE_ID_LEN],
                               struct dk_err *err)
{
    if (ev->customer_id == NULL || ev->account_id == NULL) {
        return dk_err_set(err, DK_EINVAL, "event without customer or account id");
    }
    struct store_party key = {.customer = ev->customer_id, .account = ev->account_id};
    const struct store_party *hit =
        b->resolved > 0 ? bsearch(&key, b->parties, b->resolved, sizeof(key), party_cmp) : NULL;
    if (hit != NULL) {
        memcpy(conv, hit->conv, STORE_ID_LEN);
        return 0;
    }
    int rc =
        store_conversation_find(c, ev->customer_id, ev->account_id, &key.user_id, key.conv, err);
    if (rc == 0 && key.conv[0] == '\0') {
        rc = create_missing(c, &key, now, err);
    }
    if (rc == 0) {
        memcpy(conv, key.conv, STORE_ID_LEN);
    }
    return rc;
}

static void touch(struct pipeline_batch *b, const char *conv, int64_t at_ms)
{
    GROW(b->touches, b->ntouch, b->touchcap);
    memcpy(b->touches[b->ntouch].conv, conv, STORE_ID_LEN);
    b->touches[b->ntouch].at_ms = at_ms;
    b->ntouch++;
}

/* Meta does not guarantee order: an edit or delete may have come before its message. Those
 * were recorded without a conversation; now that the message is here, apply them. */
static int apply_orphans(struct store_conn *c, const struct store_message *m, const bool *inserted,
                         size_t n, struct dk_err *err)
{
    const char **mids = dk_calloc(n + 1, sizeof(*mids));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (inserted[i] && m[i].instagram_mid != NULL) {
            mids[k++] = m[i].instagram_mid;
        }
    }
    json_t *orphans = NULL;
    int rc = store_message_event_orphans(c, mids, k, &orphans, err);
    dk_free(mids);
    size_t i;
    json_t *o;
    json_array_foreach(orphans, i, o)
    {
        if (rc != 0) {
            break;
        }
        const char *mid = dk_json_str(o, "mid");
        int64_t at = 0;
        const char *ts = dk_json_str(o, "occurred_at");
        if (ts == NULL || dk_time_parse(ts, &at) != 0) {
            at = dk_now_ms();
        }
        bool found = false;
        if (strcmp(dk_json_str(o, "kind"), "edit") == 0) {
            const char *text =
                dk_json_str(json_object_get(json_object_get(o, "data"), "message_edit"), "text");
            rc = store_message_apply_edit(c, mid, text != NULL ? text : "", at, &found, err);
        } else {
            rc = store_message_mark_deleted(c, mid, at, &found, err);
        }
        char conv[STORE_ID_LEN];
        if (rc == 0 && store_message_conversation(c, mid, conv, NULL) == 0) {
            rc = store_message_event_attach(c, dk_json_str(o, "id"), conv, err);
        }
    }
    json_decref(orphans);
    return rc;
}

/* Inserts the collected messages; new customer messages touch their conversation. */
static int flush_messages(struct store_conn *c, struct pipeline_batch *b,
                          struct pipeline_persist_stats *st, struct dk_err *err)
{
    size_t n = b->nmsgs;
    if (n == 0) {
        return 0;
    }
    struct store_message *m = dk_calloc(n, sizeof(*m));
    bool *inserted = dk_calloc(n, sizeof(*inserted));
    for (size_t i = 0; i < n; i++) {
        m[i] = b->msgs[i].m;
        m[i].conversation_id = b->msgs[i].conv;
    }
    int rc = store_message_insert_bulk(c, m, inserted, n, err);
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!inserted[i]) {
            st->duplicates++;
            continue;
        }
        st->messages++;
        if (b->msgs[i].echo && m[i].created_ms + human_pause_ms > now && human_pause_ms > 0) {
            DK_INFO("conversation %s: a person answered from the Instagram app: bot paused",
                    b->msgs[i].conv);
            rc = store_conversation_pause(c, b->msgs[i].conv, m[i].created_ms + human_pause_ms, now,
                                          err);
        }
        if (b->msgs[i].customer) {
            touch(b, b->msgs[i].conv, m[i].created_ms);
            if (b->msgs[i].referral != NULL) {
                rc = store_conversation_set_referral(c, b->msgs[i].conv, b->msgs[i].referral, now,
                                                     err);
            }
        }
    }
    if (rc == 0) {
        rc = apply_orphans(c, m, inserted, n, err);
    }
    dk_free(m);
    dk_free(inserted);
    clear_msgs(b);
    return rc;
}

static int add_message(struct store_conn *c, struct pipeline_batch *b, const struct ig_event *ev,
                       int64_t now, struct dk_err *err)
{
    GROW(b->msgs, b->nmsgs, b->msgcap);
    struct pending *p = &b->msgs[b->nmsgs];
    memset(p, 0, sizeof(*p));
    int rc = ensure_conversation(c, b, ev, now, p->conv, err);
    if (rc != 0) {
        return rc;
    }
    bool echo = ev->kind == IG_EV_ECHO;
    if (echo) {
        /* the echo of a send still waiting for its answer settles it (and is not stored
         * twice); one that no send explains is a person answering from the Instagram app */
        bool matched = false;
        rc = store_outbox_reconcile_echo(c, p->conv, ev->mid, ev->text, &matched, err);
        if (rc != 0 || matched) {
            return rc;
        }
        p->echo = true;
    }
    if (ev->kind == IG_EV_POSTBACK) {
        /* the button's payload is what later steps act on: keep it with the message */
        json_t *meta = ev->metadata != NULL ? json_deep_copy(ev->metadata) : json_object();
        json_t *pb = json_object();
        json_object_set_new(pb, "title", ev->text != NULL ? json_string(ev->text) : json_null());
        json_object_set_new(pb, "payload",
                            ev->payload != NULL ? json_string(ev->payload) : json_null());
        json_object_set_new(meta, "postback", pb);
        p->meta = dk_json_dump(meta);
        json_decref(meta);
    } else if (ev->metadata != NULL && json_object_size(ev->metadata) > 0) {
        p->meta = dk_json_dump(ev->metadata);
    }
    json_t *ref = json_object_get(ev->metadata, "referral");
    p->referral = ref != NULL && !echo ? dk_json_dump(ref) : NULL;
    p->customer = !echo;
    p->m = (struct store_message){
        .instagram_mid = ev->mid,
        .sender_type = echo ? "agent" : "user",
        .message_type = ev->message_type,
        .content = ev->text,
        .metadata = p->meta,
        .status = echo ? "sent" : "received",
        .reply_to_mid = ev->reply_to_mid,
        .created_ms = ev->timestamp_ms > 0 ? ev->timestamp_ms : now,
    };
    b->nmsgs++;
    return 0;
}

static int record_event(struct store_conn *c, const struct ig_event *ev, const char *conv,
                        const char *kind, const char *dedupe, struct pipeline_persist_stats *st,
                        bool *fresh, struct dk_err *err)
{
    char *data = dk_json_dump(ev->raw != NULL ? ev->raw : json_null());
    char key[300];
    snprintf(key, sizeof(key), "%s", dedupe);
    if (strlen(dedupe) >= sizeof(key) - 1) {
        /* long keys are hashed so that they fit the column */
        char h[DK_SHA256_HEX];
        dk_sha256_hex(dedupe, strlen(dedupe), h);
        snprintf(key, sizeof(key), "%s:%s", kind, h);
    }
    bool inserted = false;
    int rc = store_message_event_insert(c, key, conv, ev->mid, kind, data, ev->timestamp_ms,
                                        &inserted, err);
    dk_free(data);
    if (rc == 0 && inserted) {
        st->events++;
    }
    if (fresh != NULL) {
        *fresh = rc == 0 && inserted;
    }
    return rc;
}

/* A reaction to a message (normally the bot's) is the customer's feedback on it. */
static int reaction_feedback(struct store_conn *c, const struct ig_event *ev, struct dk_err *err)
{
    if (ev->mid == NULL) {
        return 0;
    }
    bool unreact = ev->reaction_action != NULL && strcmp(ev->reaction_action, "unreact") == 0;
    char *fb = NULL;
    if (!unreact) {
        char ts[DK_TIME_LEN];
        json_t *o =
            json_pack("{s:s?, s:s?, s:s}", "reaction", ev->reaction, "emoji", ev->emoji, "at",
                      dk_time_format(ev->timestamp_ms > 0 ? ev->timestamp_ms : dk_now_ms(), ts));
        fb = dk_json_dump(o);
        json_decref(o);
    }
    bool found = false;
    int rc = store_message_set_feedback(c, ev->mid, fb, &found, err);
    dk_free(fb);
    return rc;
}

static int persist_event(struct store_conn *c, const struct ig_event *ev, int64_t now,
                         struct pipeline_batch *b, struct pipeline_persist_stats *st,
                         struct dk_err *err)
{
    char conv[STORE_ID_LEN] = "";
    char key[512];
    const char *mid = ev->mid != NULL ? ev->mid : "";
    const char *who = ev->customer_id != NULL ? ev->customer_id : "";
    long long ts = (long long)ev->timestamp_ms;
    int rc = 0;
    bool found;

    bool served = true;
    rc = account_served(c, b, ev->account_id, &served, err);
    if (rc != 0) {
        return rc;
    }
    if (!served) {
        /* kept (the raw delivery is stored too) and reported, never processed */
        char h[DK_SHA256_HEX];
        char *raw = dk_json_dump(ev->raw != NULL ? ev->raw : json_null());
        dk_sha256_hex(raw, strlen(raw), h);
        dk_free(raw);
        snprintf(key, sizeof(key), "unknown_account:%s:%s", ev->account_id, h);
        DK_WARN("webhook entry for unknown account %s kept, not processed (add it with `direkt "
                "account add`)",
                ev->account_id);
        st->unknown++;
        return record_event(c, ev, NULL, "unknown_account", key, st, NULL, err);
    }
    bool message =
        ev->kind == IG_EV_MESSAGE || ev->kind == IG_EV_ECHO || ev->kind == IG_EV_POSTBACK;
    if (!message) {
        /* recorded one by one, after the messages before them (an edit finds its message) */
        rc = flush_messages(c, b, st, err);
        if (rc != 0) {
            return rc;
        }
    }

    switch (ev->kind) {
    case IG_EV_MESSAGE:
    case IG_EV_ECHO:
    case IG_EV_POSTBACK:
        if (ev->mid == NULL || ev->customer_id == NULL || ev->account_id == NULL) {
            break; /* kept raw below */
        }
        return add_message(c, b, ev, now, err);
    case IG_EV_REACTION:
    case IG_EV_READ:
    case IG_EV_REFERRAL:
        if (ev->customer_id == NULL || ev->account_id == NULL) {
            break;
        }
        rc = ensure_conversation(c, b, ev, now, conv, err);
        if (rc == 0 && ev->kind == IG_EV_REFERRAL) {
            json_t *ref = json_object_get(ev->metadata, "referral");
            char *rtext = dk_json_dump(ref != NULL ? ref : ev->raw);
            rc = store_conversation_set_referral(c, conv, rtext, now, err);
            dk_free(rtext);
        }
        if (rc == 0) {
            const char *kind =
                ev->kind == IG_EV_READ       ? "read"
                : ev->kind == IG_EV_REFERRAL ? "referral"
                : ev->reaction_action != NULL && strcmp(ev->reaction_action, "unreact") == 0
                    ? "unreaction"
                    : "reaction";
            snprintf(key, sizeof(key), "%s:%s:%s:%lld", kind, who, mid, ts);
            bool fresh = false;
            rc = record_event(c, ev, conv, kind, key, st, &fresh, err);
            if (rc == 0 && fresh && ev->kind == IG_EV_REACTION) {
                rc = reaction_feedback(c, ev, err);
            }
        }
        return rc;
    case IG_EV_EDIT:
    case IG_EV_DELETE:
        if (ev->mid == NULL) {
            break;
        }
        if (ev->kind == IG_EV_EDIT) {
            rc = store_message_apply_edit(c, ev->mid, ev->text != NULL ? ev->text : "",
                                          ev->timestamp_ms > 0 ? ev->timestamp_ms : now, &found,
                                          err);
        } else {
            rc = store_message_mark_deleted(
                c, ev->mid, ev->timestamp_ms > 0 ? ev->timestamp_ms : now, &found, err);
        }
        if (rc == 0 && store_message_conversation(c, ev->mid, conv, NULL) != 0) {
            conv[0] = '\0';
        }
        if (rc == 0) {
            const char *kind = ev->kind == IG_EV_EDIT ? "edit" : "delete";
            snprintf(key, sizeof(key), "%s:%s:%lld", kind, mid, ts);
            rc = record_event(c, ev, conv[0] != '\0' ? conv : NULL, kind, key, st, NULL, err);
        }
        return rc;
    case IG_EV_COMMENT:
    case IG_EV_MENTION: {
        const char *kind = ev->kind == IG_EV_COMMENT ? "comment" : "mention";
        snprintf(key, sizeof(key), "%s:%s", kind, mid);
        bool fresh = false;
        rc = ev->kind == IG_EV_COMMENT && ev->customer_id != NULL
                 ? ensure_conversation(c, b, ev, now, conv, err)
                 : 0;
        if (rc == 0) {
            rc = record_event(c, ev, conv[0] != '\0' ? conv : NULL, kind, key, st, &fresh, err);
        }
        bool answered = false;
        if (rc == 0 && fresh && conv[0] != '\0') {
            rc = pipeline_comment_automation(c, ev, conv, now, &answered, err);
        }
        if (rc == 0 && fresh && !answered) {
            DK_INFO("recorded %s %s for account %s (no comment rule matched)", kind, mid,
                    ev->account_id != NULL ? ev->account_id : "?");
        }
        return rc;
    }
    case IG_EV_UNKNOWN:
        break;
    }
    /* not understood (or missing the ids it needs): kept raw, logged, never dropped */
    char *raw = dk_json_dump(ev->raw != NULL ? ev->raw : json_null());
    char h[DK_SHA256_HEX];
    dk_sha256_hex(raw, strlen(raw), h);
    dk_free(raw);
    char kind[96];
    snprintf(kind, sizeof(kind), "unknown:%.80s",
             ev->field != NULL ? ev->field : ig_event_kind_name(ev->kind));
    snprintf(key, sizeof(key), "unknown:%s:%lld:%s", who, ts, h);
    DK_WARN("kept an unhandled webhook item raw: kind=%s account=%s", kind,
            ev->account_id != NULL ? ev->account_id : "?");
    st->unknown++;
    return record_event(c, ev, NULL, kind, key, st, NULL, err);
}

int pipeline_persist_delivery(struct store_conn *c, const struct ig_delivery *d,
                              struct pipeline_batch *b, struct pipeline_persist_stats *st,
                              struct dk_err *err)
{
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < d->count; i++) {
        int rc = persist_event(c, &d->events[i], now, b, st, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int enqueue_replies(struct store_conn *c, struct pipeline_batch *b, size_t n,
                           struct pipeline_persist_stats *st, struct dk_err *err)
{
    char(*keys)[64] = dk_calloc(n + 1, sizeof(*keys));
    char(*payloads)[96] = dk_calloc(n + 1, sizeof(*payloads));
    const char **kp = dk_calloc(n + 1, sizeof(*kp));
    const char **pp = dk_calloc(n + 1, sizeof(*pp));
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "reply:%s", b->touches[i].conv);
        snprintf(payloads[i], sizeof(payloads[i]), "{\"conversation_id\":\"%s\"}",
                 b->touches[i].conv);
        kp[i] = keys[i];
        pp[i] = payloads[i];
    }
    int rc =
        queue_enqueue_bulk(c, PIPELINE_JOB_REPLY, kp, pp, n, dk_now_ms() + b->debounce_ms, 5, err);
    if (rc == 0) {
        st->replies += (int)n;
    }
    dk_free(keys);
    dk_free(payloads);
    dk_free(kp);
    dk_free(pp);
    return rc;
}

int pipeline_batch_flush(struct store_conn *c, struct pipeline_batch *b,
                         struct pipeline_persist_stats *st, struct dk_err *err)
{
    int rc = flush_messages(c, b, st, err);
    /* one row per conversation (newest message), sorted by conversation id: concurrent writers
     * and workers take these row locks in one order */
    if (b->ntouch > 1) {
        qsort(b->touches, b->ntouch, sizeof(*b->touches), touch_cmp);
    }
    size_t n = 0;
    for (size_t i = 0; i < b->ntouch; i++) {
        if (n > 0 && strcmp(b->touches[n - 1].conv, b->touches[i].conv) == 0) {
            if (b->touches[i].at_ms > b->touches[n - 1].at_ms) {
                b->touches[n - 1].at_ms = b->touches[i].at_ms;
            }
        } else {
            b->touches[n++] = b->touches[i];
        }
    }
    if (rc == 0) {
        rc = store_conversation_activity_bulk(c, b->touches, n, dk_now_ms(), err);
    }
    if (rc == 0) {
        rc = enqueue_replies(c, b, n, st, err);
    }
    b->ntouch = 0;
    b->nparties = 0;
    b->resolved = 0;
    return rc;
}

int pipeline_store_deliveries(struct store_conn *c, struct pipeline_input *in, size_t n,
                              int64_t reply_debounce_ms, struct pipeline_persist_stats *st,
                              struct dk_err *err)
{
    struct store_bulk_event *ev = dk_calloc(n + 1, sizeof(*ev));
    char(*sha)[DK_SHA256_HEX] = dk_calloc(n + 1, sizeof(*sha));
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < n; i++) {
        dk_sha256_hex(in[i].body, in[i].len, sha[i]);
        ev[i] = (struct store_bulk_event){.sha256 = sha[i],
                                          .object = dk_json_str(in[i].d->root, "object"),
                                          .payload = in[i].body,
                                          .items = (int)in[i].d->count,
                                          .unhandled = (int)in[i].d->unknown,
                                          .received_ms = now};
    }
    int rc = store_webhook_event_insert_bulk(c, ev, n, err);
    struct pipeline_batch *b = pipeline_batch_new(reply_debounce_ms);
    for (size_t i = 0; i < n && rc == 0; i++) {
        memcpy(in[i].event_id, ev[i].id, STORE_ID_LEN);
        /* a body stored before was processed in the transaction that stored it */
        in[i].duplicate = !ev[i].inserted;
        if (ev[i].inserted) {
            pipeline_batch_collect(b, in[i].d);
        }
    }
    if (rc == 0) {
        rc = pipeline_batch_resolve(c, b, err);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!in[i].duplicate) {
            rc = pipeline_persist_delivery(c, in[i].d, b, st, err);
        }
    }
    if (rc == 0) {
        rc = pipeline_batch_flush(c, b, st, err);
    }
    pipeline_batch_free(b);
    dk_free(sha);
    dk_free(ev);
    return rc;
}

int pipeline_store_delivery(struct store_conn *c, const char *body, size_t len,
                            int64_t reply_debounce_ms, char event_id[37], bool *duplicate,
                            struct pipeline_persist_stats *st, struct dk_err *err)
{
    struct ig_delivery *d = NULL;
    int rc = ig_delivery_parse(body, len, &d, err);
    if (rc != 0) {
        return rc;
    }
    struct pipeline_input in = {.body = body, .len = len, .d = d};
    rc = pipeline_store_deliveries(c, &in, 1, reply_debounce_ms, st, err);
    memcpy(event_id, in.event_id, STORE_ID_LEN);
    *duplicate = in.duplicate;
    ig_delivery_free(d);
    return rc;
}
