/*
 * store/bulk: set-based writes for the group commit of webhook deliveries. PostgreSQL gets one
 * statement per call with the rows as a JSON array (json_array_elements), because there every
 * statement is a round trip; SQLite runs the single-row statements in a loop, because there a
 * statement is a function call. The two variants of each statement sit side by side here.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

#define BULK_MAX_BYTES (256u * 1024u * 1024u)

static bool pg(const struct store_conn *c)
{
    return store_conn_dialect(c) == STORE_POSTGRES;
}

static void put_key(struct dk_buf *b, bool first, const char *key)
{
    dk_buf_puts(b, first ? "{\"" : ",\"");
    dk_buf_puts(b, key);
    dk_buf_puts(b, "\":");
}

static void put_str(struct dk_buf *b, bool first, const char *key, const char *v)
{
    put_key(b, first, key);
    dk_json_put_string(b, v);
}

static void put_int(struct dk_buf *b, const char *key, long long v)
{
    put_key(b, false, key);
    dk_buf_printf(b, "%lld", v);
}

static int finish_array(struct dk_buf *b, struct dk_err *err)
{
    if (dk_buf_puts(b, "]") != 0) {
        dk_buf_free(b);
        return dk_err_set(err, DK_ETOOBIG, "bulk statement over %u bytes", BULK_MAX_BYTES);
    }
    return 0;
}

/* Closes the JSON array in b, runs sql with it as $1, frees b. */
static int run_with_array(struct store_conn *c, const char *sql, struct dk_buf *b,
                          struct store_res **r, struct dk_err *err)
{
    int rc = finish_array(b, err);
    if (rc != 0) {
        return rc;
    }
    const char *p[] = {b->data};
    rc = store_query(c, sql, 1, p, r, err);
    dk_buf_free(b);
    return rc;
}

/* Sets done[i] for every ids[i] that column 0 of r returned (the rows an INSERT … ON CONFLICT
 * DO NOTHING RETURNING id really inserted). */
static void mark_returned(const struct store_res *r, const char *const *ids, bool *done, size_t n)
{
    for (size_t row = 0; row < store_res_rows(r); row++) {
        const char *id = store_res_get(r, row, 0);
        for (size_t i = 0; i < n; i++) {
            if (!done[i] && strcmp(ids[i], id) == 0) {
                done[i] = true;
                break;
            }
        }
    }
}

int store_webhook_event_insert_bulk(struct store_conn *c, struct store_bulk_event *ev, size_t n,
                                    struct dk_err *err)
{
    if (!pg(c)) {
        for (size_t i = 0; i < n; i++) {
            int rc = store_webhook_event_insert(c, ev[i].sha256, ev[i].object, ev[i].payload,
                                                ev[i].items, ev[i].unhandled, ev[i].received_ms,
                                                ev[i].id, &ev[i].inserted, err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, BULK_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char ts[DK_TIME_LEN];
        dk_uuid_v7(ev[i].id);
        ev[i].inserted = false;
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        put_str(&b, true, "id", ev[i].id);
        put_str(&b, false, "sha", ev[i].sha256);
        put_str(&b, false, "object", ev[i].object);
        put_str(&b, false, "payload", ev[i].payload);
        put_int(&b, "items", ev[i].items);
        put_int(&b, "unhandled", ev[i].unhandled);
        put_str(&b, false, "at", store_ts(ev[i].received_ms, ts));
        dk_buf_puts(&b, "}");
    }
    struct store_res *r = NULL;
    int rc = run_with_array(c,
                            "INSERT INTO webhook_events (id, body_sha256, object, payload, items, "
                            "unhandled, received_at) SELECT (x->>'id')::uuid, x->>'sha', "
                            "x->>'object', x->>'payload', (x->>'items')::int, "
                            "(x->>'unhandled')::int, (x->>'at')::timestamp "
                            "FROM json_array_elements($1::json) x "
                            "ON CONFLICT (body_sha256) DO NOTHING RETURNING id",
                            &b, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char **ids = dk_calloc(n + 1, sizeof(*ids));
    bool *done = dk_calloc(n + 1, sizeof(*done));
    for (size_t i = 0; i < n; i++) {
        ids[i] = ev[i].id;
    }
    mark_returned(r, ids, done, n);
    for (size_t i = 0; i < n; i++) {
        ev[i].inserted = done[i];
    }
    dk_free(ids);
    dk_free(done);
    store_res_free(r);
    /* bodies stored before (Meta's retries): their existing id, one query each (rare) */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (ev[i].inserted) {
            continue;
        }
        const char *q[] = {ev[i].sha256};
        rc = store_query(c, "SELECT id FROM webhook_events WHERE body_sha256 = $1", 1, q, &r, err);
        if (rc == 0) {
            const char *v = store_res_get(r, 0, 0);
            snprintf(ev[i].id, STORE_ID_LEN, "%s", v != NULL ? v : "");
            store_res_free(r);
        }
    }
    return rc;
}

int store_message_insert_bulk(struct store_conn *c, struct store_message *m, bool *inserted,
                              size_t n, struct dk_err *err)
{
    if (!pg(c)) {
        for (size_t i = 0; i < n; i++) {
            int rc = store_message_insert(c, &m[i], &inserted[i], err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, BULK_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char ts[DK_TIME_LEN];
        dk_uuid_v7(m[i].id);
        inserted[i] = false;
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        put_str(&b, true, "id", m[i].id);
        put_str(&b, false, "conv", m[i].conversation_id);
        put_str(&b, false, "mid", m[i].instagram_mid);
        put_str(&b, false, "sender", m[i].sender_type);
        put_str(&b, false, "type", m[i].message_type != NULL ? m[i].message_type : "text");
        put_str(&b, false, "content", m[i].content);
        /* metadata is JSON text already: embedded as a value, not re-encoded */
        put_key(&b, false, "meta");
        dk_buf_puts(&b, m[i].metadata != NULL ? m[i].metadata : "{}");
        put_str(&b, false, "status", m[i].status != NULL ? m[i].status : "received");
        put_str(&b, false, "reply_to", m[i].reply_to_mid);
        put_str(&b, false, "intent", m[i].intent);
        put_str(&b, false, "at", store_ts(m[i].created_ms, ts));
        dk_buf_puts(&b, "}");
    }
    struct store_res *r = NULL;
    int rc =
        run_with_array(c,
                       "INSERT INTO messages (id, conversation_id, instagram_mid, sender_type, "
                       "message_type, content, metadata, status, reply_to_mid, intent, "
                       "created_at) SELECT (x->>'id')::uuid, (x->>'conv')::uuid, x->>'mid', "
                       "x->>'sender', x->>'type', x->>'content', (x->'meta')::jsonb, "
                       "x->>'status', x->>'reply_to', x->>'intent', (x->>'at')::timestamp "
                       "FROM json_array_elements($1::json) x "
                       "ON CONFLICT (instagram_mid) DO NOTHING RETURNING id",
                       &b, &r, err);
    if (rc != 0) {
        return rc;
    }
    const char **ids = dk_calloc(n + 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        ids[i] = m[i].id;
    }
    mark_returned(r, ids, inserted, n);
    dk_free(ids);
    store_res_free(r);
    return 0;
}

int store_conversation_find_bulk(struct store_conn *c, struct store_party *p, size_t n,
                                 struct dk_err *err)
{
    if (!pg(c)) {
        for (size_t i = 0; i < n; i++) {
            int rc = store_conversation_find(c, p[i].customer, p[i].account, &p[i].user_id,
                                             p[i].conv, err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, BULK_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        p[i].user_id = 0;
        p[i].conv[0] = '\0';
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        put_str(&b, true, "c", p[i].customer);
        put_str(&b, false, "a", p[i].account);
        dk_buf_puts(&b, "}");
    }
    struct store_res *r = NULL;
    int rc = run_with_array(c,
                            "SELECT x.ord, u.id, c.id FROM json_array_elements($1::json) "
                            "WITH ORDINALITY AS x(v, ord) "
                            "LEFT JOIN users u ON u.instagram_id = x.v->>'c' "
                            "LEFT JOIN conversations c ON c.user_id = u.id "
                            "AND c.account_id = x.v->>'a'",
                            &b, &r, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t row = 0; row < store_res_rows(r); row++) {
        int64_t ord = store_res_int(r, row, 0, 0);
        if (ord < 1 || (size_t)ord > n) {
            continue;
        }
        struct store_party *pp = &p[ord - 1];
        pp->user_id = store_res_int(r, row, 1, 0);
        const char *conv = store_res_get(r, row, 2);
        snprintf(pp->conv, STORE_ID_LEN, "%s", conv != NULL ? conv : "");
    }
    store_res_free(r);
    return 0;
}

int store_conversation_activity_bulk(struct store_conn *c, const struct store_touch *t, size_t n,
                                     int64_t now_ms, struct dk_err *err)
{
    if (!pg(c)) {
        for (size_t i = 0; i < n; i++) {
            int rc = store_conversation_customer_activity(c, t[i].conv, t[i].at_ms, now_ms, err);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    if (n == 0) {
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, BULK_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        char ts[DK_TIME_LEN];
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        put_str(&b, true, "id", t[i].conv);
        put_str(&b, false, "at", store_ts(t[i].at_ms, ts));
        dk_buf_puts(&b, "}");
    }
    int rc = finish_array(&b, err);
    if (rc != 0) {
        return rc;
    }
    char now[DK_TIME_LEN];
    const char *p1[] = {b.data};
    const char *p2[] = {b.data, store_ts(now_ms, now)};
    /* the rows are locked in id order first, the order every writer and worker uses */
    rc = store_query(c,
                     "SELECT id FROM conversations WHERE id IN (SELECT (x->>'id')::uuid FROM "
                     "json_array_elements($1::json) x) ORDER BY id FOR NO KEY UPDATE",
                     1, p1, NULL, err);
    if (rc == 0) {
        rc = store_query(c,
                         "UPDATE conversations c SET last_user_message_at = v.at, updated_at = $2 "
                         "FROM (SELECT (x->>'id')::uuid AS id, (x->>'at')::timestamp AS at "
                         "FROM json_array_elements($1::json) x) v WHERE c.id = v.id AND "
                         "(c.last_user_message_at IS NULL OR c.last_user_message_at < v.at)",
                         2, p2, NULL, err);
    }
    dk_buf_free(&b);
    return rc;
}

int store_message_event_orphans(struct store_conn *c, const char *const *mids, size_t n,
                                json_t **out, struct dk_err *err)
{
    *out = json_array();
    if (n == 0) {
        return 0;
    }
    struct dk_buf b;
    dk_buf_init(&b, BULK_MAX_BYTES);
    dk_buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            dk_buf_puts(&b, ",");
        }
        dk_json_put_string(&b, mids[i]);
    }
    struct store_res *r = NULL;
    /* the one statement whose JSON function differs: json_array_elements_text / json_each */
    int rc = run_with_array(
        c,
        pg(c) ? "SELECT id, message_mid, kind, data, occurred_at FROM message_events "
                "WHERE conversation_id IS NULL AND kind IN ('edit', 'delete') AND "
                "message_mid IN (SELECT value FROM json_array_elements_text($1::json)) "
                "ORDER BY occurred_at, id"
              : "SELECT id, message_mid, kind, data, occurred_at FROM message_events "
                "WHERE conversation_id IS NULL AND kind IN ('edit', 'delete') AND "
                "message_mid IN (SELECT value FROM json_each($1)) ORDER BY occurred_at, id",
        &b, &r, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < store_res_rows(r); i++) {
        json_array_append_new(*out, store_row_json(r, i, "id:s mid:s kind:s data:j occurred_at:t"));
    }
    store_res_free(r);
    return 0;
}

int store_message_event_attach(struct store_conn *c, const char *event_id,
                               const char *conversation_id, struct dk_err *err)
{
    const char *p[] = {event_id, conversation_id};
    return store_query(c, "UPDATE message_events SET conversation_id = $2 WHERE id = $1", 2, p,
                       NULL, err);
}
