/*
 * aifake: the fake LLM provider of the ai router's unit tests (see aifake.h).
 *
 * libmicrohttpd on 127.0.0.1:0 with one internal epoll thread. A request's answer is taken
 * from the script when its body is in, and copied into the connection, so a later script
 * cannot free it under a slow answer. Slow answers suspend their connection; a timer thread
 * resumes it when due, so a delayed answer never blocks the server. A cut answer is a chunked
 * body that stops without its final chunk: the client sees a broken connection.
 */
#include "aifake.h"
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/dktime.h"
#include "core/log.h"

struct slot {
    struct aifake_canned c;
    char *body;
    size_t len;
    int left;
};

/* One request at the fake; the answer is copied in, so a later script cannot free it. */
struct fconn {
    struct dk_buf up;
    bool picked, resumed;
    int status;
    char *body;
    size_t len, cut, pos;
    char retry_after[32];
    int64_t due;
    struct MHD_Connection *c;
};

#define MAX_SLOTS  16
#define MAX_SEEN   32
#define MAX_PARKED 64

static struct {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_t timer;
    pthread_mutex_t mu;
    bool quit;
    struct slot script[MAX_SLOTS];
    size_t nscript;
    struct aifake_seen seen[MAX_SEEN];
    size_t nseen;
    int unexpected; /* requests the script had no answer for */
    struct fconn *parked[MAX_PARKED];
    size_t nparked;
} g_fake;

static struct ai_http *g_http;

char *aifake_fixture(const char *name, size_t *len)
{
    return test_fixture("llm", name, len);
}

static void clear_locked(void)
{
    for (size_t i = 0; i < g_fake.nscript; i++) {
        dk_free(g_fake.script[i].body);
    }
    for (size_t i = 0; i < g_fake.nseen; i++) {
        dk_free(g_fake.seen[i].body);
        json_decref(g_fake.seen[i].json);
    }
    g_fake.nscript = g_fake.nseen = 0;
    g_fake.unexpected = 0;
}

void aifake_script(const struct aifake_canned *c, size_t n)
{
    assert_true(n <= MAX_SLOTS);
    struct slot next[MAX_SLOTS]; /* loaded before locking: a missing fixture fails the test */
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &next[i];
        s->c = c[i];
        if (c[i].file != NULL) {
            s->body = aifake_fixture(c[i].file, &s->len);
        } else {
            s->body = dk_strdup(c[i].body != NULL ? c[i].body : "");
            s->len = strlen(s->body);
        }
        s->left = c[i].times > 0 ? c[i].times : 1;
    }
    pthread_mutex_lock(&g_fake.mu);
    clear_locked();
    if (n > 0) {
        memcpy(g_fake.script, next, n * sizeof(next[0]));
    }
    g_fake.nscript = n;
    pthread_mutex_unlock(&g_fake.mu);
}

size_t aifake_nseen(void)
{
    pthread_mutex_lock(&g_fake.mu);
    size_t n = g_fake.nseen;
    pthread_mutex_unlock(&g_fake.mu);
    return n;
}

void aifake_wait_seen(size_t n)
{
    int64_t t0 = dk_mono_ms();
    while (aifake_nseen() < n) {
        if (dk_mono_ms() - t0 > 10000) {
            fail_msg("the fake saw %zu requests, want %zu", aifake_nseen(), n);
        }
        dk_sleep_ms(2);
    }
}

void aifake_assert_paths(const char *want)
{
    char got[1024] = "";
    size_t o = 0;
    pthread_mutex_lock(&g_fake.mu);
    for (size_t i = 0; i < g_fake.nseen && o < sizeof(got); i++) {
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i > 0 ? "," : "",
                              g_fake.seen[i].path);
    }
    int unexpected = g_fake.unexpected;
    pthread_mutex_unlock(&g_fake.mu);
    if (strcmp(got, want) != 0) {
        fail_msg("requests at the fake:\n got  %s\n want %s", got, want);
    }
    assert_int_equal(unexpected, 0);
}

static void copy_header(struct MHD_Connection *c, const char *name, char *dst, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, cap, "%s", v != NULL ? v : "");
}

/* Records the request and takes its answer from the script. MHD thread. */
static void pick(struct MHD_Connection *c, const char *url, struct fconn *st)
{
    pthread_mutex_lock(&g_fake.mu);
    if (g_fake.nseen < MAX_SEEN) {
        struct aifake_seen *s = &g_fake.seen[g_fake.nseen++];
        snprintf(s->path, sizeof(s->path), "%s", url);
        copy_header(c, "Authorization", s->auth, sizeof(s->auth));
        copy_header(c, "x-api-key", s->api_key, sizeof(s->api_key));
        copy_header(c, "anthropic-version", s->version, sizeof(s->version));
        copy_header(c, "Content-Type", s->ctype, sizeof(s->ctype));
        s->body = dk_strdup(st->up.data != NULL ? st->up.data : "");
        s->json = json_loads(s->body, 0, NULL);
        s->at = dk_mono_ms();
    }
    struct slot *hit = NULL;
    for (size_t i = 0; i < g_fake.nscript && hit == NULL; i++) {
        struct slot *s = &g_fake.script[i];
        if (s->left > 0 && (s->c.path == NULL || strcmp(s->c.path, url) == 0)) {
            hit = s;
        }
    }
    if (hit != NULL) {
        hit->left--;
        st->status = hit->c.status;
        st->body = dk_malloc(hit->len + 1);
        memcpy(st->body, hit->body, hit->len + 1);
        st->len = hit->len;
        st->cut = hit->c.cut;
        snprintf(st->retry_after, sizeof(st->retry_after), "%s",
                 hit->c.retry_after != NULL ? hit->c.retry_after : "");
        st->due = hit->c.delay_ms > 0 ? dk_mono_ms() + hit->c.delay_ms : 0;
    } else {
        g_fake.unexpected++;
        st->status = 500;
        st->body = dk_strdup("{\"error\":{\"message\":\"the fake has no answer\","
                             "\"type\":\"server_error\"}}");
        st->len = strlen(st->body);
    }
    pthread_mutex_unlock(&g_fake.mu);
}

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct fconn *st = cls;
    if (st->pos >= st->cut) {
        return MHD_CONTENT_READER_END_WITH_ERROR; /* no final chunk: the stream breaks */
    }
    size_t n = st->cut - st->pos < max ? st->cut - st->pos : max;
    memcpy(buf, st->body + st->pos, n);
    st->pos += n;
    return (ssize_t)n;
}

static enum MHD_Result answer(struct MHD_Connection *c, struct fconn *st)
{
    struct MHD_Response *r;
    if (st->cut > 0) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, cut_reader, st, NULL);
    } else {
        r = MHD_create_response_from_buffer(st->len, st->body, MHD_RESPMEM_MUST_COPY);
    }
    bool sse = strncmp(st->body, "data:", 5) == 0 || strncmp(st->body, "event:", 6) == 0;
    MHD_add_response_header(r, "Content-Type", sse ? "text/event-stream" : "application/json");
    if (st->retry_after[0] != '\0') {
        MHD_add_response_header(r, "Retry-After", st->retry_after);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)st->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)method;
    (void)version;
    struct fconn *st = *con_cls;
    if (st == NULL) {
        st = dk_calloc(1, sizeof(*st));
        dk_buf_init(&st->up, 1u << 20);
        st->c = c;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        dk_buf_append(&st->up, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!st->picked) {
        st->picked = true;
        dk_buf_append(&st->up, "", 1);
        pick(c, url, st);
        if (st->due > 0) {
            pthread_mutex_lock(&g_fake.mu);
            if (g_fake.nparked < MAX_PARKED) {
                g_fake.parked[g_fake.nparked++] = st;
                MHD_suspend_connection(c);
                pthread_mutex_unlock(&g_fake.mu);
                return MHD_YES;
            }
            pthread_mutex_unlock(&g_fake.mu);
        }
    }
    return answer(c, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct fconn *st = *con_cls;
    if (st != NULL) {
        dk_buf_free(&st->up);
        dk_free(st->body);
        dk_free(st);
        *con_cls = NULL;
    }
}

/* Resumes parked connections when due (all of them when quitting). */
static void *timer_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct MHD_Connection *due[MAX_PARKED];
        size_t n = 0;
        int64_t now = dk_mono_ms();
        pthread_mutex_lock(&g_fake.mu);
        for (size_t i = 0; i < g_fake.nparked;) {
            struct fconn *st = g_fake.parked[i];
            if (g_fake.quit || st->due <= now) {
                st->resumed = true;
                due[n++] = st->c;
                g_fake.parked[i] = g_fake.parked[--g_fake.nparked];
            } else {
                i++;
            }
        }
        bool done = g_fake.quit && g_fake.nparked == 0;
        pthread_mutex_unlock(&g_fake.mu);
        for (size_t i = 0; i < n; i++) {
            MHD_resume_connection(due[i]);
        }
        if (done) {
            return NULL;
        }
        dk_sleep_ms(5);
    }
}

int aifake_start(void)
{
    dk_log_set_level(DK_LOG_OFF);
    pthread_mutex_init(&g_fake.mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_fake.d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
                                NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (g_fake.d == NULL) {
        return -1;
    }
    g_fake.port = MHD_get_daemon_info(g_fake.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    if (pthread_create(&g_fake.timer, NULL, timer_main, NULL) != 0) {
        return -1;
    }
    struct dk_err err = {0};
    g_http = ai_http_start(NULL, &err);
    return g_http != NULL ? 0 : -1;
}

void aifake_stop(void)
{
    ai_http_stop(g_http);
    pthread_mutex_lock(&g_fake.mu);
    g_fake.quit = true;
    pthread_mutex_unlock(&g_fake.mu);
    pthread_join(g_fake.timer, NULL);
    dk_sleep_ms(50);
    MHD_stop_daemon(g_fake.d);
    pthread_mutex_lock(&g_fake.mu);
    clear_locked();
    pthread_mutex_unlock(&g_fake.mu);
    pthread_mutex_destroy(&g_fake.mu);
}

struct ai_http *aifake_http(void)
{
    return g_http;
}

bool aifake_http_idle(void)
{
    int64_t t0 = dk_mono_ms();
    while (ai_http_inflight(g_http) > 0 && dk_mono_ms() - t0 < 2000) {
        dk_sleep_ms(1);
    }
    return ai_http_inflight(g_http) == 0;
}

uint16_t aifake_port(void)
{
    return g_fake.port;
}

void aifake_waiter_init(struct aifake_waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    dk_buf_init(&w->deltas, 1u << 20);
}

void aifake_waiter_free(struct aifake_waiter *w)
{
    ai_result_free(w->res);
    dk_buf_free(&w->deltas);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void aifake_on_done(void *arg, struct ai_result *res)
{
    struct aifake_waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->dones++;
    ai_result_free(w->res);
    w->res = res;
    w->off_loop |= !ai_http_on_loop(g_http);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int aifake_on_delta(void *arg, const char *text, size_t len)
{
    struct aifake_waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    dk_buf_append(&w->deltas, text, len);
    w->ndeltas++;
    w->off_loop |= !ai_http_on_loop(g_http);
    int stop = w->stop_after > 0 && w->ndeltas >= w->stop_after;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

struct ai_result *aifake_wait(struct aifake_waiter *w, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&w->mu);
    while (w->dones == 0 && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
    }
    int dones = w->dones;
    bool off = w->off_loop;
    pthread_mutex_unlock(&w->mu);
    if (dones != 1) {
        fail_msg("done called %d times, want once within %lld ms", dones, (long long)ms);
    }
    assert_false(off);
    assert_non_null(w->res);
    dk_buf_append(&w->deltas, "", 1);
    w->deltas.len--;
    return w->res;
}

const char *aifake_deltas(const struct aifake_waiter *w)
{
    return w->deltas.data != NULL ? w->deltas.data : "";
}

struct ai_result *aifake_run(struct ai_router *r, const struct ai_request *req,
                             struct aifake_waiter *w)
{
    aifake_waiter_free(w);
    aifake_waiter_init(w);
    ai_router_submit(r, req, aifake_on_delta, aifake_on_done, w, NULL);
    return aifake_wait(w, 20000);
}

static const struct ai_message MSGS[] = {
    {"system", "You answer for a tea shop."},
    {"user", "Do you have green tea?"},
};

struct ai_request aifake_request(void)
{
    struct ai_request q = {
        .task = AI_TASK_REPLY, .messages = MSGS, .nmessages = 2, .temperature = -1};
    return q;
}

static void add(struct ai_config *cfg, const char *name, enum ai_wire w, const char *base,
                const char *key, const char *model, bool on_premises)
{
    struct ai_provider_config p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.wire = w;
    p.flavor = on_premises ? AI_FLAVOR_COMPAT : AI_FLAVOR_OPENAI;
    snprintf(p.base_url, sizeof(p.base_url), "http://127.0.0.1:%u%s", (unsigned)g_fake.port, base);
    snprintf(p.api_key, sizeof(p.api_key), "%s", key);
    snprintf(p.model, sizeof(p.model), "%s", model);
    p.on_premises = on_premises;
    assert_int_equal(ai_config_add_provider(cfg, &p, NULL), 0);
}

void aifake_config(struct ai_config *cfg, bool local_llm, const char *routes)
{
    ai_config_defaults(cfg);
    add(cfg, "openai", AI_WIRE_OPENAI, "/v1", "sk-test", "gpt-test", false);
    add(cfg, "anthropic", AI_WIRE_ANTHROPIC, "", "ak-test", "claude-test", false);
    if (local_llm) {
        add(cfg, "local_llm", AI_WIRE_OPENAI, "/llm/v1", "", "llama-test", true);
    }
    ai_config_default_routes(cfg);
    if (routes != NULL) {
        assert_int_equal(ai_config_parse_routes(cfg, routes, NULL), 0);
    }
    cfg->backoff_ms = 10;
    cfg->max_backoff_ms = 2000;
    cfg->timeout_ms = 5000;
    cfg->deadline_ms = 20000;
    cfg->breaker_failures = 100;
}

/* the count drops just after done returns */
void aifake_router_free(struct ai_router *r)
{
    int64_t t0 = dk_mono_ms();
    while (ai_router_inflight(r) > 0 && dk_mono_ms() - t0 < 5000) {
        dk_sleep_ms(1);
    }
    assert_int_equal(ai_router_inflight(r), 0);
    ai_router_free(r);
}

void aifake_assert_attempts(const struct ai_result *res, const char *want)
{
    char got[1024] = "";
    size_t o = 0;
    for (size_t i = 0; i < res->nattempts && o < sizeof(got); i++) {
        const struct ai_attempt *a = &res->attempts[i];
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s:%s:%d", i > 0 ? "," : "", a->provider,
                              ai_outcome_name(a->outcome), a->http_status);
    }
    if (strcmp(got, want) != 0) {
        fail_msg("attempts:\n got  %s\n want %s\n (last error: %s)", got, want, res->reply.error);
    }
}

const struct aifake_seen *aifake_seen(size_t i)
{
    if (i >= aifake_nseen()) {
        fail_msg("the fake saw %zu requests, not %zu", aifake_nseen(), i + 1);
    }
    return &g_fake.seen[i];
}

json_t *aifake_seen_json(size_t i)
{
    const struct aifake_seen *s = aifake_seen(i);
    if (s->json == NULL) {
        fail_msg("request %zu is not JSON: %.200s", i, s->body);
    }
    return s->json;
}

const char *aifake_seen_str(size_t i, const char *key)
{
    const char *v = json_string_value(json_object_get(aifake_seen_json(i), key));
    return v != NULL ? v : "(none)";
}

int aifake_group_setup(void **state)
{
    (void)state;
    return aifake_start();
}

int aifake_group_teardown(void **state)
{
    (void)state;
    aifake_stop();
    return 0;
}

int aifake_test_setup(void **state)
{
    aifake_waiter_init(*state);
    return 0;
}

int aifake_test_teardown(void **state)
{
    aifake_waiter_free(*state);
    return aifake_http_idle() ? 0 : -1;
}
