/*
 * bench/ingest/loadgen: load generator for direkt's Instagram webhook receiver.
 *
 * One process, --threads threads, each owning an epoll loop over its share of --concurrency
 * raw non-blocking TCP connections speaking HTTP/1.1 with keep-alive. The load is closed-loop:
 * one request in flight per connection, the next one written as soon as the response is read.
 * Every delivery is a Meta-shaped message webhook with --events-per-delivery messaging items,
 * each with a unique mid ("bench-<run>-<delivery>-<item>"), a random customer and a short text,
 * signed with X-Hub-Signature-256 over its exact bytes. --duplicates re-sends a connection's
 * previous request byte for byte, as Meta does when it retries.
 *
 * Latency is the time from the first byte of a request written to the last byte of its
 * response read, kept in a histogram of 10 us buckets up to --timeout (exact to 10 us, fixed
 * memory). Requests started during --warmup are sent but not measured. Totals over all phases
 * (including the acknowledged unique events) are reported too, so that a caller can compare
 * them with what the server stored.
 *
 * This file holds main: the options, the run (workers on threads) and the report. The parts
 * are in lib/ (API in lib/loadgen.h): histogram, delivery (building and signing requests),
 * http_conn (a connection and its responses) and worker (one thread's event loop).
 */
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/mem.h"

#define LG_MAX_K       10000
#define LG_MAX_CONNS   100000
#define LG_MAX_THREADS 256

static const char *const err_names[LG_ERR_KINDS] = {"connect", "reset", "timeout", "protocol"};

/* ---- options and report ---- */

static void usage(void)
{
    fputs("usage: bench_loadgen --url http://HOST:PORT/PATH --secret S [options]\n"
          "  --concurrency C          connections (default 64)\n"
          "  --duration SECONDS       measured time (default 10) or\n"
          "  --requests N             measured requests\n"
          "  --warmup SECONDS         unmeasured load first (default 0)\n"
          "  --events-per-delivery K  messaging items per delivery (default 1)\n"
          "  --customers M            distinct sender ids (default 1000)\n"
          "  --threads T              event-loop threads (default 1)\n"
          "  --duplicates P           percent of deliveries re-sent identical (default 0)\n"
          "  --timeout SECONDS        per request (default 30)\n"
          "  --run-id ID              mid prefix bench-ID- (default: random)\n"
          "  --account ID             business account id (default 17841405822304914)\n"
          "  --json                   print the result as one JSON object\n"
          "  --allow-errors           exit 0 even with errors or non-2xx responses\n",
          stderr);
    exit(2);
}

static double num_arg(const char *s, const char *name, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "loadgen: invalid value for --%s: \"%s\"\n", name, s);
        exit(2);
    }
    return v;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n, const char *what)
{
    if (n >= cap) {
        fprintf(stderr, "loadgen: %s too long\n", what);
        exit(2);
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void parse_url(struct lg_opts *o, const char *url)
{
    if (strncmp(url, "http://", 7) != 0) {
        lg_die("--url must start with http://");
    }
    const char *a = url + 7;
    const char *slash = strchr(a, '/');
    size_t alen = slash != NULL ? (size_t)(slash - a) : strlen(a);
    copy_str(o->authority, sizeof(o->authority), a, alen, "url host");
    copy_str(o->path, sizeof(o->path), slash != NULL ? slash : "/", slash ? strlen(slash) : 1,
             "url path");
    const char *host = o->authority;
    size_t hlen = alen;
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *rb = strchr(host, ']');
        if (rb == NULL) {
            lg_die("bad IPv6 literal in --url");
        }
        colon = rb[1] == ':' ? rb + 1 : NULL;
        host++;
        hlen = (size_t)(rb - host);
    } else {
        colon = strrchr(host, ':');
        hlen = colon != NULL ? (size_t)(colon - host) : alen;
    }
    copy_str(o->host, sizeof(o->host), host, hlen, "url host");
    const char *port = colon != NULL ? colon + 1 : "80";
    num_arg(port, "url port", 1, 65535);
    copy_str(o->port, sizeof(o->port), port, strlen(port), "url port");
}

static void parse_opts(struct lg_opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"url", required_argument, NULL, 'u'},
        {"secret", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"events-per-delivery", required_argument, NULL, 'k'},
        {"customers", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"duplicates", required_argument, NULL, 'p'},
        {"warmup", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'},
        {"run-id", required_argument, NULL, 'r'},
        {"account", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"allow-errors", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL;
    double duration = 0;
    int ch;

    memset(o, 0, sizeof(*o));
    o->concurrency = 64;
    o->threads = 1;
    o->k = 1;
    o->customers = 1000;
    o->timeout_ns = 30 * 1000000000LL;
    o->secret = getenv("IG_APP_SECRET");
    copy_str(o->account, sizeof(o->account), "17841405822304914", 17, "account");
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case 'c':
            o->concurrency = (int)num_arg(optarg, "concurrency", 1, LG_MAX_CONNS);
            break;
        case 'd':
            duration = num_arg(optarg, "duration", 0.001, 1e6);
            break;
        case 'n':
            o->requests = (uint64_t)num_arg(optarg, "requests", 1, 1e15);
            break;
        case 'k':
            o->k = (int)num_arg(optarg, "events-per-delivery", 1, LG_MAX_K);
            break;
        case 'm':
            o->customers = (uint64_t)num_arg(optarg, "customers", 1, 1e9);
            break;
        case 't':
            o->threads = (int)num_arg(optarg, "threads", 1, LG_MAX_THREADS);
            break;
        case 'p':
            o->dup_pct = num_arg(optarg, "duplicates", 0, 100);
            break;
        case 'w':
            o->warmup_ns = (int64_t)(num_arg(optarg, "warmup", 0, 1e6) * 1e9);
            break;
        case 'T':
            o->timeout_ns = (int64_t)(num_arg(optarg, "timeout", 0.001, 3600) * 1e9);
            break;
        case 'r':
            copy_str(o->run_id, sizeof(o->run_id), optarg, strlen(optarg), "--run-id");
            break;
        case 'a':
            copy_str(o->account, sizeof(o->account), optarg, strlen(optarg), "--account");
            break;
        case 'j':
            o->json = true;
            break;
        case 'e':
            o->allow_errors = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || url == NULL) {
        usage();
    }
    if (o->secret == NULL || o->secret[0] == '\0') {
        lg_die("--secret (or IG_APP_SECRET) is required");
    }
    if (o->requests > 0 && duration > 0) {
        lg_die("--duration and --requests exclude each other");
    }
    if (o->requests == 0) {
        o->duration_ns = (int64_t)((duration > 0 ? duration : 10) * 1e9);
    }
    for (const char *p = o->run_id; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            lg_die("--run-id must not need JSON escaping");
        }
    }
    for (const char *p = o->account; *p; p++) {
        if (*p < '0' || *p > '9') {
            lg_die("--account must be numeric");
        }
    }
    if (o->run_id[0] == '\0') {
        unsigned char rnd[4];
        dk_random_bytes(rnd, sizeof(rnd));
        snprintf(o->run_id, sizeof(o->run_id), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    }
    if (o->threads > o->concurrency) {
        o->threads = o->concurrency;
    }
    parse_url(o, url);
    int n = snprintf(o->head, sizeof(o->head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: direkt-loadgen/1\r\n"
                     "Content-Type: application/json\r\nX-Hub-Signature-256: sha256=",
                     o->path, o->authority);
    if (n < 0 || (size_t)n >= sizeof(o->head)) {
        lg_die("--url too long");
    }
}
static void resolve(struct lg_shared *sh, const struct lg_opts *o)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0 || res == NULL) {
        fprintf(stderr, "loadgen: could not resolve %s: %s\n", o->host, gai_strerror(rc));
        exit(2);
    }
    memcpy(&sh->addr, res->ai_addr, res->ai_addrlen);
    sh->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

struct report {
    struct lg_counters all;
    struct lg_counters meas;
    double elapsed_s;
    double p50, p90, p99, max, mean; /* ms */
    uint64_t fresh, dups, unique_events_acked;
};

/* Adds up the workers' counters and histograms (into ws[0].hist) and computes the figures. */
static void summarize(struct lg_worker *ws, int nw, const struct lg_shared *sh, struct report *r)
{
    const struct lg_opts *o = sh->o;
    int64_t last = 0;

    memset(r, 0, sizeof(*r));
    for (int i = 0; i < nw; i++) {
        struct lg_worker *w = &ws[i];
        r->all.requests += w->all.requests;
        r->meas.requests += w->meas.requests;
        for (int s = 0; s < 6; s++) {
            r->all.status[s] += w->all.status[s];
            r->meas.status[s] += w->meas.status[s];
        }
        for (int e = 0; e < LG_ERR_KINDS; e++) {
            r->all.errors[e] += w->all.errors[e];
            r->meas.errors[e] += w->meas.errors[e];
        }
        if (i > 0) {
            lg_hist_merge(&ws[0].hist, &w->hist);
        }
        last = w->last_done > last ? w->last_done : last;
        r->fresh += w->fresh;
        r->dups += w->dups;
        r->unique_events_acked += w->unique_events_acked;
    }
    int64_t elapsed = last > sh->warm_end ? last - sh->warm_end : 0;
    if (o->requests == 0 && elapsed < o->duration_ns) {
        elapsed = o->duration_ns;
    }
    r->elapsed_s = (double)elapsed / 1e9;
    r->max = lg_hist_max_ms(&ws[0].hist);
    r->mean = lg_hist_mean_ms(&ws[0].hist);
    r->p50 = lg_hist_percentile_ms(&ws[0].hist, 0.50);
    r->p90 = lg_hist_percentile_ms(&ws[0].hist, 0.90);
    r->p99 = lg_hist_percentile_ms(&ws[0].hist, 0.99);
}

static uint64_t non_2xx(const struct lg_counters *c)
{
    return c->status[0] + c->status[1] + c->status[3] + c->status[4] + c->status[5];
}

static uint64_t error_sum(const struct lg_counters *c)
{
    uint64_t n = 0;
    for (int e = 0; e < LG_ERR_KINDS; e++) {
        n += c->errors[e];
    }
    return n;
}

static void print_report(const struct lg_opts *o, const struct report *r)
{
    double el = r->elapsed_s > 0 ? r->elapsed_s : 1;
    double rps = (double)r->meas.requests / el;
    double eps = (double)r->meas.status[2] * o->k / el;

    if (o->json) {
        printf("{\"run_id\":\"%s\",\"concurrency\":%d,\"threads\":%d,\"events_per_delivery\":%d,"
               "\"customers\":%" PRIu64 ",\"duplicates_pct\":%g,\"warmup_s\":%.3f,"
               "\"elapsed_s\":%.3f,\"requests\":%" PRIu64 ",\"status_1xx\":%" PRIu64
               ",\"status_2xx\":%" PRIu64 ",\"status_3xx\":%" PRIu64 ",\"status_4xx\":%" PRIu64
               ",\"status_5xx\":%" PRIu64 ",\"status_other\":%" PRIu64 ",",
               o->run_id, o->concurrency, o->threads, o->k, o->customers, o->dup_pct,
               (double)o->warmup_ns / 1e9, r->elapsed_s, r->meas.requests, r->meas.status[1],
               r->meas.status[2], r->meas.status[3], r->meas.status[4], r->meas.status[5],
               r->meas.status[0]);
        for (int e = 0; e < LG_ERR_KINDS; e++) {
            printf("\"errors_%s\":%" PRIu64 ",", err_names[e], r->meas.errors[e]);
        }
        printf("\"requests_per_s\":%.1f,\"events_per_s\":%.1f,\"latency_p50_ms\":%.2f,"
               "\"latency_p90_ms\":%.2f,\"latency_p99_ms\":%.2f,\"latency_max_ms\":%.3f,"
               "\"latency_mean_ms\":%.3f,\"total_requests\":%" PRIu64 ",\"total_2xx\":%" PRIu64
               ",\"total_non_2xx\":%" PRIu64 ",\"total_errors\":%" PRIu64
               ",\"total_fresh_deliveries\":%" PRIu64 ",\"total_duplicates\":%" PRIu64
               ",\"unique_events_acked\":%" PRIu64 "}\n",
               rps, eps, r->p50, r->p90, r->p99, r->max, r->mean, r->all.requests, r->all.status[2],
               non_2xx(&r->all), error_sum(&r->all), r->fresh, r->dups, r->unique_events_acked);
        return;
    }
    printf("run %s: %d connections, %d threads, %d events/delivery, %" PRIu64
           " customers, %g%% duplicates\n",
           o->run_id, o->concurrency, o->threads, o->k, o->customers, o->dup_pct);
    printf("  measured    %.3f s after %.1f s warmup\n", r->elapsed_s, (double)o->warmup_ns / 1e9);
    printf("  requests    %" PRIu64 " (2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64
           ", 5xx %" PRIu64 ", other %" PRIu64 ")\n",
           r->meas.requests, r->meas.status[2], r->meas.status[3], r->meas.status[4],
           r->meas.status[5], r->meas.status[0] + r->meas.status[1]);
    printf("  errors      connect %" PRIu64 ", reset %" PRIu64 ", timeout %" PRIu64
           ", protocol %" PRIu64 "\n",
           r->meas.errors[LG_ERR_CONNECT], r->meas.errors[LG_ERR_RESET],
           r->meas.errors[LG_ERR_TIMEOUT], r->meas.errors[LG_ERR_PROTOCOL]);
    printf("  throughput  %.1f requests/s, %.1f events/s\n", rps, eps);
    printf("  latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.3f  mean %.3f\n", r->p50, r->p90,
           r->p99, r->max, r->mean);
    printf("  all phases  %" PRIu64 " requests (%" PRIu64 " fresh, %" PRIu64
           " duplicates), %" PRIu64 " 2xx, %" PRIu64 " errors, %" PRIu64
           " unique events acknowledged\n",
           r->all.requests, r->fresh, r->dups, r->all.status[2], error_sum(&r->all),
           r->unique_events_acked);
}

int main(int argc, char **argv)
{
    struct lg_opts o;
    struct lg_shared sh;
    struct report r;

    signal(SIGPIPE, SIG_IGN);
    parse_opts(&o, argc, argv);
    memset(&sh, 0, sizeof(sh));
    sh.o = &o;
    resolve(&sh, &o);
    atomic_init(&sh.next_delivery, 0);
    atomic_init(&sh.measured_started, 0);

    struct lg_worker *ws = dk_calloc((size_t)o.threads, sizeof(*ws));
    struct lg_conn *conns = dk_calloc((size_t)o.concurrency, sizeof(*conns));
    int next = 0;
    for (int i = 0; i < o.threads; i++) {
        int n = o.concurrency / o.threads + (i < o.concurrency % o.threads ? 1 : 0);
        lg_worker_init(&ws[i], i, &sh, &conns[next], n);
        next += n;
    }
    sh.t0 = lg_now_ns();
    sh.warm_end = sh.t0 + o.warmup_ns;
    sh.end = sh.warm_end + o.duration_ns;
    for (int i = 0; i < o.threads; i++) {
        if (pthread_create(&ws[i].tid, NULL, lg_worker_main, &ws[i]) != 0) {
            lg_die("could not start a thread");
        }
    }
    for (int i = 0; i < o.threads; i++) {
        pthread_join(ws[i].tid, NULL);
    }
    summarize(ws, o.threads, &sh, &r);
    print_report(&o, &r);

    for (int i = 0; i < o.threads; i++) {
        lg_worker_free(&ws[i]);
    }
    dk_free(conns);
    dk_free(ws);

    bool bad = error_sum(&r.all) > 0 || non_2xx(&r.all) > 0;
    return bad && !o.allow_errors ? 1 : 0;
}
