/*
 * bench/ingest/lib/delivery: the requests that bench_loadgen sends. Each is one message
 * webhook in Meta's shape with --events-per-delivery messaging items, each with a unique mid
 * ("bench-<run>-<delivery>-<item>"), a random customer and a short text, signed with
 * X-Hub-Signature-256 over its exact bytes. The body is formatted by hand and signed from a
 * copy of a keyed HMAC context, so that a request costs the client little CPU.
 */
#include "loadgen.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdatomic.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"

/* Short direct messages as customers write them; no character needs escaping in JSON. */
static const char *const texts[] = {
    "Hi! How much is the linen dress in size S?",
    "is the black bag still available?",
    "Do you ship to Berlin?",
    "hello",
    "When will size M be back in stock?",
    "Can I pay on delivery?",
    "what are your opening hours on sunday",
    "I ordered last week and still have no tracking number",
    "Is there a discount for two items?",
    "Love it!! 😍",
    "Can I return it if it does not fit?",
    "price?",
    "Do you have this in green?",
    "thanks, got it",
    "Спасибо, получила заказ!",
    "Сколько стоит доставка?",
    "my parcel arrived damaged, what should I do?",
    "Is the sale still on?",
};

static void put(struct dk_buf *b, const char *s, size_t n)
{
    if (dk_buf_append(b, s, n) != 0) {
        lg_die("request too large");
    }
}

static void put_s(struct dk_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(struct dk_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(b, tmp + i, sizeof(tmp) - i);
}

/* The body of one delivery, in Meta's shape; formatted by hand because snprintf would cost
 * more than the rest of a request's client-side work. */
static void build_body(struct lg_worker *w, uint64_t delivery)
{
    const struct lg_opts *o = w->o;
    struct dk_buf *b = &w->body;
    uint64_t ms = (uint64_t)dk_now_ms();

    dk_buf_reset(b);
    put_s(b, "{\"object\":\"instagram\",\"entry\":[{\"id\":\"");
    put_s(b, o->account);
    put_s(b, "\",\"time\":");
    put_u64(b, ms);
    put_s(b, ",\"messaging\":[");
    for (int i = 0; i < o->k; i++) {
        uint64_t customer = lg_rand(&w->rng) % o->customers;
        const char *text = texts[lg_rand(&w->rng) % (sizeof(texts) / sizeof(texts[0]))];
        put_s(b, i > 0 ? ",{\"sender\":{\"id\":\"" : "{\"sender\":{\"id\":\"");
        put_u64(b, UINT64_C(1327813000000000) + customer * 7919);
        put_s(b, "\"},\"recipient\":{\"id\":\"");
        put_s(b, o->account);
        put_s(b, "\"},\"timestamp\":");
        put_u64(b, ms - (uint64_t)(o->k - i));
        put_s(b, ",\"message\":{\"mid\":\"bench-");
        put_s(b, o->run_id);
        put_s(b, "-");
        put_u64(b, delivery);
        put_s(b, "-");
        put_u64(b, (uint64_t)i);
        put_s(b, "\",\"text\":\"");
        put_s(b, text);
        put_s(b, "\"}}");
    }
    put_s(b, "]}]}");
}

/* hex(HMAC-SHA256(secret, body)) from a copy of the worker's keyed context, which saves the
 * key schedule on every request. */
static void sign(struct lg_worker *w, const char *data, size_t len, char out[DK_SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(w->mac);
    if (ctx == NULL || EVP_MAC_update(ctx, (const unsigned char *)data, len) != 1 ||
        EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen != 32) {
        lg_die("HMAC-SHA256 failed");
    }
    EVP_MAC_CTX_free(ctx);
    for (size_t i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
}

void lg_delivery_build(struct lg_conn *c)
{
    struct lg_worker *w = c->w;
    uint64_t delivery = atomic_fetch_add(&w->sh->next_delivery, 1);
    char sig[DK_SHA256_HEX];

    build_body(w, delivery);
    sign(w, w->body.data, w->body.len, sig);
    dk_buf_reset(&c->wbuf);
    put_s(&c->wbuf, w->o->head); /* ends with "sha256=" */
    put_s(&c->wbuf, sig);
    put_s(&c->wbuf, "\r\nContent-Length: ");
    put_u64(&c->wbuf, w->body.len);
    put_s(&c->wbuf, "\r\n\r\n");
    put(&c->wbuf, w->body.data, w->body.len);
    c->has_prev = true;
    c->prev_acked = false;
}

EVP_MAC_CTX *lg_delivery_mac_new(const char *secret)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL ||
        EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
        lg_die("could not set up HMAC-SHA256");
    }
    EVP_MAC_free(mac); /* the context keeps its own reference */
    return ctx;
}
