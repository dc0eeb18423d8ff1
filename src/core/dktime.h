/*
 * core/dktime: wall-clock and monotonic milliseconds, RFC 3339 formatting and parsing.
 * Times inside direkt are int64_t milliseconds since the Unix epoch, UTC.
 */
#ifndef DK_TIME_H
#define DK_TIME_H

#include <stddef.h>
#include <stdint.h>

#define DK_TIME_LEN 32 /* room for "2026-11-27T01:02:03.456Z" */

int64_t dk_now_ms(void);
int64_t dk_mono_ms(void);
void dk_sleep_ms(int64_t ms);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least DK_TIME_LEN bytes); returns out. */
char *dk_time_format(int64_t ms, char *out);

/* Parses RFC 3339 / ISO 8601 as both databases return it ("2026-11-27T01:02:03.456Z",
 * "2026-11-27 01:02:03.456", "…+00:00", "…+00", date only). Returns 0 or DK_EINVAL. */
int dk_time_parse(const char *s, int64_t *ms);

#endif
