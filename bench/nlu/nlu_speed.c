/*
 * bench_nlu_speed: how many short messages one core analyses per second with the local NLU
 * (language, intent with the built-in model, lexicon sentiment and emotions, entities), and
 * what the built-in model costs to train and to hold.
 *
 *   bench_nlu_speed [SECONDS] [FILE]
 *
 * FILE holds one message per line (default: a built-in mix of realistic English and Russian
 * DMs). Runs on the calling thread only; prints one JSON object.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "nlu/nlu.h"

static const char *const BUILTIN[] = {
    "hi! how much is this hoodie?",
    "Здравствуйте, сколько стоит доставка в Казань?",
    "is the black dress available in size M?",
    "спасибо большое, всё пришло 😍",
    "where is my order #48213?? it's been 2 weeks",
    "можно оплатить картой?",
    "the zipper broke after one day, I want a refund",
    "привет) есть белые кроссовки 38 размера?",
    "can I book a manicure for friday at 3pm",
    "thank you so much!! love it ❤️",
    "хочу вернуть платье, не подошел размер",
    "skolko stoit dostavka v minsk?",
    "I'm a blogger with 20k followers, collab?",
    "позовите менеджера пожалуйста",
    "ok",
    "👍",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, n) == 0) {
            v = strtol(line + n + 1, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return v;
}

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char **v = NULL;
    size_t cap = 0;
    char line[4096];
    *n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            v = dk_realloc(v, cap * sizeof(*v));
        }
        v[(*n)++] = dk_strdup(line);
    }
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    size_t n = sizeof(BUILTIN) / sizeof(BUILTIN[0]);
    char **owned = argc > 2 ? read_lines(argv[2], &n) : NULL;
    const char *const *msgs = owned != NULL ? (const char *const *)owned : BUILTIN;
    if (n == 0) {
        fprintf(stderr, "no messages\n");
        return 1;
    }
    long rss0 = rss_kib("VmRSS:");
    double t0 = now_s();
    const struct nlu_model *m = nlu_default_intent_model();
    double train_s = now_s() - t0;
    long rss1 = rss_kib("VmRSS:");

    struct nlu_ctx *c = nlu_ctx_new();
    struct nlu_result res;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) { /* warm-up: buffers grow, lexicons load */
        nlu_analyze(c, m, NULL, msgs[i], strlen(msgs[i]), &res, NULL);
        bytes += strlen(msgs[i]);
    }
    size_t done = 0;
    double start = now_s(), end = start;
    while (end - start < seconds) {
        for (size_t i = 0; i < n; i++) {
            if (nlu_analyze(c, m, NULL, msgs[i], strlen(msgs[i]), &res, NULL) != 0) {
                fprintf(stderr, "analyze failed on line %zu\n", i + 1);
                return 1;
            }
        }
        done += n;
        end = now_s();
    }
    double rate = (double)done / (end - start);
    json_t *out = json_pack(
        "{s:i, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:i}", "messages", (json_int_t)n, "mean_bytes",
        (double)bytes / (double)n, "analyses_per_s", rate, "us_per_message", 1e6 / rate,
        "default_model_train_ms", train_s * 1000.0, "default_model_bytes",
        (json_int_t)nlu_model_bytes(m), "default_model_rss_kib", (json_int_t)(rss1 - rss0),
        "rss_kib", (json_int_t)rss_kib("VmRSS:"), "peak_rss_kib", (json_int_t)rss_kib("VmHWM:"));
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
    nlu_ctx_free(c);
    for (size_t i = 0; owned != NULL && i < n; i++) {
        dk_free(owned[i]);
    }
    dk_free(owned);
    return 0;
}
