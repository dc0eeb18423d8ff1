/* api/health: liveness (/healthz) and readiness (/readyz: the database answers). */
#include "api/api.h"

#include "core/dktime.h"

void api_healthz(struct http_req *req)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    http_reply_json(req, 200, o);
}

void api_readyz(struct http_req *req)
{
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(api_ctx(req)->store, &err);
    int rc = c != NULL ? store_query(c, "SELECT 1", 0, NULL, NULL, &err) : err.code;
    store_release(c);
    if (rc != 0) {
        http_reply_header(req, "Retry-After", "1");
        http_reply_error(req, 503, "unavailable", "database unavailable: %s", err.msg);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ready"));
    json_object_set_new(o, "database", json_string("ok"));
    json_object_set_new(o, "uptime_s",
                        json_integer((dk_now_ms() - api_ctx(req)->started_ms) / 1000));
    http_reply_json(req, 200, o);
}
