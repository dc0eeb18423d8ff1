/*
 * pipeline/account: where and as whom to call the Graph API for one account. The account's
 * row gives the flavour and the sending Page; its token is opened with DIREKT_SECRET_KEY only
 * here, for the length of one job, and wiped afterwards (pipeline_graph_clear). Accounts
 * without a row or a token fall back to IG_ACCESS_TOKEN; without any token sends are dry runs.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/mem.h"

int pipeline_graph_for(struct store_conn *c, const struct pipeline_ig_config *cfg,
                       const char *account_id, struct pipeline_graph *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t idlen = account_id != NULL ? strlen(account_id) : 0;
    if (idlen == 0 || idlen >= sizeof(out->account_id)) {
        return dk_err_set(err, DK_EINVAL, "invalid account id (1 to %zu characters)",
                          sizeof(out->account_id) - 1);
    }
    memcpy(out->account_id, account_id, idlen + 1);
    struct dk_err lerr = {0};
    int rc = store_account_load(c, account_id, &out->acct, &lerr);
    if (rc != 0 && rc != DK_ENOTFOUND) {
        if (err != NULL) {
            *err = lerr;
        }
        return rc;
    }
    out->known = rc == 0;
    if (out->known && out->acct.token_enc != NULL) {
        if (!cfg->has_secret_key) {
            pipeline_graph_clear(out);
            return dk_err_set(err, DK_EINVAL,
                              "DIREKT_SECRET_KEY is not set: cannot open the stored token of "
                              "account %s",
                              account_id);
        }
        struct dk_err oerr = {0};
        if (dk_secret_open(cfg->secret_key, out->acct.token_enc, &out->token, &oerr) != 0) {
            pipeline_graph_clear(out);
            return dk_err_set(err, DK_EINVAL, "account %s: %s", account_id, oerr.msg);
        }
    } else if (cfg->access_token != NULL && *cfg->access_token != '\0') {
        out->token = dk_strdup(cfg->access_token);
    } else {
        out->dry_run = true;
    }
    out->g.base_url = cfg->graph_url;
    out->g.version = cfg->graph_version;
    out->g.flavour =
        strcmp(out->acct.flavour, "facebook") == 0 ? IG_FLAVOUR_FACEBOOK : IG_FLAVOUR_INSTAGRAM;
    out->g.account_id = out->account_id;
    out->g.page_id = out->acct.page_id;
    out->g.token = out->token;
    return 0;
}

void pipeline_graph_clear(struct pipeline_graph *pg)
{
    store_account_clear(&pg->acct);
    dk_secret_free(pg->token);
    pg->token = NULL;
    memset(&pg->g, 0, sizeof(pg->g));
}
