/* store/webhook_events: raw webhook deliveries, kept for audit and replay. */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"

int store_webhook_event_insert(struct store_conn *c, const char *sha256, const char *object,
                               const char *payload, int items, int unhandled, int64_t received_ms,
                               char id_out[STORE_ID_LEN], bool *inserted, struct dk_err *err)
{
    char id[STORE_ID_LEN], ts[DK_TIME_LEN], nitems[16], nunh[16];
    dk_uuid_v7(id);
    snprintf(nitems, sizeof(nitems), "%d", items);
    snprintf(nunh, sizeof(nunh), "%d", unhandled);
    const char *p[] = {id, sha256, object, payload, nitems, nunh, store_ts(received_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO webhook_events (id, body_sha256, object, payload, items, "
                         "unhandled, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                         "ON CONFLICT (body_sha256) DO NOTHING",
                         7, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *inserted = store_res_affected(r) > 0;
    store_res_free(r);
    if (*inserted) {
        memcpy(id_out, id, STORE_ID_LEN);
        return 0;
    }
    const char *q[] = {sha256};
    rc = store_query(c, "SELECT id FROM webhook_events WHERE body_sha256 = $1", 1, q, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = store_res_get(r, 0, 0);
    snprintf(id_out, STORE_ID_LEN, "%s", v != NULL ? v : "");
    store_res_free(r);
    return 0;
}

int store_webhook_event_payload(struct store_conn *c, const char *id, char **payload,
                                struct dk_err *err)
{
    const char *p[] = {id};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT payload FROM webhook_events WHERE id = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = store_res_get(r, 0, 0);
    if (v == NULL) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "webhook event %s not found", id);
    }
    *payload = dk_strdup(v);
    store_res_free(r);
    return 0;
}

int store_webhook_event_mark_replayed(struct store_conn *c, const char *id, int64_t now_ms,
                                      struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    const char *p[] = {id, store_ts(now_ms, ts)};
    return store_query(c, "UPDATE webhook_events SET replayed_at = $2 WHERE id = $1", 2, p, NULL,
                       err);
}
