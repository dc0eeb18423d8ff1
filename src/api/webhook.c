/*
 * api/webhook: Meta's Instagram webhook. GET answers the verification handshake; POST checks
 * the signature over the raw bytes, parses, and hands the delivery to the group-commit writer,
 * suspending the request until its batch is durable (200) or failed (503).
 */
#include "api/api.h"

#include <string.h>

#include "core/crypto.h"
#include "core/log.h"

void api_webhook_verify(struct http_req *req)
{
    const struct api_ctx *a = api_ctx(req);
    const char *mode = http_req_query(req, "hub.mode");
    const char *token = http_req_query(req, "hub.verify_token");
    const char *challenge = http_req_query(req, "hub.challenge");
    if (a->verify_token == NULL) {
        http_reply_error(req, 403, "forbidden", "IG_VERIFY_TOKEN is not configured");
        return;
    }
    if (mode == NULL || strcmp(mode, "subscribe") != 0 || token == NULL || challenge == NULL ||
        !dk_ct_equal(token, strlen(token), a->verify_token, strlen(a->verify_token))) {
        http_reply_error(req, 403, "forbidden", "verification failed");
        return;
    }
    http_reply(req, 200, "text/plain", challenge, strlen(challenge));
}

struct pending {
    struct http_req *req;
    struct ig_delivery *d;
};

/* Writer thread: the batch holding this delivery committed or failed. */
static void delivered(void *arg, int rc, const struct dk_err *err, const char *event_id,
                      bool duplicate)
{
    struct pending *p = arg;
    if (rc == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string("ok"));
        json_object_set_new(o, "event_id", json_string(event_id));
        json_object_set_new(o, "duplicate", json_boolean(duplicate));
        http_reply_json(p->req, 200, o);
    } else if (rc == DK_EUNAVAIL || rc == DK_ETIMEOUT || rc == DK_EBUSY) {
        http_reply_header(p->req, "Retry-After", "5");
        http_reply_error(p->req, 503, "unavailable", "could not store the delivery: %s", err->msg);
    } else {
        http_reply_error(p->req, 500, "internal", "could not store the delivery");
    }
    ig_delivery_free(p->d);
    http_req_resume(p->req);
}

void api_webhook_receive(struct http_req *req)
{
    const struct api_ctx *a = api_ctx(req);
    size_t len;
    const char *body = http_req_body(req, &len);
    struct dk_err err = {0};
    int rc = ig_verify_signature(a->app_secret, http_req_header(req, "X-Hub-Signature-256"), body,
                                 len, &err);
    if (rc != 0) {
        DK_WARN("rejected webhook delivery: %s", err.msg);
        http_reply_err(req, &err);
        return;
    }
    struct ig_delivery *d = NULL;
    rc = ig_delivery_parse(body, len, &d, &err);
    if (rc != 0) {
        http_reply_err(req, &err);
        return;
    }
    if (a->ingest == NULL) {
        ig_delivery_free(d);
        http_reply_error(req, 503, "unavailable", "this process does not take webhooks");
        return;
    }
    struct pending *p = dk_arena_alloc(http_req_arena(req), sizeof(*p));
    p->req = req;
    p->d = d;
    http_req_suspend(req);
    rc = pipeline_ingest_submit(a->ingest, body, len, d, delivered, p, &err);
    if (rc != 0) {
        /* not queued: answer now (the request is already suspended) */
        delivered(p, rc, &err, NULL, false);
    }
}
