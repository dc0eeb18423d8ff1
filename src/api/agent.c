/* api/agent: the agent's work: jobs queued and running (with attempts and last error). */
#include "api/api.h"

#include "queue/queue.h"

void api_agent_tasks_active(struct http_req *req)
{
    int limit;
    const char *cursor;
    if (!api_page_args(req, 100, 500, &limit, &cursor)) {
        return;
    }
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *items = NULL;
    int rc = queue_list_active(c, limit, &items, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    api_reply_page(req, items, NULL);
}
