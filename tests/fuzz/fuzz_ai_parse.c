/*
 * Fuzz target for the whole-response parsers on arbitrary bytes: ai_openai_parse and
 * ai_anthropic_parse (as a 200 and as an error status chosen by the input's size),
 * ai_models_parse for both wires and ai_openai_parse_embeddings. The promises: an OK reply has
 * valid UTF-8 text, a failed non-stream reply has none, the outcome is one a parse can give, the
 * strings for people are valid UTF-8; a model list is an array of strings or NULL with
 * DK_EINVAL; embeddings are n × dim finite floats or nothing, with MALFORMED on failure.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/mem.h"
#include "nlu/nlu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ai_parse: broken promise: %s\n", what);
        abort();
    }
}

static bool utf8(const char *s)
{
    return nlu_utf8_check(s, strlen(s), NULL) == 0;
}

static void check_reply(const struct ai_reply *r, int status)
{
    check(r->http_status == status, "the status is kept");
    check(r->outcome <= AI_ERR_MALFORMED, "a parse gives ok, retry, fatal or malformed");
    if (r->outcome == AI_OK) {
        check(r->text != NULL && utf8(r->text), "an answer has valid UTF-8 text");
        check(status >= 200 && status <= 299, "only a 2xx is an answer");
    } else {
        check(r->text == NULL, "a failure has no text");
        check(r->error[0] != '\0', "a failure says why");
    }
    check(utf8(r->error) && utf8(r->error_type) && utf8(r->finish) && utf8(r->id) && utf8(r->model),
          "strings are valid UTF-8");
    check(r->retry_after_ms == 5000, "Retry-After is read");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int STATUSES[] = {400, 401, 404, 408, 429, 500, 503, 529};
    const char *s = (const char *)data;
    int statuses[2] = {200, STATUSES[size % 8]};
    for (int i = 0; i < 2; i++) {
        struct ai_reply r;
        ai_openai_parse(statuses[i], s, size, "5", &r);
        check_reply(&r, statuses[i]);
        ai_reply_clear(&r);
        ai_anthropic_parse(statuses[i], s, size, "5", size % 3 == 0 ? "false" : NULL, &r);
        check_reply(&r, statuses[i]);
        if (size % 3 == 0 && statuses[i] != 200) {
            check(r.outcome == AI_ERR_FATAL || r.outcome == AI_ERR_MALFORMED,
                  "x-should-retry: false is never retried");
        }
        ai_reply_clear(&r);
    }
    for (int w = 0; w < 2; w++) {
        struct dk_err err = {0};
        json_t *ids = ai_models_parse((enum ai_wire)w, s, size, &err);
        check(ids != NULL || err.code == DK_EINVAL, "a bad list fails with DK_EINVAL");
        for (size_t i = 0; i < json_array_size(ids); i++) {
            check(json_is_string(json_array_get(ids, i)), "model ids are strings");
        }
        json_decref(ids);
    }
    float *v;
    size_t n, dim;
    struct ai_usage u;
    struct ai_reply r;
    int rc = ai_openai_parse_embeddings(200, s, size, &v, &n, &dim, &u, &r);
    if (rc == 0) {
        check(v != NULL && n > 0 && dim > 0 && r.outcome == AI_OK, "vectors on success");
        for (size_t i = 0; i < n * dim; i++) {
            check(isfinite(v[i]), "finite values");
        }
        check(u.input_tokens >= 0 && u.output_tokens == 0, "usage counts input only");
    } else {
        check(rc == DK_EINVAL && v == NULL && n == 0 && r.outcome == AI_ERR_MALFORMED,
              "nothing but MALFORMED on failure");
    }
    dk_free(v);
    ai_reply_clear(&r);
    return 0;
}
