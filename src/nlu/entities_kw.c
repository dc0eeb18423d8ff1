/*
 * nlu/entities_kw: the words that the entity recognisers look for (colours, months, weekdays,
 * currencies, units, size and order words, time words), in English and Russian.
 *
 * Words are stored lower-cased with "ё" written "е", as nlu_ent_word() folds them. The table
 * is hashed once into an open-addressing index (pthread_once), so that a lookup is one hash
 * and usually one comparison. Each word has one meaning; where a word could mean two things
 * ("с" is a preposition and a Cyrillic size letter) the recogniser that needs the rarer one
 * reads the bytes itself.
 */
#include <pthread.h>
#include <string.h>

#include "nlu/entities_int.h"

const char *const nlu_ent_cur_codes[NLU_ENT_CUR_COUNT] = {
    "USD", "EUR", "RUB", "GBP", "UAH", "KZT", "TRY", "CNY", "BYN", "INR",
};

#define CODE NLU_ENT_CUR_CODE
#define LEAD NLU_ENT_MONTH_LEAD

static const struct nlu_ent_kw KEYWORDS[] = {
    /* colours: val indexes COLORS in entities_word.c */
    {"black", NLU_ENT_KW_COLOR, 0},
    {"white", NLU_ENT_KW_COLOR, 1},
    {"red", NLU_ENT_KW_COLOR, 2},
    {"blue", NLU_ENT_KW_COLOR, 3},
    {"navy", NLU_ENT_KW_COLOR, 5},
    {"green", NLU_ENT_KW_COLOR, 6},
    {"yellow", NLU_ENT_KW_COLOR, 7},
    {"pink", NLU_ENT_KW_COLOR, 8},
    {"grey", NLU_ENT_KW_COLOR, 9},
    {"gray", NLU_ENT_KW_COLOR, 9},
    {"beige", NLU_ENT_KW_COLOR, 10},
    {"brown", NLU_ENT_KW_COLOR, 11},
    {"purple", NLU_ENT_KW_COLOR, 12},
    {"violet", NLU_ENT_KW_COLOR, 12},
    {"orange", NLU_ENT_KW_COLOR, 13},
    {"burgundy", NLU_ENT_KW_COLOR, 14},
    {"maroon", NLU_ENT_KW_COLOR, 14},
    {"khaki", NLU_ENT_KW_COLOR, 15},
    {"cream", NLU_ENT_KW_COLOR, 16},
    {"ivory", NLU_ENT_KW_COLOR, 16},
    {"silver", NLU_ENT_KW_COLOR, 17},
    {"gold", NLU_ENT_KW_COLOR, 18},
    {"golden", NLU_ENT_KW_COLOR, 18},
    {"lilac", NLU_ENT_KW_COLOR, 19},
    {"lavender", NLU_ENT_KW_COLOR, 19},
    {"turquoise", NLU_ENT_KW_COLOR, 20},
    {"olive", NLU_ENT_KW_COLOR, 21},
    {"mint", NLU_ENT_KW_COLOR, 22},
    {"хаки", NLU_ENT_KW_COLOR, 15},
    {"беж", NLU_ENT_KW_COLOR, 10},
    {"бордо", NLU_ENT_KW_COLOR, 14},
    {"черн", NLU_ENT_KW_COLOR_STEM, 0},
    {"бел", NLU_ENT_KW_COLOR_STEM, 1},
    {"красн", NLU_ENT_KW_COLOR_STEM, 2},
    {"син", NLU_ENT_KW_COLOR_STEM, 3},
    {"голуб", NLU_ENT_KW_COLOR_STEM, 4},
    {"зелен", NLU_ENT_KW_COLOR_STEM, 6},
    {"желт", NLU_ENT_KW_COLOR_STEM, 7},
    {"розов", NLU_ENT_KW_COLOR_STEM, 8},
    {"сер", NLU_ENT_KW_COLOR_STEM, 9},
    {"бежев", NLU_ENT_KW_COLOR_STEM, 10},
    {"коричнев", NLU_ENT_KW_COLOR_STEM, 11},
    {"фиолетов", NLU_ENT_KW_COLOR_STEM, 12},
    {"оранжев", NLU_ENT_KW_COLOR_STEM, 13},
    {"бордов", NLU_ENT_KW_COLOR_STEM, 14},
    {"молочн", NLU_ENT_KW_COLOR_STEM, 16},
    {"кремов", NLU_ENT_KW_COLOR_STEM, 16},
    {"серебрист", NLU_ENT_KW_COLOR_STEM, 17},
    {"серебрян", NLU_ENT_KW_COLOR_STEM, 17},
    {"золот", NLU_ENT_KW_COLOR_STEM, 18},
    {"золотист", NLU_ENT_KW_COLOR_STEM, 18},
    {"сиренев", NLU_ENT_KW_COLOR_STEM, 19},
    {"бирюзов", NLU_ENT_KW_COLOR_STEM, 20},
    {"оливков", NLU_ENT_KW_COLOR_STEM, 21},
    {"мятн", NLU_ENT_KW_COLOR_STEM, 22},
    {"light", NLU_ENT_KW_COLOR_MOD, 1},
    {"dark", NLU_ENT_KW_COLOR_MOD, 2},
    {"светло", NLU_ENT_KW_COLOR_MOD, 1},
    {"темно", NLU_ENT_KW_COLOR_MOD, 2},
    /* months: "May 5" may lead only in English */
    {"january", NLU_ENT_KW_MONTH, 1 + LEAD},
    {"february", NLU_ENT_KW_MONTH, 2 + LEAD},
    {"march", NLU_ENT_KW_MONTH, 3 + LEAD},
    {"april", NLU_ENT_KW_MONTH, 4 + LEAD},
    {"may", NLU_ENT_KW_MONTH, 5 + LEAD},
    {"june", NLU_ENT_KW_MONTH, 6 + LEAD},
    {"july", NLU_ENT_KW_MONTH, 7 + LEAD},
    {"august", NLU_ENT_KW_MONTH, 8 + LEAD},
    {"september", NLU_ENT_KW_MONTH, 9 + LEAD},
    {"october", NLU_ENT_KW_MONTH, 10 + LEAD},
    {"november", NLU_ENT_KW_MONTH, 11 + LEAD},
    {"december", NLU_ENT_KW_MONTH, 12 + LEAD},
    {"jan", NLU_ENT_KW_MONTH, 1 + LEAD},
    {"feb", NLU_ENT_KW_MONTH, 2 + LEAD},
    {"mar", NLU_ENT_KW_MONTH, 3 + LEAD},
    {"apr", NLU_ENT_KW_MONTH, 4 + LEAD},
    {"jun", NLU_ENT_KW_MONTH, 6 + LEAD},
    {"jul", NLU_ENT_KW_MONTH, 7 + LEAD},
    {"aug", NLU_ENT_KW_MONTH, 8 + LEAD},
    {"sep", NLU_ENT_KW_MONTH, 9 + LEAD},
    {"sept", NLU_ENT_KW_MONTH, 9 + LEAD},
    {"oct", NLU_ENT_KW_MONTH, 10 + LEAD},
    {"nov", NLU_ENT_KW_MONTH, 11 + LEAD},
    {"dec", NLU_ENT_KW_MONTH, 12 + LEAD},
    {"января", NLU_ENT_KW_MONTH, 1},
    {"февраля", NLU_ENT_KW_MONTH, 2},
    {"марта", NLU_ENT_KW_MONTH, 3},
    {"апреля", NLU_ENT_KW_MONTH, 4},
    {"мая", NLU_ENT_KW_MONTH, 5},
    {"июня", NLU_ENT_KW_MONTH, 6},
    {"июля", NLU_ENT_KW_MONTH, 7},
    {"августа", NLU_ENT_KW_MONTH, 8},
    {"сентября", NLU_ENT_KW_MONTH, 9},
    {"октября", NLU_ENT_KW_MONTH, 10},
    {"ноября", NLU_ENT_KW_MONTH, 11},
    {"декабря", NLU_ENT_KW_MONTH, 12},
    /* weekdays */
    {"monday", NLU_ENT_KW_WEEKDAY, 0},
    {"tuesday", NLU_ENT_KW_WEEKDAY, 1},
    {"wednesday", NLU_ENT_KW_WEEKDAY, 2},
    {"thursday", NLU_ENT_KW_WEEKDAY, 3},
    {"friday", NLU_ENT_KW_WEEKDAY, 4},
    {"saturday", NLU_ENT_KW_WEEKDAY, 5},
    {"sunday", NLU_ENT_KW_WEEKDAY, 6},
    {"понедельник", NLU_ENT_KW_WEEKDAY, 0},
    {"вторник", NLU_ENT_KW_WEEKDAY, 1},
    {"среду", NLU_ENT_KW_WEEKDAY, 2},
    {"среда", NLU_ENT_KW_WEEKDAY, 2},
    {"четверг", NLU_ENT_KW_WEEKDAY, 3},
    {"пятницу", NLU_ENT_KW_WEEKDAY, 4},
    {"пятница", NLU_ENT_KW_WEEKDAY, 4},
    {"субботу", NLU_ENT_KW_WEEKDAY, 5},
    {"суббота", NLU_ENT_KW_WEEKDAY, 5},
    {"воскресенье", NLU_ENT_KW_WEEKDAY, 6},
    /* relative days: val indexes the names in entities_time.c */
    {"today", NLU_ENT_KW_RELDAY, 0},
    {"tonight", NLU_ENT_KW_RELDAY, 0},
    {"tomorrow", NLU_ENT_KW_RELDAY, 1},
    {"yesterday", NLU_ENT_KW_RELDAY, 2},
    {"сегодня", NLU_ENT_KW_RELDAY, 0},
    {"завтра", NLU_ENT_KW_RELDAY, 1},
    {"вчера", NLU_ENT_KW_RELDAY, 2},
    {"послезавтра", NLU_ENT_KW_RELDAY, 3},
    {"позавчера", NLU_ENT_KW_RELDAY, 4},
    {"day", NLU_ENT_KW_DAY, 0},
    /* orders */
    {"order", NLU_ENT_KW_ORDER, 0},
    {"заказ", NLU_ENT_KW_ORDER, 0},
    {"заказа", NLU_ENT_KW_ORDER, 0},
    {"заказе", NLU_ENT_KW_ORDER, 0},
    {"заказу", NLU_ENT_KW_ORDER, 0},
    {"заказом", NLU_ENT_KW_ORDER, 0},
    {"number", NLU_ENT_KW_ORDER_FILL, 0},
    {"no", NLU_ENT_KW_ORDER_FILL, 0},
    {"nr", NLU_ENT_KW_ORDER_FILL, 0},
    {"num", NLU_ENT_KW_ORDER_FILL, 0},
    {"id", NLU_ENT_KW_ORDER_FILL, 0},
    {"номер", NLU_ENT_KW_ORDER_FILL, 0},
    /* sizes */
    {"size", NLU_ENT_KW_SIZE, 0},
    {"sz", NLU_ENT_KW_SIZE, 0},
    {"размер", NLU_ENT_KW_SIZE, 0},
    {"размера", NLU_ENT_KW_SIZE, 0},
    {"размере", NLU_ENT_KW_SIZE, 0},
    {"размеру", NLU_ENT_KW_SIZE, 0},
    {"размером", NLU_ENT_KW_SIZE, 0},
    {"размеры", NLU_ENT_KW_SIZE, 0},
    {"xxs", NLU_ENT_KW_SIZE_WORD, 0},
    {"xs", NLU_ENT_KW_SIZE_WORD, 0},
    {"xl", NLU_ENT_KW_SIZE_WORD, 0},
    {"xxl", NLU_ENT_KW_SIZE_WORD, 0},
    {"xxxl", NLU_ENT_KW_SIZE_WORD, 0},
    {"xxxxl", NLU_ENT_KW_SIZE_WORD, 0},
    {"2xl", NLU_ENT_KW_SIZE_WORD, 0},
    {"3xl", NLU_ENT_KW_SIZE_WORD, 0},
    {"4xl", NLU_ENT_KW_SIZE_WORD, 0},
    {"5xl", NLU_ENT_KW_SIZE_WORD, 0},
    {"eu", NLU_ENT_KW_REGION, 0},
    {"us", NLU_ENT_KW_REGION, 1},
    {"uk", NLU_ENT_KW_REGION, 2},
    {"ru", NLU_ENT_KW_REGION, 3},
    /* currencies: codes may lead ("USD 30"), words only follow */
    {"usd", NLU_ENT_KW_CUR, NLU_ENT_USD + CODE},
    {"eur", NLU_ENT_KW_CUR, NLU_ENT_EUR + CODE},
    {"rub", NLU_ENT_KW_CUR, NLU_ENT_RUB + CODE},
    {"rur", NLU_ENT_KW_CUR, NLU_ENT_RUB + CODE},
    {"gbp", NLU_ENT_KW_CUR, NLU_ENT_GBP + CODE},
    {"uah", NLU_ENT_KW_CUR, NLU_ENT_UAH + CODE},
    {"kzt", NLU_ENT_KW_CUR, NLU_ENT_KZT + CODE},
    {"try", NLU_ENT_KW_CUR, NLU_ENT_TRY + CODE},
    {"cny", NLU_ENT_KW_CUR, NLU_ENT_CNY + CODE},
    {"byn", NLU_ENT_KW_CUR, NLU_ENT_BYN + CODE},
    {"inr", NLU_ENT_KW_CUR, NLU_ENT_INR + CODE},
    {"dollar", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"dollars", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"buck", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"bucks", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"доллар", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"доллара", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"долларов", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"бакс", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"бакса", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"баксов", NLU_ENT_KW_CUR, NLU_ENT_USD},
    {"euro", NLU_ENT_KW_CUR, NLU_ENT_EUR},
    {"euros", NLU_ENT_KW_CUR, NLU_ENT_EUR},
    {"евро", NLU_ENT_KW_CUR, NLU_ENT_EUR},
    {"р", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"руб", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"рубль", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"рубля", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"рублей", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"rubles", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"roubles", NLU_ENT_KW_CUR, NLU_ENT_RUB},
    {"pound", NLU_ENT_KW_CUR, NLU_ENT_GBP},
    {"pounds", NLU_ENT_KW_CUR, NLU_ENT_GBP},
    {"фунт", NLU_ENT_KW_CUR, NLU_ENT_GBP},
    {"фунта", NLU_ENT_KW_CUR, NLU_ENT_GBP},
    {"фунтов", NLU_ENT_KW_CUR, NLU_ENT_GBP},
    {"грн", NLU_ENT_KW_CUR, NLU_ENT_UAH},
    {"гривна", NLU_ENT_KW_CUR, NLU_ENT_UAH},
    {"гривны", NLU_ENT_KW_CUR, NLU_ENT_UAH},
    {"гривен", NLU_ENT_KW_CUR, NLU_ENT_UAH},
    {"гривень", NLU_ENT_KW_CUR, NLU_ENT_UAH},
    {"тенге", NLU_ENT_KW_CUR, NLU_ENT_KZT},
    {"тг", NLU_ENT_KW_CUR, NLU_ENT_KZT},
    {"tl", NLU_ENT_KW_CUR, NLU_ENT_TRY},
    {"lira", NLU_ENT_KW_CUR, NLU_ENT_TRY},
    {"лир", NLU_ENT_KW_CUR, NLU_ENT_TRY},
    {"лиры", NLU_ENT_KW_CUR, NLU_ENT_TRY},
    {"лира", NLU_ENT_KW_CUR, NLU_ENT_TRY},
    {"yuan", NLU_ENT_KW_CUR, NLU_ENT_CNY},
    {"юаней", NLU_ENT_KW_CUR, NLU_ENT_CNY},
    {"юаня", NLU_ENT_KW_CUR, NLU_ENT_CNY},
    {"юань", NLU_ENT_KW_CUR, NLU_ENT_CNY},
    {"rupees", NLU_ENT_KW_CUR, NLU_ENT_INR},
    /* quantities */
    {"pcs", NLU_ENT_KW_QTY, 0},
    {"pc", NLU_ENT_KW_QTY, 0},
    {"piece", NLU_ENT_KW_QTY, 0},
    {"pieces", NLU_ENT_KW_QTY, 0},
    {"item", NLU_ENT_KW_QTY, 0},
    {"items", NLU_ENT_KW_QTY, 0},
    {"unit", NLU_ENT_KW_QTY, 0},
    {"units", NLU_ENT_KW_QTY, 0},
    {"шт", NLU_ENT_KW_QTY, 0},
    {"штук", NLU_ENT_KW_QTY, 0},
    {"штуки", NLU_ENT_KW_QTY, 0},
    {"штука", NLU_ENT_KW_QTY, 0},
    {"штуку", NLU_ENT_KW_QTY, 0},
    {"штучки", NLU_ENT_KW_QTY, 0},
    {"штучек", NLU_ENT_KW_QTY, 0},
    {"pair", NLU_ENT_KW_QTY, 1},
    {"pairs", NLU_ENT_KW_QTY, 1},
    {"пара", NLU_ENT_KW_QTY, 1},
    {"пары", NLU_ENT_KW_QTY, 1},
    {"пар", NLU_ENT_KW_QTY, 1},
    {"one", NLU_ENT_KW_NUMWORD, 1},
    {"two", NLU_ENT_KW_NUMWORD, 2},
    {"three", NLU_ENT_KW_NUMWORD, 3},
    {"four", NLU_ENT_KW_NUMWORD, 4},
    {"five", NLU_ENT_KW_NUMWORD, 5},
    {"six", NLU_ENT_KW_NUMWORD, 6},
    {"seven", NLU_ENT_KW_NUMWORD, 7},
    {"eight", NLU_ENT_KW_NUMWORD, 8},
    {"nine", NLU_ENT_KW_NUMWORD, 9},
    {"ten", NLU_ENT_KW_NUMWORD, 10},
    {"один", NLU_ENT_KW_NUMWORD, 1},
    {"одна", NLU_ENT_KW_NUMWORD, 1},
    {"одну", NLU_ENT_KW_NUMWORD, 1},
    {"два", NLU_ENT_KW_NUMWORD, 2},
    {"две", NLU_ENT_KW_NUMWORD, 2},
    {"три", NLU_ENT_KW_NUMWORD, 3},
    {"четыре", NLU_ENT_KW_NUMWORD, 4},
    {"пять", NLU_ENT_KW_NUMWORD, 5},
    {"шесть", NLU_ENT_KW_NUMWORD, 6},
    {"семь", NLU_ENT_KW_NUMWORD, 7},
    {"восемь", NLU_ENT_KW_NUMWORD, 8},
    {"девять", NLU_ENT_KW_NUMWORD, 9},
    {"десять", NLU_ENT_KW_NUMWORD, 10},
    {"тыс", NLU_ENT_KW_MULT, 3},
    {"тысяч", NLU_ENT_KW_MULT, 3},
    {"тысячи", NLU_ENT_KW_MULT, 3},
    {"тысяча", NLU_ENT_KW_MULT, 3},
    {"thousand", NLU_ENT_KW_MULT, 3},
    {"млн", NLU_ENT_KW_MULT, 6},
    {"million", NLU_ENT_KW_MULT, 6},
    /* times */
    {"am", NLU_ENT_KW_AMPM, 0},
    {"pm", NLU_ENT_KW_AMPM, 1},
    {"утра", NLU_ENT_KW_DAYPART, 0},
    {"дня", NLU_ENT_KW_DAYPART, 1},
    {"вечера", NLU_ENT_KW_DAYPART, 2},
    {"ночи", NLU_ENT_KW_DAYPART, 3},
    {"часов", NLU_ENT_KW_HOURS, 0},
    {"часа", NLU_ENT_KW_HOURS, 0},
    {"час", NLU_ENT_KW_HOURS, 0},
    {"ч", NLU_ENT_KW_HOURS, 0},
    {"at", NLU_ENT_KW_AT, 0},
    {"around", NLU_ENT_KW_AT, 0},
    {"в", NLU_ENT_KW_RUPREP, 0},
    {"во", NLU_ENT_KW_RUPREP, 0},
    {"к", NLU_ENT_KW_RUPREP, 0},
    {"до", NLU_ENT_KW_RUPREP, 0},
    {"после", NLU_ENT_KW_RUPREP, 0},
    {"около", NLU_ENT_KW_RUPREP, 0},
    {"с", NLU_ENT_KW_RUPREP, 0},
    {"in", NLU_ENT_KW_IN, 0},
};

#undef CODE
#undef LEAD

#define NKEYWORDS  (sizeof KEYWORDS / sizeof KEYWORDS[0])
#define INDEX_BITS 11
#define INDEX_SIZE (1u << INDEX_BITS)

static uint16_t index_slots[INDEX_SIZE]; /* 1 + position in KEYWORDS, 0 when empty */
static uint8_t kw_len[NKEYWORDS];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) {
        h = (h ^ (unsigned char)p[k]) * 16777619u;
    }
    return h;
}

/* Builds the index; a word listed twice keeps its first meaning. */
static void build_index(void)
{
    for (size_t k = 0; k < NKEYWORDS; k++) {
        size_t n = strlen(KEYWORDS[k].w);
        kw_len[k] = (uint8_t)n;
        uint32_t slot = hash_bytes(KEYWORDS[k].w, n) & (INDEX_SIZE - 1);
        while (index_slots[slot] != 0) {
            size_t other = index_slots[slot] - 1u;
            if (kw_len[other] == n && memcmp(KEYWORDS[other].w, KEYWORDS[k].w, n) == 0) {
                break;
            }
            slot = (slot + 1) & (INDEX_SIZE - 1);
        }
        if (index_slots[slot] == 0) {
            index_slots[slot] = (uint16_t)(k + 1);
        }
    }
}

static const struct nlu_ent_kw *find(const char *p, size_t n, uint32_t hash)
{
    if (n == 0 || n > 24) {
        return NULL;
    }
    pthread_once(&index_once, build_index);
    uint32_t slot = hash & (INDEX_SIZE - 1);
    while (index_slots[slot] != 0) {
        size_t k = index_slots[slot] - 1u;
        if (kw_len[k] == n && memcmp(KEYWORDS[k].w, p, n) == 0) {
            return &KEYWORDS[k];
        }
        slot = (slot + 1) & (INDEX_SIZE - 1);
    }
    return NULL;
}

const struct nlu_ent_kw *nlu_ent_kw_bytes(const char *p, size_t n)
{
    return find(p, n, hash_bytes(p, n));
}

const struct nlu_ent_kw *nlu_ent_kw(const struct nlu_ent_word *w)
{
    return find(w->low, w->n, w->hash);
}

int nlu_ent_cur_symbol(const char *s, size_t len, size_t i, size_t *w)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '$') {
        *w = 1;
        return NLU_ENT_USD;
    }
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA3) {
        *w = 2;
        return NLU_ENT_GBP; /* £ */
    }
    if (c != 0xE2 || i + 2 >= len || (unsigned char)s[i + 1] != 0x82) {
        return -1;
    }
    *w = 3;
    switch ((unsigned char)s[i + 2]) {
    case 0xAC:
        return NLU_ENT_EUR; /* € */
    case 0xBD:
        return NLU_ENT_RUB; /* ₽ */
    case 0xB4:
        return NLU_ENT_UAH; /* ₴ */
    case 0xB8:
        return NLU_ENT_KZT; /* ₸ */
    case 0xBA:
        return NLU_ENT_TRY; /* ₺ */
    case 0xB9:
        return NLU_ENT_INR; /* ₹ */
    default:
        return -1;
    }
}
