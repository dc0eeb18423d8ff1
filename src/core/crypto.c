/* core/crypto: hashing and randomness over OpenSSL, secrets at rest over libsodium (see
 * crypto.h). */
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void dk_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen);
    to_hex(md, mdlen, out);
}

void dk_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    to_hex(md, sizeof(md), out);
}

bool dk_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        return false;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void dk_random_bytes(void *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        DK_ERROR("could not get random bytes: openssl RAND_bytes failed");
        abort();
    }
}

/* RFC 9562 method 1: within one millisecond the 12-bit rand_a field counts up, so that ids
 * made one after the other in this process sort in that order. */
static pthread_mutex_t uuid_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid_last_ms;
static unsigned uuid_seq;

void dk_uuid_v7(char out[37])
{
    unsigned char b[16];
    dk_random_bytes(b, sizeof(b));
    uint64_t ms = (uint64_t)dk_now_ms();
    pthread_mutex_lock(&uuid_mu);
    if (ms <= uuid_last_ms) {
        ms = uuid_last_ms;
        if (++uuid_seq > 0xfff) {
            ms++; /* the counter ran out: borrow the next millisecond */
            uuid_seq = 0;
        }
    } else {
        uuid_seq = ((unsigned)b[6] << 8 | b[7]) & 0x3ff; /* random start, room to count */
    }
    uuid_last_ms = ms;
    unsigned seq = uuid_seq;
    pthread_mutex_unlock(&uuid_mu);
    b[7] = (unsigned char)(seq & 0xff);
    b[6] = (unsigned char)(seq >> 8);
    for (int i = 0; i < 6; i++) {
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    }
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    char hex[33];
    to_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void dk_token_generate(char out[48])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[40];
    dk_random_bytes(r, sizeof(r));
    out[0] = 'd';
    out[1] = 'k';
    out[2] = 't';
    out[3] = '_';
    for (int i = 0; i < 40; i++) {
        out[4 + i] = alphabet[r[i] & 63];
    }
    out[44] = '\0';
}

char *dk_base64_encode(const void *data, size_t len)
{
    DK_ASSERT(len < ((size_t)1 << 30));
    char *out = dk_malloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    out[n] = '\0';
    return out;
}

void *dk_base64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    if (n % 4 != 0 || n >= ((size_t)1 << 30)) {
        return NULL;
    }
    unsigned char *out = dk_malloc(n / 4 * 3 + 1);
    int m = n > 0 ? EVP_DecodeBlock(out, (const unsigned char *)text, (int)n) : 0;
    if (m < 0) {
        dk_free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    size_t pad = n >= 2 && text[n - 1] == '=' ? (text[n - 2] == '=' ? 2 : 1) : 0;
    *len = (size_t)m - pad;
    return out;
}

int dk_secret_key_parse(const char *text, unsigned char key[DK_SECRET_KEY_LEN], struct dk_err *err)
{
    size_t n = text != NULL ? strlen(text) : 0;
    if (n == 2 * DK_SECRET_KEY_LEN) {
        size_t bin_len = 0;
        const char *end = NULL;
        if (sodium_hex2bin(key, DK_SECRET_KEY_LEN, text, n, NULL, &bin_len, &end) != 0 ||
            bin_len != DK_SECRET_KEY_LEN || end != text + n) {
            sodium_memzero(key, DK_SECRET_KEY_LEN);
            return dk_err_set(err, DK_EINVAL,
                              "DIREKT_SECRET_KEY must be 64 hex digits or base64 of 32 bytes");
        }
        return 0;
    }
    size_t len = 0;
    unsigned char *raw = n > 0 && n <= 64 ? dk_base64_decode(text, &len) : NULL;
    bool ok = raw != NULL && len == DK_SECRET_KEY_LEN;
    if (ok) {
        memcpy(key, raw, DK_SECRET_KEY_LEN);
    }
    if (raw != NULL) {
        sodium_memzero(raw, len);
        dk_free(raw);
    }
    if (!ok) {
        return dk_err_set(err, DK_EINVAL,
                          "DIREKT_SECRET_KEY must be 64 hex digits or base64 of 32 bytes");
    }
    return 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
    if (sodium_init() < 0) {
        DK_ERROR("could not initialise libsodium: sodium_init failed");
        abort();
    }
}

char *dk_secret_seal(const unsigned char key[DK_SECRET_KEY_LEN], const char *plain)
{
    pthread_once(&sodium_once, sodium_start);
    size_t n = strlen(plain);
    DK_ASSERT(n < ((size_t)1 << 24));
    size_t total = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    unsigned char *box = dk_malloc(total);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, n, box,
                          key);
    char *out = dk_base64_encode(box, total);
    dk_free(box);
    return out;
}

int dk_secret_open(const unsigned char key[DK_SECRET_KEY_LEN], const char *sealed, char **plain,
                   struct dk_err *err)
{
    pthread_once(&sodium_once, sodium_start);
    *plain = NULL;
    size_t len = 0;
    unsigned char *box = sealed != NULL ? dk_base64_decode(sealed, &len) : NULL;
    if (box == NULL || len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        dk_free(box);
        return dk_err_set(err, DK_EINVAL,
                          "could not open the stored token: it is not a sealed "
                          "token (base64 of nonce and ciphertext)");
    }
    size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *out = dk_malloc(n + 1);
    int rc = crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                        len - crypto_secretbox_NONCEBYTES, box, key);
    dk_free(box);
    if (rc != 0) {
        sodium_memzero(out, n + 1);
        dk_free(out);
        return dk_err_set(err, DK_EAUTH,
                          "could not open the stored token: wrong DIREKT_SECRET_KEY?");
    }
    out[n] = '\0';
    if (memchr(out, '\0', n) != NULL) { /* sealed by us from a C string: never holds a NUL */
        sodium_memzero(out, n);
        dk_free(out);
        return dk_err_set(err, DK_EINVAL, "could not open the stored token: it holds a NUL byte");
    }
    *plain = out;
    return 0;
}

void dk_secret_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        dk_free(s);
    }
}
