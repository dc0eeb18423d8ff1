/*
 * instagram/graph_parse: reads the Graph API's answers (see graph.h); graph.c builds requests.
 *
 * ig_parse_result never fails: an error object is classified by its code and subcode through
 * one table (instagram-platform.md §5), then by is_transient, then by the HTTP status; a 2xx
 * without an error is a success when it carries what a success carries (message_id, id,
 * recipient_id, data) and uncertain otherwise, since a send may have gone out. The other parsers
 * keep only the documented fields of the documented shapes, type-checked and bounded, so that
 * nothing Meta (or a fake of it) sends can grow without limit or reach the caller unchecked.
 */
#include "instagram/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

#define BODY_MAX      (1u << 20) /* larger answers are not read */
#define FIELD_MAX     4096       /* longer profile strings are dropped */
#define URL_MAX       4096
#define PAGE_MAX      1000 /* conversations or messages kept from one answer */
#define ANY_SUBCODE   (-1)
#define DEFAULT_DEPTH DK_JSON_MAX_DEPTH

/* Error codes and subcodes to outcomes, first match wins (ANY_SUBCODE matches every subcode). */
static const struct {
    int code, subcode;
    enum ig_outcome outcome;
} ERROR_CLASSES[] = {
    {1, 1357046, IG_UNCERTAIN},       /* "the messages are all sent successfully, but…" */
    {190, ANY_SUBCODE, IG_TOKEN},     /* invalid or expired token (458, 460, 463, 467, …) */
    {102, ANY_SUBCODE, IG_TOKEN},     /* session key invalid */
    {10, 2534022, IG_WINDOW},         /* outside of allowed window */
    {10, 2018278, IG_WINDOW},         /* the older Messenger subcode for the same */
    {10, ANY_SUBCODE, IG_PERMISSION}, /* incl. 10/1893063: temporarily restricted */
    {551, ANY_SUBCODE, IG_UNAVAILABLE},
    {100, 2018001, IG_UNAVAILABLE}, /* no matching user found */
    {100, 2534014, IG_UNAVAILABLE}, /* no matching Instagram user */
    {100, 2534029, IG_PERMISSION},  /* business blocked from messaging */
    {36103, ANY_SUBCODE, IG_PERMISSION},
    {4, ANY_SUBCODE, IG_THROTTLED},
    {17, ANY_SUBCODE, IG_THROTTLED},
    {32, ANY_SUBCODE, IG_THROTTLED},
    {613, ANY_SUBCODE, IG_THROTTLED},
    {1, ANY_SUBCODE, IG_RETRY},
    {2, ANY_SUBCODE, IG_RETRY},
};

/* Each outcome's name, and what a stored reason says for it. */
static const struct {
    const char *name, *reason;
} OUTCOMES[] = {
    [IG_OK] = {"ok", "sent"},
    [IG_RETRY] = {"retry", "temporary error"},
    [IG_THROTTLED] = {"throttled", "rate limited"},
    [IG_WINDOW] = {"window", "outside the messaging window"},
    [IG_PERMISSION] = {"permission", "no permission"},
    [IG_TOKEN] = {"token", "access token invalid or expired"},
    [IG_UNAVAILABLE] = {"unavailable", "the person cannot be reached"},
    [IG_INVALID] = {"invalid", "invalid request"},
    [IG_UNCERTAIN] = {"uncertain", "outcome unknown"},
};

#define OUTCOME_COUNT (sizeof(OUTCOMES) / sizeof(OUTCOMES[0]))

const char *ig_outcome_name(enum ig_outcome o)
{
    return (unsigned)o < OUTCOME_COUNT ? OUTCOMES[o].name : "unknown";
}

/* Copies src into dst[cap], cut at a UTF-8 character boundary, control characters as spaces. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (src != NULL) {
        n = strlen(src);
        if (n >= cap) {
            n = cap - 1;
            while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)dst[i] < ' ' || dst[i] == 0x7F) {
            dst[i] = ' ';
        }
    }
}

/* A bounded body as JSON (new), or NULL when it is missing, too big or not JSON. */
static json_t *parse_body(const char *body, size_t len, struct dk_err *err)
{
    if (body != NULL && len > BODY_MAX) {
        dk_err_set(err, DK_EINVAL, "graph answer of %zu bytes is too big", len);
        return NULL;
    }
    return dk_json_parse(body, len, DEFAULT_DEPTH, err);
}

/* An int field that fits an int (Meta's codes), else 0. */
static int int_field(const json_t *obj, const char *key)
{
    int64_t v;
    return dk_json_int(obj, key, &v) && v >= -2147483647 && v <= 2147483647 ? (int)v : 0;
}

static enum ig_outcome by_status(int status)
{
    if (status >= 500 && status <= 599) {
        return IG_RETRY;
    }
    if (status == 429) {
        return IG_THROTTLED;
    }
    return status >= 400 && status <= 499 ? IG_INVALID : IG_UNCERTAIN;
}

static enum ig_outcome classify(const struct ig_result *r)
{
    for (size_t i = 0; i < sizeof(ERROR_CLASSES) / sizeof(ERROR_CLASSES[0]); i++) {
        if (ERROR_CLASSES[i].code == r->code &&
            (ERROR_CLASSES[i].subcode == ANY_SUBCODE || ERROR_CLASSES[i].subcode == r->subcode)) {
            return ERROR_CLASSES[i].outcome;
        }
    }
    if (r->code >= 200 && r->code <= 299) {
        return IG_PERMISSION;
    }
    if (r->is_transient || (r->http_status >= 500 && r->http_status <= 599)) {
        return IG_RETRY;
    }
    /* 100 and any other error: a request Meta will refuse again */
    return r->http_status == 429 ? IG_THROTTLED : IG_INVALID;
}

/* Copies a string or a number field (Meta's ids are strings, a fake's may be numbers). */
static bool id_field(char *dst, size_t cap, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v) && json_string_length(v) > 0) {
        copy_cut(dst, cap, json_string_value(v));
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
        return true;
    }
    return false;
}

static enum ig_outcome success(const json_t *root, struct ig_result *out)
{
    if (!json_is_object(root)) {
        return IG_UNCERTAIN;
    }
    bool recipient = id_field(out->recipient_id, sizeof(out->recipient_id), root, "recipient_id");
    if (id_field(out->message_id, sizeof(out->message_id), root, "message_id") ||
        id_field(out->message_id, sizeof(out->message_id), root, "id")) {
        return IG_OK;
    }
    /* a sender action answers {"recipient_id"}; reads answer {"data": …} */
    bool read =
        json_object_get(root, "data") != NULL || json_is_true(json_object_get(root, "success"));
    return recipient || read ? IG_OK : IG_UNCERTAIN;
}

void ig_parse_result(int http_status, const char *body, size_t len, struct ig_result *out)
{
    memset(out, 0, sizeof(*out));
    out->http_status = http_status;
    json_t *root = body != NULL && len > 0 ? parse_body(body, len, NULL) : NULL;
    json_t *error = json_object_get(root, "error");
    if (json_is_object(error)) {
        out->code = int_field(error, "code");
        out->subcode = int_field(error, "error_subcode");
        out->is_transient = json_is_true(json_object_get(error, "is_transient"));
        copy_cut(out->message, sizeof(out->message), dk_json_str(error, "message"));
        copy_cut(out->fbtrace_id, sizeof(out->fbtrace_id), dk_json_str(error, "fbtrace_id"));
        out->outcome = classify(out);
        if (out->message[0] == '\0') {
            snprintf(out->message, sizeof(out->message), "graph error %d", out->code);
        }
    } else if (http_status >= 200 && http_status <= 299) {
        out->outcome = success(root, out);
    } else {
        out->outcome = by_status(http_status);
        snprintf(out->message, sizeof(out->message), "HTTP %d%s", http_status,
                 root == NULL ? " without a readable body" : "");
    }
    json_decref(root);
}

void ig_transport_result(int error, bool sent, const char *msg, struct ig_result *out)
{
    memset(out, 0, sizeof(*out));
    out->outcome = sent ? IG_UNCERTAIN : IG_RETRY;
    if (msg != NULL && msg[0] != '\0') {
        copy_cut(out->message, sizeof(out->message), msg);
    } else {
        snprintf(out->message, sizeof(out->message), "transport error (%s)", dk_err_name(error));
    }
}

/* Meta's message without its "(#10) " prefix and final period. */
static void plain_message(const char *m, char *buf, size_t size)
{
    if (m[0] == '(' && m[1] == '#') {
        size_t i = 2 + strspn(m + 2, "0123456789");
        if (m[i] == ')' && m[i + 1] == ' ') {
            m += i + 2;
        }
    }
    size_t n = strlen(m);
    if (n > 0 && m[n - 1] == '.') {
        n--;
    }
    snprintf(buf, size, "%.*s", (int)n, m);
}

const char *ig_result_reason(const struct ig_result *r, char *buf, size_t size)
{
    if (size == 0) {
        return buf;
    }
    const char *what =
        (unsigned)r->outcome < OUTCOME_COUNT ? OUTCOMES[r->outcome].reason : "unknown outcome";
    char where[40] = "";
    if (r->code != 0 && r->subcode != 0) {
        snprintf(where, sizeof(where), " (%d/%d)", r->code, r->subcode);
    } else if (r->code != 0) {
        snprintf(where, sizeof(where), " (%d)", r->code);
    }
    char msg[sizeof(r->message)];
    plain_message(r->message, msg, sizeof(msg));
    snprintf(buf, size, "%s%s%s%s", what, where, msg[0] != '\0' ? ": " : "", msg);
    return buf;
}

/* The body as a JSON object (new) that is not an error answer, or NULL with DK_EINVAL. */
static json_t *answer_object(const char *body, size_t len, const char *what, struct dk_err *err)
{
    json_t *root = parse_body(body, len, err);
    if (root == NULL) {
        return NULL;
    }
    if (!json_is_object(root) || json_object_get(root, "error") != NULL) {
        dk_err_set(err, DK_EINVAL, "invalid %s: %s", what,
                   json_is_object(root) ? "an error answer" : "not a json object");
        json_decref(root);
        return NULL;
    }
    return root;
}

int ig_parse_profile(const char *body, size_t len, json_t **out, struct dk_err *err)
{
    static const char *const STRINGS[] = {"name", "username", "profile_pic"};
    static const char *const FLAGS[] = {"is_user_follow_business", "is_verified_user"};
    *out = NULL;
    json_t *root = answer_object(body, len, "profile", err);
    if (root == NULL) {
        return DK_EINVAL;
    }
    json_t *p = json_object();
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(root, STRINGS[i]);
        if (json_is_string(v) && json_string_length(v) <= FIELD_MAX &&
            strlen(json_string_value(v)) == json_string_length(v)) {
            json_object_set(p, STRINGS[i], v);
        }
    }
    int64_t followers;
    if (dk_json_int(root, "follower_count", &followers) && followers >= 0) {
        json_object_set_new(p, "follower_count", json_integer(followers));
    }
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, FLAGS[i]);
        if (json_is_boolean(v)) {
            json_object_set(p, FLAGS[i], v);
        }
    }
    json_decref(root);
    *out = p;
    return 0;
}

/* A borrowed string field that is a usable id: non-empty, bounded, without NUL. */
static const char *id_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return NULL;
    }
    return json_string_value(v);
}

int ig_parse_conversations(const char *body, size_t len, json_t **ids, char **next_url,
                           struct dk_err *err)
{
    *ids = NULL;
    *next_url = NULL;
    json_t *root = answer_object(body, len, "conversations page", err);
    if (root == NULL) {
        return DK_EINVAL;
    }
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        json_decref(root);
        return dk_err_set(err, DK_EINVAL, "invalid conversations page: no data array");
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(data) && json_array_size(out) < PAGE_MAX; i++) {
        const char *id = id_str(json_array_get(data, i), "id");
        if (id != NULL) {
            json_array_append_new(out, json_string(id));
        }
    }
    const char *next = dk_json_str(json_object_get(root, "paging"), "next");
    if (next != NULL && next[0] != '\0' && strlen(next) <= URL_MAX) {
        *next_url = dk_strdup(next);
    }
    json_decref(root);
    *ids = out;
    return 0;
}

/* One message of a conversation as direkt keeps it. */
struct hist_msg {
    int64_t created_ms;
    size_t order; /* position after reversing Meta's newest-first list */
    json_t *obj;
};

static int by_time(const void *a, const void *b)
{
    const struct hist_msg *x = a, *y = b;
    if (x->created_ms != y->created_ms) {
        return x->created_ms < y->created_ms ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* {"mid","created_ms","from_id","from_username","to_id","text"} from one item, or NULL when it
 * lacks an id, a time, a sender or a recipient. */
static json_t *history_message(const json_t *item, int64_t *created_ms)
{
    const char *mid = id_str(item, "id");
    const char *created = dk_json_str(item, "created_time");
    const json_t *from = json_object_get(item, "from");
    const char *from_id = id_str(from, "id");
    const char *to_id =
        id_str(json_array_get(json_object_get(json_object_get(item, "to"), "data"), 0), "id");
    if (mid == NULL || created == NULL || from_id == NULL || to_id == NULL ||
        strlen(created) > 64 || dk_time_parse(created, created_ms) != 0) {
        return NULL;
    }
    const char *username = id_str(from, "username");
    json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:s}", "mid", mid, "created_ms",
                          (json_int_t)*created_ms, "from_id", from_id, "from_username",
                          username != NULL ? username : "", "to_id", to_id);
    json_t *text = json_object_get(item, "message");
    if (json_is_string(text) && json_string_length(text) > 0) {
        json_object_set(m, "text", text);
    }
    return m;
}

int ig_parse_conversation_messages(const char *body, size_t len, json_t **out, struct dk_err *err)
{
    *out = NULL;
    json_t *root = answer_object(body, len, "conversation messages", err);
    if (root == NULL) {
        return DK_EINVAL;
    }
    json_t *messages = json_object_get(root, "messages");
    json_t *data = json_object_get(messages, "data");
    if (messages != NULL && !json_is_array(data)) {
        json_decref(root);
        return dk_err_set(err, DK_EINVAL, "invalid conversation messages: no messages.data");
    }
    if (messages == NULL && id_str(root, "id") == NULL) {
        json_decref(root);
        return dk_err_set(err, DK_EINVAL, "invalid conversation messages: not a conversation");
    }
    size_t n = json_array_size(data) < PAGE_MAX ? json_array_size(data) : PAGE_MAX;
    struct hist_msg *list = dk_calloc(n > 0 ? n : 1, sizeof(*list));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct hist_msg *h = &list[kept];
        h->obj = history_message(json_array_get(data, i), &h->created_ms);
        if (h->obj != NULL) {
            h->order = n - i; /* Meta lists newest first */
            kept++;
        }
    }
    qsort(list, kept, sizeof(*list), by_time);
    json_t *arr = json_array();
    for (size_t i = 0; i < kept; i++) {
        json_array_append_new(arr, list[i].obj);
    }
    dk_free(list);
    json_decref(root);
    *out = arr;
    return 0;
}
