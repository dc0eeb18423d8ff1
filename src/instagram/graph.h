/*
 * instagram/graph: the Graph API out, as pure functions: requests built from what direkt wants
 * to send, and Meta's answers (success, errors, profiles, conversations) parsed and classified.
 * No I/O here: the transport is the caller's (the outbound HTTP loop), so everything can be
 * tested with the fixtures and fuzzed.
 *
 * Both flavours of Meta's API are spoken:
 *   IG_FLAVOUR_INSTAGRAM  Instagram API with Instagram Login: graph.instagram.com, an Instagram
 *                         user token, sends to /<version>/<account id>/messages;
 *   IG_FLAVOUR_FACEBOOK   Instagram API with Facebook Login (Messenger API for Instagram):
 *                         graph.facebook.com, a Page token, sends to /<version>/<page id>/messages.
 * The token goes in an "Authorization: Bearer" header, never in the URL (URLs are logged).
 */
#ifndef INSTAGRAM_GRAPH_H
#define INSTAGRAM_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Instagram's text limit: "Message text must be UTF-8 and be a 1000 bytes or less." */
#define IG_TEXT_MAX          1000
#define IG_QUICK_REPLIES_MAX 13
#define IG_QUICK_TITLE_MAX   20 /* characters (not bytes); longer titles are cut */
#define IG_DEFAULT_VERSION   "v25.0"

enum ig_flavour { IG_FLAVOUR_INSTAGRAM = 0, IG_FLAVOUR_FACEBOOK };

/* Where and as whom to call. Strings are borrowed. */
struct ig_graph {
    const char *base_url; /* IG_GRAPH_URL, e.g. "https://graph.instagram.com" (a trailing '/'
                             is tolerated) */
    const char *version;  /* "v25.0"; NULL or "" for none (paths then start at the id) */
    enum ig_flavour flavour;
    const char *account_id; /* the Instagram professional account id */
    const char *page_id;    /* facebook flavour: the Page whose token is used (NULL: account_id) */
    const char *token;      /* access token (NULL: requests carry no Authorization header) */
};

/* One HTTP request, every field new (ig_request_clear frees them). */
struct ig_request {
    char *method;      /* "GET" / "POST" */
    char *url;         /* absolute, without the token */
    char *auth_header; /* "Authorization: Bearer <token>" or NULL */
    char *body;        /* JSON (Content-Type: application/json) or NULL */
    size_t body_len;
};
void ig_request_clear(struct ig_request *r);

struct ig_quick_reply {
    const char *title;   /* cut to IG_QUICK_TITLE_MAX characters */
    const char *payload; /* what comes back in the webhook's quick_reply.payload */
};

/* A message to send. Exactly one of recipient_id / comment_id; a text or one attachment. */
struct ig_outgoing {
    const char *recipient_id;    /* the customer's IGSID */
    const char *comment_id;      /* a private reply to this comment (recipient.comment_id) */
    const char *text;            /* ≤ IG_TEXT_MAX bytes of UTF-8 (split before, ig_split_text) */
    const char *attachment_type; /* "image" | "video" | "audio" | "file", with attachment_url */
    const char *attachment_url;
    const struct ig_quick_reply *quick; /* ≤ IG_QUICK_REPLIES_MAX, sent with text only */
    size_t nquick;
    const char *tag; /* "HUMAN_AGENT" (messaging_type MESSAGE_TAG) or NULL (RESPONSE) */
};

/* POST /<ver>/<sender>/messages with the message. DK_EINVAL (nothing built) when the message
 * breaks a rule above: no recipient or both, nothing to send, text over IG_TEXT_MAX bytes or
 * not UTF-8, an unknown attachment type, a URL that is not http(s), more than 13 quick replies,
 * quick replies with an attachment, a tag other than HUMAN_AGENT. */
int ig_build_send(const struct ig_graph *g, const struct ig_outgoing *m, struct ig_request *out,
                  struct dk_err *err);
/* {"recipient":{"id"},"sender_action":"typing_on"|"typing_off"|"mark_seen"}. */
int ig_build_sender_action(const struct ig_graph *g, const char *recipient_id, const char *action,
                           struct ig_request *out, struct dk_err *err);
/* {"recipient":{"id"},"sender_action":"react"|"unreact","payload":{"message_id","reaction"}};
 * reaction defaults to "love". */
int ig_build_reaction(const struct ig_graph *g, const char *recipient_id, const char *mid,
                      const char *reaction, bool unreact, struct ig_request *out,
                      struct dk_err *err);
/* A public reply under a comment: POST /<ver>/<comment id>/replies {"message": text}. */
int ig_build_comment_reply(const struct ig_graph *g, const char *comment_id, const char *text,
                           struct ig_request *out, struct dk_err *err);
/* The profile for messaging: GET /<ver>/<igsid>?fields=name,username,profile_pic,
 * follower_count,is_user_follow_business,is_verified_user. */
int ig_build_profile(const struct ig_graph *g, const char *igsid, struct ig_request *out,
                     struct dk_err *err);
/* History: the first page of conversations (GET /<ver>/me/conversations?platform=instagram,
 * /<ver>/<page id>/conversations?platform=instagram for the facebook flavour), or next_url
 * (paging.next of the previous page, which must be on base_url's host: DK_EINVAL otherwise,
 * so that a page cannot send the token elsewhere). */
int ig_build_conversations(const struct ig_graph *g, const char *next_url, struct ig_request *out,
                           struct dk_err *err);
/* One conversation's messages with their details in one call:
 * GET /<ver>/<conversation id>?fields=messages{id,created_time,from,to,message}. */
int ig_build_conversation_messages(const struct ig_graph *g, const char *conversation_id,
                                   struct ig_request *out, struct dk_err *err);

/* How direkt must treat an answer (instagram-platform.md §5). */
enum ig_outcome {
    IG_OK = 0,
    IG_RETRY,       /* transient (codes 1, 2, HTTP 5xx, is_transient): retry with backoff */
    IG_THROTTLED,   /* 4, 17, 32, 613: slow the whole account down, then retry */
    IG_WINDOW,      /* 10/2534022, 10/2018278: outside the messaging window: do not retry */
    IG_PERMISSION,  /* 10 (other subcodes), 200-299, 200/2534041, 10/1893063, 100/2534029,
                       36103: no permission or restricted: do not retry */
    IG_TOKEN,       /* 190 (any subcode), 102: the account must re-authenticate */
    IG_UNAVAILABLE, /* 551, 551/1545041, 100/2018001, 100/2534014: the person cannot be
                       reached: do not retry */
    IG_INVALID,     /* 100 and any other 4xx: a bad request: do not retry */
    IG_UNCERTAIN,   /* 1/1357046 ("the messages are all sent successfully, but…"), or a 2xx
                       without a message_id: may have gone out: reconcile, never resend */
};
const char *ig_outcome_name(enum ig_outcome o);

struct ig_result {
    enum ig_outcome outcome;
    int http_status;
    int code, subcode; /* error.code / error.error_subcode, 0 when absent */
    bool is_transient; /* error.is_transient */
    char message[256]; /* error.message (cut), "" on success */
    char fbtrace_id[64];
    char message_id[256];   /* success: message_id (send) or id (comment reply) */
    char recipient_id[128]; /* success: recipient_id */
};

/* Classifies an answer to any Graph request (status and body as received; body may be NULL or
 * anything at all). Never fails: an unparsable body is classified by its HTTP status. */
void ig_parse_result(int http_status, const char *body, size_t len, struct ig_result *out);
/* The same for a transport failure (no HTTP answer): error is the DK_* code of the transfer,
 * sent whether the request may have reached Meta (a timeout after the request went out) ->
 * IG_UNCERTAIN; else IG_RETRY. */
void ig_transport_result(int error, bool sent, const char *msg, struct ig_result *out);
/* "outside the messaging window (10/2534022): This message is sent outside of allowed window"
 * into buf: the reason stored on a failed message. */
const char *ig_result_reason(const struct ig_result *r, char *buf, size_t size);

/* The profile fields from a profile answer as a new object with exactly the known keys that
 * were present (name, username, profile_pic, follower_count, is_user_follow_business,
 * is_verified_user). DK_EINVAL when the body is not a JSON object. */
int ig_parse_profile(const char *body, size_t len, json_t **out, struct dk_err *err);

/* One page of conversations: *ids a new array of conversation id strings, *next_url new or
 * NULL (paging.next). DK_EINVAL when the body is not such a page. */
int ig_parse_conversations(const char *body, size_t len, json_t **ids, char **next_url,
                           struct dk_err *err);
/* A conversation's messages: *out a new array, oldest first, of
 * {"mid","created_ms","from_id","from_username","to_id","text"} (text may be absent).
 * created_time is Meta's "2022-07-12T19:11:07+0000". DK_EINVAL when not such an answer. */
int ig_parse_conversation_messages(const char *body, size_t len, json_t **out, struct dk_err *err);

/* Splits text into parts of at most max_bytes (≤ IG_TEXT_MAX) each, in order: at the last
 * sentence end (". ", "! ", "? ", "… ", a line break) that fits, else the last space, else the
 * last UTF-8 character boundary; never inside a UTF-8 sequence. Whitespace at the cut is
 * dropped; empty parts are not produced. parts[i] = {offset, length} into text. Returns the
 * number of parts (0 for an empty or all-blank text); at most max_parts are written (the
 * return value may be larger: call again with more room). */
struct ig_span {
    size_t off, len;
};
size_t ig_split_text(const char *text, size_t max_bytes, struct ig_span *parts, size_t max_parts);

#endif
