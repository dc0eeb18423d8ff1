/*
 * bench/ingest/lib/worker: one bench_loadgen thread. It owns an epoll loop (level-triggered)
 * over its share of the connections, the body buffer and keyed HMAC context for building
 * requests, a random generator, its counters and its latency histogram, so that the threads
 * share nothing but struct lg_shared's two atomics: the delivery number and, with --requests,
 * the number of measured requests started. The loop sweeps every millisecond for timeouts and
 * reconnects, and ends when every connection is done.
 */
#include "loadgen.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/crypto.h"

void lg_worker_init(struct lg_worker *w, int id, struct lg_shared *sh, struct lg_conn *conns,
                    int nconns)
{
    const struct lg_opts *o = sh->o;

    w->id = id;
    w->sh = sh;
    w->o = o;
    w->nconns = nconns;
    w->conns = conns;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        lg_die("epoll_create1 failed");
    }
    dk_buf_init(&w->body, LG_MAX_BODY);
    w->mac = lg_delivery_mac_new(o->secret);
    dk_random_bytes(&w->rng, sizeof(w->rng));
    w->rng |= 1;
    lg_hist_init(&w->hist, o->timeout_ns);
    for (int j = 0; j < w->nconns; j++) {
        struct lg_conn *c = &w->conns[j];
        c->w = w;
        c->fd = -1;
        dk_buf_init(&c->wbuf, LG_MAX_BODY + LG_MAX_HEAD);
        c->rcap = 8192;
        c->rbuf = dk_malloc(c->rcap);
    }
}

void lg_worker_free(struct lg_worker *w)
{
    for (int j = 0; j < w->nconns; j++) {
        dk_buf_free(&w->conns[j].wbuf);
        dk_free(w->conns[j].rbuf);
    }
    close(w->epfd);
    dk_buf_free(&w->body);
    EVP_MAC_CTX_free(w->mac);
    lg_hist_free(&w->hist);
}

bool lg_worker_may_start(struct lg_worker *w, int64_t now, bool *measured)
{
    const struct lg_shared *sh = w->sh;
    *measured = now >= sh->warm_end;
    if (!*measured) {
        return true;
    }
    if (w->o->requests == 0) {
        return now < sh->end;
    }
    return atomic_fetch_add(&w->sh->measured_started, 1) < w->o->requests;
}

bool lg_worker_stopping(const struct lg_worker *w, int64_t now)
{
    const struct lg_shared *sh = w->sh;
    if (now < sh->warm_end) {
        return false;
    }
    if (w->o->requests == 0) {
        return now >= sh->end;
    }
    return atomic_load(&w->sh->measured_started) >= w->o->requests;
}

static void sweep(struct lg_worker *w, int64_t now)
{
    bool stop = lg_worker_stopping(w, now);
    for (int i = 0; i < w->nconns; i++) {
        struct lg_conn *c = &w->conns[i];
        if (c->state == LG_CONN_BUSY && now - c->t_start > w->o->timeout_ns) {
            lg_conn_fail(c, LG_ERR_TIMEOUT, now);
        } else if (c->state == LG_CONN_CONNECTING && now - c->t_start > w->o->timeout_ns) {
            lg_conn_fail(c, LG_ERR_CONNECT, now);
        }
        if (c->state == LG_CONN_CLOSED) {
            if (stop) {
                c->state = LG_CONN_DONE;
            } else if (now >= c->retry_at) {
                lg_conn_open(c, now);
            }
        }
    }
}

void *lg_worker_main(void *arg)
{
    struct lg_worker *w = arg;
    struct epoll_event evs[256];
    int64_t last_sweep = 0;

    for (int i = 0; i < w->nconns; i++) {
        lg_conn_open(&w->conns[i], lg_now_ns());
    }
    for (;;) {
        int64_t now = lg_now_ns();
        if (now - last_sweep >= 1000000) {
            sweep(w, now);
            last_sweep = now;
            int live = 0;
            for (int i = 0; i < w->nconns; i++) {
                live += w->conns[i].state != LG_CONN_DONE;
            }
            if (live == 0) {
                break;
            }
        }
        int n = epoll_wait(w->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 2);
        if (n < 0 && errno != EINTR) {
            lg_die("epoll_wait failed");
        }
        now = lg_now_ns();
        for (int i = 0; i < n; i++) {
            lg_conn_on_event(evs[i].data.ptr, evs[i].events, now);
        }
    }
    return NULL;
}
