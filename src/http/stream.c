/*
 * http/stream: streamed responses (chunked transfer, e.g. Server-Sent Events) that any thread
 * writes while MHD sends them.
 *
 * A stream is an MHD callback response of unknown size over a bounded byte queue under one
 * mutex. MHD's content reader copies from the queue; when the queue is empty and the producer
 * has not ended, the reader suspends the connection (returning 0 alone makes MHD's epoll thread
 * spin) and the next write or the end resumes it. The stream is refcounted: the producer holds
 * one reference until http_stream_end, the MHD response the other until MHD destroys it (the
 * request finished, or the client went away), which marks the stream closed; writes then
 * return DK_ECANCELED and touch nothing of the server's.
 *
 * A suspended connection does not see its client hang up, so writes and http_stream_closed
 * poll the socket for a hang-up before resuming; the reader then aborts the connection.
 * Streams that MHD is sending are on the server's list (linked by the reader, on MHD's thread,
 * so never after the server is gone), and the shutdown ends them and resumes their connections
 * before MHD_stop_daemon, which must not meet a suspended connection.
 * Lock order: MHD's response mutex, srv->streams_lock, st->lock, MHD's internal locks.
 */
#include "http/http_int.h"

#include "core/log.h"

#include <poll.h>
#include <string.h>
#include <strings.h>

#define STREAM_BLOCK      4096u        /* MHD's advisory read size */
#define STREAM_KEEP_BUF   (64u * 1024) /* a drained queue keeps at most this much memory */
#define STREAM_CACHE_CTRL "no-cache"

struct http_stream {
    pthread_mutex_t lock;        /* everything below but seen */
    int refs;                    /* the producer's and the MHD response's */
    struct http_server *srv;     /* dereferenced only while linked: the server is alive then */
    struct MHD_Connection *conn; /* NULL once MHD dropped the response */
    int fd;                      /* the connection's socket, from the first read; -1 before */
    char *buf;                   /* the queue: bytes buf[off..len) wait to be sent */
    size_t off;
    size_t len;
    size_t cap;
    bool seen;     /* the reader ran once: only MHD's thread for the connection touches it */
    bool linked;   /* on srv->streams; written under both locks */
    bool parked;   /* the reader suspended the connection */
    bool ended;    /* http_stream_end was called */
    bool closed;   /* MHD dropped the response: the request is over */
    bool gone;     /* the client hung up while the connection was suspended */
    bool stopping; /* the shutdown ends the stream */
    struct http_stream *prev; /* srv->streams links */
    struct http_stream *next;
};

static void stream_release(struct http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    DK_ASSERT(st->refs > 0);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (last) {
        pthread_mutex_destroy(&st->lock);
        dk_free(st->buf);
        dk_free(st);
    }
}

/* Resumes the connection if the reader suspended it. With st->lock held. */
static void wake(struct http_stream *st)
{
    if (st->parked) {
        st->parked = false;
        MHD_resume_connection(st->conn);
    }
}

/* Whether the client hung up while the connection sits suspended; then the connection is
 * resumed so that the reader aborts it. With st->lock held. */
static bool check_gone(struct http_stream *st)
{
    if (st->gone) {
        return true;
    }
    if (!st->parked || st->fd < 0) {
        return false; /* MHD watches the socket itself */
    }
    struct pollfd pfd = {.fd = st->fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) <= 0 || (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) {
        return false;
    }
    st->gone = true;
    wake(st);
    return true;
}

static bool cancelled(struct http_stream *st)
{
    return st->closed || st->stopping || check_gone(st);
}

/* Appends to the queue within HTTP_STREAM_MAX_PENDING. With st->lock held. */
static int enqueue(struct http_stream *st, const void *p, size_t n)
{
    size_t pending = st->len - st->off;
    if (n > HTTP_STREAM_MAX_PENDING - pending) {
        return DK_ETOOBIG;
    }
    if (st->off > 0) {
        memmove(st->buf, st->buf + st->off, pending);
        st->off = 0;
        st->len = pending;
    }
    if (st->len + n > st->cap) {
        size_t cap = st->cap > 0 ? st->cap : STREAM_BLOCK;
        while (cap < st->len + n) {
            cap *= 2;
        }
        st->buf = dk_realloc(st->buf, cap);
        st->cap = cap;
    }
    memcpy(st->buf + st->len, p, n);
    st->len += n;
    return 0;
}

/* ---- MHD's side ---- */

/* Puts the stream on the server's list, or ends it at once when the shutdown began. */
static void link_stream(struct http_stream *st)
{
    struct http_server *s = st->srv;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&s->streams_lock);
    pthread_mutex_lock(&st->lock);
    st->fd = info != NULL ? (int)info->connect_fd : -1;
    st->linked = true;
    st->stopping = s->streams_stopping;
    pthread_mutex_unlock(&st->lock);
    st->prev = NULL;
    st->next = s->streams;
    if (s->streams != NULL) {
        s->streams->prev = st;
    }
    s->streams = st;
    pthread_mutex_unlock(&s->streams_lock);
}

static void unlink_stream(struct http_stream *st)
{
    struct http_server *s = st->srv;
    pthread_mutex_lock(&s->streams_lock);
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else {
        s->streams = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    st->prev = NULL;
    st->next = NULL;
    pthread_mutex_lock(&st->lock);
    st->linked = false;
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_unlock(&s->streams_lock);
}

/* MHD's content reader: MHD's thread for the connection, with the response's mutex held. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct http_stream *st = cls;
    if (!st->seen) {
        st->seen = true;
        link_stream(st);
    }
    ssize_t rc;
    pthread_mutex_lock(&st->lock);
    size_t pending = st->len - st->off;
    if (st->gone) {
        rc = MHD_CONTENT_READER_END_WITH_ERROR; /* MHD closes the connection */
    } else if (pending > 0 && max > 0) {
        size_t n = pending < max ? pending : max;
        memcpy(out, st->buf + st->off, n);
        st->off += n;
        if (st->off == st->len) {
            st->off = 0;
            st->len = 0;
            if (st->cap > STREAM_KEEP_BUF) {
                /* a burst is over: idle streams keep little memory */
                dk_free(st->buf);
                st->buf = NULL;
                st->cap = 0;
            }
        }
        rc = (ssize_t)n;
    } else if (st->ended || st->stopping) {
        rc = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* nothing to send yet: the next write or the end resumes the connection */
        st->parked = true;
        MHD_suspend_connection(st->conn);
        rc = 0;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* MHD dropped the response: the request is over (sent, failed, or never queued). Whichever
 * thread destroys the response. */
static void stream_free(void *cls)
{
    struct http_stream *st = cls;
    pthread_mutex_lock(&st->lock);
    st->closed = true;
    st->parked = false; /* MHD never drops the response of a suspended connection */
    st->conn = NULL;
    st->fd = -1;
    bool linked = st->linked;
    pthread_mutex_unlock(&st->lock);
    if (linked) {
        unlink_stream(st);
    }
    stream_release(st);
}

void http_stream_stop_all(struct http_server *s)
{
    int n = 0;
    pthread_mutex_lock(&s->streams_lock);
    s->streams_stopping = true;
    for (struct http_stream *st = s->streams; st != NULL; st = st->next) {
        pthread_mutex_lock(&st->lock);
        st->stopping = true;
        wake(st);
        pthread_mutex_unlock(&st->lock);
        n++;
    }
    pthread_mutex_unlock(&s->streams_lock);
    if (n > 0) {
        DK_WARN("ending %d streamed responses after their queued bytes: the server is stopping", n);
    }
}

/* ---- the producer's side ---- */

static bool has_header(const struct http_req *req, const char *name)
{
    for (const struct http_hdr *h = req->hdrs; h != NULL; h = h->next) {
        if (strcasecmp(h->name, name) == 0) {
            return true;
        }
    }
    return false;
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES) {
        DK_WARN("could not add response header %s: invalid name or value", name);
    }
}

struct http_stream *http_stream_start(struct http_req *req, int status, const char *content_type)
{
    struct http_stream *st = dk_calloc(1, sizeof(*st));
    pthread_mutex_init(&st->lock, NULL);
    st->fd = -1;
    st->srv = req->srv;
    st->conn = req->conn;
    if (req->resp != NULL) {
        DK_ERROR("could not start a stream for %s: a reply was already given", req->path);
        st->refs = 1;
        st->closed = true;
        return st;
    }
    if (status < 100 || status > 599) {
        DK_ERROR("could not stream %d to %s: not an http status, answering 500", status, req->path);
        status = 500;
    }
    st->refs = 2;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  stream_read, st, stream_free);
    DK_ASSERT(resp != NULL);
    if (content_type != NULL) {
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    if (!has_header(req, MHD_HTTP_HEADER_CACHE_CONTROL)) {
        add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, STREAM_CACHE_CTRL);
    }
    /* the dispatcher queues it like any reply (X-Request-Id, the application's headers); if
     * the shutdown answered 503 instead, the response dies with the request: closed */
    req->status = status;
    req->resp = resp;
    http_req_resume(req);
    return st;
}

int http_stream_write(struct http_stream *st, const void *p, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    if (cancelled(st)) {
        rc = DK_ECANCELED;
    } else if (n > 0) {
        rc = enqueue(st, p, n);
        if (rc == 0) {
            wake(st);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void put(struct dk_buf *b, const void *p, size_t n, bool *ok)
{
    if (dk_buf_append(b, p, n) != 0) {
        *ok = false;
    }
}

int http_stream_sse(struct http_stream *st, const char *event, const char *data)
{
    if (event != NULL && strpbrk(event, "\r\n") != NULL) {
        return DK_EINVAL;
    }
    struct dk_buf b;
    bool ok = true;
    dk_buf_init(&b, HTTP_STREAM_MAX_PENDING);
    if (event != NULL) {
        put(&b, "event: ", 7, &ok);
        put(&b, event, strlen(event), &ok);
        put(&b, "\n", 1, &ok);
    }
    /* a line break inside data would end the field: one data line per line instead */
    const char *p = data != NULL ? data : "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        put(&b, "data: ", 6, &ok);
        put(&b, p, n, &ok);
        put(&b, "\n", 1, &ok);
        p += n;
        if (*p == '\0') {
            break;
        }
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
    }
    put(&b, "\n", 1, &ok);
    int rc = ok ? http_stream_write(st, b.data, b.len) : DK_ETOOBIG;
    dk_buf_free(&b);
    return rc;
}

bool http_stream_closed(const struct http_stream *st)
{
    /* not const inside: the lock, and a hang-up found here resumes the connection */
    struct http_stream *s = (struct http_stream *)st;
    pthread_mutex_lock(&s->lock);
    bool closed = cancelled(s);
    pthread_mutex_unlock(&s->lock);
    return closed;
}

void http_stream_end(struct http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    DK_ASSERT(!st->ended);
    st->ended = true;
    wake(st);
    pthread_mutex_unlock(&st->lock);
    stream_release(st);
}
