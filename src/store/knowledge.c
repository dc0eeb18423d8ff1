/*
 * store/knowledge: the knowledge base: facts (questions and answers, or free text) that the
 * reply prompt may quote, per account or for every account (account_id NULL).
 *
 * ?q= search must behave the same on both engines, but their lower()/LIKE fold case
 * differently (SQLite only ASCII). So each row keeps a "search" column: its question and
 * answer case-folded here, in C, with utf8proc's simple lower-case mapping; the query is folded
 * the same way and matched with LIKE … ESCAPE, which then compares bytes on both engines.
 * Paging is by id ascending with the last id as the cursor.
 */
#include "store/repo.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "core/dktime.h"
#include "core/mem.h"
#include "store/store_int.h"

#define KB_COLS "id, account_id, kind, question, answer, tags, enabled, created_at, updated_at"
#define KB_SPEC                                                                                    \
    "id:i account_id:s kind:s question:s answer:s tags:j enabled:b created_at:t updated_at:t"
#define KB_SEARCH_MAX (64u * 1024u) /* bytes of folded text kept per entry */

/* Appends the lower-case form of s (valid UTF-8; invalid bytes are copied as they are). */
static void fold_into(struct dk_buf *b, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            dk_buf_append(b, p, 1);
            p++;
            left--;
            continue;
        }
        utf8proc_uint8_t out[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), out);
        dk_buf_append(b, out, (size_t)m);
        p += n;
        left -= n;
    }
}

/* The search text of an entry: "question\nanswer" folded (new). */
static char *search_text(const char *question, const char *answer)
{
    struct dk_buf b;
    dk_buf_init(&b, KB_SEARCH_MAX);
    if (question != NULL) {
        fold_into(&b, question);
    }
    dk_buf_puts(&b, "\n");
    if (answer != NULL) {
        fold_into(&b, answer);
    }
    return dk_buf_take(&b, NULL);
}

/* The LIKE pattern that finds q anywhere: folded, with % _ \ escaped (new). */
static char *like_pattern(const char *q)
{
    struct dk_buf f, b;
    dk_buf_init(&f, KB_SEARCH_MAX);
    fold_into(&f, q);
    char *folded = dk_buf_take(&f, NULL);
    dk_buf_init(&b, 2 * KB_SEARCH_MAX + 3);
    dk_buf_puts(&b, "%");
    for (const char *s = folded; *s != '\0'; s++) {
        if (*s == '%' || *s == '_' || *s == '\\') {
            dk_buf_puts(&b, "\\");
        }
        dk_buf_append(&b, s, 1);
    }
    dk_buf_puts(&b, "%");
    dk_free(folded);
    return dk_buf_take(&b, NULL);
}

static int not_found(struct dk_err *err, int64_t id)
{
    return dk_err_set(err, DK_ENOTFOUND, "knowledge entry %lld not found", (long long)id);
}

int store_knowledge_create(struct store_conn *c, const struct store_knowledge *k, int64_t now_ms,
                           json_t **out, struct dk_err *err)
{
    char ts[DK_TIME_LEN];
    char *search = search_text(k->question, k->answer);
    const char *p[] = {k->account_id,
                       k->kind != NULL ? k->kind : (k->question != NULL ? "faq" : "text"),
                       k->question,
                       k->answer,
                       k->tags_json != NULL ? k->tags_json : "[]",
                       k->enabled ? "1" : "0",
                       search,
                       store_ts(now_ms, ts)};
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "INSERT INTO knowledge (account_id, kind, question, answer, tags, "
                         "enabled, search, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, "
                         "$6 = 1, $7, $8, $8) RETURNING " KB_COLS,
                         8, p, &r, err);
    dk_free(search);
    if (rc != 0) {
        return rc;
    }
    *out = store_row_json(r, 0, KB_SPEC);
    store_res_free(r);
    return 0;
}

int store_knowledge_get(struct store_conn *c, int64_t id, json_t **out, struct dk_err *err)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids};
    struct store_res *r = NULL;
    int rc = store_query(c, "SELECT " KB_COLS " FROM knowledge WHERE id = $1", 1, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return not_found(err, id);
    }
    *out = store_row_json(r, 0, KB_SPEC);
    store_res_free(r);
    return 0;
}

static const char *flag(unsigned fields, unsigned f)
{
    return (fields & f) != 0 ? "1" : "0";
}

int store_knowledge_update(struct store_conn *c, int64_t id, const struct store_knowledge *k,
                           unsigned fields, int64_t now_ms, json_t **out, struct dk_err *err)
{
    char ids[24], ts[DK_TIME_LEN];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids,
                       flag(fields, STORE_KB_ACCOUNT),
                       k->account_id,
                       flag(fields, STORE_KB_KIND),
                       k->kind != NULL ? k->kind : "text",
                       flag(fields, STORE_KB_QUESTION),
                       k->question,
                       flag(fields, STORE_KB_ANSWER),
                       k->answer != NULL ? k->answer : "",
                       flag(fields, STORE_KB_TAGS),
                       k->tags_json != NULL ? k->tags_json : "[]",
                       flag(fields, STORE_KB_ENABLED),
                       k->enabled ? "1" : "0",
                       store_ts(now_ms, ts)};
    /* one statement merges the given fields into the row (a concurrent change of other
     * fields is kept); the search text is then derived from what the row holds now */
    struct store_res *r = NULL;
    int rc = store_query(c,
                         "UPDATE knowledge SET "
                         "account_id = CASE WHEN $2 = 1 THEN $3 ELSE account_id END, "
                         "kind = CASE WHEN $4 = 1 THEN $5 ELSE kind END, "
                         "question = CASE WHEN $6 = 1 THEN $7 ELSE question END, "
                         "answer = CASE WHEN $8 = 1 THEN $9 ELSE answer END, "
                         "tags = CASE WHEN $10 = 1 THEN $11 ELSE tags END, "
                         "enabled = CASE WHEN $12 = 1 THEN $13 = 1 ELSE enabled END, "
                         "updated_at = $14 WHERE id = $1 RETURNING " KB_COLS,
                         14, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (store_res_rows(r) == 0) {
        store_res_free(r);
        return not_found(err, id);
    }
    char *search = search_text(store_res_get(r, 0, 3), store_res_get(r, 0, 4));
    const char *sp[] = {ids, search};
    rc = store_query(c, "UPDATE knowledge SET search = $2 WHERE id = $1", 2, sp, NULL, err);
    dk_free(search);
    if (rc == 0 && out != NULL) {
        *out = store_row_json(r, 0, KB_SPEC);
    }
    store_res_free(r);
    return rc;
}

int store_knowledge_delete(struct store_conn *c, int64_t id, struct dk_err *err)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids};
    struct store_res *r = NULL;
    int rc = store_query(c, "DELETE FROM knowledge WHERE id = $1", 1, p, &r, err);
    if (rc == 0 && store_res_affected(r) == 0) {
        rc = not_found(err, id);
    }
    store_res_free(r);
    return rc;
}

/* The id in a cursor of an id-ordered list ("0" for the first page). */
static int id_cursor(const char *cursor, char out[24], struct dk_err *err)
{
    int64_t v = 0;
    if (cursor == NULL) {
        snprintf(out, 24, "0");
        return 0;
    }
    if (!store_canonical_int(cursor, &v) || v <= 0) {
        return dk_err_set(err, DK_EUNPROCESS, "invalid cursor");
    }
    snprintf(out, 24, "%lld", (long long)v);
    return 0;
}

int store_knowledge_list(struct store_conn *c, const char *account_id, const char *q,
                         const char *cursor, int limit, json_t **out, char **next_cursor,
                         struct dk_err *err)
{
    char after[24], lim[16];
    int rc = id_cursor(cursor, after, err);
    if (rc != 0) {
        return rc;
    }
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    char *pattern = q != NULL ? like_pattern(q) : NULL;
    const char *p[] = {account_id, pattern, after, lim};
    struct store_res *r = NULL;
    rc = store_query(c,
                     "SELECT " KB_COLS " FROM knowledge WHERE "
                     "(account_id = $1 OR account_id IS NULL OR $1 IS NULL) AND "
                     "(search LIKE $2 ESCAPE '\\' OR $2 IS NULL) AND id > $3 "
                     "ORDER BY id LIMIT $4",
                     4, p, &r, err);
    dk_free(pattern);
    if (rc != 0) {
        return rc;
    }
    size_t rows = store_res_rows(r);
    size_t keep = rows > (size_t)limit ? (size_t)limit : rows;
    *out = json_array();
    for (size_t i = 0; i < keep; i++) {
        json_array_append_new(*out, store_row_json(r, i, KB_SPEC));
    }
    *next_cursor = rows > keep ? dk_strdup(store_res_get(r, keep - 1, 0)) : NULL;
    store_res_free(r);
    return 0;
}

int store_knowledge_all(struct store_conn *c, const char *account_id, size_t max,
                        struct store_kb_entry **out, size_t *n, struct dk_err *err)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {account_id, lim};
    struct store_res *r = NULL;
    *out = NULL;
    *n = 0;
    int rc = store_query(c,
                         "SELECT id, question, answer FROM knowledge WHERE enabled AND "
                         "(account_id IS NULL OR account_id = $1) ORDER BY id LIMIT $2",
                         2, p, &r, err);
    if (rc != 0) {
        return rc;
    }
    size_t rows = store_res_rows(r);
    if (rows > 0) {
        *out = dk_calloc(rows, sizeof(**out));
        for (size_t i = 0; i < rows; i++) {
            const char *question = store_res_get(r, i, 1);
            const char *answer = store_res_get(r, i, 2);
            (*out)[i].id = store_res_int(r, i, 0, 0);
            (*out)[i].question = question != NULL ? dk_strdup(question) : NULL;
            (*out)[i].answer = dk_strdup(answer != NULL ? answer : "");
        }
        *n = rows;
    }
    store_res_free(r);
    return 0;
}

void store_kb_entries_free(struct store_kb_entry *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        dk_free(v[i].question);
        dk_free(v[i].answer);
    }
    dk_free(v);
}
