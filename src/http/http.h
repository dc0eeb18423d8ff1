/*
 * http: the HTTP server (libmicrohttpd, internal epoll thread pool), the router, and the
 * request/response helpers that handlers use.
 *
 * Design: routes are a static table (method + pattern with {params}). The dispatcher does,
 * once for every request: body accumulation up to the route's limit (413 beyond), the
 * content-type check and JSON parsing for HTTP_JSON routes (415/400), bearer-token auth for
 * HTTP_AUTH routes (401), and the error format of DESIGN §7. A handler then parses its
 * parameters, calls the domain and renders: it must call exactly one http_reply_* function,
 * or http_req_suspend() and later (from any thread) http_reply_* + http_req_resume(), or
 * http_req_suspend() and http_stream_start() for a streamed (chunked, SSE) response.
 * Each request owns an arena (http_req_arena) freed when the response is done.
 * Responses are queued on MHD's second handler call at the earliest (Debian's MHD 0.9.75
 * closes keep-alive connections when a response is queued on the first call).
 */
#ifndef HTTP_H
#define HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

enum http_method {
    HTTP_GET = 1,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
};

enum http_route_flags {
    HTTP_AUTH = 1u << 0, /* Authorization: Bearer required (cfg.auth decides) */
    HTTP_JSON = 1u << 1, /* a non-empty body must be application/json and is parsed */
};

#define HTTP_DEFAULT_MAX_BODY (256u * 1024u)

struct http_req;
struct http_server;

typedef void (*http_handler_fn)(struct http_req *req);
/* Checks a bearer token (without the "Bearer " prefix). Returns 0 when valid, DK_EAUTH when
 * not, DK_EUNAVAIL when it cannot tell (database down). Called on HTTP threads. */
typedef int (*http_auth_fn)(void *ctx, const char *token);

struct http_route {
    enum http_method method;
    const char *pattern; /* "/api/v1/conversations/{id}/history"; literal segments or {name} */
    http_handler_fn handler;
    unsigned flags;  /* enum http_route_flags */
    size_t max_body; /* 0 = HTTP_DEFAULT_MAX_BODY */
};

struct http_config {
    const char *listen; /* "127.0.0.1:8080", "0.0.0.0:8080", port 0 = any free port */
    int threads;        /* MHD thread pool size (>= 1) */
    http_auth_fn auth;  /* may be NULL: then HTTP_AUTH routes answer 401 */
    void *auth_ctx;
    void *app; /* opaque pointer handed to handlers through http_req_app() */
};

/* Starts listening and serving. routes must outlive the server. Returns 0, or DK_EINVAL (bad
 * listen address) / DK_EIO (cannot bind) with err filled. Main thread. */
int http_server_start(const struct http_config *cfg, const struct http_route *routes,
                      size_t nroutes, struct http_server **out, struct dk_err *err);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting new connections; requests in flight continue. Main thread. */
void http_server_quiesce(struct http_server *s);
/* Requests being handled (including suspended ones) right now. Any thread. */
int http_server_inflight(const struct http_server *s);
/* Waits up to timeout_ms for in-flight requests to finish, then stops the server and frees it.
 * Suspended requests still waiting at the deadline are resumed with 503. Main thread. */
void http_server_stop(struct http_server *s, int timeout_ms);

/* ---- request accessors (the handler's thread, or the thread that holds a suspended req) ---- */
enum http_method http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);
/* Path parameter by name ({id} → "id"), URL-decoded; NULL if the route has none by that name. */
const char *http_req_param(const struct http_req *req, const char *name);
/* Query-string argument, URL-decoded, or NULL. */
const char *http_req_query(const struct http_req *req, const char *name);
/* Request header (case-insensitive name) or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The raw body bytes (NUL-terminated for convenience) and their length; "" when none. */
const char *http_req_body(const struct http_req *req, size_t *len);
/* The parsed JSON body of an HTTP_JSON route (borrowed), or NULL when the body was empty. */
json_t *http_req_json(const struct http_req *req);
struct dk_arena *http_req_arena(struct http_req *req);
void *http_req_app(const struct http_req *req);
/* The request id ("r" + 16 hex), also sent back as X-Request-Id and set as the log context. */
const char *http_req_id(const struct http_req *req);

/* ---- responses: exactly one per request ---- */
/* Adds a response header (copied); call before the http_reply_* call. */
void http_reply_header(struct http_req *req, const char *name, const char *value);
/* Body is copied. */
void http_reply(struct http_req *req, int status, const char *content_type, const void *body,
                size_t len);
/* Steals j (json_decref'd after rendering). */
void http_reply_json(struct http_req *req, int status, json_t *j);
/* {"error":{"code":code,"message":…}} with status. */
void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The error format from a struct dk_err (status and code name from err->code). */
void http_reply_err(struct http_req *req, const struct dk_err *err);

/* ---- asynchronous handling ---- */
/* Marks the request as waiting: the handler returns without replying. Handler thread only. */
void http_req_suspend(struct http_req *req);
/* Wakes a suspended request after http_reply_* was called for it. Any thread, once. */
void http_req_resume(struct http_req *req);

/* ---- streamed responses (chunked, e.g. Server-Sent Events) ---- */
struct http_stream;

#define HTTP_STREAM_MAX_PENDING (1024u * 1024u) /* bytes queued but not yet sent */

/* Starts a streamed response (chunked, no length) for a suspended request and resumes it: the
 * status, the content type, Cache-Control: no-cache (unless the application set one),
 * X-Request-Id and the headers from http_reply_header go out at once. Use it instead of
 * http_reply_* + http_req_resume; the request must not be touched afterwards. Never NULL: the
 * stream belongs to the caller until http_stream_end (the server keeps its own reference while
 * sending). If the shutdown answered the request 503 already, the stream is born closed. Any
 * thread, once, after the handler called http_req_suspend. */
struct http_stream *http_stream_start(struct http_req *req, int status, const char *content_type);
/* Queues n bytes (copied) to send after the ones queued before. Returns 0; DK_ECANCELED when
 * the client went away or the server is stopping (stop producing, then http_stream_end);
 * DK_ETOOBIG when the bytes would make more than HTTP_STREAM_MAX_PENDING wait unsent (a slow
 * client): nothing is queued and the stream stays usable. Any thread. */
int http_stream_write(struct http_stream *st, const void *p, size_t n);
/* Writes one Server-Sent Event: "event: <event>\n" when event is not NULL, then data (NULL
 * means "") as "data: <line>\n" per line (split on \n, \r\n and \r), then "\n". Returns
 * http_stream_write's result, or DK_EINVAL when event contains a line break. Any thread. */
int http_stream_sse(struct http_stream *st, const char *event, const char *data);
/* Whether the client is gone (or the server is stopping), so that a producer waiting for
 * its source can give up early. Any thread. */
bool http_stream_closed(const struct http_stream *st);
/* Ends the response once the queued bytes are sent and gives the stream up: it must not be
 * used afterwards. Any thread, exactly once per stream. */
void http_stream_end(struct http_stream *st);

/* Parses "?limit=" style integers: returns dflt when absent, DK_EUNPROCESS when not an integer
 * in [min,max] (with err filled naming the parameter). */
int http_query_int(const struct http_req *req, const char *name, int64_t dflt, int64_t min,
                   int64_t max, int64_t *out, struct dk_err *err);

#endif
