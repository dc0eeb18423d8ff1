/*
 * pipeline/persist: the durable record of one webhook delivery. For each event in order:
 * the user (by Instagram-scoped id), the conversation (per customer and account), then the
 * message (deduplicated by mid) or the event (reaction, read, edit, delete, referral, comment,
 * unknown kind), and one debounced reply job per conversation with a new customer message.
 * Everything happens in the caller's transaction.
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

/* Conversations that got a new customer message in a transaction, with the newest message
 * time; written once each by pipeline_batch_flush. */
struct touch {
    char conv[STORE_ID_LEN];
    int64_t at_ms;
};

/* A customer's conversation with an account, resolved once per batch. */
struct party {
    const char *customer; /* borrowed from the deliveries of the batch */
    const char *account;
    char conv[STORE_ID_LEN];
};

struct pipeline_batch {
    struct touch *items;
    size_t n, cap;
    struct party *parties; /* sorted by (customer, account) once resolved */
    size_t nparties, partycap;
    size_t resolved; /* parties[0..resolved) are sorted and have their conversation */
    int64_t debounce_ms;
};

struct pipeline_batch *pipeline_batch_new(int64_t reply_debounce_ms)
{
    struct pipeline_batch *b = dk_calloc(1, sizeof(*b));
    b->debounce_ms = reply_debounce_ms;
    return b;
}

void pipeline_batch_free(struct pipeline_batch *b)
{
    if (b != NULL) {
        dk_free(b->items);
        dk_free(b->parties);
        dk_free(b);
    }
}

static void batch_touch(struct pipeline_batch *b, const char *conv, int64_t at_ms)
{
    if (b->n == b->cap) {
        b->cap = b->cap != 0 ? b->cap * 2 : 64;
        b->items = dk_realloc(b->items, b->cap * sizeof(*b->items));
    }
    memcpy(b->items[b->n].conv, conv, STORE_ID_LEN);
    b->items[b->n].at_ms = at_ms;
    b->n++;
}

static int touch_cmp(const void *a, const void *b)
{
    return strcmp(((const struct touch *)a)->conv, ((const struct touch *)b)->conv);
}

static int enqueue_reply(struct store_conn *c, const char *conv, int64_t debounce_ms,
                         struct dk_err *err)
{
    char key[64], payload[96];
    snprintf(key, sizeof(key), "reply:%s", conv);
    snprintf(payload, sizeof(payload), "{\"conversation_id\":\"%s\"}", conv);
    return queue_enqueue(c, PIPELINE_JOB_REPLY, payload, key, dk_now_ms() + debounce_ms, 5, NULL,
                         err);
}

int pipeline_batch_flush(struct store_conn *c, struct pipeline_batch *b,
                         struct pipeline_persist_stats *st, struct dk_err *err)
{
    /* sorted by conversation id: concurrent writers take these row locks in one order */
    qsort(b->items, b->n, sizeof(*b->items), touch_cmp);
    int64_t now = dk_now_ms();
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0;) {
        size_t k = i;
        int64_t at = b->items[i].at_ms;
        while (k + 1 < b->n && strcmp(b->items[k + 1].conv, b->items[i].conv) == 0) {
            k++;
            at = b->items[k].at_ms > at ? b->items[k].at_ms : at;
        }
        rc = store_conversation_customer_activity(c, b->items[i].conv, at, now, err);
        if (rc == 0) {
            rc = enqueue_reply(c, b->items[i].conv, b->debounce_ms, err);
        }
        if (rc == 0) {
            st->replies++;
        }
        i = k + 1;
    }
    b->n = 0;
    b->nparties = 0;
    b->resolved = 0;
    return rc;
}

static int party_cmp(const void *a, const void *b)
{
    const struct party *x = a, *y = b;
    int c = strcmp(x->customer, y->customer);
    return c != 0 ? c : strcmp(x->account, y->account);
}

/* The conversation of a customer with an account: one query when both exist (the common
 * case), else creates what is missing. */
static int find_or_create(struct store_conn *c, const char *customer, const char *account,
                          int64_t now, char conv[STORE_ID_LEN], struct dk_err *err)
{
    int64_t uid = 0;
    bool created;
    int rc = store_conversation_find(c, customer, account, &uid, conv, err);
    if (rc != 0 || conv[0] != '\0') {
        return rc;
    }
    if (uid == 0) {
        rc = store_user_ensure(c, customer, now, &uid, err);
    }
    if (rc == 0) {
        rc = store_conversation_ensure(c, uid, account, now, conv, &created, err);
    }
    return rc;
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
        if (b->nparties == b->partycap) {
            b->partycap = b->partycap != 0 ? b->partycap * 2 : 64;
            b->parties = dk_realloc(b->parties, b->partycap * sizeof(*b->parties));
        }
        struct party *p = &b->parties[b->nparties++];
        p->customer = ev->customer_id;
        p->account = ev->account_id;
        p->conv[0] = '\0';
    }
}

int pipeline_batch_resolve(struct store_conn *c, struct pipeline_batch *b, struct dk_err *err)
{
    /* in one order for every writer, so that two batches creating the same new customers
     * cannot deadlock on each other */
    qsort(b->parties, b->nparties, sizeof(*b->parties), party_cmp);
    size_t out = 0;
    for (size_t i = 0; i < b->nparties; i++) {
        if (out > 0 && party_cmp(&b->parties[out - 1], &b->parties[i]) == 0) {
            continue;
        }
        b->parties[out++] = b->parties[i];
    }
    b->nparties = out;
    int64_t now = dk_now_ms();
    for (size_t i = 0; i < out; i++) {
        int rc = find_or_create(c, b->parties[i].customer, b->parties[i].account, now,
                                b->parties[i].conv, err);
        if (rc != 0) {
            return rc;
        }
    }
    b->resolved = out;
    return 0;
}

static int ensure_conversation(struct store_conn *c, struct pipeline_batch *b,
                               const struct ig_event *ev, int64_t now, char conv[STORE_ID_LEN],
                               struct dk_err *err)
{
    if (ev->customer_id == NULL || ev->account_id == NULL) {
        return dk_err_set(err, DK_EINVAL, "event without customer or account id");
    }
    struct party key = {.customer = ev->customer_id, .account = ev->account_id};
    const struct party *hit =
        b->resolved > 0 ? bsearch(&key, b->parties, b->resolved, sizeof(key), party_cmp) : NULL;
    if (hit != NULL) {
        memcpy(conv, hit->conv, STORE_ID_LEN);
        return 0;
    }
    return find_or_create(c, ev->customer_id, ev->account_id, now, conv, err);
}

static char *metadata_text(const struct ig_event *ev)
{
    if (ev->metadata == NULL || json_object_size(ev->metadata) == 0) {
        return NULL;
    }
    return dk_json_dump(ev->metadata);
}

static int store_customer_message(struct store_conn *c, const struct ig_event *ev, int64_t now,
                                  struct pipeline_batch *b, struct pipeline_persist_stats *st,
                                  struct dk_err *err)
{
    char conv[STORE_ID_LEN];
    int rc = ensure_conversation(c, b, ev, now, conv, err);
    if (rc != 0) {
        return rc;
    }
    bool echo = ev->kind == IG_EV_ECHO;
    char *meta = metadata_text(ev);
    struct store_message m = {
        .conversation_id = conv,
        .instagram_mid = ev->mid,
        .sender_type = echo ? "agent" : "user",
        .message_type = ev->message_type,
        .content = ev->text,
        .metadata = meta,
        .status = echo ? "sent" : "received",
        .reply_to_mid = ev->reply_to_mid,
        .created_ms = ev->timestamp_ms > 0 ? ev->timestamp_ms : now,
    };
    bool inserted = false;
    rc = store_message_insert(c, &m, &inserted, err);
    if (rc == 0 && inserted && !echo) {
        batch_touch(b, conv, m.created_ms);
        json_t *ref = json_object_get(ev->metadata, "referral");
        if (ref != NULL) {
            char *rtext = dk_json_dump(ref);
            rc = store_conversation_set_referral(c, conv, rtext, now, err);
            dk_free(rtext);
        }
    }
    dk_free(meta);
    if (rc == 0) {
        if (inserted) {
            st->messages++;
        } else {
            st->duplicates++;
        }
    }
    return rc;
}

/* Records a non-message event once (dedupe_key) against its conversation when known. */
static int record_event(struct store_conn *c, const struct ig_event *ev, const char *conv,
                        const char *kind, const char *dedupe, struct pipeline_persist_stats *st,
                        struct dk_err *err)
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

    switch (ev->kind) {
    case IG_EV_MESSAGE:
    case IG_EV_ECHO:
    case IG_EV_POSTBACK:
        if (ev->mid == NULL || ev->customer_id == NULL || ev->account_id == NULL) {
            break; /* kept raw below */
        }
        return store_customer_message(c, ev, now, b, st, err);
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
            rc = record_event(c, ev, conv, kind, key, st, err);
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
            rc = record_event(c, ev, conv[0] != '\0' ? conv : NULL, kind, key, st, err);
        }
        return rc;
    case IG_EV_COMMENT:
    case IG_EV_MENTION: {
        const char *kind = ev->kind == IG_EV_COMMENT ? "comment" : "mention";
        snprintf(key, sizeof(key), "%s:%s", kind, mid);
        DK_INFO("recorded %s %s for account %s (automation arrives with the Instagram issue)", kind,
                mid, ev->account_id != NULL ? ev->account_id : "?");
        return record_event(c, ev, NULL, kind, key, st, err);
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
    return record_event(c, ev, NULL, kind, key, st, err);
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

int pipeline_store_parsed(struct store_conn *c, const char *body, size_t len,
                          const struct ig_delivery *d, struct pipeline_batch *b, char event_id[37],
                          bool *duplicate, struct pipeline_persist_stats *st, struct dk_err *err)
{
    char sha[DK_SHA256_HEX];
    dk_sha256_hex(body, len, sha);
    const char *object = dk_json_str(d->root, "object");
    char *payload = dk_strndup(body, len);
    bool inserted = false;
    int rc = store_webhook_event_insert(c, sha, object, payload, (int)d->count, (int)d->unknown,
                                        dk_now_ms(), event_id, &inserted, err);
    dk_free(payload);
    *duplicate = !inserted;
    /* a body stored before was processed in the transaction that stored it */
    if (rc == 0 && inserted) {
        rc = pipeline_persist_delivery(c, d, b, st, err);
    }
    return rc;
}

int pipeline_store_delivery(struct store_conn *c, const char *body, size_t len,
                            int64_t reply_debounce_ms, char event_id[37], bool *duplicate,
                            struct pipeline_persist_stats *st, struct dk_err *err)
{
    struct ig_delivery *d = NULL;
    int rc = ig_delivery_parse(body, len, &d, err);
    if (rc == 0) {
        struct pipeline_batch *b = pipeline_batch_new(reply_debounce_ms);
        rc = pipeline_store_parsed(c, body, len, d, b, event_id, duplicate, st, err);
        if (rc == 0) {
            rc = pipeline_batch_flush(c, b, st, err);
        }
        pipeline_batch_free(b);
        ig_delivery_free(d);
    }
    return rc;
}
