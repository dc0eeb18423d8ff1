/* Unit tests of core/crypto's secrets at rest: DIREKT_SECRET_KEY parsing (hex and base64),
 * sealing and opening access tokens (round trip, fresh nonces, wrong key, tampering,
 * malformed text), from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/mem.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
/* the same 32 bytes in base64 */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define TOKEN   "IGAAQx1fZBZAZCE4c1Z0bmZA3TOKEN-for_tests.123"

static void key_from_hex(const char *hex, unsigned char key[DK_SECRET_KEY_LEN])
{
    struct dk_err err = {0};
    int rc = dk_secret_key_parse(hex, key, &err);
    if (rc != 0) {
        fail_msg("key %s: %s", hex, err.msg);
    }
}

static void test_core_secret_key_parse_hex_and_base64(void **state)
{
    (void)state;
    unsigned char a[DK_SECRET_KEY_LEN], b[DK_SECRET_KEY_LEN], c[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, a);
    for (int i = 0; i < DK_SECRET_KEY_LEN; i++) {
        assert_int_equal(a[i], i);
    }
    struct dk_err err = {0};
    assert_int_equal(dk_secret_key_parse(KEY_B64, b, &err), 0);
    assert_memory_equal(a, b, DK_SECRET_KEY_LEN);
    /* upper-case hex is the same key */
    char upper[65];
    snprintf(upper, sizeof(upper), "%s", KEY_HEX);
    for (char *p = upper; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    assert_int_equal(dk_secret_key_parse(upper, c, &err), 0);
    assert_memory_equal(a, c, DK_SECRET_KEY_LEN);
}

static void test_core_secret_key_parse_rejects_other_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "secret",
        /* 63 and 65 hex digits */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
        /* 64 characters, one not hex */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
        /* base64 of 31 and 33 bytes */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
        /* base64 with a space, unpadded */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char key[DK_SECRET_KEY_LEN];
        struct dk_err err = {0};
        if (dk_secret_key_parse(bad[i], key, &err) != DK_EINVAL) {
            fail_msg("accepted key text \"%s\"", bad[i]);
        }
        assert_string_equal(err.msg,
                            "DIREKT_SECRET_KEY must be 64 hex digits or base64 of 32 bytes");
    }
    unsigned char key[DK_SECRET_KEY_LEN];
    assert_int_equal(dk_secret_key_parse(NULL, key, NULL), DK_EINVAL);
}

static void test_core_secret_round_trip(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    static const char *const plains[] = {TOKEN, "", "x", "токен с пробелами ✓"};
    for (size_t i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        char *sealed = dk_secret_seal(key, plains[i]);
        assert_non_null(sealed);
        /* the sealed text never shows the token (short texts may occur in base64 by chance),
         * and is plain base64 */
        if (strlen(plains[i]) >= 8) {
            assert_null(strstr(sealed, plains[i]));
        }
        assert_int_equal(strspn(sealed, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789+/="),
                         strlen(sealed));
        char *plain = NULL;
        struct dk_err err = {0};
        assert_int_equal(dk_secret_open(key, sealed, &plain, &err), 0);
        assert_string_equal(plain, plains[i]);
        dk_secret_free(plain);
        dk_free(sealed);
    }
    dk_secret_free(NULL);
}

static void test_core_secret_seal_uses_fresh_nonces(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    char *a = dk_secret_seal(key, TOKEN);
    char *b = dk_secret_seal(key, TOKEN);
    assert_string_not_equal(a, b);
    /* nonce (24) + MAC (16) + the token */
    size_t len = 0;
    void *raw = dk_base64_decode(a, &len);
    assert_non_null(raw);
    assert_int_equal(len, 24 + 16 + strlen(TOKEN));
    dk_free(raw);
    dk_free(a);
    dk_free(b);
}

static void test_core_secret_wrong_key(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN], other[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    key_from_hex("ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", other);
    char *sealed = dk_secret_seal(key, TOKEN);
    char *plain = (char *)"untouched";
    struct dk_err err = {0};
    assert_int_equal(dk_secret_open(other, sealed, &plain, &err), DK_EAUTH);
    assert_null(plain);
    assert_string_equal(err.msg, "could not open the stored token: wrong DIREKT_SECRET_KEY?");
    assert_null(strstr(err.msg, TOKEN));
    dk_free(sealed);
}

static void test_core_secret_tampered(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    char *sealed = dk_secret_seal(key, TOKEN);
    size_t len = 0;
    unsigned char *raw = dk_base64_decode(sealed, &len);
    /* one flipped bit anywhere (nonce, MAC, ciphertext) and it no longer opens */
    size_t where[] = {0, 23, 24, 39, 40, len - 1};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        raw[where[i]] ^= 0x01;
        char *bad = dk_base64_encode(raw, len);
        raw[where[i]] ^= 0x01;
        char *plain = NULL;
        struct dk_err err = {0};
        if (dk_secret_open(key, bad, &plain, &err) != DK_EAUTH) {
            fail_msg("a flipped bit at byte %zu was not noticed", where[i]);
        }
        assert_null(plain);
        dk_free(bad);
    }
    /* cut short: the MAC no longer matches */
    char *cut = dk_base64_encode(raw, len - 1);
    char *plain = NULL;
    assert_int_equal(dk_secret_open(key, cut, &plain, NULL), DK_EAUTH);
    dk_free(cut);
    dk_free(raw);
    dk_free(sealed);
}

static void test_core_secret_malformed(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    /* not base64; base64 shorter than nonce + MAC (39 bytes); empty; NULL */
    unsigned char short_raw[39] = {0};
    char *too_short = dk_base64_encode(short_raw, sizeof(short_raw));
    const char *const bad[] = {"not base64!", too_short, "", NULL, TOKEN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *plain = NULL;
        struct dk_err err = {0};
        if (dk_secret_open(key, bad[i], &plain, &err) != DK_EINVAL) {
            fail_msg("opened malformed text %zu", i);
        }
        assert_null(plain);
        assert_non_null(strstr(err.msg, "could not open the stored token"));
    }
    dk_free(too_short);
}

static void *seal_open_many(void *arg)
{
    const unsigned char *key = arg;
    for (int i = 0; i < 200; i++) {
        char plain_in[32];
        snprintf(plain_in, sizeof(plain_in), "token-%d", i);
        char *sealed = dk_secret_seal(key, plain_in);
        char *plain = NULL;
        int rc = dk_secret_open(key, sealed, &plain, NULL);
        bool ok = rc == 0 && strcmp(plain, plain_in) == 0;
        dk_secret_free(plain);
        dk_free(sealed);
        if (!ok) {
            return (void *)1;
        }
    }
    return NULL;
}

static void test_core_secret_threads(void **state)
{
    (void)state;
    unsigned char key[DK_SECRET_KEY_LEN];
    key_from_hex(KEY_HEX, key);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, seal_open_many, key), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res = NULL;
        pthread_join(t[i], &res);
        assert_null(res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_secret_key_parse_hex_and_base64),
        cmocka_unit_test(test_core_secret_key_parse_rejects_other_text),
        cmocka_unit_test(test_core_secret_round_trip),
        cmocka_unit_test(test_core_secret_seal_uses_fresh_nonces),
        cmocka_unit_test(test_core_secret_wrong_key),
        cmocka_unit_test(test_core_secret_tampered),
        cmocka_unit_test(test_core_secret_malformed),
        cmocka_unit_test(test_core_secret_threads),
    };
    return cmocka_run_group_tests_name("core_secret", tests, NULL, NULL);
}
