/*
 * bench/e2e/e2e (bench_e2e): a customer's message in, the bot's reply out, end to end.
 *
 * It starts the Graph API stand-in of `direkt chat` (src/app/graph_standin.c) in this process
 * and a `direkt serve` child (--direkt, all roles) with IG_GRAPH_URL = the stand-in, an access
 * token, DIREKT_REPLY_DEBOUNCE_MS=0, no LLM keys (the local provider answers) and the given
 * DATABASE_URL. Then it posts signed message webhooks at --rate per second (open loop: message
 * i is due at t0 + i/rate, posted then on one of up to --connections keep-alive connections by
 * a libcurl multi loop)
 * for --warmup + --duration seconds, each message from a customer of its own (so no two share a
 * conversation or a debounced burst), spread over --accounts business accounts (so Meta's
 * per-account pacing does not hold replies back). The stand-in matches each reply to its
 * message by the recipient's IGSID.
 *
 * Per message: ack = the 200 for the webhook received; reply = the stand-in received the send.
 * Reported over the messages due after the warmup: latency ack → reply (p50/p90/p99/max),
 * post → reply, post → ack; messages acknowledged and replies received per second in the
 * measured window; replies missing after --drain seconds; sends that left more than 10 ms late
 * (the client not keeping up); the child's peak RSS and CPU per message (/proc); and, from the
 * database, where the time between ack and reply went (ms, wall clock: the bot message stored,
 * the send attempt recorded, the reply at the stand-in).
 *
 * Exit code: 0 when every message was acknowledged and answered and the child stopped cleanly,
 * 1 otherwise, 2 for bad options or a failure of the tool itself.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

#define SECRET          "bench-e2e-secret"
#define MAX_CONNECTIONS 4096
#define LATE_US         10000

struct opts {
    const char *direkt;
    const char *db;
    const char *log;
    double rate, duration, warmup, drain;
    int connections, accounts, graph_threads;
    bool json;
};

/* One message: times in µs of CLOCK_MONOTONIC (app_mono_us), 0 = not (yet). */
struct msg {
    int64_t due, post, ack;
    atomic_llong reply;
    int64_t ack_wall_us; /* CLOCK_REALTIME at ack, for the database's timestamps */
    int status;          /* HTTP status of the webhook, 0 = transport error */
};

struct run {
    struct opts o;
    uint64_t base; /* customer i's IGSID is base + i */
    char run_id[24];
    size_t n;
    struct msg *m;
    int64_t t0;
    atomic_llong dup_replies, other_requests;
    char webhook[128];
};

/* Short messages of several intents, English and Russian. */
static const char *const TEXTS[] = {
    "hello!",
    "how much is the linen dress?",
    "do you deliver to Hamburg",
    "when will my parcel arrive",
    "thank you so much!",
    "can I exchange it for a smaller size",
    "Привет! Есть ли скидки?",
    "what sizes do you have",
    "is the green one in stock?",
    "Спасибо, всё пришло",
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_e2e: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- replies: on the stand-in's HTTP threads ---- */

static void on_graph(void *arg, const struct app_standin_req *r)
{
    struct run *run = arg;
    json_t *root = json_loadb(r->body, r->len, 0, NULL);
    const char *to = json_string_value(json_object_get(json_object_get(root, "recipient"), "id"));
    char *end = NULL;
    unsigned long long id = to != NULL ? strtoull(to, &end, 10) : 0;
    if (json_object_get(root, "message") == NULL || end == NULL || *end != '\0' || id < run->base ||
        id - run->base >= run->n) {
        atomic_fetch_add(&run->other_requests, 1);
    } else {
        long long none = 0;
        struct msg *m = &run->m[id - run->base];
        if (!atomic_compare_exchange_strong(&m->reply, &none, (long long)r->recv_us)) {
            atomic_fetch_add(&run->dup_replies, 1);
        }
    }
    json_decref(root);
}

/* ---- webhooks: one thread, libcurl multi, open loop ---- */

/* One transfer slot: an easy handle (its connection is kept in the multi's cache), the body
 * and headers of the message it carries. */
struct slot {
    CURL *easy;
    struct curl_slist *headers;
    struct dk_buf body;
    size_t msg;
};

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Builds message i's signed delivery into s and adds it to the multi handle. */
static void post_start(struct run *run, CURLM *multi, struct slot *s, size_t i)
{
    int64_t now_ms = dk_now_ms();
    char account[32];
    snprintf(account, sizeof(account), "178414058223%05d", (int)(i % (size_t)run->o.accounts));
    dk_buf_reset(&s->body);
    dk_buf_printf(&s->body,
                  "{\"object\":\"instagram\",\"entry\":[{\"id\":\"%s\",\"time\":%lld,"
                  "\"messaging\":[{\"sender\":{\"id\":\"%llu\"},\"recipient\":{\"id\":\"%s\"},"
                  "\"timestamp\":%lld,\"message\":{\"mid\":\"e2e-%s-%zu\",\"text\":",
                  account, (long long)now_ms, (unsigned long long)(run->base + i), account,
                  (long long)now_ms, run->run_id, i);
    dk_json_put_string(&s->body, TEXTS[i % (sizeof(TEXTS) / sizeof(TEXTS[0]))]);
    dk_buf_puts(&s->body, "}}]}]}");
    char hex[DK_SHA256_HEX], sig[100];
    dk_hmac_sha256_hex(SECRET, strlen(SECRET), s->body.data, s->body.len, hex);
    snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
    curl_slist_free_all(s->headers);
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    s->headers = curl_slist_append(s->headers, "Expect:");
    s->headers = curl_slist_append(s->headers, sig);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)s->body.len);
    s->msg = i;
    run->m[i].post = app_mono_us();
    curl_multi_add_handle(multi, s->easy);
}

static void post_done(struct run *run, CURLM *multi, CURLMsg *done, struct slot **free_slots,
                      size_t *nfree)
{
    struct slot *s = NULL;
    curl_easy_getinfo(done->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    long status = 0;
    if (done->data.result == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    }
    struct msg *m = &run->m[s->msg];
    m->status = (int)status;
    if (status == 200) {
        m->ack = app_mono_us();
        m->ack_wall_us = wall_us();
    }
    curl_multi_remove_handle(multi, s->easy);
    free_slots[(*nfree)++] = s;
}

/* Posts every message when it is due, on up to --connections transfers at once. */
static void post_all(struct run *run)
{
    size_t nslots = (size_t)run->o.connections;
    struct slot *slots = dk_calloc(nslots, sizeof(*slots));
    struct slot **free_slots = dk_calloc(nslots, sizeof(*free_slots));
    size_t nfree = 0;
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)nslots);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)nslots);
    for (size_t k = 0; k < nslots; k++) {
        struct slot *s = &slots[k];
        s->easy = curl_easy_init();
        dk_buf_init(&s->body, 64u * 1024u);
        curl_easy_setopt(s->easy, CURLOPT_URL, run->webhook);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
        free_slots[nfree++] = s;
    }
    size_t next = 0;
    while (next < run->n || nfree < nslots) {
        int64_t now = app_mono_us();
        while (next < run->n && run->m[next].due <= now && nfree > 0) {
            post_start(run, multi, free_slots[--nfree], next++);
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *done;
        int left;
        while ((done = curl_multi_info_read(multi, &left)) != NULL) {
            if (done->msg == CURLMSG_DONE) {
                post_done(run, multi, done, free_slots, &nfree);
            }
        }
        int64_t wait_us = next < run->n ? run->m[next].due - app_mono_us() : 10000;
        int wait_ms = wait_us <= 0 ? 0 : (int)((wait_us + 999) / 1000);
        if (wait_ms > 0 || nfree == 0) {
            curl_multi_poll(multi, NULL, 0, wait_ms > 10 ? 10 : (wait_ms < 1 ? 1 : wait_ms), NULL);
        }
    }
    for (size_t k = 0; k < nslots; k++) {
        curl_easy_cleanup(slots[k].easy);
        curl_slist_free_all(slots[k].headers);
        dk_buf_free(&slots[k].body);
    }
    curl_multi_cleanup(multi);
    dk_free(free_slots);
    dk_free(slots);
}

/* ---- figures ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n sorted values, in ms. */
static double q_ms(const int64_t *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    size_t r = (size_t)(q * (double)n + 0.999999);
    r = r < 1 ? 1 : (r > n ? n : r);
    return (double)v[r - 1] / 1000.0;
}

struct dist {
    double p50, p90, p99, max;
};

static struct dist dist_of(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return (struct dist){q_ms(v, n, 0.5), q_ms(v, n, 0.9), q_ms(v, n, 0.99), q_ms(v, n, 1.0)};
}

/* VmHWM (kB) of pid, and its CPU time (user + system) in ms; -1 when unreadable. */
static void proc_figures(pid_t pid, int64_t *hwm_kb, int64_t *cpu_ms)
{
    char path[64], line[512];
    *hwm_kb = *cpu_ms = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            *hwm_kb = strtoll(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strrchr(line, ')'); /* after the command name, which may hold spaces */
        unsigned long long ut = 0, st = 0;
        if (p != NULL &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
            *cpu_ms = (int64_t)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* Where the time between ack and reply went, from the database (wall clock, ms): ack → bot
 * message stored (the reply job), → send attempt recorded (the send job), → at the stand-in. */
struct stages {
    size_t n;
    struct dist job, send, graph;
};

static int stages_read(const struct run *run, size_t first, struct stages *out)
{
    struct store *s = NULL;
    struct dk_err err = {0};
    struct store_opts so = {.pool_max = 2, .busy_timeout_ms = 10000, .connect_timeout_s = 5};
    if (store_open(run->o.db, &so, &s, &err) != 0) {
        return -1;
    }
    struct store_conn *c = store_acquire(s, &err);
    char like[64];
    snprintf(like, sizeof(like), "e2e-%s-%%", run->run_id);
    const char *p[] = {like};
    struct store_res *r = NULL;
    int rc = c != NULL ? store_query(c,
                                     "SELECT u.instagram_mid, b.created_at, b.metadata "
                                     "FROM messages u JOIN messages b ON b.conversation_id = "
                                     "u.conversation_id AND b.sender_type = 'bot' "
                                     "WHERE u.instagram_mid LIKE $1",
                                     1, p, &r, &err)
                       : -1;
    size_t rows = rc == 0 ? store_res_rows(r) : 0;
    int64_t *job = dk_calloc(rows + 1, sizeof(int64_t));
    int64_t *send = dk_calloc(rows + 1, sizeof(int64_t));
    int64_t *graph = dk_calloc(rows + 1, sizeof(int64_t));
    size_t n = 0;
    int64_t mono_to_wall = wall_us() - app_mono_us();
    for (size_t i = 0; i < rows; i++) {
        const char *mid = store_res_get(r, i, 0);
        size_t idx = strtoull(mid + strlen(like) - 1, NULL, 10);
        json_t *meta = json_loads(store_res_get(r, i, 2) ? store_res_get(r, i, 2) : "", 0, NULL);
        const char *at = dk_json_str(json_object_get(meta, "send"), "at");
        int64_t stored_ms = 0, at_ms = 0;
        const struct msg *m = idx < run->n ? &run->m[idx] : NULL;
        long long reply = m != NULL ? atomic_load(&m->reply) : 0;
        if (m != NULL && idx >= first && m->ack != 0 && reply != 0 && at != NULL &&
            dk_time_parse(store_res_get(r, i, 1), &stored_ms) == 0 &&
            dk_time_parse(at, &at_ms) == 0) {
            int64_t reply_wall = (int64_t)reply + mono_to_wall;
            job[n] = stored_ms * 1000 - m->ack_wall_us;
            send[n] = (at_ms - stored_ms) * 1000;
            graph[n] = reply_wall - at_ms * 1000;
            n++;
        }
        json_decref(meta);
    }
    out->n = n;
    out->job = dist_of(job, n);
    out->send = dist_of(send, n);
    out->graph = dist_of(graph, n);
    dk_free(job);
    dk_free(send);
    dk_free(graph);
    store_res_free(r);
    store_release(c);
    store_close(s);
    return rc == 0 ? 0 : -1;
}

/* ---- options ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_e2e --direkt PATH --database-url URL [--rate N] [--duration S]\n"
                    "                 [--warmup S] [--drain S] [--connections N] [--accounts N]\n"
                    "                 [--graph-threads N] [--log FILE] [--json]\n"
                    "  --rate 1000 messages/s, --duration 10 s measured after --warmup 2 s,\n"
                    "  --drain 10 s to wait for the last replies, --connections 256 at most,\n"
                    "  --accounts 100 business accounts, --graph-threads 2 (the stand-in's),\n"
                    "  --log the server's log (default bench-e2e-server.log)\n");
    exit(2);
}

static double num(const char *s, const char *name, double lo, double hi)
{
    char *end = NULL;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (s == NULL || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        die("%s must be a number from %g to %g", name, lo, hi);
    }
    return v;
}

static void parse(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){.log = "bench-e2e-server.log",
                       .rate = 1000,
                       .duration = 10,
                       .warmup = 2,
                       .drain = 10,
                       .connections = 256,
                       .accounts = 100,
                       .graph_threads = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || v == NULL) {
            usage();
        }
        i++;
        if (strcmp(a, "--direkt") == 0) {
            o->direkt = v;
        } else if (strcmp(a, "--database-url") == 0) {
            o->db = v;
        } else if (strcmp(a, "--log") == 0) {
            o->log = v;
        } else if (strcmp(a, "--rate") == 0) {
            o->rate = num(v, a, 1, 100000);
        } else if (strcmp(a, "--duration") == 0) {
            o->duration = num(v, a, 0.1, 3600);
        } else if (strcmp(a, "--warmup") == 0) {
            o->warmup = num(v, a, 0, 3600);
        } else if (strcmp(a, "--drain") == 0) {
            o->drain = num(v, a, 0, 3600);
        } else if (strcmp(a, "--connections") == 0) {
            o->connections = (int)num(v, a, 1, MAX_CONNECTIONS);
        } else if (strcmp(a, "--accounts") == 0) {
            o->accounts = (int)num(v, a, 1, 99999);
        } else if (strcmp(a, "--graph-threads") == 0) {
            o->graph_threads = (int)num(v, a, 1, 64);
        } else {
            usage();
        }
    }
    if (o->direkt == NULL || o->db == NULL) {
        usage();
    }
}

/* ---- main ---- */

static pid_t start_direkt(struct run *run, const char *graph_url)
{
    unsigned port = app_free_port();
    snprintf(run->webhook, sizeof(run->webhook), "http://127.0.0.1:%u/webhooks/instagram/messages",
             port);
    char listen[64], graph[128], db[1024];
    snprintf(listen, sizeof(listen), "DIREKT_LISTEN=127.0.0.1:%u", port);
    snprintf(graph, sizeof(graph), "IG_GRAPH_URL=%s", graph_url);
    snprintf(db, sizeof(db), "DATABASE_URL=%s", run->o.db);
    const char *log_level = getenv("DIREKT_LOG") != NULL ? NULL : "DIREKT_LOG=warn";
    const char *set[] = {listen,
                         graph,
                         db,
                         "IG_ACCESS_TOKEN=bench-e2e-access-token",
                         "IG_APP_SECRET=" SECRET,
                         "DIREKT_REPLY_DEBOUNCE_MS=0",
                         log_level};
    /* the local provider: no LLM is configured */
    const char *unset[] = {"OPENAI_API_KEY",     "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
                           "ANTHROPIC_BASE_URL", "CLAUDE_API_KEY",  "LOCAL_LLM_URL",
                           "DIREKT_AI_ROUTES"};
    struct dk_err err = {0};
    pid_t pid = app_child_start(run->o.direkt, set, log_level != NULL ? 7 : 6, unset,
                                sizeof(unset) / sizeof(unset[0]), run->o.log, &err);
    if (pid < 0) {
        die("%s", err.msg);
    }
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    int status = 0;
    int rc = app_child_wait_ready(pid, base, 120000, &status);
    if (rc != 0) {
        if (rc == DK_ETIMEOUT) {
            app_child_stop(pid, 5000, &status);
        }
        die("direkt serve did not become ready (%s; log: %s)",
            rc == DK_ETIMEOUT ? "timeout" : "it exited", run->o.log);
    }
    return pid;
}

/* cpu0, cpu1: the child's CPU ms before and after the load; hwm: its peak RSS in kB. */
static void report(const struct run *run, int64_t cpu0, int64_t cpu1, int64_t hwm, int stop_rc)
{
    const struct opts *o = &run->o;
    size_t first = (size_t)(o->warmup * o->rate);
    int64_t w0 = run->t0 + (int64_t)(o->warmup * 1e6), w1 = w0 + (int64_t)(o->duration * 1e6);
    size_t measured = run->n - first, acked = 0, replied = 0, missing = 0, late = 0, bad = 0;
    size_t in_window = 0, out_window = 0;
    int64_t *ack_reply = dk_calloc(run->n + 1, sizeof(int64_t));
    int64_t *post_reply = dk_calloc(run->n + 1, sizeof(int64_t));
    int64_t *post_ack = dk_calloc(run->n + 1, sizeof(int64_t));
    for (size_t i = 0; i < run->n; i++) {
        const struct msg *m = &run->m[i];
        int64_t reply = atomic_load(&((struct msg *)m)->reply);
        in_window += m->ack >= w0 && m->ack < w1;
        out_window += reply >= w0 && reply < w1;
        if (i < first) {
            continue;
        }
        late += m->post - m->due > LATE_US;
        if (m->ack == 0) {
            bad++;
            continue;
        }
        post_ack[acked++] = m->ack - m->post;
        if (reply == 0) {
            missing++;
            continue;
        }
        ack_reply[replied] = reply > m->ack ? reply - m->ack : 0;
        post_reply[replied++] = reply - m->post;
    }
    struct dist ar = dist_of(ack_reply, replied), pr = dist_of(post_reply, replied);
    struct dist pa = dist_of(post_ack, acked);
    struct stages st = {0};
    bool have_stages = stages_read(run, first, &st) == 0 && st.n > 0;
    double cpu_per_msg = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)run->n : -1;
    double in_s = (double)in_window / o->duration, out_s = (double)out_window / o->duration;
    if (o->json) {
        json_t *j = json_pack(
            "{s:s, s:f, s:f, s:f, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:b}",
            "run_id", run->run_id, "rate", o->rate, "duration_s", o->duration, "warmup_s",
            o->warmup, "connections", o->connections, "accounts", o->accounts, "messages",
            (json_int_t)run->n, "measured", (json_int_t)measured, "acked", (json_int_t)acked,
            "not_acked", (json_int_t)bad, "replied", (json_int_t)replied, "missing",
            (json_int_t)missing, "dup_replies", (json_int_t)atomic_load(&run->dup_replies),
            "late_sends", (json_int_t)late, "stages_n", (json_int_t)st.n, "stop_ok", stop_rc == 0);
        const struct {
            const char *key;
            double v;
        } figures[] = {
            {"in_per_s", in_s},
            {"out_per_s", out_s},
            {"p50_ms", replied ? ar.p50 : NAN},
            {"p90_ms", replied ? ar.p90 : NAN},
            {"p99_ms", replied ? ar.p99 : NAN},
            {"max_ms", replied ? ar.max : NAN},
            {"post_reply_p50_ms", replied ? pr.p50 : NAN},
            {"post_reply_p99_ms", replied ? pr.p99 : NAN},
            {"ack_p50_ms", acked ? pa.p50 : NAN},
            {"ack_p99_ms", acked ? pa.p99 : NAN},
            {"peak_rss_mib", hwm >= 0 ? (double)hwm / 1024.0 : NAN},
            {"cpu_ms_per_msg", cpu_per_msg >= 0 ? cpu_per_msg : NAN},
            {"reply_job_p50_ms", st.n ? st.job.p50 : NAN},
            {"reply_job_p99_ms", st.n ? st.job.p99 : NAN},
            {"send_job_p50_ms", st.n ? st.send.p50 : NAN},
            {"send_job_p99_ms", st.n ? st.send.p99 : NAN},
            {"graph_p50_ms", st.n ? st.graph.p50 : NAN},
            {"graph_p99_ms", st.n ? st.graph.p99 : NAN},
        };
        for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
            double v = figures[i].v;
            json_object_set_new(j, figures[i].key,
                                isnan(v) ? json_null() : json_real(round(v * 1000) / 1000));
        }
        char text[4096];
        size_t len = json_dumpb(j, text, sizeof(text), JSON_COMPACT | JSON_REAL_PRECISION(10));
        printf("%.*s\n", (int)(len < sizeof(text) ? len : 0), text);
        json_decref(j);
    } else {
        printf("bench_e2e %s: %g messages/s for %g s after %g s warmup, %d connections at most, "
               "%d accounts\n",
               run->run_id, o->rate, o->duration, o->warmup, o->connections, o->accounts);
        printf("  in %.1f msg/s, out %.1f replies/s; measured %zu: acked %zu, replied %zu, "
               "missing %zu, not acked %zu, duplicate replies %lld, sent late %zu\n",
               in_s, out_s, measured, acked, replied, missing, bad,
               (long long)atomic_load(&run->dup_replies), late);
        printf("  ack → reply ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f\n", ar.p50, ar.p90, ar.p99,
               ar.max);
        printf("  post → reply ms: p50 %.2f, p99 %.2f; post → ack ms: p50 %.2f, p99 %.2f\n", pr.p50,
               pr.p99, pa.p50, pa.p99);
        if (have_stages) {
            printf("  stages ms (p50 / p99, wall clock, ms resolution): ack → reply stored "
                   "%.1f / %.1f, → send recorded %.1f / %.1f, → at the stand-in %.1f / %.1f\n",
                   st.job.p50, st.job.p99, st.send.p50, st.send.p99, st.graph.p50, st.graph.p99);
        }
        printf("  direkt: peak RSS %.1f MiB, CPU %.3f ms per message, stopped %s\n", hwm / 1024.0,
               cpu_per_msg, stop_rc == 0 ? "cleanly" : "NOT cleanly");
    }
    dk_free(ack_reply);
    dk_free(post_reply);
    dk_free(post_ack);
}

int main(int argc, char **argv)
{
    struct run run = {0};
    parse(&run.o, argc, argv);
    dk_log_set_level(DK_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    unsigned char raw[4];
    dk_random_bytes(raw, sizeof(raw));
    uint32_t r32 = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
    snprintf(run.run_id, sizeof(run.run_id), "%08x", r32);
    run.base = 7000000000000000ULL + (uint64_t)(r32 % 1000000u) * 1000000000ULL;
    run.n = (size_t)((run.o.warmup + run.o.duration) * run.o.rate);
    if (run.n == 0 || run.n > 100000000) {
        die("rate × (warmup + duration) must be 1 to 100,000,000 messages");
    }
    run.m = dk_calloc(run.n, sizeof(*run.m));
    struct dk_err err = {0};
    struct app_standin *st =
        app_standin_start("127.0.0.1:0", run.o.graph_threads, on_graph, &run, &err);
    if (st == NULL) {
        die("could not start the Graph API stand-in: %s", err.msg);
    }
    char graph_url[64];
    snprintf(graph_url, sizeof(graph_url), "http://127.0.0.1:%u", (unsigned)app_standin_port(st));
    pid_t pid = start_direkt(&run, graph_url);
    int64_t hwm0 = -1, cpu0 = -1;
    proc_figures(pid, &hwm0, &cpu0);

    run.t0 = app_mono_us() + 100000;
    for (size_t i = 0; i < run.n; i++) {
        run.m[i].due = run.t0 + (int64_t)((double)i * 1e6 / run.o.rate);
    }
    post_all(&run);
    /* the last replies */
    int64_t drain_end = app_mono_us() + (int64_t)(run.o.drain * 1e6);
    size_t waiting = run.n;
    while (waiting > 0 && app_mono_us() < drain_end) {
        waiting = 0;
        for (size_t i = 0; i < run.n; i++) {
            waiting += run.m[i].ack != 0 && atomic_load(&run.m[i].reply) == 0;
        }
        if (waiting > 0) {
            dk_sleep_ms(50);
        }
    }
    int status = 0;
    int64_t hwm = -1, cpu_end = -1;
    proc_figures(pid, &hwm, &cpu_end);
    int stop_rc = app_child_stop(pid, 60000, &status);
    bool clean = stop_rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    report(&run, cpu0, cpu_end, hwm, clean ? 0 : 1);
    app_standin_stop(st);
    bool ok = clean;
    for (size_t i = 0; i < run.n && ok; i++) {
        ok = run.m[i].ack != 0 && atomic_load(&run.m[i].reply) != 0;
    }
    dk_free(run.m);
    curl_global_cleanup();
    return ok ? 0 : 1;
}
