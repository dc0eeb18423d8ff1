/*
 * http/router: the route table. Patterns are split into segments once at start; a request
 * path (raw, still percent-encoded, so that "%2F" inside a parameter does not split it) is
 * matched segment by segment against every route in table order. No path matches: 404; a path
 * matches but no method: 405 with Allow; HEAD falls back to GET. Parameters are decoded only
 * for the chosen route, into the request's scratch space (no allocation).
 */
#include "http/http_int.h"

#include <string.h>

enum http_method http_method_parse(const char *s)
{
    static const struct {
        const char *name;
        enum http_method method;
    } methods[] = {
        {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},         {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
        {"OPTIONS", HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(s, methods[i].name) == 0) {
            return methods[i].method;
        }
    }
    return 0;
}

static const char *method_name(enum http_method m)
{
    static const char *names[] = {"", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    return names[m];
}

static int compile(struct http_croute *cr, const struct http_route *route, struct dk_err *err)
{
    const char *pat = route->pattern;
    if (route->method < HTTP_GET || route->method > HTTP_OPTIONS || route->handler == NULL ||
        pat == NULL || pat[0] != '/') {
        return dk_err_set(err, DK_EINVAL,
                          "invalid route %s: needs a method, a handler and a "
                          "pattern starting with /",
                          pat != NULL ? pat : "(null)");
    }
    cr->route = route;
    cr->max_body = route->max_body != 0 ? route->max_body : HTTP_DEFAULT_MAX_BODY;
    cr->nsegs = 0;
    const char *s = pat + 1;
    if (*s == '\0') {
        return 0;
    }
    size_t nparams = 0;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
        if (cr->nsegs == HTTP_MAX_SEGMENTS) {
            return dk_err_set(err, DK_EINVAL, "invalid route %s: more than %d segments", pat,
                              HTTP_MAX_SEGMENTS);
        }
        struct http_seg *seg = &cr->segs[cr->nsegs++];
        const char *brace = memchr(s, '{', n);
        const char *close = memchr(s, '}', n);
        if (brace == NULL && close == NULL) {
            seg->text = s;
            seg->len = n;
            seg->param = false;
        } else if (brace == s && close == s + n - 1 && n > 2 && memchr(s + 1, '{', n - 2) == NULL) {
            seg->text = s + 1;
            seg->len = n - 2;
            seg->param = true;
            for (size_t i = 0; i + 1 < cr->nsegs; i++) {
                const struct http_seg *o = &cr->segs[i];
                if (o->param && o->len == seg->len && memcmp(o->text, seg->text, o->len) == 0) {
                    return dk_err_set(err, DK_EINVAL, "invalid route %s: parameter %.*s twice", pat,
                                      (int)seg->len, seg->text);
                }
            }
            if (++nparams > HTTP_MAX_PARAMS) {
                return dk_err_set(err, DK_EINVAL, "invalid route %s: more than %d parameters", pat,
                                  HTTP_MAX_PARAMS);
            }
        } else {
            return dk_err_set(err, DK_EINVAL,
                              "invalid route %s: a parameter must be a whole segment {name}", pat);
        }
        if (slash == NULL) {
            return 0;
        }
        s = slash + 1;
    }
}

int http_router_init(struct http_router *r, const struct http_route *routes, size_t nroutes,
                     struct dk_err *err)
{
    r->routes = dk_calloc(nroutes, sizeof(*r->routes));
    r->nroutes = nroutes;
    for (size_t i = 0; i < nroutes; i++) {
        int rc = compile(&r->routes[i], &routes[i], err);
        if (rc != 0) {
            http_router_free(r);
            return rc;
        }
    }
    return 0;
}

void http_router_free(struct http_router *r)
{
    dk_free(r->routes);
    r->routes = NULL;
    r->nroutes = 0;
}

/* Matches a raw path against a compiled route; fills the raw parameter values when asked.
 * "/" has no segments, "/a" one, "/a/" two (the last one empty). */
static bool match_path(const struct http_croute *cr, const char *path, size_t len,
                       const char **vals, size_t *val_lens)
{
    if (len == 0 || path[0] != '/') {
        return false;
    }
    const char *s = path + 1;
    const char *end = path + len;
    if (s == end) {
        return cr->nsegs == 0;
    }
    size_t np = 0;
    for (size_t i = 0;; i++) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *seg_end = slash != NULL ? slash : end;
        size_t n = (size_t)(seg_end - s);
        if (i >= cr->nsegs) {
            return false;
        }
        const struct http_seg *seg = &cr->segs[i];
        if (seg->param) {
            if (n == 0) {
                return false;
            }
            if (vals != NULL) {
                vals[np] = s;
                val_lens[np] = n;
            }
            np++;
        } else if (n != seg->len || memcmp(s, seg->text, n) != 0) {
            return false;
        }
        if (slash == NULL) {
            return i + 1 == cr->nsegs;
        }
        s = slash + 1;
    }
}

static void format_allow(unsigned mask, char *allow)
{
    size_t pos = 0;
    allow[0] = '\0';
    if (mask & (1u << HTTP_GET)) {
        mask |= 1u << HTTP_HEAD;
    }
    for (int m = HTTP_GET; m <= HTTP_OPTIONS; m++) {
        if (mask & (1u << m)) {
            const char *name = method_name((enum http_method)m);
            size_t n = strlen(name);
            /* 7 methods of at most 7 chars plus ", " fit HTTP_ALLOW_SIZE */
            if (pos != 0) {
                memcpy(allow + pos, ", ", 2);
                pos += 2;
            }
            memcpy(allow + pos, name, n);
            pos += n;
            allow[pos] = '\0';
        }
    }
}

enum http_match http_router_match(const struct http_router *r, enum http_method method,
                                  const char *path, size_t path_len, const struct http_croute **out,
                                  char *allow)
{
    const struct http_croute *fallback = NULL;
    unsigned mask = 0;
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct http_croute *cr = &r->routes[i];
        if (!match_path(cr, path, path_len, NULL, NULL)) {
            continue;
        }
        if (cr->route->method == method) {
            *out = cr;
            return HTTP_MATCH_OK;
        }
        if (method == HTTP_HEAD && cr->route->method == HTTP_GET && fallback == NULL) {
            fallback = cr;
        }
        mask |= 1u << cr->route->method;
    }
    if (fallback != NULL) {
        *out = fallback;
        return HTTP_MATCH_OK;
    }
    if (mask == 0) {
        return HTTP_MATCH_NOT_FOUND;
    }
    format_allow(mask, allow);
    return HTTP_MATCH_BAD_METHOD;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes %XX into out (room for n + 1); returns the decoded length or -1. */
static long decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n) {
            return -1;
        }
        int h = hex_value(s[i + 1]);
        int l = hex_value(s[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
            return -1; /* an invalid escape, or an encoded NUL that C strings cannot carry */
        }
        out[o++] = (char)(h * 16 + l);
        i += 2;
    }
    out[o] = '\0';
    return (long)o;
}

int http_router_params(struct http_req *req, struct dk_err *err)
{
    const struct http_croute *cr = req->route;
    const char *vals[HTTP_MAX_PARAMS];
    size_t lens[HTTP_MAX_PARAMS];
    req->nparams = 0;
    if (!match_path(cr, req->path, req->path_len, vals, lens)) {
        return 0;
    }
    /* each parameter follows a '/', so the decoded values and their NULs fit in path_len */
    char *out = req->scratch;
    size_t np = 0;
    for (size_t i = 0; i < cr->nsegs; i++) {
        const struct http_seg *seg = &cr->segs[i];
        if (!seg->param) {
            continue;
        }
        long n = decode(vals[np], lens[np], out);
        if (n < 0) {
            return dk_err_set(err, DK_EINVAL, "invalid path parameter %.*s: bad percent-encoding",
                              (int)seg->len, seg->text);
        }
        req->params[np].name = seg->text;
        req->params[np].name_len = seg->len;
        req->params[np].value = out;
        out += n + 1;
        np++;
    }
    req->nparams = np;
    return 0;
}
