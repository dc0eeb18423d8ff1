/*
 * ai/http: outbound HTTP on one event-loop thread, so that thousands of slow LLM calls wait on
 * sockets instead of threads.
 *
 * The loop owns a libcurl multi handle and drives it with the socket API: curl tells us which
 * sockets to watch (on_socket → epoll), we tell curl which became ready
 * (curl_multi_socket_action) and when its nearest timer is due (curl_multi_timeout), so the cost
 * of a wakeup follows the sockets that are ready, not the number of transfers waiting.
 *
 * Other threads never touch curl: ai_http_submit, ai_http_cancel and ai_http_post put their
 * work under h->mu and wake the loop through an eventfd (once per batch: wake_pending). Timed
 * posts sit in a min-heap ordered by (due, seq); the epoll timeout is the nearest of curl's timer
 * and the heap's top. Easy handles are pooled; connections are reused through the multi's
 * connection cache.
 *
 * One exchange (request copy, easy-handle setup, response capture, on_done) is http_xfer.c.
 *
 * Stopping: ai_http_stop sets `stopping` and joins. The loop then cancels what is in flight,
 * completes queued submits with DK_ECANCELED without starting them, runs every pending post and
 * exits only when, under h->mu, nothing is queued, posted or active; from then on (`exited`) the
 * few calls that can still race in from other threads complete on their own thread.
 */
#include "ai/ai.h"
#include "ai/ai_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/dktime.h"
#include "core/log.h"
#include "core/mem.h"

#define DEFAULT_MAX_CONNECTIONS      2048
#define DEFAULT_MAX_HOST_CONNECTIONS 1024
#define POOL_MAX                     256 /* idle easy handles kept for reuse */
#define MAX_EVENTS                   256
#define MAX_WAIT_MS                  5000 /* belt and braces: never sleep longer than this */

struct post {
    int64_t due;
    uint64_t seq;
    void (*fn)(void *arg);
    void *arg;
};

struct ai_http {
    CURLM *multi;
    int epfd;
    int evfd;
    pthread_t thread;
    pthread_t self; /* written by the loop before `started` is signalled */
    char *user_agent;
    atomic_bool stopping;
    atomic_int inflight;
    atomic_uint_fast64_t next_id;

    /* shared with other threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started;
    bool exited;
    bool wake_pending;
    struct ai_xfer *q_head, *q_tail;
    uint64_t *cancels;
    size_t ncancels, cap_cancels;
    struct post *posts; /* min-heap by (due, seq) */
    size_t nposts, cap_posts;
    uint64_t post_seq;

    /* loop thread only */
    struct ai_xfer *active;
    CURL *pool[POOL_MAX];
    size_t npool;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---- */

static void wake(struct ai_http *h)
{
    uint64_t one = 1;
    ssize_t n = write(h->evfd, &one, sizeof(one));
    (void)n; /* EAGAIN means the counter is already non-zero: the loop wakes anyway */
}

/* Unlocks h->mu (held) and wakes the loop unless a wakeup is already on its way. */
static void unlock_and_wake(struct ai_http *h)
{
    bool w = !h->wake_pending;
    h->wake_pending = true;
    pthread_mutex_unlock(&h->mu);
    if (w) {
        wake(h);
    }
}

static bool post_before(const struct post *a, const struct post *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct ai_http *h, struct post p)
{
    if (h->nposts == h->cap_posts) {
        h->cap_posts = h->cap_posts ? h->cap_posts * 2 : 16;
        h->posts = dk_realloc(h->posts, h->cap_posts * sizeof(*h->posts));
    }
    size_t i = h->nposts++;
    while (i > 0 && post_before(&p, &h->posts[(i - 1) / 2])) {
        h->posts[i] = h->posts[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->posts[i] = p;
}

static struct post heap_pop(struct ai_http *h)
{
    struct post top = h->posts[0];
    struct post last = h->posts[--h->nposts];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->nposts) {
            break;
        }
        if (c + 1 < h->nposts && post_before(&h->posts[c + 1], &h->posts[c])) {
            c++;
        }
        if (!post_before(&h->posts[c], &last)) {
            break;
        }
        h->posts[i] = h->posts[c];
        i = c;
    }
    if (h->nposts > 0) {
        h->posts[i] = last;
    }
    return top;
}

/* ---- transfers: copy, capture, finish ---- */

/* The pooled easy handle goes back (reset) or is cleaned up when the pool is full. */
static void release_easy(struct ai_http *h, CURL *e)
{
    if (h->npool < POOL_MAX) {
        curl_easy_reset(e);
        h->pool[h->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void unlink_active(struct ai_http *h, struct ai_xfer *x)
{
    if (x->prev != NULL) {
        x->prev->next = x->next;
    } else if (h->active == x) {
        h->active = x->next;
    }
    if (x->next != NULL) {
        x->next->prev = x->prev;
    }
    x->prev = x->next = NULL;
}

/* Completes x: on_done with what it gave, then frees it. x must no longer be in the multi or on
 * any list. Runs on the loop thread (or, after the loop exited, on the caller's). */
static void complete(struct ai_http *h, struct ai_xfer *x, int error, const char *msg)
{
    if (x->easy != NULL) {
        release_easy(h, x->easy);
        x->easy = NULL;
    }
    ai_xfer_finish(x, error, msg);
    atomic_fetch_sub(&h->inflight, 1);
}

/* ---- the loop's work ---- */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct ai_http *h = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL); /* ENOENT/EBADF: already gone */
        return 0;
    }
    struct epoll_event ev = {.data.fd = s};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(h->epfd, op, s, &ev) != 0) {
        int alt = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(h->epfd, alt, s, &ev) != 0) {
            DK_WARN("could not watch socket %d: %s", (int)s, strerror(errno));
            return -1;
        }
    }
    if (socketp == NULL) {
        curl_multi_assign(h->multi, s, h); /* marks the socket as registered */
    }
    return 0;
}

static CURL *take_easy(struct ai_http *h)
{
    if (h->npool > 0) {
        return h->pool[--h->npool];
    }
    CURL *e = curl_easy_init();
    DK_ASSERT(e != NULL);
    return e;
}

static void start(struct ai_http *h, struct ai_xfer *x)
{
    if (x->invalid != NULL) {
        complete(h, x, DK_EINVAL, x->invalid);
        return;
    }
    ai_xfer_setup(x, take_easy(h), h->user_agent);
    CURLMcode mc = curl_multi_add_handle(h->multi, x->easy);
    if (mc != CURLM_OK) {
        complete(h, x, DK_EIO, curl_multi_strerror(mc));
        return;
    }
    x->prev = NULL;
    x->next = h->active;
    if (h->active != NULL) {
        h->active->prev = x;
    }
    h->active = x;
}

static void cancel_active(struct ai_http *h, struct ai_xfer *x)
{
    unlink_active(h, x);
    curl_multi_remove_handle(h->multi, x->easy);
    complete(h, x, DK_ECANCELED, h->stopping ? "canceled: shutting down" : "canceled");
}

static void collect_done(struct ai_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result; /* m dies with the removal below */
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct ai_xfer *x = (struct ai_xfer *)(void *)priv;
        DK_ASSERT(x != NULL);
        unlink_active(h, x);
        curl_multi_remove_handle(h->multi, e);
        char msg[CURL_ERROR_SIZE + 64];
        int error = ai_xfer_result(x, rc, msg, sizeof(msg));
        complete(h, x, error, msg);
    }
}

/* Takes queued submits and cancels; starts, completes or cancels them. */
static void take_work(struct ai_http *h)
{
    pthread_mutex_lock(&h->mu);
    struct ai_xfer *q = h->q_head;
    h->q_head = h->q_tail = NULL;
    uint64_t *cancels = h->cancels;
    size_t ncancels = h->ncancels;
    h->cancels = NULL;
    h->ncancels = h->cap_cancels = 0;
    h->wake_pending = false;
    pthread_mutex_unlock(&h->mu);

    bool stopping = atomic_load(&h->stopping);
    while (q != NULL) {
        struct ai_xfer *x = q;
        q = q->next;
        x->next = NULL;
        if (stopping) {
            complete(h, x, DK_ECANCELED, "canceled: shutting down");
        } else {
            start(h, x);
        }
    }
    for (size_t i = 0; i < ncancels; i++) {
        for (struct ai_xfer *x = h->active; x != NULL; x = x->next) {
            if (x->id == cancels[i]) {
                cancel_active(h, x);
                break;
            }
        }
    }
    dk_free(cancels);
    if (stopping) {
        while (h->active != NULL) {
            cancel_active(h, h->active);
        }
    }
}

/* Runs due posts (all of them when stopping), but none posted during this call. */
static void run_posts(struct ai_http *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t seq_limit = h->post_seq;
    pthread_mutex_unlock(&h->mu);
    for (;;) {
        bool all = atomic_load(&h->stopping);
        int64_t now = dk_mono_ms();
        pthread_mutex_lock(&h->mu);
        struct post p = {0};
        bool run = false;
        /* a post made meanwhile waits for the next round (a self-reposting post cannot spin
         * here); what it may have hidden below itself runs then too, as the sleep is 0 */
        if (h->nposts > 0 && (all || h->posts[0].due <= now) && h->posts[0].seq < seq_limit) {
            p = heap_pop(h);
            run = true;
        }
        pthread_mutex_unlock(&h->mu);
        if (!run) {
            break;
        }
        p.fn(p.arg);
    }
}

/* epoll timeout in ms: curl's timer, the nearest post, 0 when work is waiting. */
static int wait_ms(struct ai_http *h)
{
    long curl_ms = -1;
    curl_multi_timeout(h->multi, &curl_ms);
    int64_t wait = curl_ms >= 0 ? curl_ms : MAX_WAIT_MS;
    pthread_mutex_lock(&h->mu);
    if (atomic_load(&h->stopping) || h->q_head != NULL || h->ncancels > 0) {
        wait = 0;
    } else if (h->nposts > 0) {
        int64_t d = h->posts[0].due - dk_mono_ms();
        wait = d < wait ? d : wait;
    }
    pthread_mutex_unlock(&h->mu);
    if (wait < 0) {
        wait = 0;
    }
    return (int)(wait < MAX_WAIT_MS ? wait : MAX_WAIT_MS);
}

/* Whether the loop may exit now (stopping and nothing left); sets exited under the lock. */
static bool may_exit(struct ai_http *h)
{
    if (!atomic_load(&h->stopping) || h->active != NULL) {
        return false;
    }
    pthread_mutex_lock(&h->mu);
    bool done = h->q_head == NULL && h->nposts == 0 && h->ncancels == 0;
    if (done) {
        h->exited = true;
    }
    pthread_mutex_unlock(&h->mu);
    return done;
}

static void *loop_main(void *arg)
{
    struct ai_http *h = arg;
    pthread_mutex_lock(&h->mu);
    h->self = pthread_self();
    h->started = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_setname_np(pthread_self(), "ai-http");
    dk_log_set_ctx(NULL, NULL);

    struct epoll_event evs[MAX_EVENTS];
    int running = 0;
    for (;;) {
        int n = epoll_wait(h->epfd, evs, MAX_EVENTS, wait_ms(h));
        if (n < 0 && errno != EINTR) {
            DK_ERROR("http loop could not wait for sockets: %s", strerror(errno));
            dk_sleep_ms(10);
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == h->evfd) {
                uint64_t v;
                ssize_t r = read(h->evfd, &v, sizeof(v));
                (void)r;
                continue;
            }
            uint32_t ev = evs[i].events;
            int flags =
                ((ev & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((ev & EPOLLOUT) ? CURL_CSELECT_OUT : 0);
            if (ev & (EPOLLERR | EPOLLHUP)) {
                flags |= CURL_CSELECT_IN | CURL_CSELECT_OUT; /* let curl find the error */
            }
            curl_multi_socket_action(h->multi, evs[i].data.fd, flags, &running);
        }
        long curl_ms = -1;
        curl_multi_timeout(h->multi, &curl_ms);
        if (curl_ms == 0) {
            curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        collect_done(h);
        take_work(h);
        run_posts(h);
        if (may_exit(h)) {
            break;
        }
    }
    return NULL;
}

/* ---- public API ---- */

struct ai_http *ai_http_start(const struct ai_http_config *cfg, struct dk_err *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK) {
        dk_err_set(err, DK_EINTERNAL, "could not initialise libcurl: %s",
                   curl_easy_strerror(g_curl_init_rc));
        return NULL;
    }
    struct ai_http *h = dk_calloc(1, sizeof(*h));
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    h->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    h->multi = curl_multi_init();
    if (h->epfd < 0 || h->evfd < 0 || h->multi == NULL) {
        dk_err_set(err, DK_EIO, "could not create the http loop: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->evfd};
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->evfd, &ev) != 0) {
        dk_err_set(err, DK_EIO, "could not watch the http loop's eventfd: %s", strerror(errno));
        goto fail;
    }
    long maxc =
        cfg != NULL && cfg->max_connections > 0 ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
    long maxh = cfg != NULL && cfg->max_host_connections > 0 ? cfg->max_host_connections
                                                             : DEFAULT_MAX_HOST_CONNECTIONS;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxc);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxh);
    h->user_agent = dk_strdup(cfg != NULL && cfg->user_agent != NULL ? cfg->user_agent : "direkt");
    atomic_init(&h->stopping, false);
    atomic_init(&h->inflight, 0);
    atomic_init(&h->next_id, 1);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    int rc = pthread_create(&h->thread, NULL, loop_main, h);
    if (rc != 0) {
        dk_err_set(err, DK_EIO, "could not start the http loop thread: %s", strerror(rc));
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        goto fail;
    }
    pthread_mutex_lock(&h->mu);
    while (!h->started) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return h;
fail:
    if (h->multi != NULL) {
        curl_multi_cleanup(h->multi);
    }
    if (h->epfd >= 0) {
        close(h->epfd);
    }
    if (h->evfd >= 0) {
        close(h->evfd);
    }
    dk_free(h->user_agent);
    dk_free(h);
    return NULL;
}

void ai_http_stop(struct ai_http *h)
{
    if (h == NULL) {
        return;
    }
    DK_ASSERT(!ai_http_on_loop(h)); /* the loop cannot join itself */
    pthread_mutex_lock(&h->mu);
    atomic_store(&h->stopping, true);
    unlock_and_wake(h);
    pthread_join(h->thread, NULL);
    DK_ASSERT(h->active == NULL && h->q_head == NULL && h->nposts == 0);
    curl_multi_cleanup(h->multi); /* closes cached connections through on_socket */
    for (size_t i = 0; i < h->npool; i++) {
        curl_easy_cleanup(h->pool[i]);
    }
    close(h->epfd);
    close(h->evfd);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    dk_free(h->cancels);
    dk_free(h->posts);
    dk_free(h->user_agent);
    dk_free(h);
}

uint64_t ai_http_submit(struct ai_http *h, const struct ai_http_req *r)
{
    DK_ASSERT(h != NULL && r != NULL && r->on_done != NULL);
    uint64_t id = atomic_fetch_add(&h->next_id, 1);
    struct ai_xfer *x = ai_xfer_new(id, r);
    atomic_fetch_add(&h->inflight, 1);
    pthread_mutex_lock(&h->mu);
    if (h->exited) {
        pthread_mutex_unlock(&h->mu);
        complete(h, x, DK_ECANCELED, "canceled: the http loop has stopped");
        return id;
    }
    if (h->q_tail != NULL) {
        h->q_tail->next = x;
    } else {
        h->q_head = x;
    }
    h->q_tail = x;
    unlock_and_wake(h);
    return id;
}

void ai_http_cancel(struct ai_http *h, uint64_t id)
{
    if (h == NULL || id == 0) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (h->exited) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    if (h->ncancels == h->cap_cancels) {
        h->cap_cancels = h->cap_cancels ? h->cap_cancels * 2 : 8;
        h->cancels = dk_realloc(h->cancels, h->cap_cancels * sizeof(*h->cancels));
    }
    h->cancels[h->ncancels++] = id;
    unlock_and_wake(h);
}

void ai_http_post(struct ai_http *h, int64_t delay_ms, void (*fn)(void *arg), void *arg)
{
    DK_ASSERT(h != NULL && fn != NULL);
    struct post p = {.due = dk_mono_ms() + (delay_ms > 0 ? delay_ms : 0), .fn = fn, .arg = arg};
    pthread_mutex_lock(&h->mu);
    if (h->exited) {
        pthread_mutex_unlock(&h->mu);
        fn(arg);
        return;
    }
    p.seq = h->post_seq++;
    heap_push(h, p);
    /* the loop computes its sleep from the heap's top: wake it when that moved earlier */
    if (h->posts[0].seq == p.seq && !ai_http_on_loop(h)) {
        unlock_and_wake(h);
    } else {
        pthread_mutex_unlock(&h->mu);
    }
}

bool ai_http_stopping(const struct ai_http *h)
{
    return h != NULL && atomic_load(&h->stopping);
}

int ai_http_inflight(const struct ai_http *h)
{
    return h != NULL ? atomic_load(&h->inflight) : 0;
}

bool ai_http_on_loop(const struct ai_http *h)
{
    return h != NULL && pthread_equal(pthread_self(), h->self);
}
