/*
 * bench/ai/lib: what the AI benchmark tools share (bench/ai: bench_ai_replies,
 * bench_router_overhead, bench_ai_ttft): clocks, quantiles, the figures of a process from
 * /proc, small blocking HTTP requests to the fake LLM's control routes, and option parsing.
 *
 * Failures of the system (curl, the clock, bad options) end the process through ab_die();
 * failures of the system under test are counted by the tools.
 */
#ifndef BENCH_AI_AIBENCH_H
#define BENCH_AI_AIBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prints "PROG: message" to stderr and exits with code 2. */
void ab_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The program name used by ab_die (static string). */
void ab_set_prog(const char *name);

/* Monotonic clock in nanoseconds. */
int64_t ab_now_ns(void);
/* CPU time of this process (every thread) in nanoseconds. */
int64_t ab_cpu_ns(void);
/* User + system CPU time of another process (all threads) in nanoseconds, -1 when unreadable. */
int64_t ab_proc_cpu_ns(int pid);

/* One thread of a process: its id, name (comm) and CPU time so far. */
struct ab_thread {
    int tid;
    char comm[32];
    int64_t cpu_ns;
};
/* Up to max threads of pid, sorted by thread id (creation order); returns how many. */
size_t ab_threads_read(int pid, struct ab_thread *out, size_t max);

/* The q-quantile (0..1) of v by the nearest-rank method; v is sorted in place. 0 for n == 0. */
double ab_quantile(double *v, size_t n, double q);

/* Figures of a process from /proc/PID/status; -1 where unreadable. */
struct ab_proc {
    int64_t rss_kb; /* VmRSS */
    int64_t hwm_kb; /* VmHWM: peak RSS over the process's life */
    int threads;
};
/* Returns 0, or -1 when the process is gone. */
int ab_proc_read(int pid, struct ab_proc *out);

/* A blocking request (method "GET" or "DELETE") with a 5 s timeout; the body (new string,
 * dk_free) or NULL when no response arrived; *status gets the HTTP status (0 without one). */
char *ab_http_simple(const char *method, const char *url, long *status);

/* The fake LLM's GET /_stats. Returns 0, or -1 when it could not be read. */
struct ab_fake_stats {
    int64_t requests_total;
    int64_t inflight;
    int64_t max_inflight;
};
int ab_fake_stats(const char *fake_url, struct ab_fake_stats *out);
/* DELETE /_stats: requests_total back to 0, max_inflight to the current in flight. */
void ab_fake_stats_reset(const char *fake_url);

/* A number option in [lo, hi], or ab_die naming --name. */
double ab_num_arg(const char *s, const char *name, double lo, double hi);

#endif
