/*
 * Unit tests for instagram/graph: request builders, answer parsers and classification (the text
 * split has its own program, test_instagram_split.c).
 *
 * Meta's answers come from $DIREKT_FIXTURES/instagram (every error_*.json must have a row in the
 * classification table); conversations pages and message lists are written inline in Meta's
 * documented shape. Request bodies are parsed back and checked field by field.
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

#include "core/err.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "fixture.h"
#include "instagram/graph.h"

#define BASE    "https://graph.instagram.com"
#define ACCOUNT "17841405822304914"
#define PAGE    "104800000000001"
#define ALICE   "1327813061483247"
#define TOKEN   "IGQVJ-secret-token"

static const struct ig_graph IG = {
    .base_url = BASE,
    .version = "v25.0",
    .flavour = IG_FLAVOUR_INSTAGRAM,
    .account_id = ACCOUNT,
    .token = TOKEN,
};

/* ---- helpers ---- */

/* The request's body parsed back (new); fails the test when it is not a JSON object. */
static json_t *body_of(const struct ig_request *r)
{
    assert_non_null(r->body);
    assert_int_equal(r->body_len, strlen(r->body));
    json_t *j = dk_json_parse(r->body, r->body_len, DK_JSON_MAX_DEPTH, NULL);
    assert_true(json_is_object(j));
    return j;
}

/* A string at a path of object keys ("recipient", "id", NULL). */
static const char *str_at(const json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        j = json_object_get(j, key);
    }
    va_end(ap);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static void assert_post(const struct ig_request *r, const char *url)
{
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->url, url);
    assert_string_equal(r->auth_header, "Authorization: Bearer " TOKEN);
    assert_null(strstr(r->url, TOKEN));
}

/* The result of a fixture answered with status. */
static void fixture_result(const char *name, int status, struct ig_result *r)
{
    size_t len;
    char *body = test_fixture("instagram", name, &len);
    ig_parse_result(status, body, len, r);
    dk_free(body);
}

/* Builds m and expects DK_EINVAL with a message and nothing built. */
static void assert_send_rejected(const struct ig_outgoing *m, const char *why)
{
    struct ig_request r;
    struct dk_err err = {0};
    int rc = ig_build_send(&IG, m, &r, &err);
    if (rc != DK_EINVAL) {
        fail_msg("expected DK_EINVAL for %s, got %d", why, rc);
    }
    assert_int_equal(err.code, DK_EINVAL);
    assert_true(err.msg[0] != '\0');
    assert_null(r.method);
    assert_null(r.url);
    assert_null(r.body);
    assert_null(r.auth_header);
}

/* ---- classification ---- */

static const struct {
    const char *file;
    int status;
    enum ig_outcome outcome;
    int code, subcode;
    bool transient;
} ERROR_FIXTURES[] = {
    {"error_outside_window.json", 400, IG_WINDOW, 10, 2534022, false},
    {"error_app_limit_4.json", 403, IG_THROTTLED, 4, 0, true},
    {"error_rate_limit_613.json", 400, IG_THROTTLED, 613, 0, false},
    {"error_server_transient.json", 500, IG_RETRY, 2, 0, true},
    {"error_token_expired.json", 401, IG_TOKEN, 190, 463, false},
    {"error_user_unavailable.json", 400, IG_UNAVAILABLE, 551, 1545041, false},
};

#define NFIXTURES (sizeof(ERROR_FIXTURES) / sizeof(ERROR_FIXTURES[0]))

static void test_instagram_graph_error_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < NFIXTURES; i++) {
        /* the code decides, whatever the status: also try 400 and 200 */
        const int statuses[] = {ERROR_FIXTURES[i].status, 400, 200};
        for (size_t s = 0; s < 3; s++) {
            struct ig_result r;
            fixture_result(ERROR_FIXTURES[i].file, statuses[s], &r);
            if (r.outcome != ERROR_FIXTURES[i].outcome) {
                fail_msg("%s at %d: %s, expected %s", ERROR_FIXTURES[i].file, statuses[s],
                         ig_outcome_name(r.outcome), ig_outcome_name(ERROR_FIXTURES[i].outcome));
            }
            assert_int_equal(r.http_status, statuses[s]);
            assert_int_equal(r.code, ERROR_FIXTURES[i].code);
            assert_int_equal(r.subcode, ERROR_FIXTURES[i].subcode);
            assert_int_equal(r.is_transient, ERROR_FIXTURES[i].transient);
            assert_true(r.message[0] != '\0');
            assert_true(r.fbtrace_id[0] == 'A');
            assert_string_equal(r.message_id, "");
        }
    }
}

/* Every error fixture in the folder has a row above. */
static void test_instagram_graph_error_fixture_folder(void **state)
{
    (void)state;
    const char *root = getenv("DIREKT_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/instagram", root != NULL ? root : "../shared/fixtures");
    DIR *dir = opendir(path);
    assert_non_null(dir);
    struct dirent *e;
    size_t seen = 0;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "error_", 6) != 0) {
            continue;
        }
        bool known = false;
        for (size_t i = 0; i < NFIXTURES; i++) {
            known = known || strcmp(e->d_name, ERROR_FIXTURES[i].file) == 0;
        }
        if (!known) {
            fail_msg("fixture %s has no expected classification", e->d_name);
        }
        seen++;
    }
    closedir(dir);
    assert_int_equal(seen, NFIXTURES);
}

static void test_instagram_graph_reason(void **state)
{
    (void)state;
    struct ig_result r;
    fixture_result("error_outside_window.json", 400, &r);
    char buf[512];
    assert_string_equal(ig_result_reason(&r, buf, sizeof(buf)),
                        "outside the messaging window (10/2534022): This message is sent outside "
                        "of allowed window");
    assert_string_equal(r.message, "(#10) This message is sent outside of allowed window.");
    assert_string_equal(r.fbtrace_id, "AZnN1l0bQ8uVjGkQx7p3pQ1");
    /* a small buffer is cut, never overrun */
    char small[8];
    assert_string_equal(ig_result_reason(&r, small, sizeof(small)), "outside");

    ig_parse_result(503, "<html>busy</html>", 17, &r);
    assert_int_equal(r.outcome, IG_RETRY);
    assert_string_equal(ig_result_reason(&r, buf, sizeof(buf)),
                        "temporary error: HTTP 503 without a readable body");
}

/* Codes the fixtures do not cover, and answers without an error object. */
static void test_instagram_graph_classify_table(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
        enum ig_outcome outcome;
    } CASES[] = {
        {200, "{\"error\":{\"code\":1,\"error_subcode\":1357046}}", IG_UNCERTAIN},
        {500, "{\"error\":{\"code\":1}}", IG_RETRY},
        {400, "{\"error\":{\"code\":17}}", IG_THROTTLED},
        {400, "{\"error\":{\"code\":32}}", IG_THROTTLED},
        {400, "{\"error\":{\"code\":4,\"is_transient\":false}}", IG_THROTTLED},
        {400, "{\"error\":{\"code\":10,\"error_subcode\":2018278}}", IG_WINDOW},
        {403, "{\"error\":{\"code\":10}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":10,\"error_subcode\":1893063}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":200,\"error_subcode\":2534041}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":299}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":36103}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":102}}", IG_TOKEN},
        {400, "{\"error\":{\"code\":\"190\"}}", IG_TOKEN},
        {400, "{\"error\":{\"code\":190,\"is_transient\":true}}", IG_TOKEN},
        {400, "{\"error\":{\"code\":100}}", IG_INVALID},
        {400, "{\"error\":{\"code\":100,\"error_subcode\":2018001}}", IG_UNAVAILABLE},
        {400, "{\"error\":{\"code\":100,\"error_subcode\":2534014}}", IG_UNAVAILABLE},
        {400, "{\"error\":{\"code\":100,\"error_subcode\":2534029}}", IG_PERMISSION},
        {400, "{\"error\":{\"code\":100,\"is_transient\":true}}", IG_RETRY},
        {400, "{\"error\":{\"code\":9999}}", IG_INVALID},
        {500, "{\"error\":{\"code\":9999}}", IG_RETRY},
        {400, "{\"error\":{\"code\":551}}", IG_UNAVAILABLE},
        {502, "Bad Gateway", IG_RETRY},
        {404, "<html>not found</html>", IG_INVALID},
        {429, "", IG_THROTTLED},
        {200, "not json", IG_UNCERTAIN},
        {200, "{}", IG_UNCERTAIN},
        {200, "[1]", IG_UNCERTAIN},
        {200, "{\"message_id\":\"\"}", IG_UNCERTAIN},
        {200, "{\"recipient_id\":\"1\"}", IG_OK},
        {200, "{\"data\":[]}", IG_OK},
        {200, "{\"success\":true}", IG_OK},
        {302, "", IG_UNCERTAIN},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct ig_result r;
        ig_parse_result(CASES[i].status, CASES[i].body, strlen(CASES[i].body), &r);
        if (r.outcome != CASES[i].outcome) {
            fail_msg("case %zu (%d %s): %s, expected %s", i, CASES[i].status, CASES[i].body,
                     ig_outcome_name(r.outcome), ig_outcome_name(CASES[i].outcome));
        }
    }
    struct ig_result r;
    ig_parse_result(200, NULL, 0, &r);
    assert_int_equal(r.outcome, IG_UNCERTAIN);
    /* a success too big to read cannot be trusted */
    size_t big = (1u << 20) + 100;
    char *huge = dk_malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"message_id\":\"m\"}", 18);
    huge[big] = '\0';
    ig_parse_result(200, huge, big, &r);
    assert_int_equal(r.outcome, IG_UNCERTAIN);
    assert_string_equal(r.message_id, "");
    dk_free(huge);
}

static void test_instagram_graph_success(void **state)
{
    (void)state;
    struct ig_result r;
    fixture_result("send_response.json", 200, &r);
    assert_int_equal(r.outcome, IG_OK);
    assert_string_equal(r.message_id, "aWdfZAG1faXRlbTpCb3RSZXBseTEZDZD");
    assert_string_equal(r.recipient_id, ALICE);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.message, "");
    /* a comment reply answers {"id"} */
    const char *reply = "{\"id\":\"17858893269000001\"}";
    ig_parse_result(200, reply, strlen(reply), &r);
    assert_int_equal(r.outcome, IG_OK);
    assert_string_equal(r.message_id, "17858893269000001");
    /* a sender action answers {"recipient_id"} only */
    const char *action = "{\"recipient_id\":\"" ALICE "\"}";
    ig_parse_result(200, action, strlen(action), &r);
    assert_int_equal(r.outcome, IG_OK);
    assert_string_equal(r.recipient_id, ALICE);
    assert_string_equal(r.message_id, "");
    char buf[64];
    assert_string_equal(ig_result_reason(&r, buf, sizeof(buf)), "sent");
}

static void test_instagram_graph_transport(void **state)
{
    (void)state;
    struct ig_result r;
    ig_transport_result(DK_ETIMEOUT, true, "operation timed out after 10000 ms", &r);
    assert_int_equal(r.outcome, IG_UNCERTAIN);
    assert_int_equal(r.http_status, 0);
    char buf[128];
    assert_string_equal(ig_result_reason(&r, buf, sizeof(buf)),
                        "outcome unknown: operation timed out after 10000 ms");
    ig_transport_result(DK_EIO, false, NULL, &r);
    assert_int_equal(r.outcome, IG_RETRY);
    assert_true(r.message[0] != '\0');
    assert_string_equal(ig_outcome_name(IG_OK), "ok");
    assert_string_equal(ig_outcome_name(IG_WINDOW), "window");
    assert_string_equal(ig_outcome_name(IG_UNCERTAIN), "uncertain");
    assert_string_equal(ig_outcome_name((enum ig_outcome)42), "unknown");
}

/* ---- profile ---- */

static void test_instagram_graph_profile(void **state)
{
    (void)state;
    size_t len;
    char *body = test_fixture("instagram", "profile.json", &len);
    json_t *p = NULL;
    struct dk_err err = {0};
    assert_int_equal(ig_parse_profile(body, len, &p, &err), 0);
    dk_free(body);
    assert_int_equal(json_object_size(p), 6);
    assert_string_equal(str_at(p, "name", NULL), "Maria K");
    assert_string_equal(str_at(p, "username", NULL), "maria.k");
    assert_string_equal(str_at(p, "profile_pic", NULL),
                        "https://scontent.xx.fbcdn.net/v/t51.2885-15/profile.jpg");
    assert_int_equal(json_integer_value(json_object_get(p, "follower_count")), 1243);
    assert_true(json_is_true(json_object_get(p, "is_user_follow_business")));
    assert_true(json_is_false(json_object_get(p, "is_verified_user")));
    assert_null(json_object_get(p, "is_business_follow_user"));
    assert_null(json_object_get(p, "id"));
    json_decref(p);

    /* wrong types are dropped, not coerced */
    const char *odd = "{\"name\":5,\"username\":\"u\",\"follower_count\":\"x\","
                      "\"is_verified_user\":\"yes\"}";
    assert_int_equal(ig_parse_profile(odd, strlen(odd), &p, &err), 0);
    assert_int_equal(json_object_size(p), 1);
    assert_string_equal(str_at(p, "username", NULL), "u");
    json_decref(p);

    const char *bad[] = {"[]", "\"x\"", "nope", "", "{\"error\":{\"code\":100}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = (json_t *)1;
        assert_int_equal(ig_parse_profile(bad[i], strlen(bad[i]), &p, &err), DK_EINVAL);
        assert_null(p);
    }
}

/* ---- request builders ---- */

static void test_instagram_graph_send_text(void **state)
{
    (void)state;
    const struct ig_quick_reply quick[] = {
        {"Доставка и оплата по всей России", "DELIVERY"}, /* 32 characters, 2 bytes each */
        {"Size 👗👗👗👗👗👗👗👗👗👗👗👗👗👗👗👗👗👗", "SIZE"},
        {"Price", "PRICE"},
    };
    struct ig_outgoing m = {
        .recipient_id = ALICE, .text = "Hello! How can I help?", .quick = quick, .nquick = 3};
    struct ig_request r;
    struct dk_err err = {0};
    assert_int_equal(ig_build_send(&IG, &m, &r, &err), 0);
    assert_post(&r, BASE "/v25.0/" ACCOUNT "/messages");
    json_t *b = body_of(&r);
    assert_int_equal(json_object_size(b), 3);
    assert_string_equal(str_at(b, "recipient", "id", NULL), ALICE);
    assert_int_equal(json_object_size(json_object_get(b, "recipient")), 1);
    assert_string_equal(str_at(b, "messaging_type", NULL), "RESPONSE");
    assert_null(json_object_get(b, "tag"));
    assert_string_equal(str_at(b, "message", "text", NULL), "Hello! How can I help?");
    json_t *qr = json_object_get(json_object_get(b, "message"), "quick_replies");
    assert_int_equal(json_array_size(qr), 3);
    assert_string_equal(str_at(json_array_get(qr, 0), "content_type", NULL), "text");
    assert_string_equal(str_at(json_array_get(qr, 0), "title", NULL), "Доставка и оплата по");
    assert_string_equal(str_at(json_array_get(qr, 0), "payload", NULL), "DELIVERY");
    assert_string_equal(str_at(json_array_get(qr, 1), "title", NULL), "Size 👗👗👗👗👗👗👗👗👗👗👗👗👗👗👗");
    assert_string_equal(str_at(json_array_get(qr, 2), "title", NULL), "Price");
    assert_string_equal(str_at(json_array_get(qr, 2), "payload", NULL), "PRICE");
    json_decref(b);
    ig_request_clear(&r);
    assert_null(r.url);
    ig_request_clear(&r); /* twice is fine */

    /* the HUMAN_AGENT tag */
    m = (struct ig_outgoing){
        .recipient_id = ALICE, .text = "An operator here", .tag = "HUMAN_AGENT"};
    assert_int_equal(ig_build_send(&IG, &m, &r, &err), 0);
    b = body_of(&r);
    assert_string_equal(str_at(b, "messaging_type", NULL), "MESSAGE_TAG");
    assert_string_equal(str_at(b, "tag", NULL), "HUMAN_AGENT");
    assert_null(json_object_get(json_object_get(b, "message"), "quick_replies"));
    json_decref(b);
    ig_request_clear(&r);

    /* exactly 1000 bytes is allowed */
    char text[IG_TEXT_MAX + 1];
    memset(text, 'a', IG_TEXT_MAX);
    text[IG_TEXT_MAX] = '\0';
    m = (struct ig_outgoing){.recipient_id = ALICE, .text = text};
    assert_int_equal(ig_build_send(&IG, &m, &r, &err), 0);
    ig_request_clear(&r);
}

static void test_instagram_graph_send_attachment_and_comment(void **state)
{
    (void)state;
    struct ig_outgoing m = {.recipient_id = ALICE,
                            .attachment_type = "image",
                            .attachment_url = "https://cdn.example.com/a.jpg?x=1&y=2"};
    struct ig_request r;
    struct dk_err err = {0};
    assert_int_equal(ig_build_send(&IG, &m, &r, &err), 0);
    json_t *b = body_of(&r);
    json_t *msg = json_object_get(b, "message");
    assert_int_equal(json_object_size(msg), 1);
    assert_string_equal(str_at(msg, "attachment", "type", NULL), "image");
    assert_string_equal(str_at(msg, "attachment", "payload", "url", NULL),
                        "https://cdn.example.com/a.jpg?x=1&y=2");
    json_decref(b);
    ig_request_clear(&r);

    /* a private reply to a comment */
    m = (struct ig_outgoing){.comment_id = "17858893269000001", .text = "Sent you the prices!"};
    assert_int_equal(ig_build_send(&IG, &m, &r, &err), 0);
    assert_post(&r, BASE "/v25.0/" ACCOUNT "/messages");
    b = body_of(&r);
    assert_string_equal(str_at(b, "recipient", "comment_id", NULL), "17858893269000001");
    assert_null(json_object_get(json_object_get(b, "recipient"), "id"));
    assert_string_equal(str_at(b, "message", "text", NULL), "Sent you the prices!");
    json_decref(b);
    ig_request_clear(&r);

    /* a public reply under the comment */
    assert_int_equal(ig_build_comment_reply(&IG, "17858893269000001", "Thanks! 🙏", &r, &err), 0);
    assert_post(&r, BASE "/v25.0/17858893269000001/replies");
    b = body_of(&r);
    assert_int_equal(json_object_size(b), 1);
    assert_string_equal(str_at(b, "message", NULL), "Thanks! 🙏");
    json_decref(b);
    ig_request_clear(&r);
    assert_int_equal(ig_build_comment_reply(&IG, "17858893269000001", "", &r, &err), DK_EINVAL);
    assert_int_equal(ig_build_comment_reply(&IG, NULL, "hi", &r, &err), DK_EINVAL);
    assert_null(r.url);
}

static void test_instagram_graph_sender_action_and_reaction(void **state)
{
    (void)state;
    struct ig_request r;
    struct dk_err err = {0};
    assert_int_equal(ig_build_sender_action(&IG, ALICE, "typing_on", &r, &err), 0);
    assert_post(&r, BASE "/v25.0/" ACCOUNT "/messages");
    json_t *b = body_of(&r);
    assert_int_equal(json_object_size(b), 2);
    assert_string_equal(str_at(b, "recipient", "id", NULL), ALICE);
    assert_string_equal(str_at(b, "sender_action", NULL), "typing_on");
    json_decref(b);
    ig_request_clear(&r);
    assert_int_equal(ig_build_sender_action(&IG, ALICE, "typing_sideways", &r, &err), DK_EINVAL);
    assert_int_equal(ig_build_sender_action(&IG, NULL, "mark_seen", &r, &err), DK_EINVAL);
    assert_null(r.body);

    assert_int_equal(ig_build_reaction(&IG, ALICE, "mid.1", NULL, false, &r, &err), 0);
    b = body_of(&r);
    assert_string_equal(str_at(b, "sender_action", NULL), "react");
    assert_string_equal(str_at(b, "payload", "message_id", NULL), "mid.1");
    assert_string_equal(str_at(b, "payload", "reaction", NULL), "love");
    json_decref(b);
    ig_request_clear(&r);
    assert_int_equal(ig_build_reaction(&IG, ALICE, "mid.1", "love", true, &r, &err), 0);
    b = body_of(&r);
    assert_string_equal(str_at(b, "sender_action", NULL), "unreact");
    assert_string_equal(str_at(b, "payload", "message_id", NULL), "mid.1");
    assert_null(json_object_get(json_object_get(b, "payload"), "reaction"));
    json_decref(b);
    ig_request_clear(&r);
    assert_int_equal(ig_build_reaction(&IG, ALICE, NULL, NULL, false, &r, &err), DK_EINVAL);
}

static void test_instagram_graph_urls(void **state)
{
    (void)state;
    struct ig_request r;
    struct dk_err err = {0};
    struct ig_outgoing m = {.recipient_id = ALICE, .text = "hi"};
    static const struct {
        const char *base, *version;
        enum ig_flavour flavour;
        const char *page, *url;
    } CASES[] = {
        {BASE "/", "v25.0", IG_FLAVOUR_INSTAGRAM, NULL, BASE "/v25.0/" ACCOUNT "/messages"},
        {BASE, NULL, IG_FLAVOUR_INSTAGRAM, PAGE, BASE "/" ACCOUNT "/messages"},
        {BASE "/", "", IG_FLAVOUR_INSTAGRAM, NULL, BASE "/" ACCOUNT "/messages"},
        {"https://graph.facebook.com", "v25.0", IG_FLAVOUR_FACEBOOK, PAGE,
         "https://graph.facebook.com/v25.0/" PAGE "/messages"},
        {"https://graph.facebook.com", "v25.0", IG_FLAVOUR_FACEBOOK, NULL,
         "https://graph.facebook.com/v25.0/" ACCOUNT "/messages"},
        {"http://127.0.0.1:8089/fake/", "v1.0", IG_FLAVOUR_INSTAGRAM, NULL,
         "http://127.0.0.1:8089/fake/v1.0/" ACCOUNT "/messages"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct ig_graph g = {CASES[i].base, CASES[i].version, CASES[i].flavour,
                             ACCOUNT,       CASES[i].page,    TOKEN};
        assert_int_equal(ig_build_send(&g, &m, &r, &err), 0);
        assert_post(&r, CASES[i].url);
        ig_request_clear(&r);
    }

    assert_int_equal(ig_build_profile(&IG, ALICE, &r, &err), 0);
    assert_string_equal(r.method, "GET");
    assert_null(r.body);
    assert_string_equal(r.url, BASE "/v25.0/" ALICE "?fields=name,username,profile_pic,"
                                    "follower_count,is_user_follow_business,is_verified_user");
    ig_request_clear(&r);
    assert_int_equal(ig_build_conversations(&IG, NULL, &r, &err), 0);
    assert_string_equal(r.url, BASE "/v25.0/me/conversations?platform=instagram");
    assert_string_equal(r.auth_header, "Authorization: Bearer " TOKEN);
    ig_request_clear(&r);
    struct ig_graph fb = {
        "https://graph.facebook.com", "v25.0", IG_FLAVOUR_FACEBOOK, ACCOUNT, PAGE, TOKEN};
    assert_int_equal(ig_build_conversations(&fb, NULL, &r, &err), 0);
    assert_string_equal(r.url, "https://graph.facebook.com/v25.0/" PAGE
                               "/conversations?platform=instagram");
    ig_request_clear(&r);
    assert_int_equal(ig_build_conversation_messages(&IG, "aWdfZAG06MTpJR01lc3NhZA==", &r, &err), 0);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, BASE "/v25.0/aWdfZAG06MTpJR01lc3NhZA%3D%3D"
                                    "?fields=messages%7Bid,created_time,from,to,message%7D");
    ig_request_clear(&r);

    /* an id cannot add a path or a query; no token, no header */
    struct ig_graph anon = IG;
    anon.token = NULL;
    assert_int_equal(ig_build_profile(&anon, "../x?access_token=1", &r, &err), 0);
    assert_string_equal(r.url, BASE "/v25.0/..%2Fx%3Faccess_token%3D1?fields=name,username,"
                                    "profile_pic,follower_count,is_user_follow_business,"
                                    "is_verified_user");
    assert_null(r.auth_header);
    ig_request_clear(&r);
    assert_int_equal(ig_build_profile(&IG, "..", &r, &err), DK_EINVAL);
    assert_int_equal(ig_build_profile(&IG, "", &r, &err), DK_EINVAL);
}

static void test_instagram_graph_next_url(void **state)
{
    (void)state;
    struct ig_request r;
    struct dk_err err = {0};
    const char *next = BASE "/v25.0/" ACCOUNT "/conversations?platform=instagram&access_token=EAAB"
                            "&limit=25&after=QVFIU#frag";
    assert_int_equal(ig_build_conversations(&IG, next, &r, &err), 0);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, BASE "/v25.0/" ACCOUNT
                                    "/conversations?platform=instagram&limit=25&after=QVFIU");
    assert_string_equal(r.auth_header, "Authorization: Bearer " TOKEN);
    ig_request_clear(&r);
    assert_int_equal(
        ig_build_conversations(&IG, "HTTPS://Graph.Instagram.com:443/v25.0/x", &r, &err), 0);
    ig_request_clear(&r);

    const char *elsewhere[] = {
        "https://evil.example.com/v25.0/x?after=1",
        "http://graph.instagram.com/v25.0/x",
        "https://graph.instagram.com:8443/v25.0/x",
        "https://graph.instagram.com@evil.example.com/v25.0/x",
        "https://graph.instagram.com.evil.example.com/x",
        "//graph.instagram.com/x",
        "/v25.0/x",
        "https://graph.instagram.com/a b",
        "",
    };
    for (size_t i = 0; i < sizeof(elsewhere) / sizeof(elsewhere[0]); i++) {
        err.code = 0;
        if (ig_build_conversations(&IG, elsewhere[i], &r, &err) != DK_EINVAL) {
            fail_msg("next url %s was accepted", elsewhere[i]);
        }
        assert_int_equal(err.code, DK_EINVAL);
        assert_null(r.url);
    }
}

static void test_instagram_graph_send_rejected(void **state)
{
    (void)state;
    char big[IG_TEXT_MAX + 2];
    memset(big, 'a', IG_TEXT_MAX + 1);
    big[IG_TEXT_MAX + 1] = '\0';
    struct ig_quick_reply quick[IG_QUICK_REPLIES_MAX + 1];
    for (size_t i = 0; i < IG_QUICK_REPLIES_MAX + 1; i++) {
        quick[i] = (struct ig_quick_reply){"Option", "P"};
    }
    const struct ig_quick_reply bad_title = {"\xd0", "P"};
    const struct ig_quick_reply no_payload = {"Title", NULL};
    struct {
        struct ig_outgoing m;
        const char *why;
    } CASES[] = {
        {{.recipient_id = ALICE, .text = big}, "1001-byte text"},
        {{.recipient_id = ALICE, .text = "caf\xc3"}, "invalid UTF-8"},
        {{.recipient_id = ALICE, .text = "\xc0\xaf overlong"}, "overlong UTF-8"},
        {{.recipient_id = ALICE, .text = "hi", .quick = quick, .nquick = 14}, "14 quick replies"},
        {{.recipient_id = ALICE, .text = "hi", .quick = &bad_title, .nquick = 1}, "bad title"},
        {{.recipient_id = ALICE, .text = "hi", .quick = &no_payload, .nquick = 1}, "no payload"},
        {{.recipient_id = ALICE, .attachment_type = "sticker", .attachment_url = "https://a/b"},
         "unknown attachment type"},
        {{.recipient_id = ALICE, .attachment_type = "image", .attachment_url = "ftp://a/b.jpg"},
         "non-http url"},
        {{.recipient_id = ALICE, .attachment_type = "image", .attachment_url = "javascript:x"},
         "javascript url"},
        {{.recipient_id = ALICE, .attachment_type = "image"}, "attachment without url"},
        {{.recipient_id = ALICE, .attachment_url = "https://a/b.jpg"}, "url without type"},
        {{.recipient_id = ALICE,
          .attachment_type = "image",
          .attachment_url = "https://a/b.jpg",
          .quick = quick,
          .nquick = 1},
         "quick replies with an attachment"},
        {{.recipient_id = ALICE,
          .text = "hi",
          .attachment_type = "image",
          .attachment_url = "https://a/b.jpg"},
         "text and attachment"},
        {{.recipient_id = ALICE, .comment_id = "c1", .text = "hi"}, "both recipients"},
        {{.text = "hi"}, "no recipient"},
        {{.recipient_id = ALICE}, "nothing to send"},
        {{.recipient_id = ALICE, .text = "hi", .tag = "ACCOUNT_UPDATE"}, "unknown tag"},
        {{.recipient_id = "\xff\xfe", .text = "hi"}, "recipient not UTF-8"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        assert_send_rejected(&CASES[i].m, CASES[i].why);
    }
    assert_send_rejected(NULL, "no message");

    /* the graph itself */
    struct ig_outgoing m = {.recipient_id = ALICE, .text = "hi"};
    struct ig_graph g = IG;
    struct ig_request r;
    struct dk_err err = {0};
    g.base_url = "ftp://graph.instagram.com";
    assert_int_equal(ig_build_send(&g, &m, &r, &err), DK_EINVAL);
    g = IG;
    g.token = "abc\r\nX-Evil: 1";
    assert_int_equal(ig_build_send(&g, &m, &r, &err), DK_EINVAL);
    assert_null(strstr(err.msg, "abc"));
    g = IG;
    g.account_id = NULL;
    assert_int_equal(ig_build_send(&g, &m, &r, &err), DK_EINVAL);
    assert_int_equal(ig_build_send(NULL, &m, &r, &err), DK_EINVAL);
    assert_null(r.url);
}

/* ---- history ---- */

static void test_instagram_graph_conversations(void **state)
{
    (void)state;
    const char *page =
        "{\"data\":[{\"id\":\"aWdfZAG06MTpJR01lc3NhZA\",\"updated_time\":"
        "\"2022-07-12T19:11:07+0000\"},{\"id\":\"aWdfZAG06MTpJR02\",\"updated_time\":"
        "\"2022-07-11T10:00:00+0000\"},{\"id\":5},{\"updated_time\":\"x\"}],"
        "\"paging\":{\"cursors\":{\"after\":\"QVFIU\"},\"next\":"
        "\"https://graph.instagram.com/v25.0/" ACCOUNT
        "/conversations?platform=instagram&after=QVFIU\"}}";
    json_t *ids = NULL;
    char *next = NULL;
    struct dk_err err = {0};
    assert_int_equal(ig_parse_conversations(page, strlen(page), &ids, &next, &err), 0);
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "aWdfZAG06MTpJR01lc3NhZA");
    assert_string_equal(json_string_value(json_array_get(ids, 1)), "aWdfZAG06MTpJR02");
    assert_string_equal(next, "https://graph.instagram.com/v25.0/" ACCOUNT
                              "/conversations?platform=instagram&after=QVFIU");
    /* the next page builds on the same host */
    struct ig_request r;
    assert_int_equal(ig_build_conversations(&IG, next, &r, &err), 0);
    ig_request_clear(&r);
    json_decref(ids);
    dk_free(next);

    const char *last = "{\"data\":[],\"paging\":{\"cursors\":{\"before\":\"b\"}}}";
    assert_int_equal(ig_parse_conversations(last, strlen(last), &ids, &next, &err), 0);
    assert_int_equal(json_array_size(ids), 0);
    assert_null(next);
    json_decref(ids);

    const char *bad[] = {"{}", "[]", "{\"data\":{}}", "{\"error\":{\"code\":190}}", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ig_parse_conversations(bad[i], strlen(bad[i]), &ids, &next, &err),
                         DK_EINVAL);
        assert_null(ids);
        assert_null(next);
    }
}

static void test_instagram_graph_conversation_messages(void **state)
{
    (void)state;
    /* Meta lists newest first */
    const char *answer =
        "{\"messages\":{\"data\":["
        "{\"id\":\"m3\",\"created_time\":\"2022-07-12T19:11:09+0000\","
        "\"from\":{\"username\":\"shop\",\"id\":\"" ACCOUNT "\"},"
        "\"to\":{\"data\":[{\"username\":\"maria.k\",\"id\":\"" ALICE "\"}]},"
        "\"message\":\"Привет! 👋\"},"
        "{\"id\":\"m2\",\"created_time\":\"2022-07-12T19:11:07+0000\","
        "\"from\":{\"username\":\"maria.k\",\"id\":\"" ALICE "\"},"
        "\"to\":{\"data\":[{\"username\":\"shop\",\"id\":\"" ACCOUNT "\"}]},"
        "\"message\":\"\"},"
        "{\"id\":\"m1\",\"created_time\":\"2022-07-12T21:11:00+0200\","
        "\"from\":{\"id\":\"" ALICE "\"},"
        "\"to\":{\"data\":[{\"username\":\"shop\",\"id\":\"" ACCOUNT "\"}]},"
        "\"message\":\"hi\"},"
        "{\"id\":\"m0\",\"created_time\":\"yesterday\",\"from\":{\"id\":\"1\"},"
        "\"to\":{\"data\":[{\"id\":\"2\"}]}}"
        "],\"paging\":{\"cursors\":{\"after\":\"a\"}}},\"id\":\"aWdfZAG06MTpJR01lc3NhZA\"}";
    json_t *msgs = NULL;
    struct dk_err err = {0};
    assert_int_equal(ig_parse_conversation_messages(answer, strlen(answer), &msgs, &err), 0);
    assert_int_equal(json_array_size(msgs), 3);
    json_t *m1 = json_array_get(msgs, 0);
    json_t *m2 = json_array_get(msgs, 1);
    json_t *m3 = json_array_get(msgs, 2);
    assert_string_equal(str_at(m1, "mid", NULL), "m1");
    assert_int_equal(json_integer_value(json_object_get(m1, "created_ms")), 1657653060000LL);
    assert_string_equal(str_at(m1, "from_username", NULL), "");
    assert_string_equal(str_at(m1, "text", NULL), "hi");
    assert_string_equal(str_at(m2, "mid", NULL), "m2");
    assert_int_equal(json_integer_value(json_object_get(m2, "created_ms")), 1657653067000LL);
    assert_string_equal(str_at(m2, "from_id", NULL), ALICE);
    assert_string_equal(str_at(m2, "from_username", NULL), "maria.k");
    assert_string_equal(str_at(m2, "to_id", NULL), ACCOUNT);
    assert_null(json_object_get(m2, "text"));
    assert_string_equal(str_at(m3, "mid", NULL), "m3");
    assert_string_equal(str_at(m3, "from_id", NULL), ACCOUNT);
    assert_string_equal(str_at(m3, "to_id", NULL), ALICE);
    assert_string_equal(str_at(m3, "text", NULL), "Привет! 👋");
    assert_int_equal(json_object_size(m3), 6);
    json_decref(msgs);

    const char *empty = "{\"id\":\"aWdfZAG06MTpJR01lc3NhZA\"}";
    assert_int_equal(ig_parse_conversation_messages(empty, strlen(empty), &msgs, &err), 0);
    assert_int_equal(json_array_size(msgs), 0);
    json_decref(msgs);
    const char *bad[] = {"{}", "[]", "{\"messages\":[]}", "{\"error\":{\"code\":100}}", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msgs = (json_t *)1;
        assert_int_equal(ig_parse_conversation_messages(bad[i], strlen(bad[i]), &msgs, &err),
                         DK_EINVAL);
        assert_null(msgs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instagram_graph_error_fixtures),
        cmocka_unit_test(test_instagram_graph_error_fixture_folder),
        cmocka_unit_test(test_instagram_graph_reason),
        cmocka_unit_test(test_instagram_graph_classify_table),
        cmocka_unit_test(test_instagram_graph_success),
        cmocka_unit_test(test_instagram_graph_transport),
        cmocka_unit_test(test_instagram_graph_profile),
        cmocka_unit_test(test_instagram_graph_send_text),
        cmocka_unit_test(test_instagram_graph_send_attachment_and_comment),
        cmocka_unit_test(test_instagram_graph_sender_action_and_reaction),
        cmocka_unit_test(test_instagram_graph_urls),
        cmocka_unit_test(test_instagram_graph_next_url),
        cmocka_unit_test(test_instagram_graph_send_rejected),
        cmocka_unit_test(test_instagram_graph_conversations),
        cmocka_unit_test(test_instagram_graph_conversation_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
