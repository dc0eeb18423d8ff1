/*
 * bench/ai/ai_replies: N conversations at once answered by an LLM through direkt's workers.
 *
 * It posts N signed Instagram message webhooks (one message each, N different senders) to
 * direkt's webhook receiver as fast as --concurrency keep-alive connections allow (a libcurl
 * multi loop on its own thread), and meanwhile samples every --sample-ms:
 *   - the bot messages in status pending_send (answered) and generating (handed to the LLM),
 *     read from the database the servers use (--db, a DATABASE_URL);
 *   - the fake LLM's GET /_stats (requests in flight, their peak since the start);
 *   - /proc/PID/status of the measured process (--pid, the `direkt worker`): VmRSS, VmHWM,
 *     Threads, and its CPU time.
 * It stops when N more bot messages than at the start are pending_send, at --timeout, or when
 * the process is gone. Then it reads ai_calls (the reply calls of this run: latency, outcome)
 * and reports: time to post, to the first and to the last answer, replies per second (overall,
 * over the answering window, and the best one-second window), the peak of LLM calls in flight,
 * the process's RSS (idle, peak) and threads, its CPU per reply, and the call latency.
 *
 * The servers are started by the caller (bench/ai/run.sh); the database is expected to hold
 * only what earlier runs left (counts are taken relative to the start).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aibench.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"
#include "store/store.h"

#define ACCOUNT     "17841405822304914"
#define MAX_THREADS 64

struct opts {
    const char *webhook; /* http://HOST:PORT/webhooks/instagram/messages */
    const char *secret;
    const char *fake; /* http://HOST:PORT */
    const char *db;
    const char *series; /* CSV file of the samples, or NULL */
    char run_id[40];
    int n;
    int pid;
    int concurrency;
    int sample_ms;
    int timeout_s;
    bool json;
};

/* Short customer messages without figures (the reply checks refuse invented figures). */
static const char *const texts[] = {
    "Hi! Do you ship to Berlin?",
    "is the black bag still available?",
    "Can I pay on delivery?",
    "what are your opening hours on sunday",
    "Do you have this dress in green?",
    "Can I return it if it does not fit?",
    "hello, I would like to order the linen shirt",
    "Is the sale still on?",
    "Сколько идёт доставка в Казань?",
    "my parcel arrived damaged, what should I do?",
};

/* ---- posting the webhooks ---- */

struct slot {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
};

struct poster {
    const struct opts *o;
    pthread_t thread;
    atomic_int done; /* requests finished */
    atomic_int ok;   /* 2xx */
    atomic_llong t_end_ns;
    int errors;
};

static void slot_start(struct poster *p, CURLM *m, struct slot *s, int i)
{
    const struct opts *o = p->o;
    int64_t now = dk_now_ms();
    dk_free(s->body);
    s->body = dk_asprintf("{\"object\": \"instagram\", \"entry\": [{\"id\": \"" ACCOUNT
                          "\", \"time\": %lld, \"messaging\": [{\"sender\": {\"id\": "
                          "\"ai-%s-%d\"}, \"recipient\": {\"id\": \"" ACCOUNT
                          "\"}, \"timestamp\": %lld, \"message\": {\"mid\": \"bench-ai-%s-%d\", "
                          "\"text\": \"%s\"}}]}]}",
                          (long long)now, o->run_id, i, (long long)now, o->run_id, i,
                          texts[(size_t)i % (sizeof(texts) / sizeof(texts[0]))]);
    char hex[DK_SHA256_HEX], sig[100];
    dk_hmac_sha256_hex(o->secret, strlen(o->secret), s->body, strlen(s->body), hex);
    snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
    curl_slist_free_all(s->headers);
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    s->headers = curl_slist_append(s->headers, sig);
    curl_easy_setopt(s->easy, CURLOPT_URL, o->webhook);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(m, s->easy);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    const struct opts *o = p->o;
    CURLM *m = curl_multi_init();
    int nslots = o->concurrency < o->n ? o->concurrency : o->n;
    struct slot *slots = dk_calloc((size_t)nslots, sizeof(*slots));
    int next = 0;
    for (int i = 0; i < nslots; i++) {
        slots[i].easy = curl_easy_init();
        curl_easy_setopt(slots[i].easy, CURLOPT_WRITEFUNCTION, discard);
        slot_start(p, m, &slots[i], next++);
    }
    int running = 1;
    while (atomic_load(&p->done) < o->n) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            void *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            struct slot *s = priv;
            long status = 0;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result == CURLE_OK && status >= 200 && status < 300) {
                atomic_fetch_add(&p->ok, 1);
            } else if (p->errors++ < 5) {
                fprintf(stderr, "bench_ai_replies: webhook failed: %s, status %ld\n",
                        curl_easy_strerror(msg->data.result), status);
            }
            atomic_fetch_add(&p->done, 1);
            curl_multi_remove_handle(m, s->easy);
            if (next < o->n) {
                slot_start(p, m, s, next++);
            }
        }
        if (atomic_load(&p->done) < o->n) {
            curl_multi_poll(m, NULL, 0, 100, NULL);
        }
    }
    atomic_store(&p->t_end_ns, ab_now_ns());
    for (int i = 0; i < nslots; i++) {
        curl_easy_cleanup(slots[i].easy);
        curl_slist_free_all(slots[i].headers);
        dk_free(slots[i].body);
    }
    dk_free(slots);
    curl_multi_cleanup(m);
    return NULL;
}

/* ---- sampling ---- */

struct sample {
    double t; /* seconds since the first webhook */
    int64_t answered, generating;
    int64_t fake_inflight;
    int64_t rss_kb;
    int threads;
};

/* The integers of the first row of a query's columns 0..n-1. */
static void query_ints(struct store_conn *c, const char *sql, int64_t *v, size_t n)
{
    struct dk_err err = {0};
    struct store_res *r = NULL;
    if (store_query(c, sql, 0, NULL, &r, &err) != 0) {
        ab_die("query failed: %s: %s", sql, err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = store_res_int(r, 0, i, 0);
    }
    store_res_free(r);
}

/* Bot messages: [0] pending_send (answered), [1] generating (waiting for the LLM). */
static void count_bot(struct store_conn *c, int64_t v[2])
{
    query_ints(c,
               "SELECT coalesce(sum(CASE WHEN status = 'pending_send' THEN 1 ELSE 0 END), 0), "
               "coalesce(sum(CASE WHEN status = 'generating' THEN 1 ELSE 0 END), 0) "
               "FROM messages WHERE sender_type = 'bot'",
               v, 2);
}

/* ---- report ---- */

struct calls_summary {
    int64_t reply_ok, reply_other, other_tasks;
    double p50_ms, p99_ms, max_ms;
};

static void read_calls(struct store_conn *c, int64_t after_id, struct calls_summary *out)
{
    struct dk_err err = {0};
    struct store_res *r = NULL;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT task, provider, outcome, latency_ms FROM ai_calls WHERE id > %lld",
             (long long)after_id);
    if (store_query(c, sql, 0, NULL, &r, &err) != 0) {
        ab_die("reading ai_calls: %s", err.msg);
    }
    size_t n = store_res_rows(r);
    double *lat = dk_calloc(n + 1, sizeof(double));
    size_t nl = 0;
    *out = (struct calls_summary){0};
    for (size_t i = 0; i < n; i++) {
        const char *task = store_res_get(r, i, 0);
        const char *provider = store_res_get(r, i, 1);
        const char *outcome = store_res_get(r, i, 2);
        if (task == NULL || strcmp(task, "reply") != 0) {
            out->other_tasks++;
        } else if (provider != NULL && strcmp(provider, "openai") == 0 && outcome != NULL &&
                   strcmp(outcome, "ok") == 0) {
            out->reply_ok++;
            lat[nl++] = (double)store_res_int(r, i, 3, 0);
        } else {
            out->reply_other++;
        }
    }
    store_res_free(r);
    out->p50_ms = ab_quantile(lat, nl, 0.5);
    out->p99_ms = ab_quantile(lat, nl, 0.99);
    out->max_ms = nl > 0 ? lat[nl - 1] : 0;
    dk_free(lat);
}

/* The best rate over any window of at least one second between two samples. */
static double peak_rate(const struct sample *s, size_t n)
{
    double best = 0;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        while (j + 1 < i && s[i].t - s[j + 1].t >= 1.0) {
            j++;
        }
        double dt = s[i].t - s[j].t;
        if (dt >= 1.0) {
            double r = (double)(s[i].answered - s[j].answered) / dt;
            best = r > best ? r : best;
        }
    }
    return best;
}

static void usage(void)
{
    fputs("usage: bench_ai_replies --webhook URL --secret S --fake URL --db DATABASE_URL --pid PID "
          "--n N [options]\n"
          "  --concurrency C  webhook connections (default 64)\n"
          "  --sample-ms MS   sampling interval (default 50)\n"
          "  --timeout S      give up after S seconds (default 300)\n"
          "  --run-id ID      sender and mid prefix (default: the time)\n"
          "  --series FILE    write the samples as CSV\n"
          "  --json           one JSON object instead of the text report\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.concurrency = 64, .sample_ms = 50, .timeout_s = 300};
    snprintf(o->run_id, sizeof(o->run_id), "%lld", (long long)dk_now_ms());
    static const struct option longs[] = {{"webhook", required_argument, NULL, 'u'},
                                          {"secret", required_argument, NULL, 's'},
                                          {"fake", required_argument, NULL, 'f'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"pid", required_argument, NULL, 'p'},
                                          {"n", required_argument, NULL, 'n'},
                                          {"concurrency", required_argument, NULL, 'c'},
                                          {"sample-ms", required_argument, NULL, 'm'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"run-id", required_argument, NULL, 'r'},
                                          {"series", required_argument, NULL, 'o'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->webhook = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case 'f':
            o->fake = optarg;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'p':
            o->pid = (int)ab_num_arg(optarg, "pid", 1, 1 << 30);
            break;
        case 'n':
            o->n = (int)ab_num_arg(optarg, "n", 1, 1e6);
            break;
        case 'c':
            o->concurrency = (int)ab_num_arg(optarg, "concurrency", 1, 1000);
            break;
        case 'm':
            o->sample_ms = (int)ab_num_arg(optarg, "sample-ms", 5, 10000);
            break;
        case 't':
            o->timeout_s = (int)ab_num_arg(optarg, "timeout", 1, 86400);
            break;
        case 'r':
            if (strlen(optarg) >= sizeof(o->run_id) ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
                               "0123456789") != strlen(optarg)) {
                ab_die("--run-id: up to 39 lowercase letters and digits");
            }
            snprintf(o->run_id, sizeof(o->run_id), "%s", optarg);
            break;
        case 'o':
            o->series = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        default:
            usage();
        }
    }
    if (o->webhook == NULL || o->secret == NULL || o->fake == NULL || o->db == NULL ||
        o->pid == 0 || o->n == 0 || optind != argc || strlen(o->fake) > 500) {
        usage();
    }
}

int main(int argc, char **argv)
{
    ab_set_prog("bench_ai_replies");
    struct opts o;
    parse(argc, argv, &o);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ab_die("curl_global_init failed");
    }
    struct dk_err err = {0};
    struct store *st = NULL;
    struct store_opts so = {.pool_max = 2, .busy_timeout_ms = 10000, .connect_timeout_s = 5};
    if (store_open(o.db, &so, &st, &err) != 0) {
        ab_die("--db: %s", err.msg);
    }
    struct store_conn *c = store_acquire(st, &err);
    if (c == NULL) {
        ab_die("--db: %s", err.msg);
    }
    int64_t base[2], base_call_id;
    count_bot(c, base);
    query_ints(c, "SELECT coalesce(max(id), 0) FROM ai_calls", &base_call_id, 1);
    struct ab_proc idle;
    if (ab_proc_read(o.pid, &idle) != 0) {
        ab_die("no process %d", o.pid);
    }
    ab_fake_stats_reset(o.fake);
    int64_t cpu0 = ab_proc_cpu_ns(o.pid);
    static struct ab_thread th0[MAX_THREADS], th1[MAX_THREADS];
    size_t nth0 = ab_threads_read(o.pid, th0, MAX_THREADS);

    struct poster p = {.o = &o};
    int64_t t0 = ab_now_ns();
    pthread_create(&p.thread, NULL, poster_main, &p);

    size_t cap = 1024, ns = 0;
    struct sample *s = dk_malloc(cap * sizeof(*s));
    int64_t max_inflight_seen = 0;
    int max_threads = idle.threads;
    int64_t max_rss = idle.rss_kb;
    double t_first = -1, t_all = -1;
    int64_t cpu1 = cpu0;
    const char *end = "answered";
    for (;;) {
        struct sample x = {.t = (double)(ab_now_ns() - t0) / 1e9};
        int64_t bot[2];
        count_bot(c, bot);
        x.answered = bot[0] - base[0];
        x.generating = bot[1];
        struct ab_fake_stats fs = {0};
        x.fake_inflight = ab_fake_stats(o.fake, &fs) == 0 ? fs.inflight : -1;
        struct ab_proc pr;
        int64_t cpu = ab_proc_cpu_ns(o.pid);
        if (ab_proc_read(o.pid, &pr) != 0 || cpu < 0) {
            end = "process gone";
            break;
        }
        cpu1 = cpu;
        x.rss_kb = pr.rss_kb;
        x.threads = pr.threads;
        max_rss = pr.rss_kb > max_rss ? pr.rss_kb : max_rss;
        max_threads = pr.threads > max_threads ? pr.threads : max_threads;
        max_inflight_seen =
            x.fake_inflight > max_inflight_seen ? x.fake_inflight : max_inflight_seen;
        if (ns == cap) {
            cap *= 2;
            s = dk_realloc(s, cap * sizeof(*s));
        }
        s[ns++] = x;
        if (t_first < 0 && x.answered > 0) {
            t_first = x.t;
        }
        if (x.answered >= o.n) {
            t_all = x.t;
            break;
        }
        if (x.t > o.timeout_s) {
            end = "timeout";
            break;
        }
        dk_sleep_ms(o.sample_ms);
    }
    size_t nth1 = ab_threads_read(o.pid, th1, MAX_THREADS);
    pthread_join(p.thread, NULL);
    /* CPU per thread during the run, in creation order */
    char threads_cpu[MAX_THREADS * 48] = "";
    size_t used = 0;
    for (size_t i = 0; i < nth1 && used < sizeof(threads_cpu); i++) {
        int64_t before = 0;
        for (size_t k = 0; k < nth0; k++) {
            before = th0[k].tid == th1[i].tid ? th0[k].cpu_ns : before;
        }
        used +=
            (size_t)snprintf(threads_cpu + used, sizeof(threads_cpu) - used, "%s%s:%.0f",
                             i > 0 ? " " : "", th1[i].comm, (double)(th1[i].cpu_ns - before) / 1e6);
    }
    double t_post = (double)(atomic_load(&p.t_end_ns) - t0) / 1e9;
    struct ab_proc fin;
    ab_proc_read(o.pid, &fin);
    struct ab_fake_stats fs = {0};
    ab_fake_stats(o.fake, &fs);
    struct calls_summary cs;
    read_calls(c, base_call_id, &cs);
    store_release(c);
    store_close(st);

    if (o.series != NULL) {
        FILE *f = fopen(o.series, "w");
        if (f == NULL) {
            ab_die("cannot write %s", o.series);
        }
        fputs("t_s,answered,generating,fake_inflight,rss_kb,threads\n", f);
        for (size_t i = 0; i < ns; i++) {
            fprintf(f, "%.3f,%lld,%lld,%lld,%lld,%d\n", s[i].t, (long long)s[i].answered,
                    (long long)s[i].generating, (long long)s[i].fake_inflight,
                    (long long)s[i].rss_kb, s[i].threads);
        }
        fclose(f);
    }
    int64_t answered = ns > 0 ? s[ns - 1].answered : 0;
    double rate_all = t_all > 0 ? o.n / t_all : 0;
    double rate_window = t_all > t_first && t_first >= 0 ? o.n / (t_all - t_first) : 0;
    double rate_peak = peak_rate(s, ns);
    double cpu_ms_per_reply = answered > 0 ? (double)(cpu1 - cpu0) / 1e6 / (double)answered : 0;
    int posted_ok = atomic_load(&p.ok);
    bool pass = t_all > 0 && posted_ok == o.n && cs.reply_ok == o.n;
    if (o.json) {
        printf("{\"n\":%d,\"end\":\"%s\",\"posted_ok\":%d,\"post_s\":%.3f,\"answered\":%lld,"
               "\"first_answer_s\":%.3f,\"all_answered_s\":%.3f,\"replies_per_s\":%.1f,"
               "\"replies_per_s_window\":%.1f,\"replies_per_s_peak\":%.1f,"
               "\"fake_max_inflight\":%lld,\"sampled_max_inflight\":%lld,"
               "\"fake_requests\":%lld,\"idle_rss_kb\":%lld,\"max_rss_kb\":%lld,"
               "\"hwm_kb\":%lld,\"max_threads\":%d,\"cpu_ms_per_reply\":%.3f,"
               "\"reply_calls_ok\":%lld,\"reply_calls_other\":%lld,\"other_calls\":%lld,"
               "\"call_p50_ms\":%.0f,\"call_p99_ms\":%.0f,\"call_max_ms\":%.0f,"
               "\"threads_cpu_ms\":\"%s\",\"pass\":%s}\n",
               o.n, end, posted_ok, t_post, (long long)answered, t_first, t_all, rate_all,
               rate_window, rate_peak, (long long)fs.max_inflight, (long long)max_inflight_seen,
               (long long)fs.requests_total, (long long)idle.rss_kb, (long long)max_rss,
               (long long)fin.hwm_kb, max_threads, cpu_ms_per_reply, (long long)cs.reply_ok,
               (long long)cs.reply_other, (long long)cs.other_tasks, cs.p50_ms, cs.p99_ms,
               cs.max_ms, threads_cpu, pass ? "true" : "false");
    } else {
        printf("N = %d conversations, ended: %s\n", o.n, end);
        printf("webhooks: %d/%d acknowledged in %.2f s\n", posted_ok, o.n, t_post);
        printf("answered: %lld, first after %.2f s, all after %.2f s\n", (long long)answered,
               t_first, t_all);
        printf("replies/s: %.0f overall, %.0f while answering, %.0f best 1-s window\n", rate_all,
               rate_window, rate_peak);
        printf("LLM calls in flight: peak %lld (fake), %lld sampled; %lld requests\n",
               (long long)fs.max_inflight, (long long)max_inflight_seen,
               (long long)fs.requests_total);
        printf("process %d: RSS idle %.1f MiB, peak sampled %.1f MiB, VmHWM %.1f MiB; threads "
               "max %d; CPU %.2f ms per reply\n",
               o.pid, (double)idle.rss_kb / 1024, (double)max_rss / 1024, (double)fin.hwm_kb / 1024,
               max_threads, cpu_ms_per_reply);
        printf("ai_calls: %lld reply ok by openai, %lld other reply rows, %lld other tasks; "
               "latency p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
               (long long)cs.reply_ok, (long long)cs.reply_other, (long long)cs.other_tasks,
               cs.p50_ms, cs.p99_ms, cs.max_ms);
        printf("CPU ms per thread during the run (creation order): %s\n", threads_cpu);
    }
    dk_free(s);
    curl_global_cleanup();
    return pass ? 0 : 1;
}
