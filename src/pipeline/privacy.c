/*
 * pipeline/privacy: personal data in text bound for an LLM. Under DIREKT_AI_PRIVACY the
 * messages of a call are searched for PII (the NLU's entities: phones, e-mails, cards,
 * handles); with "redact" a copy with placeholders is made for cloud providers, and the map
 * that restores the values travels with the request (the router applies both).
 */
#include "pipeline/pipeline.h"

#include <string.h>

#include "core/mem.h"

void pipeline_privacy_clear(struct pipeline_privacy *p)
{
    for (size_t i = 0; p->strings != NULL && i < p->n; i++) {
        dk_free(p->strings[i]);
    }
    dk_free(p->strings);
    dk_free(p->red);
    ai_redaction_free(p->map);
    memset(p, 0, sizeof(*p));
}

int pipeline_privacy_apply(enum ai_privacy mode, const struct ai_message *msgs, size_t n,
                           struct pipeline_privacy *out, struct dk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (mode == AI_PRIVACY_OFF) {
        return 0;
    }
    struct nlu_ctx *ctx = pipeline_nlu_thread_ctx();
    for (size_t i = 0; i < n && !out->has_pii; i++) {
        out->has_pii = ai_has_pii(ctx, msgs[i].content, strlen(msgs[i].content));
    }
    if (!out->has_pii || mode != AI_PRIVACY_REDACT) {
        return 0;
    }
    out->n = n;
    out->map = ai_redaction_new();
    out->red = dk_calloc(n + 1, sizeof(*out->red));
    out->strings = dk_calloc(n + 1, sizeof(*out->strings));
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        out->strings[i] =
            ai_redact(out->map, ctx, msgs[i].content, strlen(msgs[i].content), &found, err);
        if (out->strings[i] == NULL) {
            int rc = err != NULL && err->code != 0 ? err->code : DK_EINVAL;
            pipeline_privacy_clear(out);
            return rc;
        }
        out->red[i] = (struct ai_message){msgs[i].role, out->strings[i]};
    }
    return 0;
}

void pipeline_privacy_request(struct pipeline_privacy *p, struct ai_request *req)
{
    req->has_pii = p->has_pii;
    req->redacted = p->red;
    req->redaction = p->map; /* stolen by the router */
    p->map = NULL;
}
