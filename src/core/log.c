/*
 * core/log: the logger (see log.h). Level and format are global, set once at start;
 * the work context is thread-local.
 */
#include "core/log.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum dk_log_level g_level = DK_LOG_INFO;
static bool g_json = false;
static _Thread_local char t_ctx_key[8];
static _Thread_local char t_ctx_id[48];

static const char *level_name(enum dk_log_level l)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    return names[l];
}

int dk_log_configure(const char *spec)
{
    if (spec == NULL || spec[0] == '\0') {
        return 0;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s", spec);
    char *comma = strchr(tmp, ',');
    bool json = false;
    if (comma != NULL) {
        *comma = '\0';
        if (strcmp(comma + 1, "json") == 0) {
            json = true;
        } else if (strcmp(comma + 1, "text") != 0) {
            return DK_EINVAL;
        }
    }
    for (int l = DK_LOG_DEBUG; l <= DK_LOG_OFF; l++) {
        if (strcmp(tmp, level_name((enum dk_log_level)l)) == 0) {
            g_level = (enum dk_log_level)l;
            g_json = json;
            return 0;
        }
    }
    return DK_EINVAL;
}

void dk_log_set_level(enum dk_log_level level)
{
    g_level = level;
}

bool dk_log_enabled(enum dk_log_level level)
{
    return level >= g_level && g_level != DK_LOG_OFF;
}

void dk_log_set_ctx(const char *key, const char *id)
{
    if (key == NULL || id == NULL) {
        t_ctx_key[0] = '\0';
        t_ctx_id[0] = '\0';
        return;
    }
    snprintf(t_ctx_key, sizeof(t_ctx_key), "%s", key);
    snprintf(t_ctx_id, sizeof(t_ctx_id), "%s", id);
}

/* Appends s to out as a JSON string body or a quoted logfmt value (escaping " \ and controls). */
static size_t put_escaped(char *out, size_t pos, size_t cap, const char *s)
{
    for (; *s != '\0' && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

void dk_log(enum dk_log_level level, const char *fmt, ...)
{
    if (!dk_log_enabled(level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    char line[4096];
    size_t pos;
    if (g_json) {
        pos = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\"", when,
                               level_name(level));
        if (t_ctx_key[0] != '\0') {
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ",\"%s\":\"%s\"", t_ctx_key,
                                    t_ctx_id);
        }
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ",\"msg\":\"");
        pos = put_escaped(line, pos, sizeof(line) - 4, msg);
        line[pos++] = '"';
        line[pos++] = '}';
    } else {
        pos = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s", when, level_name(level));
        if (t_ctx_key[0] != '\0') {
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " %s=%s", t_ctx_key, t_ctx_id);
        }
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " msg=\"");
        pos = put_escaped(line, pos, sizeof(line) - 4, msg);
        line[pos++] = '"';
    }
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

void dk_assert_fail(const char *expr, const char *file, int line)
{
    dk_log(DK_LOG_ERROR, "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
