/*
 * httpc: a small libcurl client for tests that talk to a real direkt HTTP server: one call as
 * a struct (method, path, headers, body, chunked upload), the response's status, body, headers
 * and connection count. Test code only.
 */
#ifndef HTTPC_H
#define HTTPC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"

struct httpc_resp {
    long status;
    long connects;
    CURLcode rc;
    struct dk_buf body;
    struct dk_buf headers;
};

struct httpc_upload {
    const char *data;
    size_t len;
    size_t pos;
};

struct httpc_call {
    const char *method; /* NULL = GET */
    const char *path;   /* with the query */
    const char *headers[4];
    const char *body;
    size_t body_len; /* 0 = strlen(body) */
    bool chunked;
    uint16_t port;    /* 0 = httpc_port */
    const char *host; /* NULL = 127.0.0.1 */
};

/* The port calls go to when theirs is 0. */
extern uint16_t httpc_port;

void httpc_resp_init(struct httpc_resp *r);
void httpc_resp_free(struct httpc_resp *r);
size_t httpc_on_data(char *p, size_t size, size_t n, void *buf);
size_t httpc_on_read(char *p, size_t size, size_t n, void *ud);
/* Prepares c for the call; the returned list and up must outlive the transfer. */
struct curl_slist *httpc_prepare(CURL *c, const struct httpc_call *call, struct httpc_resp *r,
                                 struct httpc_upload *up);
void httpc_finish(CURL *c, struct httpc_resp *r);
/* Runs the call on c (keep-alive across calls on one handle) / on a new handle. r is
 * initialised here; free it with httpc_resp_free. */
void httpc_perform_on(CURL *c, const struct httpc_call *call, struct httpc_resp *r);
void httpc_perform(const struct httpc_call *call, struct httpc_resp *r);
/* The value of a response header, copied into out, or NULL. */
const char *httpc_header(const struct httpc_resp *r, const char *name, char *out, size_t size);

#endif
