/*
 * store/repo_util: helpers shared by the repositories: rows as typed JSON, timestamps,
 * paging cursors.
 */
#include "store/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"

const char *store_ts(int64_t ms, char *out)
{
    return dk_time_format(ms, out);
}

static json_t *typed_value(const char *v, char type)
{
    if (v == NULL) {
        return json_null();
    }
    switch (type) {
    case 'i': {
        char *end;
        long long n = strtoll(v, &end, 10);
        return *end == '\0' ? json_integer(n) : json_string(v);
    }
    case 'f': {
        char *end;
        double d = strtod(v, &end);
        return *end == '\0' ? json_real(d) : json_null();
    }
    case 'b':
        return json_boolean(strcmp(v, "1") == 0 || strcmp(v, "t") == 0 || strcmp(v, "true") == 0);
    case 't': {
        int64_t ms;
        char buf[DK_TIME_LEN];
        if (dk_time_parse(v, &ms) == 0) {
            return json_string(dk_time_format(ms, buf));
        }
        return json_string(v);
    }
    case 'j': {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j != NULL ? j : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *store_row_json(const struct store_res *r, size_t row, const char *spec)
{
    json_t *obj = json_object();
    const char *p = spec;
    size_t col = 0;
    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        const char *colon = strchr(p, ':');
        if (colon == NULL) {
            break;
        }
        char name[64];
        size_t n = (size_t)(colon - p);
        if (n >= sizeof(name)) {
            n = sizeof(name) - 1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        char type = colon[1];
        json_object_set_new(obj, name, typed_value(store_res_get(r, row, col), type));
        col++;
        p = colon + 2;
    }
    return obj;
}

char *store_cursor_make(const char *ts, const char *id)
{
    int64_t ms = 0;
    if (dk_time_parse(ts, &ms) != 0) {
        ms = 0;
    }
    return dk_asprintf("%lld~%s", (long long)ms, id);
}

int store_cursor_parse(const char *cursor, char **ts, char **id, struct dk_err *err)
{
    const char *tilde = strchr(cursor, '~');
    if (tilde == NULL || tilde == cursor || tilde[1] == '\0' || strlen(tilde + 1) > 64) {
        return dk_err_set(err, DK_EUNPROCESS, "invalid cursor");
    }
    char *end;
    long long ms = strtoll(cursor, &end, 10);
    if (end != tilde || ms < 0 || ms >= 253402300800000LL) { /* before year 10000 */
        return dk_err_set(err, DK_EUNPROCESS, "invalid cursor");
    }
    if (!store_is_uuid(tilde + 1)) {
        return dk_err_set(err, DK_EUNPROCESS, "invalid cursor");
    }
    char buf[DK_TIME_LEN];
    *ts = dk_strdup(dk_time_format(ms, buf));
    *id = dk_strdup(tilde + 1);
    return 0;
}

bool store_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-') {
                return false;
            }
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F'))) {
            return false;
        }
    }
    return true;
}
