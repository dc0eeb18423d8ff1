/* Unit tests of api/: the route table and handlers behind the real HTTP server, on a real
 * store (SQLite and PostgreSQL), with libcurl as the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"
#include "dbtest.h"
#include "httpc.h"
#include "store/repo.h"

#define SECRET "unit-secret"
#define TOKEN  "unit-token"

struct env {
    struct dbtest *db;
    struct api_ctx ctx;
    struct pipeline_ingest *ingest;
    struct http_server *http;
    char token_sha[DK_SHA256_HEX];
};

static struct env g;

static int start(void **state)
{
    if (dbtest_clean(state) != 0) {
        return -1;
    }
    memset(&g, 0, sizeof(g));
    g.db = *state;
    dk_sha256_hex(TOKEN, strlen(TOKEN), g.token_sha);
    struct pipeline_ingest_config ic = {.store = g.db->store,
                                        .writers = 1,
                                        .batch_max = 64,
                                        .queue_max = 100,
                                        .reply_debounce_ms = 60000};
    g.ingest = pipeline_ingest_start(&ic);
    g.ctx = (struct api_ctx){.store = g.db->store,
                             .ingest = g.ingest,
                             .app_secret = SECRET,
                             .verify_token = "vt",
                             .static_token_sha256 = g.token_sha};
    struct http_config hc = {
        .listen = "127.0.0.1:0", .threads = 2, .auth = api_auth, .auth_ctx = &g.ctx, .app = &g.ctx};
    struct dk_err err = {0};
    if (http_server_start(&hc, api_routes, api_routes_count, &g.http, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    httpc_port = http_server_port(g.http);
    return 0;
}

static int stop(void **state)
{
    (void)state;
    http_server_quiesce(g.http);
    http_server_stop(g.http, 2000);
    pipeline_ingest_stop(g.ingest);
    return 0;
}

/* Sends a request; returns the status and leaves the body in *out (dk_buf_free). */
static long call(const char *method, const char *path, const char *auth, const char *sig,
                 const char *body, struct dk_buf *out)
{
    char hdr_auth[128], hdr_sig[128];
    struct httpc_call c = {.method = method, .path = path, .body = body};
    int h = 0;
    c.headers[h++] = "Content-Type: application/json";
    if (auth != NULL) {
        snprintf(hdr_auth, sizeof(hdr_auth), "Authorization: Bearer %s", auth);
        c.headers[h++] = hdr_auth;
    }
    if (sig != NULL) {
        snprintf(hdr_sig, sizeof(hdr_sig), "X-Hub-Signature-256: %s", sig);
        c.headers[h++] = hdr_sig;
    }
    struct httpc_resp r;
    httpc_perform(&c, &r);
    *out = r.body; /* handed over; the headers are not needed */
    dk_buf_free(&r.headers);
    return r.rc == CURLE_OK ? r.status : 0;
}

static void expect(const char *method, const char *path, const char *auth, const char *body,
                   long status, const char *contains)
{
    struct dk_buf out;
    long got = call(method, path, auth, NULL, body, &out);
    if (got != status || (contains != NULL && strstr(out.data, contains) == NULL)) {
        fprintf(stderr, "%s %s: %ld %s\n", method, path, got, out.data != NULL ? out.data : "");
    }
    assert_int_equal(got, status);
    if (contains != NULL) {
        assert_non_null(strstr(out.data, contains));
    }
    dk_buf_free(&out);
}

static void post_fixture(const char *name)
{
    size_t len;
    char *body = dbtest_fixture(name, &len);
    char hex[DK_SHA256_HEX], sig[80];
    dk_hmac_sha256_hex(SECRET, strlen(SECRET), body, len, hex);
    snprintf(sig, sizeof(sig), "sha256=%s", hex);
    struct dk_buf out;
    assert_int_equal(call("POST", "/webhooks/instagram/messages", NULL, sig, body, &out), 200);
    assert_non_null(strstr(out.data, "\"event_id\""));
    dk_buf_free(&out);
    dk_free(body);
}

static void test_api_auth_and_errors(void **state)
{
    (void)state;
    expect("GET", "/healthz", NULL, NULL, 200, "\"ok\"");
    expect("GET", "/readyz", NULL, NULL, 200, "\"ready\"");
    expect("GET", "/api/v1/conversations", NULL, NULL, 401, "\"unauthorized\"");
    expect("GET", "/api/v1/conversations", "wrong", NULL, 401, "\"error\"");
    expect("GET", "/api/v1/conversations", TOKEN, NULL, 200, "\"data\":[]");
    expect("GET", "/api/v1/conversations?limit=0", TOKEN, NULL, 422, "limit");
    expect("GET", "/api/v1/conversations?updated_since=yesterday", TOKEN, NULL, 422,
           "updated_since");
    expect("GET", "/api/v1/conversations/not-a-uuid", TOKEN, NULL, 404, "not_found");
    expect("GET", "/api/v1/conversations/01a21aa0-87dc-747e-8209-0fbd95d596b5/history", TOKEN, NULL,
           404, "not_found");
    expect("GET", "/api/v1/users/abc/conversation-history", TOKEN, NULL, 404, "not_found");
    expect("GET", "/api/v1/users/123456/profile", TOKEN, NULL, 404, "not_found");
    expect("DELETE", "/api/v1/conversations", TOKEN, NULL, 405, "\"error\"");
    expect("GET", "/api/v1/nothing", TOKEN, NULL, 404, "\"error\"");
    expect("GET",
           "/webhooks/instagram/messages?hub.mode=subscribe&hub.verify_token=vt"
           "&hub.challenge=42",
           NULL, NULL, 200, "42");
    expect("GET",
           "/webhooks/instagram/messages?hub.mode=subscribe&hub.verify_token=no"
           "&hub.challenge=42",
           NULL, NULL, 403, "\"forbidden\"");
    expect("POST", "/webhooks/instagram/messages", NULL, "{}", 401, "\"error\"");
}

static char *first_conversation(void)
{
    struct dk_buf out;
    assert_int_equal(call("GET", "/api/v1/conversations", TOKEN, NULL, NULL, &out), 200);
    json_t *j = json_loads(out.data, 0, NULL);
    const char *id =
        json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "id"));
    assert_non_null(id);
    char *r = dk_strdup(id);
    json_decref(j);
    dk_buf_free(&out);
    return r;
}

static void test_api_conversation_flow(void **state)
{
    (void)state;
    post_fixture("message_text.json");
    char *conv = first_conversation();
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/history?limit=5", conv);
    expect("GET", path, TOKEN, NULL, 200, "linen dress");
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/context", conv);
    expect("PUT", path, TOKEN, "{\"context\":{\"stage\":\"size\"}}", 200, "\"stage\"");
    expect("GET", path, TOKEN, NULL, 200, "\"size\"");
    expect("PUT", path, TOKEN, "{\"context\":[1]}", 422, "invalid_field");
    expect("PUT", path, TOKEN, "{\"context\":", 400, "invalid_request");
    expect("PUT", path, TOKEN, "\"context\"", 422, "invalid_field");
    expect("GET", "/api/v1/users/1327813061483247/profile", TOKEN, NULL, 200,
           "\"instagram_id\":\"1327813061483247\"");
    expect("GET", "/api/v1/agent/tasks/active", TOKEN, NULL, 200, "\"reply:");
    dk_free(conv);
}

static void test_api_user_preferences(void **state)
{
    (void)state;
    post_fixture("message_text_ru_emoji.json");
    struct dk_buf out;
    assert_int_equal(call("GET", "/api/v1/users/5981206525237013/profile", TOKEN, NULL, NULL, &out),
                     200);
    json_t *u = json_loads(out.data, 0, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/users/%s/preferences",
             json_string_value(json_object_get(u, "id")));
    expect("PUT", path, TOKEN, "{\"preferences\":{\"language\":\"ru\"}}", 200, "\"ru\"");
    expect("PUT", path, TOKEN, "{\"prefs\":{}}", 422, "preferences");
    snprintf(path, sizeof(path), "/api/v1/users/%s/conversation-history",
             json_string_value(json_object_get(u, "id")));
    expect("GET", path, TOKEN, NULL, 200, "Казань");
    json_decref(u);
    dk_buf_free(&out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, start, stop)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        T(test_api_auth_and_errors),
        T(test_api_conversation_flow),
        T(test_api_user_preferences),
    };
    int failed = cmocka_run_group_tests_name("api_sqlite", tests, dbtest_group_sqlite,
                                             dbtest_group_teardown);
    failed += cmocka_run_group_tests_name("api_postgres", tests, dbtest_group_postgres,
                                          dbtest_group_teardown);
    curl_global_cleanup();
    return failed;
}
