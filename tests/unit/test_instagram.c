/*
 * Unit tests for instagram: webhook signature and delivery parsing.
 *
 * Fixtures are read from $DIREKT_FIXTURES/instagram (Meta's payload shapes); small inline bodies
 * cover the edges (wrong types, bounds, timestamps) that Meta's examples do not.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "instagram/instagram.h"

#define ACCOUNT "17841405822304914"
#define ALICE   "1327813061483247"
#define MARIA   "5981206525237013"

/* ---- helpers ---- */

/* The contents of $DIREKT_FIXTURES/instagram/<name>; caller frees with dk_free. */
static char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("DIREKT_FIXTURES");
    if (dir == NULL) {
        fail_msg("DIREKT_FIXTURES is not set");
    }
    char *path = dk_asprintf("%s/instagram/%s", dir, name);
    FILE *f = fopen(path, "rb");
    dk_free(path);
    if (f == NULL) {
        fail_msg("could not open fixture %s/instagram/%s", dir, name);
    }
    size_t cap = 4096;
    size_t n = 0;
    char *buf = dk_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = dk_realloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Parses len bytes that must parse (what names the body in the failure message). */
static struct ig_delivery *parse_len(const char *body, size_t len, const char *what)
{
    struct ig_delivery *d = NULL;
    struct dk_err err = {0};
    int rc = ig_delivery_parse(body, len, &d, &err);
    if (rc != 0) {
        fail_msg("%s: parse failed (%d): %s", what, rc, err.msg);
    }
    assert_non_null(d);
    return d;
}

static struct ig_delivery *parse_ok(const char *body)
{
    return parse_len(body, strlen(body), body);
}

static struct ig_delivery *parse_fixture(const char *name)
{
    size_t len;
    char *body = read_fixture(name, &len);
    struct ig_delivery *d = parse_len(body, len, name);
    dk_free(body);
    return d;
}

/* Parses body expecting failure; returns the code and checks that nothing was handed out. */
static int parse_fails(const char *body, size_t len)
{
    struct ig_delivery *d = (struct ig_delivery *)&d; /* must be reset to NULL */
    struct dk_err err = {0};
    int rc = ig_delivery_parse(body, len, &d, &err);
    assert_null(d);
    assert_int_equal(err.code, rc);
    assert_true(err.msg[0] != '\0');
    return rc;
}

/* Checks a string that must be present (got may be NULL: then the test fails, not crashes). */
static void expect_str(const char *got, const char *want)
{
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* Follows a dotted path ("reply_to.story.id", "attachments.0.type") through objects and arrays. */
static json_t *jpath(json_t *j, const char *path)
{
    const char *p = path;
    while (j != NULL && *p != '\0') {
        size_t n = strcspn(p, ".");
        char *part = dk_strndup(p, n);
        if (json_is_array(j)) {
            j = json_array_get(j, strtoul(part, NULL, 10));
        } else {
            j = json_object_get(j, part);
        }
        dk_free(part);
        p += n;
        if (*p == '.') {
            p++;
        }
    }
    return j;
}

static void expect_meta_str(const struct ig_event *ev, const char *path, const char *want)
{
    expect_str(json_string_value(jpath(ev->metadata, path)), want);
}

/* ---- fixtures ---- */

#define MID_TEXT "aWdfZAG1faXRlbTpJR01lc3NhZA2VJRDoxNzg0MTQwNTgyMjMwNDkxNDozNDA1Nzg3MTc6MQZDZD"
#define MID_BOT  "aWdfZAG1faXRlbTpCb3RSZXBseTEZDZD"

/* "Здравствуйте! А доставка в Казань есть? 🙏😊" in UTF-8, byte for byte */
#define TEXT_RU_EMOJI                                                                              \
    "\xd0\x97\xd0\xb4\xd1\x80\xd0\xb0\xd0\xb2\xd1\x81\xd1\x82\xd0\xb2\xd1\x83\xd0\xb9\xd1\x82"     \
    "\xd0\xb5! \xd0\x90 \xd0\xb4\xd0\xbe\xd1\x81\xd1\x82\xd0\xb0\xd0\xb2\xd0\xba\xd0\xb0 \xd0\xb2" \
    " \xd0\x9a\xd0\xb0\xd0\xb7\xd0\xb0\xd0\xbd\xd1\x8c \xd0\xb5\xd1\x81\xd1\x82\xd1\x8c? "         \
    "\xf0\x9f\x99\x8f\xf0\x9f\x98\x8a"
/* "Спасибо, получила заказ!" */
#define TEXT_RU_THANKS                                                                             \
    "\xd0\xa1\xd0\xbf\xd0\xb0\xd1\x81\xd0\xb8\xd0\xb1\xd0\xbe, \xd0\xbf\xd0\xbe\xd0\xbb\xd1\x83"   \
    "\xd1\x87\xd0\xb8\xd0\xbb\xd0\xb0 \xd0\xb7\xd0\xb0\xd0\xba\xd0\xb0\xd0\xb7!"

/* What each event of a webhook fixture must look like, field by field (NULL: absent). */
static const struct fixture_case {
    const char *file;
    enum ig_event_kind kind;
    const char *customer;
    int64_t ts;
    const char *mid;
    const char *text;
    const char *type;
    const char *reply_to_mid;
    const char *payload;
    const char *action; /* reaction_action, or field for IG_EV_UNKNOWN */
} FIXTURES[] = {
    {"message_text.json", IG_EV_MESSAGE, ALICE, 1764000000321, MID_TEXT,
     "Hi! How much is the linen dress in size S?", "text", NULL, NULL, NULL},
    {"message_text_ru_emoji.json", IG_EV_MESSAGE, MARIA, 1764000001321,
     "aWdfZAG1faXRlbTpJR01lc3NhZA2VJRDoxNzg0MTQwNTgyMjMwNDkxNDozNDA1Nzg3MTc6MgZDZD", TEXT_RU_EMOJI,
     "text", NULL, NULL, NULL},
    {"message_batched.json", IG_EV_MESSAGE, ALICE, 1764000002100, "aWdfZAG1faXRlbTpCYXRjaGVkMQZDZD",
     "hello", "text", NULL, NULL, NULL},
    {"message_batched.json", IG_EV_MESSAGE, ALICE, 1764000002200, "aWdfZAG1faXRlbTpCYXRjaGVkMgZDZD",
     "is the black bag still available?", "text", NULL, NULL, NULL},
    {"message_batched.json", IG_EV_MESSAGE, MARIA, 1764000002300, "aWdfZAG1faXRlbTpCYXRjaGVkMwZDZD",
     TEXT_RU_THANKS, "text", NULL, NULL, NULL},
    {"message_image.json", IG_EV_MESSAGE, ALICE, 1764000003321, "aWdfZAG1faXRlbTpJbWFnZQZDZD", NULL,
     "image", NULL, NULL, NULL},
    {"message_share_reel.json", IG_EV_MESSAGE, ALICE, 1764000004321, "aWdfZAG1faXRlbTpSZWVsZAZDZD",
     NULL, "ig_reel", NULL, NULL, NULL},
    {"message_story_mention.json", IG_EV_MESSAGE, MARIA, 1764000005321,
     "aWdfZAG1faXRlbTpTdG9yeU1lbnRpb24ZDZD", NULL, "story_mention", NULL, NULL, NULL},
    {"message_story_reply.json", IG_EV_MESSAGE, ALICE, 1764000006321,
     "aWdfZAG1faXRlbTpTdG9yeVJlcGx5ZDZD", "Love this! Is it in stock?", "story_reply", NULL, NULL,
     NULL},
    {"message_reply_to_message.json", IG_EV_MESSAGE, ALICE, 1764000007321,
     "aWdfZAG1faXRlbTpSZXBseVRvTWVzc2FnZQZDZD", "yes, size S please", "text", MID_BOT, NULL, NULL},
    {"message_quick_reply.json", IG_EV_MESSAGE, ALICE, 1764000008321,
     "aWdfZAG1faXRlbTpRdWlja1JlcGx5ZDZD", "Delivery times", "text", NULL, "INTENT_DELIVERY", NULL},
    /* an echo's customer is the recipient, not the sender (our account) */
    {"message_echo.json", IG_EV_ECHO, ALICE, 1764000009321, "aWdfZAG1faXRlbTpFY2hvRnJvbUFwcAZDZD",
     "Hi, this is Anna from the shop, I'll check the size for you", "text", NULL, NULL, NULL},
    {"message_deleted.json", IG_EV_DELETE, ALICE, 1764000010321, "aWdfZAG1faXRlbTpCYXRjaGVkMgZDZD",
     NULL, NULL, NULL, NULL, NULL},
    {"message_unsupported.json", IG_EV_MESSAGE, ALICE, 1764000011321,
     "aWdfZAG1faXRlbTpVbnN1cHBvcnRlZAZDZD", NULL, "unsupported", NULL, NULL, NULL},
    {"message_edit.json", IG_EV_EDIT, ALICE, 1764000012321, MID_TEXT,
     "Hi! How much is the linen dress in size M?", NULL, NULL, NULL, NULL},
    {"reaction.json", IG_EV_REACTION, ALICE, 1764000013321, MID_BOT, NULL, NULL, NULL, NULL,
     "react"},
    {"unreaction.json", IG_EV_REACTION, ALICE, 1764000014321, MID_BOT, NULL, NULL, NULL, NULL,
     "unreact"},
    {"read.json", IG_EV_READ, ALICE, 1764000015321, MID_BOT, NULL, NULL, NULL, NULL, NULL},
    {"postback.json", IG_EV_POSTBACK, ALICE, 1764000016321, "aWdfZAG1faXRlbTpQb3N0YmFjawZDZD",
     "Track my order", "postback", NULL, "INTENT_ORDER_STATUS", NULL},
    {"referral_igme.json", IG_EV_REFERRAL, MARIA, 1764000017321, NULL, NULL, NULL, NULL, NULL,
     NULL},
    {"referral_ad.json", IG_EV_MESSAGE, MARIA, 1764000018321, "aWdfZAG1faXRlbTpBZFJlZmVycmFsZDZD",
     "Hello, I saw your ad", "text", NULL, NULL, NULL},
    /* changes[] carry no timestamp of their own: entry.time */
    {"comment.json", IG_EV_COMMENT, MARIA, 1764000019500, "17865799348089039", "PRICE", NULL, NULL,
     NULL, NULL},
    {"comment_reply_thread.json", IG_EV_COMMENT, ALICE, 1764000020500, "17865799348089040",
     "@maria.k same question, how much?", NULL, NULL, NULL, NULL},
    {"mention.json", IG_EV_MENTION, NULL, 1764000021500, "17894227972186120", NULL, NULL, NULL,
     NULL, NULL},
    {"unknown_field.json", IG_EV_UNKNOWN, ALICE, 1764000022321, NULL, NULL, NULL, NULL, NULL,
     "messaging_handover"},
};

/* Every webhook fixture yields exactly the events of FIXTURES, in order, field by field. */
static void test_instagram_fixture_events(void **state)
{
    (void)state;
    size_t n = sizeof(FIXTURES) / sizeof(FIXTURES[0]);
    for (size_t i = 0; i < n;) {
        const char *file = FIXTURES[i].file;
        struct ig_delivery *d = parse_fixture(file);
        size_t unknown = 0;
        size_t j = 0;
        for (; i < n && strcmp(FIXTURES[i].file, file) == 0; i++, j++) {
            const struct fixture_case *c = &FIXTURES[i];
            assert_true(j < d->count);
            const struct ig_event *ev = &d->events[j];
            assert_int_equal(ev->kind, c->kind);
            expect_str(ev->account_id, ACCOUNT);
            expect_str(ev->customer_id, c->customer);
            assert_int_equal(ev->timestamp_ms, c->ts);
            expect_str(ev->mid, c->mid);
            expect_str(ev->text, c->text);
            expect_str(ev->message_type, c->type);
            expect_str(ev->reply_to_mid, c->reply_to_mid);
            expect_str(ev->payload, c->payload);
            expect_str(c->kind == IG_EV_UNKNOWN ? ev->field : ev->reaction_action, c->action);
            assert_true(json_is_object(ev->metadata));
            assert_non_null(ev->raw);
            unknown += c->kind == IG_EV_UNKNOWN;
        }
        assert_int_equal(d->count, j);
        assert_int_equal(d->unknown, unknown);
        ig_delivery_free(d);
    }
}

/* Every other file of the folder is a Graph API reply, which is not a delivery; a new webhook
 * fixture must get its expectations in FIXTURES. */
static void test_instagram_fixture_folder(void **state)
{
    (void)state;
    char *path = dk_asprintf("%s/instagram", getenv("DIREKT_FIXTURES"));
    DIR *dir = opendir(path);
    dk_free(path);
    assert_non_null(dir);
    struct dirent *e;
    char *name = NULL;
    size_t replies = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        bool known = n < 5 || strcmp(e->d_name + n - 5, ".json") != 0;
        for (size_t i = 0; i < sizeof(FIXTURES) / sizeof(FIXTURES[0]) && !known; i++) {
            known = strcmp(e->d_name, FIXTURES[i].file) == 0;
        }
        if (known) {
            continue;
        }
        name = dk_strdup(e->d_name);
        if (strncmp(name, "error_", 6) != 0 && strcmp(name, "profile.json") != 0 &&
            strcmp(name, "send_response.json") != 0) {
            break;
        }
        size_t len;
        char *body = read_fixture(name, &len);
        assert_int_equal(parse_fails(body, len), DK_EINVAL);
        dk_free(body);
        dk_free(name);
        name = NULL;
        replies++;
    }
    closedir(dir);
    if (name != NULL) {
        fail_msg("fixture %s has no expectations in FIXTURES", name);
    }
    assert_int_equal(replies, 8);
}

static void test_instagram_fixture_raw_and_bytes(void **state)
{
    (void)state;
    struct ig_delivery *d = parse_fixture("message_text_ru_emoji.json");
    assert_int_equal(strlen(d->events[0].text), sizeof(TEXT_RU_EMOJI) - 1);
    assert_memory_equal(d->events[0].text, TEXT_RU_EMOJI, sizeof(TEXT_RU_EMOJI));
    assert_ptr_equal(d->events[0].raw, jpath(d->root, "entry.0.messaging.0"));
    assert_int_equal(json_object_size(d->events[0].metadata), 0);
    ig_delivery_free(d);

    d = parse_fixture("message_batched.json");
    assert_ptr_equal(d->events[2].raw, jpath(d->root, "entry.1.messaging.0"));
    ig_delivery_free(d);

    d = parse_fixture("comment.json");
    assert_ptr_equal(d->events[0].raw, jpath(d->root, "entry.0.changes.0"));
    ig_delivery_free(d);

    d = parse_fixture("reaction.json");
    expect_str(d->events[0].reaction, "love");
    expect_str(d->events[0].emoji, "\xe2\x9d\xa4\xef\xb8\x8f"); /* ❤️ */
    ig_delivery_free(d);

    d = parse_fixture("unreaction.json");
    assert_null(d->events[0].reaction);
    assert_null(d->events[0].emoji);
    ig_delivery_free(d);

    d = parse_fixture("unknown_field.json");
    expect_str(json_string_value(
                   jpath(d->events[0].raw, "messaging_handover.pass_thread_control.metadata")),
               "handover to inbox");
    ig_delivery_free(d);
}

/* The first event's metadata, by path: the string itself, other values as compact JSON, NULL
 * for a path that must be absent. */
static const struct {
    const char *file;
    const char *path;
    const char *want;
} METADATA[] = {
    {"message_text.json", "", "{}"},
    {"message_image.json", "attachments",
     "[{\"type\":\"image\",\"payload\":{\"url\":\"https://lookaside.fbsbx.com/ig_messaging_cdn/"
     "?asset_id=17958441562633912&signature=AbzOa9example\"}}]"},
    {"message_share_reel.json", "attachments.0.payload.title", "Autumn collection"},
    {"message_share_reel.json", "attachments.0.payload.reel_video_id", "18047316439548001"},
    {"message_story_mention.json", "attachments.0.type", "story_mention"},
    {"message_story_reply.json", "reply_to.story.id", "17901234567890123"},
    {"message_story_reply.json", "reply_to.story.url",
     "https://lookaside.fbsbx.com/ig_messaging_cdn/"
     "?asset_id=17901234567890123&signature=AbzOa9example4"},
    {"message_reply_to_message.json", "reply_to", "{\"mid\":\"" MID_BOT "\"}"},
    {"message_quick_reply.json", "quick_reply", "{\"payload\":\"INTENT_DELIVERY\"}"},
    {"message_unsupported.json", "is_unsupported", "true"},
    {"referral_ad.json", "referral.ad_id", "120208765432100123"},
    {"referral_ad.json", "referral.source", "ADS"},
    {"referral_ad.json", "referral.ads_context_data.ad_title", "Autumn sale -30%"},
    {"message_edit.json", "num_edit", "1"},
    {"referral_igme.json", "referral",
     "{\"ref\":\"autumn_sale\",\"source\":\"IGME_LINK\",\"type\":\"OPEN_THREAD\"}"},
    {"comment.json", "from", "{\"id\":\"" MARIA "\",\"username\":\"maria.k\"}"},
    {"comment.json", "media.id", "17999887766554433"},
    {"comment.json", "parent_id", NULL},
    {"comment_reply_thread.json", "parent_id", "17865799348089039"},
    {"comment_reply_thread.json", "media.media_product_type", "REELS"},
    {"mention.json", "",
     "{\"media_id\":\"17887498072083520\",\"comment_id\":\"17894227972186120\"}"},
    {"unknown_field.json", "", "{}"},
};

static void test_instagram_fixture_metadata(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(METADATA) / sizeof(METADATA[0]); i++) {
        struct ig_delivery *d = parse_fixture(METADATA[i].file);
        json_t *v = jpath(d->events[0].metadata, METADATA[i].path);
        char *got = NULL;
        if (json_is_string(v)) {
            got = dk_strdup(json_string_value(v));
        } else if (v != NULL) {
            got = dk_json_dump(v);
        }
        expect_str(got, METADATA[i].want);
        dk_free(got);
        ig_delivery_free(d);
    }
    /* metadata is a copy, not a second reference into the raw tree */
    struct ig_delivery *d = parse_fixture("message_image.json");
    assert_ptr_not_equal(json_object_get(d->events[0].metadata, "attachments"),
                         jpath(d->events[0].raw, "message.attachments"));
    ig_delivery_free(d);
}

/* ---- signature ---- */

/* GitHub's published HMAC-SHA256 example, checked against openssl dgst -hmac. */
#define SIG_SECRET "It's a Secret to Everybody"
#define SIG_BODY   "Hello, World!"
#define SIG_HEX    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static int verify(const char *secret, const char *header, const char *body)
{
    struct dk_err err = {0};
    int rc = ig_verify_signature(secret, header, body, strlen(body), &err);
    if (rc != 0) {
        assert_int_equal(err.code, rc);
        assert_true(err.msg[0] != '\0');
    }
    return rc;
}

static void test_instagram_signature_valid(void **state)
{
    (void)state;
    assert_int_equal(verify(SIG_SECRET, "sha256=" SIG_HEX, SIG_BODY), 0);
    assert_int_equal(
        verify(SIG_SECRET,
               "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", SIG_BODY),
        0);
    /* a fixture, signed over its exact bytes (the escaped unicode as Meta sends it) */
    size_t len;
    char *body = read_fixture("message_text_ru_emoji.json", &len);
    char hex[DK_SHA256_HEX];
    dk_hmac_sha256_hex("app-secret", 10, body, len, hex);
    char *header = dk_asprintf("sha256=%s", hex);
    assert_int_equal(ig_verify_signature("app-secret", header, body, len, NULL), 0);
    body[len / 2] ^= 1;
    assert_int_equal(ig_verify_signature("app-secret", header, body, len, NULL), DK_EFORBIDDEN);
    assert_int_equal(ig_verify_signature("app-secret", header, body, len - 1, NULL), DK_EFORBIDDEN);
    dk_free(header);
    dk_free(body);
}

static void test_instagram_signature_wrong(void **state)
{
    (void)state;
    struct dk_err err = {0};
    const char *wrong = "sha256=657107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_int_equal(ig_verify_signature(SIG_SECRET, wrong, SIG_BODY, 13, &err), DK_EFORBIDDEN);
    assert_int_equal(err.status, 403);
    /* every digit counts, the last one too */
    wrong = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18";
    assert_int_equal(verify(SIG_SECRET, wrong, SIG_BODY), DK_EFORBIDDEN);
    assert_int_equal(verify("another secret", "sha256=" SIG_HEX, SIG_BODY), DK_EFORBIDDEN);
    assert_int_equal(verify(SIG_SECRET, "sha256=" SIG_HEX, "Hello, World?"), DK_EFORBIDDEN);
}

static void test_instagram_signature_missing_or_malformed(void **state)
{
    (void)state;
    struct dk_err err = {0};
    assert_int_equal(ig_verify_signature(SIG_SECRET, NULL, SIG_BODY, 13, &err), DK_EAUTH);
    assert_int_equal(err.status, 401);
    static const char *const bad[] = {
        "",
        "sha256=",
        SIG_HEX,
        "sha1=" SIG_HEX,
        "SHA256=" SIG_HEX,
        " sha256=" SIG_HEX,
        "sha256 =" SIG_HEX,
        "sha256=" SIG_HEX " ",
        "sha256=" SIG_HEX "0",                                                    /* 65 digits */
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", /* 63 */
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(SIG_SECRET, bad[i], SIG_BODY), DK_EAUTH);
    }
}

static void test_instagram_signature_empty_secret(void **state)
{
    (void)state;
    char hex[DK_SHA256_HEX];
    dk_hmac_sha256_hex("", 0, SIG_BODY, 13, hex);
    char *header = dk_asprintf("sha256=%s", hex);
    assert_int_equal(verify("", header, SIG_BODY), DK_EFORBIDDEN);
    assert_int_equal(verify(NULL, header, SIG_BODY), DK_EFORBIDDEN);
    dk_free(header);
}

/* ---- malformed bodies and bounds ---- */

static void test_instagram_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"{",
                                      "{\"entry\": [}",
                                      "{\"entry\": []} trailing",
                                      "[{\"entry\": []}]",
                                      "\"entry\"",
                                      "42",
                                      "null",
                                      "{\"object\": \"instagram\"}",
                                      "{\"object\": \"instagram\", \"entry\": {}}",
                                      "{\"object\": \"instagram\", \"entry\": null}",
                                      "{\"entry\": [], \"entry\": []}",
                                      "{\"entry\": [{\"id\": \"1\", \"id\": \"2\"}]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_fails(bad[i], strlen(bad[i])), DK_EINVAL);
    }
    assert_int_equal(parse_fails("", 0), DK_EINVAL);
    assert_int_equal(parse_fails(NULL, 0), DK_EINVAL);

    struct dk_err err = {0};
    struct ig_delivery *d = NULL;
    const char *body = "{\"object\": \"instagram\"}";
    assert_int_equal(ig_delivery_parse(body, strlen(body), &d, &err), DK_EINVAL);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "entry"));
}

static void test_instagram_parse_too_deep(void **state)
{
    (void)state;
    char *deep = dk_asprintf("{\"entry\":[{\"id\":\"1\",\"messaging\":[{\"x\":%s1%s}]}]}",
                             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    assert_int_equal(parse_fails(deep, strlen(deep)), DK_EINVAL);
    dk_free(deep);
    /* but the nesting Meta uses is fine */
    struct ig_delivery *d =
        parse_ok("{\"entry\":[{\"id\":\"1\",\"messaging\":[{\"x\":[[[[1]]]]}]}]}");
    assert_int_equal(d->count, 1);
    ig_delivery_free(d);
}

/* head + n copies of item joined by "," + tail; caller frees with dk_free. */
static char *repeat_body(const char *head, const char *item, size_t n, const char *tail)
{
    struct dk_buf b;
    dk_buf_init(&b, 64u << 20);
    assert_int_equal(dk_buf_puts(&b, head), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(dk_buf_puts(&b, i == 0 ? "" : ","), 0);
        assert_int_equal(dk_buf_puts(&b, item), 0);
    }
    assert_int_equal(dk_buf_puts(&b, tail), 0);
    return dk_buf_take(&b, NULL);
}

/* Parses head + n items + tail; returns the code and, on success, the event counts. */
static int parse_repeat(const char *head, const char *item, size_t n, const char *tail,
                        size_t *count, size_t *unknown)
{
    char *body = repeat_body(head, item, n, tail);
    struct ig_delivery *d = NULL;
    int rc = ig_delivery_parse(body, strlen(body), &d, NULL);
    dk_free(body);
    if (rc == 0) {
        *count = d->count;
        *unknown = d->unknown;
        ig_delivery_free(d);
    } else {
        assert_null(d);
    }
    return rc;
}

static void test_instagram_parse_bounds(void **state)
{
    (void)state;
    const char *msg = "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"m\",\"text\":\"t\"}}";
    const char *one = "{\"entry\":[{\"id\":\"1\",\"messaging\":[";
    size_t count = 0;
    size_t unknown = 0;
    assert_int_equal(parse_repeat("{\"entry\":[", "{}", 1001, "]}", &count, &unknown), DK_ETOOBIG);
    /* an entry with nothing in it is still reported */
    assert_int_equal(parse_repeat("{\"entry\":[", "{}", 1000, "]}", &count, &unknown), 0);
    assert_int_equal(count, 1000);
    assert_int_equal(unknown, 1000);
    assert_int_equal(parse_repeat(one, msg, 1001, "]}]}", &count, &unknown), DK_ETOOBIG);
    assert_int_equal(parse_repeat(one, msg, 1000, "]}]}", &count, &unknown), 0);
    assert_int_equal(count, 1000);
    assert_int_equal(unknown, 0);

    /* messaging and changes of one entry count together */
    char *head = repeat_body(one, msg, 600, "],\"changes\":[");
    assert_int_equal(parse_repeat(head, "{}", 400, "]}]}", &count, &unknown), 0);
    assert_int_equal(count, 1000);
    assert_int_equal(unknown, 400);
    assert_int_equal(parse_repeat(head, "{}", 401, "]}]}", &count, &unknown), DK_ETOOBIG);
    dk_free(head);

    assert_int_equal(
        parse_repeat("{\"object\":\"instagram\",\"entry\":[", "", 0, "]}", &count, &unknown), 0);
    assert_int_equal(count, 0);
    ig_delivery_free(NULL);
}

/* ---- timestamps and ids ---- */

static int64_t first_time(const char *entry_time, const char *item_time)
{
    char *body = dk_asprintf("{\"entry\":[{\"id\":\"1\"%s%s,\"messaging\":[{\"sender\":{\"id\":"
                             "\"2\"}%s%s,\"message\":{\"mid\":\"m\",\"text\":\"t\"}}]}]}",
                             entry_time ? ",\"time\":" : "", entry_time ? entry_time : "",
                             item_time ? ",\"timestamp\":" : "", item_time ? item_time : "");
    struct ig_delivery *d = parse_ok(body);
    dk_free(body);
    assert_int_equal(d->count, 1);
    assert_int_equal(d->events[0].kind, IG_EV_MESSAGE);
    int64_t t = d->events[0].timestamp_ms;
    ig_delivery_free(d);
    return t;
}

static void test_instagram_timestamps(void **state)
{
    (void)state;
    assert_int_equal(first_time("1764000000500", "1764000000321"), 1764000000321LL);
    assert_int_equal(first_time("1764000000500", NULL), 1764000000500LL);
    assert_int_equal(first_time("1764000000", NULL), 1764000000000LL); /* seconds */
    assert_int_equal(first_time(NULL, "1764000000"), 1764000000000LL); /* seconds */
    assert_int_equal(first_time("1764000000", "1764000001"), 1764000001000LL);
    assert_int_equal(first_time(NULL, "\"1764000000321\""), 1764000000321LL);
    assert_int_equal(first_time(NULL, "1764000000.5"), 1764000000000LL);
    assert_int_equal(first_time("1764000000500", "true"), 1764000000500LL); /* bad: entry's */
    assert_int_equal(first_time("1764000000500", "-5"), 1764000000500LL);
    assert_int_equal(first_time("1764000000500", "1e300"), 1764000000500LL);
    assert_int_equal(first_time("1764000000500", "\"12x\""), 1764000000500LL);
    assert_int_equal(first_time("1764000000500", "\"99999999999999999999\""), 1764000000500LL);
    assert_int_equal(first_time(NULL, "9223372036854775807"), INT64_MAX);
    assert_int_equal(first_time(NULL, NULL), 0);
}

static void test_instagram_numeric_ids(void **state)
{
    (void)state;
    struct ig_delivery *d = parse_ok(
        "{\"object\":\"instagram\",\"entry\":[{\"id\":17841405822304914,\"time\":1764000000,"
        "\"messaging\":[{\"sender\":{\"id\":1327813061483247},\"recipient\":{\"id\":1},"
        "\"message\":{\"mid\":\"m1\",\"text\":\"hi\"}}],"
        "\"changes\":[{\"field\":\"comments\",\"value\":{\"id\":\"c1\",\"from\":{\"id\":42},"
        "\"text\":\"x\"}},{\"field\":\"mentions\",\"value\":{\"comment_id\":7}}]}]}");
    assert_int_equal(d->count, 3);
    assert_int_equal(d->unknown, 0);
    assert_int_equal(d->events[0].kind, IG_EV_MESSAGE);
    expect_str(d->events[0].account_id, ACCOUNT);
    expect_str(d->events[0].customer_id, ALICE);
    assert_int_equal(d->events[0].timestamp_ms, 1764000000000LL);
    assert_int_equal(d->events[1].kind, IG_EV_COMMENT);
    expect_str(d->events[1].customer_id, "42");
    expect_str(d->events[1].account_id, ACCOUNT);
    assert_int_equal(d->events[2].kind, IG_EV_MENTION);
    expect_str(d->events[2].mid, "7");
    ig_delivery_free(d);
}

/* ---- robustness: nothing is dropped, nothing fails ---- */

static void test_instagram_unknown_items(void **state)
{
    (void)state;
    struct ig_delivery *d = parse_ok(
        "{\"object\":\"page\",\"entry\":["
        "42,"
        "{\"id\":\"1\",\"time\":5,\"standby\":[{\"sender\":{\"id\":\"2\"}}]},"
        "{\"id\":\"1\",\"messaging\":{\"sender\":{\"id\":\"2\"}}},"
        "{\"time\":7,\"messaging\":[{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"m\"}}],"
        "\"changes\":[{\"field\":\"comments\",\"value\":{\"id\":\"c\",\"from\":{\"id\":\"3\"}}}]},"
        "{\"id\":\"1\",\"messaging\":["
        "  7,"
        "  {\"sender\":{\"id\":true},\"message\":{\"mid\":\"m\",\"text\":\"t\"}},"
        "  {\"sender\":{\"id\":\"2\"},\"message\":\"text\"},"
        "  {\"recipient\":{\"id\":\"2\"},\"message\":{\"mid\":\"m\",\"text\":\"t\"}},"
        "  {\"sender\":{\"id\":\"2\"},\"message\":{\"text\":\"no mid\"}},"
        "  {\"sender\":{\"id\":\"2\"},\"reaction\":{\"mid\":\"m\"}},"
        "  {\"sender\":{\"id\":\"2\"},\"timestamp\":1,\"optin\":{\"ref\":\"x\"}},"
        "  {\"sender\":{\"id\":\"\"},\"read\":{\"mid\":\"m\"}},"
        "  {}"
        "],\"changes\":["
        "  {\"field\":\"story_insights\",\"value\":{\"reach\":3}},"
        "  {\"value\":{}},"
        "  {\"field\":\"comments\",\"value\":{\"id\":\"c\",\"text\":\"no author\"}},"
        "  {\"field\":\"mentions\",\"value\":{}},"
        "  []"
        "]}]}");
    /* entries: not an object, nothing but "standby", messaging not an array; an entry without
     * id (nothing is attributable): a message and a comment; then messaging items and changes */
    static const struct {
        const char *field;
        const char *customer;
    } want[] = {{NULL, NULL},      {"standby", NULL},  {"messaging", NULL},
                {"message", "2"},  {"comments", NULL}, {NULL, NULL},
                {"message", NULL}, {"message", "2"},   {"message", NULL},
                {"message", "2"},  {"reaction", "2"},  {"optin", "2"},
                {"read", NULL},    {NULL, NULL},       {"story_insights", NULL},
                {NULL, NULL},      {"comments", NULL}, {"mentions", NULL},
                {NULL, NULL}};
    size_t n = sizeof(want) / sizeof(want[0]);
    assert_int_equal(d->count, n);
    assert_int_equal(d->unknown, n);
    for (size_t i = 0; i < n; i++) {
        const struct ig_event *ev = &d->events[i];
        assert_int_equal(ev->kind, IG_EV_UNKNOWN);
        expect_str(ev->field, want[i].field);
        expect_str(ev->customer_id, want[i].customer);
        assert_null(ev->mid);
        assert_null(ev->text);
        assert_non_null(ev->raw);
        assert_true(json_is_object(ev->metadata));
        assert_int_equal(json_object_size(ev->metadata), 0);
    }
    assert_int_equal(d->events[1].timestamp_ms, 5000);
    assert_int_equal(d->events[3].timestamp_ms, 7000);
    assert_int_equal(d->events[11].timestamp_ms, 1000);
    assert_int_equal(json_integer_value(d->events[5].raw), 7);
    ig_delivery_free(d);
}

static void test_instagram_message_shapes(void **state)
{
    (void)state;
    struct ig_delivery *d = parse_ok(
        "{\"entry\":[{\"id\":\"1\",\"time\":1764000000500,\"changes\":[{\"field\":\"comments\","
        "\"value\":{\"id\":\"c\",\"from\":{\"id\":\"9\"},\"text\":\"after\"}},"
        "{\"field\":\"mentions\",\"value\":{\"media_id\":\"77\"}}],\"messaging\":["
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"a\",\"attachments\":["
        "{\"type\":\"image\"},{\"type\":\"video\"}]}},"
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"b\",\"attachments\":["
        "{\"type\":\"image\"},{\"type\":\"image\"}]}},"
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"c\",\"text\":\"look\",\"attachments\":["
        "{\"type\":\"ig_post\",\"payload\":{}}],\"is_self\":false,\"brand_new\":{\"x\":1}}},"
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"d\",\"attachments\":["
        "{\"type\":\"hologram\"}]}},"
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"e\",\"attachments\":[{}]}},"
        "{\"sender\":{\"id\":\"2\"},\"message\":{\"mid\":\"f\"}},"
        "{\"sender\":{\"id\":\"1\"},\"recipient\":{\"id\":\"3\"},\"message\":{\"mid\":\"g\","
        "\"is_echo\":true,\"is_deleted\":true}},"
        "{\"sender\":{\"id\":\"1\"},\"recipient\":{\"id\":\"3\"},\"message\":{\"mid\":\"h\","
        "\"is_echo\":true,\"attachments\":[{\"type\":\"audio\"}]}},"
        "{\"sender\":{\"id\":\"2\"},\"referral\":{\"ref\":\"r\"},\"message\":{\"mid\":\"i\","
        "\"text\":\"from link\"}},"
        "{\"sender\":{\"id\":\"2\"},\"read\":{\"watermark\":1764000015321}},"
        "{\"sender\":{\"id\":\"2\"},\"postback\":{\"title\":\"Hi\",\"referral\":{\"ref\":\"x\"}}}"
        "]}]}");
    static const struct {
        enum ig_event_kind kind;
        const char *mid;
        const char *type;
        const char *customer;
    } want[] = {
        {IG_EV_MESSAGE, "a", "attachment", "2"}, {IG_EV_MESSAGE, "b", "image", "2"},
        {IG_EV_MESSAGE, "c", "ig_post", "2"},    {IG_EV_MESSAGE, "d", "hologram", "2"},
        {IG_EV_MESSAGE, "e", "attachment", "2"}, {IG_EV_MESSAGE, "f", "empty", "2"},
        {IG_EV_DELETE, "g", NULL, "3"},          {IG_EV_ECHO, "h", "audio", "3"},
        {IG_EV_MESSAGE, "i", "text", "2"},       {IG_EV_READ, NULL, NULL, "2"},
        {IG_EV_POSTBACK, NULL, "postback", "2"}, {IG_EV_COMMENT, "c", NULL, "9"},
        {IG_EV_MENTION, "77", NULL, NULL},
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    assert_int_equal(d->count, n);
    assert_int_equal(d->unknown, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d->events[i].kind, want[i].kind);
        expect_str(d->events[i].mid, want[i].mid);
        expect_str(d->events[i].message_type, want[i].type);
        expect_str(d->events[i].customer_id, want[i].customer);
        assert_int_equal(d->events[i].timestamp_ms, 1764000000500LL);
    }
    /* fields Meta adds later are ignored, not copied */
    assert_null(json_object_get(d->events[2].metadata, "brand_new"));
    assert_null(json_object_get(d->events[2].metadata, "is_self"));
    expect_str(d->events[2].text, "look");
    assert_true(json_is_true(json_object_get(d->events[6].metadata, "is_echo")));
    expect_meta_str(&d->events[8], "referral.ref", "r");
    /* Messenger's read watermark; a postback from before Graph v11 (no mid) with a referral */
    assert_int_equal(json_integer_value(json_object_get(d->events[9].metadata, "watermark")),
                     1764000015321LL);
    expect_meta_str(&d->events[10], "referral.ref", "x");
    ig_delivery_free(d);
}

static void test_instagram_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"invalid", "message", "echo",     "reaction", "read",
                                        "edit",    "delete",  "postback", "referral", "comment",
                                        "mention", "unknown", "invalid"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        expect_str(ig_event_kind_name((enum ig_event_kind)k), names[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instagram_fixture_events),
        cmocka_unit_test(test_instagram_fixture_folder),
        cmocka_unit_test(test_instagram_fixture_raw_and_bytes),
        cmocka_unit_test(test_instagram_fixture_metadata),
        cmocka_unit_test(test_instagram_signature_valid),
        cmocka_unit_test(test_instagram_signature_wrong),
        cmocka_unit_test(test_instagram_signature_missing_or_malformed),
        cmocka_unit_test(test_instagram_signature_empty_secret),
        cmocka_unit_test(test_instagram_parse_errors),
        cmocka_unit_test(test_instagram_parse_too_deep),
        cmocka_unit_test(test_instagram_parse_bounds),
        cmocka_unit_test(test_instagram_timestamps),
        cmocka_unit_test(test_instagram_numeric_ids),
        cmocka_unit_test(test_instagram_unknown_items),
        cmocka_unit_test(test_instagram_message_shapes),
        cmocka_unit_test(test_instagram_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
