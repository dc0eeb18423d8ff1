/*
 * bench/ai/ai_ttft: time to the first streamed token, through direkt and from the provider
 * directly.
 *
 * The same streamed Chat Completions request goes to the fake LLM (POST /v1/chat/completions)
 * and to direkt's gateway (POST /api/v1/ai/chat-completion with model "openai", which direkt
 * forwards to the same fake), alternately, one at a time, each over its own keep-alive
 * connection (one curl easy handle per target, as a client would hold). The time to first token
 * is from the start of the request to the arrival of the first SSE "data:" line whose delta has
 * non-empty "content" (a role-only chunk does not count); the rest of the stream is read to
 * its end and must end with "data: [DONE]". The difference of the medians is what direkt adds
 * to the first token.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aibench.h"
#include "core/mem.h"

#define LINE_MAX_BYTES 8192

struct opts {
    const char *direkt; /* http://HOST:PORT (the gateway path is appended) */
    const char *fake;   /* http://HOST:PORT */
    const char *token;
    int requests;
    int warmup;
    bool json;
};

/* One target: its connection and request. */
struct target {
    const char *name;
    CURL *easy;
    struct curl_slist *headers;
    char url[600];
    char *body;
};

/* What one streamed response gave. */
struct stream_read {
    int64_t t0, t_first_byte, t_first_token;
    char line[LINE_MAX_BYTES];
    size_t len;
    bool overflow;
    bool done; /* "data: [DONE]" seen */
};

/* Whether an SSE line carries a delta with non-empty text. */
static bool has_content(const char *line, size_t n)
{
    if (n < 6 || strncmp(line, "data:", 5) != 0) {
        return false;
    }
    const char *p = line;
    const char *end = line + n;
    static const char key[] = "\"content\":\"";
    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        if (p < end && *p != '"') {
            return true;
        }
    }
    return false;
}

static void on_line(struct stream_read *s)
{
    size_t n = s->len;
    while (n > 0 && (s->line[n - 1] == '\r' || s->line[n - 1] == '\n')) {
        n--;
    }
    if (s->t_first_token < 0 && has_content(s->line, n)) {
        s->t_first_token = ab_now_ns();
    }
    if (n == 12 && memcmp(s->line, "data: [DONE]", 12) == 0) {
        s->done = true;
    }
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct stream_read *s = arg;
    size_t n = size * nmemb;
    if (s->t_first_byte < 0) {
        s->t_first_byte = ab_now_ns();
    }
    for (size_t i = 0; i < n; i++) {
        if (s->len < sizeof(s->line) - 1) {
            s->line[s->len++] = p[i];
        } else {
            s->overflow = true;
        }
        if (p[i] == '\n') {
            s->line[s->len] = '\0';
            on_line(s);
            s->len = 0;
        }
    }
    return n;
}

static void target_init(struct target *t, const char *name, const char *url, const char *auth,
                        const char *model)
{
    t->name = name;
    t->easy = curl_easy_init();
    if (t->easy == NULL) {
        ab_die("curl_easy_init failed");
    }
    snprintf(t->url, sizeof(t->url), "%s", url);
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, auth);
    t->body = dk_asprintf("{\"model\": \"%s\", \"stream\": true, \"messages\": [{\"role\": "
                          "\"user\", \"content\": \"ECHO: Yes, we ship to Berlin: delivery takes "
                          "two to three working days.\"}]}",
                          model);
}

static void target_free(struct target *t)
{
    curl_slist_free_all(t->headers);
    curl_easy_cleanup(t->easy);
    dk_free(t->body);
}

/* One streamed request; *ttft_us and *total_us get its times. Returns false on a failure. */
static bool request(struct target *t, double *ttft_us, double *total_us)
{
    struct stream_read s = {.t_first_byte = -1, .t_first_token = -1};
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    s.t0 = ab_now_ns();
    CURLcode rc = curl_easy_perform(e);
    int64_t t_end = ab_now_ns();
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || !s.done || s.t_first_token < 0 || s.overflow) {
        fprintf(stderr, "bench_ai_ttft: %s: %s, status %ld, [DONE] %s, first token %s\n", t->name,
                curl_easy_strerror(rc), status, s.done ? "seen" : "missing",
                s.t_first_token >= 0 ? "seen" : "missing");
        return false;
    }
    *ttft_us = (double)(s.t_first_token - s.t0) / 1e3;
    *total_us = (double)(t_end - s.t0) / 1e3;
    return true;
}

static void usage(void)
{
    fputs("usage: bench_ai_ttft --direkt http://HOST:PORT --token T --fake http://HOST:PORT "
          "[options]\n"
          "  --requests N   measured streamed requests per target (default 300)\n"
          "  --warmup N     unmeasured requests per target first (default 30)\n"
          "  --json         one JSON object instead of the text report\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.requests = 300, .warmup = 30};
    static const struct option longs[] = {
        {"direkt", required_argument, NULL, 'd'}, {"fake", required_argument, NULL, 'f'},
        {"token", required_argument, NULL, 't'},  {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->direkt = optarg;
            break;
        case 'f':
            o->fake = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'n':
            o->requests = (int)ab_num_arg(optarg, "requests", 1, 1e7);
            break;
        case 'w':
            o->warmup = (int)ab_num_arg(optarg, "warmup", 0, 1e6);
            break;
        case 'j':
            o->json = true;
            break;
        default:
            usage();
        }
    }
    if (o->direkt == NULL || o->fake == NULL || o->token == NULL || optind != argc ||
        strlen(o->direkt) > 500 || strlen(o->fake) > 500 || strlen(o->token) > 400) {
        usage();
    }
}

int main(int argc, char **argv)
{
    ab_set_prog("bench_ai_ttft");
    struct opts o;
    parse(argc, argv, &o);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ab_die("curl_global_init failed");
    }
    struct target t[2];
    char url[600], auth[500];
    snprintf(url, sizeof(url), "%s/v1/chat/completions", o.fake);
    target_init(&t[0], "fake", url, "Authorization: Bearer sk-bench", "gpt-4o-mini");
    snprintf(url, sizeof(url), "%s/api/v1/ai/chat-completion", o.direkt);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
    target_init(&t[1], "direkt", url, auth, "openai");

    double *ttft[2], *total[2];
    for (int k = 0; k < 2; k++) {
        ttft[k] = dk_calloc((size_t)o.requests, sizeof(double));
        total[k] = dk_calloc((size_t)o.requests, sizeof(double));
    }
    int failed = 0;
    double a, b;
    for (int i = 0; i < o.warmup; i++) {
        for (int k = 0; k < 2; k++) {
            failed += !request(&t[k], &a, &b);
        }
    }
    for (int i = 0; i < o.requests; i++) {
        for (int j = 0; j < 2; j++) {
            int k = (i + j) % 2; /* alternate which target goes first */
            if (!request(&t[k], &ttft[k][i], &total[k][i])) {
                failed++;
                ttft[k][i] = total[k][i] = 0;
            }
        }
    }
    double p50[2], p90[2], tot50[2];
    for (int k = 0; k < 2; k++) {
        p50[k] = ab_quantile(ttft[k], (size_t)o.requests, 0.5);
        p90[k] = ab_quantile(ttft[k], (size_t)o.requests, 0.9);
        tot50[k] = ab_quantile(total[k], (size_t)o.requests, 0.5);
    }
    if (o.json) {
        printf("{\"requests\":%d,\"fake_ttft_p50_us\":%.1f,\"fake_ttft_p90_us\":%.1f,"
               "\"fake_total_p50_us\":%.1f,\"direkt_ttft_p50_us\":%.1f,\"direkt_ttft_p90_us\":%.1f,"
               "\"direkt_total_p50_us\":%.1f,\"added_ttft_p50_us\":%.1f,\"failed\":%d}\n",
               o.requests, p50[0], p90[0], tot50[0], p50[1], p90[1], tot50[1], p50[1] - p50[0],
               failed);
    } else {
        printf("streamed requests: %d per target (after %d warm-up), alternating\n", o.requests,
               o.warmup);
        printf("%-8s %14s %14s %16s\n", "target", "TTFT p50 us", "TTFT p90 us", "whole p50 us");
        for (int k = 0; k < 2; k++) {
            printf("%-8s %14.1f %14.1f %16.1f\n", t[k].name, p50[k], p90[k], tot50[k]);
        }
        printf("added by direkt (p50 direkt - fake): %.1f us\n", p50[1] - p50[0]);
        if (failed > 0) {
            printf("FAILED requests: %d\n", failed);
        }
    }
    for (int k = 0; k < 2; k++) {
        target_free(&t[k]);
        dk_free(ttft[k]);
        dk_free(total[k]);
    }
    curl_global_cleanup();
    return failed > 0 ? 1 : 0;
}
