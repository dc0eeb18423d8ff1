/*
 * pipeline/comments: comment-to-DM automation. A comment on the business's media whose text
 * holds a rule's keyword (as a whole word, case-insensitive; "*" matches any comment) gets the
 * rule's private reply — one DM to the commenter through recipient.comment_id — and, when the
 * rule has one, a public answer under the comment. Exactly once per comment: the comment event
 * is recorded once (message_events dedupe), the private reply is claimed in comment_replies, and
 * the send policy refuses any second private reply to a comment.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

static char *fold(const char *s)
{
    utf8proc_uint8_t *out = utf8proc_NFKC_Casefold((const utf8proc_uint8_t *)s);
    if (out == NULL) {
        return NULL;
    }
    char *copy = dk_strdup((const char *)out);
    free(out); /* utf8proc allocates with malloc */
    return copy;
}

static bool word_byte(unsigned char ch)
{
    return ch >= 0x80 || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
           ch == '_';
}

bool pipeline_comment_matches(const char *keyword, const char *text)
{
    if (keyword == NULL || text == NULL || keyword[0] == '\0') {
        return false;
    }
    if (strcmp(keyword, "*") == 0) {
        return true;
    }
    char *k = fold(keyword);
    char *t = fold(text);
    bool hit = false;
    size_t kn = k != NULL ? strlen(k) : 0;
    for (const char *p = t != NULL && kn > 0 ? strstr(t, k) : NULL; p != NULL && !hit;
         p = strstr(p + 1, k)) {
        bool left = p == t || !word_byte((unsigned char)p[-1]);
        bool right = !word_byte((unsigned char)p[kn]);
        /* a keyword that starts or ends with a non-letter ("#sale", "price?") bounds itself */
        hit = (left || !word_byte((unsigned char)k[0])) &&
              (right || !word_byte((unsigned char)k[kn - 1]));
    }
    dk_free(k);
    dk_free(t);
    return hit;
}

static int store_bot_message(struct store_conn *c, const char *conv, const char *text, json_t *meta,
                             int64_t at, char id_out[STORE_ID_LEN], struct dk_err *err)
{
    char *metatext = dk_json_dump(meta);
    struct store_message m = {.conversation_id = conv,
                              .sender_type = "bot",
                              .message_type = "text",
                              .content = text,
                              .metadata = metatext,
                              .status = "pending_send",
                              .created_ms = at};
    bool inserted;
    int rc = store_message_insert(c, &m, &inserted, err);
    dk_free(metatext);
    if (id_out != NULL) {
        memcpy(id_out, m.id, STORE_ID_LEN);
    }
    return rc;
}

int pipeline_comment_automation(struct store_conn *c, const struct ig_event *ev, const char *conv,
                                int64_t now, bool *answered, struct dk_err *err)
{
    *answered = false;
    if (ev->kind != IG_EV_COMMENT || ev->mid == NULL || ev->account_id == NULL ||
        (ev->customer_id != NULL && strcmp(ev->customer_id, ev->account_id) == 0)) {
        return 0; /* the business's own comments are not answered */
    }
    json_t *rules = NULL;
    int rc = store_comment_rule_list(c, ev->account_id, &rules, err);
    if (rc != 0) {
        return rc;
    }
    const json_t *rule = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if (json_is_true(json_object_get(r, "enabled")) &&
            pipeline_comment_matches(dk_json_str(r, "keyword"), ev->text)) {
            rule = r;
            break;
        }
    }
    if (rule == NULL) {
        json_decref(rules);
        return 0;
    }
    int64_t rule_id = json_integer_value(json_object_get(rule, "id"));
    int64_t at = ev->timestamp_ms > 0 ? ev->timestamp_ms : now;
    char ts[DK_TIME_LEN], msg[STORE_ID_LEN];
    json_t *meta =
        json_pack("{s:s, s:s, s:I, s:s}", "comment_id", ev->mid, "comment_at",
                  dk_time_format(at, ts), "rule_id", (json_int_t)rule_id, "source", "comment_rule");
    const char *media = dk_json_str(json_object_get(ev->metadata, "media"), "id");
    if (media != NULL) {
        json_object_set_new(meta, "media_id", json_string(media));
    }
    rc = store_bot_message(c, conv, dk_json_str(rule, "reply"), meta, now, msg, err);
    json_decref(meta);
    bool claimed = false;
    if (rc == 0) {
        rc = store_comment_reply_claim(c, ev->mid, ev->account_id, conv, msg, rule_id, at, &claimed,
                                       err);
    }
    /* not claimed: another delivery of this comment took it first; the sender refuses this
     * copy (one private reply per comment) and records why */
    const char *pub = dk_json_str(rule, "public_reply");
    if (rc == 0 && claimed && pub != NULL && pub[0] != '\0') {
        json_t *pm = json_pack("{s:s, s:I, s:s}", "public_reply_to", ev->mid, "rule_id",
                               (json_int_t)rule_id, "source", "comment_rule");
        rc = store_bot_message(c, conv, pub, pm, now + 1, NULL, err);
        json_decref(pm);
    }
    if (rc == 0) {
        rc = pipeline_send_enqueue(c, conv, now, err);
        *answered = true;
        DK_INFO("comment %s on account %s matched rule %lld (%s): private reply queued", ev->mid,
                ev->account_id, (long long)rule_id, dk_json_str(rule, "keyword"));
    }
    json_decref(rules);
    return rc;
}
