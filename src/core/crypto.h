/*
 * core/crypto: HMAC-SHA256, SHA-256, constant-time comparison, random bytes and ids, and
 * secrets at rest (access tokens sealed with DIREKT_SECRET_KEY).
 * All functions are thread-safe (OpenSSL 3 one-shot APIs; libsodium's secretbox).
 */
#ifndef DK_CRYPTO_H
#define DK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DK_SHA256_HEX 65 /* 64 hex digits + NUL */

/* hex(HMAC-SHA256(key, data)) into out[DK_SHA256_HEX], lowercase. */
void dk_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char *out);
/* hex(SHA-256(data)) into out[DK_SHA256_HEX]. */
void dk_sha256_hex(const void *data, size_t len, char *out);
/* Constant-time equality of two byte strings; different lengths compare unequal
 * (the length itself is not secret). */
bool dk_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Cryptographically random bytes; aborts if the system cannot provide them. */
void dk_random_bytes(void *out, size_t n);
/* A new random UUID v7 (time-ordered) as 36 chars + NUL into out[37]. */
void dk_uuid_v7(char out[37]);
/* A new API token: "dkt_" + 40 url-safe random chars, into out[48]. */
void dk_token_generate(char out[48]);

/* Standard base64 (RFC 4648, padded) of data, NUL-terminated; caller frees with dk_free. */
char *dk_base64_encode(const void *data, size_t len);
/* Decodes standard padded base64 (no whitespace). Returns the bytes (caller frees with dk_free)
 * and their length in *len, or NULL when text is not valid base64. */
void *dk_base64_decode(const char *text, size_t *len);

/* Secrets at rest: XSalsa20-Poly1305 (libsodium crypto_secretbox) under a 32-byte key. */
#define DK_SECRET_KEY_LEN 32
/* Reads DIREKT_SECRET_KEY's text: 64 hex digits, or standard base64 of exactly 32 bytes.
 * DK_EINVAL otherwise (the message never repeats the text). */
int dk_secret_key_parse(const char *text, unsigned char key[DK_SECRET_KEY_LEN], struct dk_err *err);
/* Seals plain: a new base64 text of nonce || secretbox(plain), a fresh random nonce each time
 * (caller frees with dk_free; it is not secret). */
char *dk_secret_seal(const unsigned char key[DK_SECRET_KEY_LEN], const char *plain);
/* Opens what dk_secret_seal made: *plain is new (free it with dk_secret_free). DK_EINVAL when
 * sealed is not such a text; DK_EAUTH when it does not open with this key (another key, or
 * the text was changed). */
int dk_secret_open(const unsigned char key[DK_SECRET_KEY_LEN], const char *sealed, char **plain,
                   struct dk_err *err);
/* Wipes and frees a secret string (NULL is accepted). */
void dk_secret_free(char *s);

#endif
