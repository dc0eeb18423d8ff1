/* core/dktime: time helpers (see dktime.h). */
#include "core/dktime.h"
#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t dk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dk_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

char *dk_time_format(int64_t ms, char *out)
{
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    memcpy(out, tmp, DK_TIME_LEN - 1);
    out[DK_TIME_LEN - 1] = '\0';
    return out;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return -1;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int dk_time_parse(const char *s, int64_t *ms)
{
    if (s == NULL) {
        return DK_EINVAL;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d)) {
        return DK_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31) {
        return DK_EINVAL;
    }
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi)) {
            return DK_EINVAL;
        }
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &se)) {
                return DK_EINVAL;
            }
        }
        if (h > 23 || mi > 59 || se > 60) {
            return DK_EINVAL;
        }
        if (*p == '.') {
            p++;
            int n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 3) {
                    frac = frac * 10 + (*p - '0');
                }
                n++;
                p++;
            }
            if (n == 0) {
                return DK_EINVAL;
            }
            for (; n < 3; n++) {
                frac *= 10;
            }
        }
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh, om = 0;
        if (digits(&p, 2, &oh)) {
            return DK_EINVAL;
        }
        if (*p == ':') {
            p++;
        }
        if (isdigit((unsigned char)*p) && digits(&p, 2, &om)) {
            return DK_EINVAL;
        }
        offset_min = sign * (oh * 60 + om);
    }
    if (*p != '\0') {
        return DK_EINVAL;
    }
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)offset_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
}
