/*
 * bench/ingest/lib/histogram: request latencies in buckets of LG_HIST_STEP_NS (10 us) up to
 * --timeout, exact to one bucket with fixed memory and no work beyond an increment per
 * request. Each worker owns one; the main thread merges them after the run and reads the
 * percentiles from the sum.
 */
#include "loadgen.h"

void lg_hist_init(struct lg_hist *h, int64_t limit_ns)
{
    h->nbuckets = (size_t)(limit_ns / LG_HIST_STEP_NS) + 1;
    h->buckets = dk_calloc(h->nbuckets, sizeof(*h->buckets));
    h->count = 0;
    h->sum_ns = 0;
    h->max_ns = 0;
}

void lg_hist_free(struct lg_hist *h)
{
    dk_free(h->buckets);
    h->buckets = NULL;
    h->nbuckets = 0;
}

void lg_hist_add(struct lg_hist *h, int64_t ns)
{
    size_t b = (size_t)(ns / LG_HIST_STEP_NS);
    h->buckets[b < h->nbuckets ? b : h->nbuckets - 1]++;
    h->count++;
    h->sum_ns += (uint64_t)ns;
    if (ns > h->max_ns) {
        h->max_ns = ns;
    }
}

void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
    for (size_t b = 0; b < dst->nbuckets; b++) {
        dst->buckets[b] += src->buckets[b];
    }
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    dst->max_ns = src->max_ns > dst->max_ns ? src->max_ns : dst->max_ns;
}

double lg_hist_max_ms(const struct lg_hist *h)
{
    return (double)h->max_ns / 1e6;
}

double lg_hist_mean_ms(const struct lg_hist *h)
{
    return h->count ? (double)h->sum_ns / (double)h->count / 1e6 : 0;
}

double lg_hist_percentile_ms(const struct lg_hist *h, double q)
{
    double max = lg_hist_max_ms(h);
    if (h->count == 0) {
        return 0;
    }
    double x = q * (double)h->count;
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x || rank == 0) {
        rank++;
    }
    uint64_t seen = 0;
    for (size_t i = 0; i < h->nbuckets; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            double v = (double)(i + 1) * LG_HIST_STEP_NS / 1e6; /* bucket's upper edge */
            return v < max ? v : max;
        }
    }
    return max;
}
