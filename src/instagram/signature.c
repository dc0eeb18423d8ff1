/*
 * instagram/signature: X-Hub-Signature-256 verification of webhook deliveries.
 *
 * Meta signs the exact bytes it sends with HMAC-SHA256 keyed by the app secret and sends
 * "sha256=<hex>". We check the form first (401 for a missing or malformed header), then compare
 * the normalised (lowercase) digest with ours in constant time (403 on mismatch).
 */
#include "instagram/instagram.h"

#include <stdbool.h>
#include <string.h>

#include "core/crypto.h"

#define SIG_PREFIX     "sha256="
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)
#define SIG_HEX_LEN    (DK_SHA256_HEX - 1)

/* Lowercase value of a hex digit, or 0 when c is not one. */
static char hex_lower(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
        return c;
    }
    if (c >= 'A' && c <= 'F') {
        return (char)(c - 'A' + 'a');
    }
    return 0;
}

/* Checks header ("sha256=<64 hex>") against HMAC-SHA256(app_secret, body) in constant time.
 * Returns 0; DK_EAUTH when the header is missing or not of that form; DK_EFORBIDDEN when it
 * does not match or when no app secret is configured (NULL or empty: nothing can match).
 * body may be NULL only with len 0. Any thread. */
int ig_verify_signature(const char *app_secret, const char *header, const void *body, size_t len,
                        struct dk_err *err)
{
    if (header == NULL || header[0] == '\0') {
        return dk_err_set(err, DK_EAUTH, "missing X-Hub-Signature-256 header");
    }
    if (strncmp(header, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
        return dk_err_set(err, DK_EAUTH,
                          "malformed X-Hub-Signature-256 header: it does not start with \"%s\"",
                          SIG_PREFIX);
    }
    const char *hex = header + SIG_PREFIX_LEN;
    size_t hexlen = strnlen(hex, SIG_HEX_LEN + 1);
    if (hexlen != SIG_HEX_LEN) {
        return dk_err_set(err, DK_EAUTH,
                          "malformed X-Hub-Signature-256 header: expected %d hex digits after "
                          "\"%s\"",
                          (int)SIG_HEX_LEN, SIG_PREFIX);
    }
    char given[DK_SHA256_HEX];
    for (size_t i = 0; i < SIG_HEX_LEN; i++) {
        char c = hex_lower(hex[i]);
        if (c == 0) {
            return dk_err_set(err, DK_EAUTH,
                              "malformed X-Hub-Signature-256 header: not a hex digit at "
                              "position %zu",
                              SIG_PREFIX_LEN + i + 1);
        }
        given[i] = c;
    }
    given[SIG_HEX_LEN] = '\0';

    if (app_secret == NULL || app_secret[0] == '\0') {
        return dk_err_set(err, DK_EFORBIDDEN,
                          "could not verify webhook signature: no app secret is configured");
    }
    if (body == NULL) {
        body = "";
        len = 0;
    }
    char want[DK_SHA256_HEX];
    dk_hmac_sha256_hex(app_secret, strlen(app_secret), body, len, want);
    bool ok = dk_ct_equal(given, SIG_HEX_LEN, want, SIG_HEX_LEN);
    if (!ok) {
        return dk_err_set(err, DK_EFORBIDDEN,
                          "webhook signature does not match: body not signed with our app secret");
    }
    return 0;
}
