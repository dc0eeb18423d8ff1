/*
 * api/control: people taking over from the bot, and what the sender did.
 *   POST /conversations/{id}/messages  an operator's message (sent with the HUMAN_AGENT tag
 *                                      when the send policy allows it); pauses the bot
 *   POST /conversations/{id}/pause     the bot stays silent ({"minutes": N}, default
 *                                      DIREKT_HUMAN_PAUSE_MS)
 *   POST /conversations/{id}/resume    the bot answers again (a needs_human conversation
 *                                      becomes active)
 *   GET  /delivery/stats               messages by status and refusals by rule
 *   GET|POST /comment-rules, DELETE /comment-rules/{id}   comment-to-DM keyword rules
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

#define OPERATOR_TEXT_MAX (8 * IG_TEXT_MAX) /* longer texts are cut into parts when sent */

static bool valid_type(const char *t)
{
    static const char *const TYPES[] = {"image", "video", "audio", "file"};
    for (size_t i = 0; t != NULL && i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
        if (strcmp(t, TYPES[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool valid_url(const char *u)
{
    return u != NULL && strlen(u) <= 2048 &&
           (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
}

/* The operator's message as metadata for the sender; NULL after a 422. */
static json_t *operator_meta(struct http_req *req, const json_t *body, const char **text)
{
    *text = dk_json_str(body, "text");
    json_t *att = json_object_get(body, "attachment");
    json_t *qr = json_object_get(body, "quick_replies");
    const char *operator= dk_json_str(body, "operator");
    const char *bad = NULL;
    if (*text != NULL && (strlen(*text) == 0 || strlen(*text) > OPERATOR_TEXT_MAX)) {
        bad = "text must be 1 to 8000 bytes";
    } else if ((*text == NULL) == (att == NULL)) {
        bad = "a message is a \"text\" or an \"attachment\" (Instagram sends them apart)";
    } else if (att != NULL && (!json_is_object(att) || !valid_url(dk_json_str(att, "url")) ||
                               !valid_type(dk_json_str(att, "type")))) {
        bad = "attachment must be {\"type\": image|video|audio|file, \"url\": http(s) URL}";
    } else if (qr != NULL && (!json_is_array(qr) || json_array_size(qr) > IG_QUICK_REPLIES_MAX ||
                              *text == NULL || att != NULL)) {
        bad = "quick_replies: at most 13, with a text and no attachment";
    } else if (operator!= NULL && strlen(operator) > 255) {
        bad = "operator must be at most 255 bytes";
    }
    size_t i;
    json_t *q;
    json_array_foreach(qr, i, q)
    {
        const char *t = dk_json_str(q, "title"), *p = dk_json_str(q, "payload");
        if (bad == NULL && (t == NULL || *t == '\0' || strlen(t) > 80 || p == NULL || *p == '\0' ||
                            strlen(p) > 1000)) {
            bad = "each quick reply needs a \"title\" (≤ 80 bytes) and a \"payload\" (≤ 1000)";
        }
    }
    if (bad != NULL) {
        http_reply_error(req, 422, "invalid_field", "%s", bad);
        return NULL;
    }
    json_t *meta = json_pack("{s:s, s:s}", "source", "api", "operator",
                             operator!= NULL ? operator: "operator");
    if (att != NULL) {
        json_object_set(meta, "attachment", att);
    }
    if (qr != NULL) {
        json_object_set(meta, "quick_replies", qr);
    }
    return meta;
}

void api_conversation_message_post(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    json_t *body = http_req_json(req);
    if (id == NULL) {
        return;
    }
    if (!json_is_object(body)) {
        http_reply_error(req, 422, "invalid_field", "body must be a JSON object");
        return;
    }
    const char *text = NULL;
    json_t *meta = operator_meta(req, body, &text);
    struct store_conn *c = meta != NULL ? api_conn(req) : NULL;
    if (c == NULL) {
        json_decref(meta);
        return;
    }
    const struct pipeline_ig_config *ig = api_ctx(req)->ig;
    int64_t now = dk_now_ms();
    int64_t pause = ig != NULL ? ig->human_pause_ms : 0;
    char *metatext = dk_json_dump(meta);
    json_t *att = json_object_get(meta, "attachment");
    struct store_message m = {.conversation_id = id,
                              .sender_type = "agent",
                              .message_type = text != NULL ? "text" : dk_json_str(att, "type"),
                              .content = text,
                              .metadata = metatext,
                              .status = "pending_send",
                              .created_ms = now};
    struct dk_err err = {0};
    struct store_conversation conv;
    bool inserted = false;
    int rc = store_begin(c, &err);
    if (rc == 0) {
        rc = store_conversation_load(c, id, &conv, &err);
        store_conversation_clear(&conv);
    }
    if (rc == 0) {
        rc = store_message_insert(c, &m, &inserted, &err);
    }
    if (rc == 0 && pause > 0) {
        rc = store_conversation_pause(c, id, now + pause, now, &err);
    }
    if (rc == 0) {
        rc = pipeline_send_enqueue(c, id, now, &err);
    }
    rc = rc == 0 ? store_commit(c, &err) : (store_rollback(c), rc);
    json_t *out = NULL;
    if (rc == 0) {
        rc = store_message_get(c, m.id, &out, &err);
    }
    store_release(c);
    dk_free(metatext);
    json_decref(meta);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    if (pause > 0) {
        char ts[DK_TIME_LEN];
        json_object_set_new(out, "bot_paused_until", json_string(dk_time_format(now + pause, ts)));
    }
    http_reply_json(req, 202, out);
}

/* Pauses (until_ms > 0) or resumes the bot and answers with the conversation. */
static void set_pause(struct http_req *req, const char *id, int64_t until_ms)
{
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    int64_t now = dk_now_ms();
    int rc = store_begin(c, &err);
    if (rc == 0) {
        rc = store_conversation_pause(c, id, until_ms, now, &err);
    }
    if (rc == 0 && until_ms == 0) {
        struct store_conversation conv;
        rc = store_conversation_load(c, id, &conv, &err);
        if (rc == 0 && strcmp(conv.status, "needs_human") == 0) {
            rc = store_conversation_set_status(c, id, "active", now, &err);
        }
        store_conversation_clear(&conv);
    }
    rc = rc == 0 ? store_commit(c, &err) : (store_rollback(c), rc);
    json_t *out = NULL;
    if (rc == 0) {
        rc = store_conversation_get(c, id, &out, &err);
    }
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void api_conversation_pause(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    if (id == NULL) {
        return;
    }
    const struct pipeline_ig_config *ig = api_ctx(req)->ig;
    int64_t ms = ig != NULL && ig->human_pause_ms > 0 ? ig->human_pause_ms : 30LL * 60 * 1000;
    json_t *body = http_req_json(req);
    json_t *minutes = json_object_get(body, "minutes");
    if (minutes != NULL) {
        if (!json_is_integer(minutes) || json_integer_value(minutes) < 1 ||
            json_integer_value(minutes) > 525600) {
            http_reply_error(req, 422, "invalid_field",
                             "minutes must be an integer from 1 to 525600 (a year)");
            return;
        }
        ms = json_integer_value(minutes) * 60000;
    }
    set_pause(req, id, dk_now_ms() + ms);
}

void api_conversation_resume(struct http_req *req)
{
    const char *id = api_conversation_param(req);
    if (id != NULL) {
        set_pause(req, id, 0);
    }
}

void api_delivery_stats(struct http_req *req)
{
    const char *account = http_req_query(req, "account_id");
    if (account != NULL && !api_account_id_valid(account)) {
        http_reply_error(req, 422, "invalid_field", "account_id must be 1 to 64 characters");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *out = NULL;
    int rc = store_outbox_stats(c, account, &out, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void api_comment_rules_list(struct http_req *req)
{
    const char *account = http_req_query(req, "account_id");
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *items = NULL;
    int rc = store_comment_rule_list(c, account, &items, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "data", items));
}

void api_comment_rule_create(struct http_req *req)
{
    json_t *body = http_req_json(req);
    const char *kw = dk_json_str(body, "keyword");
    const char *reply = dk_json_str(body, "reply");
    const char *pub = dk_json_str(body, "public_reply");
    const char *account = dk_json_str(body, "account_id");
    const char *bad = NULL;
    if (kw == NULL || *kw == '\0' || strlen(kw) > 100) {
        bad = "keyword must be 1 to 100 bytes (\"*\" answers every comment)";
    } else if (reply == NULL || *reply == '\0' || strlen(reply) > IG_TEXT_MAX) {
        bad = "reply must be 1 to 1000 bytes (Instagram's limit for a message)";
    } else if (pub != NULL && strlen(pub) > 2200) {
        bad = "public_reply must be at most 2200 bytes";
    } else if (account != NULL && !api_account_id_valid(account)) {
        bad = "account_id must be 1 to 64 characters";
    }
    if (bad != NULL) {
        http_reply_error(req, 422, "invalid_field", "%s", bad);
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    int64_t id = 0;
    int rc = store_comment_rule_add(c, account, kw, reply, pub, &id, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 201,
                    json_pack("{s:I, s:s?, s:s, s:s, s:s?, s:b}", "id", (json_int_t)id,
                              "account_id", account, "keyword", kw, "reply", reply, "public_reply",
                              pub, "enabled", 1));
}

void api_comment_rule_delete(struct http_req *req)
{
    const char *p = http_req_param(req, "id");
    char *end = NULL;
    long long id = p != NULL ? strtoll(p, &end, 10) : 0;
    if (p == NULL || *p == '\0' || *end != '\0' || id <= 0) {
        http_reply_error(req, 404, "not_found", "comment rule not found");
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    bool found = false;
    int rc = store_comment_rule_delete(c, id, &found, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
    } else if (!found) {
        http_reply_error(req, 404, "not_found", "comment rule not found");
    } else {
        http_reply_json(req, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1));
    }
}
