/*
 * Unit tests of the http module's streamed responses (http_stream_*): a real server on
 * 127.0.0.1:0 whose /stream handler suspends and hands the request to the test, producer
 * threads that write Server-Sent Events, and libcurl (or a raw socket) as the client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"
#include "httpc.h"

#include "core/dktime.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct http_server *g_srv;

/* ---- the server: /stream hands its suspended request to the test ---- */

#define MAX_REQS 256
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_req *g_reqs[MAX_REQS];
static int g_nreqs;

static void h_stream(struct http_req *req)
{
    http_req_suspend(req);
    pthread_mutex_lock(&g_lock);
    if (g_nreqs < MAX_REQS) {
        g_reqs[g_nreqs++] = req;
    }
    pthread_mutex_unlock(&g_lock);
}

static void h_ping(struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

/* Starts the stream before returning (headers go out at once) and leaves the rest to the
 * test: like a chat completion that answers 200 and then waits for the provider. */
static struct http_stream *g_inline;

static void h_inline(struct http_req *req)
{
    http_req_suspend(req);
    const char *msg = json_string_value(json_object_get(http_req_json(req), "msg"));
    char *copy = dk_strdup(msg != NULL ? msg : "?"); /* the request is not ours after start */
    struct http_stream *st = http_stream_start(req, 200, "text/event-stream");
    http_stream_sse(st, "start", copy);
    dk_free(copy);
    pthread_mutex_lock(&g_lock);
    g_inline = st;
    pthread_mutex_unlock(&g_lock);
}

static struct http_stream *take_inline(int timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        struct http_stream *st = g_inline;
        g_inline = NULL;
        pthread_mutex_unlock(&g_lock);
        if (st != NULL || dk_mono_ms() > until) {
            return st;
        }
        dk_sleep_ms(1);
    }
}

static const struct http_route g_routes[] = {
    {HTTP_GET, "/ping", h_ping, 0, 0},
    {HTTP_GET, "/stream", h_stream, 0, 0},
    {HTTP_POST, "/inline", h_inline, HTTP_JSON, 0},
};
#define NROUTES (sizeof(g_routes) / sizeof(g_routes[0]))

static struct http_server *start_server(void)
{
    struct http_config cfg = {.listen = "127.0.0.1:0", .threads = 2};
    struct http_server *s = NULL;
    struct dk_err err;
    assert_int_equal(http_server_start(&cfg, g_routes, NROUTES, &s, &err), 0);
    return s;
}

/* The oldest request waiting on /stream, or NULL after timeout_ms. */
static struct http_req *take_req(int timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    for (;;) {
        struct http_req *req = NULL;
        pthread_mutex_lock(&g_lock);
        if (g_nreqs > 0) {
            req = g_reqs[0];
            memmove(g_reqs, g_reqs + 1, (size_t)(g_nreqs - 1) * sizeof(g_reqs[0]));
            g_nreqs--;
        }
        pthread_mutex_unlock(&g_lock);
        if (req != NULL || dk_mono_ms() > until) {
            return req;
        }
        dk_sleep_ms(1);
    }
}

static bool wait_idle(struct http_server *s)
{
    int64_t until = dk_mono_ms() + 3000;
    while (http_server_inflight(s) != 0 && dk_mono_ms() < until) {
        dk_sleep_ms(1);
    }
    return http_server_inflight(s) == 0;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the client: libcurl with a write callback that counts chunks and events ---- */

struct sse_client {
    struct httpc_call call;
    CURL *c;         /* a handle to reuse, or NULL: one of its own, cleaned up at the end */
    int abort_after; /* hang up after this many events; 0 = never */
    struct httpc_resp r;
    int chunks;
    atomic_int events;
    int64_t first_ms;  /* when the first bytes arrived */
    int64_t closed_ms; /* when the transfer and (without c) the connection were over */
};

static int count_events(const struct dk_buf *b)
{
    int n = 0;
    for (const char *p = b->data; p != NULL && (p = strstr(p, "\n\n")) != NULL; p += 2) {
        n++;
    }
    return n;
}

static size_t on_sse(char *p, size_t size, size_t n, void *ud)
{
    struct sse_client *cl = ud;
    if (cl->chunks++ == 0) {
        cl->first_ms = dk_mono_ms();
    }
    if (dk_buf_append(&cl->r.body, p, size * n) != 0) {
        return 0;
    }
    int events = count_events(&cl->r.body);
    atomic_store(&cl->events, events);
    return cl->abort_after > 0 && events >= cl->abort_after ? 0 : size * n;
}

static struct curl_slist *sse_prepare(CURL *c, struct sse_client *cl)
{
    struct httpc_upload up;
    httpc_resp_init(&cl->r);
    atomic_init(&cl->events, 0);
    cl->chunks = 0;
    struct curl_slist *list = httpc_prepare(c, &cl->call, &cl->r, &up);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, cl);
    return list;
}

static void sse_perform(struct sse_client *cl)
{
    CURL *c = cl->c != NULL ? cl->c : curl_easy_init();
    struct curl_slist *list = sse_prepare(c, cl);
    cl->r.rc = curl_easy_perform(c);
    httpc_finish(c, &cl->r);
    curl_slist_free_all(list);
    if (cl->c == NULL) {
        curl_easy_cleanup(c);
    }
    cl->closed_ms = dk_mono_ms();
}

static void *client_main(void *arg)
{
    sse_perform(arg);
    return NULL;
}

static bool wait_events(struct sse_client *cl, int n, int timeout_ms)
{
    int64_t until = dk_mono_ms() + timeout_ms;
    while (atomic_load(&cl->events) < n && dk_mono_ms() < until) {
        dk_sleep_ms(1);
    }
    return atomic_load(&cl->events) >= n;
}

static void assert_header(const struct httpc_resp *r, const char *name, const char *want)
{
    char v[128];
    assert_non_null(httpc_header(r, name, v, sizeof(v)));
    if (want != NULL) {
        assert_string_equal(v, want);
    }
}

/* ---- producers ---- */

/* 100 events with small delays, one in three named; then the end. */
static void *produce_100(void *arg)
{
    (void)arg;
    struct http_req *req = take_req(10000);
    if (req == NULL) {
        return NULL;
    }
    http_reply_header(req, "X-Extra", "yes");
    struct http_stream *st = http_stream_start(req, 200, "text/event-stream");
    for (int i = 0; i < 100; i++) {
        char data[32];
        snprintf(data, sizeof(data), "n=%d", i);
        int rc = http_stream_sse(st, i % 3 == 0 ? "tick" : NULL, data);
        if (rc != 0) {
            break;
        }
        dk_sleep_ms(1 + i % 3);
    }
    http_stream_end(st);
    return NULL;
}

static void expect_100(struct dk_buf *b)
{
    dk_buf_init(b, 1u << 20);
    for (int i = 0; i < 100; i++) {
        if (i % 3 == 0) {
            dk_buf_puts(b, "event: tick\n");
        }
        dk_buf_printf(b, "data: n=%d\n\n", i);
    }
}

/* ---- tests ---- */

static void test_http_stream_events_in_order_keep_alive(void **state)
{
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, produce_100, NULL);
    CURL *c = curl_easy_init();
    struct sse_client cl = {.call = {.path = "/stream"}, .c = c};
    sse_perform(&cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.r.rc, CURLE_OK);
    assert_int_equal(cl.r.status, 200);
    struct dk_buf want;
    expect_100(&want);
    assert_string_equal(cl.r.body.data, want.data);
    dk_buf_free(&want);
    assert_header(&cl.r, "Content-Type", "text/event-stream");
    assert_header(&cl.r, "Transfer-Encoding", "chunked");
    assert_header(&cl.r, "Cache-Control", "no-cache");
    assert_header(&cl.r, "X-Extra", "yes");
    char id[32];
    assert_non_null(httpc_header(&cl.r, "X-Request-Id", id, sizeof(id)));
    assert_int_equal(strlen(id), 17);
    /* sent as written, not buffered up to the end */
    assert_true(cl.chunks >= 20);
    httpc_resp_free(&cl.r);

    /* the connection stays open for the next request */
    struct httpc_resp r;
    struct httpc_call ping = {.path = "/ping"};
    httpc_perform_on(c, &ping, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    httpc_resp_free(&r);
    /* and serves another stream */
    pthread_create(&t, NULL, produce_100, NULL);
    sse_perform(&cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.r.status, 200);
    assert_int_equal(count_events(&cl.r.body), 100);
    httpc_finish(c, &cl.r);
    assert_int_equal(cl.r.connects, 0);
    httpc_resp_free(&cl.r);
    curl_easy_cleanup(c);
    assert_true(wait_idle(g_srv));
}

static void *produce_inline(void *arg)
{
    int *rc = arg;
    struct http_stream *st = take_inline(10000);
    if (st == NULL) {
        return NULL;
    }
    dk_sleep_ms(20);
    *rc = http_stream_sse(st, NULL, "more");
    http_stream_end(st);
    return NULL;
}

static void test_http_stream_started_by_handler(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    for (int round = 0; round < 3; round++) {
        int rc = 1;
        pthread_t t;
        pthread_create(&t, NULL, produce_inline, &rc);
        struct sse_client cl = {.c = c,
                                .call = {.method = "POST",
                                         .path = "/inline",
                                         .headers = {"Content-Type: application/json"},
                                         .body = "{\"msg\":\"hi\\nthere\"}"}};
        sse_perform(&cl);
        pthread_join(t, NULL);
        assert_int_equal(cl.r.rc, CURLE_OK);
        assert_int_equal(cl.r.status, 200);
        assert_int_equal(rc, 0);
        assert_string_equal(cl.r.body.data,
                            "event: start\ndata: hi\ndata: there\n\ndata: more\n\n");
        assert_int_equal(cl.r.connects, round == 0 ? 1 : 0); /* keep-alive after a POST */
        httpc_resp_free(&cl.r);
    }
    curl_easy_cleanup(c);
}

static void *produce_framing(void *arg)
{
    int *rcs = arg;
    struct http_req *req = take_req(10000);
    if (req == NULL) {
        return NULL;
    }
    http_reply_header(req, "Cache-Control", "no-store");
    struct http_stream *st = http_stream_start(req, 201, "text/event-stream; charset=utf-8");
    rcs[0] = http_stream_sse(st, "msg", "a\nb\r\nc\rd");
    rcs[1] = http_stream_sse(st, NULL, "");
    rcs[2] = http_stream_sse(st, NULL, NULL);
    rcs[3] = http_stream_sse(st, NULL, "x\n");
    rcs[4] = http_stream_sse(st, "bad\nname", "never sent");
    rcs[5] = http_stream_write(st, ": comment\n\n", 11);
    rcs[6] = http_stream_write(st, "", 0);
    rcs[7] = http_stream_sse(st, "", " lead");
    http_stream_end(st);
    return NULL;
}

static void test_http_stream_sse_framing(void **state)
{
    (void)state;
    int rcs[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    pthread_t t;
    pthread_create(&t, NULL, produce_framing, rcs);
    struct sse_client cl = {.call = {.path = "/stream"}};
    sse_perform(&cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.r.status, 201);
    assert_string_equal(cl.r.body.data, "event: msg\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
                                        "data: \n\n"
                                        "data: \n\n"
                                        "data: x\ndata: \n\n"
                                        ": comment\n\n"
                                        "event: \ndata:  lead\n\n");
    int want[8] = {0, 0, 0, 0, DK_EINVAL, 0, 0, 0};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(rcs[i], want[i]);
    }
    assert_header(&cl.r, "Content-Type", "text/event-stream; charset=utf-8");
    assert_header(&cl.r, "Cache-Control", "no-store"); /* the application's, alone */
    assert_null(strstr(cl.r.headers.data, "no-cache"));
    httpc_resp_free(&cl.r);
}

struct idle_run {
    double cpu;        /* process CPU seconds over the idle gap */
    int64_t second_ms; /* when the second event was written */
    int rc_first;
    int rc_second;
};

static void *produce_with_gap(void *arg)
{
    struct idle_run *run = arg;
    struct http_req *req = take_req(10000);
    if (req == NULL) {
        return NULL;
    }
    struct http_stream *st = http_stream_start(req, 200, "text/event-stream");
    run->rc_first = http_stream_sse(st, NULL, "first");
    dk_sleep_ms(100); /* sent and parked by then */
    double c0 = cpu_seconds();
    dk_sleep_ms(1000);
    run->cpu = cpu_seconds() - c0;
    run->second_ms = dk_mono_ms();
    run->rc_second = http_stream_sse(st, NULL, "second");
    http_stream_end(st);
    return NULL;
}

static void test_http_stream_idle_cpu(void **state)
{
    (void)state;
    struct idle_run run = {.cpu = -1, .rc_first = 1, .rc_second = 1};
    pthread_t t;
    pthread_create(&t, NULL, produce_with_gap, &run);
    struct sse_client cl = {.call = {.path = "/stream"}};
    sse_perform(&cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.r.rc, CURLE_OK);
    assert_string_equal(cl.r.body.data, "data: first\n\ndata: second\n\n");
    assert_int_equal(run.rc_first, 0);
    assert_int_equal(run.rc_second, 0);
    /* the first event arrived before the gap, and nobody spun while waiting */
    assert_true(cl.first_ms < run.second_ms - 900);
    print_message("idle cpu over 1 s: %.3f s\n", run.cpu);
    assert_true(run.cpu >= 0 && run.cpu < 0.2);
    httpc_resp_free(&cl.r);
}

struct cancel_run {
    struct sse_client *cl;
    bool idle;   /* wait without writing; poll http_stream_closed */
    int rc;      /* the write that noticed, or 0 */
    bool closed; /* http_stream_closed at the end */
    int64_t noticed_ms;
    int writes;
};

static void *produce_until_cancel(void *arg)
{
    struct cancel_run *run = arg;
    struct http_req *req = take_req(10000);
    if (req == NULL) {
        return NULL;
    }
    struct http_stream *st = http_stream_start(req, 200, "text/event-stream");
    int64_t until = dk_mono_ms() + 10000;
    int i = 0;
    while (dk_mono_ms() < until) {
        if (run->idle && i >= 3) {
            if (http_stream_closed(st)) {
                run->noticed_ms = dk_mono_ms();
                run->rc = http_stream_sse(st, NULL, "late");
                break;
            }
            dk_sleep_ms(5);
            continue;
        }
        char data[32];
        snprintf(data, sizeof(data), "n=%d", i++);
        int rc = http_stream_sse(st, NULL, data);
        if (rc != 0) {
            run->noticed_ms = dk_mono_ms();
            run->rc = rc;
            break;
        }
        run->writes++;
        dk_sleep_ms(10);
    }
    run->closed = http_stream_closed(st);
    http_stream_end(st);
    return NULL;
}

static void check_cancel(bool idle)
{
    struct sse_client cl = {.call = {.path = "/stream"}, .abort_after = 3};
    struct cancel_run run = {.cl = &cl, .idle = idle};
    pthread_t t;
    pthread_create(&t, NULL, produce_until_cancel, &run);
    sse_perform(&cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.r.rc, CURLE_WRITE_ERROR); /* the client hung up */
    assert_int_equal(run.rc, DK_ECANCELED);
    assert_true(run.closed);
    int64_t late = run.noticed_ms - cl.closed_ms;
    print_message("%s producer noticed the hang-up after %lld ms\n", idle ? "idle" : "busy",
                  (long long)late);
    assert_true(late < 1000);
    assert_true(wait_idle(g_srv)); /* the request was completed and freed */
    httpc_resp_free(&cl.r);
}

static void test_http_stream_client_disconnect(void **state)
{
    (void)state;
    check_cancel(false);
    check_cancel(true);
}

#define NMANY   200
#define NROUNDS 10

struct many_run {
    int failures;
    int inflight_seen;
};

static void *produce_many(void *arg)
{
    struct many_run *run = arg;
    static struct http_stream *st[NMANY];
    for (int i = 0; i < NMANY; i++) {
        struct http_req *req = take_req(30000);
        if (req == NULL) {
            run->failures++;
            return NULL;
        }
        const char *v = http_req_query(req, "i");
        int idx = v != NULL ? (int)strtol(v, NULL, 10) : -1;
        if (idx < 0 || idx >= NMANY || st[idx] != NULL) {
            run->failures++;
            return NULL;
        }
        st[idx] = http_stream_start(req, 200, "text/event-stream");
    }
    run->inflight_seen = http_server_inflight(g_srv);
    for (int k = 0; k < NROUNDS; k++) {
        for (int i = 0; i < NMANY; i++) {
            char data[32];
            snprintf(data, sizeof(data), "%d:%d", i, k);
            run->failures += http_stream_sse(st[i], NULL, data) != 0;
        }
        dk_sleep_ms(5);
    }
    for (int i = 0; i < NMANY; i++) {
        http_stream_end(st[i]);
        st[i] = NULL;
    }
    return NULL;
}

static void test_http_stream_many_concurrent(void **state)
{
    (void)state;
    static struct sse_client cls[NMANY];
    static CURL *easy[NMANY];
    static struct curl_slist *lists[NMANY];
    static char paths[NMANY][32];
    CURLM *m = curl_multi_init();
    for (int i = 0; i < NMANY; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/stream?i=%d", i);
        memset(&cls[i], 0, sizeof(cls[i]));
        cls[i].call.path = paths[i];
        easy[i] = curl_easy_init();
        lists[i] = sse_prepare(easy[i], &cls[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    struct many_run run = {0};
    pthread_t t;
    pthread_create(&t, NULL, produce_many, &run);
    int running = 1;
    int64_t until = dk_mono_ms() + 60000;
    while (running > 0 && dk_mono_ms() < until) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    pthread_join(t, NULL);
    assert_int_equal(run.failures, 0);
    assert_true(run.inflight_seen >= NMANY);
    for (int i = 0; i < NMANY; i++) {
        struct dk_buf want;
        dk_buf_init(&want, 4096);
        for (int k = 0; k < NROUNDS; k++) {
            dk_buf_printf(&want, "data: %d:%d\n\n", i, k);
        }
        httpc_finish(easy[i], &cls[i].r);
        assert_int_equal(cls[i].r.status, 200);
        assert_string_equal(cls[i].r.body.data, want.data);
        dk_buf_free(&want);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        curl_slist_free_all(lists[i]);
        httpc_resp_free(&cls[i].r);
    }
    curl_multi_cleanup(m);
    assert_true(wait_idle(g_srv));
}

/* A client that asks and never reads, with a small receive buffer. */
static int lazy_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    static const char get[] = "GET /stream HTTP/1.1\r\nHost: test\r\n\r\n";
    assert_int_equal(send(fd, get, sizeof(get) - 1, 0), (ssize_t)(sizeof(get) - 1));
    return fd;
}

static void test_http_stream_slow_client_bound(void **state)
{
    (void)state;
    int fd = lazy_client(http_server_port(g_srv));
    struct http_req *req = take_req(10000);
    assert_non_null(req);
    struct http_stream *st = http_stream_start(req, 200, "application/octet-stream");
    static char block[64 * 1024];
    memset(block, 'b', sizeof(block));
    size_t total = 0;
    int rc = 0;
    while (total < 64u * 1024 * 1024) {
        rc = http_stream_write(st, block, sizeof(block));
        if (rc != 0) {
            break;
        }
        total += sizeof(block);
        dk_sleep_ms(1); /* let MHD fill the socket buffers */
    }
    print_message("queued %zu bytes before the bound\n", total);
    assert_int_equal(rc, DK_ETOOBIG);
    assert_true(total >= HTTP_STREAM_MAX_PENDING);
    assert_false(http_stream_closed(st)); /* slow, not gone: the stream stays usable */
    /* the client gives up: the producer hears of it */
    close(fd);
    int64_t t0 = dk_mono_ms();
    while (dk_mono_ms() - t0 < 3000) {
        rc = http_stream_write(st, "x", 1);
        if (rc == DK_ECANCELED) {
            break;
        }
        dk_sleep_ms(10);
    }
    assert_int_equal(rc, DK_ECANCELED);
    assert_true(dk_mono_ms() - t0 < 1500);
    http_stream_end(st);
    assert_true(wait_idle(g_srv));
}

struct busy_run {
    struct http_stream *st;
    int ok_writes;
    int rc;
};

/* Writes until the stream refuses, so that the shutdown meets a busy producer. */
static void *produce_busy(void *arg)
{
    struct busy_run *run = arg;
    int64_t until = dk_mono_ms() + 10000;
    while (dk_mono_ms() < until) {
        run->rc = http_stream_sse(run->st, "busy", "payload");
        if (run->rc != 0) {
            break;
        }
        run->ok_writes++;
        dk_sleep_ms(2);
    }
    return NULL;
}

static void test_http_stream_server_stop(void **state)
{
    (void)state;
    struct http_server *s = start_server();
    uint16_t port = http_server_port(s);
    struct sse_client idle = {.call = {.path = "/stream", .port = port}};
    struct sse_client busy = {.call = {.path = "/stream", .port = port}};
    struct sse_client never = {.call = {.path = "/stream", .port = port}};
    pthread_t ti, tb, tn, tp;

    /* an idle stream (its connection suspended by the reader) */
    pthread_create(&ti, NULL, client_main, &idle);
    struct http_req *req = take_req(10000);
    assert_non_null(req);
    struct http_stream *st_idle = http_stream_start(req, 200, "text/event-stream");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(http_stream_sse(st_idle, NULL, "before stop"), 0);
    }
    /* a stream whose producer keeps writing */
    pthread_create(&tb, NULL, client_main, &busy);
    req = take_req(10000);
    assert_non_null(req);
    struct busy_run run = {.st = http_stream_start(req, 200, "text/event-stream")};
    pthread_create(&tp, NULL, produce_busy, &run);
    /* a request still suspended: answered 503, started only after the stop */
    pthread_create(&tn, NULL, client_main, &never);
    struct http_req *late = take_req(10000);
    assert_non_null(late);
    assert_true(wait_events(&idle, 3, 5000));
    assert_true(wait_events(&busy, 3, 5000));

    int64_t t0 = dk_mono_ms();
    http_server_stop(s, 100);
    int64_t took = dk_mono_ms() - t0;
    print_message("stop with open streams took %lld ms\n", (long long)took);
    assert_true(took < 3000);
    pthread_join(tp, NULL);
    pthread_join(ti, NULL);
    pthread_join(tb, NULL);
    pthread_join(tn, NULL);

    /* the streams were ended cleanly after their queued bytes */
    assert_int_equal(idle.r.rc, CURLE_OK);
    assert_int_equal(idle.r.status, 200);
    assert_string_equal(idle.r.body.data, "data: before stop\n\ndata: before stop\n\n"
                                          "data: before stop\n\n");
    assert_int_equal(busy.r.rc, CURLE_OK);
    assert_int_equal(run.rc, DK_ECANCELED);
    assert_int_equal(count_events(&busy.r.body), run.ok_writes);
    assert_int_equal(never.r.status, 503);
    /* the producers find out and let go; nothing of the server is touched any more */
    assert_true(http_stream_closed(st_idle));
    assert_int_equal(http_stream_sse(st_idle, NULL, "after stop"), DK_ECANCELED);
    http_stream_end(st_idle);
    http_stream_end(run.st);
    struct http_stream *st_late = http_stream_start(late, 200, "text/event-stream");
    assert_true(http_stream_closed(st_late));
    assert_int_equal(http_stream_write(st_late, "x", 1), DK_ECANCELED);
    http_stream_end(st_late);
    httpc_resp_free(&idle.r);
    httpc_resp_free(&busy.r);
    httpc_resp_free(&never.r);
}

static int group_setup(void **state)
{
    (void)state;
    dk_log_set_level(DK_LOG_OFF);
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
        cmocka_unit_test(test_http_stream_events_in_order_keep_alive),
        cmocka_unit_test(test_http_stream_sse_framing),
        cmocka_unit_test(test_http_stream_started_by_handler),
        cmocka_unit_test(test_http_stream_idle_cpu),
        cmocka_unit_test(test_http_stream_client_disconnect),
        cmocka_unit_test(test_http_stream_many_concurrent),
        cmocka_unit_test(test_http_stream_slow_client_bound),
        cmocka_unit_test(test_http_stream_server_stop),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
