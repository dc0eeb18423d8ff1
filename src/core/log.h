/*
 * core/log: one line per event, key=value (or JSON with DIREKT_LOG=json), to stderr.
 *
 * Each thread has a current-work context (a request id or a job id) that every line carries.
 * Customer text only at debug level; secrets never. Thread-safe: each line is one write().
 */
#ifndef DK_LOG_H
#define DK_LOG_H

#include <stdbool.h>

enum dk_log_level { DK_LOG_DEBUG = 0, DK_LOG_INFO, DK_LOG_WARN, DK_LOG_ERROR, DK_LOG_OFF };

/* Parses "level[,json|,text]" e.g. "debug", "info,json". Returns 0 or DK_EINVAL. */
int dk_log_configure(const char *spec);
void dk_log_set_level(enum dk_log_level level);
bool dk_log_enabled(enum dk_log_level level);

/* Sets this thread's work context, e.g. ("req", "0190…") or ("job", "42"); NULLs clear it. */
void dk_log_set_ctx(const char *key, const char *id);

/* msg follows PostgreSQL style; kv is a preformatted " key=value …" tail or NULL. */
void dk_log(enum dk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define DK_DEBUG(...) dk_log(DK_LOG_DEBUG, __VA_ARGS__)
#define DK_INFO(...)  dk_log(DK_LOG_INFO, __VA_ARGS__)
#define DK_WARN(...)  dk_log(DK_LOG_WARN, __VA_ARGS__)
#define DK_ERROR(...) dk_log(DK_LOG_ERROR, __VA_ARGS__)

/* Invariant check, always compiled: logs and aborts. */
#define DK_ASSERT(cond) ((cond) ? (void)0 : dk_assert_fail(#cond, __FILE__, __LINE__))
void dk_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
