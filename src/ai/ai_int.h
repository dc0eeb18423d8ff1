/*
 * ai_int: internals shared inside the ai module (not part of its API).
 */
#ifndef AI_INT_H
#define AI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ai/ai.h"

/* ===== wire formats (wire.c, openai.c, anthropic.c, stream.c) ===== */

#define AI_WIRE_MAX_DEPTH 64         /* JSON nesting accepted from a provider */
#define AI_WIRE_MAX_TEXT  (1u << 20) /* an answer's text, streamed or not (1 MiB) */
#define AI_WIRE_MAX_EVENT (4u << 20) /* one SSE event of a stream */

/* out zeroed with the status and the wait from a Retry-After value (may be NULL). Does not
 * free out->text: clear a used reply first. */
void ai_wire_reply_init(struct ai_reply *out, int status, const char *retry_after);
/* out becomes AI_ERR_MALFORMED with what as its message (text freed). */
void ai_wire_malformed(struct ai_reply *out, const char *what);
/* out->text = a copy of s[0..n); false (and out MALFORMED) when over AI_WIRE_MAX_TEXT or not
 * valid UTF-8 without NUL. */
bool ai_wire_set_text(struct ai_reply *out, const char *s, size_t n);
/* An error response whose body is none of the known shapes: classified by status alone, a
 * short excerpt of the body as the message. */
void ai_wire_error_body(int status, const char *body, size_t len, struct ai_reply *out);
/* Copies obj's string member key (when it is one) into dst[cap] (ai_wire_copy). */
void ai_wire_copy_field(char *dst, size_t cap, const json_t *obj, const char *key);
/* A token count member of a usage object: 0 when missing, negative or not a number. */
int64_t ai_wire_tokens(const json_t *usage, const char *key);
/* A structured-output schema text as a new JSON object, NULL when text is NULL or not an
 * object. */
json_t *ai_wire_schema(const char *text);

/* Whether s[0..n) is valid UTF-8 without NUL bytes (text that can go into a C string). */
bool ai_wire_utf8_ok(const char *s, size_t n);
/* Copies src (may be NULL) into dst[cap] NUL-terminated, cut at a UTF-8 character boundary
 * when too long, control characters as spaces and bytes that are not UTF-8 as '?': a string for
 * people, logs and JSON. */
void ai_wire_copy(char *dst, size_t cap, const char *src);

/* The class of an OpenAI-style error: by HTTP status (429 insufficient_quota is FATAL, other
 * 429s, 408, 409 and 5xx RETRY, other 4xx FATAL) or, with status 0 (a mid-stream error), by
 * type and code. type and code may be NULL. */
enum ai_outcome ai_openai_classify(int status, const char *type, const char *code);
/* Fills out's error fields from an OpenAI-style error body's error object or string (the
 * "error" member, or the whole body for vLLM's old {"object":"error",…} shape) with status
 * (0 mid-stream). */
void ai_openai_error_fill(const json_t *err, int status, struct ai_reply *out);

/* The class of an Anthropic error type ("overloaded_error", …) with its HTTP status (0 in a
 * stream), whether a Retry-After came, x-should-retry ("false" forbids a retry) and the
 * error.details.error_code (may be NULL). */
enum ai_outcome ai_anthropic_classify(int status, const char *type, bool has_retry_after,
                                      const char *should_retry, const char *detail_code);

/* ===== one exchange of the HTTP loop (http_xfer.c, driven by http.c) ===== */

#include <curl/curl.h>

#include "core/mem.h"

/* Why a write callback stopped a transfer. */
enum ai_xfer_stop { AI_XFER_GO_ON, AI_XFER_EARLY, AI_XFER_CALLBACK, AI_XFER_TOOBIG };

/* Response headers kept (x->captured), matched case-insensitively. */
enum ai_xfer_header {
    AI_XFER_RETRY_AFTER,  /* Retry-After */
    AI_XFER_SHOULD_RETRY, /* x-should-retry */
    AI_XFER_X_REQUEST_ID, /* x-request-id */
    AI_XFER_REQUEST_ID,   /* request-id */
    AI_XFER_NHEADERS
};

struct ai_xfer {
    uint64_t id;
    char *url;
    char *method;
    char *body;
    size_t body_len;
    struct curl_slist *headers;
    const char *invalid; /* why the request cannot be sent, or NULL */
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    size_t max_response;
    int (*on_data)(void *arg, int status, const char *p, size_t n);
    void (*on_done)(void *arg, const struct ai_http_resp *resp);
    void *arg;

    CURL *easy; /* while it is on the network (http.c's pool owns the handle) */
    int status;
    enum ai_xfer_stop stop;
    struct dk_buf resp_body;
    char *captured[AI_XFER_NHEADERS];
    int64_t t0; /* dk_mono_ms() at submit */
    int64_t first_byte_ms;
    char errbuf[CURL_ERROR_SIZE];
    struct ai_xfer *prev, *next; /* http.c's submit queue (next only) or active list */
};

/* A copy of r with its id, timed from now. A request that cannot go out (no url, a line break
 * in a header) gets x->invalid and is meant to be finished with DK_EINVAL. Any thread. */
struct ai_xfer *ai_xfer_new(uint64_t id, const struct ai_http_req *r);
/* Sets e (new or reset) up for x and stores it in x->easy. Loop thread. */
void ai_xfer_setup(struct ai_xfer *x, CURL *e, const char *user_agent);
/* x's outcome from curl's result (before x->easy is released): 0 or a DK_E* code with a
 * message for people in msg. */
int ai_xfer_result(struct ai_xfer *x, CURLcode rc, char *msg, size_t size);
/* Calls x's on_done once with what it gave (msg may be NULL), then frees x. x->easy must be
 * NULL: released by the loop. */
void ai_xfer_finish(struct ai_xfer *x, int error, const char *msg);

#endif
