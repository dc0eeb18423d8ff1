/*
 * app/ig_setup: the pipeline's Instagram settings from the configuration: Graph URL and
 * version, the fallback token, pacing and pauses, and DIREKT_SECRET_KEY read into its 32
 * bytes (a key that cannot be read stops the start with one line naming the variable).
 */
#include "app/app.h"

#include <string.h>

#include "core/crypto.h"
#include "pipeline/pipeline.h"

int app_ig_config(const struct app_config *cfg, struct pipeline_ig_config *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->graph_url = cfg->ig_graph_url;
    out->graph_version = cfg->ig_graph_version;
    out->access_token = cfg->ig_access_token;
    out->send_rate = cfg->ig_send_rate;
    out->human_agent = cfg->ig_human_agent != 0;
    out->human_pause_ms = cfg->human_pause_ms;
    out->profile_ttl_ms = cfg->profile_ttl_ms;
    out->confirm_ms = cfg->ig_confirm_ms;
    if (cfg->secret_key != NULL) {
        struct dk_err kerr = {0};
        if (dk_secret_key_parse(cfg->secret_key, out->secret_key, &kerr) != 0) {
            return dk_err_set(err, DK_EINVAL, "invalid configuration: %s", kerr.msg);
        }
        out->has_secret_key = true;
    }
    return 0;
}
