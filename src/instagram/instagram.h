/*
 * instagram: Meta's Instagram webhooks in and (later) the Graph API out.
 *
 * Webhook side: verify X-Hub-Signature-256 over the raw bytes, then normalise a delivery
 * (object "instagram", entry[], messaging[] / changes[]) into a flat, ordered list of events.
 * The parser is pure (no I/O, no globals) so that it can be fuzzed; anything it does not
 * understand becomes an IG_EV_UNKNOWN event that keeps its raw JSON, never an error.
 */
#ifndef INSTAGRAM_H
#define INSTAGRAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Checks header ("sha256=<64 hex>") against HMAC-SHA256(app_secret, body) in constant time.
 * Returns 0; DK_EAUTH when the header is missing or not of that form; DK_EFORBIDDEN when it
 * does not match. Any thread. */
int ig_verify_signature(const char *app_secret, const char *header, const void *body, size_t len,
                        struct dk_err *err);

enum ig_event_kind {
    IG_EV_MESSAGE = 1, /* a customer's message (text, attachments, story reply/mention, …) */
    IG_EV_ECHO,        /* the business's own message (is_echo) */
    IG_EV_REACTION,    /* react / unreact to a message (reaction_action says which) */
    IG_EV_READ,        /* the customer read up to a message */
    IG_EV_EDIT,        /* message_edit */
    IG_EV_DELETE,      /* message with is_deleted */
    IG_EV_POSTBACK,    /* icebreaker / button tap */
    IG_EV_REFERRAL,    /* a referral without a message (ig.me link, ad) */
    IG_EV_COMMENT,     /* changes[] field "comments" */
    IG_EV_MENTION,     /* changes[] field "mentions" */
    IG_EV_UNKNOWN,     /* anything else: kept raw */
};

/* One normalised event. Strings are borrowed from the delivery's JSON and live as long as the
 * delivery; NULL when absent. */
struct ig_event {
    enum ig_event_kind kind;
    const char *account_id;      /* entry[].id: the business account */
    const char *customer_id;     /* IGSID: sender (inbound) or recipient (echo); comment author */
    int64_t timestamp_ms;        /* messaging[].timestamp, else entry.time, in milliseconds */
    const char *mid;             /* the message this event is or refers to */
    const char *text;            /* text / edited text / postback title / comment text */
    const char *message_type;    /* "text", "image", "video", "audio", "file", "share", "ig_reel",
                                    "story_mention", "story_reply", "unsupported", "postback",
                                    "attachment" (several kinds), … */
    const char *reply_to_mid;    /* reply_to.mid */
    const char *payload;         /* quick_reply.payload / postback.payload */
    const char *reaction_action; /* "react" / "unreact" */
    const char *reaction;        /* "love" … */
    const char *emoji;
    const char
        *field; /* changes[].field, or the unknown messaging key (e.g. "messaging_handover") */
    json_t *metadata; /* owned by the delivery: attachments, quick_reply, referral, reply_to
                         story, num_edit, … (an object, possibly empty) */
    json_t *raw;      /* borrowed: the whole messaging item or change */
};

struct ig_delivery {
    json_t *root; /* owned */
    struct ig_event *events;
    size_t count;
    size_t unknown; /* events of kind IG_EV_UNKNOWN */
};

/* Parses a delivery body. Returns 0 and *out (caller frees with ig_delivery_free), or
 * DK_EINVAL for malformed JSON / a body that is not an object with an "entry" array (err says
 * where). Items it does not understand do not fail the parse. Bounded: at most 1000 entries
 * and 1000 items per entry (Meta's documented batch maximum) else DK_ETOOBIG. Any thread. */
int ig_delivery_parse(const char *body, size_t len, struct ig_delivery **out, struct dk_err *err);
void ig_delivery_free(struct ig_delivery *d);

const char *ig_event_kind_name(enum ig_event_kind kind);

#endif
