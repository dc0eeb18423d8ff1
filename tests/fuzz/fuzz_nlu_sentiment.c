/*
 * Fuzz target for the lexicon sentiment over arbitrary bytes: text that tokenizes is scored
 * in each language, with and without a stemmer. Checks the promises of nlu_lexicon_scores:
 * a score in [-1, 1] whose sign agrees with the label (positive from 0.05, negative from
 * -0.05), emotions in [0, 1], the NLU_LEX_NFEAT features finite and in [-1, 1], and the same
 * result for the same tokens. The token list and the stemmer are reused, as a worker would.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlu/nlu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nlu_tokens toks;
static struct nlu_stemmer *stemmer;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_nlu_sentiment: broken promise: %s\n", what);
        abort();
    }
}

static void check_result(const struct nlu_sentiment *s, const float *feats)
{
    check(!isnan(s->score) && s->score >= -1.0f && s->score <= 1.0f, "score in [-1, 1]");
    check(s->label == NLU_NEUTRAL || s->label == NLU_POSITIVE || s->label == NLU_NEGATIVE,
          "known label");
    check((s->label == NLU_POSITIVE) == (s->score >= 0.05f), "positive from 0.05");
    check((s->label == NLU_NEGATIVE) == (s->score <= -0.05f), "negative from -0.05");
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        check(!isnan(s->emotions[k]) && s->emotions[k] >= 0.0f && s->emotions[k] <= 1.0f,
              "emotions in [0, 1]");
    }
    for (int k = 0; k < NLU_LEX_NFEAT; k++) {
        check(isfinite(feats[k]) && feats[k] >= -1.0f && feats[k] <= 1.0f, "features in [-1, 1]");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (stemmer == NULL) {
        nlu_tokens_init(&toks);
        stemmer = nlu_stemmer_new();
    }
    if (nlu_tokenize((const char *)data, size, &toks, NULL) != 0) {
        return 0;
    }
    static const enum nlu_lang langs[] = {NLU_LANG_UNKNOWN, NLU_LANG_EN, NLU_LANG_RU, NLU_LANG_UK,
                                          NLU_LANG_DE};
    for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
        struct nlu_sentiment a;
        struct nlu_sentiment b;
        float fa[NLU_LEX_NFEAT];
        float fb[NLU_LEX_NFEAT];
        nlu_lexicon_scores(&toks, langs[i], stemmer, &a, fa);
        check_result(&a, fa);
        nlu_lexicon_scores(&toks, langs[i], stemmer, &b, fb);
        check(memcmp(&a, &b, sizeof(a)) == 0 && memcmp(fa, fb, sizeof(fa)) == 0,
              "same tokens, same result");
        nlu_lexicon_scores(&toks, langs[i], NULL, &b, NULL);
        check(!isnan(b.score) && b.score >= -1.0f && b.score <= 1.0f, "score without stems");
    }
    return 0;
}
