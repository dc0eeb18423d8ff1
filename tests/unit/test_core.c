/* Unit tests of core/: errors, memory, time, crypto, JSON helpers, logging configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/err.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

static void test_core_err_maps_codes_to_status(void **state)
{
    (void)state;
    struct dk_err err;
    assert_int_equal(dk_err_set(&err, DK_ENOTFOUND, "user %d not found", 7), DK_ENOTFOUND);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.msg, "user 7 not found");
    assert_string_equal(dk_err_name(DK_EUNPROCESS), "invalid_field");
    assert_int_equal(dk_err_status(DK_ETOOBIG), 413);
    assert_int_equal(dk_err_status(DK_EUNAVAIL), 503);
    assert_int_equal(dk_err_status(DK_EINTERNAL), 500);
    assert_int_equal(dk_err_set(NULL, DK_EINVAL, "no record"), DK_EINVAL);
}

static void free_counter(void *p)
{
    (*(int *)p)++;
}

static void test_core_arena_allocates_and_defers(void **state)
{
    (void)state;
    struct dk_arena *a = dk_arena_new();
    char *s = dk_arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    char *big = dk_arena_alloc(a, 100000);
    memset(big, 'x', 100000);
    unsigned char *z = dk_arena_alloc(a, 64);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(z[i], 0);
    }
    assert_int_equal((uintptr_t)z % 16, 0);
    assert_string_equal(dk_arena_printf(a, "%d-%s", 42, "x"), "42-x");
    int counter = 0;
    dk_arena_defer(a, free_counter, &counter);
    dk_arena_defer(a, free_counter, &counter);
    dk_arena_free(a);
    assert_int_equal(counter, 2);
    dk_arena_free(NULL);
}

static void test_core_buf_respects_maximum(void **state)
{
    (void)state;
    struct dk_buf b;
    dk_buf_init(&b, 10);
    assert_int_equal(dk_buf_puts(&b, "hello"), 0);
    assert_int_equal(dk_buf_printf(&b, "%d", 12345), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(dk_buf_puts(&b, "!"), DK_ETOOBIG);
    assert_string_equal(b.data, "hello12345");
    size_t len;
    char *taken = dk_buf_take(&b, &len);
    assert_int_equal(len, 10);
    assert_null(b.data);
    dk_free(taken);
    dk_buf_free(&b);
}

static void test_core_time_round_trips(void **state)
{
    (void)state;
    char buf[DK_TIME_LEN];
    assert_string_equal(dk_time_format(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(dk_time_format(1764000000321, buf), "2025-11-24T16:00:00.321Z");
    int64_t ms;
    const char *forms[] = {"2025-11-24T16:00:00.321Z",      "2025-11-24 16:00:00.321",
                           "2025-11-24T16:00:00.321+00:00", "2025-11-24 16:00:00.321+00",
                           "2025-11-24T18:00:00.321+02:00", "2025-11-24T16:00:00.321456Z"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        assert_int_equal(dk_time_parse(forms[i], &ms), 0);
        assert_int_equal(ms, 1764000000321);
    }
    assert_int_equal(dk_time_parse("2025-11-24 16:00:00.3", &ms), 0);
    assert_int_equal(ms, 1764000000300);
    assert_int_equal(dk_time_parse("2025-11-24", &ms), 0);
    assert_int_equal(ms, 1763942400000);
    const char *bad[] = {"",
                         "2025-13-01",
                         "2025-11-24T25:00",
                         "yesterday",
                         "2025-11-24T16:00:00Zx",
                         "2025-11-24T16:00:00."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(dk_time_parse(bad[i], &ms), DK_EINVAL);
    }
    assert_true(dk_now_ms() > 1764000000000);
}

static void test_core_hmac_matches_rfc4231(void **state)
{
    (void)state;
    char hex[DK_SHA256_HEX];
    const char *data = "what do ya want for nothing?";
    dk_hmac_sha256_hex("Jefe", 4, data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    dk_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(dk_ct_equal("abc", 3, "abc", 3));
    assert_false(dk_ct_equal("abc", 3, "abd", 3));
    assert_false(dk_ct_equal("abc", 3, "abcd", 4));
}

static void test_core_uuid_v7_is_ordered(void **state)
{
    (void)state;
    char a[37], b[37];
    dk_uuid_v7(a);
    dk_sleep_ms(2);
    dk_uuid_v7(b);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '7');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_true(strcmp(a, b) < 0);
    /* ids made in a row sort in that order, even within one millisecond */
    char prev[37], next[37];
    dk_uuid_v7(prev);
    for (int i = 0; i < 20000; i++) {
        dk_uuid_v7(next);
        assert_true(strcmp(prev, next) < 0);
        memcpy(prev, next, sizeof(prev));
    }
    char t1[48], t2[48];
    dk_token_generate(t1);
    dk_token_generate(t2);
    assert_int_equal(strlen(t1), 44);
    assert_memory_equal(t1, "dkt_", 4);
    assert_string_not_equal(t1, t2);
}

static void test_core_json_parse_is_bounded(void **state)
{
    (void)state;
    struct dk_err err = {0};
    json_t *j = dk_json_parse("{\"a\":1,\"id\":\"123\"}", 18, 8, &err);
    assert_non_null(j);
    int64_t v;
    assert_true(dk_json_int(j, "a", &v));
    assert_int_equal(v, 1);
    assert_true(dk_json_int(j, "id", &v));
    assert_int_equal(v, 123);
    assert_false(dk_json_int(j, "missing", &v));
    assert_null(dk_json_str(j, "a"));
    char *dump = dk_json_dump(j);
    assert_string_equal(dump, "{\"a\":1,\"id\":\"123\"}");
    dk_free(dump);
    json_decref(j);

    assert_null(dk_json_parse("{\"a\":1,\"a\":2}", 13, 8, &err));
    assert_int_equal(err.code, DK_EINVAL);
    assert_null(dk_json_parse("{\"a\":1} x", 9, 8, &err));
    assert_null(dk_json_parse("", 0, 8, &err));
    assert_null(dk_json_parse("[[[[[[[[[[1]]]]]]]]]]", 21, 8, &err));
    assert_non_null(strstr(err.msg, "nested deeper"));
    /* brackets inside strings do not count */
    const char *quoted = "{\"s\":\"[[[[[[[[[[[[\"}";
    j = dk_json_parse(quoted, strlen(quoted), 2, &err);
    assert_non_null(j);
    json_decref(j);
}

static void test_core_log_configure_validates(void **state)
{
    (void)state;
    assert_int_equal(dk_log_configure("debug"), 0);
    assert_true(dk_log_enabled(DK_LOG_DEBUG));
    assert_int_equal(dk_log_configure("warn,json"), 0);
    assert_false(dk_log_enabled(DK_LOG_INFO));
    assert_true(dk_log_enabled(DK_LOG_ERROR));
    assert_int_equal(dk_log_configure("loud"), DK_EINVAL);
    assert_int_equal(dk_log_configure("info,xml"), DK_EINVAL);
    assert_int_equal(dk_log_configure("info"), 0);
}

static void test_core_base64_round_trips(void **state)
{
    (void)state;
    /* RFC 4648 section 10 vectors */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char *e = dk_base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, coded[i]);
        size_t n = 99;
        char *d = dk_base64_decode(e, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        dk_free(d);
        dk_free(e);
    }
    unsigned char bin[256];
    for (int i = 0; i < 256; i++) {
        bin[i] = (unsigned char)(255 - i);
    }
    char *e = dk_base64_encode(bin, sizeof(bin));
    size_t n = 0;
    unsigned char *d = dk_base64_decode(e, &n);
    assert_int_equal(n, sizeof(bin));
    assert_memory_equal(d, bin, n);
    dk_free(d);
    dk_free(e);
    assert_null(dk_base64_decode("Zm9", &n));  /* not a multiple of 4 */
    assert_null(dk_base64_decode("Zm9*", &n)); /* not in the alphabet */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_err_maps_codes_to_status),
        cmocka_unit_test(test_core_arena_allocates_and_defers),
        cmocka_unit_test(test_core_buf_respects_maximum),
        cmocka_unit_test(test_core_time_round_trips),
        cmocka_unit_test(test_core_hmac_matches_rfc4231),
        cmocka_unit_test(test_core_uuid_v7_is_ordered),
        cmocka_unit_test(test_core_json_parse_is_bounded),
        cmocka_unit_test(test_core_log_configure_validates),
        cmocka_unit_test(test_core_base64_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
