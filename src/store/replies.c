/*
 * store/replies: bot replies generated asynchronously. A reply that waits on an LLM is a bot
 * message in status "generating" whose metadata records the finished steps; the generation
 * job fills it in (content, status pending_send) once, guarded by that status, so a step that
 * ran twice after a crash cannot overwrite a finished reply.
 */
#include "store/repo.h"

#include <stdio.h>

#include "core/dktime.h"
#include "store/store_int.h"

#define REPLY_SPEC                                                                                 \
    "id:s conversation_id:s sender_type:s content:s metadata:j intent:s status:s created_at:t"

int store_message_get(struct store_conn *c, const char *id, json_t **out, struct dk_err *err)
{
    if (!store_is_uuid(id)) {
        return dk_err_set(err, DK_ENOTFOUND, "message not found");
    }
    const char *p[] = {id};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "SELECT id, conversation_id, sender_type, content, metadata, intent, "
                         "status, created_at FROM messages WHERE id = $1",
                         1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return dk_err_set(err, DK_ENOTFOUND, "message not found");
    }
    *out = store_row_json(r, 0, REPLY_SPEC);
    store_res_free(r);
    return 0;
}

int store_message_set_metadata(struct store_conn *c, const char *id, const char *metadata_json,
                               struct dk_err *err)
{
    const char *p[] = {id, metadata_json};
    return store_query(c, "UPDATE messages SET metadata = $2 WHERE id = $1", 2, p, NULL, err);
}

int store_message_finish_reply(struct store_conn *c, const char *id, const char *content,
                               const char *status, const char *metadata_json, const char *intent,
                               bool *updated, struct dk_err *err)
{
    const char *p[] = {id, content, status, metadata_json, intent};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE messages SET content = $2, status = $3, metadata = $4, "
                         "intent = COALESCE($5, intent) WHERE id = $1 AND status = 'generating'",
                         5, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    *updated = store_res_affected(r) > 0;
    store_res_free(r);
    return 0;
}
