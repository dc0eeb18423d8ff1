/*
 * http internals shared by server.c (daemon and dispatcher), router.c (route table) and
 * request.c (accessors, replies, suspend/resume).
 *
 * A request (struct http_req) is created by MHD's URI callback (so that we see the raw,
 * still percent-encoded path), driven by the dispatcher on MHD's pool threads and freed at
 * MHD's completion callback; while it is suspended, the thread that holds it owns it.
 * The async bits make suspend/resume race-free whatever the order of http_req_suspend,
 * http_req_resume and the handler's return, and decide who frees the request after a forced
 * shutdown: MHD's completion, or the application's late http_req_resume.
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include "http/http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS   8
#define HTTP_ID_SIZE      18 /* "r" + 16 hex + NUL */
#define HTTP_ALLOW_SIZE   64 /* "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" */

/* One segment of a route pattern: literal text, or a {name} parameter. */
struct http_seg {
    const char *text; /* literal, or the parameter name (not NUL-terminated) */
    size_t len;
    bool param;
};

/* A route compiled at start: the pattern split into segments. */
struct http_croute {
    const struct http_route *route;
    struct http_seg segs[HTTP_MAX_SEGMENTS];
    size_t nsegs;
    size_t max_body;
};

struct http_router {
    struct http_croute *routes;
    size_t nroutes;
};

/* Bits of http_req.async. */
enum {
    HTTP_ASYNC_SUSPEND = 1u << 0, /* http_req_suspend was called (the app holds the request) */
    HTTP_ASYNC_PARKED = 1u << 1,  /* the dispatcher suspended the MHD connection */
    HTTP_ASYNC_RESUMED = 1u << 2, /* http_req_resume was called (the app let go) */
    HTTP_ASYNC_FORCED = 1u << 3,  /* shutdown answered 503 in the app's place */
    HTTP_ASYNC_DONE = 1u << 4,    /* MHD completed the request */
};

/* Where the dispatcher is with a request; only MHD's thread for the connection touches it. */
enum http_phase {
    HTTP_PHASE_NEW = 0, /* created by the URI callback, access handler not called yet */
    HTTP_PHASE_BODY,    /* accumulating the body */
    HTTP_PHASE_DISCARD, /* body over the limit: discarding it, 413 at the end */
    HTTP_PHASE_ERROR,   /* an error reply is stored, queued once any body was dropped */
    HTTP_PHASE_HANDLER, /* the handler is running */
    HTTP_PHASE_PARKED,  /* the MHD connection is suspended */
    HTTP_PHASE_QUEUED,  /* a response was queued */
};

struct http_hdr {
    struct http_hdr *next;
    const char *name;
    const char *value;
};

struct http_param {
    const char *name; /* points into the route pattern */
    size_t name_len;
    const char *value; /* decoded, NUL-terminated, in http_req.mem */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    char *listen; /* owned copy of cfg.listen */
    struct http_router router;
    uint16_t port;
    int listen_fd;                /* from MHD_quiesce_daemon, closed after MHD_stop_daemon */
    atomic_int inflight;          /* first handler call .. completion */
    atomic_bool stopping;         /* replies carry Connection: close */
    atomic_bool draining;         /* the deadline passed: new suspensions get 503 */
    pthread_mutex_t parked_lock;  /* guards the parked list only */
    struct http_req *parked;      /* suspended requests, for the shutdown */
    pthread_mutex_t streams_lock; /* guards streams and streams_stopping (stream.c) */
    struct http_stream *streams;  /* streamed responses that MHD is sending */
    bool streams_stopping;        /* the shutdown ended them: new ones end at once */
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const struct http_croute *route;
    enum http_method method;
    enum http_phase phase;
    bool counted; /* included in srv->inflight */
    bool linked;  /* on srv->parked */
    atomic_uint async;
    char id[HTTP_ID_SIZE];
    const char *path; /* raw path without the query, in mem */
    size_t path_len;
    char *scratch; /* room for decoded parameters, in mem */
    struct http_param params[HTTP_MAX_PARAMS];
    size_t nparams;
    struct dk_buf body;
    size_t discarded;
    json_t *json;
    struct dk_arena *arena; /* created on first use */
    struct http_hdr *hdrs;  /* headers for the reply, in the arena */
    struct MHD_Response *resp;
    int status;
    struct http_req *prev; /* srv->parked links */
    struct http_req *next;
    char mem[]; /* path + NUL, scratch of the same size */
};

/* ---- router.c ---- */
enum http_match {
    HTTP_MATCH_OK = 0,
    HTTP_MATCH_NOT_FOUND,
    HTTP_MATCH_BAD_METHOD,
};

/* Compiles the table. Returns 0, or DK_EINVAL with err filled for a bad pattern. */
int http_router_init(struct http_router *r, const struct http_route *routes, size_t nroutes,
                     struct dk_err *err);
void http_router_free(struct http_router *r);
/* Finds the route for method + raw path. HEAD falls back to GET. On HTTP_MATCH_BAD_METHOD,
 * allow (HTTP_ALLOW_SIZE bytes) receives the Allow header value. */
enum http_match http_router_match(const struct http_router *r, enum http_method method,
                                  const char *path, size_t path_len, const struct http_croute **out,
                                  char *allow);
/* Decodes the matched route's parameters into req->scratch / req->params. Returns 0, or
 * DK_EINVAL with err filled (invalid percent-escape or an encoded NUL). */
int http_router_params(struct http_req *req, struct dk_err *err);
/* HTTP_GET … from the method string; 0 when unknown. */
enum http_method http_method_parse(const char *s);

/* ---- request.c ---- */
/* A JSON error response (not queued), without X-Request-Id. Never NULL. */
struct MHD_Response *http_resp_error(const char *code, const char *msg);
/* Queues resp (a 500 when NULL) with status, X-Request-Id, Connection: close while stopping
 * and, when app_headers, the headers from http_reply_header; drops our reference to resp.
 * Dispatcher only (MHD's thread for the connection). */
enum MHD_Result http_queue(struct http_req *req, int status, struct MHD_Response *resp,
                           bool app_headers);
/* Frees the request and everything it owns. */
void http_req_free(struct http_req *req);

/* ---- stream.c ---- */
/* Ends every streamed response after its queued bytes (producers' writes then fail with
 * DK_ECANCELED) and resumes their connections, so that MHD can be stopped. Main thread, at
 * shutdown, before MHD_stop_daemon. */
void http_stream_stop_all(struct http_server *s);

#endif
