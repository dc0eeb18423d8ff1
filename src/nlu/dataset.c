/*
 * nlu/dataset: labelled examples in memory and the loaders of training files.
 *
 * A file is read whole (bounded by NLU_DATASET_MAX_BYTES) and its format is told by its
 * content: '[' a JSON array, '{' JSONL or (when the first line is not an example) a JSON
 * object of named splits, a first line with a tab a TSV file, anything else CSV with a header.
 * Every example is checked (UTF-8, sizes) and every error names the file and the line (or the
 * item of a JSON array).
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/jsonh.h"

void nlu_dataset_init(struct nlu_dataset *d)
{
    d->v = NULL;
    d->n = 0;
    d->cap = 0;
}

void nlu_dataset_free(struct nlu_dataset *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        dk_free(d->v[i].text);
        dk_free(d->v[i].label);
    }
    dk_free(d->v);
    nlu_dataset_init(d);
}

static int add_n(struct nlu_dataset *d, const char *text, size_t tlen, const char *label,
                 size_t llen, struct dk_err *err)
{
    struct dk_err e;
    if (llen == 0) {
        return dk_err_set(err, DK_EINVAL, "empty label");
    }
    if (llen > NLU_LABEL_MAX) {
        return dk_err_set(err, DK_EINVAL, "label longer than %u bytes", NLU_LABEL_MAX);
    }
    if (tlen > NLU_MAX_TEXT) {
        return dk_err_set(err, DK_ETOOBIG, "text longer than %d bytes", NLU_MAX_TEXT);
    }
    if (nlu_utf8_check(label, llen, &e) < 0) {
        return dk_err_set(err, DK_EINVAL, "label: %s", e.msg);
    }
    if (nlu_utf8_check(text, tlen, &e) < 0) {
        return dk_err_set(err, DK_EINVAL, "text: %s", e.msg);
    }
    if (d->n >= NLU_DATASET_MAX_EXAMPLES) {
        return dk_err_set(err, DK_ETOOBIG, "more than %u examples", NLU_DATASET_MAX_EXAMPLES);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->v = dk_realloc(d->v, d->cap * sizeof(*d->v));
    }
    d->v[d->n].text = dk_strndup(text, tlen);
    d->v[d->n].label = dk_strndup(label, llen);
    d->n++;
    return 0;
}

int nlu_dataset_add(struct nlu_dataset *d, const char *text, const char *label, struct dk_err *err)
{
    if (text == NULL || label == NULL) {
        return dk_err_set(err, DK_EINVAL, "missing text or label");
    }
    return add_n(d, text, strlen(text), label, strlen(label), err);
}

/* ---- JSON ---- */

/* Adds one JSON item ({"text", "label"|"intent"} or [text, label]); what names it in errors. */
static int add_json_item(struct nlu_dataset *d, const json_t *it, const char *name,
                         const char *what, struct dk_err *err)
{
    const json_t *t = NULL;
    const json_t *l = NULL;
    struct dk_err e;
    if (json_is_object(it)) {
        t = json_object_get(it, "text");
        l = json_object_get(it, "label");
        if (l == NULL) {
            l = json_object_get(it, "intent");
        }
    } else if (json_is_array(it) && json_array_size(it) == 2) {
        t = json_array_get(it, 0);
        l = json_array_get(it, 1);
    } else {
        return dk_err_set(err, DK_EINVAL,
                          "%s: %s: expected an object with text and label or a [text, label] pair",
                          name, what);
    }
    if (!json_is_string(t)) {
        return dk_err_set(err, DK_EINVAL, "%s: %s: missing or non-string \"text\"", name, what);
    }
    if (!json_is_string(l)) {
        return dk_err_set(err, DK_EINVAL, "%s: %s: missing or non-string \"label\"", name, what);
    }
    if (add_n(d, json_string_value(t), json_string_length(t), json_string_value(l),
              json_string_length(l), &e) < 0) {
        return dk_err_set(err, e.code, "%s: %s: %s", name, what, e.msg);
    }
    return 0;
}

static int add_json_array(struct nlu_dataset *d, const json_t *arr, const char *name,
                          const char *split, struct dk_err *err)
{
    size_t i;
    const json_t *it;
    char what[160];
    json_array_foreach(arr, i, it)
    {
        if (split != NULL) {
            snprintf(what, sizeof(what), "split %s item %zu", split, i + 1);
        } else {
            snprintf(what, sizeof(what), "item %zu", i + 1);
        }
        int rc = add_json_item(d, it, name, what, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int parse_json(const char *name, const char *data, size_t len, const char *split,
                      struct nlu_dataset *d, struct dk_err *err)
{
    struct dk_err e;
    json_t *root = dk_json_parse(data, len, 8, &e);
    if (root == NULL) {
        return dk_err_set(err, DK_EINVAL, "%s: %s", name, e.msg);
    }
    int rc = 0;
    if (json_is_array(root)) {
        if (split != NULL) {
            rc = dk_err_set(err, DK_EINVAL, "%s: a JSON array has no split \"%s\"", name, split);
        } else {
            rc = add_json_array(d, root, name, NULL, err);
        }
    } else if (!json_is_object(root)) {
        rc = dk_err_set(err, DK_EINVAL, "%s: expected a JSON array or object", name);
    } else if (split == NULL) {
        char names[256] = "";
        const char *key;
        const json_t *val;
        size_t used = 0;
        json_object_foreach(root, key, val)
        {
            int k = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "", key);
            if (k < 0 || (size_t)k >= sizeof(names) - used) {
                break;
            }
            used += (size_t)k;
        }
        rc = dk_err_set(err, DK_EINVAL,
                        "%s: a JSON object of splits: choose them with %s#split1+split2 "
                        "(splits: %s)",
                        name, name, names);
    } else {
        /* split = "a+b+c" */
        const char *p = split;
        while (rc == 0) {
            const char *plus = strchr(p, '+');
            size_t n = plus ? (size_t)(plus - p) : strlen(p);
            char sname[128];
            if (n == 0 || n >= sizeof(sname)) {
                rc = dk_err_set(err, DK_EINVAL, "%s: bad split name in \"%s\"", name, split);
                break;
            }
            memcpy(sname, p, n);
            sname[n] = '\0';
            const json_t *arr = json_object_get(root, sname);
            if (!json_is_array(arr)) {
                rc = dk_err_set(err, DK_EINVAL, "%s: no split \"%s\" (an array) in the file", name,
                                sname);
                break;
            }
            rc = add_json_array(d, arr, name, sname, err);
            if (plus == NULL) {
                break;
            }
            p = plus + 1;
        }
    }
    json_decref(root);
    return rc;
}

static int parse_jsonl(const char *name, const char *data, size_t len, struct nlu_dataset *d,
                       struct dk_err *err)
{
    size_t line = 0;
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - data) : len;
        line++;
        size_t s = off;
        while (s < end && (data[s] == ' ' || data[s] == '\t' || data[s] == '\r')) {
            s++;
        }
        if (s < end) {
            struct dk_err e;
            char what[64];
            snprintf(what, sizeof(what), "line %zu", line);
            json_t *it = dk_json_parse(data + s, end - s, 4, &e);
            if (it == NULL) {
                return dk_err_set(err, DK_EINVAL, "%s: line %zu: %s", name, line, e.msg);
            }
            if (!json_is_object(it)) {
                json_decref(it);
                return dk_err_set(err, DK_EINVAL, "%s: line %zu: expected a JSON object", name,
                                  line);
            }
            int rc = add_json_item(d, it, name, what, err);
            json_decref(it);
            if (rc < 0) {
                return rc;
            }
        }
        off = end + 1;
    }
    return 0;
}

/* ---- CSV (RFC 4180) and TSV ---- */

struct field {
    size_t start; /* into the unquoted buffer */
    size_t len;
};

#define MAX_FIELDS 64

/* Reads one CSV record from data[*off..len) into buf (unquoted field bytes) and f[]. Returns
 * the number of fields (0 for a blank line), or a negative code. *line advances by the lines
 * consumed; the record's first line is left in *first. */
static int csv_record(const char *name, const char *data, size_t len, size_t *off, char sep,
                      bool quoting, struct dk_buf *buf, struct field *f, size_t *line,
                      size_t *first, struct dk_err *err)
{
    size_t i = *off;
    size_t nf = 0;
    dk_buf_reset(buf);
    *first = *line;
    if (i < len && (data[i] == '\n' || (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))) {
        *off = i + (data[i] == '\r' ? 2 : 1);
        (*line)++;
        return 0;
    }
    for (;;) {
        if (nf == MAX_FIELDS) {
            return dk_err_set(err, DK_EINVAL, "%s: line %zu: more than %d fields", name, *first,
                              MAX_FIELDS);
        }
        f[nf].start = buf->len;
        if (quoting && i < len && data[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    return dk_err_set(err, DK_EINVAL, "%s: line %zu: unterminated quoted field",
                                      name, *first);
                }
                if (data[i] == '"') {
                    if (i + 1 < len && data[i + 1] == '"') {
                        i += 2;
                        if (dk_buf_append(buf, "\"", 1) < 0) {
                            goto toobig;
                        }
                        continue;
                    }
                    i++;
                    break;
                }
                if (data[i] == '\n') {
                    (*line)++;
                }
                if (dk_buf_append(buf, data + i, 1) < 0) {
                    goto toobig;
                }
                i++;
            }
            if (i < len && data[i] != sep && data[i] != '\n' &&
                !(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')) {
                return dk_err_set(err, DK_EINVAL,
                                  "%s: line %zu: unexpected character after a closing quote", name,
                                  *line);
            }
        } else {
            size_t s = i;
            while (i < len && data[i] != sep && data[i] != '\n') {
                i++;
            }
            size_t e = i;
            if (e > s && data[e - 1] == '\r' && (e == len || data[e] == '\n')) {
                e--;
            }
            if (dk_buf_append(buf, data + s, e - s) < 0) {
                goto toobig;
            }
        }
        f[nf].len = buf->len - f[nf].start;
        nf++;
        if (i < len && data[i] == sep) {
            i++;
            continue;
        }
        if (i < len && data[i] == '\r') {
            i++;
        }
        if (i < len && data[i] == '\n') {
            i++;
        }
        (*line)++;
        break;
    }
    *off = i;
    return (int)nf;
toobig:
    return dk_err_set(err, DK_ETOOBIG, "%s: line %zu: record longer than %zu bytes", name, *first,
                      buf->max);
}

static bool field_is(const char *buf, const struct field *f, const char *word)
{
    size_t s = f->start;
    size_t n = f->len;
    while (n > 0 && (buf[s] == ' ' || buf[s] == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (buf[s + n - 1] == ' ' || buf[s + n - 1] == '\t')) {
        n--;
    }
    return n == strlen(word) && strncasecmp(buf + s, word, n) == 0;
}

/* TSV fields of the SemEval shape may come wrapped in quotes with doubled quotes inside. */
static size_t unquote_inplace(char *s, size_t n)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"') {
        return n;
    }
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        s[o++] = s[i];
        if (s[i] == '"' && i + 2 < n && s[i + 1] == '"') {
            i++;
        }
    }
    return o;
}

static int parse_delimited(const char *name, const char *data, size_t len, char sep,
                           struct nlu_dataset *d, struct dk_err *err)
{
    struct dk_buf buf;
    struct field f[MAX_FIELDS];
    size_t off = 0;
    size_t line = 1;
    size_t first = 1;
    bool quoting = sep == ',';
    long text_col = -1;
    long label_col = -1;
    int ncols = 0;
    int rc = 0;
    dk_buf_init(&buf, (size_t)NLU_MAX_TEXT * 2 + 4096);
    /* header (CSV always; TSV when its first line names text and label) */
    int nf = csv_record(name, data, len, &off, sep, quoting, &buf, f, &line, &first, err);
    if (nf < 0) {
        rc = nf;
        goto out;
    }
    for (int i = 0; i < nf; i++) {
        if (field_is(buf.data, &f[i], "text")) {
            text_col = i;
        } else if (field_is(buf.data, &f[i], "label") ||
                   (label_col < 0 && field_is(buf.data, &f[i], "intent"))) {
            label_col = i;
        }
    }
    if (text_col >= 0 && label_col >= 0) {
        ncols = nf;
    } else if (sep == '\t') {
        /* SemEval shape, no header: id<TAB>label<TAB>text[<TAB>…] */
        off = 0;
        line = 1;
        text_col = 2;
        label_col = 1;
        ncols = 0;
    } else {
        rc = dk_err_set(err, DK_EINVAL,
                        "%s: line 1: the header needs \"text\" and \"label\" columns", name);
        goto out;
    }
    while (off < len) {
        nf = csv_record(name, data, len, &off, sep, quoting, &buf, f, &line, &first, err);
        if (nf < 0) {
            rc = nf;
            goto out;
        }
        if (nf == 0) {
            continue;
        }
        if (ncols > 0 && nf != ncols) {
            rc = dk_err_set(err, DK_EINVAL, "%s: line %zu: %d fields where the header has %d", name,
                            first, nf, ncols);
            goto out;
        }
        if (nf <= text_col || nf <= label_col) {
            rc = dk_err_set(err, DK_EINVAL, "%s: line %zu: %d fields, expected id, label and text",
                            name, first, nf);
            goto out;
        }
        char *t = buf.data + f[text_col].start;
        size_t tl = f[text_col].len;
        if (!quoting) {
            tl = unquote_inplace(t, tl);
        }
        struct dk_err e;
        if (add_n(d, t, tl, buf.data + f[label_col].start, f[label_col].len, &e) < 0) {
            rc = dk_err_set(err, e.code, "%s: line %zu: %s", name, first, e.msg);
            goto out;
        }
    }
out:
    dk_buf_free(&buf);
    return rc;
}

/* ---- entry points ---- */

int nlu_dataset_parse_split(const char *name, const char *data, size_t len, const char *split,
                            struct nlu_dataset *d, struct dk_err *err)
{
    size_t before = d->n;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    size_t s = 0;
    while (s < len && (data[s] == ' ' || data[s] == '\t' || data[s] == '\r' || data[s] == '\n')) {
        s++;
    }
    if (s == len) {
        return dk_err_set(err, DK_EINVAL, "%s: line 1: empty file", name);
    }
    int rc;
    if (split != NULL || data[s] == '[') {
        rc = parse_json(name, data, len, split, d, err);
    } else if (data[s] == '{') {
        /* JSONL when the first line is an example; else one object of splits */
        const char *nl = memchr(data + s, '\n', len - s);
        size_t end = nl ? (size_t)(nl - data) : len;
        json_t *first = dk_json_parse(data + s, end - s, 4, NULL);
        bool jsonl = json_is_object(first) && json_object_get(first, "text") != NULL;
        json_decref(first);
        rc = jsonl ? parse_jsonl(name, data, len, d, err)
                   : parse_json(name, data, len, NULL, d, err);
    } else {
        const char *nl = memchr(data, '\n', len);
        size_t end = nl ? (size_t)(nl - data) : len;
        bool tab = memchr(data, '\t', end) != NULL;
        rc = parse_delimited(name, data, len, tab ? '\t' : ',', d, err);
    }
    if (rc == 0 && d->n == before) {
        rc = dk_err_set(err, DK_EINVAL, "%s: no examples", name);
    }
    if (rc < 0) {
        /* all or nothing: drop what this file added */
        for (size_t i = before; i < d->n; i++) {
            dk_free(d->v[i].text);
            dk_free(d->v[i].label);
        }
        d->n = before;
    }
    return rc;
}

int nlu_dataset_load(const char *spec, struct nlu_dataset *d, struct dk_err *err)
{
    char path[4096];
    const char *hash = strrchr(spec, '#');
    const char *split = NULL;
    size_t plen = hash ? (size_t)(hash - spec) : strlen(spec);
    if (plen == 0 || plen >= sizeof(path)) {
        return dk_err_set(err, DK_EINVAL, "bad dataset path \"%.200s\"", spec);
    }
    memcpy(path, spec, plen);
    path[plen] = '\0';
    if (hash != NULL) {
        split = hash + 1;
    }
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return dk_err_set(err, errno == ENOENT ? DK_ENOTFOUND : DK_EIO, "could not open %s: %s",
                          path, strerror(errno));
    }
    struct dk_buf b;
    dk_buf_init(&b, NLU_DATASET_MAX_BYTES);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), fp);
        if (n > 0 && dk_buf_append(&b, chunk, n) < 0) {
            rc = dk_err_set(err, DK_ETOOBIG, "%s: larger than %u bytes", path,
                            NLU_DATASET_MAX_BYTES);
            break;
        }
        if (n < sizeof(chunk)) {
            if (ferror(fp)) {
                rc = dk_err_set(err, DK_EIO, "could not read %s: %s", path, strerror(errno));
            }
            break;
        }
    }
    fclose(fp);
    if (rc == 0) {
        rc = nlu_dataset_parse_split(path, b.data ? b.data : "", b.len, split, d, err);
    }
    dk_buf_free(&b);
    return rc;
}

int nlu_dataset_parse(const char *data, size_t len, const char *origin, struct nlu_dataset *d,
                      struct dk_err *err)
{
    return nlu_dataset_parse_split(origin ? origin : "(memory)", data ? data : "", data ? len : 0,
                                   NULL, d, err);
}
