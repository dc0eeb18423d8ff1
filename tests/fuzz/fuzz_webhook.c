/*
 * Fuzz target for the Instagram webhook: ig_delivery_parse on arbitrary bytes, then a walk over
 * every event that touches each string and checks the parser's promises (every event has an
 * object as metadata and its raw JSON, unknown counts IG_EV_UNKNOWN); and ig_verify_signature
 * with the input as header and as body (a correct signature over any body must verify).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "instagram/instagram.h"

#define FUZZ_SECRET "fuzz-app-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_webhook: broken promise: %s\n", what);
        abort();
    }
}

/* Reads every byte of s so that ASan sees a dangling or unterminated string. */
static size_t touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static void walk(const struct ig_delivery *d)
{
    size_t unknown = 0;
    size_t sum = 0;
    for (size_t i = 0; i < d->count; i++) {
        const struct ig_event *ev = &d->events[i];
        check(ev->kind >= IG_EV_MESSAGE && ev->kind <= IG_EV_UNKNOWN, "kind in range");
        check(strcmp(ig_event_kind_name(ev->kind), "invalid") != 0, "kind has a name");
        check(json_is_object(ev->metadata), "metadata is an object");
        check(ev->raw != NULL, "raw is kept");
        if (ev->kind == IG_EV_UNKNOWN) {
            unknown++;
        } else {
            check(ev->account_id != NULL, "known events have an account");
        }
        if (ev->kind == IG_EV_MESSAGE || ev->kind == IG_EV_ECHO) {
            check(ev->customer_id != NULL && ev->mid != NULL && ev->message_type != NULL,
                  "messages have a customer, a mid and a type");
        }
        sum += touch(ev->account_id) + touch(ev->customer_id) + touch(ev->mid) + touch(ev->text);
        sum += touch(ev->message_type) + touch(ev->reply_to_mid) + touch(ev->payload);
        sum += touch(ev->reaction_action) + touch(ev->reaction) + touch(ev->emoji);
        sum += touch(ev->field);
        char *meta = dk_json_dump(ev->metadata);
        char *raw = dk_json_dump(ev->raw);
        sum += strlen(meta) + strlen(raw);
        dk_free(meta);
        dk_free(raw);
    }
    check(unknown == d->unknown, "unknown counts IG_EV_UNKNOWN events");
    (void)sum;
}

static void signatures(const uint8_t *data, size_t size)
{
    /* the input as a header: anything goes, nothing may crash */
    char *header = dk_strndup((const char *)data, size < 128 ? size : 128);
    int rc = ig_verify_signature(FUZZ_SECRET, header, data, size, NULL);
    check(rc == DK_EAUTH || rc == DK_EFORBIDDEN || rc == 0, "signature codes");
    dk_free(header);

    /* the input as a body: its own signature verifies, in either case of hex */
    char hex[DK_SHA256_HEX];
    dk_hmac_sha256_hex(FUZZ_SECRET, strlen(FUZZ_SECRET), data, size, hex);
    char good[7 + DK_SHA256_HEX] = "sha256=";
    memcpy(good + 7, hex, DK_SHA256_HEX);
    check(ig_verify_signature(FUZZ_SECRET, good, data, size, NULL) == 0, "valid signature");
    for (size_t i = 7; good[i] != '\0'; i++) {
        if (good[i] >= 'a' && good[i] <= 'f') {
            good[i] = (char)(good[i] - 'a' + 'A');
        }
    }
    check(ig_verify_signature(FUZZ_SECRET, good, data, size, NULL) == 0, "uppercase signature");
    check(ig_verify_signature("", good, data, size, NULL) == DK_EFORBIDDEN, "empty secret");
    if (size > 0) {
        check(ig_verify_signature(FUZZ_SECRET, good, data, size - 1, NULL) == DK_EFORBIDDEN,
              "truncated body");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ig_delivery *d = NULL;
    struct dk_err err;
    int rc = ig_delivery_parse((const char *)data, size, &d, &err);
    if (rc == 0) {
        check(d != NULL, "success hands out a delivery");
        walk(d);
        ig_delivery_free(d);
    } else {
        check(d == NULL, "failure hands out nothing");
        check(rc == DK_EINVAL || rc == DK_ETOOBIG, "parse codes");
        check(err.code == rc && err.msg[0] != '\0', "err is filled");
    }
    signatures(data, size);
    return 0;
}
