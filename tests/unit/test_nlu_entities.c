/*
 * Unit tests of nlu/entities: a table of English and Russian messages with the exact entities
 * expected (kind, span text, value, unit), negative cases that must find nothing or something
 * else, the output limit, empty and hostile inputs, and a 64 KiB input that must stay linear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nlu/nlu.h"

#define MAX_WANT 6

struct want {
    const char *kind; /* NULL ends the list */
    const char *span; /* the exact input bytes */
    const char *value;
    const char *unit;
};

struct ent_case {
    const char *text;
    struct want want[MAX_WANT];
};

static const struct ent_case CASES[] = {
    /* prices */
    {"How much? $20", {{"price", "$20", "20.00", "USD"}}},
    {"It's 20$ total", {{"price", "20$", "20.00", "USD"}}},
    {"€15.50 with shipping", {{"price", "€15.50", "15.50", "EUR"}}},
    {"итого 15,50 €", {{"price", "15,50 €", "15.50", "EUR"}}},
    {"Цена 1500₽", {{"price", "1500₽", "1500.00", "RUB"}}},
    {"Стоимость 1 500 руб.", {{"price", "1 500 руб", "1500.00", "RUB"}}},
    {"1500 р. за штуку", {{"price", "1500 р", "1500.00", "RUB"}}},
    {"всего 1500 рублей", {{"price", "1500 рублей", "1500.00", "RUB"}}},
    {"15 eur please", {{"price", "15 eur", "15.00", "EUR"}}},
    {"I'll give you 20 bucks", {{"price", "20 bucks", "20.00", "USD"}}},
    {"USD 30 is fine", {{"price", "USD 30", "30.00", "USD"}}},
    {"2.5k руб максимум", {{"price", "2.5k руб", "2500.00", "RUB"}}},
    {"£25 or ₴300", {{"price", "£25", "25.00", "GBP"}, {"price", "₴300", "300.00", "UAH"}}},
    {"до 5 тыс. руб", {{"price", "5 тыс. руб", "5000.00", "RUB"}}},
    {"total 1,500.50$", {{"price", "1,500.50$", "1500.50", "USD"}}},
    {"бюджет 1000-1500 руб", {{"price", "1500 руб", "1500.00", "RUB"}}},
    {"$20 $30", {{"price", "$20", "20.00", "USD"}, {"price", "$30", "30.00", "USD"}}},
    {"100 TRY but not 100 try", {{"price", "100 TRY", "100.00", "TRY"}}},
    {"1 000 000 000 руб", {{"price", "1 000 000 000 руб", "1000000000.00", "RUB"}}},
    {"заказ на 1500 руб", {{"price", "1500 руб", "1500.00", "RUB"}}},
    /* quantities */
    {"I need 2 pcs", {{"quantity", "2 pcs", "2", "pcs"}}},
    {"Хочу 3 шт", {{"quantity", "3 шт", "3", "pcs"}}},
    {"x2 please", {{"quantity", "x2", "2", "pcs"}}},
    {"Возьму 2 штуки", {{"quantity", "2 штуки", "2", "pcs"}}},
    {"two pieces please", {{"quantity", "two pieces", "2", "pcs"}}},
    {"Купи 2 пары носков", {{"quantity", "2 пары", "2", "pairs"}}},
    /* sizes */
    {"size M please", {{"size", "M", "M", ""}}},
    {"размер M", {{"size", "M", "M", ""}}},
    {"M size is fine", {{"size", "M", "M", ""}}},
    {"Do you have it in M?", {{"size", "M", "M", ""}}},
    {"I'm M, what do you suggest?", {{NULL}}},
    {"it's size 8", {{"size", "8", "8", ""}}},
    {"XL or 2XL?", {{"size", "XL", "XL", ""}, {"size", "2XL", "2XL", ""}}},
    {"у меня 38 размер", {{"size", "38", "38", ""}}},
    {"сорри, 42-44", {{"size", "42-44", "42-44", ""}}},
    {"EU 40 or US 9", {{"size", "EU 40", "40", "EU"}, {"size", "US 9", "9", "US"}}},
    {"size: 9.5", {{"size", "9.5", "9.5", ""}}},
    {"send us 9 photos", {{NULL}}},
    /* colours */
    {"the black one", {{"color", "black", "black", ""}}},
    {"gray or navy?", {{"color", "gray", "grey", ""}, {"color", "navy", "navy", ""}}},
    {"чёрная или черное", {{"color", "чёрная", "black", ""}, {"color", "черное", "black", ""}}},
    {"белых и красную", {{"color", "белых", "white", ""}, {"color", "красную", "red", ""}}},
    {"зелёный, жёлтый, голубой",
     {{"color", "зелёный", "green", ""},
      {"color", "жёлтый", "yellow", ""},
      {"color", "голубой", "light blue", ""}}},
    {"тёмно-синий", {{"color", "тёмно-синий", "navy", ""}}},
    {"in light blue", {{"color", "light blue", "light blue", ""}}},
    {"бордовый и хаки", {{"color", "бордовый", "burgundy", ""}, {"color", "хаки", "khaki", ""}}},
    {"Серьезный вопрос про серьги", {{NULL}}},
    /* orders */
    {"order #12345 hasn't arrived", {{"order", "#12345", "12345", ""}}},
    {"my order number is 12345", {{"order", "12345", "12345", ""}}},
    {"order #A-1234 status?", {{"order", "#A-1234", "A-1234", ""}}},
    {"заказ №12345 где?", {{"order", "№12345", "12345", ""}}},
    {"номер заказа 98765", {{"order", "98765", "98765", ""}}},
    {"Заказ 1234567890", {{"order", "1234567890", "1234567890", ""}}},
    {"#sale2024 and #1234", {{"order", "#1234", "1234", ""}}},
    /* dates */
    {"delivered 12.05.2024", {{"date", "12.05.2024", "2024-05-12", ""}}},
    {"12/05/2024 or 2024-05-12",
     {{"date", "12/05/2024", "2024-05-12", ""}, {"date", "2024-05-12", "2024-05-12", ""}}},
    {"можно 12.05?", {{"date", "12.05", "--05-12", ""}}},
    {"May 5 or 5 May", {{"date", "May 5", "--05-05", ""}, {"date", "5 May", "--05-05", ""}}},
    {"5 мая 2024", {{"date", "5 мая 2024", "2024-05-05", ""}}},
    {"tomorrow please", {{"date", "tomorrow", "tomorrow", ""}}},
    {"давайте послезавтра", {{"date", "послезавтра", "day after tomorrow", ""}}},
    {"on friday", {{"date", "friday", "friday", ""}}},
    {"в пятницу", {{"date", "пятницу", "friday", ""}}},
    {"by 12/31/2024", {{"date", "12/31/2024", "2024-12-31", ""}}},
    {"31.02.2024 and 1.5 and 3.14", {{NULL}}},
    {"I may 5 times", {{NULL}}},
    /* times */
    {"at 15:30", {{"time", "15:30", "15:30", ""}}},
    {"9:05 am", {{"time", "9:05 am", "09:05", ""}}},
    {"3pm or 3 pm", {{"time", "3pm", "15:00", ""}, {"time", "3 pm", "15:00", ""}}},
    {"see you at 5", {{"time", "5", "05:00", ""}}},
    {"завтра в 15:00", {{"date", "завтра", "tomorrow", ""}, {"time", "15:00", "15:00", ""}}},
    {"в 18.00", {{"time", "18.00", "18:00", ""}}},
    {"в 5 вечера", {{"time", "5 вечера", "17:00", ""}}},
    {"25:00 and 9:61", {{NULL}}},
    {"at 5 pcs", {{"quantity", "5 pcs", "5", "pcs"}}},
    {"доставка 2 дня", {{NULL}}},
    /* phones */
    {"call +7 999 123-45-67", {{"phone", "+7 999 123-45-67", "+79991234567", ""}}},
    {"8 (999) 123 45 67", {{"phone", "8 (999) 123 45 67", "89991234567", ""}}},
    {"+1 (415) 555-0100", {{"phone", "+1 (415) 555-0100", "+14155550100", ""}}},
    {"+44 20 7946 0958", {{"phone", "+44 20 7946 0958", "+442079460958", ""}}},
    {"звоните 89991234567", {{"phone", "89991234567", "89991234567", ""}}},
    {"2024-05-12 2024-05-13",
     {{"date", "2024-05-12", "2024-05-12", ""}, {"date", "2024-05-13", "2024-05-13", ""}}},
    {"+7 999 123 45 67 15:00",
     {{"phone", "+7 999 123 45 67", "+79991234567", ""}, {"time", "15:00", "15:00", ""}}},
    /* e-mail */
    {"write to John.Doe@Example.com.",
     {{"email", "John.Doe@Example.com", "john.doe@example.com", ""}}},
    {"ivan@mail.ru, спасибо", {{"email", "ivan@mail.ru", "ivan@mail.ru", ""}}},
    /* cards */
    {"card 4111 1111 1111 1111", {{"card", "4111 1111 1111 1111", "**** **** **** 1111", ""}}},
    {"5469380012345673", {{"card", "5469380012345673", "**** **** **** 5673", ""}}},
    {"amex 378282246310005", {{"card", "378282246310005", "**** **** **** 0005", ""}}},
    {"1234 5678 9012 3456", {{NULL}}},
    {"4111 1111 1111 1111 2 pcs",
     {{"card", "4111 1111 1111 1111", "**** **** **** 1111", ""},
      {"quantity", "2 pcs", "2", "pcs"}}},
    /* URLs */
    {"visit shop.com!", {{"url", "shop.com", "shop.com", ""}}},
    {"www.shop.ru/item?id=5, thanks",
     {{"url", "www.shop.ru/item?id=5", "www.shop.ru/item?id=5", ""}}},
    {"https://example.com/a_(b).",
     {{"url", "https://example.com/a_(b)", "https://example.com/a_(b)", ""}}},
    {"магазин.рф", {{"url", "магазин.рф", "магазин.рф", ""}}},
    {"e.g. node.js", {{NULL}}},
    /* handles */
    {"follow @My.Shop_1.", {{"handle", "@My.Shop_1", "@my.shop_1", ""}}},
    {"mail a@b.co", {{"email", "a@b.co", "a@b.co", ""}}},
    {"@black dress", {{"handle", "@black", "@black", ""}}},
    /* ranges and everyday messages */
    {"работаем 10:00-18:00", {{"time", "10:00", "10:00", ""}, {"time", "18:00", "18:00", ""}}},
    {"доставка 12.05-15.05", {{"date", "12.05", "--05-12", ""}, {"date", "15.05", "--05-15", ""}}},
    {"8 800 555 35 35", {{"phone", "8 800 555 35 35", "88005553535", ""}}},
    {"whatsapp +971 50 123 4567", {{"phone", "+971 50 123 4567", "+971501234567", ""}}},
    {"Is the blue one available in size S?",
     {{"color", "blue", "blue", ""}, {"size", "S", "S", ""}}},
    {"А есть такое же, но в сером?", {{"color", "сером", "grey", ""}}},
    {"Сколько стоит доставка? 300р или 500р?",
     {{"price", "300р", "300.00", "RUB"}, {"price", "500р", "500.00", "RUB"}}},
    {"Meet at 7?", {{"time", "7", "07:00", ""}}},
    {"Я в 7 буду, кв 12, iPhone 15 Pro 256GB, скидка 10%", {{NULL}}},
    /* several at once */
    {"Хочу 2 шт черного цвета, размер M, завтра в 15:00, +7 999 123-45-67",
     {{"quantity", "2 шт", "2", "pcs"},
      {"color", "черного", "black", ""},
      {"size", "M", "M", ""},
      {"date", "завтра", "tomorrow", ""},
      {"time", "15:00", "15:00", ""},
      {"phone", "+7 999 123-45-67", "+79991234567", ""}}},
};

#define NCASES (sizeof CASES / sizeof CASES[0])

/* Invariants of any result: in order, no overlaps, spans inside, values terminated. */
static void check_invariants(const char *s, size_t len, const struct nlu_entity *e, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        assert_true(e[k].start < e[k].end);
        assert_true(e[k].end <= len);
        assert_true(e[k].kind < NLU_ENT_COUNT);
        assert_non_null(memchr(e[k].value, '\0', sizeof e[k].value));
        assert_non_null(memchr(e[k].unit, '\0', sizeof e[k].unit));
        bool pii = e[k].kind == NLU_ENT_PHONE || e[k].kind == NLU_ENT_EMAIL ||
                   e[k].kind == NLU_ENT_CARD || e[k].kind == NLU_ENT_HANDLE;
        assert_int_equal(e[k].pii, pii);
        if (k > 0) {
            assert_true(e[k - 1].end <= e[k].start);
        }
    }
    (void)s;
}

static void test_nlu_entities_table(void **state)
{
    (void)state;
    size_t failures = 0;
    for (size_t c = 0; c < NCASES; c++) {
        const struct ent_case *tc = &CASES[c];
        size_t len = strlen(tc->text), nwant = 0;
        struct nlu_entity e[16];
        size_t n = nlu_entities(tc->text, len, e, 16);
        check_invariants(tc->text, len, e, n < 16 ? n : 16);
        while (nwant < MAX_WANT && tc->want[nwant].kind != NULL) {
            nwant++;
        }
        bool ok = n == nwant;
        for (size_t k = 0; ok && k < n; k++) {
            const struct want *w = &tc->want[k];
            size_t slen = e[k].end - e[k].start;
            ok = strcmp(nlu_ent_kind_name(e[k].kind), w->kind) == 0 && slen == strlen(w->span) &&
                 memcmp(tc->text + e[k].start, w->span, slen) == 0 &&
                 strcmp(e[k].value, w->value) == 0 && strcmp(e[k].unit, w->unit) == 0;
        }
        if (!ok) {
            failures++;
            fprintf(stderr, "case %zu \"%s\": want %zu, got %zu:\n", c, tc->text, nwant, n);
            for (size_t k = 0; k < n && k < 16; k++) {
                fprintf(stderr, "  %s '%.*s' value '%s' unit '%s'\n", nlu_ent_kind_name(e[k].kind),
                        (int)(e[k].end - e[k].start), tc->text + e[k].start, e[k].value, e[k].unit);
            }
        }
    }
    assert_int_equal(failures, 0);
    assert_true(NCASES >= 60);
}

static void test_nlu_entities_card_is_masked(void **state)
{
    (void)state;
    const char *s = "pay with 4111-1111-1111-1111 please";
    struct nlu_entity e[4];
    assert_int_equal(nlu_entities(s, strlen(s), e, 4), 1);
    assert_int_equal(e[0].kind, NLU_ENT_CARD);
    assert_true(e[0].pii);
    assert_string_equal(e[0].value, "**** **** **** 1111");
    assert_null(strstr(e[0].value, "4111"));
    /* one digit changed: Luhn fails, and 16 digits are too many for a phone */
    const char *bad = "pay with 4111-1111-1111-1112 please";
    assert_int_equal(nlu_entities(bad, strlen(bad), e, 4), 0);
}

static void test_nlu_entities_limit_counts_all(void **state)
{
    (void)state;
    const char *s = "x2 x3 x4 x5 x6";
    struct nlu_entity e[3];
    memset(e, 0x5A, sizeof e);
    assert_int_equal(nlu_entities(s, strlen(s), e, 2), 5);
    assert_string_equal(e[0].value, "2");
    assert_string_equal(e[1].value, "3");
    assert_int_equal(e[2].kind, 0x5A); /* untouched beyond max */
    assert_int_equal(nlu_entities(s, strlen(s), NULL, 0), 5);
}

static void test_nlu_entities_empty_and_hostile(void **state)
{
    (void)state;
    struct nlu_entity e[4];
    assert_int_equal(nlu_entities("", 0, e, 4), 0);
    assert_int_equal(nlu_entities(NULL, 0, e, 4), 0);
    assert_int_equal(nlu_entities("   ", 3, e, 4), 0);
    /* truncated sequences and lone bytes are read within bounds and find nothing odd */
    const char *bits[] = {
        "\xD0", "20 \xE2\x82", "\xE2\x82\xAC", "$",   "+",   "#",   "@",  "\xE2\x84\x96", "x",
        "size", "order",       "at",           "12.", "12:", "8 (", "a@", "http://"};
    for (size_t k = 0; k < sizeof bits / sizeof bits[0]; k++) {
        size_t n = nlu_entities(bits[k], strlen(bits[k]), e, 4);
        check_invariants(bits[k], strlen(bits[k]), e, n < 4 ? n : 4);
        assert_int_equal(n, 0);
    }
    /* a length shorter than the string: nothing past it is read or reported */
    const char *s = "call +7 999 123-45-67";
    assert_int_equal(nlu_entities(s, 12, e, 4), 0);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_nlu_entities_long_input_is_linear(void **state)
{
    (void)state;
    static char big[NLU_MAX_TEXT];
    struct nlu_entity e[NLU_MAX_ENTITIES];
    struct timespec t0;
    const char *patterns[] = {"7", "1 ", "x2 ", "1.", "+7 ", "@a ", "$1 ", "ab.ru "};
    size_t expect[] = {
        0, 0, NLU_MAX_TEXT / 3, 0, 0, NLU_MAX_TEXT / 3, NLU_MAX_TEXT / 3, NLU_MAX_TEXT / 6};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        size_t plen = strlen(patterns[p]);
        for (size_t k = 0; k < sizeof big; k++) {
            big[k] = patterns[p][k % plen];
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t n = nlu_entities(big, sizeof big, e, NLU_MAX_ENTITIES);
        double secs = seconds_since(&t0);
        check_invariants(big, sizeof big, e, n < NLU_MAX_ENTITIES ? n : NLU_MAX_ENTITIES);
        assert_int_equal(n, expect[p]);
        /* linear work is a few milliseconds even under sanitizers; quadratic is seconds */
        assert_true(secs < 1.0);
    }
}

static void test_nlu_entities_kind_names(void **state)
{
    (void)state;
    const char *names[NLU_ENT_COUNT] = {"price", "quantity", "size",  "color", "order", "date",
                                        "time",  "phone",    "email", "card",  "url",   "handle"};
    for (int k = 0; k < NLU_ENT_COUNT; k++) {
        assert_string_equal(nlu_ent_kind_name((enum nlu_ent_kind)k), names[k]);
    }
    assert_string_equal(nlu_ent_kind_name(NLU_ENT_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nlu_entities_table),
        cmocka_unit_test(test_nlu_entities_card_is_masked),
        cmocka_unit_test(test_nlu_entities_limit_counts_all),
        cmocka_unit_test(test_nlu_entities_empty_and_hostile),
        cmocka_unit_test(test_nlu_entities_long_input_is_linear),
        cmocka_unit_test(test_nlu_entities_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
