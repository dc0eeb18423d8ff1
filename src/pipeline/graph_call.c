/*
 * pipeline/graph_call: one Graph API call made on the outbound HTTP loop (ai_http) while the
 * calling thread waits for its answer on a condition variable. For threads that may block: job
 * workers and one-shot commands; HTTP threads suspend their request instead. The answer is
 * classified by instagram/graph (ig_parse_result, ig_transport_result). Also the one place
 * that turns an ig_request into the loop's request (headers included), for callers that
 * submit it themselves.
 */
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    int error;
    char error_msg[256];
    char *body; /* new */
    size_t len;
};

/* Loop thread: copies what the exchange gave and wakes the caller. */
static void call_done(void *arg, const struct ai_http_resp *resp)
{
    struct waiter *w = arg;
    char *body = dk_strndup(resp->body != NULL ? resp->body : "", resp->len);
    pthread_mutex_lock(&w->mu);
    w->status = resp->status;
    w->error = resp->error;
    snprintf(w->error_msg, sizeof(w->error_msg), "%s",
             resp->error_msg != NULL ? resp->error_msg : "");
    w->body = body;
    w->len = resp->len;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void pipeline_graph_http_req(const struct ig_request *req, int64_t timeout_ms,
                             const char *headers[2], struct ai_http_req *out)
{
    size_t nh = 0;
    if (req->auth_header != NULL) {
        headers[nh++] = req->auth_header;
    }
    if (req->body != NULL) {
        headers[nh++] = "Content-Type: application/json";
    }
    *out = (struct ai_http_req){.method = req->method,
                                .url = req->url,
                                .headers = headers,
                                .nheaders = nh,
                                .body = req->body,
                                .body_len = req->body != NULL ? req->body_len : 0,
                                .timeout_ms = timeout_ms};
}

int pipeline_graph_call(struct ai_http *http, const struct ig_request *req, int64_t timeout_ms,
                        struct ig_result *res, char **body, struct dk_err *err)
{
    DK_ASSERT(!ai_http_on_loop(http)); /* the loop would wait for itself */
    struct waiter w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    const char *headers[2];
    struct ai_http_req hr;
    pipeline_graph_http_req(req, timeout_ms, headers, &hr);
    hr.on_done = call_done;
    hr.arg = &w;
    ai_http_submit(http, &hr);
    pthread_mutex_lock(&w.mu);
    while (!w.done) {
        pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);

    int rc = 0;
    if (w.error != 0) {
        /* a timeout may have reached Meta after the request went out */
        ig_transport_result(w.error, w.error == DK_ETIMEOUT, w.error_msg, res);
        /* the URL without its query: a paging URL from Meta may carry a token */
        int path_len = (int)strcspn(req->url, "?");
        rc = dk_err_set(err, w.error, "graph call %s %.*s failed: %s", req->method, path_len,
                        req->url, w.error_msg[0] != '\0' ? w.error_msg : "no answer");
    } else {
        ig_parse_result(w.status, w.body, w.len, res);
    }
    if (body != NULL) {
        *body = w.body;
    } else {
        dk_free(w.body);
    }
    return rc;
}
