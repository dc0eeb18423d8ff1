/*
 * core/mem: allocation that never returns NULL, arenas that own a unit of work's memory, and
 * growable byte buffers with a maximum.
 *
 * An arena is freed in one go when its request or job ends; dk_arena_defer ties other
 * resources (a json_t, a PGresult) to it. Arenas are not thread-safe: one owner at a time.
 */
#ifndef DK_MEM_H
#define DK_MEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Abort on allocation failure; never return NULL. */
void *dk_malloc(size_t n);
void *dk_calloc(size_t count, size_t n);
void *dk_realloc(void *p, size_t n);
char *dk_strdup(const char *s);
char *dk_strndup(const char *s, size_t n);
void dk_free(void *p);
/* Allocates and formats; caller frees with dk_free. */
char *dk_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct dk_arena;

struct dk_arena *dk_arena_new(void);
void *dk_arena_alloc(struct dk_arena *a, size_t n); /* zeroed, 16-byte aligned */
char *dk_arena_strdup(struct dk_arena *a, const char *s);
char *dk_arena_strndup(struct dk_arena *a, const char *s, size_t n);
char *dk_arena_printf(struct dk_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Runs fn(ptr) when the arena is freed (in reverse order of registration). */
void dk_arena_defer(struct dk_arena *a, void (*fn)(void *), void *ptr);
/* Runs deferred functions, frees everything. NULL is accepted. */
void dk_arena_free(struct dk_arena *a);

/* A growable buffer with a hard maximum; data is always NUL-terminated. */
struct dk_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void dk_buf_init(struct dk_buf *b, size_t max);
/* Returns 0, or DK_ETOOBIG when the maximum would be exceeded (nothing appended). */
int dk_buf_append(struct dk_buf *b, const void *p, size_t n);
int dk_buf_puts(struct dk_buf *b, const char *s);
int dk_buf_printf(struct dk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dk_buf_reset(struct dk_buf *b);
void dk_buf_free(struct dk_buf *b);
/* Hands over the data (caller frees with dk_free) and resets the buffer. */
char *dk_buf_take(struct dk_buf *b, size_t *len);

#endif
