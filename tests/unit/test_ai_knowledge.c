/* Unit tests of knowledge-base retrieval (ai_knowledge_rank): English and Russian stems, the
 * weight of questions over answers, idf, stop words, empty and bad queries, k and min_score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ai/ai.h"
#include "core/mem.h"
#include "nlu/nlu.h"

#define NKB(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
    *state = nlu_ctx_new();
    return 0;
}

static int teardown(void **state)
{
    nlu_ctx_free(*state);
    return 0;
}

/* Ranks and renders the result as "i:score i:score" (scores with 3 decimals). */
static const char *rank(void **state, const char *query, const struct ai_kb_entry *kb, size_t n,
                        size_t k, double min_score, char *buf, size_t cap)
{
    size_t idx[16];
    double sc[16];
    assert_true(k <= 16);
    size_t got = ai_knowledge_rank(*state, query, kb, n, k, min_score, idx, sc);
    assert_true(got <= k);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < got; i++) {
        assert_true(idx[i] < n);
        assert_true(sc[i] > 0.0 && sc[i] <= 1.0 + 1e-9);
        assert_true(sc[i] >= min_score);
        int w = snprintf(buf + o, cap - o, "%s%zu:%.3f", i ? " " : "", idx[i], sc[i]);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
    return buf;
}

/* The indexes only, "2 0 1". */
static const char *order(void **state, const char *query, const struct ai_kb_entry *kb, size_t n,
                         size_t k, char *buf, size_t cap)
{
    size_t idx[16];
    size_t got = ai_knowledge_rank(*state, query, kb, n, k, 0.0, idx, NULL);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < got; i++) {
        int w = snprintf(buf + o, cap - o, "%s%zu", i ? " " : "", idx[i]);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
    return buf;
}

static const struct ai_kb_entry shop_ru[] = {
    {1, "Как оплатить заказ?", "Оплата картой или наличными при получении."},
    {2, NULL,
     "Доставка стоит 300 ₽ по Москве, бесплатно от 5000 ₽."},
    {3, "Где вы находитесь?", "Мы в Москве, ул. Тверская 1, с 10 до 20."},
    {4, "Можно вернуть товар?", "Возврат в течение 14 дней с чеком."},
};

static const struct ai_kb_entry shop_en[] = {
    {1, "What does shipping cost?", "Shipping is $5 within the US and $15 worldwide."},
    {2, "Do you ship to Canada?", "Yes, we ship to Canada in 7-10 days."},
    {3, NULL, "Our store is open from 10am to 8pm every day."},
    {4, "Can I return an item?", "Returns are accepted within 30 days with the receipt."},
};

static void test_ai_knowledge_russian(void **state)
{
    char buf[256];
    /* "сколько" is a stop word; "стоит" and "доставка" are in the answer only: 0.7 */
    assert_string_equal(
        rank(state, "сколько стоит доставка", shop_ru, NKB(shop_ru), 3, 0.0, buf, sizeof(buf)),
        "1:0.700");
    /* other word forms share the stems: "доставку", "вернуть/возврат" */
    assert_string_equal(order(state, "Здравствуйте! А доставку в Москву делаете?", shop_ru,
                              NKB(shop_ru), 3, buf, sizeof(buf)),
                        "1 2");
    assert_string_equal(
        order(state, "хочу вернуть товар", shop_ru, NKB(shop_ru), 3, buf, sizeof(buf)), "3");
    /* case does not matter; "оплата" and "оплатить" share a stem */
    assert_string_equal(order(state, "ОПЛАТА КАРТОЙ?", shop_ru, NKB(shop_ru), 3, buf, sizeof(buf)),
                        "0");
}

static void test_ai_knowledge_english(void **state)
{
    char buf[256];
    /* both terms in entry 1's question: 1.0; entry 0 holds "ship" only, which two entries share
     * (idf ln(1 + 4/3)) against "canada", which one entry has (ln(1 + 4/2)): 0.847 / 1.946 */
    assert_string_equal(
        rank(state, "Do you ship to Canada?", shop_en, NKB(shop_en), 4, 0.0, buf, sizeof(buf)),
        "1:1.000 0:0.435");
    assert_string_equal(
        order(state, "how much is shipping", shop_en, NKB(shop_en), 4, buf, sizeof(buf)), "0 1");
    /* "returns" and "return" share a stem */
    assert_string_equal(order(state, "RETURNS??", shop_en, NKB(shop_en), 4, buf, sizeof(buf)), "3");
    assert_string_equal(
        order(state, "when are you open", shop_en, NKB(shop_en), 4, buf, sizeof(buf)), "2");
}

static void test_ai_knowledge_question_weighs_more(void **state)
{
    char buf[256];
    static const struct ai_kb_entry kb[] = {
        {1, "Do you sell gloves?", "We sell scarves and hats."},
        {2, "Do you sell scarves?", "Yes, wool and silk."},
    };
    /* "scarves" is in entry 0's answer and entry 1's question */
    assert_string_equal(rank(state, "scarves", kb, NKB(kb), 2, 0.0, buf, sizeof(buf)),
                        "1:1.000 0:0.700");
}

static void test_ai_knowledge_idf(void **state)
{
    char buf[256];
    static const struct ai_kb_entry kb[] = {
        {1, NULL, "The blue dress costs 40 euro."},
        {2, NULL, "The red dress costs 45 euro."},
        {3, NULL, "The green dress is sold out."},
    };
    /* "dress" is everywhere and weighs little; "red" decides */
    assert_string_equal(order(state, "price of the red dress", kb, NKB(kb), 3, buf, sizeof(buf)),
                        "1 0 2");
    /* equal scores keep the entries' order */
    assert_string_equal(order(state, "dress", kb, NKB(kb), 3, buf, sizeof(buf)), "0 1 2");
    /* numbers count as terms */
    assert_string_equal(order(state, "45?", kb, NKB(kb), 3, buf, sizeof(buf)), "1");
}

static void test_ai_knowledge_nothing(void **state)
{
    char buf[256];
    size_t idx[4] = {99, 99, 99, 99};
    assert_int_equal(ai_knowledge_rank(*state, "", shop_en, NKB(shop_en), 4, 0.0, idx, NULL), 0);
    assert_int_equal(ai_knowledge_rank(*state, NULL, shop_en, NKB(shop_en), 4, 0.0, idx, NULL), 0);
    assert_int_equal(idx[0], 99);
    /* stop words, punctuation and emoji alone */
    assert_string_equal(
        order(state, "what is the... ?!! 😍", shop_en, NKB(shop_en), 4, buf, sizeof(buf)), "");
    assert_string_equal(
        order(state, "сколько это у вас?", shop_ru, NKB(shop_ru), 4, buf, sizeof(buf)), "");
    /* no shared term */
    assert_string_equal(
        order(state, "weather tomorrow in Paris", shop_en, NKB(shop_en), 4, buf, sizeof(buf)), "");
    /* no entries, k 0 */
    assert_int_equal(ai_knowledge_rank(*state, "shipping", shop_en, 0, 4, 0.0, idx, NULL), 0);
    assert_int_equal(ai_knowledge_rank(*state, "shipping", shop_en, 4, 0, 0.0, idx, NULL), 0);
    /* invalid UTF-8 in the query gives nothing; in an entry, that entry is skipped */
    assert_int_equal(ai_knowledge_rank(*state, "ship \xc3\x28", shop_en, 4, 4, 0.0, idx, NULL), 0);
    static const struct ai_kb_entry bad[] = {
        {1, NULL, "ship \xc3\x28"},
        {2, NULL, "we ship"},
    };
    assert_string_equal(order(state, "ship", bad, NKB(bad), 4, buf, sizeof(buf)), "1");
}

static void test_ai_knowledge_k_and_min_score(void **state)
{
    char buf[256];
    /* entry 1 holds both terms (answer), entry 2 "Москве" (answer) whose stem entries 1 and 2
     * share: 0.7 * ln(1 + 4/3) / (ln(1 + 4/3) + ln(1 + 4/2)) */
    assert_string_equal(
        order(state, "доставка в Москву", shop_ru, NKB(shop_ru), 1, buf, sizeof(buf)), "1");
    assert_string_equal(
        rank(state, "доставка в Москву", shop_ru, NKB(shop_ru), 4, 0.0, buf, sizeof(buf)),
        "1:0.700 2:0.305");
    assert_string_equal(
        rank(state, "доставка в Москву", shop_ru, NKB(shop_ru), 4, 0.5, buf, sizeof(buf)),
        "1:0.700");
    assert_string_equal(
        rank(state, "доставка в Москву", shop_ru, NKB(shop_ru), 4, 0.71, buf, sizeof(buf)), "");
}

static void test_ai_knowledge_many_terms(void **state)
{
    /* a long query keeps its first 64 distinct terms; the entry matching an early one wins */
    static const char letters[] = "bcdfghjkmn";
    char q[4096];
    size_t o = 0;
    for (int i = 0; i < 100; i++) {
        o += (size_t)snprintf(q + o, sizeof(q) - o, "zq%c%c ", letters[i / 10], letters[i % 10]);
    }
    static const struct ai_kb_entry kb[] = {
        {1, NULL, "zqnn only"}, /* the 100th word */
        {2, NULL, "zqbf here"}, /* the 4th */
    };
    char buf[64];
    assert_string_equal(order(state, q, kb, NKB(kb), 2, buf, sizeof(buf)), "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ai_knowledge_russian),
        cmocka_unit_test(test_ai_knowledge_english),
        cmocka_unit_test(test_ai_knowledge_question_weighs_more),
        cmocka_unit_test(test_ai_knowledge_idf),
        cmocka_unit_test(test_ai_knowledge_nothing),
        cmocka_unit_test(test_ai_knowledge_k_and_min_score),
        cmocka_unit_test(test_ai_knowledge_many_terms),
    };
    return cmocka_run_group_tests_name("ai_knowledge", tests, setup, teardown);
}
