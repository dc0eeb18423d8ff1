/* Unit tests of the lexicon sentiment (nlu/sentiment.c, nlu/lexicon.c): labels of English and
 * Russian sentences, negation, contrast, intensifiers, caps, elongation, emoji, emotions, the
 * dense features, and that the lexicons compiled into the binary load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "nlu/lexicon_int.h"
#include "nlu/nlu.h"

static struct nlu_tokens toks;
static struct nlu_stemmer *stemmer;

static int setup(void **state)
{
    (void)state;
    nlu_tokens_init(&toks);
    stemmer = nlu_stemmer_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nlu_tokens_free(&toks);
    nlu_stemmer_free(stemmer);
    return 0;
}

static struct nlu_sentiment score_with(const char *text, enum nlu_lang lang, struct nlu_stemmer *st,
                                       float *feats)
{
    struct nlu_sentiment s;
    assert_int_equal(nlu_tokenize(text, strlen(text), &toks, NULL), 0);
    nlu_lexicon_scores(&toks, lang, st, &s, feats);
    return s;
}

static struct nlu_sentiment score(const char *text)
{
    return score_with(text, NLU_LANG_UNKNOWN, stemmer, NULL);
}

struct label_case {
    const char *text;
    enum nlu_polarity want;
};

#define POS NLU_POSITIVE
#define NEG NLU_NEGATIVE
#define NEU NLU_NEUTRAL

static void check_labels(const struct label_case *cases, size_t n, enum nlu_lang lang)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct nlu_sentiment s = score_with(cases[i].text, lang, stemmer, NULL);
        assert_true(s.score >= -1.0f && s.score <= 1.0f);
        if (s.label != cases[i].want) {
            fprintf(stderr, "case %zu \"%s\": want %s, got %s (%.3f)\n", i, cases[i].text,
                    nlu_polarity_name(cases[i].want), nlu_polarity_name(s.label), s.score);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_nlu_sentiment_english_labels(void **state)
{
    (void)state;
    static const struct label_case cases[] = {
        {"I love it!", POS},
        {"This is not bad", POS},
        {"Great quality, fast shipping, thank you!", POS},
        {"VERY GOOD quality", POS},
        {"sooo goood", POS},
        {"Absolutely gorgeous dress 😍", POS},
        {"😍😍", POS},
        {"Thanks a lot, you are the best", POS},
        {"The dress fits perfectly", POS},
        {"Amazing service, highly recommend", POS},
        {"It's kind of nice", POS},
        {"I can't wait to get it!", POS},
        {"No problem at all", POS},
        {"lol this is so cute", POS},
        {"I hate it", NEG},
        {"Good but expensive", NEG},
        {"The product is good but delivery was terrible", NEG},
        {"This is unacceptable, I want my money back!", NEG},
        {"Still waiting for my order, it never arrived", NEG},
        {"The zipper is broken 😡", NEG},
        {"😡", NEG},
        {"not good at all", NEG},
        {"I don't like the color", NEG},
        {"I don’t like the color", NEG},
        {"This is a scam, you are scammers", NEG},
        {"Worst purchase ever!!!", NEG},
        {"Terrible quality, the shirt ripped after one wash", NEG},
        {"Do you have this in black?", NEU},
        {"I would like to order two", NEU},
        {"What is the price?", NEU},
        {"Can you send me the link please", NEU},
        {"Is size M available?", NEU},
        {"Hello, where is my order?", NEU},
        {"", NEU},
    };
    check_labels(cases, sizeof(cases) / sizeof(cases[0]), NLU_LANG_EN);
    /* the script picks the lexicon when the language is unknown */
    check_labels(cases, sizeof(cases) / sizeof(cases[0]), NLU_LANG_UNKNOWN);
}

static void test_nlu_sentiment_russian_labels(void **state)
{
    (void)state;
    static const struct label_case cases[] = {
        {"Спасибо большое!", POS},
        {"Не плохо", POS},
        {"Очень понравилось, всё супер", POS},
        {"Класс))", POS},
        {"Оооочень красиво", POS},
        {"Платье огонь 🔥", POS},
        {"Обожаю ваш магазин", POS},
        {"Всё пришло быстро, качество отличное, рекомендую", POS},
        {"Благодарю за оперативность", POS},
        {"Кайф, беру!", POS},
        {"Шикарно!!!", POS},
        {"Норм, пойдёт", POS},
        {"Вы лучшие!", POS},
        {"Девочки, вы умнички, всё красивое", POS},
        {"spasibo, super", POS},
        {"Красиво, но дорого", NEG},
        {"Ужас, верните деньги, вы мошенники", NEG},
        {"Заказ не пришёл", NEG},
        {"Посылка так и не пришла", NEG},
        {"Не понравилось качество", NEG},
        {"Это развод!", NEG},
        {"Бесит, что никто не отвечает", NEG},
        {"Пришла с браком, шов порвался", NEG},
        {"Разочарована, жаль потраченных денег", NEG},
        {"Очень плохо", NEG},
        {"Жду уже месяц, сколько можно?", NEG},
        {"Не рекомендую этот магазин", NEG},
        {"Кофта линяет((", NEG},
        {"uzhas", NEG},
        {"Здравствуйте, сколько стоит?", NEU},
        {"Где мой заказ???", NEU},
        {"Есть размер M?", NEU},
        {"Какая цена доставки в Москву?", NEU},
        {"Добрый день, подскажите наличие", NEU},
        {"Доброе утро", NEU},
    };
    check_labels(cases, sizeof(cases) / sizeof(cases[0]), NLU_LANG_RU);
    check_labels(cases, sizeof(cases) / sizeof(cases[0]), NLU_LANG_UNKNOWN);
}

static void test_nlu_sentiment_modifiers_move_the_score(void **state)
{
    (void)state;
    float good = score("the bag is good").score;
    assert_true(good > 0.0f);
    /* intensifiers and diminishers */
    assert_true(score("the bag is very good").score > good);
    assert_true(score("the bag is slightly good").score < good);
    assert_true(score("the bag is extremely bad").score < score("the bag is bad").score);
    assert_true(score("сумка очень хорошая").score > score("сумка хорошая").score);
    assert_true(score("сумка немного хорошая").score < score("сумка хорошая").score);
    /* capitals among other words, elongation, exclamation */
    assert_true(score("the bag is GOOD").score > good);
    assert_true(score("the bag is goood").score > good);
    assert_true(score("the bag is good!!!").score > good);
    assert_true(score("the bag is good!!!!!!!!").score == score("the bag is good!!!").score);
    /* negation flips and dampens; it reaches three words back and stops at punctuation */
    float neg = score("the bag is not good").score;
    assert_true(neg < 0.0f && -neg < good);
    assert_true(score("not really very good").score < 0.0f);
    assert_true(score("no, good").score > 0.0f);
    assert_true(score("сумка не хорошая").score < 0.0f);
    /* contrast: the clause after "but" weighs more */
    assert_true(score("expensive but good").score > 0.0f);
    assert_true(score("good but expensive").score < 0.0f);
    assert_true(score("дорого, зато красиво").score > 0.0f);
    /* "а" is a contrast only after a comma */
    assert_true(score("дешево, а выглядит ужасно").score < score("ужасно").score * 0.5f);
    /* positive words in a question count less */
    assert_true(score("is the bag good?").score < good);
    assert_true(score("is the bag good?").score > 0.0f);
}

static void test_nlu_sentiment_emoji_and_emoticons(void **state)
{
    (void)state;
    assert_int_equal(score("😍😍").label, NLU_POSITIVE);
    assert_true(score("😍😍").score > score("😍").score);
    assert_int_equal(score("😡").label, NLU_NEGATIVE);
    assert_int_equal(score("😢").label, NLU_NEGATIVE);
    /* variation selectors and skin tones do not matter */
    assert_true(fabsf(score("❤️").score - score("❤").score) < 1e-6f);
    assert_true(score("❤️").score > 0.0f);
    assert_true(fabsf(score("👍🏽").score - score("👍").score) < 1e-6f);
    assert_int_equal(score(":)").label, NLU_POSITIVE);
    assert_int_equal(score(":(").label, NLU_NEGATIVE);
    assert_int_equal(score("<3").label, NLU_POSITIVE);
    assert_int_equal(score("спасибо)))").label, NLU_POSITIVE);
    assert_true(score("ок)))").score > score("ок").score);
    assert_int_equal(score("((((").label, NLU_NEGATIVE);
    /* a lone bracket is a smiley, a pair is not */
    assert_true(score("ок)").score > score("ок").score);
    assert_true(score("ок(").score < score("ок").score);
    assert_true(score("есть размер (М)?").score == 0.0f);
    assert_true(score("(see photo)").score == 0.0f);
    assert_int_equal(score("ахахахахах").label, NLU_POSITIVE); /* laughter, not listed */
    assert_int_equal(score("xaxaxa").label, NLU_POSITIVE);
    assert_int_equal(score("ахаха").label, NLU_POSITIVE);
    /* an emoji counts whatever the language; other languages get no English words */
    assert_int_equal(score_with("😍", NLU_LANG_ES, stemmer, NULL).label, NLU_POSITIVE);
    assert_int_equal(score_with("terrible", NLU_LANG_ES, stemmer, NULL).label, NLU_NEUTRAL);
    assert_int_equal(score_with("terrible", NLU_LANG_EN, stemmer, NULL).label, NLU_NEGATIVE);
}

static enum nlu_emotion top_emotion(const struct nlu_sentiment *s)
{
    int best = 0;
    for (int k = 1; k < NLU_EMO_COUNT; k++) {
        if (s->emotions[k] > s->emotions[best]) {
            best = k;
        }
    }
    assert_true(s->emotions[best] > 0.0f);
    return (enum nlu_emotion)best;
}

static void test_nlu_sentiment_emotions(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nlu_emotion want;
    } cases[] = {
        {"Thank you so much!", NLU_EMO_GRATITUDE},
        {"Thanks a lot for your help, really appreciate it 🙏", NLU_EMO_GRATITUDE},
        {"Спасибо большое, вы очень помогли!", NLU_EMO_GRATITUDE},
        {"Благодарю, всё пришло", NLU_EMO_GRATITUDE},
        {"This is unacceptable! You are scammers, I want my money back", NLU_EMO_ANGER},
        {"Вы мошенники, это обман, верните деньги!", NLU_EMO_ANGER},
        {"Бесит ваше хамство 😡", NLU_EMO_ANGER},
        {"I'm scared my parcel is lost", NLU_EMO_FEAR},
        {"Боюсь, что посылка потерялась", NLU_EMO_FEAR},
        {"So sad, the package never came 😢", NLU_EMO_SADNESS},
        {"Очень грустно, разочарована", NLU_EMO_SADNESS},
        {"Wow, I didn't expect that 😮", NLU_EMO_SURPRISE},
        {"Ого, неожиданно!", NLU_EMO_SURPRISE},
        {"I'm so happy 😍", NLU_EMO_JOY},
        {"Ура, я в восторге!", NLU_EMO_JOY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nlu_sentiment s = score(cases[i].text);
        for (int k = 0; k < NLU_EMO_COUNT; k++) {
            assert_true(s.emotions[k] >= 0.0f && s.emotions[k] <= 1.0f);
        }
        enum nlu_emotion got = top_emotion(&s);
        if (got != cases[i].want) {
            fprintf(stderr, "\"%s\": want %s, got %s\n", cases[i].text,
                    nlu_emotion_name(cases[i].want), nlu_emotion_name(got));
        }
        assert_int_equal(got, cases[i].want);
    }
    /* a negated word adds no emotion; a neutral question has none */
    assert_true(score("I am happy").emotions[NLU_EMO_JOY] > 0.0f);
    assert_true(score("I am not happy").emotions[NLU_EMO_JOY] == 0.0f);
    struct nlu_sentiment q = score("What sizes do you have?");
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        assert_true(q.emotions[k] == 0.0f);
    }
}

static void check_range(const struct nlu_sentiment *s, const float *feats)
{
    assert_false(isnan(s->score));
    assert_true(s->score >= -1.0f && s->score <= 1.0f);
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        assert_true(s->emotions[k] >= 0.0f && s->emotions[k] <= 1.0f);
    }
    for (int k = 0; k < NLU_LEX_NFEAT; k++) {
        assert_false(isnan(feats[k]));
        assert_true(feats[k] >= -1.0f && feats[k] <= 1.0f);
    }
}

static void test_nlu_sentiment_stays_in_range(void **state)
{
    (void)state;
    static const char *const parts[] = {
        "love",  "LOVE",  "best",  "not",         "never", "very", "but", "но", "не",
        "очень", "ужас",  "супер", "😍",           "😡",     "!!!",  "???", ",",  ".",
        "sooo",  "ааааа", "))))",  "((",          "#love", "kind", "of",  "не", "пришел",
        "хахах", "$20",   "@shop", "http://x.co", "🏽",  "️"};
    size_t np = sizeof(parts) / sizeof(parts[0]);
    struct dk_buf b;
    dk_buf_init(&b, NLU_MAX_TEXT);
    uint64_t x = 42;
    float feats[NLU_LEX_NFEAT];
    for (int round = 0; round < 300; round++) {
        dk_buf_reset(&b);
        int len = 1 + round % 60;
        for (int i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            dk_buf_puts(&b, parts[(x >> 33) % np]);
            dk_buf_puts(&b, (x >> 20) % 3 ? " " : "");
        }
        struct nlu_sentiment s = score_with(b.data, (enum nlu_lang)(round % NLU_LANG_COUNT),
                                            round % 7 ? stemmer : NULL, feats);
        check_range(&s, feats);
    }
    /* a long run of strong words saturates below 1 */
    dk_buf_reset(&b);
    for (int i = 0; i < 2000; i++) {
        dk_buf_puts(&b, "LOVE best 😍 ");
    }
    dk_buf_puts(&b, "!!!!!!!!");
    struct nlu_sentiment s = score_with(b.data, NLU_LANG_EN, stemmer, feats);
    check_range(&s, feats);
    assert_true(s.score > 0.99f);
    dk_buf_free(&b);
}

static void test_nlu_sentiment_features(void **state)
{
    (void)state;
    float f[NLU_LEX_NFEAT];
    struct nlu_sentiment s = score_with("", NLU_LANG_EN, stemmer, f);
    for (int k = 0; k < NLU_LEX_NFEAT; k++) {
        assert_true(f[k] == 0.0f);
    }
    assert_true(s.score == 0.0f);
    s = score_with("GREAT bag but NOT good 😍 :( sooo sad!! why??", NLU_LANG_EN, stemmer, f);
    check_range(&s, f);
    assert_true(f[0] > 0.0f);     /* positive sum */
    assert_true(f[1] < 0.0f);     /* negative sum */
    assert_true(f[2] == s.score); /* compound */
    assert_true(f[3] > 0.0f && f[4] > 0.0f);
    assert_true(f[5] < 0.0f); /* the last clause is negative */
    assert_true(f[6] > 0.0f && f[7] < 0.0f);
    assert_true(f[8] > 0.0f);  /* emoji */
    assert_true(f[9] < 0.0f);  /* emoticon */
    assert_true(f[10] > 0.0f); /* negator */
    assert_true(f[11] > 0.0f && f[12] > 0.0f);
    assert_true(f[13] > 0.0f); /* caps */
    assert_true(f[14] > 0.0f); /* elongation */
    assert_true(f[15] > 0.0f && f[15] <= 1.0f);
    /* feats may be NULL; the same text gives the same result */
    struct nlu_sentiment a = score("Очень красиво, но дорого");
    struct nlu_sentiment b2 = score("Очень красиво, но дорого");
    assert_memory_equal(&a, &b2, sizeof(a));
}

static void test_nlu_sentiment_without_stemmer(void **state)
{
    (void)state;
    /* English words as written and emoji still score; Russian needs stems */
    assert_int_equal(score_with("I love it", NLU_LANG_EN, NULL, NULL).label, NLU_POSITIVE);
    assert_int_equal(score_with("😡", NLU_LANG_RU, NULL, NULL).label, NLU_NEGATIVE);
    struct nlu_sentiment s = score_with("Не понравилось качество", NLU_LANG_RU, NULL, NULL);
    assert_true(s.score >= -1.0f && s.score <= 1.0f);
}

static void test_nlu_sentiment_lexicons_load(void **state)
{
    (void)state;
    assert_true(nlu_lex_size(NLU_LEX_EN) > 7000);      /* VADER + AFINN + ours */
    assert_true(nlu_lex_size(NLU_LEX_EN_STEM) > 1000); /* derived stems, phrases */
    assert_true(nlu_lex_size(NLU_LEX_RU) > 150);       /* modifiers, exact forms */
    assert_true(nlu_lex_size(NLU_LEX_RU_STEM) > 600);  /* Russian stems, phrases */
    assert_true(nlu_lex_size(NLU_LEX_SYM) > 800);      /* emoji and emoticons */
    assert_int_equal(nlu_lex_size(NLU_LEX_NTABLES), 0);
    const struct nlu_lex_entry *e = nlu_lex_find(NLU_LEX_EN, "not", 3);
    assert_non_null(e);
    assert_true(e->flags & NLU_LEXF_NEG);
    e = nlu_lex_find(NLU_LEX_EN, "great", 5);
    assert_non_null(e);
    assert_true((e->flags & NLU_LEXF_VALENCE) && e->valence > 2.0f);
    e = nlu_lex_find(NLU_LEX_RU, "очень", strlen("очень"));
    assert_non_null(e);
    assert_true((e->flags & NLU_LEXF_BOOST) && e->boost > 0.0f);
    e = nlu_lex_symbol("🔥", strlen("🔥"));
    assert_non_null(e);
    assert_true(e->valence > 1.0f);
    assert_null(nlu_lex_find(NLU_LEX_EN, "qwertyzx", 8));
    for (int k = 0; k < NLU_EMO_COUNT; k++) {
        assert_string_not_equal(nlu_emotion_name((enum nlu_emotion)k), "unknown");
    }
    assert_string_equal(nlu_emotion_name(NLU_EMO_GRATITUDE), "gratitude");
    assert_string_equal(nlu_emotion_name(NLU_EMO_COUNT), "unknown");
    assert_string_equal(nlu_polarity_name(NLU_POSITIVE), "positive");
    assert_string_equal(nlu_polarity_name(NLU_NEGATIVE), "negative");
    assert_string_equal(nlu_polarity_name(NLU_NEUTRAL), "neutral");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nlu_sentiment_english_labels),
        cmocka_unit_test(test_nlu_sentiment_russian_labels),
        cmocka_unit_test(test_nlu_sentiment_modifiers_move_the_score),
        cmocka_unit_test(test_nlu_sentiment_emoji_and_emoticons),
        cmocka_unit_test(test_nlu_sentiment_emotions),
        cmocka_unit_test(test_nlu_sentiment_stays_in_range),
        cmocka_unit_test(test_nlu_sentiment_features),
        cmocka_unit_test(test_nlu_sentiment_without_stemmer),
        cmocka_unit_test(test_nlu_sentiment_lexicons_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
