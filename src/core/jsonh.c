/* core/jsonh: jansson helpers (see jsonh.h). */
#include "core/jsonh.h"

#include <stdlib.h>
#include <string.h>

/* Scans raw JSON text for nesting depth outside strings; true when within max. */
static bool depth_ok(const char *s, size_t len, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

json_t *dk_json_parse(const char *data, size_t len, int max_depth, struct dk_err *err)
{
    if (data == NULL || len == 0) {
        dk_err_set(err, DK_EINVAL, "malformed json: empty body");
        return NULL;
    }
    if (!depth_ok(data, len, max_depth)) {
        dk_err_set(err, DK_EINVAL, "malformed json: nested deeper than %d levels", max_depth);
        return NULL;
    }
    json_error_t je;
    json_t *j =
        json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (j == NULL) {
        dk_err_set(err, DK_EINVAL, "malformed json at line %d column %d: %s", je.line, je.column,
                   je.text);
        return NULL;
    }
    return j;
}

const char *dk_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool dk_json_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9.2e18 && d <= 9.2e18)) {
            return false;
        }
        *out = (int64_t)d;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s == '\0' || strlen(s) > 18) { /* 18 digits cannot overflow int64_t */
            return false;
        }
        int64_t n = 0;
        for (const char *p = s; *p; p++) {
            if (*p < '0' || *p > '9') {
                return false;
            }
            n = n * 10 + (*p - '0');
        }
        *out = n;
        return true;
    }
    return false;
}

bool dk_json_bool(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

char *dk_json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    if (s == NULL) {
        return dk_strdup("null");
    }
    char *r = dk_strdup(s);
    free(s);
    return r;
}

char *dk_json_dump_arena(struct dk_arena *a, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return dk_arena_strdup(a, "null");
    }
    char *r = dk_arena_strdup(a, s);
    free(s);
    return r;
}

static void decref(void *p)
{
    json_decref(p);
}

json_t *dk_json_arena(struct dk_arena *a, json_t *j)
{
    if (j != NULL) {
        dk_arena_defer(a, decref, j);
    }
    return j;
}

int dk_json_put_string(struct dk_buf *b, const char *s)
{
    if (s == NULL) {
        return dk_buf_append(b, "null", 4);
    }
    static const char hex[] = "0123456789abcdef";
    int rc = dk_buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        rc = dk_buf_append(b, run, (size_t)(p - run));
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t n = 2;
        if (ch == '\n') {
            esc[1] = 'n';
        } else if (ch == '\r') {
            esc[1] = 'r';
        } else if (ch == '\t') {
            esc[1] = 't';
        } else if (ch < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        if (rc == 0) {
            rc = dk_buf_append(b, esc, n);
        }
        run = p + 1;
    }
    if (rc == 0) {
        rc = dk_buf_append(b, run, strlen(run));
    }
    if (rc == 0) {
        rc = dk_buf_append(b, "\"", 1);
    }
    return rc;
}
