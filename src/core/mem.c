/*
 * core/mem: allocation, arenas and buffers (see mem.h).
 * The arena is a list of blocks; big allocations get a block of their own.
 */
#include "core/mem.h"
#include "core/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "level=fatal msg=\"out of memory allocating %zu bytes\"\n", n);
    abort();
}

void *dk_malloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        out_of_memory(n);
    }
    return p;
}

void *dk_calloc(size_t count, size_t n)
{
    void *p = calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);
    if (p == NULL) {
        out_of_memory(count * n);
    }
    return p;
}

void *dk_realloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        out_of_memory(n);
    }
    return q;
}

char *dk_strdup(const char *s)
{
    return dk_strndup(s, strlen(s));
}

char *dk_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = dk_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void dk_free(void *p)
{
    free(p);
}

char *dk_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    char *p = dk_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

#define ARENA_BLOCK 4096

struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

struct arena_defer {
    struct arena_defer *next;
    void (*fn)(void *);
    void *ptr;
};

struct dk_arena {
    struct arena_block *blocks;
    struct arena_defer *defers;
};

struct dk_arena *dk_arena_new(void)
{
    return dk_calloc(1, sizeof(struct dk_arena));
}

static struct arena_block *new_block(size_t cap)
{
    struct arena_block *b = dk_malloc(sizeof(*b) + cap);
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

void *dk_arena_alloc(struct dk_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need == 0) {
        need = 16;
    }
    struct arena_block *b = a->blocks;
    if (b == NULL || b->cap - b->used < need) {
        if (need > ARENA_BLOCK / 4) {
            /* a big allocation gets its own block, kept behind the current one */
            struct arena_block *big = new_block(need);
            big->used = need;
            if (b == NULL) {
                a->blocks = big;
            } else {
                big->next = b->next;
                b->next = big;
            }
            memset(big->data, 0, need);
            return big->data;
        }
        b = new_block(ARENA_BLOCK);
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

char *dk_arena_strndup(struct dk_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = dk_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    return p;
}

char *dk_arena_strdup(struct dk_arena *a, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    return dk_arena_strndup(a, s, strlen(s));
}

char *dk_arena_printf(struct dk_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    char *p = dk_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void dk_arena_defer(struct dk_arena *a, void (*fn)(void *), void *ptr)
{
    struct arena_defer *d = dk_malloc(sizeof(*d));
    d->fn = fn;
    d->ptr = ptr;
    d->next = a->defers;
    a->defers = d;
}

void dk_arena_free(struct dk_arena *a)
{
    if (a == NULL) {
        return;
    }
    struct arena_defer *d = a->defers;
    while (d != NULL) {
        struct arena_defer *next = d->next;
        d->fn(d->ptr);
        free(d);
        d = next;
    }
    struct arena_block *b = a->blocks;
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void dk_buf_init(struct dk_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int buf_reserve(struct dk_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        return DK_ETOOBIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    b->data = dk_realloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int dk_buf_append(struct dk_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != 0) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dk_buf_puts(struct dk_buf *b, const char *s)
{
    return dk_buf_append(b, s, strlen(s));
}

int dk_buf_printf(struct dk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return DK_EINVAL;
    }
    int rc = buf_reserve(b, (size_t)n);
    if (rc != 0) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void dk_buf_reset(struct dk_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void dk_buf_free(struct dk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *dk_buf_take(struct dk_buf *b, size_t *len)
{
    if (b->data == NULL) {
        buf_reserve(b, 0);
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
