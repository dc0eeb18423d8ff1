/*
 * Fuzz target for the small parsers of outside input behind the API: timestamps
 * (?updated_since=), paging cursors (?cursor=), bounded JSON bodies and the JSON string
 * encoder that builds bulk statements. Checks their promises: a parsed timestamp formats and
 * parses back to itself; a parsed cursor round-trips; an encoded string decodes to its input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "store/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_inputs: broken promise: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = dk_strndup((const char *)data, size > 4096 ? 4096 : size);

    int64_t ms;
    if (dk_time_parse(s, &ms) == 0 && ms >= 0 && ms < 253402300800000) {
        char buf[DK_TIME_LEN];
        int64_t again;
        check(dk_time_parse(dk_time_format(ms, buf), &again) == 0 && again == ms,
              "timestamp round trip");
    }

    char *ts = NULL, *id = NULL;
    if (store_cursor_parse(s, &ts, &id, NULL) == 0) {
        check(store_is_uuid(id), "cursor id is a uuid");
        char *c = store_cursor_make(ts, id);
        char *ts2 = NULL, *id2 = NULL;
        check(store_cursor_parse(c, &ts2, &id2, NULL) == 0 && strcmp(ts, ts2) == 0 &&
                  strcmp(id, id2) == 0,
              "cursor round trip");
        dk_free(c);
        dk_free(ts2);
        dk_free(id2);
    }
    dk_free(ts);
    dk_free(id);

    json_t *j = dk_json_parse((const char *)data, size, DK_JSON_MAX_DEPTH, NULL);
    if (j != NULL) {
        char *dump = dk_json_dump(j);
        check(dump != NULL, "parsed JSON dumps");
        dk_free(dump);
        json_decref(j);
    }

    /* the encoder used for bulk statements: valid UTF-8 in, the same string out */
    json_t *probe = json_string(s);
    if (probe != NULL) {
        struct dk_buf b;
        dk_buf_init(&b, 1u << 20);
        check(dk_json_put_string(&b, s) == 0, "string encodes");
        json_t *back = dk_json_parse(b.data, b.len, 2, NULL);
        check(json_is_string(back) && strcmp(json_string_value(back), s) == 0,
              "encoded string decodes to itself");
        json_decref(back);
        dk_buf_free(&b);
        json_decref(probe);
    }
    dk_free(s);
    return 0;
}
