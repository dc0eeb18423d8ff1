/*
 * core/crypto: HMAC-SHA256, SHA-256, constant-time comparison, random bytes and ids.
 * All functions are thread-safe (OpenSSL 3 one-shot APIs).
 */
#ifndef DK_CRYPTO_H
#define DK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
