/*
 * Unit tests of the http module: a real server on 127.0.0.1:0 with a route table, and libcurl
 * as the client (easy handles for single requests and keep-alive, multi for many at once).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"
#include "httpc.h"

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct http_server *g_srv;

/* ---- handlers ---- */

static void h_ping(struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void h_item(struct http_req *req)
{
    http_reply_json(req, 200,
                    json_pack("{s:s, s:s}", "id", http_req_param(req, "id"), "name",
                              http_req_param(req, "name")));
}

static void h_query(struct http_req *req)
{
    struct dk_err err;
    int64_t limit = 0;
    if (http_query_int(req, "limit", 10, 1, 100, &limit, &err) != 0) {
        http_reply_err(req, &err);
        return;
    }
    const char *name = http_req_query(req, "name");
    http_reply_json(req, 200, json_pack("{s:I, s:s?}", "limit", (json_int_t)limit, "name", name));
}

/* Also the route without HTTP_JSON (/small): then "got" is null. */
static void h_json(struct http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    http_reply_json(req, 200,
                    json_pack("{s:O?, s:I, s:b}", "got", http_req_json(req), "len", (json_int_t)len,
                              "nul", body[len] == '\0'));
}

static void h_noreply(struct http_req *req)
{
    (void)req;
}

static void h_headers(struct http_req *req)
{
    const char *v = http_req_header(req, "x-test");
    http_reply_header(req, "X-Extra", "yes");
    http_reply(req, 201, "text/plain", v != NULL ? v : "", v != NULL ? strlen(v) : 0);
    http_reply_header(req, "X-After", "too");
}

/* Another thread's reply: /async after 20 ms (the request is parked by then), else at once. */
static void *reply_async(void *arg)
{
    struct http_req *req = arg;
    bool later = strcmp(http_req_path(req), "/async") == 0;
    dk_sleep_ms(later ? 20 : 0);
    http_reply(req, 200, "text/plain", later ? "async" : "early", 5);
    http_req_resume(req);
    return NULL;
}

static void h_async(struct http_req *req)
{
    pthread_t t;
    http_req_suspend(req);
    pthread_create(&t, NULL, reply_async, req);
    pthread_detach(t);
}

/* The other thread replies and resumes before this handler returns (and, with
 * ?order=before, even before it calls http_req_suspend); ?order=race lets them race. */
static void h_async_early(struct http_req *req)
{
    const char *order = http_req_query(req, "order");
    bool before = order != NULL && strcmp(order, "before") == 0;
    bool race = order != NULL && strcmp(order, "race") == 0;
    if (!before) {
        http_req_suspend(req);
    }
    pthread_t t;
    pthread_create(&t, NULL, reply_async, req);
    if (race) {
        pthread_detach(t);
        return;
    }
    pthread_join(t, NULL);
    if (before) {
        http_req_suspend(req);
    }
}

/* Parked requests: the test resumes them. */
#define MAX_PARKED 256
static pthread_mutex_t g_park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_req *g_parked[MAX_PARKED];
static int g_nparked;

static void h_park(struct http_req *req)
{
    http_req_suspend(req);
    pthread_mutex_lock(&g_park_lock);
    if (g_nparked < MAX_PARKED) {
        g_parked[g_nparked++] = req;
    }
    pthread_mutex_unlock(&g_park_lock);
}

static bool wait_parked(int n, int timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&g_park_lock);
        int have = g_nparked;
        pthread_mutex_unlock(&g_park_lock);
        if (have >= n || dk_mono_ms() > until) {
            return have >= n;
        }
        dk_sleep_ms(2);
    }
}

/* Replies to every parked request with its ?i= and resumes it, from the calling thread.
 * After a stop only http_reply_* and http_req_resume are allowed: read_query false. */
static void resume_all_parked(bool read_query)
{
    pthread_mutex_lock(&g_park_lock);
    for (int i = 0; i < g_nparked; i++) {
        struct http_req *req = g_parked[i];
        const char *v = read_query ? http_req_query(req, "i") : NULL;
        char body[64];
        int n = snprintf(body, sizeof(body), "parked %s", v != NULL ? v : "-");
        http_reply(req, 200, "text/plain", body, (size_t)n);
        http_req_resume(req);
    }
    g_nparked = 0;
    pthread_mutex_unlock(&g_park_lock);
}

static int auth_check(void *ctx, const char *token)
{
    (void)ctx;
    return strcmp(token, "good") == 0 ? 0 : strcmp(token, "down") == 0 ? DK_EUNAVAIL : DK_EAUTH;
}

static const struct http_route g_routes[] = {
    {HTTP_GET, "/ping", h_ping, 0, 0},
    {HTTP_GET, "/items/{id}/sub/{name}", h_item, 0, 0},
    {HTTP_GET, "/q", h_query, 0, 0},
    {HTTP_POST, "/json", h_json, HTTP_JSON, 1024},
    {HTTP_POST, "/small", h_json, 0, 1024},
    {HTTP_GET, "/multi", h_ping, 0, 0},
    {HTTP_POST, "/multi", h_ping, 0, 0},
    {HTTP_GET, "/secret", h_ping, HTTP_AUTH, 0},
    {HTTP_POST, "/secret-json", h_json, HTTP_AUTH | HTTP_JSON, 0},
    {HTTP_GET, "/noreply", h_noreply, 0, 0},
    {HTTP_GET, "/headers", h_headers, 0, 0},
    {HTTP_GET, "/async", h_async, 0, 0},
    {HTTP_GET, "/async-early", h_async_early, 0, 0},
    {HTTP_GET, "/park", h_park, 0, 0},
};
#define NROUTES (sizeof(g_routes) / sizeof(g_routes[0]))

static struct http_server *start_server(void)
{
    struct http_config cfg = {.listen = "127.0.0.1:0", .threads = 2, .auth = auth_check};
    struct http_server *s = NULL;
    struct dk_err err;
    assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), 0);
    assert_non_null(s);
    assert_true(http_server_port(s) > 0);
    return s;
}

static bool wait_idle(struct http_server *s)
{
    int64_t until = dk_mono_ms() + 2000;
    while (http_server_inflight(s) != 0 && dk_mono_ms() < until) {
        dk_sleep_ms(1);
    }
    return http_server_inflight(s) == 0;
}

/* Asserts the API error format and returns nothing; code is the expected error code. */
static void assert_error(const struct httpc_resp *r, long status, const char *code)
{
    char ct[128];
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, status);
    assert_non_null(httpc_header(r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json");
    struct dk_err err;
    json_t *j = dk_json_parse(r->body.data, r->body.len, DK_JSON_MAX_DEPTH, &err);
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(j), 1);
    assert_int_equal(json_object_size(e), 2);
    assert_string_equal(dk_json_str(e, "code"), code);
    const char *msg = dk_json_str(e, "message");
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    json_decref(j);
}

/* ---- table-driven cases ---- */

struct tcase {
    struct httpc_call call;
    long status;
    const char *code;  /* the error code (then the whole error format is checked) */
    const char *body;  /* the exact body, when not an error */
    const char *hname; /* a response header to check */
    const char *hvalue;
};

static void run_cases(const struct tcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct tcase *t = &cases[i];
        struct httpc_resp r;
        char v[128];
        httpc_perform(&t->call, &r);
        if (r.status != t->status) {
            print_error("case %zu: %s %s\n", i, t->call.method ? t->call.method : "GET",
                        t->call.path);
        }
        if (t->code != NULL) {
            assert_error(&r, t->status, t->code);
        } else {
            assert_int_equal(r.rc, CURLE_OK);
            assert_int_equal(r.status, t->status);
        }
        if (t->body != NULL) {
            assert_string_equal(r.body.data != NULL ? r.body.data : "", t->body);
        }
        if (t->hname != NULL) {
            assert_non_null(httpc_header(&r, t->hname, v, sizeof(v)));
            assert_string_equal(v, t->hvalue);
        }
        /* every answer carries a new request id: "r" + 16 hex */
        static char last_id[32];
        assert_non_null(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
        assert_true(strlen(v) == 17 && v[0] == 'r' && strspn(v + 1, "0123456789abcdef") == 16);
        assert_string_not_equal(v, last_id);
        snprintf(last_id, sizeof(last_id), "%.17s", v);
        httpc_resp_free(&r);
    }
}

static char g_big[4000]; /* a body: 'x' * 4000, filled at setup */

#define RUN_CASES(c) run_cases((c), sizeof(c) / sizeof((c)[0]))
#define JSON_CT      "Content-Type: application/json"

/* ---- tests ---- */

static void test_http_routes_and_params(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/ping"}, 200, .body = "{\"ok\":true}", .hname = "Content-Type",
         .hvalue = "application/json"},
        {{.path = "/items/a%2Fb/sub/x%20y+z"}, 200, .body = "{\"id\":\"a/b\",\"name\":\"x y+z\"}"},
        {{.path = "/items/plain/sub/%C3%A9"}, 200,
         .body = "{\"id\":\"plain\",\"name\":\"\xc3\xa9\"}"},
        {{.path = "/items/%zz/sub/x"}, 400, .code = "invalid_request"},
        {{.path = "/items/a/sub/%4"}, 400, .code = "invalid_request"},
        {{.path = "/items/%00/sub/x"}, 400, .code = "invalid_request"},
        {{.path = "/items//sub/x"}, 404, .code = "not_found"},
        {{.path = "/items/a/sub/b/c"}, 404, .code = "not_found"},
        {{.path = "/items/a/sub"}, 404, .code = "not_found"},
        {{.path = "/ping/"}, 404, .code = "not_found"},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_query(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/q?name=a%20b%26c&limit=5"}, 200, .body = "{\"limit\":5,\"name\":\"a b&c\"}"},
        {{.path = "/q?name"}, 200, .body = "{\"limit\":10,\"name\":\"\"}"},
        {{.path = "/q"}, 200, .body = "{\"limit\":10,\"name\":null}"},
        {{.path = "/q?limit=-3"}, 422, .code = "invalid_field"},
        {{.path = "/q?limit=abc"}, 422, .code = "invalid_field"},
        {{.path = "/q?limit=1000"}, 422, .code = "invalid_field"},
        {{.path = "/q?limit=5x"}, 422, .code = "invalid_field"},
        {{.path = "/q?limit="}, 422, .code = "invalid_field"},
        {{.path = "/q?limit=%205"}, 422, .code = "invalid_field"},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_not_found_and_method(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/nope"}, 404, .code = "not_found"},
        {{.method = "DELETE", .path = "/ping"}, 405, .code = "method_not_allowed",
         .hname = "Allow", .hvalue = "GET, HEAD"},
        {{.method = "PUT", .path = "/multi", .body = "x"}, 405, .code = "method_not_allowed",
         .hname = "Allow", .hvalue = "GET, HEAD, POST"},
        {{.method = "POST", .path = "/multi", .body = "x"}, 200, .body = "{\"ok\":true}"},
        {{.method = "HEAD", .path = "/ping"}, 200, .body = "", .hname = "Content-Type",
         .hvalue = "application/json"},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_json_body(void **state)
{
    (void)state;
    static char deep[201];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    /* clang-format off */
    const struct tcase cases[] = {
        {{.method = "POST", .path = "/json", .headers = {JSON_CT "; charset=utf-8"},
          .body = "{\"a\":[1,2]}"}, 200, .body = "{\"got\":{\"a\":[1,2]},\"len\":11,\"nul\":true}"},
        {{.method = "POST", .path = "/json", .headers = {JSON_CT}, .body = "{\"a\":"}, 400,
         .code = "invalid_request"},
        {{.method = "POST", .path = "/json", .headers = {JSON_CT}, .body = "{\"a\":1,\"a\":2}"},
         400, .code = "invalid_request"},
        {{.method = "POST", .path = "/json", .headers = {JSON_CT}, .body = deep}, 400,
         .code = "invalid_request"},
        {{.method = "POST", .path = "/json", .headers = {"Content-Type: text/plain"}, .body = "{}"},
         415, .code = "unsupported_media_type"},
        {{.method = "POST", .path = "/json", .headers = {"Content-Type: application/jsonx"},
          .body = "{}"}, 415, .code = "unsupported_media_type"},
        {{.method = "POST", .path = "/json", .headers = {"Content-Type:"}, .body = "{}"}, 415,
         .code = "unsupported_media_type"},
        /* an empty body needs no content type and gives no JSON */
        {{.method = "POST", .path = "/json", .headers = {"Content-Type: text/plain"}, .body = ""},
         200, .body = "{\"got\":null,\"len\":0,\"nul\":true}"},
    };
    /* clang-format on */
    RUN_CASES(cases);
    struct httpc_resp r;
    httpc_perform(&cases[1].call, &r);
    assert_non_null(strstr(r.body.data, "malformed json")); /* the parser's message */
    httpc_resp_free(&r);
}

static void test_http_body_limits(void **state)
{
    (void)state;
    const char *big = g_big;
    const char *fits = "{\"got\":null,\"len\":1024,\"nul\":true}";
    /* clang-format off */
    const struct tcase cases[] = {
        {{.method = "POST", .path = "/small", .body = big, .body_len = 1025}, 413,
         .code = "payload_too_large"},
        {{.method = "POST", .path = "/small", .body = big, .body_len = 4000, .chunked = true}, 413,
         .code = "payload_too_large"},
        /* a JSON route: the declared length is checked before the type and the parse */
        {{.method = "POST", .path = "/json", .body = big, .body_len = 1025}, 413,
         .code = "payload_too_large"},
        {{.method = "POST", .path = "/small", .body = big, .body_len = 1024, .chunked = true}, 200,
         .body = fits},
        {{.method = "POST", .path = "/small", .body = big, .body_len = 1024}, 200, .body = fits},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_auth(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/secret"}, 401, .code = "unauthorized", .hname = "WWW-Authenticate",
         .hvalue = "Bearer"},
        {{.path = "/secret", .headers = {"Authorization: Basic Zm9vOmJhcg=="}}, 401,
         .code = "unauthorized", .hname = "WWW-Authenticate", .hvalue = "Bearer"},
        {{.path = "/secret", .headers = {"Authorization: Bearer"}}, 401, .code = "unauthorized",
         .hname = "WWW-Authenticate", .hvalue = "Bearer"},
        {{.path = "/secret", .headers = {"Authorization: Bearer two words"}}, 401,
         .code = "unauthorized"},
        {{.path = "/secret", .headers = {"Authorization: Bearer bad"}}, 401,
         .code = "unauthorized", .hname = "WWW-Authenticate", .hvalue = "Bearer"},
        {{.path = "/secret", .headers = {"Authorization: Bearer down"}}, 503,
         .code = "unavailable"},
        {{.path = "/secret", .headers = {"Authorization: Bearer good"}}, 200,
         .body = "{\"ok\":true}"},
        {{.path = "/secret", .headers = {"Authorization: bearer good"}}, 200,
         .body = "{\"ok\":true}"},
        /* auth comes before the body: a bad token on malformed JSON is a 401, not a 400 */
        {{.method = "POST", .path = "/secret-json", .body = "{",
          .headers = {"Authorization: Bearer bad", JSON_CT}}, 401, .code = "unauthorized"},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_keep_alive(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct httpc_resp r;
    /* answers on MHD's first call would close the connection (Debian's MHD 0.9.75) */
    /* clang-format off */
    const struct tcase calls[] = {
        {{.path = "/ping"}, .status = 200},
        {{.path = "/ping"}, .status = 200},
        {{.path = "/nope"}, .status = 404},
        {{.method = "DELETE", .path = "/ping"}, .status = 405},
        {{.method = "POST", .path = "/json", .headers = {JSON_CT}, .body = "{}"}, .status = 200},
        {{.method = "POST", .path = "/json", .headers = {JSON_CT}, .body = "{"}, .status = 400},
        {{.path = "/async"}, .status = 200},
        {{.path = "/secret"}, .status = 401},
        /* errors decided before the body: the body is read and dropped, the connection kept */
        {{.method = "POST", .path = "/nope", .body = "abc"}, .status = 404},
        {{.method = "POST", .path = "/secret-json", .headers = {JSON_CT}, .body = "{}"},
         .status = 401},
        {{.method = "POST", .path = "/small", .body = "abc", .chunked = true}, .status = 200},
        {{.path = "/ping"}, .status = 200},
        /* a body declared over the limit is not read: MHD closes after the answer */
        {{.method = "POST", .path = "/small", .body = g_big, .body_len = 2000}, .status = 413},
        {{.path = "/ping"}, .status = 200},
    };
    /* clang-format on */
    size_t n = sizeof(calls) / sizeof(calls[0]);
    for (size_t i = 0; i < n; i++) {
        httpc_perform_on(c, &calls[i].call, &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, calls[i].status);
        /* one connection for all but the last: every request reuses it */
        assert_int_equal(r.connects, i == 0 || i == n - 1 ? 1 : 0);
        httpc_resp_free(&r);
    }
    curl_easy_cleanup(c);
}

static void test_http_handler_replies(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/noreply"}, 500, .code = "internal"},
        {{.path = "/headers", .headers = {"X-Test: hello"}}, 201, .body = "hello",
         .hname = "X-Extra", .hvalue = "yes"},
        /* a header added after the reply still goes out */
        {{.path = "/headers", .headers = {"X-Test: hello"}}, 201, .body = "hello",
         .hname = "X-After", .hvalue = "too"},
        {{.path = "/headers", .headers = {"X-Test: hello"}}, 201, .body = "hello",
         .hname = "Content-Type", .hvalue = "text/plain"},
    };
    /* clang-format on */
    RUN_CASES(cases);
}

static void test_http_suspend_resume(void **state)
{
    (void)state;
    /* resumed later by another thread; before the handler returned; before it suspended */
    /* clang-format off */
    static const struct tcase cases[] = {
        {{.path = "/async"}, 200, .body = "async"},
        {{.path = "/async-early"}, 200, .body = "early"},
        {{.path = "/async-early?order=before"}, 200, .body = "early"},
        {{.path = "/async-early?order=race"}, 200, .body = "early"},
    };
    /* clang-format on */
    for (int round = 0; round < 20; round++) {
        RUN_CASES(cases);
    }
    assert_true(wait_idle(g_srv)); /* completion may come just after the client's last byte */
}

#define NMANY 200

/* Another thread: waits for n parked requests, then after delay_ms answers them all. */
struct resumer {
    struct http_server *srv;
    int n;
    int delay_ms;
    bool ok;
    int inflight_seen;
};

static void *resumer_main(void *arg)
{
    struct resumer *rs = arg;
    rs->ok = wait_parked(rs->n, 30000);
    rs->inflight_seen = http_server_inflight(rs->srv);
    dk_sleep_ms(rs->delay_ms);
    resume_all_parked(true);
    return NULL;
}

static void test_http_many_suspended(void **state)
{
    (void)state;
    CURLM *m = curl_multi_init();
    static CURL *easy[NMANY];
    static struct httpc_resp rs[NMANY];
    static struct httpc_upload ups[NMANY];
    static struct curl_slist *lists[NMANY];
    static char paths[NMANY][32];
    for (int i = 0; i < NMANY; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/park?i=%d", i);
        struct httpc_call c = {.path = paths[i]};
        easy[i] = curl_easy_init();
        httpc_resp_init(&rs[i]);
        lists[i] = httpc_prepare(easy[i], &c, &rs[i], &ups[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    struct resumer res = {.srv = g_srv, .n = NMANY};
    pthread_t t;
    pthread_create(&t, NULL, resumer_main, &res);
    int running = 1;
    int64_t until = dk_mono_ms() + 60000;
    while (running > 0 && dk_mono_ms() < until) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    pthread_join(t, NULL);
    assert_true(res.ok);
    assert_true(res.inflight_seen >= NMANY);
    for (int i = 0; i < NMANY; i++) {
        char want[64];
        snprintf(want, sizeof(want), "parked %d", i);
        httpc_finish(easy[i], &rs[i]);
        assert_int_equal(rs[i].status, 200);
        assert_string_equal(rs[i].body.data, want);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        curl_slist_free_all(lists[i]);
        httpc_resp_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    assert_true(wait_idle(g_srv)); /* completion may come just after the client's last byte */
}

static void test_http_large_header(void **state)
{
    (void)state;
    static char big[20 * 1024 + 16];
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 20 * 1024);
    struct httpc_resp r;
    struct httpc_call c = {.path = "/ping", .headers = {big}};
    httpc_perform(&c, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_in_range(r.status, 400, 499);
    httpc_resp_free(&r);
    c.headers[0] = NULL;
    httpc_perform(&c, &r); /* still serving */
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
}

/* ---- servers of their own ---- */

struct client {
    struct httpc_call call;
    struct httpc_resp r;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    httpc_perform(&cl->call, &cl->r);
    return NULL;
}

static void test_http_graceful_stop(void **state)
{
    (void)state;
    struct http_server *s = start_server();
    struct client cl = {.call = {.path = "/park?i=7", .port = http_server_port(s)}};
    pthread_t tc, tr;
    pthread_create(&tc, NULL, client_main, &cl);
    assert_true(wait_parked(1, 10000));
    assert_int_equal(http_server_inflight(s), 1);

    http_server_quiesce(s);
    struct httpc_resp r;
    struct httpc_call ping = {.path = "/ping", .port = cl.call.port};
    httpc_perform(&ping, &r);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT); /* no new connections once quiesced */
    httpc_resp_free(&r);

    struct resumer res = {.srv = s, .n = 1, .delay_ms = 200};
    pthread_create(&tr, NULL, resumer_main, &res);
    int64_t t0 = dk_mono_ms();
    http_server_stop(s, 5000);
    int64_t took = dk_mono_ms() - t0;
    pthread_join(tr, NULL);
    pthread_join(tc, NULL);
    assert_int_equal(cl.r.rc, CURLE_OK);
    assert_int_equal(cl.r.status, 200);
    assert_string_equal(cl.r.body.data, "parked 7");
    assert_true(took >= 150 && took < 4000);
    httpc_resp_free(&cl.r);
}

static void test_http_stop_answers_suspended_503(void **state)
{
    (void)state;
    struct http_server *s = start_server();
    struct client cl = {.call = {.path = "/park?i=1", .port = http_server_port(s)}};
    pthread_t tc;
    pthread_create(&tc, NULL, client_main, &cl);
    assert_true(wait_parked(1, 10000));
    int64_t t0 = dk_mono_ms();
    http_server_stop(s, 100);
    assert_true(dk_mono_ms() - t0 < 3000);
    pthread_join(tc, NULL);
    assert_error(&cl.r, 503, "unavailable");
    httpc_resp_free(&cl.r);
    /* the application finishes late: its reply is dropped and the request freed */
    resume_all_parked(false);
}

static void test_http_listen(void **state)
{
    (void)state;
    struct http_server *s = NULL;
    struct dk_err err;
    const char *bad[] = {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "localhost:80",
                         "[::1]80",  "[zz]:80",   "1.2.3:80",        NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_config cfg = {.listen = bad[i], .threads = 1};
        assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), DK_EINVAL);
        assert_null(s);
    }
    char taken[64];
    snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)httpc_port);
    struct http_config cfg = {.listen = taken, .threads = 1};
    assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), DK_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, "in use"));

    static const struct http_route bad_routes[][1] = {
        {{HTTP_GET, "nope", h_ping, 0, 0}},         {{HTTP_GET, "/a/{id", h_ping, 0, 0}},
        {{HTTP_GET, "/a/x{id}", h_ping, 0, 0}},     {{HTTP_GET, "/a/{}", h_ping, 0, 0}},
        {{HTTP_GET, "/a/{id}/{id}", h_ping, 0, 0}}, {{HTTP_GET, "/a", NULL, 0, 0}},
    };
    for (size_t i = 0; i < sizeof(bad_routes) / sizeof(bad_routes[0]); i++) {
        struct http_config any = {.listen = "127.0.0.1:0", .threads = 1};
        assert_int_equal(http_server_start(&any, bad_routes[i], 1, &s, &err), DK_EINVAL);
        assert_null(s);
    }
    /* an IPv6 literal (where the machine has IPv6) */
    struct http_config v6 = {.listen = "[::1]:0", .threads = 1};
    if (http_server_start(&v6, g_routes, NROUTES, &s, &err) == 0) {
        struct httpc_resp r;
        struct httpc_call c = {.path = "/ping", .host = "[::1]", .port = http_server_port(s)};
        httpc_perform(&c, &r);
        assert_int_equal(r.status, 200);
        httpc_resp_free(&r);
        http_server_stop(s, 1000);
    }
}

static int group_setup(void **state)
{
    (void)state;
    dk_log_set_level(DK_LOG_OFF);
    memset(g_big, 'x', sizeof(g_big));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_srv = start_server();
    httpc_port = http_server_port(g_srv);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    http_server_stop(g_srv, 1000);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_routes_and_params),
        cmocka_unit_test(test_http_query),
        cmocka_unit_test(test_http_not_found_and_method),
        cmocka_unit_test(test_http_json_body),
        cmocka_unit_test(test_http_body_limits),
        cmocka_unit_test(test_http_auth),
        cmocka_unit_test(test_http_keep_alive),
        cmocka_unit_test(test_http_handler_replies),
        cmocka_unit_test(test_http_suspend_resume),
        cmocka_unit_test(test_http_many_suspended),
        cmocka_unit_test(test_http_large_header),
        cmocka_unit_test(test_http_graceful_stop),
        cmocka_unit_test(test_http_stop_answers_suspended_503),
        cmocka_unit_test(test_http_listen),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
