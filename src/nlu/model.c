/*
 * nlu/model: the model in memory and its versioned binary file.
 *
 * File (little-endian): "DKNLUMOD", u32 version, u64 total length, the task and the feature
 * configuration, calibration (temperature, out-of-scope threshold), labels, the rows (bucket,
 * group, idf), the weights (float32 or int8 with a scale per row), the biases, and the raw
 * SHA-256 of everything before it. The reader checks magic, version, length and checksum
 * before it parses, then every count and value against limits, so a foreign, truncated,
 * corrupt or newer file gets a clear DK_EINVAL and never a large allocation.
 */
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"

#define MAGIC           "DKNLUMOD"
#define VERSION         1u
#define HEADER_LEN      (8 + 4 + 8)
#define DIGEST_LEN      32
#define MAX_LABELS      4096u
#define MAX_FILE        (1024u << 20)
#define MAX_TEMPERATURE 100.0f

void nlu_model_free(struct nlu_model *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->nlabels; i++) {
        dk_free(m->labels[i]);
    }
    dk_free(m->labels);
    dk_free(m->buckets);
    dk_free(m->groups);
    dk_free(m->idf);
    dk_free(m->w);
    dk_free(m->wq);
    dk_free(m->wscale);
    dk_free(m->bias);
    dk_free(m->tab);
    dk_free(m);
}

enum nlu_task nlu_model_task(const struct nlu_model *m)
{
    return (enum nlu_task)m->task;
}

size_t nlu_model_nlabels(const struct nlu_model *m)
{
    return m->nlabels;
}

const char *nlu_model_label(const struct nlu_model *m, size_t i)
{
    return i < m->nlabels ? m->labels[i] : NULL;
}

size_t nlu_model_bytes(const struct nlu_model *m)
{
    size_t b = sizeof(*m) + m->nlabels * (sizeof(char *) + sizeof(float));
    for (size_t i = 0; i < m->nlabels; i++) {
        b += strlen(m->labels[i]) + 1;
    }
    b += m->nrows * (sizeof(uint32_t) + 1 + sizeof(float));
    if (m->wfmt == NLU_WF_F32) {
        b += m->nrows * m->nlabels * sizeof(float);
    } else {
        b += m->nrows * (m->nlabels + sizeof(float));
    }
    b += ((size_t)m->tab_mask + 1) * sizeof(*m->tab);
    return b;
}

void nlu_model_index(struct nlu_model *m)
{
    size_t size = 16;
    while (size < m->nrows * 2) {
        size *= 2;
    }
    dk_free(m->tab);
    m->tab = dk_calloc(size, sizeof(*m->tab));
    m->tab_mask = (uint32_t)(size - 1);
    for (size_t r = 0; r < m->nrows; r++) {
        uint32_t key = m->buckets[r] + 1u;
        uint32_t i = (key * 0x9e3779b1u) & m->tab_mask;
        while (m->tab[i].key != 0) {
            i = (i + 1) & m->tab_mask;
        }
        m->tab[i].key = key;
        m->tab[i].row = (uint32_t)r;
    }
}

void nlu_model_quantize(struct nlu_model *m)
{
    if (m->wfmt != NLU_WF_F32) {
        return;
    }
    size_t k = m->nlabels;
    m->wq = dk_malloc(m->nrows * k);
    m->wscale = dk_malloc(m->nrows * sizeof(float));
    for (size_t r = 0; r < m->nrows; r++) {
        const float *w = m->w + r * k;
        float mx = 0.0f;
        for (size_t j = 0; j < k; j++) {
            mx = fmaxf(mx, fabsf(w[j]));
        }
        float scale = mx > 0.0f ? mx / 127.0f : 1.0f;
        m->wscale[r] = scale;
        for (size_t j = 0; j < k; j++) {
            m->wq[r * k + j] = (int8_t)lrintf(w[j] / scale);
        }
    }
    dk_free(m->w);
    m->w = NULL;
    m->wfmt = NLU_WF_I8;
}

static bool finite_all(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return false;
        }
    }
    return true;
}

int nlu_model_check(const struct nlu_model *m, struct dk_err *err)
{
    const struct nlu_featcfg *c = &m->cfg;
    if (m->task > NLU_TASK_SENTIMENT) {
        return dk_err_set(err, DK_EINVAL, "unknown task %u", m->task);
    }
    if (c->hash_bits < NLU_HASH_BITS_MIN || c->hash_bits > NLU_HASH_BITS_MAX) {
        return dk_err_set(err, DK_EINVAL, "hash bits %u out of range", c->hash_bits);
    }
    if (c->char_max > 8 || (c->char_max > 0 && (c->char_min < 1 || c->char_min > c->char_max))) {
        return dk_err_set(err, DK_EINVAL, "bad character n-gram range %u..%u", c->char_min,
                          c->char_max);
    }
    if ((c->flags & ~NLU_FEAT_ALL) != 0 || c->sublinear > 1) {
        return dk_err_set(err, DK_EINVAL, "unknown feature flags");
    }
    for (int g = 0; g < NLU_FG_COUNT; g++) {
        if (!isfinite(c->group_w[g]) || c->group_w[g] < 0.0f || c->group_w[g] > 1000.0f) {
            return dk_err_set(err, DK_EINVAL, "bad feature group weight");
        }
    }
    if (m->nlabels < 1 || m->nlabels > MAX_LABELS) {
        return dk_err_set(err, DK_EINVAL, "%zu labels (1 to %u allowed)", m->nlabels, MAX_LABELS);
    }
    if (m->oos > m->nlabels) {
        return dk_err_set(err, DK_EINVAL, "out-of-scope label index out of range");
    }
    for (size_t i = 0; i < m->nlabels; i++) {
        bool is_oos = strcmp(m->labels[i], NLU_OOS_LABEL) == 0;
        if (is_oos != (i == m->oos)) {
            return dk_err_set(err, DK_EINVAL, "out-of-scope label index does not match labels");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->labels[i], m->labels[j]) == 0) {
                return dk_err_set(err, DK_EINVAL, "duplicate label \"%s\"", m->labels[i]);
            }
        }
    }
    if (!isfinite(m->temperature) || m->temperature <= 0.0f || m->temperature > MAX_TEMPERATURE) {
        return dk_err_set(err, DK_EINVAL, "bad temperature");
    }
    if (!isfinite(m->oos_threshold) || m->oos_threshold < 0.0f || m->oos_threshold > 1.0f) {
        return dk_err_set(err, DK_EINVAL, "bad out-of-scope threshold");
    }
    uint32_t hashed = 1u << c->hash_bits;
    for (size_t r = 0; r < m->nrows; r++) {
        uint32_t b = m->buckets[r];
        if (r > 0 && b <= m->buckets[r - 1]) {
            return dk_err_set(err, DK_EINVAL, "feature rows out of order");
        }
        if (b >= hashed + NLU_LEX_NFEAT) {
            return dk_err_set(err, DK_EINVAL, "feature bucket out of range");
        }
        if ((b >= hashed) != (m->groups[r] == NLU_FG_DENSE) || m->groups[r] >= NLU_FG_COUNT) {
            return dk_err_set(err, DK_EINVAL, "bad feature group");
        }
    }
    if (!finite_all(m->idf, m->nrows) || !finite_all(m->bias, m->nlabels)) {
        return dk_err_set(err, DK_EINVAL, "non-finite weights");
    }
    if (m->wfmt == NLU_WF_F32 ? !finite_all(m->w, m->nrows * m->nlabels)
                              : !finite_all(m->wscale, m->nrows)) {
        return dk_err_set(err, DK_EINVAL, "non-finite weights");
    }
    return 0;
}

/* ---- writing ---- */

static void put(struct dk_buf *b, const void *p, size_t n, int *rc)
{
    if (*rc == 0 && dk_buf_append(b, p, n) < 0) {
        *rc = DK_ETOOBIG;
    }
}

static void put_u32(struct dk_buf *b, uint32_t v, int *rc)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4, rc);
}

static void put_f32s(struct dk_buf *b, const float *v, size_t n, int *rc)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(b, u, rc);
    }
}

static void digest(const void *data, size_t len, unsigned char out[DIGEST_LEN])
{
    char hex[DK_SHA256_HEX];
    dk_sha256_hex(data, len, hex);
    for (int i = 0; i < DIGEST_LEN; i++) {
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo =
            (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
}

int nlu_model_save_mem(const struct nlu_model *m, struct dk_buf *out, struct dk_err *err)
{
    int rc = 0;
    size_t base = out->len;
    put(out, MAGIC, 8, &rc);
    put_u32(out, VERSION, &rc);
    put_u32(out, 0, &rc); /* total length, patched below */
    put_u32(out, 0, &rc);
    put_u32(out, m->task, &rc);
    const struct nlu_featcfg *c = &m->cfg;
    unsigned char cfgb[8] = {c->hash_bits, c->char_min, c->char_max, c->flags,
                             c->sublinear, c->min_df,   m->wfmt,     0};
    put(out, cfgb, 8, &rc);
    put_f32s(out, c->group_w, NLU_FG_COUNT, &rc);
    put_f32s(out, &m->temperature, 1, &rc);
    put_f32s(out, &m->oos_threshold, 1, &rc);
    put_u32(out, (uint32_t)m->nlabels, &rc);
    put_u32(out, (uint32_t)m->oos, &rc);
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t n = strlen(m->labels[i]);
        put_u32(out, (uint32_t)n, &rc);
        put(out, m->labels[i], n, &rc);
    }
    put_u32(out, (uint32_t)m->nrows, &rc);
    for (size_t r = 0; r < m->nrows && rc == 0; r++) {
        put_u32(out, m->buckets[r], &rc);
    }
    put(out, m->groups, m->nrows, &rc);
    put_f32s(out, m->idf, m->nrows, &rc);
    if (m->wfmt == NLU_WF_F32) {
        put_f32s(out, m->w, m->nrows * m->nlabels, &rc);
    } else {
        put_f32s(out, m->wscale, m->nrows, &rc);
        put(out, m->wq, m->nrows * m->nlabels, &rc);
    }
    put_f32s(out, m->bias, m->nlabels, &rc);
    if (rc == 0) {
        uint64_t total = out->len - base + DIGEST_LEN;
        for (int i = 0; i < 8; i++) {
            out->data[base + 12 + i] = (char)(total >> (8 * i));
        }
        unsigned char d[DIGEST_LEN];
        digest(out->data + base, out->len - base, d);
        put(out, d, DIGEST_LEN, &rc);
    }
    if (rc != 0) {
        out->len = base;
        return dk_err_set(err, rc, "model larger than the buffer's maximum of %zu bytes", out->max);
    }
    return 0;
}

int nlu_model_save(const struct nlu_model *m, const char *path, struct dk_err *err)
{
    struct dk_buf b;
    dk_buf_init(&b, MAX_FILE);
    int rc = nlu_model_save_mem(m, &b, err);
    if (rc < 0) {
        dk_buf_free(&b);
        return rc;
    }
    char tmp[4200];
    int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (k < 0 || (size_t)k >= sizeof(tmp)) {
        dk_buf_free(&b);
        return dk_err_set(err, DK_EINVAL, "model path too long");
    }
    FILE *fp = fopen(tmp, "wb");
    if (fp == NULL) {
        rc = dk_err_set(err, DK_EIO, "could not create %s: %s", tmp, strerror(errno));
        dk_buf_free(&b);
        return rc;
    }
    bool ok = fwrite(b.data, 1, b.len, fp) == b.len;
    ok = (fclose(fp) == 0) && ok;
    dk_buf_free(&b);
    if (!ok || rename(tmp, path) != 0) {
        rc = dk_err_set(err, DK_EIO, "could not write model file %s: %s", path, strerror(errno));
        remove(tmp);
        return rc;
    }
    return 0;
}

/* ---- reading ---- */

struct reader {
    const unsigned char *p;
    size_t len;
    size_t off;
};

static bool take(struct reader *r, void *out, size_t n)
{
    if (r->len - r->off < n) {
        return false;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return true;
}

static bool take_u32(struct reader *r, uint32_t *v)
{
    unsigned char x[4];
    if (!take(r, x, 4)) {
        return false;
    }
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    return true;
}

static bool take_f32s(struct reader *r, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        if (!take_u32(r, &u)) {
            return false;
        }
        memcpy(&v[i], &u, 4);
    }
    return true;
}

static struct nlu_model *fail(struct nlu_model *m, struct dk_err *err, const char *name,
                              const char *why)
{
    nlu_model_free(m);
    dk_err_set(err, DK_EINVAL, "model file %s: %s", name, why);
    return NULL;
}

struct nlu_model *nlu_model_parse(const void *data, size_t len, bool verify, const char *name,
                                  struct dk_err *err)
{
    const unsigned char *p = data;
    char why[600];
    if (len < 8 || memcmp(p, MAGIC, 8) != 0) {
        return fail(NULL, err, name, "not a direkt NLU model (bad magic)");
    }
    if (len < HEADER_LEN + DIGEST_LEN) {
        return fail(NULL, err, name, "truncated");
    }
    struct reader r = {p, len - DIGEST_LEN, 8};
    uint32_t version = 0;
    uint32_t lo = 0;
    uint32_t hi = 0;
    take_u32(&r, &version);
    if (version != VERSION) {
        snprintf(why, sizeof(why), "format version %u is %s (this build reads version %u)", version,
                 version > VERSION ? "newer than this build" : "unknown", VERSION);
        return fail(NULL, err, name, why);
    }
    take_u32(&r, &lo);
    take_u32(&r, &hi);
    uint64_t total = (uint64_t)hi << 32 | lo;
    if (total != len) {
        snprintf(why, sizeof(why), "%s (%zu bytes, the header says %llu)",
                 total > len ? "truncated" : "trailing bytes or bad length", len,
                 (unsigned long long)total);
        return fail(NULL, err, name, why);
    }
    if (verify) {
        unsigned char d[DIGEST_LEN];
        digest(p, len - DIGEST_LEN, d);
        if (memcmp(d, p + len - DIGEST_LEN, DIGEST_LEN) != 0) {
            return fail(NULL, err, name, "checksum mismatch (corrupt)");
        }
    }
    struct nlu_model *m = dk_calloc(1, sizeof(*m));
    uint32_t task = 0;
    uint32_t nlabels = 0;
    uint32_t oos = 0;
    unsigned char cfgb[8];
    if (!take_u32(&r, &task) || !take(&r, cfgb, 8) ||
        !take_f32s(&r, m->cfg.group_w, NLU_FG_COUNT) || !take_f32s(&r, &m->temperature, 1) ||
        !take_f32s(&r, &m->oos_threshold, 1) || !take_u32(&r, &nlabels) || !take_u32(&r, &oos)) {
        return fail(m, err, name, "truncated header");
    }
    m->task = (uint8_t)(task > 255 ? 255 : task);
    m->cfg.hash_bits = cfgb[0];
    m->cfg.char_min = cfgb[1];
    m->cfg.char_max = cfgb[2];
    m->cfg.flags = cfgb[3];
    m->cfg.sublinear = cfgb[4];
    m->cfg.min_df = cfgb[5];
    m->wfmt = cfgb[6];
    if (m->wfmt > NLU_WF_I8) {
        return fail(m, err, name, "unknown weight format");
    }
    if (nlabels < 1 || nlabels > MAX_LABELS || oos > nlabels) {
        return fail(m, err, name, "absurd label count");
    }
    m->labels = dk_calloc(nlabels, sizeof(char *));
    for (uint32_t i = 0; i < nlabels; i++) {
        uint32_t n = 0;
        if (!take_u32(&r, &n) || n == 0 || n > NLU_LABEL_MAX || r.len - r.off < n) {
            return fail(m, err, name, "bad or truncated label");
        }
        if (nlu_utf8_check((const char *)p + r.off, n, NULL) < 0) {
            return fail(m, err, name, "label is not valid UTF-8");
        }
        m->labels[i] = dk_strndup((const char *)p + r.off, n);
        m->nlabels = i + 1;
        r.off += n;
    }
    m->oos = oos;
    uint32_t nrows = 0;
    if (!take_u32(&r, &nrows)) {
        return fail(m, err, name, "truncated");
    }
    /* the rest must hold exactly the rows, the weights and the biases */
    size_t per_row = 4 + 1 + 4 + (m->wfmt == NLU_WF_F32 ? 4 * (size_t)nlabels : 4 + nlabels);
    size_t left = r.len - r.off;
    if (left < 4 * (size_t)nlabels || (left - 4 * (size_t)nlabels) / per_row != nrows ||
        (left - 4 * (size_t)nlabels) % per_row != 0) {
        return fail(m, err, name, "row count does not match the file size");
    }
    m->nrows = nrows;
    m->buckets = dk_malloc((nrows ? nrows : 1) * sizeof(uint32_t));
    m->groups = dk_malloc(nrows ? nrows : 1);
    m->idf = dk_malloc((nrows ? nrows : 1) * sizeof(float));
    m->bias = dk_malloc(nlabels * sizeof(float));
    bool ok = true;
    for (uint32_t i = 0; i < nrows && ok; i++) {
        ok = take_u32(&r, &m->buckets[i]);
    }
    ok = ok && take(&r, m->groups, nrows) && take_f32s(&r, m->idf, nrows);
    if (m->wfmt == NLU_WF_F32) {
        m->w = dk_malloc((nrows ? (size_t)nrows : 1) * nlabels * sizeof(float));
        ok = ok && take_f32s(&r, m->w, (size_t)nrows * nlabels);
    } else {
        m->wscale = dk_malloc((nrows ? nrows : 1) * sizeof(float));
        m->wq = dk_malloc((nrows ? (size_t)nrows : 1) * nlabels);
        ok = ok && take_f32s(&r, m->wscale, nrows) && take(&r, m->wq, (size_t)nrows * nlabels);
    }
    ok = ok && take_f32s(&r, m->bias, nlabels);
    if (!ok || r.off != r.len) {
        return fail(m, err, name, "truncated");
    }
    struct dk_err e;
    if (nlu_model_check(m, &e) < 0) {
        return fail(m, err, name, e.msg);
    }
    nlu_model_index(m);
    return m;
}

struct nlu_model *nlu_model_load_mem(const void *data, size_t len, struct dk_err *err)
{
    if (data == NULL) {
        data = "";
        len = 0;
    }
    return nlu_model_parse(data, len, true, "(memory)", err);
}

struct nlu_model *nlu_model_load(const char *path, struct dk_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        dk_err_set(err, errno == ENOENT ? DK_ENOTFOUND : DK_EIO, "could not open model file %s: %s",
                   path, strerror(errno));
        return NULL;
    }
    struct dk_buf b;
    dk_buf_init(&b, MAX_FILE);
    char chunk[65536];
    bool big = false;
    bool bad = false;
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), fp);
        if (n > 0 && dk_buf_append(&b, chunk, n) < 0) {
            big = true;
            break;
        }
        if (n < sizeof(chunk)) {
            bad = ferror(fp) != 0;
            break;
        }
    }
    fclose(fp);
    struct nlu_model *m = NULL;
    if (big) {
        dk_err_set(err, DK_EINVAL, "model file %s: larger than %u bytes", path, MAX_FILE);
    } else if (bad) {
        dk_err_set(err, DK_EIO, "could not read model file %s", path);
    } else {
        m = nlu_model_parse(b.data ? b.data : "", b.len, true, path, err);
    }
    dk_buf_free(&b);
    return m;
}
