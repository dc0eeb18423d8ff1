/*
 * Unit tests for instagram/split: ig_split_text on sentences, Cyrillic and emoji, long words and
 * blank text. Every split is checked against all of its promises (split_checked): parts in order,
 * 1..max bytes, trimmed, whole UTF-8 characters, only whitespace dropped between them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/mem.h"
#include "instagram/graph.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* text without its whitespace (new). */
static char *squeeze(const char *s, size_t n)
{
    char *out = dk_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_blank(s[i])) {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

/* Splits text and checks every promise; returns the parts (dk_free) and their count. */
static struct ig_span *split_checked(const char *text, size_t max, size_t *count)
{
    size_t n = ig_split_text(text, max, NULL, 0);
    struct ig_span *parts = dk_calloc(n + 1, sizeof(*parts));
    assert_int_equal(ig_split_text(text, max, parts, n), n);
    struct dk_buf joined;
    dk_buf_init(&joined, 1u << 24);
    size_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ig_span *p = &parts[i];
        assert_true(p->len > 0 && p->len <= max);
        assert_true(p->off >= prev);
        for (size_t k = prev; k < p->off; k++) {
            assert_true(is_blank(text[k])); /* only whitespace is dropped */
        }
        assert_false(is_blank(text[p->off]));
        assert_false(is_blank(text[p->off + p->len - 1]));
        json_t *valid = json_stringn(text + p->off, p->len); /* NULL unless whole characters */
        assert_non_null(valid);
        json_decref(valid);
        dk_buf_append(&joined, text + p->off, p->len);
        prev = p->off + p->len;
    }
    for (size_t k = prev; text[k] != '\0'; k++) {
        assert_true(is_blank(text[k]));
    }
    char *a = squeeze(text, strlen(text));
    char *b = squeeze(joined.data != NULL ? joined.data : "", joined.len);
    assert_string_equal(a, b);
    dk_free(a);
    dk_free(b);
    dk_buf_free(&joined);
    *count = n;
    return parts;
}

static void test_instagram_split_sentences(void **state)
{
    (void)state;
    const char *text = "Hello there. How are you? I am fine!  Thanks for asking.";
    size_t n;
    struct ig_span *p = split_checked(text, 29, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].off, 0);
    assert_int_equal(p[0].len, strlen("Hello there. How are you?"));
    assert_int_equal(p[1].len, strlen("I am fine!"));
    assert_string_equal(text + p[2].off, "Thanks for asking.");
    dk_free(p);

    /* short text: one trimmed part; fewer slots than parts still counts them all */
    p = split_checked("  \n just this \t", 1000, &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].off, 4);
    assert_int_equal(p[0].len, 9);
    dk_free(p);
    struct ig_span one;
    assert_int_equal(ig_split_text(text, 29, &one, 1), 3);
    assert_int_equal(one.len, strlen("Hello there. How are you?"));

    /* a line break is a sentence end; with no sentence end, the last space */
    p = split_checked("first line\nsecond line goes on", 20, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].len, strlen("first line"));
    dk_free(p);
    p = split_checked("one two three four five six", 12, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].len, strlen("one two"));
    dk_free(p);

    /* "…" ends a sentence too */
    p = split_checked("Подождите… Сейчас проверю заказ", 30, &n);
    assert_int_equal(p[0].len, strlen("Подождите…"));
    dk_free(p);
}

static void test_instagram_split_utf8(void **state)
{
    (void)state;
    /* ~2500 bytes of Cyrillic and emoji with spaces and sentence ends */
    const char *pieces[] = {
        "Привет", "👋",     "заказ", "доставка.", "🙏🏽", "Спасибо!", "👨‍👩‍👧",
        "размер", "цена?", "ok"};
    struct dk_buf b;
    dk_buf_init(&b, 1u << 16);
    for (size_t i = 0; b.len < 2500; i++) {
        dk_buf_puts(&b, pieces[i % 10]);
        dk_buf_puts(&b, i % 7 == 6 ? "\n" : " ");
    }
    size_t n;
    for (size_t max = 4; max <= IG_TEXT_MAX; max += max < 64 ? 1 : 97) {
        struct ig_span *p = split_checked(b.data, max, &n);
        assert_true(n >= b.len / max);
        dk_free(p);
    }
    struct ig_span *p = split_checked(b.data, IG_TEXT_MAX, &n);
    assert_int_equal(n, 3);
    dk_free(p);
    dk_buf_free(&b);

    /* one long word: cut at character boundaries, each part as full as it can be */
    dk_buf_init(&b, 1u << 16);
    for (int i = 0; i < 1100; i++) {
        dk_buf_puts(&b, i % 3 == 0 ? "ж" : (i % 3 == 1 ? "😀" : "a"));
    }
    p = split_checked(b.data, IG_TEXT_MAX, &n);
    assert_int_equal(n, 3);
    assert_true(p[0].len > IG_TEXT_MAX - 4);
    dk_free(p);
    /* a limit above IG_TEXT_MAX is IG_TEXT_MAX */
    assert_int_equal(ig_split_text(b.data, 100000, NULL, 0), 3);
    dk_buf_free(&b);

    /* ASCII without spaces: parts of exactly max bytes */
    char word[2501];
    memset(word, 'x', 2500);
    word[2500] = '\0';
    p = split_checked(word, IG_TEXT_MAX, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].len, IG_TEXT_MAX);
    assert_int_equal(p[1].len, IG_TEXT_MAX);
    assert_int_equal(p[2].len, 500);
    dk_free(p);
}

static void test_instagram_split_blank(void **state)
{
    (void)state;
    assert_int_equal(ig_split_text("", 1000, NULL, 0), 0);
    assert_int_equal(ig_split_text(" \t\r\n  \n", 1000, NULL, 0), 0);
    assert_int_equal(ig_split_text(NULL, 1000, NULL, 0), 0);
    char spaces[3001];
    memset(spaces, ' ', 3000);
    spaces[3000] = '\0';
    assert_int_equal(ig_split_text(spaces, 1000, NULL, 0), 0);
    spaces[2999] = 'x';
    size_t n;
    struct ig_span *p = split_checked(spaces, 1000, &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].off, 2999);
    dk_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instagram_split_sentences),
        cmocka_unit_test(test_instagram_split_utf8),
        cmocka_unit_test(test_instagram_split_blank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
