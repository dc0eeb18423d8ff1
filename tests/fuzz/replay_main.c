/*
 * Replay driver for fuzz targets built with gcc (no libFuzzer): runs LLVMFuzzerTestOneInput on
 * every file given (directories are read, files sorted by name), then on deterministic mutations
 * of them: bit flips, byte changes, truncations, insertions (random bytes and JSON tokens),
 * deletions, duplications and splices of two inputs. The seed is fixed, so a failure reproduces
 * exactly; FUZZ_ITERATIONS sets the number of mutations (default 20000) and FUZZ_SAVE=<path>
 * writes each input there before it runs, so that the one that crashed is left behind.
 * A crash aborts the process (ASan/UBSan); reaching the end prints "fuzz: N inputs, 0 crashes".
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

#define DEFAULT_ITERATIONS 20000
#define MAX_SEED           (1u << 20) /* seed files are cut here */
#define MAX_MUTANT         (64u << 10)
#define SEED               0x9e3779b97f4a7c15ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    uint8_t *data;
    size_t len;
};

struct corpus {
    struct input *items;
    size_t count;
    size_t cap;
};

/* Tokens worth inserting into JSON-shaped inputs. */
static const char *const TOKENS[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e400",
    "1.5",
    "\\u0000",
    "\\ud800",
    "\"\"",
    "{}",
    "[]",
    "\"id\":",
    "\"sender\":{\"id\":1}",
    "\"message\":",
    "\"mid\":\"m\"",
    "\"text\":\"t\"",
    "\"is_echo\":true",
    "\"is_deleted\":true",
    "\"attachments\":[{\"type\":\"image\"}]",
    "\"reply_to\":{\"story\":{}}",
    "\"timestamp\":",
    "9223372036854775807",
    "18446744073709551616",
    "\"entry\":[",
    "\"changes\":[{\"field\":\"comments\",\"value\":",
    "\"messaging\":[",
    "\xf0\x9f\x99\x8f",
    "\xff",
    "sha256=",
};

/* Values to put in place of a JSON string or number: other types, edge numbers, ids. */
static const char *const VALUES[] = {
    "1",
    "-1",
    "0",
    "1764000000",
    "1764000000321",
    "17841405822304914",
    "1e300",
    "0.5",
    "null",
    "true",
    "false",
    "{}",
    "[]",
    "[1,2]",
    "\"\"",
    "\"x\"",
    "\"1764000000321\"",
    "{\"id\":5}",
    "{\"id\":\"5\"}",
    "[{}]",
    "\"99999999999999999999\"",
};

static uint64_t rng_state = SEED;

/* splitmix64: small, fast, good enough, and the same everywhere. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

static void corpus_add(struct corpus *c, uint8_t *data, size_t len)
{
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = dk_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->count].data = data;
    c->items[c->count].len = len;
    c->count++;
}

static void read_file(struct corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz: could not open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    uint8_t *buf = dk_malloc(MAX_SEED);
    size_t n = fread(buf, 1, MAX_SEED, f);
    fclose(f);
    corpus_add(c, dk_realloc(buf, n), n);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_dir(struct corpus *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "fuzz: could not open directory %s: %s\n", dir, strerror(errno));
        exit(2);
    }
    char **names = NULL;
    size_t count = 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 32;
            names = dk_realloc(names, cap * sizeof(*names));
        }
        names[count++] = dk_asprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof(*names), by_name);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            read_file(c, names[i]);
        }
        dk_free(names[i]);
    }
    dk_free(names);
}

static void save(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "fuzz: could not write %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Inserts n bytes at pos into buf (len, capacity MAX_MUTANT); cut when it would not fit. */
static size_t insert(uint8_t *buf, size_t len, size_t pos, const void *src, size_t n)
{
    if (n > MAX_MUTANT - len) {
        n = MAX_MUTANT - len;
    }
    memmove(buf + pos + n, buf + pos, len - pos);
    memcpy(buf + pos, src, n);
    return len + n;
}

/* The end (one past) of the JSON value that starts at buf[start]: a string, a number, or an
 * object or array found by counting brackets outside strings. Good enough for mutation. */
static size_t value_end(const uint8_t *buf, size_t len, size_t start)
{
    size_t end = start + 1;
    if (buf[start] == '"') {
        while (end < len && buf[end] != '"') {
            end += buf[end] == '\\' ? 2 : 1;
        }
        return end < len ? end + 1 : len;
    }
    if (buf[start] == '{' || buf[start] == '[') {
        size_t depth = 1;
        bool in_str = false;
        for (; end < len && depth > 0; end++) {
            if (in_str) {
                if (buf[end] == '\\') {
                    end++;
                } else if (buf[end] == '"') {
                    in_str = false;
                }
            } else if (buf[end] == '"') {
                in_str = true;
            } else if (buf[end] == '{' || buf[end] == '[') {
                depth++;
            } else if (buf[end] == '}' || buf[end] == ']') {
                depth--;
            }
        }
        return end < len ? end : len;
    }
    while (end < len && ((buf[end] >= '0' && buf[end] <= '9') || buf[end] == '.')) {
        end++;
    }
    return end;
}

/* Replaces the JSON value (string, number, object or array) that starts at or after pos with
 * one of another kind; returns the new length (unchanged when there is none). */
static size_t replace_value(uint8_t *buf, size_t len, size_t pos)
{
    size_t start = pos;
    while (start < len && strchr("\"{[0123456789", buf[start]) == NULL) {
        start++;
    }
    if (start >= len) {
        return len;
    }
    size_t end = value_end(buf, len, start);
    memmove(buf + start, buf + end, len - end);
    len -= end - start;
    const char *v = VALUES[below(sizeof(VALUES) / sizeof(VALUES[0]))];
    return insert(buf, len, start, v, strlen(v));
}

/* One random change to buf; returns the new length. */
static size_t mutate_once(uint8_t *buf, size_t len, const struct corpus *c)
{
    size_t pos = len > 0 ? below(len) : 0;
    switch (below(11)) {
    case 0: /* flip a bit */
        if (len > 0) {
            buf[pos] ^= (uint8_t)(1u << below(8));
        }
        return len;
    case 1: /* set a byte */
        if (len > 0) {
            buf[pos] = (uint8_t)rnd();
        }
        return len;
    case 2: /* truncate */
        return len > 0 ? below(len) : 0;
    case 3: { /* insert random bytes */
        uint8_t tmp[8];
        size_t n = 1 + below(sizeof(tmp));
        for (size_t i = 0; i < n; i++) {
            tmp[i] = (uint8_t)rnd();
        }
        return insert(buf, len, pos, tmp, n);
    }
    case 4: { /* insert a token */
        const char *t = TOKENS[below(sizeof(TOKENS) / sizeof(TOKENS[0]))];
        return insert(buf, len, pos, t, strlen(t));
    }
    case 5: { /* delete a range */
        if (len == 0) {
            return 0;
        }
        size_t n = 1 + below(len - pos < 16 ? len - pos : 16);
        memmove(buf + pos, buf + pos + n, len - pos - n);
        return len - n;
    }
    case 6: { /* duplicate a range (grows nesting and lists) */
        if (len == 0) {
            return 0;
        }
        size_t n = 1 + below(len - pos < 64 ? len - pos : 64);
        uint8_t tmp[64];
        memcpy(tmp, buf + pos, n);
        return insert(buf, len, below(len + 1), tmp, n);
    }
    case 7: { /* splice: keep a prefix, then the tail of another input */
        const struct input *o = &c->items[below(c->count)];
        size_t from = o->len > 0 ? below(o->len) : 0;
        size_t n = o->len - from;
        if (n > MAX_MUTANT - pos) {
            n = MAX_MUTANT - pos;
        }
        memcpy(buf + pos, o->data + from, n);
        return pos + n;
    }
    case 8: /* change a value's type (twice as likely: it reaches the parser's checks) */
    case 9:
        return replace_value(buf, len, pos);
    default: { /* swap two bytes */
        if (len < 2) {
            return len;
        }
        size_t other = below(len);
        uint8_t t = buf[pos];
        buf[pos] = buf[other];
        buf[other] = t;
        return len;
    }
    }
}

static long iterations(void)
{
    const char *s = getenv("FUZZ_ITERATIONS");
    if (s == NULL || *s == '\0') {
        return DEFAULT_ITERATIONS;
    }
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0) {
        fprintf(stderr, "fuzz: FUZZ_ITERATIONS must be a non-negative number, not \"%s\"\n", s);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    struct corpus c = {0};
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-') {
            continue; /* libFuzzer flags mean nothing here */
        }
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz: could not stat %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            read_dir(&c, argv[i]);
        } else {
            read_file(&c, argv[i]);
        }
    }
    if (c.count == 0) {
        corpus_add(&c, dk_malloc(1), 0); /* mutate from nothing */
    }
    const char *save_path = getenv("FUZZ_SAVE");
    long runs = 0;

    for (size_t i = 0; i < c.count; i++) {
        if (save_path != NULL) {
            save(save_path, c.items[i].data, c.items[i].len);
        }
        LLVMFuzzerTestOneInput(c.items[i].data, c.items[i].len);
        runs++;
    }

    long n = iterations();
    uint8_t *buf = dk_malloc(MAX_MUTANT);
    for (long i = 0; i < n; i++) {
        const struct input *base = &c.items[(size_t)i % c.count];
        size_t len = base->len < MAX_MUTANT ? base->len : MAX_MUTANT;
        memcpy(buf, base->data, len);
        size_t changes = 1 + below(4);
        for (size_t k = 0; k < changes; k++) {
            len = mutate_once(buf, len, &c);
        }
        /* an exact-size copy, so that ASan catches any read past the end */
        uint8_t *exact = dk_malloc(len);
        memcpy(exact, buf, len);
        if (save_path != NULL) {
            save(save_path, exact, len);
        }
        LLVMFuzzerTestOneInput(exact, len);
        dk_free(exact);
        runs++;
    }
    dk_free(buf);
    for (size_t i = 0; i < c.count; i++) {
        dk_free(c.items[i].data);
    }
    dk_free(c.items);
    printf("fuzz: %ld inputs, 0 crashes\n", runs);
    return 0;
}
