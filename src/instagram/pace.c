/*
 * instagram/pace: per-account send pacing, a token bucket per Instagram account.
 *
 * Each bucket is kept as its "theoretical arrival time" (GCRA, the integer form of a token
 * bucket): tat is when the bucket would be full again. A send may go when tat lies at most
 * (burst - 1) intervals ahead of now; it then moves tat one interval on. Times are kept in
 * microseconds so a rate that does not divide 1000 ms keeps its precision, and a bucket is
 * one int64_t instead of a float that must be refilled.
 *
 * The buckets are a sorted array (binary search by account id) under one mutex. It holds at
 * most IG_PACE_MAX_ACCOUNTS: when a new account would pass that, the idle buckets (full again:
 * forgetting them loses nothing) are dropped; if none is idle, the one used longest ago is,
 * which at worst gives that account a fresh burst.
 *
 * now_ms is the caller's monotonic clock. A now earlier than a previous call's is harmless:
 * it only makes that caller wait longer.
 */
#include "instagram/policy.h"

#include <pthread.h>
#include <string.h>

#include "core/mem.h"

#define US_PER_S  1000000.0
#define US_PER_MS 1000

struct bucket {
    char *account_id;
    int64_t tat_us;  /* when the bucket is full again */
    int64_t used_ms; /* the last take (for eviction) */
};

struct ig_pace {
    pthread_mutex_t mu;
    int64_t interval_us;  /* one send's share of a second */
    int64_t tolerance_us; /* (burst - 1) intervals: how far ahead tat may be */
    struct bucket *b;     /* sorted by account_id */
    size_t n;
    size_t cap;
};

struct ig_pace *ig_pace_new(double rate_per_s)
{
    if (!(rate_per_s >= 1.0)) { /* also NaN; the configuration allows 1 … 100000 */
        rate_per_s = 1.0;
    }
    if (rate_per_s > US_PER_S) {
        rate_per_s = US_PER_S;
    }
    struct ig_pace *p = dk_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->interval_us = (int64_t)(US_PER_S / rate_per_s + 0.5);
    int64_t burst = (int64_t)rate_per_s; /* ≥ 1 */
    p->tolerance_us = (burst - 1) * p->interval_us;
    return p;
}

void ig_pace_free(struct ig_pace *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        dk_free(p->b[i].account_id);
    }
    dk_free(p->b);
    pthread_mutex_destroy(&p->mu);
    dk_free(p);
}

/* Index of account_id, or where it belongs (*found false). */
static size_t find(const struct ig_pace *p, const char *account_id, bool *found)
{
    size_t lo = 0;
    size_t hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->b[mid].account_id, account_id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* Makes room for one more bucket: drops every idle bucket, or else the least recently used. */
static void evict(struct ig_pace *p, int64_t now_us)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->b[i].tat_us <= now_us) {
            dk_free(p->b[i].account_id);
        } else {
            p->b[kept++] = p->b[i];
        }
    }
    p->n = kept;
    if (p->n < IG_PACE_MAX_ACCOUNTS) {
        return;
    }
    size_t oldest = 0;
    for (size_t i = 1; i < p->n; i++) {
        if (p->b[i].used_ms < p->b[oldest].used_ms) {
            oldest = i;
        }
    }
    dk_free(p->b[oldest].account_id);
    memmove(&p->b[oldest], &p->b[oldest + 1], (p->n - oldest - 1) * sizeof(p->b[0]));
    p->n--;
}

/* The bucket of account_id, created full when it is new. */
static struct bucket *bucket_for(struct ig_pace *p, const char *account_id, int64_t now_ms)
{
    bool found;
    size_t i = find(p, account_id, &found);
    if (found) {
        return &p->b[i];
    }
    if (p->n >= IG_PACE_MAX_ACCOUNTS) {
        evict(p, now_ms * US_PER_MS);
        i = find(p, account_id, &found);
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->b = dk_realloc(p->b, p->cap * sizeof(p->b[0]));
    }
    memmove(&p->b[i + 1], &p->b[i], (p->n - i) * sizeof(p->b[0]));
    p->n++;
    p->b[i] = (struct bucket){.account_id = dk_strdup(account_id), .tat_us = 0, .used_ms = now_ms};
    return &p->b[i];
}

int64_t ig_pace_take(struct ig_pace *p, const char *account_id, int64_t now_ms)
{
    int64_t now_us = now_ms * US_PER_MS;
    pthread_mutex_lock(&p->mu);
    struct bucket *b = bucket_for(p, account_id, now_ms);
    int64_t tat = b->tat_us > now_us ? b->tat_us : now_us;
    int64_t over_us = tat - now_us - p->tolerance_us;
    int64_t wait_ms = 0;
    if (over_us > 0) {
        wait_ms = (over_us + US_PER_MS - 1) / US_PER_MS;
    } else {
        b->tat_us = tat + p->interval_us;
    }
    b->used_ms = now_ms;
    pthread_mutex_unlock(&p->mu);
    return wait_ms;
}

size_t ig_pace_count(struct ig_pace *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}
