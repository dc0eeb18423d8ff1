/*
 * api/accounts: the connected Instagram accounts.
 *   GET /api/v1/accounts    {"data": [{id, name, flavour, page_id, has_token, status,
 *                           status_reason, throttled_until, created_at, updated_at}]}
 * Tokens never leave the database (has_token only); accounts are added with the CLI.
 */
#include "api/api.h"

#include "store/repo.h"

void api_accounts_list(struct http_req *req)
{
    struct store_conn *c = api_conn(req);
    if (c == NULL) {
        return;
    }
    struct dk_err err = {0};
    json_t *rows = NULL;
    int rc = store_account_list(c, &rows, &err);
    store_release(c);
    if (rc != 0) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "data", rows));
}
