/* Unit tests of nlu text handling: UTF-8 checks, tokens, normalisation, stems, languages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/nlu.h"

/* One letter per token kind, in enum order: word, number, price, emoji, emoticon, URL,
 * e-mail, handle, hashtag, punctuation. */
static const char KIND_CHARS[] = "WN$EOUMH#P";

/* Renders the tokens of s as "K:norm|K:norm…" in buf. */
static const char *render(const char *s, char *buf, size_t cap)
{
    struct nlu_tokens t;
    struct dk_err err;
    nlu_tokens_init(&t);
    int rc = nlu_tokenize(s, strlen(s), &t, &err);
    assert_int_equal(rc, 0);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t.n; i++) {
        int n = snprintf(buf + o, cap - o, "%s%c:%s", i ? "|" : "", KIND_CHARS[t.v[i].kind],
                         t.v[i].norm);
        assert_true(n > 0 && (size_t)n < cap - o);
        o += (size_t)n;
    }
    nlu_tokens_free(&t);
    return buf;
}

struct tok_case {
    const char *in;
    const char *want;
};

static void check_cases(const struct tok_case *cases, size_t n)
{
    char buf[2048];
    for (size_t i = 0; i < n; i++) {
        const char *got = render(cases[i].in, buf, sizeof(buf));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("tokens of \"%s\":\n got  %s\n want %s", cases[i].in, got, cases[i].want);
    }
}

/* ---- UTF-8 ---- */

static void expect_bad(const char *s, size_t len, const char *at)
{
    struct dk_err err;
    assert_int_equal(nlu_utf8_check(s, len, &err), DK_EINVAL);
    if (strstr(err.msg, at) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", err.msg, at);
}

static void test_nlu_text_utf8_check(void **state)
{
    (void)state;
    const char ok[] = "hello привет 👍🏽 € \xF4\x8F\xBF\xBF \xEF\xBF\xBF";
    assert_int_equal(nlu_utf8_check(ok, sizeof(ok) - 1, NULL), 0);
    assert_int_equal(nlu_utf8_check("", 0, NULL), 0);
    /* each class of bad sequence, with the offset of its first byte */
    expect_bad("abc\xC0\xAF", 5, "at byte 3: overlong");
    expect_bad("abcd\xE0\x80\xAF", 7, "at byte 4: overlong");
    expect_bad("\xF0\x80\x80\xAF", 4, "at byte 0: overlong");
    expect_bad("ab\xED\xA0\x80", 5, "at byte 2: surrogate");
    expect_bad("ab\xF4\x90\x80\x80", 6, "at byte 2: code point above U+10FFFF");
    expect_bad("\xF5\x80\x80\x80", 4, "above U+10FFFF");
    expect_bad("0123456789abcdef\xE2\x82", 18, "invalid UTF-8 at byte 16: truncated");
    expect_bad("\xE2\x82"
               "A",
               3, "at byte 0: truncated");
    expect_bad("xy\x80", 3, "at byte 2: unexpected continuation byte");
    expect_bad("0123456789abcdefg\0h", 19, "invalid UTF-8 at byte 17: NUL byte");
    expect_bad("\xFF", 1, "at byte 0");
    /* the error leaves the token list empty */
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    assert_int_equal(nlu_tokenize("one two", 7, &t, NULL), 0);
    assert_int_equal(t.n, 2);
    struct dk_err err;
    assert_int_equal(nlu_tokenize("one\xC3", 4, &t, &err), DK_EINVAL);
    assert_int_equal(t.n, 0);
    assert_int_equal(err.code, DK_EINVAL);
    assert_int_equal(nlu_tokenize("a\0b", 3, &t, NULL), DK_EINVAL);
    nlu_tokens_free(&t);
}

static void test_nlu_text_limits(void **state)
{
    (void)state;
    struct nlu_tokens t;
    struct dk_err err;
    nlu_tokens_init(&t);
    assert_int_equal(nlu_tokenize("", 0, &t, NULL), 0);
    assert_int_equal(t.n, 0);
    assert_int_equal(nlu_tokenize(NULL, 0, &t, NULL), 0);
    assert_int_equal(nlu_tokenize(" \t\n ", 4, &t, NULL), 0);
    assert_int_equal(t.n, 0);

    char *big = dk_malloc(NLU_MAX_TEXT + 2);
    for (size_t i = 0; i < NLU_MAX_TEXT + 1; i++)
        big[i] = (i % 4 == 3) ? ' ' : 'a';
    assert_int_equal(nlu_tokenize(big, NLU_MAX_TEXT, &t, &err), 0);
    assert_int_equal(t.n, NLU_MAX_TEXT / 4);
    assert_string_equal(t.v[t.n - 1].norm, "aa"); /* "aaa" squeezed */
    assert_int_equal(t.v[t.n - 1].end, NLU_MAX_TEXT - 1);
    assert_int_equal(nlu_tokenize(big, NLU_MAX_TEXT + 1, &t, &err), DK_ETOOBIG);
    assert_int_equal(err.code, DK_ETOOBIG);
    assert_int_equal(t.n, 0);
    dk_free(big);
    nlu_tokens_free(&t);
}

/* ---- tokens ---- */

static void test_nlu_text_words_and_scripts(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        {"привет hello", "W:привет|W:hello"},
        {"I don't like it's t-shirt", "W:i|W:don't|W:like|W:it's|W:t-shirt"},
        {"какой-то товар, iphone15 2pcs", "W:какой-то|W:товар|P:,|W:iphone15|W:2pcs"},
        {"'quoted' dogs' -dash- end-", "P:'|W:quoted|P:'|W:dogs|P:'|P:-|W:dash|P:-|W:end|P:-"},
        {"don’t", "W:don't"},
        {"مرحبا بك", "W:مرحبا|W:بك"},
        {"hello,world!!!", "W:hello|P:,|W:world|P:!!!"},
        {"what?! ok... wait…", "W:what|P:?!|W:ok|P:...|W:wait|P:..."},
        {"a -- b ** c", "W:a|P:--|W:b|P:**|W:c"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));

    struct nlu_tokens t;
    nlu_tokens_init(&t);
    const char *s = "привет hello مرحبا 42 iPhone";
    assert_int_equal(nlu_tokenize(s, strlen(s), &t, NULL), 0);
    assert_int_equal(t.n, 5);
    assert_int_equal(t.v[0].script, NLU_SCRIPT_CYRILLIC);
    assert_int_equal(t.v[1].script, NLU_SCRIPT_LATIN);
    assert_int_equal(t.v[2].script, NLU_SCRIPT_ARABIC);
    assert_int_equal(t.v[3].kind, NLU_TOK_NUMBER);
    assert_int_equal(t.v[4].script, NLU_SCRIPT_LATIN);
    assert_int_equal(t.v[4].flags, 0);
    nlu_tokens_free(&t);
}

static void test_nlu_text_emoji(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        /* ZWJ family, skin tone, flag, keycaps, variation selector */
        {"👨‍👩‍👧", "E:👨‍👩‍👧"},
        {"ok👍🏽!", "W:ok|E:👍🏽|P:!"},
        {"🇷🇺🇺🇸", "E:🇷🇺|E:🇺🇸"},
        {"1️⃣ 2⃣ #️⃣ *️⃣", "E:1️⃣|E:2⃣|E:#️⃣|E:*️⃣"},
        {"❤️❤️❤", "E:❤️|E:❤️|E:❤"},
        {"😂😂😂", "E:😂|E:😂|E:😂"},
        {"👩🏽‍💻 done", "E:👩🏽‍💻|W:done"},
        {"love🔥it", "W:love|E:🔥|W:it"},
        {"© 2024 ™ №5", "P:©|N:2024|P:™|P:№|N:5"},
        {"‼️ ‼", "E:‼️|P:!!"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nlu_text_emoticons(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        {":) :-) :( :D ;) ;-) :P", "O::)|O::-)|O::(|O::D|O:;)|O:;-)|O::P"},
        {"xD XD <3 </3 :'(", "O:xD|O:XD|O:<3|O:</3|O::'("},
        {"спасибо))) жаль(((", "W:спасибо|O:)))|W:жаль|O:((("},
        {"ok)) ok) (ok)", "W:ok|O:))|W:ok|P:)|P:(|W:ok|P:)"},
        {"hi :DDD =) ^_^", "W:hi|O::DDD|O:=)|O:^_^"},
        {"Xbox xDay at 12:30", "W:xbox|W:xday|W:at|N:12|P::|N:30"},
        {"re: x", "W:re|P::|W:x"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nlu_text_numbers_and_prices(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        {"42 3.5 1,000 1 000", "N:42|N:3.5|N:1,000|N:1|N:000"},
        {"$20 20$ €15.50 1500₽", "$:$20|$:20$|$:€15.50|$:1500₽"},
        {"1500р 1500РУБ 15eur 15EUR 20грн", "$:1500р|$:1500руб|$:15eur|$:15eur|$:20грн"},
        {"1500рублей 15 eur", "W:1500рублей|N:15|W:eur"},
        {"price: $5.", "W:price|P::|$:$5|P:."},
        {"12.05.2024 5, 6", "N:12.05.2024|N:5|P:,|N:6"},
        {"$ 5 €", "P:$|N:5|P:€"},
        {"3pm 15.5kg", "W:3pm|N:15.5|W:kg"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nlu_text_urls_handles_tags(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        {"see https://Shop.com/Item?id=5.", "W:see|U:https://shop.com/Item?id=5|P:."},
        {"(http://x.io/a_(b)) ok", "P:(|U:http://x.io/a_(b)|P:)|W:ok"},
        {"www.Zara.com, shop.com and t.me/shop;", "U:www.zara.com|P:,|U:shop.com|W:and|"
                                                  "U:t.me/shop|P:;"},
        {"i love it.it was ok.Com", "W:i|W:love|W:it|P:.|W:it|W:was|W:ok|P:.|W:com"},
        {"mail Me.Name+x@Mail.ru.", "W:mail|M:me.name+x@mail.ru|P:."},
        {"me@home ok", "W:me|H:@home|W:ok"},
        {"@my.shop_1. @Shop", "H:@my.shop_1|P:.|H:@shop"},
        {"#скидки #Sale #12345 #", "#:#скидки|#:#sale|P:#|N:12345|P:#"},
        {"#СКИДКИ2024 #love❤️", "#:#скидки2024|#:#love|E:❤️"},
        {"email@ x@y", "W:email|P:@|W:x|H:@y"},
        {"3.5.ru", "U:3.5.ru"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nlu_text_spans(void **state)
{
    (void)state;
    const char *s = "Привет!! 👍🏽 Цена $20? see shop.com/x :) @ann #Скидки "
                    "ＨＥＬＬＯ";
    static const char *const want[] = {"Привет", "!!",   "👍🏽", "Цена",
                                       "$20",    "?",    "see",      "shop.com/x",
                                       ":)",     "@ann", "#Скидки",  "ＨＥＬＬＯ"};
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    assert_int_equal(nlu_tokenize(s, strlen(s), &t, NULL), 0);
    assert_int_equal(t.n, sizeof(want) / sizeof(want[0]));
    uint32_t prev = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct nlu_token *k = &t.v[i];
        assert_true(k->start >= prev && k->start < k->end && k->end <= strlen(s));
        assert_int_equal(k->end - k->start, strlen(want[i]));
        assert_memory_equal(s + k->start, want[i], strlen(want[i]));
        assert_int_equal(k->norm_len, strlen(k->norm));
        prev = k->end;
    }
    assert_string_equal(t.v[11].norm, "hello");
    nlu_tokens_free(&t);
}

/* ---- normalisation and flags ---- */

static void test_nlu_text_normalisation(void **state)
{
    (void)state;
    static const struct tok_case cases[] = {
        {"ＨＥＬＬＯ ｗｏｒｌｄ１", "W:hello|W:world1"},
        {"ПРИВЕТ Ёлка ёж ЁЖ", "W:привет|W:елка|W:еж|W:еж"},
        {"Straße STRASSE", "W:strasse|W:strasse"},
        {"ﬁne café cafe\xCC\x81", "W:fine|W:café|W:café"},
        {"ÜBER Ґанок ЇЖАК", "W:über|W:ґанок|W:їжак"},
        {"soft\xC2\xADhyphen", "W:softhyphen"},
        {"！！ ？", "P:!!|P:?"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_nlu_text_flags(void **state)
{
    (void)state;
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    const char *s = "sooooo GOOD оооочень СУПЕР I OK cool Hello ПРИВЕЕЕЕТ";
    static const char *const norms[] = {"soo", "good", "оочень", "супер",  "i",
                                        "ok",  "cool", "hello",  "привеет"};
    static const uint8_t flags[] = {NLU_TOKF_ELONGATED,
                                    NLU_TOKF_CAPS,
                                    NLU_TOKF_ELONGATED,
                                    NLU_TOKF_CAPS,
                                    0,
                                    NLU_TOKF_CAPS,
                                    0,
                                    0,
                                    NLU_TOKF_CAPS | NLU_TOKF_ELONGATED};
    assert_int_equal(nlu_tokenize(s, strlen(s), &t, NULL), 0);
    assert_int_equal(t.n, 9);
    for (size_t i = 0; i < t.n; i++) {
        assert_string_equal(t.v[i].norm, norms[i]);
        if (t.v[i].flags != flags[i])
            fail_msg("flags of %s: %d, want %d", norms[i], t.v[i].flags, flags[i]);
    }
    nlu_tokens_free(&t);
}

/* Norm pointers stay valid when the text buffer grows while tokenizing: U+FDFA expands to
 * 33 bytes under NFKC, far more than the room reserved up front. */
static void test_nlu_text_buffer_growth(void **state)
{
    (void)state;
    struct dk_buf b;
    dk_buf_init(&b, NLU_MAX_TEXT);
    for (int i = 0; i < 300; i++)
        assert_int_equal(dk_buf_puts(&b, "\xEF\xB7\xBA w "), 0);
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    assert_int_equal(nlu_tokenize("x", 1, &t, NULL), 0);
    assert_int_equal(nlu_tokenize(b.data, b.len, &t, NULL), 0);
    assert_int_equal(t.n, 600);
    for (size_t i = 0; i < t.n; i += 2) {
        assert_int_equal(t.v[i].norm_len, strlen(t.v[i].norm));
        assert_true(t.v[i].norm_len > 20);
        assert_string_equal(t.v[i + 1].norm, "w");
    }
    /* a word longer than the stack buffer of code points */
    dk_buf_reset(&b);
    for (int i = 0; i < 400; i++)
        assert_int_equal(dk_buf_puts(&b, "Я"), 0);
    assert_int_equal(dk_buf_puts(&b, "\xCC\x81"), 0);
    assert_int_equal(nlu_tokenize(b.data, b.len, &t, NULL), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0].norm, "яя\xCC\x81");
    assert_int_equal(t.v[0].flags, NLU_TOKF_CAPS | NLU_TOKF_ELONGATED);
    /* the small text again: same buffers, right answer */
    assert_int_equal(nlu_tokenize("Hi!", 3, &t, NULL), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].norm, "hi");
    nlu_tokens_free(&t);
    nlu_tokens_free(&t); /* twice is fine */
    dk_buf_free(&b);
}

/* ---- stems ---- */

static void test_nlu_text_stems(void **state)
{
    (void)state;
    struct nlu_stemmer *st = nlu_stemmer_new();
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    const char *s = "Running deliveries доставки заказала камиона $20 :)";
    assert_int_equal(nlu_tokenize(s, strlen(s), &t, NULL), 0);
    assert_int_equal(t.n, 7);
    size_t n;
    const char *r = nlu_stem(st, NLU_LANG_EN, &t.v[0], &n);
    assert_string_equal(r, "run");
    assert_int_equal(n, 3);
    assert_string_equal(nlu_stem(st, NLU_LANG_EN, &t.v[1], &n), "deliveri");
    assert_string_equal(nlu_stem(st, NLU_LANG_RU, &t.v[2], &n), "доставк");
    assert_string_equal(nlu_stem(st, NLU_LANG_EN, &t.v[3], &n), "заказа");
    /* Ukrainian: no Snowball stemmer, the word stays */
    assert_string_equal(nlu_stem(st, NLU_LANG_UK, &t.v[4], &n), "камиона");
    assert_int_equal(n, strlen("камиона"));
    /* non-words come back as they are */
    assert_string_equal(nlu_stem(st, NLU_LANG_EN, &t.v[5], &n), "$20");
    assert_true(nlu_stem(st, NLU_LANG_EN, &t.v[6], &n) == t.v[6].norm);
    /* Latin words follow the language of the message */
    const char *es = "camisetas bonitas";
    assert_int_equal(nlu_tokenize(es, strlen(es), &t, NULL), 0);
    assert_string_equal(nlu_stem(st, NLU_LANG_ES, &t.v[0], &n), "camiset");
    assert_string_equal(nlu_stem(st, NLU_LANG_RU, &t.v[1], &n), "bonita");
    /* the cache keeps languages apart and gives the same answer twice */
    assert_string_equal(nlu_stem(st, NLU_LANG_EN, &t.v[0], &n), "camiseta");
    assert_string_equal(nlu_stem(st, NLU_LANG_ES, &t.v[0], &n), "camiset");
    assert_string_equal(nlu_stem(st, NLU_LANG_EN, &t.v[0], &n), "camiseta");
    assert_int_equal(n, 8);
    /* words too long for the cache */
    const char *longw = "достопримечательностями";
    assert_int_equal(nlu_tokenize(longw, strlen(longw), &t, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(nlu_stem(st, NLU_LANG_RU, &t.v[0], &n), "достопримечательн");
        assert_int_equal(n, strlen("достопримечательн"));
    }
    const char *de = "Kleider";
    assert_int_equal(nlu_tokenize(de, strlen(de), &t, NULL), 0);
    assert_string_equal(nlu_stem(st, NLU_LANG_DE, &t.v[0], &n), "kleid");
    nlu_tokens_free(&t);
    nlu_stemmer_free(st);
    nlu_stemmer_free(NULL);
}

/* ---- languages ---- */

static void test_nlu_text_lang_codes(void **state)
{
    (void)state;
    for (int l = 0; l < NLU_LANG_COUNT; l++)
        assert_int_equal(nlu_lang_from_code(nlu_lang_code((enum nlu_lang)l)), l);
    assert_string_equal(nlu_lang_code(NLU_LANG_UNKNOWN), "und");
    assert_string_equal(nlu_lang_code(NLU_LANG_UK), "uk");
    assert_string_equal(nlu_lang_code(NLU_LANG_COUNT), "und");
    assert_int_equal(nlu_lang_from_code("xx"), NLU_LANG_UNKNOWN);
    assert_int_equal(nlu_lang_from_code(NULL), NLU_LANG_UNKNOWN);
}

struct lang_case {
    const char *text;
    enum nlu_lang lang;
};

static const struct lang_case LANG_CASES[] = {
    {"Hi, how much is this dress?", NLU_LANG_EN},
    {"I want to order the black one please", NLU_LANG_EN},
    {"Do you ship to Canada? Thanks!", NLU_LANG_EN},
    {"Привет! Сколько стоит это платье?", NLU_LANG_RU},
    {"Здравствуйте, когда будет доставка заказа?", NLU_LANG_RU},
    {"Хочу купить черный свитер, есть размер M?", NLU_LANG_RU},
    {"Привіт! Скільки коштує ця сукня?", NLU_LANG_UK},
    {"Добрий день, коли буде доставка замовлення?", NLU_LANG_UK},
    {"Дякую, все отримала, дуже гарна якість", NLU_LANG_UK},
    {"Hola, ¿cuánto cuesta este vestido?", NLU_LANG_ES},
    {"Quiero comprar la camiseta negra, gracias", NLU_LANG_ES},
    {"¿Hacen envíos a México?", NLU_LANG_ES},
    {"Hallo, wie viel kostet das Kleid?", NLU_LANG_DE},
    {"Ich möchte die schwarze Jacke bestellen", NLU_LANG_DE},
    {"Gibt es das auch in Größe M? Danke", NLU_LANG_DE},
    {"Bonjour, combien coûte cette robe ?", NLU_LANG_FR},
    {"Je voudrais commander le pull noir, merci", NLU_LANG_FR},
    {"Est-ce que vous livrez en Belgique ?", NLU_LANG_FR},
    {"Ciao, quanto costa questo vestito?", NLU_LANG_IT},
    {"Vorrei ordinare la borsa nera, grazie", NLU_LANG_IT},
    {"Spedite anche in Svizzera? È possibile?", NLU_LANG_IT},
    {"Olá, quanto custa este vestido?", NLU_LANG_PT},
    {"Quero comprar a camiseta preta, obrigado", NLU_LANG_PT},
    {"Vocês fazem entrega para Portugal? Não encontrei", NLU_LANG_PT},
    {"Merhaba, bu elbisenin fiyatı nedir?", NLU_LANG_TR},
    {"Siyah ceketi sipariş etmek istiyorum, teşekkürler", NLU_LANG_TR},
    {"Kargo ne zaman gelir? Çok teşekkür ederim", NLU_LANG_TR},
    {"مرحبا، كم سعر هذا الفستان؟", NLU_LANG_AR},
    {"أريد أن أطلب الحقيبة السوداء، شكرا", NLU_LANG_AR},
    {"هل يوجد توصيل إلى دبي؟", NLU_LANG_AR},
    {"privet, skolko stoit?", NLU_LANG_RU},
};

static struct nlu_lang_guess guess(struct nlu_tokens *t, const char *s)
{
    assert_int_equal(nlu_tokenize(s, strlen(s), t, NULL), 0);
    return nlu_lang_detect(t);
}

static void test_nlu_text_lang_detect(void **state)
{
    (void)state;
    struct nlu_tokens t;
    nlu_tokens_init(&t);
    for (size_t i = 0; i < sizeof(LANG_CASES) / sizeof(LANG_CASES[0]); i++) {
        struct nlu_lang_guess g = guess(&t, LANG_CASES[i].text);
        if (g.lang != LANG_CASES[i].lang || g.confidence < 0.4f || g.confidence > 1.0f)
            fail_msg("\"%s\": %s (%.2f), want %s", LANG_CASES[i].text, nlu_lang_code(g.lang),
                     (double)g.confidence, nlu_lang_code(LANG_CASES[i].lang));
    }
    /* no letters: unknown, confidence 0 */
    static const char *const neutral[] = {"👍", "12:30", "", "!!! :)", "$20"};
    for (size_t i = 0; i < sizeof(neutral) / sizeof(neutral[0]); i++) {
        struct nlu_lang_guess g = guess(&t, neutral[i]);
        assert_int_equal(g.lang, NLU_LANG_UNKNOWN);
        assert_true(g.confidence == 0.0f);
    }
    /* short ambiguous Latin: a low confidence */
    struct nlu_lang_guess g = guess(&t, "ok");
    assert_true(g.confidence < 0.3f);
    g = guess(&t, "wow");
    assert_true(g.confidence < 0.3f);
    /* a long sentence is surer than a short one */
    float short_conf = guess(&t, "the dress").confidence;
    float long_conf = guess(&t, "the dress is what I want, and I will pay for it").confidence;
    assert_true(long_conf > short_conf);
    nlu_tokens_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nlu_text_utf8_check),
        cmocka_unit_test(test_nlu_text_limits),
        cmocka_unit_test(test_nlu_text_words_and_scripts),
        cmocka_unit_test(test_nlu_text_emoji),
        cmocka_unit_test(test_nlu_text_emoticons),
        cmocka_unit_test(test_nlu_text_numbers_and_prices),
        cmocka_unit_test(test_nlu_text_urls_handles_tags),
        cmocka_unit_test(test_nlu_text_spans),
        cmocka_unit_test(test_nlu_text_normalisation),
        cmocka_unit_test(test_nlu_text_flags),
        cmocka_unit_test(test_nlu_text_buffer_growth),
        cmocka_unit_test(test_nlu_text_stems),
        cmocka_unit_test(test_nlu_text_lang_codes),
        cmocka_unit_test(test_nlu_text_lang_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
