/*
 * nlu: the local natural-language understanding of direkt, with no network and no API key.
 *
 * Text is validated as UTF-8, normalised (NFKC, case folding) and cut into tokens that keep
 * emoji sequences, emoticons, numbers, prices, URLs, @handles and #hashtags whole. Words are
 * stemmed with Snowball per language. A language guess, entities (with PII marks), a lexicon
 * sentiment with emotions, and a linear classifier over hashed word and character n-gram
 * features (trained here, in C) sit on top. One struct nlu_ctx per thread holds the scratch
 * memory, so that analysing a message allocates nothing once the buffers have grown.
 *
 * Thread safety: models and lexicons are immutable after they are built and may be shared by
 * any number of threads; a struct nlu_ctx belongs to one thread at a time.
 */
#ifndef DK_NLU_H
#define DK_NLU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/mem.h"

/* Longest text accepted anywhere in the module (the API's limit too). */
#define NLU_MAX_TEXT (64 * 1024)

/* ---- text: UTF-8, normalisation, tokens (text.c) ---- */

/* 0 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF, no
 * NUL); otherwise DK_EINVAL with the byte offset of the first bad sequence in err. */
int nlu_utf8_check(const char *s, size_t len, struct dk_err *err);

enum nlu_tok_kind {
    NLU_TOK_WORD = 0, /* letters (and inner apostrophes / hyphens): "don't", "т-шка" */
    NLU_TOK_NUMBER,   /* 42, 3.5, 1,000 */
    NLU_TOK_PRICE,    /* $20, 20$, 1500₽, 15 eur (one token when glued or symbol-led) */
    NLU_TOK_EMOJI,    /* one grapheme: ZWJ sequences, skin tones, flags, keycaps */
    NLU_TOK_EMOTICON, /* :) :-( ;D <3 xD )) (( */
    NLU_TOK_URL,      /* http(s)://…, www.…, shop.com/x */
    NLU_TOK_EMAIL,
    NLU_TOK_HANDLE,  /* @name */
    NLU_TOK_HASHTAG, /* #tag */
    NLU_TOK_PUNCT,   /* ! ? . , and other symbols; runs such as "!!!" or "?!" are one token */
};

enum nlu_script { NLU_SCRIPT_OTHER = 0, NLU_SCRIPT_LATIN, NLU_SCRIPT_CYRILLIC, NLU_SCRIPT_ARABIC };

/* token flags */
#define NLU_TOKF_CAPS      0x01 /* all upper case in the input, at least two letters */
#define NLU_TOKF_ELONGATED 0x02 /* a letter repeated 3+ times was squeezed: "sooo" -> "soo" */

struct nlu_token {
    const char *norm;  /* normalised, case-folded, NUL-terminated; owned by the nlu_tokens */
    uint32_t norm_len; /* bytes */
    uint32_t start;    /* byte span [start, end) in the original input */
    uint32_t end;
    uint8_t kind;   /* enum nlu_tok_kind */
    uint8_t script; /* enum nlu_script, for words */
    uint8_t flags;  /* NLU_TOKF_* */
};

/* A reusable token list: init once, tokenize many times, free once. */
struct nlu_tokens {
    struct nlu_token *v;
    size_t n;
    size_t cap;
    char *text; /* storage of the norm strings */
    size_t text_len;
    size_t text_cap;
};

void nlu_tokens_init(struct nlu_tokens *t);
void nlu_tokens_free(struct nlu_tokens *t);

/* Replaces the contents of out with the tokens of s[0..len). Normalisation: NFKC, case
 * folding, "ё" -> "е", letters repeated 3+ times squeezed to two (flagged). Fails with
 * DK_EINVAL on invalid UTF-8 and DK_ETOOBIG above NLU_MAX_TEXT; out is then empty.
 * Empty input gives no tokens and succeeds. */
int nlu_tokenize(const char *s, size_t len, struct nlu_tokens *out, struct dk_err *err);

/* ---- languages (lang.c) and stems (stem.c) ---- */

enum nlu_lang {
    NLU_LANG_UNKNOWN = 0,
    NLU_LANG_EN,
    NLU_LANG_RU,
    NLU_LANG_UK,
    NLU_LANG_ES,
    NLU_LANG_DE,
    NLU_LANG_FR,
    NLU_LANG_IT,
    NLU_LANG_PT,
    NLU_LANG_TR,
    NLU_LANG_AR,
    NLU_LANG_COUNT
};

/* "en", "ru", …; "und" for NLU_LANG_UNKNOWN. */
const char *nlu_lang_code(enum nlu_lang lang);
/* NLU_LANG_UNKNOWN when code is not one of ours. */
enum nlu_lang nlu_lang_from_code(const char *code);

struct nlu_lang_guess {
    enum nlu_lang lang;
    float confidence; /* [0, 1] */
};

/* Guesses the language of tokenised text: scripts, letters peculiar to a language, function
 * words, character n-grams. Short or language-neutral text ("ok", "👍") gives
 * NLU_LANG_UNKNOWN or a low confidence. */
struct nlu_lang_guess nlu_lang_detect(const struct nlu_tokens *toks);

/* Snowball stemmers, one set per thread (libstemmer's stemmers are not thread-safe). */
struct nlu_stemmer;
struct nlu_stemmer *nlu_stemmer_new(void);
void nlu_stemmer_free(struct nlu_stemmer *st);

/* Stem of a normalised word token. Cyrillic words use the Russian stemmer (Ukrainian has
 * none in Snowball: its words are left as they are), Latin words the stemmer of lang when it
 * is a Latin-script language, else English. Returns a pointer valid until the next call on
 * st, length in *out_len; non-words come back unchanged. */
const char *nlu_stem(struct nlu_stemmer *st, enum nlu_lang lang, const struct nlu_token *tok,
                     size_t *out_len);

/* The stem of the normalised word w[0..n) as a word token of lang's script (Cyrillic for ru
 * and uk, Arabic for ar, else Latin): nlu_stem for text that is not a token of a list (lexicon
 * entries, phrases). Same validity as nlu_stem. */
const char *nlu_stem_word(struct nlu_stemmer *st, enum nlu_lang lang, const char *w, size_t n,
                          size_t *out_len);

/* ---- entities and personal data (entities.c) ---- */

enum nlu_ent_kind {
    NLU_ENT_PRICE = 0, /* amount + currency: "$20", "1 500 руб", "15€" */
    NLU_ENT_QUANTITY,  /* "2 pcs", "3 шт", "x2" */
    NLU_ENT_SIZE,      /* XS…XXL, "size 38", "42 размер", "M" after "size" */
    NLU_ENT_COLOR,     /* "black", "чёрный", … */
    NLU_ENT_ORDER,     /* "#12345", "order 12345", "заказ № 12345" */
    NLU_ENT_DATE,      /* "12.05", "2024-05-12", "tomorrow", "завтра", "May 5" */
    NLU_ENT_TIME,      /* "15:30", "3pm" */
    NLU_ENT_PHONE,     /* PII */
    NLU_ENT_EMAIL,     /* PII */
    NLU_ENT_CARD,      /* PII: 13-19 digits passing Luhn */
    NLU_ENT_URL,
    NLU_ENT_HANDLE, /* PII: @name */
    NLU_ENT_COUNT
};

struct nlu_entity {
    uint8_t kind;        /* enum nlu_ent_kind */
    bool pii;            /* personal data: redact before a cloud LLM */
    uint32_t start, end; /* byte span in the input */
    char value[64]; /* normalised value: "20.00", "2024-05-12", "+79991234567", "black", "XL" */
    char unit[8];   /* currency (ISO 4217: "USD", "RUB", "EUR") or unit ("pcs"); "" if none */
};

/* Finds entities in s[0..len) (valid UTF-8; see nlu_utf8_check), in order of start, without
 * overlaps. Writes at most max into out and returns how many were found (may exceed max). */
size_t nlu_entities(const char *s, size_t len, struct nlu_entity *out, size_t max);

/* "price", "quantity", …, "handle". */
const char *nlu_ent_kind_name(enum nlu_ent_kind kind);

/* ---- sentiment and emotions (sentiment.c, lexicon.c) ---- */

enum nlu_emotion {
    NLU_EMO_JOY = 0,
    NLU_EMO_GRATITUDE,
    NLU_EMO_ANGER,
    NLU_EMO_SADNESS,
    NLU_EMO_FEAR,
    NLU_EMO_SURPRISE,
    NLU_EMO_COUNT
};

/* "joy", "gratitude", … */
const char *nlu_emotion_name(enum nlu_emotion e);

enum nlu_polarity { NLU_NEUTRAL = 0, NLU_POSITIVE, NLU_NEGATIVE };

/* "neutral", "positive", "negative" */
const char *nlu_polarity_name(enum nlu_polarity p);

/* Dense lexicon features handed to the trained sentiment model (see nlu_lexicon_scores). */
#define NLU_LEX_NFEAT 16

struct nlu_sentiment {
    enum nlu_polarity label;
    float score;                   /* [-1, 1] */
    float emotions[NLU_EMO_COUNT]; /* each [0, 1] */
};

/* Lexicon sentiment of tokenised text in lang: valences of words, stems and emoji, with
 * negation, intensifiers, contrast ("but", "но"), exclamation, caps and elongation; emotions
 * from emotion word lists. Fills out and, when feats is not NULL, NLU_LEX_NFEAT dense
 * features (positive/negative sums, counts, last-clause score, emoji score, …) for a trained
 * model. The lexicons are built once (thread-safe) from data compiled into the binary. */
void nlu_lexicon_scores(const struct nlu_tokens *toks, enum nlu_lang lang, struct nlu_stemmer *st,
                        struct nlu_sentiment *out, float *feats);

/* ---- datasets (dataset.c) ---- */

struct nlu_example {
    char *text;
    char *label;
};

struct nlu_dataset {
    struct nlu_example *v;
    size_t n;
    size_t cap;
};

void nlu_dataset_init(struct nlu_dataset *d);
void nlu_dataset_free(struct nlu_dataset *d);
/* Copies text and label in. DK_EINVAL on invalid UTF-8 or empty label. */
int nlu_dataset_add(struct nlu_dataset *d, const char *text, const char *label, struct dk_err *err);

/* Loads examples from a file, appending to d. Formats, by content: JSONL (one
 * {"text": …, "label": …} per line; "intent" is accepted for "label"), CSV with a header that
 * has "text" and "label" columns (RFC 4180 quoting), a JSON array of such objects or of
 * [text, label] pairs, and a JSON object of named splits of [text, label] pairs (CLINC150)
 * selected with "FILE#split1+split2". Errors name the file and line. */
int nlu_dataset_load(const char *spec, struct nlu_dataset *d, struct dk_err *err);

/* Parses examples held in memory (data[0..len): JSONL, CSV or a JSON array, as for
 * nlu_dataset_load), appending to d; origin names the source in error messages. */
int nlu_dataset_parse(const char *data, size_t len, const char *origin, struct nlu_dataset *d,
                      struct dk_err *err);

/* ---- the classifier (features.c, linear.c, model.c) ---- */

enum nlu_task { NLU_TASK_INTENT = 0, NLU_TASK_SENTIMENT = 1 };

/* The label of out-of-scope examples in datasets and of out-of-scope predictions. */
#define NLU_OOS_LABEL "oos"

struct nlu_train_opts {
    enum nlu_task task;
    uint64_t seed;       /* same seed, same data -> the same model, byte for byte */
    unsigned hash_bits;  /* feature space 2^hash_bits; 0 = default */
    unsigned max_epochs; /* 0 = default */
    float l2;            /* 0 = default; tuned on the validation split when one is given */
    /* Called now and then with done/total epochs; may be NULL. */
    void (*progress)(void *arg, unsigned epoch, unsigned max_epochs, float val_score);
    void *progress_arg;
};

struct nlu_model;

/* Trains a model on train; val (may be NULL: then a deterministic 10% of train is held out)
 * drives early stopping, the choice of regularisation, the confidence calibration
 * (temperature) and the out-of-scope threshold. Examples labelled "oos" teach the
 * out-of-scope decision. Returns a new model (free with nlu_model_free) or NULL with err. */
struct nlu_model *nlu_train(const struct nlu_dataset *train, const struct nlu_dataset *val,
                            const struct nlu_train_opts *opts, struct dk_err *err);

void nlu_model_free(struct nlu_model *m);

/* Versioned binary model files with a checksum; foreign, truncated, corrupt or newer files
 * get a clear DK_EINVAL. _mem variants for models kept in the database. */
int nlu_model_save(const struct nlu_model *m, const char *path, struct dk_err *err);
int nlu_model_save_mem(const struct nlu_model *m, struct dk_buf *out, struct dk_err *err);
struct nlu_model *nlu_model_load(const char *path, struct dk_err *err);
struct nlu_model *nlu_model_load_mem(const void *data, size_t len, struct dk_err *err);

enum nlu_task nlu_model_task(const struct nlu_model *m);
size_t nlu_model_nlabels(const struct nlu_model *m);
const char *nlu_model_label(const struct nlu_model *m, size_t i);
/* Bytes of weights and tables held in memory. */
size_t nlu_model_bytes(const struct nlu_model *m);

/* Per-thread scratch: tokens, stemmers, feature and score buffers. */
struct nlu_ctx;
struct nlu_ctx *nlu_ctx_new(void);
void nlu_ctx_free(struct nlu_ctx *c);
/* The tokens of the last text that c analysed or classified. */
const struct nlu_tokens *nlu_ctx_tokens(const struct nlu_ctx *c);
/* The context's stemmers (for nlu_lexicon_scores). */
struct nlu_stemmer *nlu_ctx_stemmer(struct nlu_ctx *c);

#define NLU_TOPK 3

struct nlu_prediction {
    const char *label; /* borrowed from the model; NLU_OOS_LABEL when out of scope */
    float confidence;  /* calibrated probability of the best in-scope label, [0, 1] */
    bool oos;          /* below the model's out-of-scope threshold (or "oos" won) */
    size_t ntop;
    struct {
        const char *label;
        float p;
    } top[NLU_TOPK];
};

/* Classifies s[0..len) (tokenised into c). DK_EINVAL on invalid UTF-8, DK_ETOOBIG above
 * NLU_MAX_TEXT. */
int nlu_classify(const struct nlu_model *m, struct nlu_ctx *c, const char *s, size_t len,
                 struct nlu_prediction *out, struct dk_err *err);

/* ---- evaluation (eval.c) ---- */

struct nlu_eval_class {
    char *label;
    size_t support; /* gold examples */
    double precision, recall, f1;
};

struct nlu_eval_pair {
    char *gold;
    char *pred;
    size_t count;
};

#define NLU_EVAL_CONFUSED 10

struct nlu_eval {
    enum nlu_task task;
    size_t n;
    double accuracy;         /* over all examples, "oos" a class like the others */
    double inscope_accuracy; /* among gold in-scope examples (a predicted "oos" is wrong) */
    double macro_precision;  /* macro averages over the gold classes ("oos" left out for */
    double macro_recall;     /* intents; every label counts for sentiment) */
    double macro_f1;
    size_t n_oos;      /* gold "oos" examples */
    double oos_recall; /* among them, predicted "oos"; -1 when there are none */
    double us_per_msg; /* wall time of one classification, tokenising included */
    size_t nclasses;   /* gold labels, sorted; "oos" included (not in the macro averages) */
    struct nlu_eval_class *per_class;
    size_t nconfused; /* most frequent (gold, predicted) errors, most frequent first */
    struct nlu_eval_pair confused[NLU_EVAL_CONFUSED];
};

/* Classifies every example of d with m and fills out (free with nlu_eval_free). m may be NULL
 * for task NLU_TASK_SENTIMENT: then the labels come from the lexicons (nlu_lexicon_scores:
 * "positive", "negative", "neutral"). DK_EINVAL on an empty dataset or a text that does not
 * tokenise. Single-threaded; allocates. */
int nlu_evaluate(const struct nlu_model *m, enum nlu_task task, const struct nlu_dataset *d,
                 struct nlu_eval *out, struct dk_err *err);
/* The metrics of predictions pred[i] against gold[i] (no timing). */
int nlu_eval_labels(enum nlu_task task, const char *const *gold, const char *const *pred, size_t n,
                    struct nlu_eval *out, struct dk_err *err);
/* A human-readable report: the summary, a per-class table, the confused pairs. */
void nlu_eval_print(const struct nlu_eval *e, FILE *f);
/* New JSON object: {n, accuracy, inscope_accuracy, macro_precision, macro_recall, macro_f1,
 * n_oos, oos_recall (null when no oos), us_per_msg, per_class: {label: {precision, recall, f1,
 * support}}, confused: [{gold, predicted, count}]}. */
struct json_t *nlu_eval_json(const struct nlu_eval *e);
void nlu_eval_free(struct nlu_eval *e);

/* ---- data compiled into the binary (generated from data/nlu/ by cmake/embed_dir.cmake) ---- */

/* The NUL-terminated bytes of data/nlu/<name> ("lexicons/vader_lexicon.txt"), length in
 * *len; NULL when there is no such file. Static storage. */
const char *nlu_data_get(const char *name, size_t *len);

/* ---- the shipped models and the whole analysis (default.c, analyze.c) ---- */

/* The default intent model for Instagram shops (English and Russian), trained once from
 * examples compiled into the binary on first use (thread-safe, deterministic). Borrowed. */
const struct nlu_model *nlu_default_intent_model(void);
/* The built-in intent examples (borrowed, loaded once). */
const struct nlu_dataset *nlu_default_intent_examples(void);
/* The seed the default model is trained with (retrained models use it too). */
uint64_t nlu_default_seed(void);

#define NLU_MAX_ENTITIES 32

struct nlu_result {
    struct nlu_lang_guess lang;
    struct nlu_prediction intent;
    struct nlu_sentiment sentiment;
    size_t nentities; /* may exceed NLU_MAX_ENTITIES; only that many are kept */
    struct nlu_entity entities[NLU_MAX_ENTITIES];
};

/* Everything at once: language, intent (with intent_model; NULL = the default), sentiment
 * (with sentiment_model when not NULL, else the lexicons), entities. */
int nlu_analyze(struct nlu_ctx *c, const struct nlu_model *intent_model,
                const struct nlu_model *sentiment_model, const char *s, size_t len,
                struct nlu_result *out, struct dk_err *err);

/* The result as JSON (new): {"language": {code, confidence}, "intent": {name, confidence, oos,
 * alternatives}, "sentiment": {label, score, emotions}, "entities": [{type, text, start, end,
 * value, unit, pii}], "pii": bool}. s/len is the analysed text (entity texts are cut from it). */
struct json_t *nlu_result_json(const struct nlu_result *r, const char *s, size_t len);
/* Parts of it, for the endpoints (new objects): */
struct json_t *nlu_intent_json(const struct nlu_prediction *p);
struct json_t *nlu_sentiment_json(const struct nlu_sentiment *st);
struct json_t *nlu_entities_json(const struct nlu_entity *e, size_t n, const char *s, size_t len);

#endif
