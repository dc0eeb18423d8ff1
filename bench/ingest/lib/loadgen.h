/*
 * bench/ingest/lib: the parts of bench_loadgen, the load generator for direkt's Instagram
 * webhook receiver (bench/ingest/loadgen.c holds main, the options and the report).
 *
 * One process, --threads workers (worker.c), each owning an epoll loop over its share of
 * --concurrency raw non-blocking HTTP/1.1 keep-alive connections (http_conn.c). The load is
 * closed-loop: one request in flight per connection, the next one written as soon as the
 * response is read. Every fresh request is a signed Meta-shaped delivery (delivery.c); latency
 * goes into a fixed-memory histogram (histogram.c).
 *
 * Everything here runs on one worker thread, except where a comment says otherwise: struct
 * lg_shared is read-only after start apart from its atomics. Failures of the system (sockets,
 * epoll, OpenSSL) end the process through lg_die(); failures of the server under test are
 * counted.
 */
#ifndef BENCH_INGEST_LOADGEN_H
#define BENCH_INGEST_LOADGEN_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/mem.h"

#define LG_HIST_STEP_NS  10000 /* 10 us */
#define LG_MAX_HEAD      (64u * 1024u)
#define LG_MAX_RESPONSE  (1024u * 1024u + LG_MAX_HEAD)
#define LG_MAX_BODY      (8u * 1024u * 1024u)
#define LG_RECONNECT_NS  (10 * 1000000LL)  /* after a reset */
#define LG_RETRY_CONN_NS (100 * 1000000LL) /* after a failed connect */

enum lg_err_kind { LG_ERR_CONNECT, LG_ERR_RESET, LG_ERR_TIMEOUT, LG_ERR_PROTOCOL, LG_ERR_KINDS };

enum lg_conn_state { LG_CONN_CLOSED, LG_CONN_CONNECTING, LG_CONN_BUSY, LG_CONN_DONE };

struct lg_opts {
    char host[256];      /* for getaddrinfo, without brackets */
    char port[8];        /* numeric */
    char authority[300]; /* Host header */
    char path[1024];
    char head[1536]; /* the request up to "X-Hub-Signature-256: sha256=" */
    const char *secret;
    char run_id[64];
    char account[32];
    int concurrency;
    int threads;
    int k;
    uint64_t customers;
    uint64_t requests; /* 0: run for duration_ns */
    int64_t duration_ns;
    int64_t warmup_ns;
    int64_t timeout_ns;
    double dup_pct;
    bool json;
    bool allow_errors;
};

/* Read-only after start, except the atomics. */
struct lg_shared {
    const struct lg_opts *o;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int64_t t0;
    int64_t warm_end;
    int64_t end; /* duration mode only */
    atomic_uint_fast64_t next_delivery;
    atomic_uint_fast64_t measured_started; /* requests mode only */
};

struct lg_counters {
    uint64_t requests;
    uint64_t status[6]; /* [1..5]: 1xx..5xx (1xx final: never), [0]: anything else */
    uint64_t errors[LG_ERR_KINDS];
};

/* Latencies in LG_HIST_STEP_NS buckets; the last bucket takes everything beyond. */
struct lg_hist {
    uint32_t *buckets;
    size_t nbuckets;
    uint64_t count;
    uint64_t sum_ns;
    int64_t max_ns;
};

struct lg_worker;

struct lg_conn {
    struct lg_worker *w;
    int fd;
    enum lg_conn_state state;
    bool want_out;      /* EPOLLOUT registered */
    bool measured;      /* the request in flight counts for the report */
    bool has_prev;      /* wbuf holds a complete earlier request that may be re-sent */
    bool prev_acked;    /* that delivery already got a 2xx */
    int64_t t_start;    /* first byte written (request) or connect started */
    int64_t retry_at;   /* when LG_CONN_CLOSED */
    struct dk_buf wbuf; /* the request */
    size_t woff;
    char *rbuf;
    size_t rlen;
    size_t rcap;
};

struct lg_worker {
    int id;
    pthread_t tid;
    int epfd;
    struct lg_shared *sh;
    const struct lg_opts *o;
    struct lg_conn *conns;
    int nconns;
    struct dk_buf body;
    EVP_MAC_CTX *mac; /* keyed with the secret; copied for every body */
    uint64_t rng;
    struct lg_counters all;
    struct lg_counters meas;
    struct lg_hist hist;
    int64_t last_done; /* of a measured request */
    uint64_t fresh;
    uint64_t dups;
    uint64_t unique_events_acked;
};

/* Prints "loadgen: <msg>" to stderr and exits with code 2. Any thread. */
static inline void lg_die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

/* CLOCK_MONOTONIC in nanoseconds. Any thread. */
static inline int64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Next number of the xorshift64* generator in *s (never 0): plenty for picking customers and
 * texts. The caller owns *s. */
static inline uint64_t lg_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

/* ---- histogram.c ---- */

/* Sets up an empty histogram exact to LG_HIST_STEP_NS up to limit_ns (>= 0). Allocation
 * failure aborts. Free with lg_hist_free(). */
void lg_hist_init(struct lg_hist *h, int64_t limit_ns);
void lg_hist_free(struct lg_hist *h);
/* Records one latency (>= 0); beyond the limit it goes into the last bucket. */
void lg_hist_add(struct lg_hist *h, int64_t ns);
/* Adds src into dst; both must have been set up with the same limit. */
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* The largest latency recorded, in ms (0 when empty). */
double lg_hist_max_ms(const struct lg_hist *h);
/* The mean latency in ms (0 when empty). */
double lg_hist_mean_ms(const struct lg_hist *h);
/* The q-quantile (0 < q <= 1) in ms: the upper edge of the bucket holding that rank, but never
 * more than the largest latency recorded; 0 when empty. */
double lg_hist_percentile_ms(const struct lg_hist *h, double q);

/* ---- delivery.c ---- */

/* A new HMAC-SHA256 context keyed with secret, for lg_worker.mac; free with EVP_MAC_CTX_free.
 * Exits through lg_die() when OpenSSL cannot provide it. */
EVP_MAC_CTX *lg_delivery_mac_new(const char *secret);
/* Takes the next delivery number from the shared counter, builds that delivery's body with
 * random customers and texts (in c->w->body) and writes the whole signed POST request into
 * c->wbuf, which then holds the connection's previous request for duplicates. Exits through
 * lg_die() when the request exceeds its buffer's maximum. Called on c's worker thread. */
void lg_delivery_build(struct lg_conn *c);

/* ---- http_conn.c ---- */

/* Starts a non-blocking connect to the shared address and registers c with its worker's
 * epoll; a connect that fails at once is counted and c retried later (LG_CONN_CLOSED). */
void lg_conn_open(struct lg_conn *c, int64_t now);
/* Closes the socket (if any); c becomes LG_CONN_CLOSED, to be reopened from retry_at on. */
void lg_conn_close(struct lg_conn *c, int64_t retry_at);
/* Counts an error of the given kind and closes c, to be retried after a pause. */
void lg_conn_fail(struct lg_conn *c, enum lg_err_kind kind, int64_t now);
/* Advances c after epoll reported events on it: connect completion, writing the rest of the
 * request, reading and accounting the response, then the next request or a reconnect. */
void lg_conn_on_event(struct lg_conn *c, uint32_t events, int64_t now);

/* ---- worker.c ---- */

/* Sets up worker id with its nconns connections at conns[0..nconns): epoll instance, body
 * buffer, keyed HMAC context, random generator, histogram and the connections' buffers.
 * Exits through lg_die() on failure. Called on the main thread before the workers start. */
void lg_worker_init(struct lg_worker *w, int id, struct lg_shared *sh, struct lg_conn *conns,
                    int nconns);
/* Frees what lg_worker_init set up, connections included; not the arrays themselves. */
void lg_worker_free(struct lg_worker *w);
/* May a connection start another request now? Sets *measured: whether that request counts
 * for the report (it started after the warmup). Any worker thread. */
bool lg_worker_may_start(struct lg_worker *w, int64_t now, bool *measured);
/* Whether the run is over: no more requests may start. Any worker thread. */
bool lg_worker_stopping(const struct lg_worker *w, int64_t now);
/* The thread function (arg: struct lg_worker *): runs the connections until all are done,
 * applying --timeout and reconnecting closed ones. Returns NULL. */
void *lg_worker_main(void *arg);

#endif
