/*
 * http/request: what a handler sees of a request (accessors), the reply helpers with the
 * error format of DESIGN §7, and suspend/resume.
 *
 * A reply is built into an MHD response right away (on whichever thread replies) and stored in
 * the request; the dispatcher queues it on MHD's thread, because MHD only accepts responses
 * from inside its access handler. X-Request-Id and the headers from http_reply_header are
 * added at queue time, so http_reply_header may come before or after the reply.
 */
#include "http/http_int.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_REPLY (64u * 1024u * 1024u) /* a rendered JSON reply */

enum http_method http_req_method(const struct http_req *req)
{
    return req->method;
}

/* The raw path as received (still percent-encoded), without the query. */
const char *http_req_path(const struct http_req *req)
{
    return req->path;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->nparams; i++) {
        const struct http_param *p = &req->params[i];
        if (p->name_len == len && memcmp(p->name, name, len) == 0) {
            return p->value;
        }
    }
    return NULL;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
    const char *value = NULL;
    size_t value_len = 0;
    /* MHD decoded the query arguments already; "?flag" has a NULL value: report "" */
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &value_len) != MHD_YES) {
        return NULL;
    }
    return value != NULL ? value : "";
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
    if (len != NULL) {
        *len = req->body.len;
    }
    return req->body.data != NULL ? req->body.data : "";
}

json_t *http_req_json(const struct http_req *req)
{
    return req->json;
}

struct dk_arena *http_req_arena(struct http_req *req)
{
    if (req->arena == NULL) {
        req->arena = dk_arena_new();
    }
    return req->arena;
}

void *http_req_app(const struct http_req *req)
{
    return req->srv->cfg.app;
}

const char *http_req_id(const struct http_req *req)
{
    return req->id;
}

/* ---- replies ---- */

void http_reply_header(struct http_req *req, const char *name, const char *value)
{
    struct dk_arena *a = http_req_arena(req);
    struct http_hdr *h = dk_arena_alloc(a, sizeof(*h));
    h->name = dk_arena_strdup(a, name);
    h->value = dk_arena_strdup(a, value);
    /* prepended: the order of different headers does not matter in HTTP */
    h->next = req->hdrs;
    req->hdrs = h;
}

/* Stores the reply; a second one is a bug in the handler: logged and dropped. */
static void store_reply(struct http_req *req, int status, struct MHD_Response *resp)
{
    if (req->resp != NULL) {
        DK_ERROR("could not reply %d to %s: a reply was already given", status, req->path);
        MHD_destroy_response(resp);
        return;
    }
    if (status < 100 || status > 599) {
        DK_ERROR("could not reply %d to %s: not an http status, answering 500", status, req->path);
        MHD_destroy_response(resp);
        resp = http_resp_error("internal", "invalid response status");
        status = 500;
    }
    req->status = status;
    req->resp = resp;
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES) {
        DK_WARN("could not add response header %s: invalid name or value", name);
    }
}

void http_reply(struct http_req *req, int status, const char *content_type, const void *body,
                size_t len)
{
    struct MHD_Response *resp;
    if (len == 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    }
    DK_ASSERT(resp != NULL);
    if (content_type != NULL) {
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    store_reply(req, status, resp);
}

/* Hands a dk_buf's bytes to MHD, which frees them with dk_free when the response dies. */
static struct MHD_Response *resp_from_buf(struct dk_buf *b, const char *content_type)
{
    size_t len = 0;
    char *data = dk_buf_take(b, &len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, data, dk_free);
    DK_ASSERT(resp != NULL);
    add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return resp;
}

static int dump_to_buf(const char *data, size_t size, void *ctx)
{
    return dk_buf_append(ctx, data, size) == 0 ? 0 : -1;
}

void http_reply_json(struct http_req *req, int status, json_t *j)
{
    if (j == NULL) {
        DK_ERROR("could not render reply to %s: no json value", req->path);
        store_reply(req, 500, http_resp_error("internal", "could not render the response"));
        return;
    }
    struct dk_buf b;
    dk_buf_init(&b, HTTP_MAX_REPLY);
    int rc = json_dump_callback(j, dump_to_buf, &b,
                                JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (rc != 0) {
        dk_buf_free(&b);
        DK_ERROR("could not render reply to %s: larger than %u bytes or not serializable",
                 req->path, HTTP_MAX_REPLY);
        store_reply(req, 500, http_resp_error("internal", "could not render the response"));
        return;
    }
    store_reply(req, status, resp_from_buf(&b, "application/json"));
}

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one (RFC 3629 table). */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    unsigned lo = 0x80;
    unsigned hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* Appends s as a JSON string; invalid UTF-8 becomes U+FFFD, so the body is always valid. */
static void put_json_string(struct dk_buf *b, const char *s)
{
    dk_buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            dk_buf_append(b, esc, 2);
            p++;
        } else if (*p < 0x20) {
            dk_buf_printf(b, "\\u%04x", *p);
            p++;
        } else if (*p < 0x80) {
            dk_buf_append(b, p, 1);
            p++;
        } else {
            size_t n = utf8_seq(p);
            if (n == 0) {
                dk_buf_puts(b, "\\ufffd");
                p++;
            } else {
                dk_buf_append(b, p, n);
                p += n;
            }
        }
    }
    dk_buf_append(b, "\"", 1);
}

struct MHD_Response *http_resp_error(const char *code, const char *msg)
{
    struct dk_buf b;
    /* the message is at most sizeof(dk_err.msg) bytes, 6 bytes each once escaped */
    dk_buf_init(&b, 8192);
    dk_buf_puts(&b, "{\"error\":{\"code\":");
    put_json_string(&b, code);
    dk_buf_puts(&b, ",\"message\":");
    put_json_string(&b, msg);
    dk_buf_puts(&b, "}}");
    return resp_from_buf(&b, "application/json");
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
    char msg[sizeof(((struct dk_err *)0)->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    store_reply(req, status, http_resp_error(code, msg));
}

void http_reply_err(struct http_req *req, const struct dk_err *err)
{
    int status = err->status >= 400 ? err->status : dk_err_status(err->code);
    if (status < 400) {
        status = 500;
    }
    store_reply(req, status, http_resp_error(dk_err_name(err->code), err->msg));
}

/* ---- queueing (dispatcher) ---- */

enum MHD_Result http_queue(struct http_req *req, int status, struct MHD_Response *resp,
                           bool app_headers)
{
    if (resp == NULL) {
        DK_ERROR("could not answer %s: the handler gave no reply, answering 500", req->path);
        resp = http_resp_error("internal", "the request was not answered");
        status = 500;
        app_headers = false;
    }
    add_header(resp, "X-Request-Id", req->id);
    if (app_headers) {
        for (const struct http_hdr *h = req->hdrs; h != NULL; h = h->next) {
            add_header(resp, h->name, h->value);
        }
    }
    if (atomic_load_explicit(&req->srv->stopping, memory_order_relaxed)) {
        add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    req->phase = HTTP_PHASE_QUEUED;
    if (rc != MHD_YES) {
        DK_WARN("could not queue the %d response to %s: connection in a wrong state", status,
                req->path);
    }
    return rc;
}

void http_req_free(struct http_req *req)
{
    if (req->resp != NULL) {
        MHD_destroy_response(req->resp);
    }
    json_decref(req->json);
    dk_buf_free(&req->body);
    dk_arena_free(req->arena);
    dk_free(req);
}

/* ---- asynchronous handling ---- */

void http_req_suspend(struct http_req *req)
{
    DK_ASSERT(req->phase == HTTP_PHASE_HANDLER);
    atomic_fetch_or(&req->async, HTTP_ASYNC_SUSPEND);
}

void http_req_resume(struct http_req *req)
{
    /* read before letting go: once resumed, MHD may complete and free the request */
    struct MHD_Connection *conn = req->conn;
    unsigned old = atomic_fetch_or(&req->async, HTTP_ASYNC_RESUMED);
    DK_ASSERT((old & HTTP_ASYNC_RESUMED) == 0);
    if (old & HTTP_ASYNC_FORCED) {
        /* the shutdown answered 503 already; whoever of MHD and us comes last frees */
        if (old & HTTP_ASYNC_DONE) {
            http_req_free(req);
        }
        return;
    }
    if (old & HTTP_ASYNC_PARKED) {
        MHD_resume_connection(conn);
    }
    /* else the handler has not returned yet: the dispatcher sees RESUMED and answers */
}

/* ---- query helpers ---- */

int http_query_int(const struct http_req *req, const char *name, int64_t dflt, int64_t min,
                   int64_t max, int64_t *out, struct dk_err *err)
{
    const char *s = http_req_query(req, name);
    if (s == NULL) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* strtoll alone would accept leading blanks and a '+' */
    bool digit_first =
        isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]));
    bool ok = digit_first && *end == '\0' && errno == 0 && v >= min && v <= max;
    if (!ok) {
        return dk_err_set(err, DK_EUNPROCESS,
                          "invalid query parameter %s: must be an integer from %" PRId64
                          " to %" PRId64,
                          name, min, max);
    }
    *out = (int64_t)v;
    return 0;
}
