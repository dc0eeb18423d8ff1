/*
 * ai/http_xfer: one exchange of the outbound HTTP loop (http.c): the copy of a request that
 * outlives the caller's, the libcurl easy-handle setup, what the response gives (status, the
 * headers the router acts on, the body or its pieces) and the single on_done call.
 *
 * Bodies without on_data grow in a dk_buf bounded by max_response; with on_data they pass
 * through. A write callback that must stop the transfer records why (x->stop) and returns 0,
 * which libcurl turns into CURLE_WRITE_ERROR; ai_xfer_result reads the reason back.
 */
#include "ai/ai_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

#define DEFAULT_TIMEOUT_MS         60000
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_MAX_RESPONSE       (8u * 1024 * 1024)
#define RECV_BUFFER_SIZE           8192L  /* per easy handle: keeps 1,000 transfers small */
#define UPLOAD_BUFFER_SIZE         16384L /* libcurl's minimum */
#define HEADER_VALUE_MAX           256    /* captured header values are cut here */

static bool has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static void append_header(struct ai_xfer *x, const char *line)
{
    struct curl_slist *l = curl_slist_append(x->headers, line);
    DK_ASSERT(l != NULL);
    x->headers = l;
}

struct ai_xfer *ai_xfer_new(uint64_t id, const struct ai_http_req *r)
{
    struct ai_xfer *x = dk_calloc(1, sizeof(*x));
    x->id = id;
    x->t0 = dk_mono_ms();
    x->first_byte_ms = -1;
    x->on_data = r->on_data;
    x->on_done = r->on_done;
    x->arg = r->arg;
    x->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS;
    x->connect_timeout_ms =
        r->connect_timeout_ms > 0 ? r->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    x->max_response = r->max_response > 0 ? r->max_response : DEFAULT_MAX_RESPONSE;
    dk_buf_init(&x->resp_body, x->max_response);
    if (r->url == NULL || r->url[0] == '\0') {
        x->invalid = "request has no url";
        return x;
    }
    x->url = dk_strdup(r->url);
    x->method = dk_strdup(r->method != NULL ? r->method : (r->body != NULL ? "POST" : "GET"));
    if (has_line_break(x->method) || has_line_break(x->url)) {
        x->invalid = "method or url holds a line break";
        return x;
    }
    if (r->body != NULL) {
        x->body = dk_malloc(r->body_len + 1);
        memcpy(x->body, r->body, r->body_len);
        x->body[r->body_len] = '\0';
        x->body_len = r->body_len;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        if (r->headers[i] == NULL || has_line_break(r->headers[i])) {
            x->invalid = "a request header is missing or holds a line break";
            return x;
        }
        append_header(x, r->headers[i]);
    }
    append_header(x, "Expect:"); /* no "100-continue" round trip for larger bodies */
    return x;
}

static void xfer_free(struct ai_xfer *x)
{
    dk_free(x->url);
    dk_free(x->method);
    dk_free(x->body);
    curl_slist_free_all(x->headers);
    dk_buf_free(&x->resp_body);
    for (size_t i = 0; i < AI_XFER_NHEADERS; i++) {
        dk_free(x->captured[i]);
    }
    dk_free(x);
}

/* The names of the response headers kept, by enum ai_xfer_header. */
static const char *const g_captured[AI_XFER_NHEADERS] = {
    [AI_XFER_RETRY_AFTER] = "retry-after",
    [AI_XFER_SHOULD_RETRY] = "x-should-retry",
    [AI_XFER_X_REQUEST_ID] = "x-request-id",
    [AI_XFER_REQUEST_ID] = "request-id",
};

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    struct ai_xfer *x = ud;
    size_t len = size * nitems;
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new status line (also after a 1xx): what we captured belonged to the last one */
        const char *sp = memchr(p, ' ', len);
        x->status = 0;
        for (size_t i = 1; sp != NULL && i <= 3 && (size_t)(sp - p) + i < len; i++) {
            if (sp[i] < '0' || sp[i] > '9') {
                break;
            }
            x->status = x->status * 10 + (sp[i] - '0');
        }
        for (size_t i = 0; i < AI_XFER_NHEADERS; i++) {
            dk_free(x->captured[i]);
            x->captured[i] = NULL;
        }
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL) {
        return len;
    }
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    size_t vlen = (size_t)(end - v);
    for (size_t i = 0; i < AI_XFER_NHEADERS; i++) {
        if (strlen(g_captured[i]) == nlen && strncasecmp(p, g_captured[i], nlen) == 0) {
            dk_free(x->captured[i]);
            x->captured[i] = dk_strndup(v, vlen < HEADER_VALUE_MAX ? vlen : HEADER_VALUE_MAX);
        }
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct ai_xfer *x = ud;
    size_t len = size * nmemb;
    if (len == 0) {
        return 0;
    }
    if (x->first_byte_ms < 0) {
        x->first_byte_ms = dk_mono_ms() - x->t0;
    }
    if (x->on_data != NULL) {
        int rc = x->on_data(x->arg, x->status, p, len);
        if (rc != 0) {
            x->stop = rc == 1 ? AI_XFER_EARLY : AI_XFER_CALLBACK;
            return 0; /* anything but len aborts the transfer with CURLE_WRITE_ERROR */
        }
        return len;
    }
    if (dk_buf_append(&x->resp_body, p, len) != 0) {
        x->stop = AI_XFER_TOOBIG;
        return 0;
    }
    return len;
}

void ai_xfer_setup(struct ai_xfer *x, CURL *e, const char *user_agent)
{
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (strcmp(x->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    bool post = strcmp(x->method, "POST") == 0;
    if (!post) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    }
    if (x->body != NULL || post) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body != NULL ? x->body : "");
    }
}

int ai_xfer_result(struct ai_xfer *x, CURLcode rc, char *msg, size_t size)
{
    msg[0] = '\0';
    if (x->status == 0 && x->easy != NULL) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        x->status = (int)code;
    }
    switch (x->stop) {
    case AI_XFER_EARLY:
        return 0;
    case AI_XFER_CALLBACK:
        snprintf(msg, size, "transfer stopped by its data callback");
        return DK_EINTERNAL;
    case AI_XFER_TOOBIG:
        snprintf(msg, size, "response body exceeds %zu bytes", x->max_response);
        return DK_ETOOBIG;
    case AI_XFER_GO_ON:
        break;
    }
    const char *detail = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, size, "timed out: %s", detail);
        return DK_ETIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(msg, size, "bad url: %s", detail);
        return DK_EINVAL;
    default:
        snprintf(msg, size, "%s", detail);
        return DK_EIO;
    }
}

void ai_xfer_finish(struct ai_xfer *x, int error, const char *msg)
{
    DK_ASSERT(x->easy == NULL);
    struct ai_http_resp resp = {
        .id = x->id,
        .status = x->status,
        .error = error,
        .error_msg = error == 0 ? "" : (msg != NULL && msg[0] != '\0' ? msg : dk_err_name(error)),
        .body = x->resp_body.data != NULL && x->on_data == NULL ? x->resp_body.data : "",
        .len = x->on_data == NULL ? x->resp_body.len : 0,
        .retry_after = x->captured[AI_XFER_RETRY_AFTER],
        .should_retry = x->captured[AI_XFER_SHOULD_RETRY],
        .request_id = x->captured[AI_XFER_X_REQUEST_ID] != NULL ? x->captured[AI_XFER_X_REQUEST_ID]
                                                                : x->captured[AI_XFER_REQUEST_ID],
        .elapsed_ms = dk_mono_ms() - x->t0,
        .first_byte_ms = x->first_byte_ms,
    };
    x->on_done(x->arg, &resp);
    xfer_free(x);
}
