/*
 * Fuzz target for nlu_entities: the input is checked with nlu_utf8_check and, valid or not,
 * searched for entities from an exactly sized copy (so that ASan sees any read past the end).
 * Checks the promises: entities come in order of start without overlaps, spans lie inside the
 * input, values and units are NUL-terminated, the count does not depend on the room given, a
 * card value shows four digits at most, and personal data is marked as such.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/nlu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_nlu_entities: broken promise: %s\n", what);
        abort();
    }
}

static void check_entities(const char *s, size_t len, const struct nlu_entity *e, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        check(e[k].kind < NLU_ENT_COUNT, "kind in range");
        check(e[k].start < e[k].end && e[k].end <= len, "span inside the input");
        check(k == 0 || e[k - 1].end <= e[k].start, "in order, no overlaps");
        check(memchr(e[k].value, '\0', sizeof e[k].value) != NULL, "value terminated");
        check(memchr(e[k].unit, '\0', sizeof e[k].unit) != NULL, "unit terminated");
        bool pii = e[k].kind == NLU_ENT_PHONE || e[k].kind == NLU_ENT_EMAIL ||
                   e[k].kind == NLU_ENT_CARD || e[k].kind == NLU_ENT_HANDLE;
        check(e[k].pii == pii, "personal data marked");
        if (e[k].kind == NLU_ENT_CARD) {
            size_t digits = 0;
            for (const char *p = e[k].value; *p != '\0'; p++) {
                digits += *p >= '0' && *p <= '9';
            }
            check(digits <= 4, "card number masked");
        }
        check(strcmp(nlu_ent_kind_name((enum nlu_ent_kind)e[k].kind), "unknown") != 0,
              "kind has a name");
    }
    (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > NLU_MAX_TEXT) {
        size = NLU_MAX_TEXT;
    }
    char *s = dk_malloc(size > 0 ? size : 1);
    memcpy(s, data, size);
    bool valid = nlu_utf8_check(s, size, NULL) == 0;

    struct nlu_entity all[NLU_MAX_ENTITIES], few[2];
    size_t n = nlu_entities(s, size, all, NLU_MAX_ENTITIES);
    check_entities(s, size, all, n < NLU_MAX_ENTITIES ? n : NLU_MAX_ENTITIES);
    size_t m = nlu_entities(s, size, few, 2);
    check(m == n, "the count does not depend on the room");
    for (size_t k = 0; k < 2 && k < n; k++) {
        check(few[k].kind == all[k].kind && few[k].start == all[k].start &&
                  few[k].end == all[k].end && strcmp(few[k].value, all[k].value) == 0 &&
                  strcmp(few[k].unit, all[k].unit) == 0,
              "the same entities");
    }
    check(nlu_entities(s, size, NULL, 0) == n, "counting alone");
    if (valid) {
        /* every value of valid text is valid text */
        for (size_t k = 0; k < n && k < NLU_MAX_ENTITIES; k++) {
            check(nlu_utf8_check(all[k].value, strlen(all[k].value), NULL) == 0,
                  "values are valid UTF-8");
        }
    }
    dk_free(s);
    return 0;
}
