/*
 * http/server: the libmicrohttpd daemon and the dispatcher.
 *
 * MHD runs an epoll thread pool (cfg.threads). For each request it calls our URI callback
 * (we allocate the request there and keep the raw path), then the access handler once with
 * the headers, once per body chunk, and once more at the end; the dispatcher does routing,
 * auth and the declared-length check on the first call, accumulates the body, and runs the
 * handler on the last call. Responses are queued from the second call on (Debian's MHD 0.9.75
 * drops keep-alive for responses queued on the first call), except errors for requests that
 * carry a body we will not read. The completion callback frees the request.
 *
 * Suspended requests sit on a list (one mutex, touched at suspend and resume only) so that
 * the shutdown can answer them 503 and resume them: MHD must not be stopped with suspended
 * connections. Streamed responses (stream.c) suspend their connections too; the shutdown
 * ends them through http_stream_stop_all.
 */
#include "http/http_int.h"

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* MHD's per-connection memory pool; it bounds the request headers too: with 16 KiB, about
 * 14 KB of headers pass and more get MHD's own 431 (with 32 KiB, 30 KB would pass) */
#define HTTP_CONN_MEMORY     (16u * 1024u)
#define HTTP_CONN_TIMEOUT_S  60u
#define HTTP_MAX_CONNECTIONS 10000u
#define HTTP_DISCARD_MAX     (1024u * 1024u) /* body bytes read past a limit before we hang up */
#define HTTP_FORCE_WAIT_MS   5000            /* to resume the suspended requests at shutdown */
#define HTTP_FLUSH_WAIT_MS   1000            /* to send the 503s of forced requests */

/* ---- request ids ---- */

/* splitmix64 seeded per thread from the system's random source: request ids need to be
 * unique, not secret, and this costs no lock and no syscall per request */
static _Thread_local uint64_t t_id_state;
static _Thread_local bool t_id_seeded;

static void make_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (!t_id_seeded) {
        dk_random_bytes(&t_id_state, sizeof(t_id_state));
        t_id_seeded = true;
    }
    uint64_t z = (t_id_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    out[0] = 'r';
    for (int i = 0; i < 16; i++) {
        out[1 + i] = hex[(z >> (60 - 4 * i)) & 0xf];
    }
    out[17] = '\0';
}

/* ---- the parked list ---- */

static void park_link(struct http_server *s, struct http_req *req)
{
    pthread_mutex_lock(&s->parked_lock);
    req->prev = NULL;
    req->next = s->parked;
    if (s->parked != NULL) {
        s->parked->prev = req;
    }
    s->parked = req;
    req->linked = true;
    pthread_mutex_unlock(&s->parked_lock);
}

static void park_unlink(struct http_server *s, struct http_req *req)
{
    pthread_mutex_lock(&s->parked_lock);
    if (req->prev != NULL) {
        req->prev->next = req->next;
    } else {
        s->parked = req->next;
    }
    if (req->next != NULL) {
        req->next->prev = req->prev;
    }
    req->prev = NULL;
    req->next = NULL;
    req->linked = false;
    pthread_mutex_unlock(&s->parked_lock);
}

/* Takes the request from the application if it has not resumed it yet. */
static bool claim_forced(struct http_req *req, unsigned need)
{
    unsigned st = atomic_load(&req->async);
    while ((st & need) == need && (st & (HTTP_ASYNC_RESUMED | HTTP_ASYNC_FORCED)) == 0) {
        if (atomic_compare_exchange_weak(&req->async, &st, st | HTTP_ASYNC_FORCED)) {
            return true;
        }
    }
    return false;
}

/* ---- dispatcher ---- */

static size_t body_limit(const struct http_req *req)
{
    return req->route != NULL ? req->route->max_body : HTTP_DEFAULT_MAX_BODY;
}

/* The declared Content-Length, 0 when none (MHD already rejected a malformed one). */
static unsigned long long declared_length(struct http_req *req)
{
    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl != NULL ? strtoull(cl, NULL, 10) : 0;
}

/* An error decided on the first call. It is answered on the next call, after any body was
 * read and dropped, which keeps the connection alive; but a body declared over the limit is
 * not read: the answer goes now and MHD closes the connection. */
static enum MHD_Result fail(struct http_req *req, int status, const char *code, const char *msg,
                            const char *extra_name, const char *extra_value)
{
    struct MHD_Response *resp = http_resp_error(code, msg);
    if (extra_name != NULL && MHD_add_response_header(resp, extra_name, extra_value) != MHD_YES) {
        DK_WARN("could not add response header %s: invalid value", extra_name);
    }
    if (declared_length(req) > body_limit(req)) {
        return http_queue(req, status, resp, false);
    }
    req->resp = resp;
    req->status = status;
    req->phase = HTTP_PHASE_ERROR;
    return MHD_YES;
}

static enum MHD_Result unavailable(struct http_req *req)
{
    return http_queue(req, 503, http_resp_error("unavailable", "the server is shutting down"),
                      false);
}

/* Returns true when the request may go on; otherwise an error reply was arranged in *rc. */
static bool check_auth(struct http_req *req, enum MHD_Result *rc)
{
    const struct http_config *cfg = &req->srv->cfg;
    const char *h = http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        *rc = fail(req, 401, "unauthorized", "a bearer token is required", "WWW-Authenticate",
                   "Bearer");
        return false;
    }
    const char *token = h + 7;
    while (*token == ' ') {
        token++;
    }
    if (*token == '\0' || strpbrk(token, " \t") != NULL) {
        *rc = fail(req, 401, "unauthorized", "malformed authorization header", "WWW-Authenticate",
                   "Bearer");
        return false;
    }
    int a = cfg->auth != NULL ? cfg->auth(cfg->auth_ctx, token) : DK_EAUTH;
    if (a == 0) {
        return true;
    }
    if (a == DK_EAUTH) {
        *rc = fail(req, 401, "unauthorized", "invalid or expired token", "WWW-Authenticate",
                   "Bearer");
    } else if (a == DK_EUNAVAIL) {
        const char *msg = "could not check the token: the token store is unavailable";
        *rc = fail(req, 503, "unavailable", msg, NULL, NULL);
    } else {
        DK_ERROR("could not check a bearer token for %s: auth callback returned %d", req->path, a);
        *rc = fail(req, 500, "internal", "could not check the token", NULL, NULL);
    }
    return false;
}

/* The first call: headers are in, no body yet. */
static enum MHD_Result on_headers(struct http_req *req, const char *method)
{
    struct http_server *s = req->srv;
    req->phase = HTTP_PHASE_BODY;
    req->counted = true;
    atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
    make_id(req->id);
    req->method = http_method_parse(method);
    if (atomic_load_explicit(&s->draining, memory_order_relaxed)) {
        return fail(req, 503, "unavailable", "the server is shutting down", NULL, NULL);
    }
    char allow[HTTP_ALLOW_SIZE];
    switch (
        http_router_match(&s->router, req->method, req->path, req->path_len, &req->route, allow)) {
    case HTTP_MATCH_NOT_FOUND:
        return fail(req, 404, "not_found", "no such endpoint", NULL, NULL);
    case HTTP_MATCH_BAD_METHOD:
        return fail(req, 405, "method_not_allowed", "method not allowed for this endpoint",
                    MHD_HTTP_HEADER_ALLOW, allow);
    case HTTP_MATCH_OK:
        break;
    }
    struct dk_err err;
    if (http_router_params(req, &err) != 0) {
        return fail(req, 400, dk_err_name(err.code), err.msg, NULL, NULL);
    }
    enum MHD_Result rc = MHD_YES;
    if ((req->route->route->flags & HTTP_AUTH) && !check_auth(req, &rc)) {
        return rc;
    }
    size_t max = req->route->max_body;
    if (declared_length(req) > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes", max);
        return fail(req, 413, "payload_too_large", msg, NULL, NULL); /* answered right away */
    }
    dk_buf_init(&req->body, max);
    return MHD_YES;
}

/* Consumes bytes we will not use; hangs up when a client keeps sending far past the limit. */
static enum MHD_Result discard(struct http_req *req, size_t *upload_size)
{
    req->discarded += *upload_size;
    *upload_size = 0;
    if (req->discarded > body_limit(req) + HTTP_DISCARD_MAX) {
        DK_WARN("closing the connection for %s: body over %zu bytes past the limit", req->path,
                (size_t)HTTP_DISCARD_MAX);
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result too_big(struct http_req *req)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "request body larger than %zu bytes", req->route->max_body);
    return http_queue(req, 413, http_resp_error("payload_too_large", msg), false);
}

static bool is_json_type(const char *ct)
{
    static const char json[] = "application/json";
    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strncasecmp(ct, json, sizeof(json) - 1) != 0) {
        return false;
    }
    ct += sizeof(json) - 1;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

static enum MHD_Result park(struct http_req *req)
{
    struct http_server *s = req->srv;
    park_link(s, req);
    req->phase = HTTP_PHASE_PARKED;
    MHD_suspend_connection(req->conn);
    unsigned old = atomic_fetch_or(&req->async, HTTP_ASYNC_PARKED);
    if (old & HTTP_ASYNC_RESUMED) {
        /* resumed between our check and now: the resumer saw no PARKED and left it to us */
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

static enum MHD_Result queue_app_reply(struct http_req *req)
{
    struct MHD_Response *resp = req->resp;
    req->resp = NULL;
    return http_queue(req, req->status, resp, true);
}

static enum MHD_Result after_handler(struct http_req *req)
{
    unsigned st = atomic_load(&req->async);
    if (!(st & HTTP_ASYNC_SUSPEND) || (st & HTTP_ASYNC_RESUMED)) {
        return queue_app_reply(req);
    }
    if (atomic_load(&req->srv->draining)) {
        return claim_forced(req, HTTP_ASYNC_SUSPEND) ? unavailable(req) : queue_app_reply(req);
    }
    return park(req);
}

static enum MHD_Result run_handler(struct http_req *req)
{
    req->phase = HTTP_PHASE_HANDLER;
    dk_log_set_ctx("req", req->id);
    req->route->route->handler(req);
    enum MHD_Result rc = after_handler(req);
    dk_log_set_ctx(NULL, NULL);
    return rc;
}

/* The last call: the whole body is in. */
static enum MHD_Result on_complete(struct http_req *req)
{
    if ((req->route->route->flags & HTTP_JSON) && req->body.len > 0) {
        if (!is_json_type(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            return http_queue(
                req, 415,
                http_resp_error("unsupported_media_type", "the body must be application/json"),
                false);
        }
        struct dk_err err;
        req->json = dk_json_parse(req->body.data, req->body.len, DK_JSON_MAX_DEPTH, &err);
        if (req->json == NULL) {
            return http_queue(req, 400, http_resp_error(dk_err_name(err.code), err.msg), false);
        }
    }
    return run_handler(req);
}

static enum MHD_Result on_resumed(struct http_req *req)
{
    park_unlink(req->srv, req);
    if (atomic_load(&req->async) & HTTP_ASYNC_FORCED) {
        /* the application may still be writing its reply: leave req->resp alone */
        return unavailable(req);
    }
    return queue_app_reply(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)conn;
    (void)url;
    (void)version;
    struct http_req *req = *con_cls;
    if (req == NULL) {
        return MHD_NO; /* the URI callback always runs first */
    }
    switch (req->phase) {
    case HTTP_PHASE_NEW:
        return on_headers(req, method);
    case HTTP_PHASE_BODY:
        if (*upload_size == 0) {
            return on_complete(req);
        }
        if (dk_buf_append(&req->body, upload_data, *upload_size) != 0) {
            /* a chunked body past the limit: MHD 0.9.75 accepts no response while the body
             * is still coming, so read and drop it, and answer 413 at the end */
            req->phase = HTTP_PHASE_DISCARD;
            req->discarded = req->body.len;
            dk_buf_free(&req->body);
            return discard(req, upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    case HTTP_PHASE_DISCARD:
        if (*upload_size != 0) {
            return discard(req, upload_size);
        }
        return too_big(req);
    case HTTP_PHASE_ERROR:
        if (*upload_size != 0) {
            return discard(req, upload_size);
        }
        return queue_app_reply(req);
    case HTTP_PHASE_PARKED:
        return on_resumed(req);
    case HTTP_PHASE_QUEUED:
        /* MHD may still feed us the body of a request answered early */
        return *upload_size != 0 ? discard(req, upload_size) : MHD_YES;
    case HTTP_PHASE_HANDLER:
        break;
    }
    return MHD_NO;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const char *q = strchr(uri, '?');
    size_t len = q != NULL ? (size_t)(q - uri) : strlen(uri);
    /* one allocation: the request, its raw path and room to decode parameters into */
    struct http_req *req = dk_malloc(sizeof(*req) + 2 * (len + 1));
    memset(req, 0, sizeof(*req));
    req->srv = cls;
    req->conn = conn;
    atomic_init(&req->async, 0);
    memcpy(req->mem, uri, len);
    req->mem[len] = '\0';
    req->path = req->mem;
    req->path_len = len;
    req->scratch = req->mem + len + 1;
    dk_buf_init(&req->body, 0);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    (void)conn;
    struct http_req *req = *con_cls;
    if (req == NULL) {
        return;
    }
    *con_cls = NULL;
    if (req->linked) {
        park_unlink(s, req); /* only when the shutdown could not resume it */
    }
    if (req->counted) {
        atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && dk_log_enabled(DK_LOG_DEBUG)) {
        DK_DEBUG("request %s for %s ended early: mhd termination code %d", req->id, req->path,
                 (int)toe);
    }
    /* FORCED too: an application that resumes later must not touch the gone connection */
    unsigned old = atomic_fetch_or(&req->async, HTTP_ASYNC_DONE | HTTP_ASYNC_FORCED);
    if ((old & HTTP_ASYNC_SUSPEND) && !(old & HTTP_ASYNC_RESUMED)) {
        return; /* the application still holds it: its http_req_resume frees it */
    }
    http_req_free(req);
}

/* MHD's own messages: mostly about clients (431, malformed requests), hence info. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    int saved = errno; /* MHD_start_daemon's caller reads errno after a failed bind */
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    DK_INFO("libmicrohttpd: %s", line);
    errno = saved;
}

/* ---- start and stop ---- */

/* "1.2.3.4:80", "[::1]:80", ":80" (all IPv4 addresses). Literals only, no names. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6,
                        struct dk_err *err)
{
    char host[64];
    const char *port;
    if (listen == NULL) {
        return dk_err_set(err, DK_EINVAL, "invalid listen address: none given");
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host)) {
            return dk_err_set(err, DK_EINVAL, "invalid listen address %s: expected [ipv6]:port",
                              listen);
        }
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
        *v6 = true;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof(host)) {
            return dk_err_set(err, DK_EINVAL, "invalid listen address %s: expected ipv4:port",
                              listen);
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        if (host[0] == '\0') {
            memcpy(host, "0.0.0.0", sizeof("0.0.0.0"));
        }
        port = colon + 1;
        *v6 = false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 || p > 65535) {
        return dk_err_set(err, DK_EINVAL, "invalid listen address %s: bad port", listen);
    }
    memset(ss, 0, sizeof(*ss));
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            return dk_err_set(err, DK_EINVAL, "invalid listen address %s: not an ipv6 literal",
                              listen);
        }
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            return dk_err_set(err, DK_EINVAL, "invalid listen address %s: not an ipv4 literal",
                              listen);
        }
    }
    return 0;
}

int http_server_start(const struct http_config *cfg, const struct http_route *routes,
                      size_t nroutes, struct http_server **out, struct dk_err *err)
{
    *out = NULL;
    if (cfg->threads < 1) {
        return dk_err_set(err, DK_EINVAL, "invalid http configuration: threads must be >= 1");
    }
    struct sockaddr_storage ss;
    bool v6 = false;
    int rc = parse_listen(cfg->listen, &ss, &v6, err);
    if (rc != 0) {
        return rc;
    }
    struct http_server *s = dk_calloc(1, sizeof(*s));
    rc = http_router_init(&s->router, routes, nroutes, err);
    if (rc != 0) {
        dk_free(s);
        return rc;
    }
    s->cfg = *cfg;
    s->listen = dk_strdup(cfg->listen);
    s->cfg.listen = s->listen;
    s->listen_fd = -1;
    atomic_init(&s->inflight, 0);
    atomic_init(&s->stopping, false);
    atomic_init(&s->draining, false);
    pthread_mutex_init(&s->parked_lock, NULL);
    pthread_mutex_init(&s->streams_lock, NULL);

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        /* "[::]" means every address, IPv4 ones included */
        flags |= IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    }
    uint16_t port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct MHD_OptionItem opts[10];
    size_t n = 0;
    /* the logger first, so that MHD's messages about the other options reach it */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, HTTP_CONN_TIMEOUT_S, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNECTIONS, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    if (cfg->threads > 1) {
        /* a pool of 1 means no pool, and MHD warns about it */
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        int e = errno;
        http_router_free(&s->router);
        pthread_mutex_destroy(&s->parked_lock);
        pthread_mutex_destroy(&s->streams_lock);
        rc = dk_err_set(err, DK_EIO, "could not listen on %s: %s", s->listen,
                        e != 0 ? strerror(e) : "libmicrohttpd refused to start");
        dk_free(s->listen);
        dk_free(s);
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : port;
    DK_INFO("http server listening on %s port %u with %d threads", s->listen, (unsigned)s->port,
            cfg->threads);
    *out = s;
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

int http_server_inflight(const struct http_server *s)
{
    return atomic_load_explicit(&s->inflight, memory_order_relaxed);
}

void http_server_quiesce(struct http_server *s)
{
    if (s->listen_fd >= 0) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd == MHD_INVALID_SOCKET) {
        return;
    }
    /* MHD's threads may still hold the fd until MHD_stop_daemon, so it is closed only then;
     * shutdown() makes Linux stop listening now, and new connections are refused */
    if (shutdown(fd, SHUT_RDWR) != 0 && errno != ENOTCONN) {
        DK_WARN("could not shut the listening socket down: %s", strerror(errno));
    }
    s->listen_fd = fd;
}

/* Answers 503 to every suspended request and resumes it; waits for them to leave the list. */
static void force_parked(struct http_server *s)
{
    int64_t until = dk_mono_ms() + HTTP_FORCE_WAIT_MS;
    for (;;) {
        int forced = 0;
        pthread_mutex_lock(&s->parked_lock);
        for (struct http_req *req = s->parked; req != NULL; req = req->next) {
            if (claim_forced(req, HTTP_ASYNC_SUSPEND | HTTP_ASYNC_PARKED)) {
                MHD_resume_connection(req->conn);
                forced++;
            }
        }
        bool empty = s->parked == NULL;
        pthread_mutex_unlock(&s->parked_lock);
        if (forced > 0) {
            DK_WARN("answering 503 to %d suspended requests: the server is stopping", forced);
        }
        if (empty) {
            return;
        }
        if (dk_mono_ms() > until) {
            DK_ERROR("stopping the http server with suspended requests: they did not resume "
                     "within %d ms",
                     HTTP_FORCE_WAIT_MS);
            return;
        }
        dk_sleep_ms(1);
    }
}

static void wait_inflight(struct http_server *s, int64_t ms)
{
    int64_t until = dk_mono_ms() + ms;
    while (http_server_inflight(s) > 0 && dk_mono_ms() < until) {
        dk_sleep_ms(2);
    }
}

void http_server_stop(struct http_server *s, int timeout_ms)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stopping, true);
    http_server_quiesce(s);
    wait_inflight(s, timeout_ms > 0 ? timeout_ms : 0);
    atomic_store(&s->draining, true);
    force_parked(s);
    http_stream_stop_all(s);
    wait_inflight(s, HTTP_FLUSH_WAIT_MS);
    int left = http_server_inflight(s);
    if (left > 0) {
        DK_WARN("stopping the http server with %d requests in flight: timeout of %d ms reached",
                left, timeout_ms);
    }
    MHD_stop_daemon(s->daemon);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    http_router_free(&s->router);
    pthread_mutex_destroy(&s->parked_lock);
    pthread_mutex_destroy(&s->streams_lock);
    dk_free(s->listen);
    dk_free(s);
}
