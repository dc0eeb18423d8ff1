/*
 * bench/ai/lib/aibench: the helpers of aibench.h. Plain blocking code: the tools call these
 * outside their measured paths (setup, sampling every few tens of milliseconds, the report).
 */
#include "aibench.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jsonh.h"
#include "core/mem.h"

static const char *prog = "bench";

void ab_set_prog(const char *name)
{
    prog = name;
}

void ab_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) {
        ab_die("clock_gettime failed");
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ab_now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t ab_cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* user + system CPU of a /proc/.../stat file; comm (may be NULL) gets the name. */
static int64_t stat_cpu_ns(const char *path, char *comm, size_t comm_len)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command (which may hold spaces) start after the last ')' */
    const char *p = strrchr(buf, ')');
    const char *open = strchr(buf, '(');
    if (p == NULL || open == NULL || open > p) {
        return -1;
    }
    if (comm != NULL) {
        snprintf(comm, comm_len, "%.*s", (int)(p - open - 1), open + 1);
    }
    unsigned long long utime = 0, stime = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2) {
        return -1;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((utime + stime) * (1000000000ULL / (unsigned long long)hz));
}

int64_t ab_proc_cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    return stat_cpu_ns(path, NULL, 0);
}

static int cmp_thread(const void *a, const void *b)
{
    const struct ab_thread *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

size_t ab_threads_read(int pid, struct ab_thread *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    size_t n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        char stat[320];
        snprintf(stat, sizeof(stat), "/proc/%d/task/%s/stat", pid, de->d_name);
        out[n].tid = (int)strtol(de->d_name, NULL, 10);
        out[n].cpu_ns = stat_cpu_ns(stat, out[n].comm, sizeof(out[n].comm));
        if (out[n].cpu_ns >= 0) {
            n++;
        }
    }
    closedir(d);
    qsort(out, n, sizeof(*out), cmp_thread);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ab_quantile(double *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    size_t rank = (size_t)(q * (double)n + 0.999999999); /* ceil, nearest rank */
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return v[rank - 1];
}

int ab_proc_read(int pid, struct ab_proc *out)
{
    *out = (struct ab_proc){.rss_kb = -1, .hwm_kb = -1, .threads = -1};
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        long long v;
        if (sscanf(line, "VmRSS: %lld", &v) == 1) {
            out->rss_kb = v;
        } else if (sscanf(line, "VmHWM: %lld", &v) == 1) {
            out->hwm_kb = v;
        } else if (sscanf(line, "Threads: %lld", &v) == 1) {
            out->threads = (int)v;
        }
    }
    fclose(f);
    return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct dk_buf *b = arg;
    return dk_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

char *ab_http_simple(const char *method, const char *url, long *status)
{
    *status = 0;
    CURL *e = curl_easy_init();
    if (e == NULL) {
        ab_die("curl_easy_init failed");
    }
    struct dk_buf b;
    dk_buf_init(&b, 1u << 20);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(e);
    if (rc != CURLE_OK || dk_buf_append(&b, "", 1) != 0) {
        dk_free(b.data);
        return NULL;
    }
    return b.data;
}

int ab_fake_stats(const char *fake_url, struct ab_fake_stats *out)
{
    char url[600];
    long status;
    snprintf(url, sizeof(url), "%s/_stats", fake_url);
    char *body = ab_http_simple("GET", url, &status);
    if (body == NULL || status != 200) {
        dk_free(body);
        return -1;
    }
    json_t *j = dk_json_parse(body, strlen(body), 8, NULL);
    dk_free(body);
    int rc = j != NULL && dk_json_int(j, "requests_total", &out->requests_total) &&
                     dk_json_int(j, "inflight", &out->inflight) &&
                     dk_json_int(j, "max_inflight", &out->max_inflight)
                 ? 0
                 : -1;
    json_decref(j);
    return rc;
}

void ab_fake_stats_reset(const char *fake_url)
{
    char url[600];
    long status;
    snprintf(url, sizeof(url), "%s/_stats", fake_url);
    dk_free(ab_http_simple("DELETE", url, &status));
    if (status != 200) {
        ab_die("DELETE %s gave status %ld", url, status);
    }
}

double ab_num_arg(const char *s, const char *name, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        ab_die("invalid value for --%s: \"%s\" (expected %g..%g)", name, s, lo, hi);
    }
    return v;
}
