/* httpc: the test HTTP client (see httpc.h). */
#include "httpc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

uint16_t httpc_port;

size_t httpc_on_data(char *p, size_t size, size_t n, void *buf)
{
    return dk_buf_append(buf, p, size * n) == 0 ? size * n : 0;
}

size_t httpc_on_read(char *p, size_t size, size_t n, void *ud)
{
    struct httpc_upload *u = ud;
    size_t want = size * n;
    /* small pieces, so that the body really arrives in several chunks */
    want = want < 700 ? want : 700;
    want = want < u->len - u->pos ? want : u->len - u->pos;
    memcpy(p, u->data + u->pos, want);
    u->pos += want;
    return want;
}

void httpc_resp_init(struct httpc_resp *r)
{
    memset(r, 0, sizeof(*r));
    dk_buf_init(&r->body, 4u << 20);
    dk_buf_init(&r->headers, 1u << 20);
}

void httpc_resp_free(struct httpc_resp *r)
{
    dk_buf_free(&r->body);
    dk_buf_free(&r->headers);
}

/* Prepares c for the call; list and up must outlive the transfer. */
struct curl_slist *httpc_prepare(CURL *c, const struct httpc_call *call, struct httpc_resp *r,
                                 struct httpc_upload *up)
{
    char url[512];
    snprintf(url, sizeof(url), "http://%s:%u%s", call->host != NULL ? call->host : "127.0.0.1",
             (unsigned)(call->port != 0 ? call->port : httpc_port), call->path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, httpc_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, httpc_on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (int i = 0; i < 4 && call->headers[i] != NULL; i++) {
        list = curl_slist_append(list, call->headers[i]);
    }
    const char *method = call->method != NULL ? call->method : "GET";
    size_t body_len =
        call->body_len != 0 || call->body == NULL ? call->body_len : strlen(call->body);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (call->chunked) {
        up->data = call->body;
        up->len = body_len;
        up->pos = 0;
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, httpc_on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, up);
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
    } else if (call->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        (strcmp(method, "POST") != 0 || call->body == NULL)) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    return list;
}

void httpc_finish(CURL *c, struct httpc_resp *r)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
}

void httpc_perform_on(CURL *c, const struct httpc_call *call, struct httpc_resp *r)
{
    struct httpc_upload up;
    httpc_resp_init(r);
    struct curl_slist *list = httpc_prepare(c, call, r, &up);
    r->rc = curl_easy_perform(c);
    httpc_finish(c, r);
    curl_slist_free_all(list);
}

void httpc_perform(const struct httpc_call *call, struct httpc_resp *r)
{
    CURL *c = curl_easy_init();
    httpc_perform_on(c, call, r);
    curl_easy_cleanup(c);
}

/* The value of a response header, copied into out, or NULL. */
const char *httpc_header(const struct httpc_resp *r, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s:", name); /* the status line comes first */
    const char *p = r->headers.data != NULL ? strcasestr(r->headers.data, key) : NULL;
    if (p == NULL) {
        return NULL;
    }
    p += strlen(key);
    p += strspn(p, " ");
    snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
    return out;
}
