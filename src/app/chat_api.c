/*
 * app/chat_api: what `direkt chat` reads through direkt's REST API: the customer's history
 * (GET /api/v1/users/{instagram_id}/profile, then /api/v1/users/{id}/conversation-history),
 * from which it shows what direkt understood of the message a reply answers, or why no reply
 * came (the bot message's status and reason, the conversation's state).
 */
#include "app/chat_int.h"

#include <stdio.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

#define HISTORY_LIMIT 50
#define QUOTE_MAX     60 /* bytes of the customer's message quoted in an annotation */

/* GET path on direkt with the API token: the parsed body (new) on 200, else NULL. */
static json_t *api_get(struct app_chat *ch, const char *path)
{
    char url[APP_CHAT_URL_MAX + 256], auth[320];
    snprintf(url, sizeof(url), "%s%s", ch->base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ch->api_token);
    struct dk_buf resp;
    long status = app_chat_http(ch->api, "GET", url, auth, NULL, &resp);
    json_t *j = status == 200 ? dk_json_parse(resp.data, resp.len, DK_JSON_MAX_DEPTH, NULL) : NULL;
    dk_buf_free(&resp);
    return j;
}

/* The customer's recent messages across conversations, newest first, with the conversations:
 * {"user", "conversations", "data"} (new), or NULL when direkt does not know the customer. */
static json_t *history(struct app_chat *ch, const char *customer)
{
    if (ch->api_token == NULL) {
        return NULL;
    }
    char *esc = curl_easy_escape(ch->api, customer, 0);
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/users/%s/profile", esc != NULL ? esc : "");
    curl_free(esc);
    json_t *user = api_get(ch, path);
    const char *id = dk_json_str(user, "id");
    json_t *h = NULL;
    if (id != NULL && strlen(id) < 32) {
        snprintf(path, sizeof(path), "/api/v1/users/%s/conversation-history?limit=%d", id,
                 HISTORY_LIMIT);
        h = api_get(ch, path);
    }
    json_decref(user);
    if (!json_is_array(json_object_get(h, "data"))) {
        json_decref(h);
        return NULL;
    }
    return h;
}

static bool is_sender(const json_t *m, const char *type)
{
    const char *t = dk_json_str(m, "sender_type");
    return t != NULL && strcmp(t, type) == 0;
}

static bool array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

/* The customer's message quoted: its text cut at a UTF-8 boundary, or its kind. */
static void quote(const json_t *m, char *out, size_t size)
{
    const char *text = dk_json_str(m, "content");
    if (text == NULL || *text == '\0') {
        const char *type = dk_json_str(m, "message_type");
        snprintf(out, size, "[%s]", type != NULL ? type : "message");
        return;
    }
    size_t n = strlen(text);
    bool cut = n > QUOTE_MAX;
    if (cut) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    snprintf(out, size, "“%.*s%s”", (int)n, text, cut ? "…" : "");
}

void app_chat_annotate(struct app_chat *ch, const char *customer, const char *text)
{
    json_t *h = history(ch, customer);
    if (h == NULL) {
        return;
    }
    json_t *data = json_object_get(h, "data");
    const json_t *bot = NULL, *answered = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m)
    {
        const char *content = dk_json_str(m, "content");
        if (is_sender(m, "bot") && content != NULL && *text != '\0' && strstr(content, text)) {
            bot = m;
            break;
        }
    }
    const char *bot_id = dk_json_str(bot, "id");
    if (bot_id != NULL && strcmp(bot_id, ch->last_annotated) == 0) {
        json_decref(h); /* another part of a reply already annotated */
        return;
    }
    snprintf(ch->last_annotated, sizeof(ch->last_annotated), "%s", bot_id ? bot_id : "");
    json_t *ids = json_object_get(json_object_get(bot, "metadata"), "in_reply_to");
    json_array_foreach(data, i, m)
    {
        const char *id = dk_json_str(m, "id");
        if (is_sender(m, "user") && id != NULL &&
            (json_array_size(ids) == 0 || array_has(ids, id))) {
            answered = m;
            break;
        }
    }
    if (answered != NULL) {
        char q[QUOTE_MAX + 32], conf[16] = "–";
        quote(answered, q, sizeof(q));
        json_t *c = json_object_get(answered, "ai_confidence");
        if (json_is_number(c)) {
            snprintf(conf, sizeof(conf), "%.2f", json_number_value(c));
        }
        const char *intent = dk_json_str(answered, "intent");
        const char *sentiment = dk_json_str(answered, "sentiment");
        app_chat_say(ch, APP_CHAT_DIM, "      ↳ %s: intent %s · sentiment %s · confidence %s", q,
                     intent != NULL ? intent : "–", sentiment != NULL ? sentiment : "–", conf);
    }
    json_decref(h);
}

/* The conversation with the chat's account among the customer's, else the first. */
static const json_t *conversation(const json_t *h, const char *account)
{
    json_t *convs = json_object_get(h, "conversations");
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c)
    {
        const char *a = dk_json_str(c, "account_id");
        if (a != NULL && strcmp(a, account) == 0) {
            return c;
        }
    }
    return json_array_get(convs, 0);
}

/* Why the bot's newest message (status not sent) has not reached the chat. */
static void bot_reason(struct app_chat *ch, const json_t *bot, char *out, size_t size)
{
    const char *st = dk_json_str(bot, "status");
    const char *why = dk_json_str(bot, "status_reason");
    st = st != NULL ? st : "?";
    if (strcmp(st, "skipped") == 0 || strcmp(st, "failed") == 0) {
        snprintf(out, size, "the reply was not sent: %s%s%s", st, why ? ": " : "", why ? why : "");
    } else if (strcmp(st, "pending_send") == 0 || strcmp(st, "sending") == 0) {
        snprintf(out, size, "the reply waits to go out (status %s%s%s)", st, why ? ": " : "",
                 why ? why : "");
    } else if (strcmp(st, "generating") == 0) {
        snprintf(out, size, "the reply is still being written by the AI provider");
    } else if (strcmp(st, "sent") == 0 && why != NULL) {
        snprintf(out, size,
                 "the reply was marked sent without reaching this chat (%s): does another "
                 "direkt without an access token work on the same database?",
                 why);
    } else if (strcmp(st, "sent") == 0) {
        snprintf(out, size,
                 "the reply was sent, but not to this chat: does direkt run with "
                 "IG_GRAPH_URL=%s (and no other direkt on the same database)?",
                 ch->graph_url);
    } else {
        snprintf(out, size, "the reply has status %s%s%s", st, why ? ": " : "", why ? why : "");
    }
}

/* Why the bot did not answer, from the conversation's state and the customer's message. */
static void conversation_reason(const json_t *conv, const json_t *mine, char *out, size_t size)
{
    const char *status = dk_json_str(conv, "status");
    const char *paused = dk_json_str(conv, "bot_paused_until");
    const char *assigned = dk_json_str(conv, "assigned_to");
    const char *skip = dk_json_str(json_object_get(conv, "context"), "last_skip_reason");
    const char *mine_status = dk_json_str(mine, "status");
    int64_t until = 0;
    if (status != NULL && strcmp(status, "needs_human") == 0) {
        snprintf(out, size, "the conversation waits for a person (status needs_human)");
    } else if (paused != NULL && dk_time_parse(paused, &until) == 0 && until > dk_now_ms()) {
        snprintf(out, size, "the bot is paused in this conversation until %s", paused);
    } else if (assigned != NULL && *assigned != '\0') {
        snprintf(out, size, "the conversation is assigned to %s", assigned);
    } else if (mine_status != NULL && strcmp(mine_status, "received") == 0) {
        snprintf(out, size,
                 "your message waits for its reply job (the reply debounce, or no worker "
                 "running?)");
    } else if (skip != NULL) {
        snprintf(out, size, "the bot chose not to answer: %s", skip);
    } else {
        snprintf(out, size, "direkt stored no reply to it");
    }
}

void app_chat_explain(struct app_chat *ch)
{
    double secs = (double)ch->wait_ms / 1000.0;
    if (ch->api_token == NULL) {
        app_chat_say(ch, APP_CHAT_NOTE,
                     "  no reply after %.0f s (without an API token chat "
                     "cannot tell why)",
                     secs);
        return;
    }
    json_t *h = history(ch, ch->customer);
    json_t *data = json_object_get(h, "data");
    const json_t *mine = NULL, *bot = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m)
    {
        const char *mid = dk_json_str(m, "instagram_mid");
        if (mid != NULL && strcmp(mid, ch->last_mid) == 0) {
            mine = m;
            break;
        }
        if (bot == NULL && is_sender(m, "bot")) {
            bot = m; /* the newest bot message after the customer's */
        }
    }
    char why[600];
    if (mine == NULL) {
        snprintf(why, sizeof(why), "direkt has not stored your message");
    } else if (bot != NULL) {
        bot_reason(ch, bot, why, sizeof(why));
    } else {
        conversation_reason(conversation(h, ch->o.account), mine, why, sizeof(why));
    }
    app_chat_say(ch, APP_CHAT_NOTE, "  no reply after %.0f s: %s", secs, why);
    json_decref(h);
}
