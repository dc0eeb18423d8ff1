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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"

#define HIST_STEP_NS  10000 /* 10 us */
#define MAX_HEAD      (64u * 1024u)
#define MAX_RESPONSE  (1024u * 1024u + MAX_HEAD)
#define MAX_BODY      (8u * 1024u * 1024u)
#define MAX_K         10000
#define MAX_CONNS     100000
#define MAX_THREADS   256
#define RECONNECT_NS  (10 * 1000000LL)  /* after a reset */
#define RETRY_CONN_NS (100 * 1000000LL) /* after a failed connect */

enum err_kind { ERR_CONNECT, ERR_RESET, ERR_TIMEOUT, ERR_PROTOCOL, ERR_KINDS };

static const char *const err_names[ERR_KINDS] = {"connect", "reset", "timeout", "protocol"};

/* Short direct messages as customers write them; no character needs escaping in JSON. */
static const char *const texts[] = {
    "Hi! How much is the linen dress in size S?",
    "is the black bag still available?",
    "Do you ship to Berlin?",
    "hello",
    "When will size M be back in stock?",
    "Can I pay on delivery?",
    "what are your opening hours on sunday",
    "I ordered last week and still have no tracking number",
    "Is there a discount for two items?",
    "Love it!! 😍",
    "Can I return it if it does not fit?",
    "price?",
    "Do you have this in green?",
    "thanks, got it",
    "Спасибо, получила заказ!",
    "Сколько стоит доставка?",
    "my parcel arrived damaged, what should I do?",
    "Is the sale still on?",
};

struct opts {
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
struct shared {
    const struct opts *o;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int64_t t0;
    int64_t warm_end;
    int64_t end; /* duration mode only */
    atomic_uint_fast64_t next_delivery;
    atomic_uint_fast64_t measured_started; /* requests mode only */
};

struct counters {
    uint64_t requests;
    uint64_t status[6]; /* [1..5]: 1xx..5xx (1xx final: never), [0]: anything else */
    uint64_t errors[ERR_KINDS];
};

enum conn_state { C_CLOSED, C_CONNECTING, C_BUSY, C_DONE };

struct worker;

struct conn {
    struct worker *w;
    int fd;
    enum conn_state state;
    bool want_out;      /* EPOLLOUT registered */
    bool measured;      /* the request in flight counts for the report */
    bool has_prev;      /* wbuf holds a complete earlier request that may be re-sent */
    bool prev_acked;    /* that delivery already got a 2xx */
    int64_t t_start;    /* first byte written (request) or connect started */
    int64_t retry_at;   /* when C_CLOSED */
    struct dk_buf wbuf; /* the request */
    size_t woff;
    char *rbuf;
    size_t rlen;
    size_t rcap;
};

struct worker {
    int id;
    pthread_t tid;
    int epfd;
    struct shared *sh;
    const struct opts *o;
    struct conn *conns;
    int nconns;
    struct dk_buf body;
    EVP_MAC_CTX *mac; /* keyed with the secret; copied for every body */
    uint64_t rng;
    struct counters all;
    struct counters meas;
    uint32_t *hist;
    size_t nbuckets;
    uint64_t nlat;
    uint64_t sum_ns;
    int64_t max_ns;
    int64_t last_done; /* of a measured request */
    uint64_t fresh;
    uint64_t dups;
    uint64_t unique_events_acked;
};

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64*: plenty for picking customers and texts */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

/* ---- building requests ---- */

static void put(struct dk_buf *b, const char *s, size_t n)
{
    if (dk_buf_append(b, s, n) != 0) {
        die("request too large");
    }
}

static void put_s(struct dk_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(struct dk_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(b, tmp + i, sizeof(tmp) - i);
}

/* The body of one delivery, in Meta's shape; formatted by hand because snprintf would cost
 * more than the rest of a request's client-side work. */
static void build_body(struct worker *w, uint64_t delivery)
{
    const struct opts *o = w->o;
    struct dk_buf *b = &w->body;
    uint64_t ms = (uint64_t)dk_now_ms();

    dk_buf_reset(b);
    put_s(b, "{\"object\":\"instagram\",\"entry\":[{\"id\":\"");
    put_s(b, o->account);
    put_s(b, "\",\"time\":");
    put_u64(b, ms);
    put_s(b, ",\"messaging\":[");
    for (int i = 0; i < o->k; i++) {
        uint64_t customer = next_rand(&w->rng) % o->customers;
        const char *text = texts[next_rand(&w->rng) % (sizeof(texts) / sizeof(texts[0]))];
        put_s(b, i > 0 ? ",{\"sender\":{\"id\":\"" : "{\"sender\":{\"id\":\"");
        put_u64(b, UINT64_C(1327813000000000) + customer * 7919);
        put_s(b, "\"},\"recipient\":{\"id\":\"");
        put_s(b, o->account);
        put_s(b, "\"},\"timestamp\":");
        put_u64(b, ms - (uint64_t)(o->k - i));
        put_s(b, ",\"message\":{\"mid\":\"bench-");
        put_s(b, o->run_id);
        put_s(b, "-");
        put_u64(b, delivery);
        put_s(b, "-");
        put_u64(b, (uint64_t)i);
        put_s(b, "\",\"text\":\"");
        put_s(b, text);
        put_s(b, "\"}}");
    }
    put_s(b, "]}]}");
}

/* hex(HMAC-SHA256(secret, body)) from a copy of the worker's keyed context, which saves the
 * key schedule on every request. */
static void sign(struct worker *w, const char *data, size_t len, char out[DK_SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(w->mac);
    if (ctx == NULL || EVP_MAC_update(ctx, (const unsigned char *)data, len) != 1 ||
        EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen != 32) {
        die("HMAC-SHA256 failed");
    }
    EVP_MAC_CTX_free(ctx);
    for (size_t i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
}

static void build_request(struct conn *c)
{
    struct worker *w = c->w;
    uint64_t delivery = atomic_fetch_add(&w->sh->next_delivery, 1);
    char sig[DK_SHA256_HEX];

    build_body(w, delivery);
    sign(w, w->body.data, w->body.len, sig);
    dk_buf_reset(&c->wbuf);
    put_s(&c->wbuf, w->o->head); /* ends with "sha256=" */
    put_s(&c->wbuf, sig);
    put_s(&c->wbuf, "\r\nContent-Length: ");
    put_u64(&c->wbuf, w->body.len);
    put_s(&c->wbuf, "\r\n\r\n");
    put(&c->wbuf, w->body.data, w->body.len);
    c->has_prev = true;
    c->prev_acked = false;
}

/* ---- parsing responses ---- */

struct response {
    int status;
    bool close;
    size_t len; /* bytes of the whole response */
};

static bool header_is(const char *line, size_t n, const char *name)
{
    size_t nl = strlen(name);
    return n > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0;
}

static bool value_has(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= n; i++) {
        if (strncasecmp(v + i, token, tl) == 0) {
            return true;
        }
    }
    return false;
}

static int parse_u64(const char *s, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    size_t start = i;
    for (; i < n; i++) {
        int d;
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (base == 16 && ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else if (base == 16 && ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        } else {
            break;
        }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            return -1;
        }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (i == start) {
        return -1;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || (base == 16 && s[i] == ';'))) {
        if (s[i] == ';') {
            i = n; /* chunk extensions are ignored */
            break;
        }
        i++;
    }
    if (i != n) {
        return -1;
    }
    *out = v;
    return 0;
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            return p;
        }
    }
    return NULL;
}

/* Walks a chunked body starting at p; returns 1 and sets *len when complete, 0 when more
 * bytes are needed, -1 when malformed. */
static int parse_chunked(const char *start, const char *p, const char *end, size_t *len)
{
    for (;;) {
        const char *eol = find_crlf(p, end);
        uint64_t size;
        if (eol == NULL) {
            return (size_t)(end - p) > 1024 ? -1 : 0;
        }
        if (parse_u64(p, (size_t)(eol - p), 16, &size) != 0 || size > MAX_RESPONSE) {
            return -1;
        }
        p = eol + 2;
        if (size == 0) {
            break;
        }
        if ((uint64_t)(end - p) < size + 2) {
            return 0;
        }
        if (p[size] != '\r' || p[size + 1] != '\n') {
            return -1;
        }
        p += size + 2;
    }
    for (;;) { /* trailers, up to an empty line */
        const char *eol = find_crlf(p, end);
        if (eol == NULL) {
            return (size_t)(end - p) > MAX_HEAD ? -1 : 0;
        }
        bool empty = eol == p;
        p = eol + 2;
        if (empty) {
            break;
        }
    }
    *len = (size_t)(p - start);
    return 1;
}

/* Parses one response at buf[0..n). eof: the peer closed. Returns 1 when complete, 0 when more
 * bytes are needed, -1 when malformed. */
static int parse_response(const char *buf, size_t n, bool eof, struct response *r)
{
    const char *end = buf + n;
    const char *eol = find_crlf(buf, end);
    if (eol == NULL) {
        return n > MAX_HEAD ? -1 : 0;
    }
    if (eol - buf < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ') {
        return -1;
    }
    uint64_t status;
    if (parse_u64(buf + 9, 3, 10, &status) != 0 || status < 100 || status > 999) {
        return -1;
    }
    r->status = (int)status;
    r->close = buf[7] == '0';
    bool chunked = false;
    bool have_len = false;
    uint64_t clen = 0;
    const char *p = eol + 2;
    for (;;) {
        eol = find_crlf(p, end);
        if (eol == NULL) {
            return n > MAX_HEAD ? -1 : 0;
        }
        size_t ln = (size_t)(eol - p);
        if (ln == 0) {
            p = eol + 2;
            break;
        }
        if (header_is(p, ln, "content-length")) {
            if (parse_u64(p + 15, ln - 15, 10, &clen) != 0 || clen > MAX_RESPONSE) {
                return -1;
            }
            have_len = true;
        } else if (header_is(p, ln, "transfer-encoding")) {
            chunked = value_has(p + 18, ln - 18, "chunked");
        } else if (header_is(p, ln, "connection")) {
            if (value_has(p + 11, ln - 11, "close")) {
                r->close = true;
            } else if (value_has(p + 11, ln - 11, "keep-alive")) {
                r->close = false;
            }
        }
        p = eol + 2;
    }
    size_t head = (size_t)(p - buf);
    if (status < 200 || status == 204 || status == 304) {
        r->len = head;
        return 1;
    }
    if (chunked) {
        return parse_chunked(buf, p, end, &r->len);
    }
    if (have_len) {
        if (n - head < clen) {
            return 0;
        }
        r->len = head + (size_t)clen;
        return 1;
    }
    /* no length: the body ends when the server closes */
    r->close = true;
    r->len = n;
    return eof ? 1 : 0;
}

/* ---- connections ---- */

static void set_events(struct conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        die("epoll_ctl failed");
    }
    c->want_out = out;
}

static void conn_close(struct conn *c, int64_t retry_at)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = C_CLOSED;
    c->retry_at = retry_at;
    c->want_out = false;
    c->rlen = 0;
}

/* An error inside a request counts where the request does; one between requests (connect)
 * counts as measured after the warmup. */
static void count_error(struct conn *c, enum err_kind kind, bool in_request, int64_t now)
{
    struct worker *w = c->w;
    w->all.errors[kind]++;
    if (in_request ? c->measured : now >= w->sh->warm_end) {
        w->meas.errors[kind]++;
    }
    if (in_request && c->measured) {
        w->last_done = now;
    }
}

static void conn_fail(struct conn *c, enum err_kind kind, int64_t now)
{
    bool in_request = c->state == C_BUSY;
    count_error(c, kind, in_request, now);
    conn_close(c, now + (kind == ERR_CONNECT ? RETRY_CONN_NS : RECONNECT_NS));
}

static void conn_open(struct conn *c, int64_t now)
{
    const struct shared *sh = c->w->sh;
    int one = 1;
    c->fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        die("could not create a socket");
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_CONNECTING;
    c->t_start = now;
    c->rlen = 0;
    if (connect(c->fd, (const struct sockaddr *)&sh->addr, sh->addrlen) != 0 &&
        errno != EINPROGRESS) {
        conn_fail(c, ERR_CONNECT, now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        die("epoll_ctl failed");
    }
    c->want_out = true;
}

/* May this connection start another request now? Sets *measured. */
static bool may_start(struct worker *w, int64_t now, bool *measured)
{
    const struct shared *sh = w->sh;
    *measured = now >= sh->warm_end;
    if (!*measured) {
        return true;
    }
    if (w->o->requests == 0) {
        return now < sh->end;
    }
    return atomic_fetch_add(&w->sh->measured_started, 1) < w->o->requests;
}

static bool stopping(const struct worker *w, int64_t now)
{
    const struct shared *sh = w->sh;
    if (now < sh->warm_end) {
        return false;
    }
    if (w->o->requests == 0) {
        return now >= sh->end;
    }
    return atomic_load(&w->sh->measured_started) >= w->o->requests;
}

static void conn_write(struct conn *c, int64_t now)
{
    while (c->woff < c->wbuf.len) {
        ssize_t n = send(c->fd, c->wbuf.data + c->woff, c->wbuf.len - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out) {
                    set_events(c, true);
                }
                return;
            }
            conn_fail(c, ERR_RESET, now);
            return;
        }
        c->woff += (size_t)n;
    }
    if (c->want_out) {
        set_events(c, false);
    }
}

static void conn_next(struct conn *c, int64_t now)
{
    struct worker *w = c->w;
    bool measured;
    if (!may_start(w, now, &measured)) {
        conn_close(c, 0);
        c->state = C_DONE;
        return;
    }
    bool dup = c->has_prev && w->o->dup_pct > 0 &&
               (double)(next_rand(&w->rng) % 1000000) < w->o->dup_pct * 10000.0;
    if (dup) {
        w->dups++;
    } else {
        build_request(c);
        w->fresh++;
    }
    c->measured = measured;
    w->all.requests++;
    if (measured) {
        w->meas.requests++;
    }
    c->state = C_BUSY;
    c->woff = 0;
    c->rlen = 0;
    c->t_start = now_ns(); /* after building: only the wire is timed */
    conn_write(c, c->t_start);
}

static void record(struct conn *c, int status)
{
    struct worker *w = c->w;
    int64_t now = now_ns(); /* not the batch's time: events of one epoll batch wait in turn */
    int cls = status / 100;
    if (cls < 1 || cls > 5) {
        cls = 0;
    }
    w->all.status[cls]++;
    if (cls == 2 && !c->prev_acked) {
        c->prev_acked = true;
        w->unique_events_acked += (uint64_t)w->o->k;
    }
    if (!c->measured) {
        return;
    }
    int64_t lat = now - c->t_start;
    size_t b = (size_t)(lat / HIST_STEP_NS);
    w->meas.status[cls]++;
    w->hist[b < w->nbuckets ? b : w->nbuckets - 1]++;
    w->nlat++;
    w->sum_ns += (uint64_t)lat;
    if (lat > w->max_ns) {
        w->max_ns = lat;
    }
    w->last_done = now;
}

/* rdhup: the peer has shut down its side, so read until the end of the stream. Otherwise a
 * short read ends the loop (saving the recv that would say EAGAIN): epoll is level-triggered
 * and reports what comes later. */
static void conn_read(struct conn *c, bool rdhup, int64_t now)
{
    bool eof = false;
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            if (c->rcap >= MAX_RESPONSE) {
                conn_fail(c, ERR_PROTOCOL, now);
                return;
            }
            c->rcap *= 2;
            c->rbuf = dk_realloc(c->rbuf, c->rcap);
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            bool short_read = (size_t)n < c->rcap - c->rlen;
            c->rlen += (size_t)n;
            if (short_read && !rdhup) {
                break;
            }
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        conn_fail(c, ERR_RESET, now);
        return;
    }
    if (c->state != C_BUSY) {
        /* bytes or a close while no request is in flight */
        if (c->rlen > 0) {
            conn_fail(c, ERR_PROTOCOL, now);
        } else if (eof) {
            conn_close(c, now);
        }
        return;
    }
    for (;;) {
        struct response r;
        int rc = parse_response(c->rbuf, c->rlen, eof, &r);
        if (rc < 0) {
            conn_fail(c, ERR_PROTOCOL, now);
            return;
        }
        if (rc == 0) {
            if (eof) {
                conn_fail(c, ERR_RESET, now);
            }
            return;
        }
        if (r.status >= 100 && r.status < 200) { /* interim response: drop it */
            memmove(c->rbuf, c->rbuf + r.len, c->rlen - r.len);
            c->rlen -= r.len;
            continue;
        }
        if (r.len != c->rlen || c->woff != c->wbuf.len) {
            record(c, r.status);
            conn_fail(c, ERR_PROTOCOL, now); /* extra bytes or an early answer */
            return;
        }
        record(c, r.status);
        c->rlen = 0;
        if (r.close || eof) {
            conn_close(c, now);
            if (!stopping(c->w, now)) {
                conn_open(c, now);
            } else {
                c->state = C_DONE;
            }
        } else {
            conn_next(c, now);
        }
        return;
    }
}

static void on_event(struct conn *c, uint32_t events, int64_t now)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
            (events & (EPOLLERR | EPOLLHUP))) {
            conn_fail(c, ERR_CONNECT, now);
            return;
        }
        if (!(events & EPOLLOUT)) {
            return;
        }
        set_events(c, false);
        conn_next(c, now);
        return;
    }
    if (c->state != C_BUSY) {
        return;
    }
    if ((events & EPOLLOUT) && c->woff < c->wbuf.len) {
        conn_write(c, now);
        if (c->state != C_BUSY) {
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        conn_read(c, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, now);
    }
}

/* ---- threads ---- */

static void sweep(struct worker *w, int64_t now)
{
    bool stop = stopping(w, now);
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_BUSY && now - c->t_start > w->o->timeout_ns) {
            conn_fail(c, ERR_TIMEOUT, now);
        } else if (c->state == C_CONNECTING && now - c->t_start > w->o->timeout_ns) {
            conn_fail(c, ERR_CONNECT, now);
        }
        if (c->state == C_CLOSED) {
            if (stop) {
                c->state = C_DONE;
            } else if (now >= c->retry_at) {
                conn_open(c, now);
            }
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    int64_t last_sweep = 0;

    for (int i = 0; i < w->nconns; i++) {
        conn_open(&w->conns[i], now_ns());
    }
    for (;;) {
        int64_t now = now_ns();
        if (now - last_sweep >= 1000000) {
            sweep(w, now);
            last_sweep = now;
            int live = 0;
            for (int i = 0; i < w->nconns; i++) {
                live += w->conns[i].state != C_DONE;
            }
            if (live == 0) {
                break;
            }
        }
        int n = epoll_wait(w->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 2);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait failed");
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            on_event(evs[i].data.ptr, evs[i].events, now);
        }
    }
    return NULL;
}

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

static void parse_url(struct opts *o, const char *url)
{
    if (strncmp(url, "http://", 7) != 0) {
        die("--url must start with http://");
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
            die("bad IPv6 literal in --url");
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

static void parse_opts(struct opts *o, int argc, char **argv)
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
            o->concurrency = (int)num_arg(optarg, "concurrency", 1, MAX_CONNS);
            break;
        case 'd':
            duration = num_arg(optarg, "duration", 0.001, 1e6);
            break;
        case 'n':
            o->requests = (uint64_t)num_arg(optarg, "requests", 1, 1e15);
            break;
        case 'k':
            o->k = (int)num_arg(optarg, "events-per-delivery", 1, MAX_K);
            break;
        case 'm':
            o->customers = (uint64_t)num_arg(optarg, "customers", 1, 1e9);
            break;
        case 't':
            o->threads = (int)num_arg(optarg, "threads", 1, MAX_THREADS);
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
        die("--secret (or IG_APP_SECRET) is required");
    }
    if (o->requests > 0 && duration > 0) {
        die("--duration and --requests exclude each other");
    }
    if (o->requests == 0) {
        o->duration_ns = (int64_t)((duration > 0 ? duration : 10) * 1e9);
    }
    for (const char *p = o->run_id; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            die("--run-id must not need JSON escaping");
        }
    }
    for (const char *p = o->account; *p; p++) {
        if (*p < '0' || *p > '9') {
            die("--account must be numeric");
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
        die("--url too long");
    }
}

static EVP_MAC_CTX *mac_new(const char *secret)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL ||
        EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
        die("could not set up HMAC-SHA256");
    }
    EVP_MAC_free(mac); /* the context keeps its own reference */
    return ctx;
}

static void resolve(struct shared *sh, const struct opts *o)
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
    struct counters all;
    struct counters meas;
    double elapsed_s;
    double p50, p90, p99, max, mean; /* ms */
    uint64_t fresh, dups, unique_events_acked;
};

static double percentile(const uint32_t *hist, size_t nb, uint64_t total, double q, double max)
{
    if (total == 0) {
        return 0;
    }
    double x = q * (double)total;
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x || rank == 0) {
        rank++;
    }
    uint64_t seen = 0;
    for (size_t i = 0; i < nb; i++) {
        seen += hist[i];
        if (seen >= rank) {
            double v = (double)(i + 1) * HIST_STEP_NS / 1e6; /* bucket's upper edge */
            return v < max ? v : max;
        }
    }
    return max;
}

static void summarize(struct worker *ws, int nw, const struct shared *sh, struct report *r)
{
    const struct opts *o = sh->o;
    size_t nb = ws[0].nbuckets;
    uint64_t nlat = 0, sum = 0;
    int64_t max_ns = 0, last = 0;

    memset(r, 0, sizeof(*r));
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        r->all.requests += w->all.requests;
        r->meas.requests += w->meas.requests;
        for (int s = 0; s < 6; s++) {
            r->all.status[s] += w->all.status[s];
            r->meas.status[s] += w->meas.status[s];
        }
        for (int e = 0; e < ERR_KINDS; e++) {
            r->all.errors[e] += w->all.errors[e];
            r->meas.errors[e] += w->meas.errors[e];
        }
        if (i > 0) {
            for (size_t b = 0; b < nb; b++) {
                ws[0].hist[b] += w->hist[b];
            }
        }
        nlat += w->nlat;
        sum += w->sum_ns;
        max_ns = w->max_ns > max_ns ? w->max_ns : max_ns;
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
    r->max = (double)max_ns / 1e6;
    r->mean = nlat ? (double)sum / (double)nlat / 1e6 : 0;
    r->p50 = percentile(ws[0].hist, nb, nlat, 0.50, r->max);
    r->p90 = percentile(ws[0].hist, nb, nlat, 0.90, r->max);
    r->p99 = percentile(ws[0].hist, nb, nlat, 0.99, r->max);
}

static uint64_t non_2xx(const struct counters *c)
{
    return c->status[0] + c->status[1] + c->status[3] + c->status[4] + c->status[5];
}

static uint64_t error_sum(const struct counters *c)
{
    uint64_t n = 0;
    for (int e = 0; e < ERR_KINDS; e++) {
        n += c->errors[e];
    }
    return n;
}

static void print_report(const struct opts *o, const struct report *r)
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
        for (int e = 0; e < ERR_KINDS; e++) {
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
           r->meas.errors[ERR_CONNECT], r->meas.errors[ERR_RESET], r->meas.errors[ERR_TIMEOUT],
           r->meas.errors[ERR_PROTOCOL]);
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
    struct opts o;
    struct shared sh;
    struct report r;

    signal(SIGPIPE, SIG_IGN);
    parse_opts(&o, argc, argv);
    memset(&sh, 0, sizeof(sh));
    sh.o = &o;
    resolve(&sh, &o);
    atomic_init(&sh.next_delivery, 0);
    atomic_init(&sh.measured_started, 0);

    struct worker *ws = dk_calloc((size_t)o.threads, sizeof(*ws));
    struct conn *conns = dk_calloc((size_t)o.concurrency, sizeof(*conns));
    size_t nb = (size_t)(o.timeout_ns / HIST_STEP_NS) + 1;
    int next = 0;
    for (int i = 0; i < o.threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->sh = &sh;
        w->o = &o;
        w->nconns = o.concurrency / o.threads + (i < o.concurrency % o.threads ? 1 : 0);
        w->conns = &conns[next];
        next += w->nconns;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0) {
            die("epoll_create1 failed");
        }
        dk_buf_init(&w->body, MAX_BODY);
        w->mac = mac_new(o.secret);
        dk_random_bytes(&w->rng, sizeof(w->rng));
        w->rng |= 1;
        w->nbuckets = nb;
        w->hist = dk_calloc(nb, sizeof(*w->hist));
        for (int j = 0; j < w->nconns; j++) {
            struct conn *c = &w->conns[j];
            c->w = w;
            c->fd = -1;
            dk_buf_init(&c->wbuf, MAX_BODY + MAX_HEAD);
            c->rcap = 8192;
            c->rbuf = dk_malloc(c->rcap);
        }
    }
    sh.t0 = now_ns();
    sh.warm_end = sh.t0 + o.warmup_ns;
    sh.end = sh.warm_end + o.duration_ns;
    for (int i = 0; i < o.threads; i++) {
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            die("could not start a thread");
        }
    }
    for (int i = 0; i < o.threads; i++) {
        pthread_join(ws[i].tid, NULL);
    }
    summarize(ws, o.threads, &sh, &r);
    print_report(&o, &r);

    for (int i = 0; i < o.concurrency; i++) {
        dk_buf_free(&conns[i].wbuf);
        dk_free(conns[i].rbuf);
    }
    for (int i = 0; i < o.threads; i++) {
        close(ws[i].epfd);
        dk_buf_free(&ws[i].body);
        EVP_MAC_CTX_free(ws[i].mac);
        dk_free(ws[i].hist);
    }
    dk_free(conns);
    dk_free(ws);

    bool bad = error_sum(&r.all) > 0 || non_2xx(&r.all) > 0;
    return bad && !o.allow_errors ? 1 : 0;
}
