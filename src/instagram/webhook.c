/*
 * instagram/webhook: turns one webhook delivery into a flat, ordered list of events.
 *
 * A delivery is {object, entry[{id, time, messaging[] | changes[]}]}. Each messaging item and
 * each change becomes exactly one struct ig_event, in payload order: the kind is chosen from a
 * table of known item keys, and anything that does not fit (unknown keys, wrong types, missing
 * ids) becomes IG_EV_UNKNOWN with the raw JSON kept, so that nothing is ever dropped and nothing
 * but a malformed body fails. Strings are borrowed from the parsed tree; the few we must make
 * (numeric ids as decimal text) live in an arena owned by the delivery, and each event's
 * metadata is a fresh object holding deep copies, so it never aliases the raw tree.
 */
#include "instagram/instagram.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

#define MAX_ENTRIES    1000
#define MAX_ITEMS      1000           /* messaging[] + changes[] in one entry */
#define SECONDS_BELOW  100000000000LL /* a time under 10^11 is in seconds, not milliseconds */
#define MAX_TIME_DIGIT 18             /* fits int64_t without overflow checks */

/* The public delivery plus what only this file needs; ig_delivery_free casts back. */
struct delivery {
    struct ig_delivery pub; /* must stay first */
    struct dk_arena *pool;  /* decimal copies of numeric ids; NULL until needed */
};

/* What an entry lends to each of its events. */
struct entry_ctx {
    const char *account_id; /* NULL when entry.id is missing or of a wrong type */
    int64_t time_ms;        /* entry.time, 0 when absent */
};

/* Fills ev from item (or a change's value) and returns true, or returns false when the item
 * does not have the shape of its kind; the caller then makes it IG_EV_UNKNOWN. */
typedef bool (*item_parse_fn)(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);

static bool parse_message(struct delivery *d, struct ig_event *ev, json_t *item, json_t *msg);
static bool parse_edit(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_reaction(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_read(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_postback(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_referral(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_comment(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);
static bool parse_mention(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val);

/* messaging[] item keys, in order of precedence when an item carries several. */
static const struct {
    const char *key;
    item_parse_fn parse;
} MESSAGING_KINDS[] = {
    {"message", parse_message}, {"message_edit", parse_edit}, {"reaction", parse_reaction},
    {"read", parse_read},       {"postback", parse_postback}, {"referral", parse_referral},
};

/* changes[].field values. */
static const struct {
    const char *field;
    item_parse_fn parse;
} CHANGE_KINDS[] = {
    {"comments", parse_comment},
    {"mentions", parse_mention},
};

static const char *const KIND_NAMES[] = {
    [IG_EV_MESSAGE] = "message",   [IG_EV_ECHO] = "echo",         [IG_EV_REACTION] = "reaction",
    [IG_EV_READ] = "read",         [IG_EV_EDIT] = "edit",         [IG_EV_DELETE] = "delete",
    [IG_EV_POSTBACK] = "postback", [IG_EV_REFERRAL] = "referral", [IG_EV_COMMENT] = "comment",
    [IG_EV_MENTION] = "mention",   [IG_EV_UNKNOWN] = "unknown",
};

#define KIND_COUNT (sizeof(KIND_NAMES) / sizeof(KIND_NAMES[0]))

/* Returns a static name for kind ("message", "echo", …, "unknown"); "invalid" for a value
 * outside the enum. Any thread. */
const char *ig_event_kind_name(enum ig_event_kind kind)
{
    size_t k = (size_t)kind;
    if (k >= KIND_COUNT || KIND_NAMES[k] == NULL) {
        return "invalid";
    }
    return KIND_NAMES[k];
}

/* A new empty object; allocation failure aborts, as everywhere in direkt. */
static json_t *new_object(void)
{
    json_t *o = json_object();
    DK_ASSERT(o != NULL);
    return o;
}

/* Puts a deep copy of v (borrowed; nothing when NULL) into meta under key. */
static void meta_copy(json_t *meta, const char *key, const json_t *v)
{
    if (v == NULL) {
        return;
    }
    json_t *copy = json_deep_copy(v);
    DK_ASSERT(copy != NULL);
    json_object_set_new(meta, key, copy);
}

/* The object under key, or NULL when missing or not an object. Borrowed. */
static json_t *get_object(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

/* An id field as text: the string itself (borrowed) when Meta sends a string, a decimal copy
 * owned by the delivery when it sends an integer. NULL when missing, empty or of another type. */
static const char *id_field(struct delivery *d, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return s[0] != '\0' ? s : NULL;
    }
    if (json_is_integer(v)) {
        if (d->pool == NULL) {
            d->pool = dk_arena_new();
        }
        return dk_arena_printf(d->pool, "%" PRId64, (int64_t)json_integer_value(v));
    }
    return NULL;
}

/* obj[key].id, e.g. sender.id. */
static const char *nested_id(struct delivery *d, const json_t *obj, const char *key)
{
    return id_field(d, get_object(obj, key), "id");
}

/* A timestamp in milliseconds from an integer, a real or a string of digits. Values under
 * 10^11 are taken as seconds (Graph's entry.time) and scaled. False when missing, negative,
 * out of range or not a number. */
static bool time_value(const json_t *v, int64_t *out)
{
    int64_t t;
    if (json_is_integer(v)) {
        t = (int64_t)json_integer_value(v);
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (!isfinite(r) || r < 0 || r >= 9.0e18) {
            return false;
        }
        t = (int64_t)r;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n == 0 || n > MAX_TIME_DIGIT) {
            return false;
        }
        t = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return false;
            }
            t = t * 10 + (s[i] - '0');
        }
    } else {
        return false;
    }
    if (t < 0) {
        return false;
    }
    *out = t < SECONDS_BELOW ? t * 1000 : t;
    return true;
}

/* The first key of obj not in skip (NULL-terminated), or NULL. Borrowed. */
static const char *first_other_key(const json_t *obj, const char *const *skip)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool skipped = false;
        for (size_t i = 0; skip[i] != NULL; i++) {
            if (strcmp(key, skip[i]) == 0) {
                skipped = true;
                break;
            }
        }
        if (!skipped) {
            return key;
        }
    }
    return NULL;
}

/* The message_type of a message: "unsupported", "story_reply", the attachments' common type
 * (passed through as Meta names it), "attachment" when they differ, "text", or "empty" for a
 * message with neither text nor attachments. Borrowed or static. */
static const char *message_type(const json_t *msg, const json_t *attachments,
                                const json_t *reply_to, const char *text)
{
    if (dk_json_bool(msg, "is_unsupported")) {
        return "unsupported";
    }
    if (reply_to != NULL && json_object_get(reply_to, "story") != NULL) {
        return "story_reply";
    }
    if (json_is_array(attachments) && json_array_size(attachments) > 0) {
        const char *common = NULL;
        size_t i;
        json_t *att;
        json_array_foreach(attachments, i, att)
        {
            const char *type = dk_json_str(att, "type");
            if (type == NULL || type[0] == '\0') {
                return "attachment";
            }
            if (common == NULL) {
                common = type;
            } else if (strcmp(common, type) != 0) {
                return "attachment";
            }
        }
        return common;
    }
    return text != NULL ? "text" : "empty";
}

/* message{mid, text, attachments, is_echo, is_deleted, is_unsupported, quick_reply, reply_to,
 * referral}. The customer is the recipient on echoes and the sender otherwise. */
static bool parse_message(struct delivery *d, struct ig_event *ev, json_t *item, json_t *msg)
{
    if (!json_is_object(msg)) {
        return false;
    }
    bool echo = dk_json_bool(msg, "is_echo");
    ev->customer_id = nested_id(d, item, echo ? "recipient" : "sender");
    ev->mid = dk_json_str(msg, "mid");
    if (ev->customer_id == NULL || ev->mid == NULL) {
        return false;
    }
    if (dk_json_bool(msg, "is_deleted")) {
        /* the business unsending its own message is a deletion too, for the same customer */
        ev->kind = IG_EV_DELETE;
        if (echo) {
            json_object_set_new(ev->metadata, "is_echo", json_true());
        }
        return true;
    }
    ev->kind = echo ? IG_EV_ECHO : IG_EV_MESSAGE;
    ev->text = dk_json_str(msg, "text");

    json_t *attachments = json_object_get(msg, "attachments");
    json_t *reply_to = get_object(msg, "reply_to");
    json_t *quick_reply = get_object(msg, "quick_reply");
    json_t *referral = get_object(msg, "referral");
    if (referral == NULL) {
        referral = get_object(item, "referral");
    }
    ev->message_type = message_type(msg, attachments, reply_to, ev->text);
    ev->reply_to_mid = dk_json_str(reply_to, "mid");
    ev->payload = dk_json_str(quick_reply, "payload");

    if (json_is_array(attachments)) {
        meta_copy(ev->metadata, "attachments", attachments);
    }
    meta_copy(ev->metadata, "quick_reply", quick_reply);
    meta_copy(ev->metadata, "referral", referral);
    meta_copy(ev->metadata, "reply_to", reply_to);
    if (dk_json_bool(msg, "is_unsupported")) {
        json_object_set_new(ev->metadata, "is_unsupported", json_true());
    }
    return true;
}

/* message_edit{mid, text, num_edit}. */
static bool parse_edit(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    if (!json_is_object(val)) {
        return false;
    }
    ev->customer_id = nested_id(d, item, "sender");
    ev->mid = dk_json_str(val, "mid");
    if (ev->customer_id == NULL || ev->mid == NULL) {
        return false;
    }
    ev->kind = IG_EV_EDIT;
    ev->text = dk_json_str(val, "text");
    meta_copy(ev->metadata, "num_edit", json_object_get(val, "num_edit"));
    return true;
}

/* reaction{mid, action, reaction, emoji}; an unreact carries only mid and action. */
static bool parse_reaction(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    if (!json_is_object(val)) {
        return false;
    }
    ev->customer_id = nested_id(d, item, "sender");
    ev->mid = dk_json_str(val, "mid");
    ev->reaction_action = dk_json_str(val, "action");
    if (ev->customer_id == NULL || ev->mid == NULL || ev->reaction_action == NULL) {
        return false;
    }
    ev->kind = IG_EV_REACTION;
    ev->reaction = dk_json_str(val, "reaction");
    ev->emoji = dk_json_str(val, "emoji");
    return true;
}

/* read{mid}, or Messenger's read{watermark} (kept in metadata). */
static bool parse_read(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    if (!json_is_object(val)) {
        return false;
    }
    ev->customer_id = nested_id(d, item, "sender");
    ev->mid = dk_json_str(val, "mid");
    json_t *watermark = json_object_get(val, "watermark");
    if (ev->customer_id == NULL || (ev->mid == NULL && watermark == NULL)) {
        return false;
    }
    ev->kind = IG_EV_READ;
    meta_copy(ev->metadata, "watermark", watermark);
    return true;
}

/* postback{mid, title, payload, referral}; mid is absent before Graph v11. */
static bool parse_postback(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    if (!json_is_object(val)) {
        return false;
    }
    ev->customer_id = nested_id(d, item, "sender");
    if (ev->customer_id == NULL) {
        return false;
    }
    ev->kind = IG_EV_POSTBACK;
    ev->mid = dk_json_str(val, "mid");
    ev->text = dk_json_str(val, "title");
    ev->payload = dk_json_str(val, "payload");
    ev->message_type = "postback";
    meta_copy(ev->metadata, "referral", get_object(val, "referral"));
    return true;
}

/* An item-level referral{ref, source, type, …} without a message. */
static bool parse_referral(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    if (!json_is_object(val)) {
        return false;
    }
    ev->customer_id = nested_id(d, item, "sender");
    if (ev->customer_id == NULL) {
        return false;
    }
    ev->kind = IG_EV_REFERRAL;
    meta_copy(ev->metadata, "referral", val);
    return true;
}

/* changes[] field "comments": value{id, text, from{id, username}, media, parent_id}. */
static bool parse_comment(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    (void)item;
    if (!json_is_object(val)) {
        return false;
    }
    ev->mid = dk_json_str(val, "id");
    ev->customer_id = nested_id(d, val, "from");
    if (ev->mid == NULL || ev->customer_id == NULL) {
        return false;
    }
    ev->kind = IG_EV_COMMENT;
    ev->text = dk_json_str(val, "text");
    meta_copy(ev->metadata, "from", json_object_get(val, "from"));
    meta_copy(ev->metadata, "media", json_object_get(val, "media"));
    meta_copy(ev->metadata, "parent_id", json_object_get(val, "parent_id"));
    return true;
}

/* changes[] field "mentions": value{media_id, comment_id}; the comment when there is one. */
static bool parse_mention(struct delivery *d, struct ig_event *ev, json_t *item, json_t *val)
{
    (void)item;
    if (!json_is_object(val)) {
        return false;
    }
    ev->mid = id_field(d, val, "comment_id");
    if (ev->mid == NULL) {
        ev->mid = id_field(d, val, "media_id");
    }
    if (ev->mid == NULL) {
        return false;
    }
    ev->kind = IG_EV_MENTION;
    json_t *copy = json_deep_copy(val);
    DK_ASSERT(copy != NULL);
    json_object_update(ev->metadata, copy);
    json_decref(copy);
    return true;
}

/* Resets ev to what every event of the entry shares: a fresh empty metadata object, raw. */
static void event_init(struct ig_event *ev, const struct entry_ctx *ctx, json_t *raw)
{
    memset(ev, 0, sizeof(*ev));
    ev->account_id = ctx->account_id;
    ev->timestamp_ms = ctx->time_ms;
    ev->raw = raw;
    ev->metadata = new_object();
}

/* Makes ev IG_EV_UNKNOWN, dropping whatever a parser had filled in before it gave up. */
static void event_unknown(struct ig_event *ev, const char *field, const char *customer_id)
{
    struct ig_event keep = *ev;
    memset(ev, 0, sizeof(*ev));
    ev->kind = IG_EV_UNKNOWN;
    ev->account_id = keep.account_id;
    ev->timestamp_ms = keep.timestamp_ms;
    ev->raw = keep.raw;
    ev->metadata = keep.metadata;
    json_object_clear(ev->metadata);
    ev->field = field;
    ev->customer_id = customer_id;
}

/* One messaging[] item into ev. */
static void messaging_event(struct delivery *d, struct ig_event *ev, const struct entry_ctx *ctx,
                            json_t *item)
{
    static const char *const envelope[] = {"sender", "recipient", "timestamp", NULL};

    event_init(ev, ctx, item);
    if (!json_is_object(item)) {
        event_unknown(ev, NULL, NULL);
        return;
    }
    int64_t ts;
    if (time_value(json_object_get(item, "timestamp"), &ts)) {
        ev->timestamp_ms = ts;
    }
    for (size_t i = 0; i < sizeof(MESSAGING_KINDS) / sizeof(MESSAGING_KINDS[0]); i++) {
        json_t *val = json_object_get(item, MESSAGING_KINDS[i].key);
        if (val == NULL) {
            continue;
        }
        if (ctx->account_id == NULL || !MESSAGING_KINDS[i].parse(d, ev, item, val)) {
            event_unknown(ev, MESSAGING_KINDS[i].key, nested_id(d, item, "sender"));
        }
        return;
    }
    event_unknown(ev, first_other_key(item, envelope), nested_id(d, item, "sender"));
}

/* One changes[] item into ev. */
static void change_event(struct delivery *d, struct ig_event *ev, const struct entry_ctx *ctx,
                         json_t *item)
{
    event_init(ev, ctx, item);
    const char *field = dk_json_str(item, "field");
    if (field == NULL) {
        event_unknown(ev, NULL, NULL);
        return;
    }
    int64_t ts;
    if (time_value(json_object_get(item, "timestamp"), &ts)) {
        ev->timestamp_ms = ts;
    }
    for (size_t i = 0; i < sizeof(CHANGE_KINDS) / sizeof(CHANGE_KINDS[0]); i++) {
        if (strcmp(field, CHANGE_KINDS[i].field) != 0) {
            continue;
        }
        json_t *val = json_object_get(item, "value");
        if (ctx->account_id == NULL || !CHANGE_KINDS[i].parse(d, ev, item, val)) {
            event_unknown(ev, field, NULL);
        }
        return;
    }
    event_unknown(ev, field, NULL);
}

/* How many events an entry yields: one per messaging or changes item, one for a messaging or
 * changes value that is not an array, and one for an entry that is not an object or has
 * neither (e.g. a handover "standby" entry). *items is the number of array items. */
static size_t entry_event_count(const json_t *entry, size_t *items)
{
    *items = 0;
    if (!json_is_object(entry)) {
        return 1;
    }
    static const char *const lists[] = {"messaging", "changes"};
    size_t n = 0;
    bool any = false;
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(entry, lists[i]);
        if (v == NULL) {
            continue;
        }
        any = true;
        if (json_is_array(v)) {
            *items += json_array_size(v);
            n += json_array_size(v);
        } else {
            n += 1;
        }
    }
    return any ? n : 1;
}

/* Appends the events of one entry at d->pub.events + d->pub.count. */
static void entry_events(struct delivery *d, json_t *entry)
{
    static const char *const entry_keys[] = {"id", "time", NULL};
    struct ig_delivery *pub = &d->pub;
    struct entry_ctx ctx = {NULL, 0};

    if (!json_is_object(entry)) {
        struct ig_event *ev = &pub->events[pub->count++];
        event_init(ev, &ctx, entry);
        event_unknown(ev, NULL, NULL);
        return;
    }
    ctx.account_id = id_field(d, entry, "id");
    int64_t t;
    if (time_value(json_object_get(entry, "time"), &t)) {
        ctx.time_ms = t;
    }
    json_t *messaging = json_object_get(entry, "messaging");
    json_t *changes = json_object_get(entry, "changes");
    if (messaging == NULL && changes == NULL) {
        struct ig_event *ev = &pub->events[pub->count++];
        event_init(ev, &ctx, entry);
        event_unknown(ev, first_other_key(entry, entry_keys), NULL);
        return;
    }
    if (json_is_array(messaging)) {
        size_t i;
        json_t *item;
        json_array_foreach(messaging, i, item)
        {
            messaging_event(d, &pub->events[pub->count++], &ctx, item);
        }
    } else if (messaging != NULL) {
        struct ig_event *ev = &pub->events[pub->count++];
        event_init(ev, &ctx, messaging);
        event_unknown(ev, "messaging", NULL);
    }
    if (json_is_array(changes)) {
        size_t i;
        json_t *item;
        json_array_foreach(changes, i, item)
        {
            change_event(d, &pub->events[pub->count++], &ctx, item);
        }
    } else if (changes != NULL) {
        struct ig_event *ev = &pub->events[pub->count++];
        event_init(ev, &ctx, changes);
        event_unknown(ev, "changes", NULL);
    }
}

/* Parses a delivery body. Returns 0 and *out (caller frees with ig_delivery_free), DK_EINVAL
 * for malformed JSON or a body that is not an object with an "entry" array, DK_ETOOBIG for more
 * than 1000 entries or 1000 items in one entry; *out is NULL on failure. Event strings are
 * borrowed from the delivery. Any thread; one delivery belongs to one thread at a time. */
int ig_delivery_parse(const char *body, size_t len, struct ig_delivery **out, struct dk_err *err)
{
    *out = NULL;
    struct dk_err perr;
    json_t *root = dk_json_parse(body, len, DK_JSON_MAX_DEPTH, &perr);
    if (root == NULL) {
        return dk_err_set(err, DK_EINVAL, "invalid webhook delivery: %s", perr.msg);
    }
    const char *problem = NULL;
    json_t *entries = json_object_get(root, "entry");
    if (!json_is_object(root)) {
        problem = "the body is not a json object";
    } else if (entries == NULL) {
        problem = "\"entry\" is missing";
    } else if (!json_is_array(entries)) {
        problem = "\"entry\" is not an array";
    }
    if (problem != NULL) {
        json_decref(root);
        return dk_err_set(err, DK_EINVAL, "invalid webhook delivery: %s", problem);
    }
    size_t nentries = json_array_size(entries);
    if (nentries > MAX_ENTRIES) {
        json_decref(root);
        return dk_err_set(err, DK_ETOOBIG,
                          "webhook delivery too large: %zu entries (at most %d in one delivery)",
                          nentries, MAX_ENTRIES);
    }
    size_t total = 0;
    for (size_t i = 0; i < nentries; i++) {
        size_t items;
        total += entry_event_count(json_array_get(entries, i), &items);
        if (items > MAX_ITEMS) {
            json_decref(root);
            return dk_err_set(err, DK_ETOOBIG,
                              "webhook delivery too large: entry %zu has %zu items (at most %d)", i,
                              items, MAX_ITEMS);
        }
    }

    struct delivery *d = dk_calloc(1, sizeof(*d));
    d->pub.root = root;
    d->pub.events = dk_calloc(total, sizeof(struct ig_event));
    for (size_t i = 0; i < nentries; i++) {
        entry_events(d, json_array_get(entries, i));
    }
    DK_ASSERT(d->pub.count == total);
    for (size_t i = 0; i < total; i++) {
        if (d->pub.events[i].kind == IG_EV_UNKNOWN) {
            d->pub.unknown++;
        }
    }
    *out = &d->pub;
    return 0;
}

/* Frees a delivery, its events and their metadata; NULL is accepted. Every string and json_t
 * taken from its events dies here. Only a delivery from ig_delivery_parse (it is allocated with
 * private fields behind the public ones). The thread that owns the delivery. */
void ig_delivery_free(struct ig_delivery *pub)
{
    if (pub == NULL) {
        return;
    }
    struct delivery *d = (struct delivery *)pub;
    for (size_t i = 0; i < pub->count; i++) {
        json_decref(pub->events[i].metadata);
    }
    dk_free(pub->events);
    json_decref(pub->root);
    dk_arena_free(d->pool);
    dk_free(d);
}
