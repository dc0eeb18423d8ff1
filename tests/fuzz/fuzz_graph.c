/*
 * Fuzz target for the Graph API answer parsers and the text split, on arbitrary bytes:
 * ig_parse_result under several statuses (an outcome in range, bounded strings, OK only for a
 * 2xx), ig_parse_profile (only the six known keys), ig_parse_conversations (string ids, a
 * next_url only on success), ig_parse_conversation_messages (complete items, oldest first), and
 * ig_split_text on the input as text under several limits: parts in order, 1..max bytes, neither
 * starting nor ending with whitespace, only whitespace between them, and for valid UTF-8 input
 * every part whole characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonh.h"
#include "core/mem.h"
#include "instagram/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_graph: broken promise: %s\n", what);
        abort();
    }
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void results(const char *s, size_t size)
{
    static const int STATUSES[] = {200, 201, 400, 401, 403, 404, 429, 500, 503, 302, 0};
    char reason[512];
    for (size_t i = 0; i < sizeof(STATUSES) / sizeof(STATUSES[0]); i++) {
        struct ig_result r;
        ig_parse_result(STATUSES[i], s, size, &r);
        check(r.outcome >= IG_OK && r.outcome <= IG_UNCERTAIN, "outcome in range");
        check(strcmp(ig_outcome_name(r.outcome), "unknown") != 0, "outcome has a name");
        check(r.http_status == STATUSES[i], "the status is kept");
        check(r.outcome != IG_OK || (STATUSES[i] >= 200 && STATUSES[i] <= 299),
              "only a 2xx succeeds");
        check(r.outcome != IG_OK || r.code == 0, "a success has no error code");
        check(terminated(r.message, sizeof(r.message)) &&
                  terminated(r.fbtrace_id, sizeof(r.fbtrace_id)) &&
                  terminated(r.message_id, sizeof(r.message_id)) &&
                  terminated(r.recipient_id, sizeof(r.recipient_id)),
              "strings are terminated");
        ig_result_reason(&r, reason, sizeof(reason));
        check(reason[0] != '\0', "a reason is given");
    }
}

static void profile(const char *s, size_t size)
{
    static const char *const KEYS[] = {"name",
                                       "username",
                                       "profile_pic",
                                       "follower_count",
                                       "is_user_follow_business",
                                       "is_verified_user"};
    json_t *p = NULL;
    struct dk_err err;
    int rc = ig_parse_profile(s, size, &p, &err);
    check(rc == 0 ? json_is_object(p) : (rc == DK_EINVAL && p == NULL), "profile codes");
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < 6; i++) {
            known = known || strcmp(key, KEYS[i]) == 0;
        }
        check(known, "only the six profile fields are kept");
    }
    json_decref(p);
}

static void conversations(const char *s, size_t size)
{
    json_t *ids = NULL;
    char *next = NULL;
    struct dk_err err;
    int rc = ig_parse_conversations(s, size, &ids, &next, &err);
    if (rc != 0) {
        check(rc == DK_EINVAL && ids == NULL && next == NULL, "a bad page gives nothing");
        return;
    }
    for (size_t i = 0; i < json_array_size(ids); i++) {
        check(json_string_length(json_array_get(ids, i)) > 0, "ids are non-empty strings");
    }
    check(next == NULL || strlen(next) > 0, "next is a url or NULL");
    json_decref(ids);
    dk_free(next);
}

static void messages(const char *s, size_t size)
{
    json_t *out = NULL;
    struct dk_err err;
    int rc = ig_parse_conversation_messages(s, size, &out, &err);
    if (rc != 0) {
        check(rc == DK_EINVAL && out == NULL, "a bad answer gives nothing");
        return;
    }
    json_int_t prev = INT64_MIN;
    for (size_t i = 0; i < json_array_size(out); i++) {
        json_t *m = json_array_get(out, i);
        check(dk_json_str(m, "mid") != NULL && dk_json_str(m, "from_id") != NULL &&
                  dk_json_str(m, "from_username") != NULL && dk_json_str(m, "to_id") != NULL,
              "messages are complete");
        json_int_t t = json_integer_value(json_object_get(m, "created_ms"));
        check(t >= prev, "oldest first");
        prev = t;
    }
    json_decref(out);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void split(const char *text, size_t max, bool utf8)
{
    size_t n = ig_split_text(text, max, NULL, 0);
    struct ig_span *parts = dk_calloc(n + 1, sizeof(*parts));
    check(ig_split_text(text, max, parts, n) == n, "the count does not depend on the room");
    size_t limit = max > IG_TEXT_MAX ? IG_TEXT_MAX : (max < 4 ? 4 : max);
    size_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ig_span *p = &parts[i];
        check(p->len > 0 && p->len <= limit, "parts are 1..max bytes");
        check(p->off >= prev, "parts are in order");
        for (size_t k = prev; k < p->off; k++) {
            check(blank(text[k]), "only whitespace is dropped");
        }
        check(!blank(text[p->off]) && !blank(text[p->off + p->len - 1]), "parts are trimmed");
        if (utf8) {
            json_t *j = json_stringn(text + p->off, p->len);
            check(j != NULL, "parts are whole characters");
            json_decref(j);
        }
        prev = p->off + p->len;
    }
    for (size_t k = prev; text[k] != '\0'; k++) {
        check(blank(text[k]), "only whitespace follows the last part");
    }
    dk_free(parts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    results(s, size);
    profile(s, size);
    conversations(s, size);
    messages(s, size);

    char *text = dk_strndup(s, size); /* up to the first NUL, as a C string */
    json_t *valid = json_string(text);
    static const size_t LIMITS[] = {0, 1, 4, 5, 7, 16, 64, 999, 1000, 5000};
    for (size_t i = 0; i < sizeof(LIMITS) / sizeof(LIMITS[0]); i++) {
        split(text, LIMITS[i], valid != NULL);
    }
    split(text, 4 + size % 300, valid != NULL);
    json_decref(valid);
    dk_free(text);
    return 0;
}
