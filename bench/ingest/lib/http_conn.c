/*
 * bench/ingest/lib/http_conn: one client connection of bench_loadgen, a non-blocking TCP
 * socket speaking HTTP/1.1 with keep-alive, and the parsing of its responses.
 *
 * A connection goes CLOSED -> CONNECTING -> BUSY (one request in flight; the next one, fresh
 * or a byte-for-byte duplicate, is written as soon as the response is read) and back to
 * CLOSED on an error or "Connection: close", or to DONE when the run is over. The parser
 * takes the status line, Content-Length, chunked bodies (with trailers), Connection and bodies
 * delimited by the close; every bound is fixed (LG_MAX_HEAD, LG_MAX_RESPONSE). Latency runs
 * from the first byte of a request written to the last byte of its response read.
 */
#include "loadgen.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

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
        if (parse_u64(p, (size_t)(eol - p), 16, &size) != 0 || size > LG_MAX_RESPONSE) {
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
            return (size_t)(end - p) > LG_MAX_HEAD ? -1 : 0;
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
        return n > LG_MAX_HEAD ? -1 : 0;
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
            return n > LG_MAX_HEAD ? -1 : 0;
        }
        size_t ln = (size_t)(eol - p);
        if (ln == 0) {
            p = eol + 2;
            break;
        }
        if (header_is(p, ln, "content-length")) {
            if (parse_u64(p + 15, ln - 15, 10, &clen) != 0 || clen > LG_MAX_RESPONSE) {
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

static void set_events(struct lg_conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        lg_die("epoll_ctl failed");
    }
    c->want_out = out;
}

void lg_conn_close(struct lg_conn *c, int64_t retry_at)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = LG_CONN_CLOSED;
    c->retry_at = retry_at;
    c->want_out = false;
    c->rlen = 0;
}

/* An error inside a request counts where the request does; one between requests (connect)
 * counts as measured after the warmup. */
static void count_error(struct lg_conn *c, enum lg_err_kind kind, bool in_request, int64_t now)
{
    struct lg_worker *w = c->w;
    w->all.errors[kind]++;
    if (in_request ? c->measured : now >= w->sh->warm_end) {
        w->meas.errors[kind]++;
    }
    if (in_request && c->measured) {
        w->last_done = now;
    }
}

void lg_conn_fail(struct lg_conn *c, enum lg_err_kind kind, int64_t now)
{
    bool in_request = c->state == LG_CONN_BUSY;
    count_error(c, kind, in_request, now);
    lg_conn_close(c, now + (kind == LG_ERR_CONNECT ? LG_RETRY_CONN_NS : LG_RECONNECT_NS));
}

void lg_conn_open(struct lg_conn *c, int64_t now)
{
    const struct lg_shared *sh = c->w->sh;
    int one = 1;
    c->fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        lg_die("could not create a socket");
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = LG_CONN_CONNECTING;
    c->t_start = now;
    c->rlen = 0;
    if (connect(c->fd, (const struct sockaddr *)&sh->addr, sh->addrlen) != 0 &&
        errno != EINPROGRESS) {
        lg_conn_fail(c, LG_ERR_CONNECT, now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        lg_die("epoll_ctl failed");
    }
    c->want_out = true;
}

static void conn_write(struct lg_conn *c, int64_t now)
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
            lg_conn_fail(c, LG_ERR_RESET, now);
            return;
        }
        c->woff += (size_t)n;
    }
    if (c->want_out) {
        set_events(c, false);
    }
}

static void conn_next(struct lg_conn *c, int64_t now)
{
    struct lg_worker *w = c->w;
    bool measured;
    if (!lg_worker_may_start(w, now, &measured)) {
        lg_conn_close(c, 0);
        c->state = LG_CONN_DONE;
        return;
    }
    bool dup = c->has_prev && w->o->dup_pct > 0 &&
               (double)(lg_rand(&w->rng) % 1000000) < w->o->dup_pct * 10000.0;
    if (dup) {
        w->dups++;
    } else {
        lg_delivery_build(c);
        w->fresh++;
    }
    c->measured = measured;
    w->all.requests++;
    if (measured) {
        w->meas.requests++;
    }
    c->state = LG_CONN_BUSY;
    c->woff = 0;
    c->rlen = 0;
    c->t_start = lg_now_ns(); /* after building: only the wire is timed */
    conn_write(c, c->t_start);
}

/* Accounts the response to the request in flight: its status class, the events of a delivery
 * acknowledged for the first time, and for a measured request its latency. */
static void record(struct lg_conn *c, int status)
{
    struct lg_worker *w = c->w;
    int64_t now = lg_now_ns(); /* not the batch's time: events of one epoll batch wait in turn */
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
    w->meas.status[cls]++;
    lg_hist_add(&w->hist, now - c->t_start);
    w->last_done = now;
}

/* rdhup: the peer has shut down its side, so read until the end of the stream. Otherwise a
 * short read ends the loop (saving the recv that would say EAGAIN): epoll is level-triggered
 * and reports what comes later. */
static void conn_read(struct lg_conn *c, bool rdhup, int64_t now)
{
    bool eof = false;
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            if (c->rcap >= LG_MAX_RESPONSE) {
                lg_conn_fail(c, LG_ERR_PROTOCOL, now);
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
        lg_conn_fail(c, LG_ERR_RESET, now);
        return;
    }
    if (c->state != LG_CONN_BUSY) {
        /* bytes or a close while no request is in flight */
        if (c->rlen > 0) {
            lg_conn_fail(c, LG_ERR_PROTOCOL, now);
        } else if (eof) {
            lg_conn_close(c, now);
        }
        return;
    }
    for (;;) {
        struct response r;
        int rc = parse_response(c->rbuf, c->rlen, eof, &r);
        if (rc < 0) {
            lg_conn_fail(c, LG_ERR_PROTOCOL, now);
            return;
        }
        if (rc == 0) {
            if (eof) {
                lg_conn_fail(c, LG_ERR_RESET, now);
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
            lg_conn_fail(c, LG_ERR_PROTOCOL, now); /* extra bytes or an early answer */
            return;
        }
        record(c, r.status);
        c->rlen = 0;
        if (r.close || eof) {
            lg_conn_close(c, now);
            if (!lg_worker_stopping(c->w, now)) {
                lg_conn_open(c, now);
            } else {
                c->state = LG_CONN_DONE;
            }
        } else {
            conn_next(c, now);
        }
        return;
    }
}

void lg_conn_on_event(struct lg_conn *c, uint32_t events, int64_t now)
{
    if (c->state == LG_CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
            (events & (EPOLLERR | EPOLLHUP))) {
            lg_conn_fail(c, LG_ERR_CONNECT, now);
            return;
        }
        if (!(events & EPOLLOUT)) {
            return;
        }
        set_events(c, false);
        conn_next(c, now);
        return;
    }
    if (c->state != LG_CONN_BUSY) {
        return;
    }
    if ((events & EPOLLOUT) && c->woff < c->wbuf.len) {
        conn_write(c, now);
        if (c->state != LG_CONN_BUSY) {
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        conn_read(c, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, now);
    }
}
