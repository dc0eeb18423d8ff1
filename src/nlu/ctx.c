/*
 * nlu/ctx: the per-thread scratch of the module (struct nlu_ctx in nlu_int.h): tokens,
 * stemmers, raw features, the sparse vector with its deduplication table, label scores. Buffers
 * only grow, so that once they fit the largest message and model, a call allocates nothing.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <string.h>

struct nlu_ctx *nlu_ctx_new(void)
{
    struct nlu_ctx *c = dk_calloc(1, sizeof(*c));
    nlu_tokens_init(&c->toks);
    c->st = nlu_stemmer_new();
    return c;
}

void nlu_ctx_free(struct nlu_ctx *c)
{
    if (c == NULL) {
        return;
    }
    nlu_tokens_free(&c->toks);
    nlu_stemmer_free(c->st);
    dk_free(c->raw.v);
    dk_free(c->frow);
    dk_free(c->fval);
    dk_free(c->dd);
    dk_free(c->th);
    dk_free(c->scores);
    dk_free(c);
}

const struct nlu_tokens *nlu_ctx_tokens(const struct nlu_ctx *c)
{
    return &c->toks;
}

struct nlu_stemmer *nlu_ctx_stemmer(struct nlu_ctx *c)
{
    return c->st;
}

void nlu_ctx_reserve(struct nlu_ctx *c, size_t nlabels)
{
    if (c->scores_cap < nlabels) {
        c->scores_cap = nlabels + 8;
        c->scores = dk_realloc(c->scores, c->scores_cap * sizeof(*c->scores));
    }
}

int nlu_ctx_tokenize(struct nlu_ctx *c, const char *s, size_t len, struct dk_err *err)
{
    int rc = nlu_tokenize(s, len, &c->toks, err);
    if (rc < 0) {
        c->lang.lang = NLU_LANG_UNKNOWN;
        c->lang.confidence = 0.0f;
        return rc;
    }
    c->lang = nlu_lang_detect(&c->toks);
    return 0;
}
