/*
 * bench/ai/router_overhead: what the AI router adds to one LLM call, measured in-process
 * against the fake LLM (tests/fake/fake_llm.mjs, run with --delay-ms 0).
 *
 * It starts an ai_http loop and a router whose reply route is one OpenAI-compatible provider
 * (the fake), then makes the same chat request three ways, in interleaved blocks so that drift
 * of the machine affects each alike:
 *   raw     ai_http_submit of a body built once; on_done only notes the time
 *   wire    the body built per call (ai_openai_chat_body) and the answer parsed
 *           (ai_openai_parse): what a caller without the router would do
 *   router  ai_router_submit of the request; done frees the result
 * Sequential latency is from the submit to the completion callback (on the loop thread), so
 * the difference of medians router − raw is the router's overhead per call (body, parse, the
 * call's state machine, the post to the loop, the result), and router − wire the state
 * machine alone. The CPU time of this process per call (every thread) is reported as well:
 * unlike latency it does not depend on how fast the fake answers.
 *
 * Throughput: --concurrency calls kept in flight (each completion submits the next one from
 * the loop thread) until --tput-calls have completed, for raw and router. With --fake-pid the
 * fake's CPU share is reported: a fake near 100 % of a core is the limit, not direkt.
 *
 * Memory (--hold N, instead of the above; the fake should answer slowly, e.g. --delay-ms 3000):
 * N calls submitted at once one way (--hold-way, default router), this process's RSS sampled
 * every 10 ms until all are done; the peak growth over the RSS before, per call, is what one
 * call in flight costs in the HTTP loop (raw) or in the router and the loop (router). Run each
 * way in a fresh process: freed memory is reused.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ai/ai.h"
#include "aibench.h"
#include "core/dktime.h"
#include "core/mem.h"

enum mode { M_RAW, M_WIRE, M_ROUTER, M_COUNT };
static const char *const mode_names[M_COUNT] = {"raw", "wire", "router"};

#define BLOCK 100 /* sequential calls per mode before switching to the next */

struct opts {
    const char *fake;
    int calls;
    int warmup;
    int concurrency;
    int tput_calls;
    int fake_pid;
    int hold;
    enum mode hold_way;
    bool json;
};

struct bench {
    struct ai_http *http;
    struct ai_router *router;
    char url[600];
    const char *headers[2];
    char *body; /* built once for raw */
    struct ai_message msgs[2];
    struct ai_call_params params;
    struct ai_request req;

    /* sequential: one call at a time, the main thread waits */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int64_t t_done;
    bool ok;

    /* throughput: the loop thread keeps the window full */
    enum mode tmode;
    atomic_int started, completed, failed;
    int total;
};

/* ---- one call, three ways ---- */

static void signal_done(struct bench *b, bool ok)
{
    int64_t t = ab_now_ns();
    pthread_mutex_lock(&b->mu);
    b->t_done = t;
    b->ok = ok;
    b->done = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void raw_done(void *arg, const struct ai_http_resp *resp)
{
    signal_done(arg, resp->error == 0 && resp->status == 200);
}

static void wire_done(void *arg, const struct ai_http_resp *resp)
{
    struct ai_reply rep;
    ai_openai_parse(resp->status, resp->body, resp->len, resp->retry_after, &rep);
    bool ok = resp->error == 0 && rep.outcome == AI_OK;
    ai_reply_clear(&rep);
    signal_done(arg, ok);
}

static void router_done(void *arg, struct ai_result *res)
{
    bool ok = res->reply.outcome == AI_OK;
    ai_result_free(res);
    signal_done(arg, ok);
}

static void submit_http(struct bench *b, const char *body,
                        void (*done)(void *, const struct ai_http_resp *))
{
    struct ai_http_req hr = {.method = "POST",
                             .url = b->url,
                             .headers = b->headers,
                             .nheaders = 2,
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = 30000,
                             .on_done = done,
                             .arg = b};
    ai_http_submit(b->http, &hr);
}

static void submit_one(struct bench *b, enum mode m,
                       void (*http_done)(void *, const struct ai_http_resp *), ai_done_fn router_fn)
{
    if (m == M_RAW) {
        submit_http(b, b->body, http_done);
    } else if (m == M_WIRE) {
        char *body = ai_openai_chat_body(&b->params);
        submit_http(b, body, http_done);
        dk_free(body);
    } else {
        ai_router_submit(b->router, &b->req, NULL, router_fn, b, NULL);
    }
}

/* One sequential call; returns its latency in ns (submit → completion callback). */
static int64_t call_once(struct bench *b, enum mode m)
{
    pthread_mutex_lock(&b->mu);
    b->done = false;
    pthread_mutex_unlock(&b->mu);
    int64_t t0 = ab_now_ns();
    submit_one(b, m, m == M_RAW ? raw_done : wire_done, router_done);
    pthread_mutex_lock(&b->mu);
    while (!b->done) {
        pthread_cond_wait(&b->cv, &b->mu);
    }
    int64_t dt = b->t_done - t0;
    bool ok = b->ok;
    pthread_mutex_unlock(&b->mu);
    if (!ok) {
        ab_die("a %s call failed (is the fake running at %s?)", mode_names[m], b->url);
    }
    return dt;
}

/* ---- throughput ---- */

static void tput_next(struct bench *b);

static void tput_complete(struct bench *b, bool ok)
{
    if (!ok) {
        atomic_fetch_add(&b->failed, 1);
    }
    if (atomic_fetch_add(&b->completed, 1) + 1 == b->total) {
        signal_done(b, true);
        return;
    }
    tput_next(b);
}

static void tput_raw_done(void *arg, const struct ai_http_resp *resp)
{
    tput_complete(arg, resp->error == 0 && resp->status == 200);
}

static void tput_router_done(void *arg, struct ai_result *res)
{
    bool ok = res->reply.outcome == AI_OK;
    ai_result_free(res);
    tput_complete(arg, ok);
}

static void tput_wire_done(void *arg, const struct ai_http_resp *resp)
{
    struct ai_reply rep;
    ai_openai_parse(resp->status, resp->body, resp->len, resp->retry_after, &rep);
    bool ok = resp->error == 0 && rep.outcome == AI_OK;
    ai_reply_clear(&rep);
    tput_complete(arg, ok);
}

static void tput_next(struct bench *b)
{
    if (atomic_fetch_add(&b->started, 1) >= b->total) {
        return;
    }
    submit_one(b, b->tmode, b->tmode == M_RAW ? tput_raw_done : tput_wire_done, tput_router_done);
}

struct tput_result {
    double calls_per_s;
    double cpu_us_per_call;
    double loop_cpu_pct; /* the HTTP loop thread's share of one core */
    double fake_cpu_pct; /* -1 without --fake-pid */
    int failed;
};

/* CPU time so far of this process's thread named "ai-http" (the loop), -1 when not found. */
static int64_t loop_cpu_ns(void)
{
    struct ab_thread th[64];
    size_t n = ab_threads_read((int)getpid(), th, 64);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(th[i].comm, "ai-http") == 0) {
            return th[i].cpu_ns;
        }
    }
    return -1;
}

static struct tput_result throughput(struct bench *b, enum mode m, int total, int conc,
                                     int fake_pid)
{
    b->tmode = m;
    b->total = total;
    atomic_store(&b->started, 0);
    atomic_store(&b->completed, 0);
    atomic_store(&b->failed, 0);
    pthread_mutex_lock(&b->mu);
    b->done = false;
    pthread_mutex_unlock(&b->mu);
    int64_t fake0 = fake_pid > 0 ? ab_proc_cpu_ns(fake_pid) : -1;
    int64_t loop0 = loop_cpu_ns();
    int64_t cpu0 = ab_cpu_ns();
    int64_t t0 = ab_now_ns();
    for (int i = 0; i < conc && i < total; i++) {
        tput_next(b);
    }
    pthread_mutex_lock(&b->mu);
    while (!b->done) {
        pthread_cond_wait(&b->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    int64_t wall = ab_now_ns() - t0;
    int64_t cpu = ab_cpu_ns() - cpu0;
    int64_t fake1 = fake_pid > 0 ? ab_proc_cpu_ns(fake_pid) : -1;
    int64_t loop1 = loop_cpu_ns();
    struct tput_result r = {
        .loop_cpu_pct =
            loop0 >= 0 && loop1 >= 0 ? 100.0 * (double)(loop1 - loop0) / (double)wall : -1,
        .calls_per_s = (double)total / ((double)wall / 1e9),
        .cpu_us_per_call = (double)cpu / 1e3 / total,
        .fake_cpu_pct =
            fake0 >= 0 && fake1 >= 0 ? 100.0 * (double)(fake1 - fake0) / (double)wall : -1,
        .failed = atomic_load(&b->failed),
    };
    return r;
}

/* ---- memory per call in flight ---- */

/* Submits n calls at once and samples this process's RSS until they are done; returns the peak
 * growth in KiB (*failed gets the failed calls). */
static int64_t hold(struct bench *b, enum mode m, int n, int *failed)
{
    struct ab_proc p0, p;
    ab_proc_read((int)getpid(), &p0);
    int64_t peak = p0.rss_kb;
    b->tmode = m;
    b->total = n;
    atomic_store(&b->started, 0);
    atomic_store(&b->completed, 0);
    atomic_store(&b->failed, 0);
    pthread_mutex_lock(&b->mu);
    b->done = false;
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++) {
        tput_next(b);
    }
    pthread_mutex_lock(&b->mu);
    while (!b->done) {
        pthread_mutex_unlock(&b->mu);
        if (ab_proc_read((int)getpid(), &p) == 0 && p.rss_kb > peak) {
            peak = p.rss_kb;
        }
        dk_sleep_ms(10);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    *failed = atomic_load(&b->failed);
    return peak - p0.rss_kb;
}

/* ---- setup and report ---- */

static void usage(void)
{
    fputs("usage: bench_router_overhead --fake http://127.0.0.1:PORT [options]\n"
          "  --calls N        sequential calls per way (default 2000)\n"
          "  --warmup N       unmeasured sequential calls per way first (default 200)\n"
          "  --concurrency C  calls in flight for the throughput runs (default 200)\n"
          "  --tput-calls N   calls per throughput run (default 20000)\n"
          "  --fake-pid PID   report the fake's CPU share during the throughput runs\n"
          "  --hold N         only measure memory: N calls in flight at once (slow fake)\n"
          "  --hold-way W     raw or router (default router)\n"
          "  --json           one JSON object instead of the text report\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.calls = 2000,
                       .warmup = 200,
                       .concurrency = 200,
                       .tput_calls = 20000,
                       .hold_way = M_ROUTER};
    static const struct option longs[] = {{"fake", required_argument, NULL, 'f'},
                                          {"calls", required_argument, NULL, 'n'},
                                          {"warmup", required_argument, NULL, 'w'},
                                          {"concurrency", required_argument, NULL, 'c'},
                                          {"tput-calls", required_argument, NULL, 't'},
                                          {"fake-pid", required_argument, NULL, 'p'},
                                          {"hold", required_argument, NULL, 'H'},
                                          {"hold-way", required_argument, NULL, 'W'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->fake = optarg;
            break;
        case 'n':
            o->calls = (int)ab_num_arg(optarg, "calls", 1, 1e7);
            break;
        case 'w':
            o->warmup = (int)ab_num_arg(optarg, "warmup", 0, 1e6);
            break;
        case 'c':
            o->concurrency = (int)ab_num_arg(optarg, "concurrency", 1, 1000);
            break;
        case 't':
            o->tput_calls = (int)ab_num_arg(optarg, "tput-calls", 0, 1e8);
            break;
        case 'p':
            o->fake_pid = (int)ab_num_arg(optarg, "fake-pid", 1, 1 << 30);
            break;
        case 'H':
            o->hold = (int)ab_num_arg(optarg, "hold", 1, 100000);
            break;
        case 'W':
            if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "router") != 0) {
                ab_die("--hold-way: raw or router");
            }
            o->hold_way = strcmp(optarg, "raw") == 0 ? M_RAW : M_ROUTER;
            break;
        case 'j':
            o->json = true;
            break;
        default:
            usage();
        }
    }
    if (o->fake == NULL || optind != argc || strlen(o->fake) > 500) {
        usage();
    }
}

static void setup(struct bench *b, const struct opts *o)
{
    struct dk_err err = {0};
    b->http = ai_http_start(NULL, &err);
    if (b->http == NULL) {
        ab_die("ai_http_start: %s", err.msg);
    }
    struct ai_config cfg;
    ai_config_defaults(&cfg);
    struct ai_provider_config p = {.wire = AI_WIRE_OPENAI, .flavor = AI_FLAVOR_OPENAI};
    snprintf(p.name, sizeof(p.name), "openai");
    snprintf(p.base_url, sizeof(p.base_url), "%s/v1", o->fake);
    snprintf(p.api_key, sizeof(p.api_key), "sk-bench");
    snprintf(p.model, sizeof(p.model), "gpt-4o-mini");
    if (ai_config_add_provider(&cfg, &p, &err) != 0 ||
        ai_config_parse_routes(&cfg, "reply=openai", &err) != 0) {
        ab_die("router configuration: %s", err.msg);
    }
    b->router = ai_router_new(&cfg, b->http);
    snprintf(b->url, sizeof(b->url), "%s/chat/completions", p.base_url);
    b->headers[0] = "Content-Type: application/json";
    b->headers[1] = "Authorization: Bearer sk-bench";
    b->msgs[0] = (struct ai_message){"system", "You answer the customers of a small clothes shop "
                                               "in one or two friendly sentences."};
    b->msgs[1] =
        (struct ai_message){"user", "Hi! Do you ship to Berlin, and how long does it take?"};
    b->params = (struct ai_call_params){.messages = b->msgs,
                                        .nmessages = 2,
                                        .model = p.model,
                                        .max_tokens = 200,
                                        .temperature = -1,
                                        .flavor = AI_FLAVOR_OPENAI};
    b->body = ai_openai_chat_body(&b->params);
    b->req = (struct ai_request){.task = AI_TASK_REPLY,
                                 .messages = b->msgs,
                                 .nmessages = 2,
                                 .max_tokens = 200,
                                 .temperature = -1};
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

int main(int argc, char **argv)
{
    ab_set_prog("bench_router_overhead");
    struct opts o;
    parse(argc, argv, &o);
    static struct bench b;
    setup(&b, &o);
    if (o.hold > 0) {
        int failed = 0;
        call_once(&b, o.hold_way); /* the loop, curl and the connection cache warmed up */
        int64_t kib = hold(&b, o.hold_way, o.hold, &failed);
        printf(o.json ? "{\"hold\":%d,\"way\":\"%s\",\"rss_growth_kib\":%lld,"
                        "\"kib_per_call\":%.1f,\"failed\":%d}\n"
                      : "%d calls in flight (%s): RSS +%lld KiB, %.1f KiB per call, %d failed\n",
               o.hold, mode_names[o.hold_way], (long long)kib, (double)kib / o.hold, failed);
        ai_http_stop(b.http);
        ai_router_free(b.router);
        dk_free(b.body);
        return failed > 0 ? 1 : 0;
    }

    for (int m = 0; m < M_COUNT; m++) {
        for (int i = 0; i < o.warmup; i++) {
            call_once(&b, (enum mode)m);
        }
    }
    double *lat[M_COUNT];
    int64_t cpu[M_COUNT] = {0};
    int n[M_COUNT] = {0};
    for (int m = 0; m < M_COUNT; m++) {
        lat[m] = dk_calloc((size_t)o.calls, sizeof(double));
    }
    while (n[M_COUNT - 1] < o.calls) {
        for (int m = 0; m < M_COUNT; m++) {
            int64_t c0 = ab_cpu_ns();
            for (int i = 0; i < BLOCK && n[m] < o.calls; i++) {
                lat[m][n[m]++] = (double)call_once(&b, (enum mode)m) / 1e3;
            }
            cpu[m] += ab_cpu_ns() - c0;
        }
    }
    double p50[M_COUNT], p90[M_COUNT], p99[M_COUNT], cpu_us[M_COUNT];
    for (int m = 0; m < M_COUNT; m++) {
        p50[m] = ab_quantile(lat[m], (size_t)o.calls, 0.50);
        p90[m] = ab_quantile(lat[m], (size_t)o.calls, 0.90);
        p99[m] = ab_quantile(lat[m], (size_t)o.calls, 0.99);
        cpu_us[m] = (double)cpu[m] / 1e3 / o.calls;
        dk_free(lat[m]);
    }
    struct tput_result tp[M_COUNT] = {0};
    if (o.tput_calls > 0) {
        for (int m = 0; m < M_COUNT; m++) {
            throughput(&b, (enum mode)m, o.concurrency, o.concurrency, o.fake_pid); /* warm */
            tp[m] = throughput(&b, (enum mode)m, o.tput_calls, o.concurrency, o.fake_pid);
        }
    }
    int failed = tp[M_RAW].failed + tp[M_WIRE].failed + tp[M_ROUTER].failed;

    if (o.json) {
        printf("{\"calls\":%d,\"concurrency\":%d,\"tput_calls\":%d", o.calls, o.concurrency,
               o.tput_calls);
        for (int m = 0; m < M_COUNT; m++) {
            const char *k = mode_names[m];
            printf(",\"%s_p50_us\":%.1f,\"%s_p90_us\":%.1f,\"%s_p99_us\":%.1f,\"%s_cpu_us\":%.1f,"
                   "\"%s_tput\":%.0f,\"%s_tput_cpu_us\":%.1f,\"%s_tput_loop_cpu_pct\":%.0f,"
                   "\"%s_tput_fake_cpu_pct\":%.0f",
                   k, p50[m], k, p90[m], k, p99[m], k, cpu_us[m], k, tp[m].calls_per_s, k,
                   tp[m].cpu_us_per_call, k, tp[m].loop_cpu_pct, k, tp[m].fake_cpu_pct);
        }
        printf(",\"overhead_p50_us\":%.1f,\"overhead_vs_wire_p50_us\":%.1f,\"failed\":%d}\n",
               p50[M_ROUTER] - p50[M_RAW], p50[M_ROUTER] - p50[M_WIRE], failed);
    } else {
        printf("sequential calls: %d per way (after %d warm-up), latency submit -> callback\n",
               o.calls, o.warmup);
        printf("%-8s %10s %10s %10s %14s\n", "way", "p50 us", "p90 us", "p99 us", "CPU us/call");
        for (int m = 0; m < M_COUNT; m++) {
            printf("%-8s %10.1f %10.1f %10.1f %14.1f\n", mode_names[m], p50[m], p90[m], p99[m],
                   cpu_us[m]);
        }
        printf("router overhead (p50 router - raw): %.1f us; router - wire: %.1f us\n",
               p50[M_ROUTER] - p50[M_RAW], p50[M_ROUTER] - p50[M_WIRE]);
        if (o.tput_calls > 0) {
            printf("throughput, %d in flight, %d calls:\n", o.concurrency, o.tput_calls);
            for (int m = 0; m < M_COUNT; m++) {
                printf("%-8s %10.0f calls/s %8.1f CPU us/call  loop thread %.0f %%  fake CPU %.0f "
                       "%%\n",
                       mode_names[m], tp[m].calls_per_s, tp[m].cpu_us_per_call, tp[m].loop_cpu_pct,
                       tp[m].fake_cpu_pct);
            }
        }
        if (failed > 0) {
            printf("FAILED calls in the throughput runs: %d\n", failed);
        }
    }
    ai_http_stop(b.http);
    ai_router_free(b.router);
    dk_free(b.body);
    return failed > 0 ? 1 : 0;
}
