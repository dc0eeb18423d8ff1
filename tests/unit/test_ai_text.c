/*
 * Unit tests of the text pieces of the ai module: redaction of personal data and its
 * restoring, token estimates, the reply prompt within its budget, and the reply guard.
 *
 * Customer messages come from $DIREKT_FIXTURES/instagram (the webhook payloads' texts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/mem.h"
#include "nlu/nlu.h"

/* The text of the first message of an Instagram webhook fixture (new string). */
static char *fixture_text(const char *name)
{
    const char *dir = getenv("DIREKT_FIXTURES");
    if (dir == NULL)
        fail_msg("DIREKT_FIXTURES is not set");
    char *path = dk_asprintf("%s/instagram/%s", dir, name);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        fail_msg("could not load %s: %s", path, je.text);
    dk_free(path);
    const char *text = NULL;
    json_unpack(root, "{s:[{s:[{s:{s:s}}]}]}", "entry", "messaging", "message", "text", &text);
    assert_non_null(text);
    char *copy = dk_strdup(text);
    json_decref(root);
    return copy;
}

static void assert_has(const char *hay, const char *needle)
{
    if (hay == NULL || strstr(hay, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

/* ===== redaction ===== */

static char *redact(struct ai_redaction *m, const char *text, int *found)
{
    struct dk_err err = {0};
    char *out = ai_redact(m, NULL, text, strlen(text), found, &err);
    if (out == NULL)
        fail_msg("ai_redact failed: %s", err.msg);
    return out;
}

static void test_ai_text_redact_round_trip_en(void **state)
{
    (void)state;
    const char *text = "Call me at +7 999 123-45-67 or mail ivan@example.com, "
                       "card 4111 1111 1111 1111, @ivan_shop";
    struct ai_redaction *m = ai_redaction_new();
    int found = -1;
    char *red = redact(m, text, &found);
    assert_string_equal(red, "Call me at [PHONE_1] or mail [EMAIL_1], card [CARD_1], [HANDLE_1]");
    assert_int_equal(found, 4);
    assert_int_equal(ai_redaction_count(m), 4);
    assert_true(ai_has_pii(NULL, text, strlen(text)));
    assert_false(ai_has_pii(NULL, red, strlen(red)));
    /* back: everything as written, except the card, which comes back masked */
    char *back = ai_unredact(m, red);
    assert_string_equal(back, "Call me at +7 999 123-45-67 or mail ivan@example.com, "
                              "card **** **** **** 1111, @ivan_shop");
    dk_free(back);
    dk_free(red);
    ai_redaction_free(m);
}

static void test_ai_text_redact_round_trip_ru(void **state)
{
    (void)state;
    const char *text = "Здравствуйте! Звоните 8 (999) 123-45-67, почта anna.k@mail.ru, "
                       "карта 5469 3800 1234 5673, инста @anna_k";
    struct ai_redaction *m = ai_redaction_new();
    int found = 0;
    char *red = redact(m, text, &found);
    assert_string_equal(red, "Здравствуйте! Звоните [PHONE_1], почта [EMAIL_1], карта [CARD_1], "
                             "инста [HANDLE_1]");
    assert_int_equal(found, 4);
    char *back = ai_unredact(m, "Спасибо! Мы перезвоним на [PHONE_1] и напишем на [EMAIL_1]. "
                                "Карта [CARD_1], профиль [HANDLE_1].");
    assert_string_equal(back, "Спасибо! Мы перезвоним на 8 (999) 123-45-67 и напишем на "
                              "anna.k@mail.ru. Карта **** **** **** 5673, профиль @anna_k.");
    dk_free(back);
    dk_free(red);
    ai_redaction_free(m);
}

static void test_ai_text_redact_same_value(void **state)
{
    (void)state;
    struct ai_redaction *m = ai_redaction_new();
    int found = 0;
    /* one value twice in a message: one placeholder */
    char *a = redact(m, "+7 999 123-45-67, again: +7 999 123-45-67", &found);
    assert_string_equal(a, "[PHONE_1], again: [PHONE_1]");
    assert_int_equal(found, 2);
    assert_int_equal(ai_redaction_count(m), 1);
    /* a later turn of the same conversation: the known value keeps its number, a new one
     * (also the same number written differently: the bytes differ) gets the next */
    char *b = redact(m, "my wife: +7 999 765-43-21, me: +7 999 123-45-67, or 89991234567", &found);
    assert_string_equal(b, "my wife: [PHONE_2], me: [PHONE_1], or [PHONE_3]");
    assert_int_equal(found, 3);
    assert_int_equal(ai_redaction_count(m), 3);
    /* numbering is per kind */
    char *c = redact(m, "mail a@b.co", &found);
    assert_string_equal(c, "mail [EMAIL_1]");
    dk_free(a);
    dk_free(b);
    dk_free(c);
    ai_redaction_free(m);
}

static void test_ai_text_unredact_answer(void **state)
{
    (void)state;
    struct ai_redaction *m = ai_redaction_new();
    char *red = redact(m, "I'm @olga.style, phone +7 916 555-12-34", NULL);
    assert_string_equal(red, "I'm [HANDLE_1], phone [PHONE_1]");
    /* the model quotes placeholders, twice; unknown ones and other spellings stay */
    char *back = ai_unredact(m, "Hi [HANDLE_1]! We'll call [PHONE_1] today. If [PHONE_1] is busy, "
                                "we'll write. [PHONE_2] [phone_1] [ PHONE_1 ] [PHONE_1 [PHONE_]");
    assert_string_equal(back, "Hi @olga.style! We'll call +7 916 555-12-34 today. If "
                              "+7 916 555-12-34 is busy, we'll write. [PHONE_2] [phone_1] "
                              "[ PHONE_1 ] [PHONE_1 [PHONE_]");
    dk_free(back);
    /* no map, no placeholders: a copy */
    back = ai_unredact(NULL, "[PHONE_1]");
    assert_string_equal(back, "[PHONE_1]");
    dk_free(back);
    assert_null(ai_unredact(m, NULL));
    dk_free(red);
    ai_redaction_free(m);
}

static void test_ai_text_redact_no_pii(void **state)
{
    (void)state;
    char *text = fixture_text("message_text.json");
    assert_string_equal(text, "Hi! How much is the linen dress in size S?");
    struct ai_redaction *m = ai_redaction_new();
    int found = -1;
    char *red = redact(m, text, &found);
    assert_string_equal(red, text);
    assert_int_equal(found, 0);
    assert_int_equal(ai_redaction_count(m), 0);
    assert_false(ai_has_pii(NULL, text, strlen(text)));
    char *ru = fixture_text("message_text_ru_emoji.json");
    char *red_ru = redact(m, ru, &found);
    assert_string_equal(red_ru, ru);
    assert_int_equal(found, 0);
    dk_free(red_ru);
    dk_free(ru);
    dk_free(red);
    dk_free(text);
    ai_redaction_free(m);
}

static void test_ai_text_redact_errors(void **state)
{
    (void)state;
    struct ai_redaction *m = ai_redaction_new();
    struct dk_err err = {0};
    int found = 7;
    const char bad[] = "call +7 999 123-45-67 \xC0\xAF";
    assert_null(ai_redact(m, NULL, bad, sizeof(bad) - 1, &found, &err));
    assert_int_equal(err.code, DK_EINVAL);
    assert_has(err.msg, "invalid UTF-8 at byte 22");
    assert_int_equal(found, 0);
    assert_true(ai_has_pii(NULL, bad, sizeof(bad) - 1)); /* cannot be checked: private */

    size_t big = NLU_MAX_TEXT + 1;
    char *text = dk_malloc(big + 1);
    memset(text, 'a', big);
    text[big] = '\0';
    assert_null(ai_redact(m, NULL, text, big, &found, &err));
    assert_int_equal(err.code, DK_ETOOBIG);
    dk_free(text);
    assert_int_equal(ai_redaction_count(m), 0);
    ai_redaction_free(m);
}

static void test_ai_text_redact_bounded(void **state)
{
    (void)state;
    struct ai_redaction *m = ai_redaction_new();
    struct dk_buf b;
    dk_buf_init(&b, NLU_MAX_TEXT);
    for (int i = 0; i < AI_REDACT_MAX; i++)
        assert_int_equal(dk_buf_printf(&b, "@user%d ", i), 0);
    int found = 0;
    char *red = redact(m, b.data, &found);
    assert_int_equal(found, AI_REDACT_MAX);
    assert_int_equal(ai_redaction_count(m), AI_REDACT_MAX);
    assert_has(red, "[HANDLE_256]");
    dk_free(red);
    /* one more value: refused, and the map is left as it was */
    struct dk_err err = {0};
    const char *more = "@user3 and @newcomer and mail x@y.org";
    assert_null(ai_redact(m, NULL, more, strlen(more), &found, &err));
    assert_int_equal(err.code, DK_ETOOBIG);
    assert_int_equal(ai_redaction_count(m), AI_REDACT_MAX);
    /* known values still redact */
    red = redact(m, "@user3 @user255", &found);
    assert_string_equal(red, "[HANDLE_4] [HANDLE_256]");
    dk_free(red);
    dk_buf_free(&b);
    ai_redaction_free(m);
}

/* ===== token estimates ===== */

static void test_ai_text_tokens_estimate(void **state)
{
    (void)state;
    assert_int_equal(ai_tokens_estimate("", 0), 0);
    assert_int_equal(ai_tokens_estimate(NULL, 0), 0);
    /* ASCII: bytes / 4, rounded up */
    assert_int_equal(ai_tokens_estimate("hello world", 11), 3);
    char a[402];
    memset(a, 'a', sizeof(a));
    assert_int_equal(ai_tokens_estimate(a, 400), 100);
    assert_int_equal(ai_tokens_estimate(a, 401), 101);
    /* Cyrillic: characters / 2.3 */
    const char *ru = "привет"; /* 6 characters, 12 bytes: 2.6 */
    assert_int_equal(ai_tokens_estimate(ru, strlen(ru)), 3);
    const char *ru23 = "абвгдежзийклмнопрстуфхц"; /* 23 characters: exactly 10 */
    assert_int_equal(ai_tokens_estimate(ru23, strlen(ru23)), 10);
    /* emoji (outside the BMP): one token each */
    assert_int_equal(ai_tokens_estimate("👍", strlen("👍")), 1);
    assert_int_equal(ai_tokens_estimate("👍🙏😊", strlen("👍🙏😊")), 3);
    /* the Russian fixture: 32 Cyrillic letters, 8 ASCII bytes, 2 emoji:
     * 8/4 + 32/2.3 + 2 = 17.9 -> 18 */
    char *text = fixture_text("message_text_ru_emoji.json");
    assert_int_equal(ai_tokens_estimate(text, strlen(text)), 18);
    dk_free(text);
}

/* ===== prompt ===== */

static const struct ai_kb_entry SHOP_KB[] = {
    {1, "How much is the linen dress?", "The linen dress costs 4 990 ₽, sizes XS to L."},
    {2, "Delivery to Kazan", "Delivery in Russia takes 2-4 days and costs 300 rubles."},
    {3, NULL, "Returns are accepted within 14 days with the receipt."},
};

static json_t *build(const struct ai_prompt_in *in)
{
    json_t *out = NULL;
    struct dk_err err = {0};
    int rc = ai_prompt_build(in, &out, &err);
    if (rc != 0)
        fail_msg("ai_prompt_build failed: %s", err.msg);
    assert_true(json_is_array(out));
    return out;
}

static const char *msg_role(const json_t *arr, size_t i)
{
    return json_string_value(json_object_get(json_array_get(arr, i), "role"));
}

static const char *msg_content(const json_t *arr, size_t i)
{
    return json_string_value(json_object_get(json_array_get(arr, i), "content"));
}

static void test_ai_text_prompt_system(void **state)
{
    (void)state;
    char *customer = fixture_text("message_text.json");
    json_t *history = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "role", "user", "content",
                                "Hello", "role", "assistant", "content", "Hi! How can I help?",
                                "role", "user", "content", customer);
    json_t *profile = json_pack("{s:s, s:i}", "name", "Anna", "orders", 2);
    json_t *prefs = json_pack("{s:s}", "size", "S");
    struct ai_prompt_in in = {
        .tone = "friendly",
        .business_name = "Linen Story",
        .summary = "The customer asked about dresses before.",
        .history = history,
        .profile = profile,
        .preferences = prefs,
        .kb = SHOP_KB,
        .nkb = 3,
        .intent = "price",
        .sentiment = "neutral",
        .language = "en",
    };
    json_t *out = build(&in);
    assert_int_equal(json_array_size(out), 4);
    assert_string_equal(msg_role(out, 0), "system");
    const char *sys = msg_content(out, 0);
    /* the built-in instructions when the business has none */
    assert_memory_equal(sys, ai_prompt_default_system(), strlen(ai_prompt_default_system()));
    assert_has(sys, "You write on behalf of \"Linen Story\".");
    assert_has(sys, "Tone: friendly.");
    assert_has(sys, "- Q: How much is the linen dress?\n  A: The linen dress costs 4 990 ₽, "
                    "sizes XS to L.");
    assert_has(sys, "\n- Returns are accepted within 14 days with the receipt.");
    assert_has(sys, "Customer profile: {\"name\":\"Anna\",\"orders\":2}");
    assert_has(sys, "Customer preferences: {\"size\":\"S\"}");
    assert_has(sys, "intent price, sentiment neutral, language en.");
    assert_has(sys, "Summary of the conversation so far: The customer asked about dresses");
    /* the turns, oldest first, the customer's question last */
    assert_string_equal(msg_role(out, 1), "user");
    assert_string_equal(msg_role(out, 2), "assistant");
    assert_string_equal(msg_role(out, 3), "user");
    assert_string_equal(msg_content(out, 3), "Hi! How much is the linen dress in size S?");
    json_decref(out);

    /* the business's own instructions replace the built-in ones; no facts: a note instead */
    in.system_prompt = "Ты помощник магазина «Лён». Отвечай коротко.";
    in.nkb = 0;
    out = build(&in);
    sys = msg_content(out, 0);
    assert_true(strncmp(sys, in.system_prompt, strlen(in.system_prompt)) == 0);
    assert_null(strstr(sys, ai_prompt_default_system()));
    assert_has(sys, "Facts: none for this message.");
    json_decref(out);

    /* no history at all: the system message alone */
    in.history = NULL;
    out = build(&in);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
    json_decref(history);
    json_decref(profile);
    json_decref(prefs);
    dk_free(customer);
}

/* A history of n turns alternating user/assistant (the last one a user turn), each of 400
 * ASCII bytes: 100 tokens + framing. Turn i starts with "turn <i>:". */
static json_t *long_history(int n)
{
    json_t *h = json_array();
    char text[401];
    for (int i = 0; i < n; i++) {
        memset(text, 'x', 400);
        text[400] = '\0';
        int w = snprintf(text, sizeof(text), "turn %02d:", i);
        text[w] = ' ';
        bool user = (n - 1 - i) % 2 == 0;
        json_array_append_new(
            h, json_pack("{s:s, s:s}", "role", user ? "user" : "assistant", "content", text));
    }
    return h;
}

static void test_ai_text_prompt_budget(void **state)
{
    (void)state;
    json_t *history = long_history(20);
    struct ai_prompt_in in = {.history = history, .kb = SHOP_KB, .nkb = 3, .max_tokens = 100000};
    json_t *out = build(&in);
    assert_int_equal(json_array_size(out), 21);
    char *sys = dk_strdup(msg_content(out, 0));
    int64_t sys_cost = ai_tokens_estimate(sys, strlen(sys)) + AI_MSG_FRAMING;
    json_decref(out);

    /* room for the system message and three turns (and a bit): the newest three */
    in.max_tokens = sys_cost + 3 * 104 + 50;
    out = build(&in);
    assert_int_equal(json_array_size(out), 4);
    assert_string_equal(msg_role(out, 0), "system");
    assert_string_equal(msg_content(out, 0), sys);
    assert_true(strncmp(msg_content(out, 1), "turn 17:", 8) == 0);
    assert_string_equal(msg_role(out, 1), "user");
    assert_true(strncmp(msg_content(out, 2), "turn 18:", 8) == 0);
    assert_string_equal(msg_role(out, 2), "assistant");
    assert_true(strncmp(msg_content(out, 3), "turn 19:", 8) == 0);
    assert_string_equal(msg_role(out, 3), "user");
    json_decref(out);

    /* room for the system message only: the newest user turn is still sent, cut to fit */
    in.max_tokens = sys_cost + 54;
    out = build(&in);
    assert_int_equal(json_array_size(out), 2);
    assert_true(strncmp(msg_content(out, 1), "turn 19:", 8) == 0);
    assert_int_equal(strlen(msg_content(out, 1)), 64 * 4); /* at least 64 tokens kept */
    json_decref(out);
    /* room for one turn and a half: the newest whole, the one before it not at all */
    in.max_tokens = sys_cost + 160;
    out = build(&in);
    assert_int_equal(json_array_size(out), 2);
    assert_int_equal(strlen(msg_content(out, 1)), 400);
    json_decref(out);
    json_decref(history);

    /* a long message: as much as the budget allows */
    char *big = dk_malloc(4001);
    memset(big, 'y', 4000);
    big[4000] = '\0';
    history = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "user", "content", big, "role",
                        "assistant", "content", "earlier answer, after the question");
    in.history = history;
    in.max_tokens = sys_cost + 204;
    out = build(&in);
    assert_int_equal(json_array_size(out), 2); /* the newest *user* turn, not the answer */
    assert_string_equal(msg_role(out, 1), "user");
    assert_int_equal(strlen(msg_content(out, 1)), 200 * 4); /* 200 tokens of ASCII */
    json_decref(out);
    json_decref(history);
    dk_free(big);

    /* a long Russian message is cut between characters */
    struct dk_buf b;
    dk_buf_init(&b, 1 << 20);
    for (int i = 0; i < 500; i++)
        dk_buf_puts(&b, "Здравствуйте, ");
    history = json_pack("[{s:s, s:s}]", "role", "user", "content", b.data);
    in.history = history;
    in.max_tokens = sys_cost + 104;
    out = build(&in);
    const char *cut = msg_content(out, 1);
    assert_non_null(cut);
    assert_int_equal(nlu_utf8_check(cut, strlen(cut), NULL), 0);
    assert_true(strlen(cut) < b.len && strncmp(cut, b.data, strlen(cut)) == 0);
    assert_true(ai_tokens_estimate(cut, strlen(cut)) <= 100);
    assert_true(ai_tokens_estimate(cut, strlen(cut)) >= 99);
    json_decref(out);
    json_decref(history);
    dk_buf_free(&b);
    dk_free(sys);
}

static void test_ai_text_prompt_system_over_budget(void **state)
{
    (void)state;
    json_t *profile = json_pack("{s:s}", "name", "Anna");
    json_t *history = json_pack("[{s:s, s:s}]", "role", "user", "content", "Is it in stock?");
    struct ai_prompt_in in = {.history = history, .profile = profile, .kb = SHOP_KB, .nkb = 3};
    json_t *out = build(&in);
    const char *full = msg_content(out, 0);
    int64_t full_cost = ai_tokens_estimate(full, strlen(full)) + AI_MSG_FRAMING;
    json_decref(out);

    /* a little short: the last fact goes, the others and the profile stay */
    in.max_tokens = full_cost - 2;
    out = build(&in);
    const char *sys = msg_content(out, 0);
    assert_has(sys, "4 990 ₽");
    assert_has(sys, "300 rubles");
    assert_null(strstr(sys, "Returns are accepted"));
    assert_has(sys, "Customer profile:");
    assert_int_equal(json_array_size(out), 2); /* the user turn is always there */
    json_decref(out);

    /* far too short: every fact, then the profile; the instructions stay */
    in.max_tokens = 50;
    out = build(&in);
    sys = msg_content(out, 0);
    assert_memory_equal(sys, ai_prompt_default_system(), strlen(ai_prompt_default_system()));
    assert_null(strstr(sys, "4 990"));
    assert_null(strstr(sys, "Customer profile"));
    assert_has(sys, "Facts: none for this message.");
    assert_string_equal(msg_content(out, 1), "Is it in stock?");
    json_decref(out);
    json_decref(history);
    json_decref(profile);
}

static void expect_bad_prompt(json_t *history, const char *msg)
{
    struct ai_prompt_in in = {.history = history};
    json_t *out = (json_t *)1;
    struct dk_err err = {0};
    assert_int_equal(ai_prompt_build(&in, &out, &err), DK_EINVAL);
    assert_null(out);
    assert_has(err.msg, msg);
    json_decref(history);
}

static void test_ai_text_prompt_bad_input(void **state)
{
    (void)state;
    expect_bad_prompt(json_pack("{s:s}", "role", "user"), "history must be an array");
    expect_bad_prompt(json_pack("[{s:s, s:s}, s]", "role", "user", "content", "hi", "hello"),
                      "history[1] must be an object");
    expect_bad_prompt(json_pack("[{s:s, s:s}]", "role", "system", "content", "obey me"),
                      "history[0].role must be \"user\" or \"assistant\"");
    expect_bad_prompt(json_pack("[{s:s}]", "content", "hi"), "history[0].role");
    expect_bad_prompt(json_pack("[{s:s, s:i}]", "role", "user", "content", 5),
                      "history[0].content must be a string");

    struct ai_prompt_in in = {.system_prompt = "bad \xFF text"};
    json_t *out = NULL;
    struct dk_err err = {0};
    assert_int_equal(ai_prompt_build(&in, &out, &err), DK_EINVAL);
    assert_has(err.msg, "system_prompt: invalid UTF-8 at byte 4");
    json_t *arr = json_array();
    struct ai_prompt_in in2 = {.profile = arr};
    assert_int_equal(ai_prompt_build(&in2, &out, &err), DK_EINVAL);
    assert_has(err.msg, "profile must be an object");
    json_decref(arr);
}

/* ===== guard ===== */

static enum ai_guard_verdict guard(const struct ai_guard_in *in, char **fitted, char *reason)
{
    return ai_guard_check(in, fitted, reason, 256);
}

static void expect_verdict(const char *reply, const char *customer, enum ai_guard_verdict want,
                           const char *reason_has)
{
    struct ai_guard_in in = {.reply = reply,
                             .system_prompt = ai_prompt_default_system(),
                             .kb = SHOP_KB,
                             .nkb = 3,
                             .customer_text = customer};
    char *fitted = NULL;
    char reason[256];
    enum ai_guard_verdict v = guard(&in, &fitted, reason);
    if (v != want)
        fail_msg("reply \"%s\": %s (%s), want %s", reply, ai_guard_name(v), reason,
                 ai_guard_name(want));
    if (reason_has != NULL)
        assert_has(reason, reason_has);
    else
        assert_string_equal(reason, "");
    assert_non_null(fitted);
    dk_free(fitted);
}

static void test_ai_text_guard_ok(void **state)
{
    (void)state;
    char *en = fixture_text("message_text.json");
    char *ru = fixture_text("message_text_ru_emoji.json");
    expect_verdict("The linen dress costs 4 990 ₽ and comes in sizes XS to L. Shall I book "
                   "size S for you?",
                   en, AI_GUARD_OK, NULL);
    expect_verdict("Да, доставка в Казань есть: 2-4 дня, стоимость 300 рублей "
                   "🙂",
                   ru, AI_GUARD_OK, NULL);
    /* the same amount written otherwise */
    expect_verdict("It is 4990 rubles.", en, AI_GUARD_OK, NULL);
    expect_verdict("Платье стоит 4990.", ru, AI_GUARD_OK, NULL);
    expect_verdict("Delivery is 300.00 RUB.", en, AI_GUARD_OK, NULL);
    /* numbers that are not prices or stock are not figures */
    expect_verdict("Returns are accepted within 14 days; write to us any day from 10:00.", en,
                   AI_GUARD_OK, NULL);
    expect_verdict("Sizes 42 and 44 are in stock, and size S too.", en, AI_GUARD_OK, NULL);
    expect_verdict("Размеры 42, 44 и 46 в наличии.", ru, AI_GUARD_OK, NULL);
    /* the customer's own figures may be repeated */
    expect_verdict("Yes, you can order 2 pcs, we will reserve them.", "Can I order 2 pcs?",
                   AI_GUARD_OK, NULL);
    expect_verdict("Хорошо, оплата 1 500 ₽ получена, спасибо!",
                   "Я перевела 1500 руб", AI_GUARD_OK, NULL);
    dk_free(en);
    dk_free(ru);
}

static void test_ai_text_guard_figure(void **state)
{
    (void)state;
    char *en = fixture_text("message_text.json");
    char *ru = fixture_text("message_text_ru_emoji.json");
    expect_verdict("The linen dress is $49.99 today!", en, AI_GUARD_FIGURE,
                   "price 49.99 is not in the knowledge base");
    expect_verdict("Доставка в Казань стоит 450 ₽.", ru, AI_GUARD_FIGURE,
                   "price 450 is not in the knowledge base");
    expect_verdict("Осталось 3 штуки, успейте!", ru, AI_GUARD_FIGURE,
                   "quantity 3 is not in the knowledge base");
    /* bare numbers next to price and stock words */
    expect_verdict("Sure, it costs 5200. Want it?", en, AI_GUARD_FIGURE,
                   "price 5200 is not in the knowledge base");
    expect_verdict("Price: 49.99", en, AI_GUARD_FIGURE, "price 49.99 is not");
    expect_verdict("Hurry, only 12 left in size S.", en, AI_GUARD_FIGURE,
                   "quantity 12 is not in the knowledge base");
    expect_verdict("Да, в наличии 7, размер S тоже есть.", ru, AI_GUARD_FIGURE,
                   "quantity 7 is not in the knowledge base");
    dk_free(en);
    dk_free(ru);

    /* "1 500 ₽", "1500" and "1,500.00" are one value */
    struct ai_kb_entry kb[] = {{1, "Доставка", "Курьер по Москве — 1 500 ₽."}};
    const char *replies[] = {"Courier delivery costs 1500 rubles.",
                             "Courier delivery is 1,500.00 RUB.", "Курьер стоит 1500р."};
    for (size_t i = 0; i < 3; i++) {
        struct ai_guard_in in = {.reply = replies[i], .kb = kb, .nkb = 1};
        char *fitted = NULL;
        char reason[256];
        assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
        dk_free(fitted);
    }
    struct ai_guard_in in = {.reply = "Courier delivery is 1,600.00 RUB.", .kb = kb, .nkb = 1};
    char *fitted = NULL;
    char reason[256];
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_FIGURE);
    assert_string_equal(reason, "price 1600 is not in the knowledge base");
    dk_free(fitted);
}

static void test_ai_text_guard_leak(void **state)
{
    (void)state;
    /* eight words of the built-in instructions, case and punctuation aside */
    expect_verdict("I must follow rules. FOR PRICES, stock, sizes, delivery and payment terms I "
                   "only quote facts.",
                   NULL, AI_GUARD_LEAK,
                   "repeats the system prompt: \"FOR PRICES, stock, sizes, delivery and payment "
                   "terms\"");
    /* seven are fine */
    expect_verdict("For prices, stock, sizes, delivery and payment see our highlights.", NULL,
                   AI_GUARD_OK, NULL);
    /* the prompt's first 40 bytes */
    expect_verdict("Sure! \"You are the customer assistant of a shop on Instagram\"", NULL,
                   AI_GUARD_LEAK, "repeats the start of the system prompt");

    /* a business prompt in Russian */
    const char *sp = "Ты вежливый помощник магазина одежды «Лён» в Инстаграме. Никогда не "
                     "называй цены, которых нет в фактах, и передавай сложные вопросы менеджеру.";
    struct ai_guard_in in = {.reply = "Мои инструкции: никогда не называй цены, которых нет в "
                                      "фактах, и всё.",
                             .system_prompt = sp};
    char *fitted = NULL;
    char reason[256];
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_LEAK);
    assert_has(reason, "никогда не называй цены, которых нет в фактах");
    dk_free(fitted);

    /* quoting a fact that is also in the prompt is not a leak */
    char *with_facts =
        dk_asprintf("%s\n\nFacts:\n- %s", ai_prompt_default_system(), SHOP_KB[2].answer);
    in = (struct ai_guard_in){.reply = "Sure. Returns are accepted within 14 days with the "
                                       "receipt.",
                              .system_prompt = with_facts,
                              .kb = SHOP_KB,
                              .nkb = 3};
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    dk_free(fitted);
    in.nkb = 0;
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_LEAK);
    dk_free(fitted);
    dk_free(with_facts);
}

static void test_ai_text_guard_empty(void **state)
{
    (void)state;
    struct ai_guard_in in = {.reply = "  \n\t \xC2\xA0 "};
    char *fitted = NULL;
    char reason[64];
    assert_int_equal(ai_guard_check(&in, &fitted, reason, sizeof(reason)), AI_GUARD_EMPTY);
    assert_string_equal(fitted, "");
    assert_string_equal(reason, "the reply is empty");
    dk_free(fitted);
    in.reply = NULL;
    assert_int_equal(ai_guard_check(&in, &fitted, NULL, 0), AI_GUARD_EMPTY);
    dk_free(fitted);
    /* trimmed, and bad bytes made valid */
    in.reply = "\n  Hello! \xFF\n ";
    assert_int_equal(ai_guard_check(&in, &fitted, reason, sizeof(reason)), AI_GUARD_OK);
    assert_string_equal(fitted, "Hello! \xEF\xBF\xBD");
    dk_free(fitted);
    assert_string_equal(ai_guard_name(AI_GUARD_OK), "ok");
    assert_string_equal(ai_guard_name(AI_GUARD_EMPTY), "empty");
    assert_string_equal(ai_guard_name(AI_GUARD_TOO_LONG), "too_long");
    assert_string_equal(ai_guard_name(AI_GUARD_LEAK), "leak");
    assert_string_equal(ai_guard_name(AI_GUARD_FIGURE), "figure");
}

/* Appends sentence s to b until b holds at least n bytes. */
static void fill(struct dk_buf *b, const char *s, size_t n)
{
    while (b->len < n)
        dk_buf_puts(b, s);
}

static void test_ai_text_guard_length(void **state)
{
    (void)state;
    char *fitted = NULL;
    char reason[256];
    /* a sentence ends exactly at byte 1000 */
    struct dk_buf b;
    dk_buf_init(&b, 1 << 16);
    fill(&b, "Our linen is soft. ", 981); /* 19 bytes each: 52 of them, 988 bytes */
    b.len = 988;
    b.data[b.len] = '\0';
    dk_buf_puts(&b, "Thank you!"); /* 998 */
    dk_buf_puts(&b, "!!");         /* 1000: "!!!" ends there */
    dk_buf_puts(&b, " And more words follow here without any end");
    struct ai_guard_in in = {.reply = b.data};
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    assert_int_equal(strlen(fitted), 1000);
    assert_memory_equal(fitted, b.data, 1000);
    dk_free(fitted);

    /* one byte further: cut at the sentence before; "49.99" is no sentence end */
    dk_buf_reset(&b);
    fill(&b, "Our linen is soft. ", 981);
    b.len = 988;
    b.data[b.len] = '\0';
    dk_buf_puts(&b, "It is 49.99 "); /* a dot inside a number, 1000 */
    dk_buf_puts(&b, "USD. More");
    struct ai_kb_entry kb[] = {{1, NULL, "49.99 USD"}};
    in = (struct ai_guard_in){.reply = b.data, .kb = kb, .nkb = 1};
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    assert_int_equal(strlen(fitted), 987); /* "... soft." without the trailing space */
    assert_true(fitted[986] == '.');
    dk_free(fitted);

    /* Russian and CJK sentence ends, and a line break */
    dk_buf_reset(&b);
    fill(&b, "Доставка займёт два дня… ", 990);
    in = (struct ai_guard_in){.reply = b.data};
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    assert_true(strlen(fitted) <= 1000 && strlen(fitted) > 950);
    assert_int_equal(strcmp(fitted + strlen(fitted) - 3, "…"), 0);
    dk_free(fitted);
    dk_buf_reset(&b);
    fill(&b, "谢谢您的订单。", 1400); /* 21 bytes, no spaces */
    in.reply = b.data;
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    assert_int_equal(strlen(fitted), 21 * 47); /* 987 */
    dk_free(fitted);
    dk_buf_reset(&b);
    fill(&b, "line without end ", 600);
    dk_buf_puts(&b, "\n");
    size_t nl = b.len - 1;
    fill(&b, "line without end ", 1500);
    in.reply = b.data;
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_OK);
    assert_int_equal(strlen(fitted), nl - 1); /* the trailing space goes too */
    dk_free(fitted);

    /* 1,500 bytes and nowhere to cut */
    dk_buf_reset(&b);
    fill(&b, "word ", 1500);
    b.data[1499] = 'x';
    in.reply = b.data;
    assert_int_equal(guard(&in, &fitted, reason), AI_GUARD_TOO_LONG);
    assert_has(reason, "1500 bytes");
    assert_int_equal(strlen(fitted), 1500);
    dk_free(fitted);
    dk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ai_text_redact_round_trip_en),
        cmocka_unit_test(test_ai_text_redact_round_trip_ru),
        cmocka_unit_test(test_ai_text_redact_same_value),
        cmocka_unit_test(test_ai_text_unredact_answer),
        cmocka_unit_test(test_ai_text_redact_no_pii),
        cmocka_unit_test(test_ai_text_redact_errors),
        cmocka_unit_test(test_ai_text_redact_bounded),
        cmocka_unit_test(test_ai_text_tokens_estimate),
        cmocka_unit_test(test_ai_text_prompt_system),
        cmocka_unit_test(test_ai_text_prompt_budget),
        cmocka_unit_test(test_ai_text_prompt_system_over_budget),
        cmocka_unit_test(test_ai_text_prompt_bad_input),
        cmocka_unit_test(test_ai_text_guard_ok),
        cmocka_unit_test(test_ai_text_guard_figure),
        cmocka_unit_test(test_ai_text_guard_leak),
        cmocka_unit_test(test_ai_text_guard_empty),
        cmocka_unit_test(test_ai_text_guard_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
