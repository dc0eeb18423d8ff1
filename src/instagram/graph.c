/*
 * instagram/graph: builds the Graph API requests (see graph.h); graph_parse.c reads the answers.
 *
 * A request is a method, an absolute URL, an optional Authorization header and a JSON body. The
 * URL is base_url (trailing '/' dropped), the version, then path segments percent-encoded so
 * that an id can never add a segment or a query of its own; the token only ever goes in the
 * header. Every string that reaches a body goes through json_string, which refuses anything that
 * is not UTF-8, and every rule of graph.h is checked before anything is built, so that a
 * failure hands back an empty request.
 */
#include "instagram/graph.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/jsonh.h"
#include "core/mem.h"

#define URL_MAX       4096
#define ID_MAX        256
#define TOKEN_MAX     4096
#define PAYLOAD_MAX   1000 /* quick reply payload: Meta's 1000-character limit */
#define COMMENT_CHARS 2200 /* a public comment reply: Instagram's comment limit */
#define REACTION_MAX  64
#define PROFILE_FIELDS                                                                             \
    "name,username,profile_pic,follower_count,is_user_follow_business,is_verified_user"
#define MESSAGE_FIELDS "messages{id,created_time,from,to,message}"

static const char *const ATTACHMENT_TYPES[] = {"image", "video", "audio", "file"};
static const char *const SENDER_ACTIONS[] = {"typing_on", "typing_off", "mark_seen"};
#define NATTACHMENT_TYPES (sizeof(ATTACHMENT_TYPES) / sizeof(ATTACHMENT_TYPES[0]))
#define NSENDER_ACTIONS   (sizeof(SENDER_ACTIONS) / sizeof(SENDER_ACTIONS[0]))

void ig_request_clear(struct ig_request *r)
{
    if (r == NULL) {
        return;
    }
    dk_free(r->method);
    dk_free(r->url);
    dk_free(r->auth_header);
    dk_free(r->body);
    memset(r, 0, sizeof(*r));
}

static bool present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Characters (code points) of valid UTF-8 s: the bytes that do not continue a sequence. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        n += (*p & 0xC0) != 0x80;
    }
    return n;
}

/* Byte length of the first max characters of valid UTF-8 s. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t i = 0;
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p[i] != '\0') {
        if ((p[i] & 0xC0) != 0x80 && chars++ == max) {
            break;
        }
        i++;
    }
    return i;
}

/* A new JSON string of s, or NULL with DK_EINVAL when s is missing or not UTF-8 (what names the
 * field in the message). */
static json_t *jstr(const char *s, const char *what, struct dk_err *err)
{
    json_t *j = s != NULL ? json_string(s) : NULL;
    if (j == NULL) {
        dk_err_set(err, DK_EINVAL, "invalid %s: %s", what,
                   s == NULL ? "missing" : "not valid UTF-8");
    }
    return j;
}

/* Whether s holds a byte that must not reach a URL or a header (controls, space, DEL, '\\'). */
static bool has_unsafe_byte(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7F || *p == '\\') {
            return true;
        }
    }
    return false;
}

/* Length of the "http://" / "https://" prefix of url, or 0 when it has neither. */
static size_t http_scheme_len(const char *url)
{
    if (strncasecmp(url, "https://", 8) == 0) {
        return 8;
    }
    return strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
}

/* Whether url is an absolute http(s) URL with a host and nothing that breaks a request line. */
static bool http_url_ok(const char *url)
{
    size_t skip = http_scheme_len(url);
    return skip > 0 && strlen(url) <= URL_MAX && strcspn(url + skip, "/?#") > 0 &&
           !has_unsafe_byte(url);
}

/* Appends s percent-encoded: RFC 3986 unreserved characters and those in keep stay as they are. */
static int put_escaped(struct dk_buf *b, const char *s, const char *keep)
{
    static const char HEX[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || strchr(keep, c) != NULL;
        if (plain) {
            rc = dk_buf_append(b, p, 1);
        } else {
            char esc[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            rc = dk_buf_append(b, esc, 3);
        }
    }
    return rc;
}

/* "/<id>" with id percent-encoded; DK_EINVAL when id is missing, too long or "." / "..". */
static int put_segment(struct dk_buf *b, const char *id, const char *what, struct dk_err *err)
{
    if (!present(id)) {
        return dk_err_set(err, DK_EINVAL, "missing %s", what);
    }
    if (strlen(id) > ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        return dk_err_set(err, DK_EINVAL, "invalid %s: not an id", what);
    }
    if (dk_buf_append(b, "/", 1) != 0 || put_escaped(b, id, "") != 0) {
        return dk_err_set(err, DK_EINVAL, "url too long");
    }
    return 0;
}

/* base_url without its trailing '/' and the version segment, if any. */
static int put_base(struct dk_buf *b, const struct ig_graph *g, struct dk_err *err)
{
    if (g == NULL || g->base_url == NULL || !http_url_ok(g->base_url)) {
        return dk_err_set(err, DK_EINVAL, "invalid graph base url: not an http(s) url");
    }
    size_t n = strlen(g->base_url);
    while (n > 0 && g->base_url[n - 1] == '/') {
        n--;
    }
    if (dk_buf_append(b, g->base_url, n) != 0) {
        return dk_err_set(err, DK_EINVAL, "url too long");
    }
    return present(g->version) ? put_segment(b, g->version, "graph version", err) : 0;
}

/* The id the messages are sent as: the account, or for the facebook flavour its Page. */
static const char *sender_id(const struct ig_graph *g)
{
    if (g == NULL) {
        return NULL;
    }
    if (g->flavour == IG_FLAVOUR_FACEBOOK && present(g->page_id)) {
        return g->page_id;
    }
    return g->account_id;
}

/* Fills out from the parts; takes url's data and, when body is not NULL, steals body. */
static int finish(const struct ig_graph *g, const char *method, struct dk_buf *url, json_t *body,
                  struct ig_request *out, struct dk_err *err)
{
    const char *token = g->token;
    if (present(token) && (strlen(token) > TOKEN_MAX || has_unsafe_byte(token))) {
        json_decref(body);
        dk_buf_free(url);
        return dk_err_set(err, DK_EINVAL, "invalid access token: not a header value");
    }
    out->method = dk_strdup(method);
    out->url = dk_buf_take(url, NULL);
    if (present(token)) {
        out->auth_header = dk_asprintf("Authorization: Bearer %s", token);
    }
    if (body != NULL) {
        out->body = dk_json_dump(body);
        out->body_len = strlen(out->body);
        json_decref(body);
    }
    return 0;
}

/* Where a request goes: <base>/<ver>/<id><tail>, then ?<key>=<value> when key is set. */
struct target {
    const char *id;    /* percent-encoded into one segment */
    const char *what;  /* names the id in errors */
    const char *tail;  /* a fixed path after the id, e.g. "/messages" */
    const char *key;   /* query parameter or NULL */
    const char *value; /* percent-encoded */
};

/* Builds the request to t; body (NULL for none) is stolen. */
static int build(const struct ig_graph *g, const char *method, const struct target *t, json_t *body,
                 struct ig_request *out, struct dk_err *err)
{
    struct dk_buf url;
    dk_buf_init(&url, URL_MAX);
    int rc = put_base(&url, g, err);
    if (rc == 0) {
        rc = put_segment(&url, t->id, t->what, err);
    }
    if (rc == 0 && (dk_buf_puts(&url, t->tail) != 0 ||
                    (t->key != NULL && (dk_buf_printf(&url, "?%s=", t->key) != 0 ||
                                        put_escaped(&url, t->value, ",") != 0)))) {
        rc = dk_err_set(err, DK_EINVAL, "url too long");
    }
    if (rc != 0) {
        json_decref(body);
        dk_buf_free(&url);
        return rc;
    }
    return finish(g, method, &url, body, out, err);
}

/* POST <base>/<ver>/<sender>/messages with body (stolen). */
static int build_messages_post(const struct ig_graph *g, json_t *body, struct ig_request *out,
                               struct dk_err *err)
{
    const struct target t = {sender_id(g), "account id", "/messages", NULL, NULL};
    return build(g, "POST", &t, body, out, err);
}

/* {key: id} for the "recipient" object, after checking the id. */
static json_t *recipient_object(const char *key, const char *id, struct dk_err *err)
{
    if (!present(id) || strlen(id) > ID_MAX) {
        dk_err_set(err, DK_EINVAL, "invalid recipient: %s", present(id) ? "too long" : "missing");
        return NULL;
    }
    json_t *v = jstr(id, "recipient id", err);
    return v != NULL ? json_pack("{so}", key, v) : NULL;
}

static int check_recipients(const struct ig_outgoing *m, struct dk_err *err)
{
    if (present(m->recipient_id) == present(m->comment_id)) {
        return dk_err_set(err, DK_EINVAL, "invalid message: %s",
                          present(m->recipient_id) ? "both a recipient and a comment id"
                                                   : "no recipient");
    }
    return 0;
}

static int check_content(const struct ig_outgoing *m, struct dk_err *err)
{
    bool text = present(m->text);
    bool attachment = present(m->attachment_type) || present(m->attachment_url);
    if (!text && !attachment) {
        return dk_err_set(err, DK_EINVAL, "invalid message: nothing to send");
    }
    if (text && attachment) {
        /* Meta's message object carries text or an attachment: send them as two messages */
        return dk_err_set(err, DK_EINVAL, "invalid message: text and an attachment together");
    }
    if (text && strlen(m->text) > IG_TEXT_MAX) {
        return dk_err_set(err, DK_EINVAL, "invalid message: text of %zu bytes (at most %d)",
                          strlen(m->text), IG_TEXT_MAX);
    }
    if (attachment) {
        if (!present(m->attachment_type) ||
            !in_list(m->attachment_type, ATTACHMENT_TYPES, NATTACHMENT_TYPES)) {
            return dk_err_set(err, DK_EINVAL, "invalid attachment type: not %s",
                              "image, video, audio or file");
        }
        if (!present(m->attachment_url) || !http_url_ok(m->attachment_url)) {
            return dk_err_set(err, DK_EINVAL, "invalid attachment url: not an http(s) url");
        }
    }
    if (m->nquick > IG_QUICK_REPLIES_MAX) {
        return dk_err_set(err, DK_EINVAL, "invalid message: %zu quick replies (at most %d)",
                          m->nquick, IG_QUICK_REPLIES_MAX);
    }
    if (m->nquick > 0 && (attachment || m->quick == NULL)) {
        return dk_err_set(err, DK_EINVAL, "invalid message: quick replies go with text only");
    }
    if (present(m->tag) && strcmp(m->tag, "HUMAN_AGENT") != 0) {
        return dk_err_set(err, DK_EINVAL, "invalid message tag: only HUMAN_AGENT is supported");
    }
    return 0;
}

/* [{"content_type":"text","title","payload"}…], titles cut to IG_QUICK_TITLE_MAX characters. */
static json_t *quick_replies(const struct ig_outgoing *m, struct dk_err *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < m->nquick; i++) {
        const struct ig_quick_reply *q = &m->quick[i];
        if (!present(q->title) || !present(q->payload) || strlen(q->payload) > PAYLOAD_MAX) {
            dk_err_set(err, DK_EINVAL, "invalid quick reply %zu: %s", i + 1,
                       present(q->title) ? "payload missing or over 1000 bytes" : "no title");
            json_decref(arr);
            return NULL;
        }
        /* json_stringn refuses a cut that is not UTF-8, so invalid titles fail here too */
        json_t *title = json_stringn(q->title, utf8_prefix(q->title, IG_QUICK_TITLE_MAX));
        json_t *payload = title != NULL ? jstr(q->payload, "quick reply payload", err) : NULL;
        if (payload == NULL) {
            if (title == NULL) {
                dk_err_set(err, DK_EINVAL, "invalid quick reply title: not valid UTF-8");
            }
            json_decref(title);
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "content_type", "text", "title",
                                             title, "payload", payload));
    }
    return arr;
}

/* The "message" object of a send. */
static json_t *message_object(const struct ig_outgoing *m, struct dk_err *err)
{
    if (present(m->text)) {
        json_t *text = jstr(m->text, "message text", err);
        if (text == NULL) {
            return NULL;
        }
        json_t *msg = json_pack("{so}", "text", text);
        if (m->nquick > 0) {
            json_t *quick = quick_replies(m, err);
            if (quick == NULL) {
                json_decref(msg);
                return NULL;
            }
            json_object_set_new(msg, "quick_replies", quick);
        }
        return msg;
    }
    json_t *url = jstr(m->attachment_url, "attachment url", err);
    if (url == NULL) {
        return NULL;
    }
    return json_pack("{s:{s:s, s:{s:o}}}", "attachment", "type", m->attachment_type, "payload",
                     "url", url);
}

int ig_build_send(const struct ig_graph *g, const struct ig_outgoing *m, struct ig_request *out,
                  struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (m == NULL) {
        return dk_err_set(err, DK_EINVAL, "invalid message: missing");
    }
    int rc = check_recipients(m, err);
    if (rc == 0) {
        rc = check_content(m, err);
    }
    if (rc != 0) {
        return rc;
    }
    json_t *recipient = present(m->recipient_id)
                            ? recipient_object("id", m->recipient_id, err)
                            : recipient_object("comment_id", m->comment_id, err);
    json_t *msg = recipient != NULL ? message_object(m, err) : NULL;
    if (msg == NULL) {
        json_decref(recipient);
        return DK_EINVAL;
    }
    json_t *body = json_pack("{s:o, s:s, s:o}", "recipient", recipient, "messaging_type",
                             present(m->tag) ? "MESSAGE_TAG" : "RESPONSE", "message", msg);
    if (present(m->tag)) {
        json_object_set_new(body, "tag", json_string(m->tag));
    }
    return build_messages_post(g, body, out, err);
}

int ig_build_sender_action(const struct ig_graph *g, const char *recipient_id, const char *action,
                           struct ig_request *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (action == NULL || !in_list(action, SENDER_ACTIONS, NSENDER_ACTIONS)) {
        return dk_err_set(err, DK_EINVAL,
                          "invalid sender action: not typing_on, typing_off or mark_seen");
    }
    json_t *recipient = recipient_object("id", recipient_id, err);
    if (recipient == NULL) {
        return DK_EINVAL;
    }
    json_t *body = json_pack("{s:o, s:s}", "recipient", recipient, "sender_action", action);
    return build_messages_post(g, body, out, err);
}

int ig_build_reaction(const struct ig_graph *g, const char *recipient_id, const char *mid,
                      const char *reaction, bool unreact, struct ig_request *out,
                      struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!present(reaction)) {
        reaction = "love";
    }
    if (!present(mid) || strlen(mid) > ID_MAX || strlen(reaction) > REACTION_MAX) {
        return dk_err_set(err, DK_EINVAL, "invalid reaction: %s",
                          present(mid) ? "message id or reaction too long" : "no message id");
    }
    json_t *recipient = recipient_object("id", recipient_id, err);
    json_t *jmid = recipient != NULL ? jstr(mid, "message id", err) : NULL;
    json_t *jreaction = jmid != NULL ? jstr(reaction, "reaction", err) : NULL;
    if (jreaction == NULL) {
        json_decref(recipient);
        json_decref(jmid);
        return DK_EINVAL;
    }
    json_t *payload = json_pack("{so}", "message_id", jmid);
    /* Meta's unreact carries the message id only */
    if (unreact) {
        json_decref(jreaction);
    } else {
        json_object_set_new(payload, "reaction", jreaction);
    }
    json_t *body = json_pack("{s:o, s:s, s:o}", "recipient", recipient, "sender_action",
                             unreact ? "unreact" : "react", "payload", payload);
    return build_messages_post(g, body, out, err);
}

int ig_build_comment_reply(const struct ig_graph *g, const char *comment_id, const char *text,
                           struct ig_request *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!present(text)) {
        return dk_err_set(err, DK_EINVAL, "invalid comment reply: no text");
    }
    json_t *jtext = jstr(text, "comment reply text", err);
    if (jtext == NULL) {
        return DK_EINVAL;
    }
    if (utf8_chars(text) > COMMENT_CHARS) {
        json_decref(jtext);
        return dk_err_set(err, DK_EINVAL, "invalid comment reply: over %d characters",
                          COMMENT_CHARS);
    }
    const struct target t = {comment_id, "comment id", "/replies", NULL, NULL};
    return build(g, "POST", &t, json_pack("{so}", "message", jtext), out, err);
}

int ig_build_profile(const struct ig_graph *g, const char *igsid, struct ig_request *out,
                     struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    const struct target t = {igsid, "user id", "", "fields", PROFILE_FIELDS};
    return build(g, "GET", &t, NULL, out, err);
}

/* The authority of an http(s) URL (after "//", up to '/', '?' or '#'); its length in *n. */
static const char *authority(const char *url, size_t *n)
{
    const char *a = url + http_scheme_len(url);
    *n = strcspn(a, "/?#");
    return a;
}

/* Whether host[:port] of two URLs match, case-insensitively, with the scheme's default port. */
static bool same_origin(const char *a, const char *b)
{
    size_t la, lb;
    const char *ha = authority(a, &la);
    const char *hb = authority(b, &lb);
    if (http_scheme_len(a) != http_scheme_len(b) || memchr(ha, '@', la) != NULL ||
        memchr(hb, '@', lb) != NULL) {
        return false;
    }
    const char *dflt = http_scheme_len(a) == 8 ? ":443" : ":80";
    char ca[320], cb[320];
    int na = snprintf(ca, sizeof(ca), "%.*s%s", (int)la, ha, memchr(ha, ':', la) ? "" : dflt);
    int nb = snprintf(cb, sizeof(cb), "%.*s%s", (int)lb, hb, memchr(hb, ':', lb) ? "" : dflt);
    return na > 0 && nb > 0 && (size_t)na < sizeof(ca) && (size_t)nb < sizeof(cb) &&
           strcasecmp(ca, cb) == 0;
}

/* Appends url without its fragment and its access_token parameters: Meta's paging.next links
 * carry the token in the query, but here it goes in the header (URLs are logged). */
static void put_without_token(struct dk_buf *b, const char *url)
{
    size_t end = strcspn(url, "#");
    size_t q = strcspn(url, "?#");
    dk_buf_append(b, url, q);
    char sep = '?';
    for (size_t i = q + 1; i < end;) {
        size_t n = strcspn(url + i, "&#");
        bool token = strncmp(url + i, "access_token", 12) == 0 && (n == 12 || url[i + 12] == '=');
        if (n > 0 && !token) {
            dk_buf_append(b, &sep, 1);
            dk_buf_append(b, url + i, n);
            sep = '&';
        }
        i += n + 1;
    }
}

int ig_build_conversations(const struct ig_graph *g, const char *next_url, struct ig_request *out,
                           struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (next_url == NULL) {
        const char *owner = g != NULL && g->flavour == IG_FLAVOUR_FACEBOOK ? sender_id(g) : "me";
        const struct target t = {owner, "page id", "/conversations", "platform", "instagram"};
        return build(g, "GET", &t, NULL, out, err);
    }
    if (g == NULL || g->base_url == NULL || !http_url_ok(g->base_url)) {
        return dk_err_set(err, DK_EINVAL, "invalid graph base url: not an http(s) url");
    }
    if (!http_url_ok(next_url) || !same_origin(g->base_url, next_url)) {
        return dk_err_set(err, DK_EINVAL, "invalid next page url: not on the graph api's host");
    }
    struct dk_buf url;
    dk_buf_init(&url, URL_MAX);
    put_without_token(&url, next_url); /* fits: http_url_ok bounds it by URL_MAX */
    return finish(g, "GET", &url, NULL, out, err);
}

int ig_build_conversation_messages(const struct ig_graph *g, const char *conversation_id,
                                   struct ig_request *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    const struct target t = {conversation_id, "conversation id", "", "fields", MESSAGE_FIELDS};
    return build(g, "GET", &t, NULL, out, err);
}
