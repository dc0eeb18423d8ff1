/*
 * nlu/lang: language codes and the language guess.
 *
 * The guess is a small vote over the word tokens. The script of the letters decides first
 * (Arabic; Cyrillic for Russian or Ukrainian; Latin for the rest). Inside a script, each
 * language scores points for its function words (a static table per language, looked up in
 * a hash table built once), for letters peculiar to it (ñ, ß, ã, ğ, і, ы …), for elisions and
 * contractions ("l'", "don't") and for typical word endings. Transliterated Russian
 * ("privet", "skolko stoit") scores for Russian in Latin text. The confidence grows with the
 * evidence and with the margin over the runner-up, and is scaled by the share of the
 * dominant script; text with letters but no evidence gets English at a low confidence.
 */
#include "nlu/nlu.h"

#include <pthread.h>
#include <string.h>

#include "core/log.h"
#include "nlu/text_int.h"

static const char *const CODES[NLU_LANG_COUNT] = {"und", "en", "ru", "uk", "es", "de",
                                                  "fr",  "it", "pt", "tr", "ar"};

const char *nlu_lang_code(enum nlu_lang lang)
{
    if ((int)lang < 0 || lang >= NLU_LANG_COUNT)
        return "und";
    return CODES[lang];
}

enum nlu_lang nlu_lang_from_code(const char *code)
{
    if (code == NULL)
        return NLU_LANG_UNKNOWN;
    for (int i = 1; i < NLU_LANG_COUNT; i++) {
        if (strcmp(code, CODES[i]) == 0)
            return (enum nlu_lang)i;
    }
    return NLU_LANG_UNKNOWN;
}

/* ---- function words ---- */

/* Very common words per language, in normal form (lower case, "ё" as "е"), space-separated. */
static const char *const WORDS[NLU_LANG_COUNT] = {
    [NLU_LANG_EN] =
        "the a an and or but is are was were be been am have has had do does did not no yes i "
        "you he she it we they me my your our their this that these those what which who how "
        "when where why can could will would should with for of to in on at from by about "
        "there here please thanks thank hi hello want need just get know much some any if so "
        "than then also very don't i'm it's can't i'd i've you're what's there's doesn't "
        "price size buy available delivery shipping still love nice great beautiful perfect "
        "order ship send pls plz thx",
    [NLU_LANG_RU] =
        "и в не на я что с а как это по но он она они мы вы ты у же к из за от до так все "
        "его мне меня нет да есть был была если или уже только вот бы ли для когда где "
        "сколько почему можно нужно хочу спасибо здравствуйте привет пожалуйста очень будет "
        "еще тоже этот эта эти какой какая который чтобы потому сейчас ничего вас нас их "
        "мой ваш размер цена стоит доставка заказ добрый день подскажите",
    [NLU_LANG_UK] =
        "і й в у не на я що з а як це по але він вона вони ми ви ти до із за від так все "
        "його мені мене ні є був була якщо або вже тільки ось би чи для коли де скільки "
        "чому можна треба потрібно хочу дякую вітаю привіт будь ласка дуже буде ще теж цей "
        "ця ці який яка котрий щоб тому зараз нічого вас нас їх мій ваш розмір ціна коштує "
        "доставка замовлення добрий день підкажіть",
    [NLU_LANG_ES] =
        "el la los las un una unos y o pero que de del en a al con por para sin es son está "
        "están estoy soy fue ser estar hay tiene tengo no sí yo tú usted él ella nosotros "
        "ellos mi tu su muy más cuánto cuanto cuesta qué cómo como dónde donde cuándo cuando "
        "porque hola gracias bueno buenos buenas días también este esta eso esto lo le se me "
        "te nos quiero puedo precio envío talla tienen encanta envíos envios hacen perfecto "
        "hermoso hermosa necesito tienes ahora mañana pedido hasta gustaría",
    [NLU_LANG_DE] =
        "der die das den dem des ein eine einen einem und oder aber ist sind war bin bist hat "
        "haben habe nicht kein keine ich du er sie es wir ihr mein dein sein mit für von zu "
        "auf in im an am aus bei nach wie was wo wann warum wer danke hallo bitte ja nein "
        "sehr auch noch schon kann können möchte gibt viel kostet preis größe versand gut "
        "guten tag schön kleid bestellung morgen jetzt lieferung toll",
    [NLU_LANG_FR] =
        "le la les un une des du de et ou mais est sont suis es était ai as a avez avons ont "
        "pas ne je tu il elle nous vous ils elles mon ma mes ton votre vos ce cette ces avec "
        "pour dans sur par en au aux que qui quoi comment où quand pourquoi combien merci "
        "bonjour salut oui non très aussi bien c'est j'ai prix taille livraison beaucoup "
        "est-ce magnifique belle beau robe commande demain maintenant voudrais veux",
    [NLU_LANG_IT] =
        "il lo la i gli le un una uno e o ma è sono sei era ho hai ha abbiamo hanno non io tu "
        "lui lei noi voi loro mio mia tuo suo con per di del della da in su nel che chi come "
        "dove quando perché quanto costa grazie ciao buongiorno sì molto anche questo questa "
        "quello sempre ancora vorrei prezzo taglia spedizione bene tutto cosa c'è bello bella "
        "bellissimo vestito ordine domani adesso avete voglio",
    [NLU_LANG_PT] =
        "o a os as um uma e ou mas é são está estou sou foi ser tem tenho não sim eu você ele "
        "ela nós eles meu minha seu sua com para por de do da dos das em no na nos ao que "
        "quem como onde quando porque quanto custa obrigado obrigada olá oi bom dia muito "
        "também este esta isso isto quero posso preço tamanho entrega frete vocês preciso "
        "amei lindo agora amanhã gostaria queria",
    [NLU_LANG_TR] =
        "ve bir bu şu o da de ile için ama veya değil var yok ben sen biz siz onlar benim "
        "senin ne nasıl nerede neden kaç ki mi mı mu mü çok daha en gibi kadar sonra şimdi "
        "evet hayır merhaba teşekkür teşekkürler ederim lütfen fiyat fiyatı kargo beden "
        "istiyorum olur oldu ise her hiç bunu ya iyi tamam selam güzel sipariş cok guzel "
        "nasil lutfen tesekkur tesekkurler siparis kac",
    [NLU_LANG_AR] =
        "في من على إلى عن مع هذا هذه هل ما ماذا كم كيف أين متى لا نعم أنا أنت هو هي نحن و "
        "أو لكن كان شكرا مرحبا السلام عليكم السعر سعر ممكن أريد المقاس التوصيل الله جدا يا",
};

/* Russian typed in Latin letters, counted for Russian in Latin-script text. */
static const char *const TRANSLIT_RU =
    "privet spasibo skolko stoit kak dela eto chto pozhaluysta pozhaluista pojaluista "
    "horosho khorosho zdravstvuyte zdravstvuite mne nado hochu mozhno kogda gde razmer "
    "nalichii zakaz dostavka tsena cena kupit ochen tozhe seychas segodnya zavtra";

#define TABLE_SIZE 2048 /* power of two, well above the number of words */

struct word_slot {
    const char *w;
    uint16_t len;
    uint16_t mask; /* 1 << enum nlu_lang */
};

static struct word_slot table[TABLE_SIZE];
static size_t table_used;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void add_words(const char *list, enum nlu_lang lang)
{
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e != '\0' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 0)
            break;
        uint32_t h = hash(p, n) & (TABLE_SIZE - 1);
        while (table[h].w != NULL && !(table[h].len == n && memcmp(table[h].w, p, n) == 0))
            h = (h + 1) & (TABLE_SIZE - 1);
        if (table[h].w == NULL)
            table_used++;
        DK_ASSERT(table_used < TABLE_SIZE / 2); /* the lists are static: keep probes short */
        table[h].w = p;
        table[h].len = (uint16_t)n;
        table[h].mask |= (uint16_t)(1u << lang);
        p = e;
    }
}

static void build_table(void)
{
    for (int l = 1; l < NLU_LANG_COUNT; l++)
        add_words(WORDS[l], (enum nlu_lang)l);
    add_words(TRANSLIT_RU, NLU_LANG_RU);
}

static unsigned lookup(const char *s, size_t n)
{
    uint32_t h = hash(s, n) & (TABLE_SIZE - 1);
    while (table[h].w != NULL) {
        if (table[h].len == n && memcmp(table[h].w, s, n) == 0)
            return table[h].mask;
        h = (h + 1) & (TABLE_SIZE - 1);
    }
    return 0;
}

/* ---- letters, elisions, endings ---- */

static void add(float *sc, enum nlu_lang l, float w)
{
    sc[l] += w;
}

/* Letters that point at a language. */
static void score_letter(float *sc, int32_t cp)
{
    switch (cp) {
    case 0xF1: /* ñ */
        add(sc, NLU_LANG_ES, 2.0f);
        break;
    case 0xE4: /* ä */
        add(sc, NLU_LANG_DE, 1.5f);
        break;
    case 0xF6: /* ö */
    case 0xFC: /* ü */
        add(sc, NLU_LANG_DE, 0.7f);
        add(sc, NLU_LANG_TR, 0.7f);
        break;
    case 0xE7: /* ç */
        add(sc, NLU_LANG_FR, 0.6f);
        add(sc, NLU_LANG_PT, 0.6f);
        add(sc, NLU_LANG_TR, 0.6f);
        break;
    case 0xE9: /* é */
        add(sc, NLU_LANG_FR, 0.6f);
        add(sc, NLU_LANG_ES, 0.3f);
        add(sc, NLU_LANG_PT, 0.3f);
        break;
    case 0xE8: /* è */
        add(sc, NLU_LANG_FR, 0.6f);
        add(sc, NLU_LANG_IT, 0.6f);
        break;
    case 0xEA: /* ê */
        add(sc, NLU_LANG_FR, 0.6f);
        add(sc, NLU_LANG_PT, 0.6f);
        break;
    case 0xE0: /* à */
        add(sc, NLU_LANG_FR, 0.5f);
        add(sc, NLU_LANG_IT, 0.4f);
        add(sc, NLU_LANG_PT, 0.3f);
        break;
    case 0xE2:  /* â */
    case 0xEE:  /* î */
    case 0xFB:  /* û */
    case 0xEB:  /* ë */
    case 0xEF:  /* ï */
    case 0x153: /* œ */
        add(sc, NLU_LANG_FR, 1.0f);
        break;
    case 0xF4: /* ô */
        add(sc, NLU_LANG_FR, 0.6f);
        add(sc, NLU_LANG_PT, 0.4f);
        break;
    case 0xE3: /* ã */
    case 0xF5: /* õ */
        add(sc, NLU_LANG_PT, 2.0f);
        break;
    case 0xE1: /* á */
    case 0xED: /* í */
    case 0xF3: /* ó */
    case 0xFA: /* ú */
        add(sc, NLU_LANG_ES, 0.5f);
        add(sc, NLU_LANG_PT, 0.5f);
        break;
    case 0xF2: /* ò */
    case 0xEC: /* ì */
        add(sc, NLU_LANG_IT, 1.5f);
        break;
    case 0xF9: /* ù */
        add(sc, NLU_LANG_IT, 0.8f);
        add(sc, NLU_LANG_FR, 0.5f);
        break;
    case 0x11F: /* ğ */
    case 0x15F: /* ş */
    case 0x131: /* ı */
    case 0x307: /* the dot that case folding leaves of İ */
        add(sc, NLU_LANG_TR, 2.0f);
        break;
    case 0x456: /* і */
    case 0x457: /* ї */
    case 0x454: /* є */
    case 0x491: /* ґ */
        add(sc, NLU_LANG_UK, 2.0f);
        break;
    case 0x44B: /* ы */
    case 0x44D: /* э */
    case 0x44A: /* ъ */
        add(sc, NLU_LANG_RU, 2.0f);
        break;
    default:
        break;
    }
}

struct ending {
    const char *suf;
    enum nlu_lang lang;
};

/* Word endings typical of one Latin-script language; weak evidence each. */
static const struct ending ENDINGS[] = {
    {"ing", NLU_LANG_EN},    {"ly", NLU_LANG_EN},   {"ness", NLU_LANG_EN},  {"ción", NLU_LANG_ES},
    {"ciones", NLU_LANG_ES}, {"dad", NLU_LANG_ES},  {"ung", NLU_LANG_DE},   {"heit", NLU_LANG_DE},
    {"keit", NLU_LANG_DE},   {"lich", NLU_LANG_DE}, {"chen", NLU_LANG_DE},  {"eux", NLU_LANG_FR},
    {"eau", NLU_LANG_FR},    {"ique", NLU_LANG_FR}, {"zione", NLU_LANG_IT}, {"zioni", NLU_LANG_IT},
    {"etto", NLU_LANG_IT},   {"ção", NLU_LANG_PT},  {"ções", NLU_LANG_PT},  {"ões", NLU_LANG_PT},
    {"lar", NLU_LANG_TR},    {"ler", NLU_LANG_TR},  {"yor", NLU_LANG_TR},   {"mak", NLU_LANG_TR},
    {"mek", NLU_LANG_TR},
};

static void score_endings(float *sc, const char *w, size_t n)
{
    char last = w[n - 1];
    for (size_t e = 0; e < sizeof(ENDINGS) / sizeof(ENDINGS[0]); e++) {
        const struct ending *x = &ENDINGS[e];
        size_t k = strlen(x->suf);
        if (x->suf[k - 1] == last && n > k && memcmp(w + n - k, x->suf, k) == 0)
            add(sc, x->lang, 0.4f);
    }
}

/* Elisions and contractions: "l'amour", "dell'anno", "don't". */
static void score_apostrophe(float *sc, const char *w, size_t n)
{
    const char *q = memchr(w, '\'', n);
    if (q == NULL)
        return;
    size_t head = (size_t)(q - w), tail = n - head - 1;
    static const char *const FR[] = {"l", "d", "j", "c", "qu", "n", "s", "m", "t", "jusqu"};
    static const char *const IT[] = {"l", "dell", "all", "nell", "dall", "sull", "un", "c"};
    static const char *const EN[] = {"t", "s", "m", "re", "ll", "ve", "d"};
    for (size_t k = 0; k < sizeof(FR) / sizeof(FR[0]); k++) {
        if (strlen(FR[k]) == head && memcmp(FR[k], w, head) == 0)
            add(sc, NLU_LANG_FR, 1.0f);
    }
    for (size_t k = 0; k < sizeof(IT) / sizeof(IT[0]); k++) {
        if (strlen(IT[k]) == head && memcmp(IT[k], w, head) == 0)
            add(sc, NLU_LANG_IT, 0.8f);
    }
    for (size_t k = 0; k < sizeof(EN) / sizeof(EN[0]); k++) {
        if (strlen(EN[k]) == tail && memcmp(EN[k], q + 1, tail) == 0)
            add(sc, NLU_LANG_EN, 1.0f);
    }
}

static void score_word(float *sc, const struct nlu_token *t)
{
    const char *w = t->norm;
    size_t n = t->norm_len;
    unsigned mask = lookup(w, n);
    for (int l = 1; l < NLU_LANG_COUNT; l++) {
        if (mask & (1u << l))
            add(sc, (enum nlu_lang)l, 1.0f);
    }
    for (size_t i = 0; i < n;) {
        size_t k;
        int32_t cp = nlu_decode(w, i, n, &k);
        if (cp >= 0x80) /* (ß is folded to "ss" before it gets here) */
            score_letter(sc, cp);
        i += k;
    }
    if (t->script != NLU_SCRIPT_LATIN)
        return;
    if (mask == 0)
        score_endings(sc, w, n);
    score_apostrophe(sc, w, n);
}

/* ---- the guess ---- */

static size_t count_letters(const struct nlu_token *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->norm_len; i++)
        n += ((unsigned char)t->norm[i] & 0xC0) != 0x80;
    return n;
}

/* Best of the languages in list by score, the runner-up's score in *second. */
static enum nlu_lang best_of(const float *sc, const enum nlu_lang *list, size_t n, float *second)
{
    enum nlu_lang best = list[0];
    *second = 0;
    for (size_t i = 1; i < n; i++) {
        if (sc[list[i]] > sc[best]) {
            *second = sc[best];
            best = list[i];
        } else if (sc[list[i]] > *second) {
            *second = sc[list[i]];
        }
    }
    return best;
}

/* Confidence from the points of the winner and of the runner-up. */
static float confidence(float best, float second)
{
    if (best <= 0)
        return 0;
    float strength = best / (best + 1.0f);
    float margin = (best - second) / best;
    return strength * (0.4f + 0.6f * margin);
}

struct nlu_lang_guess nlu_lang_detect(const struct nlu_tokens *toks)
{
    struct nlu_lang_guess g = {NLU_LANG_UNKNOWN, 0.0f};
    float sc[NLU_LANG_COUNT] = {0};
    size_t letters[4] = {0, 0, 0, 0}, words = 0;
    pthread_once(&table_once, build_table);

    for (size_t i = 0; i < toks->n; i++) {
        const struct nlu_token *t = &toks->v[i];
        if (t->kind == NLU_TOK_PUNCT && (strcmp(t->norm, "¿") == 0 || strcmp(t->norm, "¡") == 0))
            add(sc, NLU_LANG_ES, 2.0f);
        if (t->kind != NLU_TOK_WORD || t->script == NLU_SCRIPT_OTHER)
            continue;
        letters[t->script] += count_letters(t);
        words++;
        score_word(sc, t);
    }
    size_t total =
        letters[NLU_SCRIPT_LATIN] + letters[NLU_SCRIPT_CYRILLIC] + letters[NLU_SCRIPT_ARABIC];
    if (total == 0)
        return g;
    int script = NLU_SCRIPT_LATIN;
    if (letters[NLU_SCRIPT_CYRILLIC] > letters[script])
        script = NLU_SCRIPT_CYRILLIC;
    if (letters[NLU_SCRIPT_ARABIC] > letters[script])
        script = NLU_SCRIPT_ARABIC;
    float share = (float)letters[script] / (float)total;
    float second;

    if (script == NLU_SCRIPT_ARABIC) {
        float ev = sc[NLU_LANG_AR] + 0.5f * (float)words;
        g.lang = NLU_LANG_AR;
        g.confidence = share * (0.6f + 0.4f * ev / (ev + 1.0f));
    } else if (script == NLU_SCRIPT_CYRILLIC) {
        static const enum nlu_lang CYR[] = {NLU_LANG_RU, NLU_LANG_UK};
        g.lang = best_of(sc, CYR, 2, &second);
        /* Cyrillic without other evidence is most likely Russian in our messages */
        g.confidence = share * (0.5f + 0.5f * confidence(sc[g.lang], second));
    } else {
        static const enum nlu_lang LAT[] = {NLU_LANG_EN, NLU_LANG_ES, NLU_LANG_DE, NLU_LANG_FR,
                                            NLU_LANG_IT, NLU_LANG_PT, NLU_LANG_TR, NLU_LANG_RU};
        g.lang = best_of(sc, LAT, sizeof(LAT) / sizeof(LAT[0]), &second);
        if (sc[g.lang] <= 0) {
            g.lang = NLU_LANG_EN; /* letters but no evidence: "ok", "wow" */
            g.confidence = share * 0.1f;
        } else {
            g.confidence = share * confidence(sc[g.lang], second);
        }
    }
    if (g.confidence > 1.0f)
        g.confidence = 1.0f;
    return g;
}
