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

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static void h_json(struct http_req *req)
{
    size_t len = 0;
    http_req_body(req, &len);
    json_t *j = http_req_json(req);
    http_reply_json(req, 200, json_pack("{s:O?, s:I}", "got", j, "len", (json_int_t)len));
}

static void h_small(struct http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    http_reply_json(req, 200,
                    json_pack("{s:I, s:b}", "len", (json_int_t)len, "nul", body[len] == '\0'));
}

static void h_multi(struct http_req *req)
{
    http_reply(req, 200, "text/plain", "multi", 5);
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

static void *reply_later(void *arg)
{
    struct http_req *req = arg;
    dk_sleep_ms(20);
    http_reply(req, 200, "text/plain", "async", 5);
    http_req_resume(req);
    return NULL;
}

static void h_async(struct http_req *req)
{
    pthread_t t;
    http_req_suspend(req);
    pthread_create(&t, NULL, reply_later, req);
    pthread_detach(t);
}

static void *reply_now(void *arg)
{
    struct http_req *req = arg;
    http_reply(req, 200, "text/plain", "early", 5);
    http_req_resume(req);
    return NULL;
}

/* The other thread replies and resumes before this handler returns (and, with
 * ?order=before, even before it calls http_req_suspend). */
static void h_async_early(struct http_req *req)
{
    const char *order = http_req_query(req, "order");
    bool before = order != NULL && strcmp(order, "before") == 0;
    if (!before) {
        http_req_suspend(req);
    }
    pthread_t t;
    pthread_create(&t, NULL, reply_now, req);
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

static int parked_count(void)
{
    pthread_mutex_lock(&g_park_lock);
    int n = g_nparked;
    pthread_mutex_unlock(&g_park_lock);
    return n;
}

static bool wait_parked(int n, int timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    while (parked_count() < n) {
        if (dk_mono_ms() > until) {
            return false;
        }
        dk_sleep_ms(2);
    }
    return true;
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
    if (strcmp(token, "good") == 0) {
        return 0;
    }
    if (strcmp(token, "down") == 0) {
        return DK_EUNAVAIL;
    }
    return DK_EAUTH;
}

static const struct http_route g_routes[] = {
    {HTTP_GET, "/ping", h_ping, 0, 0},
    {HTTP_GET, "/items/{id}/sub/{name}", h_item, 0, 0},
    {HTTP_GET, "/q", h_query, 0, 0},
    {HTTP_POST, "/json", h_json, HTTP_JSON, 1024},
    {HTTP_POST, "/small", h_small, 0, 1024},
    {HTTP_GET, "/multi", h_multi, 0, 0},
    {HTTP_POST, "/multi", h_multi, 0, 0},
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
    struct http_config cfg = {
        .listen = "127.0.0.1:0", .threads = 2, .auth = auth_check, .auth_ctx = NULL, .app = NULL};
    struct http_server *s = NULL;
    struct dk_err err;
    assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), 0);
    assert_non_null(s);
    assert_true(http_server_port(s) > 0);
    return s;
}

/* ---- the client ---- */

struct resp {
    long status;
    long connects;
    CURLcode rc;
    struct dk_buf body;
    struct dk_buf headers;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    return dk_buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    return dk_buf_append(&r->headers, p, size * n) == 0 ? size * n : 0;
}

struct upload {
    const char *data;
    size_t len;
    size_t pos;
};

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t want = size * n;
    /* small pieces, so that the body really arrives in several chunks */
    if (want > 700) {
        want = 700;
    }
    if (want > u->len - u->pos) {
        want = u->len - u->pos;
    }
    memcpy(p, u->data + u->pos, want);
    u->pos += want;
    return want;
}

struct call {
    const char *method; /* NULL = GET */
    const char *path;   /* with the query */
    const char *headers[4];
    const char *body;
    size_t body_len;
    bool chunked;
};

static void resp_init(struct resp *r)
{
    memset(r, 0, sizeof(*r));
    dk_buf_init(&r->body, 4u << 20);
    dk_buf_init(&r->headers, 1u << 20);
}

static void resp_free(struct resp *r)
{
    dk_buf_free(&r->body);
    dk_buf_free(&r->headers);
}

static uint16_t g_port;

/* Prepares c for the call; list and up must outlive the transfer. */
static struct curl_slist *prepare(CURL *c, const struct call *call, uint16_t port, struct resp *r,
                                  struct upload *up)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, call->path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (int i = 0; i < 4 && call->headers[i] != NULL; i++) {
        list = curl_slist_append(list, call->headers[i]);
    }
    const char *method = call->method != NULL ? call->method : "GET";
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (call->chunked) {
        up->data = call->body;
        up->len = call->body_len;
        up->pos = 0;
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, up);
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
    } else if (call->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)call->body_len);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        (strcmp(method, "POST") != 0 || call->body == NULL)) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    return list;
}

static void finish(CURL *c, struct resp *r)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
}

static void perform_on(CURL *c, uint16_t port, const struct call *call, struct resp *r)
{
    struct upload up;
    resp_init(r);
    struct curl_slist *list = prepare(c, call, port, r, &up);
    r->rc = curl_easy_perform(c);
    finish(c, r);
    curl_slist_free_all(list);
}

static void perform(const struct call *call, struct resp *r)
{
    CURL *c = curl_easy_init();
    perform_on(c, g_port, call, r);
    curl_easy_cleanup(c);
}

/* The value of a response header (last one wins), or NULL; copied into out. */
static const char *header(const struct resp *r, const char *name, char *out, size_t size)
{
    const char *res = NULL;
    size_t nlen = strlen(name);
    const char *p = r->headers.data;
    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        if (len > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vlen = len - (size_t)(v - p);
            if (vlen >= size) {
                vlen = size - 1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            res = out;
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    return res;
}

/* Asserts the API error format and returns nothing; code is the expected error code. */
static void assert_error(const struct resp *r, long status, const char *code)
{
    char ct[128];
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, status);
    assert_non_null(header(r, "Content-Type", ct, sizeof(ct)));
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

static json_t *body_json(const struct resp *r)
{
    struct dk_err err;
    json_t *j = dk_json_parse(r->body.data, r->body.len, DK_JSON_MAX_DEPTH, &err);
    assert_non_null(j);
    return j;
}

static void get(const char *path, struct resp *r)
{
    struct call call = {.path = path};
    perform(&call, r);
}

/* ---- tests ---- */

static void test_http_ping_and_request_id(void **state)
{
    (void)state;
    struct resp r1, r2;
    get("/ping", &r1);
    get("/ping", &r2);
    assert_int_equal(r1.rc, CURLE_OK);
    assert_int_equal(r1.status, 200);
    assert_string_equal(r1.body.data, "{\"ok\":true}");
    char id1[64], id2[64], ct[64];
    assert_non_null(header(&r1, "X-Request-Id", id1, sizeof(id1)));
    assert_non_null(header(&r2, "X-Request-Id", id2, sizeof(id2)));
    assert_int_equal(strlen(id1), 17);
    assert_int_equal(id1[0], 'r');
    assert_int_equal(strspn(id1 + 1, "0123456789abcdef"), 16);
    assert_string_not_equal(id1, id2);
    assert_string_equal(header(&r1, "Content-Type", ct, sizeof(ct)), "application/json");
    resp_free(&r1);
    resp_free(&r2);
}

static void test_http_path_params(void **state)
{
    (void)state;
    struct resp r;
    get("/items/a%2Fb/sub/x%20y+z", &r);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(dk_json_str(j, "id"), "a/b");
    assert_string_equal(dk_json_str(j, "name"), "x y+z");
    json_decref(j);
    resp_free(&r);

    get("/items/plain/sub/%C3%A9", &r);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(dk_json_str(j, "id"), "plain");
    assert_string_equal(dk_json_str(j, "name"), "\xc3\xa9");
    json_decref(j);
    resp_free(&r);

    const char *bad[] = {"/items/%zz/sub/x", "/items/a/sub/%4", "/items/%00/sub/x"};
    for (size_t i = 0; i < 3; i++) {
        get(bad[i], &r);
        assert_error(&r, 400, "invalid_request");
        resp_free(&r);
    }
    const char *missing[] = {"/items//sub/x", "/items/a/sub/b/c", "/items/a/sub", "/ping/"};
    for (size_t i = 0; i < 4; i++) {
        get(missing[i], &r);
        assert_error(&r, 404, "not_found");
        resp_free(&r);
    }
}

static void test_http_query(void **state)
{
    (void)state;
    struct resp r;
    get("/q?name=a%20b%26c&limit=5", &r);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(dk_json_str(j, "name"), "a b&c");
    int64_t limit = 0;
    assert_true(dk_json_int(j, "limit", &limit));
    assert_int_equal(limit, 5);
    json_decref(j);
    resp_free(&r);

    get("/q", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"limit\":10,\"name\":null}");
    resp_free(&r);

    const char *bad[] = {"/q?limit=abc", "/q?limit=1000", "/q?limit=0", "/q?limit=5x",
                         "/q?limit=", "/q?limit=%205"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        get(bad[i], &r);
        assert_error(&r, 422, "invalid_field");
        resp_free(&r);
    }
}

static void test_http_not_found_and_method(void **state)
{
    (void)state;
    struct resp r;
    char allow[64];
    get("/nope", &r);
    assert_error(&r, 404, "not_found");
    resp_free(&r);

    struct call del = {.method = "DELETE", .path = "/ping"};
    perform(&del, &r);
    assert_error(&r, 405, "method_not_allowed");
    assert_string_equal(header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
    resp_free(&r);

    struct call put = {.method = "PUT", .path = "/multi", .body = "x", .body_len = 1};
    perform(&put, &r);
    assert_error(&r, 405, "method_not_allowed");
    assert_string_equal(header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD, POST");
    resp_free(&r);

    struct call post = {.method = "POST", .path = "/multi", .body = "x", .body_len = 1};
    perform(&post, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "multi");
    resp_free(&r);

    struct call head = {.method = "HEAD", .path = "/ping"};
    perform(&head, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);
}

static void test_http_json_body(void **state)
{
    (void)state;
    struct resp r;
    const char *ok = "{\"a\":[1,2]}";
    struct call c1 = {.method = "POST",
                      .path = "/json",
                      .headers = {"Content-Type: application/json; charset=utf-8"},
                      .body = ok,
                      .body_len = strlen(ok)};
    perform(&c1, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"got\":{\"a\":[1,2]},\"len\":11}");
    resp_free(&r);

    const char *bad = "{\"a\":";
    struct call c2 = {.method = "POST",
                      .path = "/json",
                      .headers = {"Content-Type: application/json"},
                      .body = bad,
                      .body_len = strlen(bad)};
    perform(&c2, &r);
    assert_error(&r, 400, "invalid_request");
    assert_non_null(strstr(r.body.data, "malformed json"));
    resp_free(&r);

    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    struct call c3 = {.method = "POST",
                      .path = "/json",
                      .headers = {"Content-Type: application/json"},
                      .body = deep,
                      .body_len = sizeof(deep)};
    perform(&c3, &r);
    assert_error(&r, 400, "invalid_request");
    resp_free(&r);

    const char *types[] = {"Content-Type: text/plain", "Content-Type: application/jsonx", NULL};
    for (size_t i = 0; i < 3; i++) {
        struct call c4 = {.method = "POST",
                          .path = "/json",
                          .headers = {types[i] != NULL ? types[i] : "Content-Type:"},
                          .body = ok,
                          .body_len = strlen(ok)};
        perform(&c4, &r);
        assert_error(&r, 415, "unsupported_media_type");
        resp_free(&r);
    }

    /* an empty body is fine without a content type: no JSON */
    struct call c5 = {.method = "POST", .path = "/json", .body = "", .body_len = 0};
    perform(&c5, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"got\":null,\"len\":0}");
    resp_free(&r);
}

static void test_http_body_limits(void **state)
{
    (void)state;
    static char big[4000];
    memset(big, 'x', sizeof(big));
    struct resp r;

    struct call declared = {.method = "POST", .path = "/small", .body = big, .body_len = 2000};
    perform(&declared, &r);
    assert_error(&r, 413, "payload_too_large");
    resp_free(&r);

    struct call chunked = {
        .method = "POST", .path = "/small", .body = big, .body_len = 4000, .chunked = true};
    perform(&chunked, &r);
    assert_error(&r, 413, "payload_too_large");
    resp_free(&r);

    /* a JSON route: the declared length is checked before the type and the parse */
    struct call json = {.method = "POST", .path = "/json", .body = big, .body_len = 1025};
    perform(&json, &r);
    assert_error(&r, 413, "payload_too_large");
    resp_free(&r);

    struct call fits = {
        .method = "POST", .path = "/small", .body = big, .body_len = 1024, .chunked = true};
    perform(&fits, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"len\":1024,\"nul\":true}");
    resp_free(&r);
}

static void test_http_auth(void **state)
{
    (void)state;
    struct resp r;
    char www[64];
    struct {
        const char *header;
        long status;
        const char *code;
    } cases[] = {
        {NULL, 401, "unauthorized"},
        {"Authorization: Basic Zm9vOmJhcg==", 401, "unauthorized"},
        {"Authorization: Bearer", 401, "unauthorized"},
        {"Authorization: Bearer two words", 401, "unauthorized"},
        {"Authorization: Bearer bad", 401, "unauthorized"},
        {"Authorization: Bearer down", 503, "unavailable"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call c = {.path = "/secret", .headers = {cases[i].header}};
        perform(&c, &r);
        assert_error(&r, cases[i].status, cases[i].code);
        if (cases[i].status == 401) {
            assert_string_equal(header(&r, "WWW-Authenticate", www, sizeof(www)), "Bearer");
        }
        resp_free(&r);
    }
    struct call good = {.path = "/secret", .headers = {"Authorization: Bearer good"}};
    perform(&good, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    resp_free(&r);

    /* auth runs before the body is read: a bad token on a POST is a 401, not a 400 */
    struct call post = {.method = "POST",
                        .path = "/secret-json",
                        .headers = {"Authorization: Bearer bad", "Content-Type: application/json"},
                        .body = "{",
                        .body_len = 1};
    perform(&post, &r);
    assert_error(&r, 401, "unauthorized");
    resp_free(&r);
}

static void test_http_keep_alive(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct resp r;
    const char *json = "{\"k\":1}";
    struct call calls[] = {
        {.path = "/ping"},
        {.path = "/ping"},
        {.path = "/nope"},
        {.method = "DELETE", .path = "/ping"},
        {.method = "POST",
         .path = "/json",
         .headers = {"Content-Type: application/json"},
         .body = json,
         .body_len = strlen(json)},
        {.path = "/async"},
        {.path = "/secret"},
        {.path = "/ping"},
    };
    long expect[] = {200, 200, 404, 405, 200, 200, 401, 200};
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        perform_on(c, g_port, &calls[i], &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, expect[i]);
        /* one connection for all: every request after the first reuses it */
        assert_int_equal(r.connects, i == 0 ? 1 : 0);
        resp_free(&r);
    }
    curl_easy_cleanup(c);
}

static void test_http_no_reply_is_500(void **state)
{
    (void)state;
    struct resp r;
    get("/noreply", &r);
    assert_error(&r, 500, "internal");
    resp_free(&r);
}

static void test_http_reply_headers(void **state)
{
    (void)state;
    struct resp r;
    char v[64];
    struct call c = {.path = "/headers", .headers = {"X-Test: hello"}};
    perform(&c, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "hello");
    assert_string_equal(header(&r, "X-Extra", v, sizeof(v)), "yes");
    assert_string_equal(header(&r, "X-After", v, sizeof(v)), "too");
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "text/plain");
    resp_free(&r);
}

static void test_http_suspend_resume(void **state)
{
    (void)state;
    struct resp r;
    get("/async", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "async");
    resp_free(&r);
    /* resumed before the handler returned, and even before it suspended */
    const char *paths[] = {"/async-early", "/async-early?order=before"};
    for (int round = 0; round < 20; round++) {
        get(paths[round % 2], &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.data, "early");
        resp_free(&r);
    }
}

#define NMANY 200

struct resumer {
    int n;
    bool ok;
    struct http_server *srv;
    int inflight_seen;
};

static void *resumer_main(void *arg)
{
    struct resumer *rs = arg;
    rs->ok = wait_parked(rs->n, 30000);
    rs->inflight_seen = http_server_inflight(rs->srv);
    resume_all_parked(true);
    return NULL;
}

static struct http_server *g_srv;

static void test_http_many_suspended(void **state)
{
    (void)state;
    CURLM *m = curl_multi_init();
    static CURL *easy[NMANY];
    static struct resp rs[NMANY];
    static struct upload ups[NMANY];
    static struct curl_slist *lists[NMANY];
    static char paths[NMANY][32];
    for (int i = 0; i < NMANY; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/park?i=%d", i);
        struct call c = {.path = paths[i]};
        easy[i] = curl_easy_init();
        resp_init(&rs[i]);
        lists[i] = prepare(easy[i], &c, g_port, &rs[i], &ups[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    struct resumer res = {.n = NMANY, .srv = g_srv};
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
        finish(easy[i], &rs[i]);
        assert_int_equal(rs[i].status, 200);
        assert_string_equal(rs[i].body.data, want);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        curl_slist_free_all(lists[i]);
        resp_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    assert_int_equal(http_server_inflight(g_srv), 0);
}

static void test_http_large_header(void **state)
{
    (void)state;
    static char big[20 * 1024 + 16];
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 20 * 1024);
    big[7 + 20 * 1024] = '\0';
    struct resp r;
    struct call c = {.path = "/ping", .headers = {big}};
    perform(&c, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_in_range(r.status, 400, 499);
    resp_free(&r);
    get("/ping", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

/* ---- servers of their own ---- */

struct client {
    uint16_t port;
    const char *path;
    struct resp r;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    CURL *c = curl_easy_init();
    struct call call = {.path = cl->path};
    perform_on(c, cl->port, &call, &cl->r);
    curl_easy_cleanup(c);
    return NULL;
}

static void *resume_after(void *arg)
{
    int ms = *(int *)arg;
    dk_sleep_ms(ms);
    resume_all_parked(true);
    return NULL;
}

static void test_http_graceful_stop(void **state)
{
    (void)state;
    struct http_server *s = start_server();
    struct client cl = {.port = http_server_port(s), .path = "/park?i=7"};
    pthread_t tc, tr;
    pthread_create(&tc, NULL, client_main, &cl);
    assert_true(wait_parked(1, 10000));
    assert_int_equal(http_server_inflight(s), 1);

    http_server_quiesce(s);
    /* no new connections once quiesced */
    struct resp r;
    CURL *c = curl_easy_init();
    struct call ping = {.path = "/ping"};
    perform_on(c, cl.port, &ping, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    curl_easy_cleanup(c);
    resp_free(&r);

    int delay = 200;
    pthread_create(&tr, NULL, resume_after, &delay);
    int64_t t0 = dk_mono_ms();
    http_server_stop(s, 5000);
    int64_t took = dk_mono_ms() - t0;
    pthread_join(tr, NULL);
    pthread_join(tc, NULL);
    assert_int_equal(cl.r.rc, CURLE_OK);
    assert_int_equal(cl.r.status, 200);
    assert_string_equal(cl.r.body.data, "parked 7");
    assert_true(took >= 150 && took < 4000);
    resp_free(&cl.r);
}

static void test_http_stop_answers_suspended_503(void **state)
{
    (void)state;
    struct http_server *s = start_server();
    struct client cl = {.port = http_server_port(s), .path = "/park?i=1"};
    pthread_t tc;
    pthread_create(&tc, NULL, client_main, &cl);
    assert_true(wait_parked(1, 10000));
    int64_t t0 = dk_mono_ms();
    http_server_stop(s, 100);
    assert_true(dk_mono_ms() - t0 < 3000);
    pthread_join(tc, NULL);
    assert_error(&cl.r, 503, "unavailable");
    resp_free(&cl.r);
    /* the application finishes late: its reply is dropped and the request freed */
    resume_all_parked(false);
}

static void test_http_start_errors(void **state)
{
    (void)state;
    struct http_server *s = NULL;
    struct dk_err err;
    const char *bad[] = {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x",
                         "localhost:80", "[::1]80", "[zz]:80", "1.2.3:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_config cfg = {.listen = bad[i], .threads = 1};
        assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), DK_EINVAL);
        assert_null(s);
    }
    char taken[64];
    snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)g_port);
    struct http_config cfg = {.listen = taken, .threads = 1};
    assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), DK_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, taken));

    static const struct http_route bad_routes[][1] = {
        {{HTTP_GET, "nope", h_ping, 0, 0}},
        {{HTTP_GET, "/a/{id", h_ping, 0, 0}},
        {{HTTP_GET, "/a/x{id}", h_ping, 0, 0}},
        {{HTTP_GET, "/a/{}", h_ping, 0, 0}},
        {{HTTP_GET, "/a/{id}/{id}", h_ping, 0, 0}},
        {{HTTP_GET, "/a", NULL, 0, 0}},
    };
    for (size_t i = 0; i < sizeof(bad_routes) / sizeof(bad_routes[0]); i++) {
        struct http_config any = {.listen = "127.0.0.1:0", .threads = 1};
        assert_int_equal(http_server_start(&any, bad_routes[i], 1, &s, &err), DK_EINVAL);
        assert_null(s);
    }
}

static void test_http_ipv6(void **state)
{
    (void)state;
    struct http_server *s = NULL;
    struct dk_err err;
    struct http_config cfg = {.listen = "[::1]:0", .threads = 1};
    if (http_server_start(&cfg, g_routes, NROUTES, &s, &err) != 0) {
        skip(); /* no IPv6 on this machine */
    }
    char url[128];
    snprintf(url, sizeof(url), "http://[::1]:%u/ping", (unsigned)http_server_port(s));
    CURL *c = curl_easy_init();
    struct resp r;
    resp_init(&r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    finish(c, &r);
    assert_int_equal(r.status, 200);
    curl_easy_cleanup(c);
    resp_free(&r);
    http_server_stop(s, 1000);
}

static int group_setup(void **state)
{
    (void)state;
    dk_log_set_level(DK_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_srv = start_server();
    g_port = http_server_port(g_srv);
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
        cmocka_unit_test(test_http_ping_and_request_id),
        cmocka_unit_test(test_http_path_params),
        cmocka_unit_test(test_http_query),
        cmocka_unit_test(test_http_not_found_and_method),
        cmocka_unit_test(test_http_json_body),
        cmocka_unit_test(test_http_body_limits),
        cmocka_unit_test(test_http_auth),
        cmocka_unit_test(test_http_keep_alive),
        cmocka_unit_test(test_http_no_reply_is_500),
        cmocka_unit_test(test_http_reply_headers),
        cmocka_unit_test(test_http_suspend_resume),
        cmocka_unit_test(test_http_many_suspended),
        cmocka_unit_test(test_http_large_header),
        cmocka_unit_test(test_http_graceful_stop),
        cmocka_unit_test(test_http_stop_answers_suspended_503),
        cmocka_unit_test(test_http_start_errors),
        cmocka_unit_test(test_http_ipv6),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
