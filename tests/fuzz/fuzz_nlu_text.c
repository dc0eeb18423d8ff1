/*
 * Fuzz target for the nlu text layer over arbitrary bytes: nlu_utf8_check, nlu_tokenize,
 * nlu_lang_detect and nlu_stem on every token. Checks their promises: tokenize fails exactly
 * when the check does (or the text is too long) and then leaves no tokens; spans lie inside
 * the input, on code point boundaries, in increasing order; each norm is valid UTF-8 of
 * norm_len bytes; emoji, emoticons and numbers keep their bytes; a language guess is a known
 * language with a confidence in [0, 1]; stems are NUL-terminated strings of the given length.
 * The token list and the stemmers are reused from call to call, as a worker thread would.
 */
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
        fprintf(stderr, "fuzz_nlu_text: broken promise: %s\n", what);
        abort();
    }
}

static void check_token(const char *s, size_t size, const struct nlu_token *t, uint32_t prev_end)
{
    check(t->start < t->end && t->end <= size, "span inside the input");
    check(t->start >= prev_end, "spans in order, without overlap");
    check(nlu_utf8_check(s + t->start, t->end - t->start, NULL) == 0,
          "span on code point boundaries");
    check(t->norm != NULL && t->norm_len == strlen(t->norm), "norm_len is the norm's length");
    check(t->norm_len > 0, "no empty tokens");
    check(nlu_utf8_check(t->norm, t->norm_len, NULL) == 0, "norm is valid UTF-8");
    check(t->kind <= NLU_TOK_PUNCT, "known kind");
    check(t->script <= NLU_SCRIPT_ARABIC, "known script");
    check((t->flags & ~(NLU_TOKF_CAPS | NLU_TOKF_ELONGATED)) == 0, "known flags");
    if (t->kind == NLU_TOK_EMOJI || t->kind == NLU_TOK_EMOTICON || t->kind == NLU_TOK_NUMBER)
        check(t->norm_len == t->end - t->start && memcmp(t->norm, s + t->start, t->norm_len) == 0,
              "emoji, emoticons and numbers keep their bytes");
    if (t->kind != NLU_TOK_WORD)
        check(t->script == NLU_SCRIPT_OTHER && t->flags == 0, "script and flags for words");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (stemmer == NULL) {
        nlu_tokens_init(&toks);
        stemmer = nlu_stemmer_new();
    }
    struct dk_err err;
    int valid = nlu_utf8_check(s, size, &err) == 0;
    if (!valid)
        check(strstr(err.msg, "invalid UTF-8 at byte ") != NULL, "error names the byte");
    int rc = nlu_tokenize(s, size, &toks, NULL);
    if (size > NLU_MAX_TEXT)
        check(rc == DK_ETOOBIG, "too long fails with DK_ETOOBIG");
    else
        check(valid ? rc == 0 : rc == DK_EINVAL, "tokenize agrees with the UTF-8 check");
    if (rc != 0) {
        check(toks.n == 0, "no tokens after an error");
        return 0;
    }

    uint32_t prev_end = 0;
    size_t words = 0;
    for (size_t i = 0; i < toks.n; i++) {
        check_token(s, size, &toks.v[i], prev_end);
        prev_end = toks.v[i].end;
        words += toks.v[i].kind == NLU_TOK_WORD;
    }

    struct nlu_lang_guess g = nlu_lang_detect(&toks);
    check(g.lang < NLU_LANG_COUNT, "known language");
    check(g.confidence >= 0.0f && g.confidence <= 1.0f, "confidence in [0, 1]");
    if (words == 0)
        check(g.lang == NLU_LANG_UNKNOWN && g.confidence == 0.0f, "no words, no language");

    for (size_t i = 0; i < toks.n; i++) {
        size_t n;
        const char *st = nlu_stem(stemmer, g.lang, &toks.v[i], &n);
        check(st != NULL && strlen(st) == n, "stem length");
        st = nlu_stem(stemmer, NLU_LANG_TR, &toks.v[i], &n);
        check(st != NULL && strlen(st) == n, "stem length");
        if (toks.v[i].kind != NLU_TOK_WORD)
            check(st == toks.v[i].norm, "non-words are not stemmed");
    }
    return 0;
}
