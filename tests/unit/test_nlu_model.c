/* Unit tests of the NLU classifier: dataset loaders, training, model files, classification,
 * out-of-scope decisions, calibration and evaluation metrics. Data are small and written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

/* ---- helpers ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dk_nlu_model_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes content to a file in tmpdir and returns its path (static buffer per slot). */
static const char *write_file(const char *name, const char *content, size_t len)
{
    static char paths[4][256];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    return p;
}

static int parse(const char *s, struct nlu_dataset *d, struct dk_err *err)
{
    return nlu_dataset_parse(s, strlen(s), "mem", d, err);
}

/* Three shop intents and out-of-scope chatter, about ten examples each. */
static const char *const EXAMPLES[][2] = {
    {"how much is this", "price"},
    {"what is the price", "price"},
    {"how much does it cost", "price"},
    {"price please", "price"},
    {"what's the cost of the black dress", "price"},
    {"how much for two", "price"},
    {"tell me the price of the bag", "price"},
    {"is it expensive", "price"},
    {"the price of these shoes?", "price"},
    {"cost?", "price"},
    {"сколько стоит", "price"},
    {"какая цена", "price"},
    {"do you ship to germany", "delivery"},
    {"how long is delivery", "delivery"},
    {"when will my parcel arrive", "delivery"},
    {"shipping cost to london", "delivery"},
    {"can you deliver tomorrow", "delivery"},
    {"do you deliver by courier", "delivery"},
    {"how fast is shipping", "delivery"},
    {"where is my package", "delivery"},
    {"delivery options please", "delivery"},
    {"is shipping free", "delivery"},
    {"доставка в москву есть", "delivery"},
    {"когда придет посылка", "delivery"},
    {"is size m available", "availability"},
    {"do you have it in black", "availability"},
    {"is this in stock", "availability"},
    {"any left in size 38", "availability"},
    {"still available?", "availability"},
    {"do you have the red one", "availability"},
    {"is it sold out", "availability"},
    {"in stock in xl?", "availability"},
    {"can i get it in blue", "availability"},
    {"do you have more of these", "availability"},
    {"есть в наличии", "availability"},
    {"есть размер м", "availability"},
    {"what is the capital of france", "oos"},
    {"tell me a joke", "oos"},
    {"who won the football game", "oos"},
    {"what's the weather like", "oos"},
    {"play some music", "oos"},
    {"how old is the universe", "oos"},
    {"translate hello to spanish", "oos"},
    {"set an alarm for 7", "oos"},
    {"what is love", "oos"},
    {"solve this equation", "oos"},
};

static void shop_dataset(struct nlu_dataset *d, bool with_oos)
{
    nlu_dataset_init(d);
    for (size_t i = 0; i < sizeof(EXAMPLES) / sizeof(EXAMPLES[0]); i++) {
        if (!with_oos && strcmp(EXAMPLES[i][1], "oos") == 0) {
            continue;
        }
        assert_int_equal(nlu_dataset_add(d, EXAMPLES[i][0], EXAMPLES[i][1], NULL), 0);
    }
}

static struct nlu_model *train_shop(uint64_t seed, bool with_oos)
{
    struct nlu_dataset d;
    shop_dataset(&d, with_oos);
    struct nlu_train_opts o = {.task = NLU_TASK_INTENT, .seed = seed};
    struct dk_err err = {0};
    struct nlu_model *m = nlu_train(&d, NULL, &o, &err);
    if (m == NULL) {
        fail_msg("train: %s", err.msg);
    }
    nlu_dataset_free(&d);
    return m;
}

static void save(const struct nlu_model *m, struct dk_buf *b)
{
    dk_buf_init(b, 64u << 20);
    struct dk_err err;
    assert_int_equal(nlu_model_save_mem(m, b, &err), 0);
}

/* ---- datasets ---- */

static void test_nlu_model_dataset_formats(void **state)
{
    (void)state;
    struct nlu_dataset d;
    struct dk_err err;
    nlu_dataset_init(&d);
    /* JSONL, "intent" accepted for "label", blank lines skipped */
    assert_int_equal(parse("{\"text\": \"hi there\", \"label\": \"greet\"}\n\n"
                           "{\"text\": \"bye\", \"intent\": \"leave\"}\n",
                           &d, &err),
                     0);
    /* CSV with quoting: a comma, a doubled quote and a newline inside fields; CRLF */
    assert_int_equal(parse("id,text,label\r\n1,\"a, b\",x\r\n2,\"say \"\"hi\"\"\nnow\",y\r\n"
                           "3,plain,z",
                           &d, &err),
                     0);
    /* JSON arrays of objects and of pairs */
    assert_int_equal(parse("[{\"text\": \"one\", \"label\": \"n\"}, [\"two\", \"n\"]]", &d, &err),
                     0);
    assert_int_equal(d.n, 7);
    assert_string_equal(d.v[0].text, "hi there");
    assert_string_equal(d.v[1].label, "leave");
    assert_string_equal(d.v[2].text, "a, b");
    assert_string_equal(d.v[3].text, "say \"hi\"\nnow");
    assert_string_equal(d.v[3].label, "y");
    assert_string_equal(d.v[4].label, "z");
    assert_string_equal(d.v[6].text, "two");
    nlu_dataset_free(&d);

    /* CLINC-style object of splits, chosen with FILE#a+b */
    const char *clinc =
        "{\"train\": [[\"t1\", \"a\"], [\"t2\", \"b\"]], \"val\": [[\"v1\", \"a\"]],"
        " \"oos_val\": [[\"o1\", \"oos\"]]}";
    const char *path = write_file("clinc.json", clinc, strlen(clinc));
    char spec[300];
    snprintf(spec, sizeof(spec), "%s#val+oos_val", path);
    nlu_dataset_init(&d);
    assert_int_equal(nlu_dataset_load(spec, &d, &err), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[1].label, "oos");
    assert_int_equal(nlu_dataset_load(path, &d, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "#split1+split2"));
    snprintf(spec, sizeof(spec), "%s#test", path);
    assert_int_equal(nlu_dataset_load(spec, &d, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, "no split \"test\""));
    assert_int_equal(d.n, 2);

    /* SemEval TSV: id, label, text (quoted with doubled quotes), a trailing tab */
    const char *tsv = "1\tpositive\tgreat day\n2\tnegative\t\"so \"\"bad\"\"\"\t\n";
    assert_int_equal(nlu_dataset_load(write_file("s.tsv", tsv, strlen(tsv)), &d, &err), 0);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.v[2].text, "great day");
    assert_string_equal(d.v[3].text, "so \"bad\"");
    assert_string_equal(d.v[3].label, "negative");
    nlu_dataset_free(&d);
}

static void expect_error(const char *content, const char *needle)
{
    struct nlu_dataset d;
    struct dk_err err = {0};
    nlu_dataset_init(&d);
    assert_int_equal(nlu_dataset_add(&d, "kept", "k", NULL), 0);
    int rc = nlu_dataset_parse(content, strlen(content), "f.csv", &d, &err);
    assert_true(rc < 0);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    }
    assert_non_null(strstr(err.msg, "f.csv"));
    /* all or nothing: the example added before stays, nothing of the bad file */
    assert_int_equal(d.n, 1);
    nlu_dataset_free(&d);
}

static void test_nlu_model_dataset_errors(void **state)
{
    (void)state;
    expect_error("", "line 1: empty file");
    expect_error("  \n\n", "empty file");
    expect_error("text,label\na,b\n\"open,c\n", "line 3: unterminated quoted field");
    expect_error("text,category\na,b\n", "line 1: the header needs");
    expect_error("text,label\na,b\nc\n", "line 3: 1 fields where the header has 2");
    expect_error("text,label\na,b\n\"x\"y,z\n", "line 3: unexpected character");
    expect_error("text,label\nok,b\nbad \xff byte,c\n", "line 3: text: invalid UTF-8");
    expect_error("text,label\nno label,\n", "line 2: empty label");
    expect_error("text,label\n", "no examples");
    expect_error("{\"text\": \"a\", \"label\": \"b\"}\n{\"text\": 5, \"label\": \"b\"}\n",
                 "line 2: missing or non-string \"text\"");
    expect_error("{\"text\": \"a\", \"label\": \"b\"}\n{\"text\": \"x\"\n", "line 2");
    expect_error("[[\"a\", \"b\"], [\"c\"]]", "item 2");
    expect_error("[{\"text\": \"a\"}]", "item 1: missing or non-string \"label\"");
    expect_error("1\tpositive\n", "line 1: 2 fields, expected id, label and text");

    struct nlu_dataset d;
    struct dk_err err;
    nlu_dataset_init(&d);
    assert_int_equal(nlu_dataset_load("/nonexistent/x.csv", &d, &err), DK_ENOTFOUND);
    assert_int_equal(nlu_dataset_add(&d, "text", "", &err), DK_EINVAL);
    assert_int_equal(nlu_dataset_add(&d, "bad \xc3", "l", &err), DK_EINVAL);
    assert_int_equal(d.n, 0);
    nlu_dataset_free(&d);
}

/* ---- training and model files ---- */

static void test_nlu_model_training_is_deterministic(void **state)
{
    (void)state;
    struct nlu_model *a = train_shop(7, true);
    struct nlu_model *b = train_shop(7, true);
    struct nlu_model *c = train_shop(8, true);
    struct dk_buf ba;
    struct dk_buf bb;
    struct dk_buf bc;
    save(a, &ba);
    save(b, &bb);
    save(c, &bc);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len);
    assert_int_equal(nlu_model_task(a), NLU_TASK_INTENT);
    assert_int_equal(nlu_model_nlabels(a), 4);
    assert_string_equal(nlu_model_label(a, 0), "availability");
    assert_string_equal(nlu_model_label(a, 3), "price");
    assert_null(nlu_model_label(a, 4));
    assert_true(nlu_model_bytes(a) > 1000 && nlu_model_bytes(a) < (4u << 20));
    dk_buf_free(&ba);
    dk_buf_free(&bb);
    dk_buf_free(&bc);
    nlu_model_free(a);
    nlu_model_free(b);
    nlu_model_free(c);
}

static void test_nlu_model_round_trip(void **state)
{
    (void)state;
    struct nlu_model *m = train_shop(1, true);
    struct dk_buf b1;
    struct dk_buf b2;
    struct dk_err err;
    save(m, &b1);
    char path[256];
    snprintf(path, sizeof(path), "%s/m.bin", tmpdir);
    assert_int_equal(nlu_model_save(m, path, &err), 0);
    struct nlu_model *l = nlu_model_load(path, &err);
    assert_non_null(l);
    save(l, &b2);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    struct nlu_ctx *c = nlu_ctx_new();
    const char *texts[] = {"how much is the bag", "do you ship to paris", "is it in stock",
                           "who is the president"};
    for (size_t i = 0; i < 4; i++) {
        struct nlu_prediction p1;
        struct nlu_prediction p2;
        assert_int_equal(nlu_classify(m, c, texts[i], strlen(texts[i]), &p1, &err), 0);
        assert_int_equal(nlu_classify(l, c, texts[i], strlen(texts[i]), &p2, &err), 0);
        assert_string_equal(p1.label, p2.label);
        assert_true(p1.confidence == p2.confidence);
    }
    nlu_ctx_free(c);
    nlu_model_free(l);
    nlu_model_free(m);
    dk_buf_free(&b1);
    dk_buf_free(&b2);
}

static void expect_load_error(const void *data, size_t len, const char *needle)
{
    struct dk_err err = {0};
    struct nlu_model *m = nlu_model_load_mem(data, len, &err);
    assert_null(m);
    assert_int_equal(err.code, DK_EINVAL);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    }
}

/* Rewrites the trailing SHA-256 so that a hand-edited image passes the checksum. */
static void reseal(unsigned char *p, size_t len)
{
    char hex[DK_SHA256_HEX];
    dk_sha256_hex(p, len - 32, hex);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        p[len - 32 + (size_t)i] = (unsigned char)v;
    }
}

static void test_nlu_model_rejects_bad_files(void **state)
{
    (void)state;
    struct nlu_model *m = train_shop(1, false);
    struct dk_buf b;
    save(m, &b);
    nlu_model_free(m);
    unsigned char *p = dk_malloc(b.len);
    /* intact */
    memcpy(p, b.data, b.len);
    m = nlu_model_load_mem(p, b.len, NULL);
    assert_non_null(m);
    nlu_model_free(m);
    /* a flipped byte in the weights */
    p[b.len / 2] ^= 0x10;
    expect_load_error(p, b.len, "checksum mismatch (corrupt)");
    memcpy(p, b.data, b.len);
    /* truncation */
    expect_load_error(p, b.len - 1, "truncated");
    expect_load_error(p, 10, "truncated");
    /* foreign file */
    expect_load_error("PK\x03\x04 not a model at all", 24, "bad magic");
    expect_load_error("", 0, "bad magic");
    /* a newer format version */
    p[8] = 2;
    expect_load_error(p, b.len, "format version 2 is newer");
    p[8] = 1;
    /* absurd label count (offset 52: after magic, version, length, task, config, group
     * weights, temperature and threshold), resealed so that only the sizes are wrong */
    p[52] = 0xff;
    p[53] = 0xff;
    p[54] = 0xff;
    reseal(p, b.len);
    expect_load_error(p, b.len, "absurd label count");
    memcpy(p, b.data, b.len);
    /* a temperature that is not a number */
    memcpy(p + 44, "\xff\xff\xff\x7f", 4);
    reseal(p, b.len);
    expect_load_error(p, b.len, "bad temperature");
    /* the internal parser without the checksum still checks the structure */
    memcpy(p, b.data, b.len);
    p[b.len - 40] ^= 0x7f; /* a bias byte: not a structural error */
    struct dk_err err;
    m = nlu_model_parse(p, b.len, false, "x", &err);
    assert_non_null(m);
    nlu_model_free(m);
    dk_free(p);
    dk_buf_free(&b);
}

/* ---- classification ---- */

static void test_nlu_model_learns_small_dataset(void **state)
{
    (void)state;
    struct nlu_model *m = train_shop(3, false);
    struct nlu_ctx *c = nlu_ctx_new();
    struct dk_err err;
    static const char *const probe[][2] = {
        {"how much is it", "price"},
        {"what does the blue dress cost", "price"},
        {"сколько стоит платье", "price"},
        {"do you ship to spain", "delivery"},
        {"when does my parcel arrive", "delivery"},
        {"доставка в киев", "delivery"},
        {"is the m size in stock", "availability"},
        {"do you have it in red", "availability"},
    };
    size_t right = 0;
    for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
        struct nlu_prediction p;
        assert_int_equal(nlu_classify(m, c, probe[i][0], strlen(probe[i][0]), &p, &err), 0);
        right += strcmp(p.label, probe[i][1]) == 0;
        /* calibrated: confidences in [0, 1], sorted, the top ones sum to at most 1 */
        assert_int_equal(p.ntop, 3);
        float sum = 0.0f;
        for (size_t t = 0; t < p.ntop; t++) {
            assert_true(p.top[t].p >= 0.0f && p.top[t].p <= 1.0f);
            assert_true(t == 0 || p.top[t].p <= p.top[t - 1].p);
            sum += p.top[t].p;
        }
        assert_true(sum <= 1.0001f && sum > 0.99f); /* three labels: the whole distribution */
        assert_true(p.confidence > 0.34f && p.confidence <= 1.0f);
        assert_false(p.oos); /* no oos examples: threshold 0 */
    }
    assert_true(right >= 7);
    /* invalid input */
    struct nlu_prediction p;
    assert_int_equal(nlu_classify(m, c, "bad \xff", 5, &p, &err), DK_EINVAL);
    assert_true(p.oos);
    assert_int_equal(nlu_classify(m, c, "", 0, &p, &err), 0);
    assert_non_null(p.label);
    nlu_ctx_free(c);
    nlu_model_free(m);
}

static void test_nlu_model_out_of_scope(void **state)
{
    (void)state;
    struct nlu_model *m = train_shop(5, true);
    struct nlu_ctx *c = nlu_ctx_new();
    struct dk_err err;
    struct nlu_prediction p;
    assert_true(m->oos < m->nlabels);
    assert_true(m->oos_threshold >= 0.0f && m->oos_threshold <= 1.0f);
    const char *q = "what is the weather like in paris";
    assert_int_equal(nlu_classify(m, c, q, strlen(q), &p, &err), 0);
    assert_true(p.oos);
    assert_string_equal(p.label, NLU_OOS_LABEL);
    q = "how much is this dress";
    assert_int_equal(nlu_classify(m, c, q, strlen(q), &p, &err), 0);
    assert_false(p.oos);
    assert_string_equal(p.label, "price");
    /* the threshold decides: at 1 everything is out of scope, the confidence stays */
    float conf = p.confidence;
    m->oos_threshold = 1.0f;
    assert_int_equal(nlu_classify(m, c, q, strlen(q), &p, &err), 0);
    assert_true(p.oos);
    assert_string_equal(p.label, NLU_OOS_LABEL);
    assert_true(p.confidence == conf);
    nlu_ctx_free(c);
    nlu_model_free(m);
}

static void test_nlu_model_training_errors(void **state)
{
    (void)state;
    struct nlu_dataset d;
    struct nlu_dataset v;
    struct dk_err err;
    struct nlu_train_opts o = {.task = NLU_TASK_INTENT, .seed = 1};
    nlu_dataset_init(&d);
    nlu_dataset_init(&v);
    assert_null(nlu_train(&d, NULL, &o, &err));
    assert_non_null(strstr(err.msg, "no training examples"));
    nlu_dataset_add(&d, "a", "x", NULL);
    nlu_dataset_add(&d, "b", "x", NULL);
    assert_null(nlu_train(&d, NULL, &o, &err));
    assert_non_null(strstr(err.msg, "at least two labels"));
    nlu_dataset_add(&d, "c", "y", NULL);
    nlu_dataset_add(&v, "d", "z", NULL);
    assert_null(nlu_train(&d, &v, &o, &err));
    assert_non_null(strstr(err.msg, "label \"z\" is not in the training data"));
    o.hash_bits = 40;
    assert_null(nlu_train(&d, NULL, &o, &err));
    nlu_dataset_free(&d);
    nlu_dataset_free(&v);
}

static void test_nlu_model_sentiment_task(void **state)
{
    (void)state;
    static const char *const ex[][2] = {
        {"i love it, thank you!", "positive"}, {"great quality, so happy", "positive"},
        {"amazing dress :)", "positive"},      {"perfect, works great", "positive"},
        {"best shop ever", "positive"},        {"очень нравится, спасибо", "positive"},
        {"terrible, it broke", "negative"},    {"i hate this, awful", "negative"},
        {"worst order ever :(", "negative"},   {"not good at all", "negative"},
        {"very bad quality", "negative"},      {"ужасно, не работает", "negative"},
        {"the parcel is a box", "neutral"},    {"it is blue", "neutral"},
        {"order 123 was sent", "neutral"},     {"the size is m", "neutral"},
        {"we open at 9", "neutral"},           {"это сумка", "neutral"},
    };
    struct nlu_dataset d;
    nlu_dataset_init(&d);
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        assert_int_equal(nlu_dataset_add(&d, ex[i][0], ex[i][1], NULL), 0);
    }
    struct nlu_train_opts o = {.task = NLU_TASK_SENTIMENT, .seed = 4};
    struct dk_err err;
    struct nlu_model *m = nlu_train(&d, &d, &o, &err);
    assert_non_null(m);
    assert_int_equal(nlu_model_task(m), NLU_TASK_SENTIMENT);
    assert_true(m->cfg.flags & NLU_FEAT_LEXICON);
    /* the dense lexicon rows sit above the hashed buckets and survive a round trip */
    assert_true(m->nrows > 0 && m->buckets[m->nrows - 1] >= nlu_dense_bucket(&m->cfg, 0));
    struct dk_buf b1;
    struct dk_buf b2;
    save(m, &b1);
    struct nlu_model *l = nlu_model_load_mem(b1.data, b1.len, &err);
    assert_non_null(l);
    save(l, &b2);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    struct nlu_ctx *c = nlu_ctx_new();
    struct nlu_prediction p;
    const char *q = "i love this shop, thank you";
    assert_int_equal(nlu_classify(l, c, q, strlen(q), &p, &err), 0);
    assert_string_equal(p.label, "positive");
    assert_false(p.oos);
    q = "awful, the worst";
    assert_int_equal(nlu_classify(l, c, q, strlen(q), &p, &err), 0);
    assert_string_equal(p.label, "negative");
    nlu_ctx_free(c);
    nlu_model_free(l);
    nlu_model_free(m);
    dk_buf_free(&b1);
    dk_buf_free(&b2);
    nlu_dataset_free(&d);
}

/* ---- evaluation ---- */

static void test_nlu_model_eval_metrics(void **state)
{
    (void)state;
    const char *gold[] = {"a", "a", "a", "b", "b", "oos", "oos"};
    const char *pred[] = {"a", "a", "b", "b", "oos", "oos", "a"};
    struct nlu_eval e;
    struct dk_err err;
    assert_int_equal(nlu_eval_labels(NLU_TASK_INTENT, gold, pred, 7, &e, &err), 0);
    assert_int_equal(e.n, 7);
    assert_true(fabs(e.accuracy - 4.0 / 7.0) < 1e-9);
    assert_true(fabs(e.inscope_accuracy - 3.0 / 5.0) < 1e-9);
    assert_true(fabs(e.oos_recall - 0.5) < 1e-9);
    assert_int_equal(e.n_oos, 2);
    assert_int_equal(e.nclasses, 3);
    assert_string_equal(e.per_class[0].label, "a");
    assert_true(fabs(e.per_class[0].precision - 2.0 / 3.0) < 1e-9);
    assert_true(fabs(e.per_class[0].recall - 2.0 / 3.0) < 1e-9);
    assert_true(fabs(e.per_class[1].precision - 0.5) < 1e-9);
    assert_true(fabs(e.per_class[1].f1 - 0.5) < 1e-9);
    /* macro over a and b only */
    assert_true(fabs(e.macro_recall - (2.0 / 3.0 + 0.5) / 2.0) < 1e-9);
    assert_true(fabs(e.macro_f1 - (2.0 / 3.0 + 0.5) / 2.0) < 1e-9);
    assert_int_equal(e.nconfused, 3);
    assert_string_equal(e.confused[0].gold, "a");
    assert_string_equal(e.confused[0].pred, "b");
    assert_string_equal(e.confused[2].gold, "oos");
    json_t *j = nlu_eval_json(&e);
    assert_true(fabs(json_real_value(json_object_get(j, "oos_recall")) - 0.5) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "per_class"), "b"), "support")),
                     2);
    assert_int_equal(json_array_size(json_object_get(j, "confused")), 3);
    json_decref(j);
    nlu_eval_free(&e);
    /* sentiment: every label counts, no oos */
    assert_int_equal(nlu_eval_labels(NLU_TASK_SENTIMENT, gold, pred, 7, &e, &err), 0);
    assert_true(fabs(e.macro_recall - (2.0 / 3.0 + 0.5 + 0.5) / 3.0) < 1e-9);
    nlu_eval_free(&e);
    assert_int_equal(nlu_eval_labels(NLU_TASK_INTENT, gold, pred, 0, &e, &err), DK_EINVAL);
}

static void test_nlu_model_evaluate_model(void **state)
{
    (void)state;
    struct nlu_model *m = train_shop(2, true);
    struct nlu_dataset d;
    shop_dataset(&d, true);
    struct nlu_eval e;
    struct dk_err err;
    assert_int_equal(nlu_evaluate(m, NLU_TASK_INTENT, &d, &e, &err), 0);
    assert_int_equal(e.n, d.n);
    assert_true(e.accuracy > 0.8); /* its own training data */
    assert_true(e.us_per_msg > 0.0);
    static char buf[16384];
    memset(buf, 0, sizeof(buf));
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    assert_non_null(f);
    nlu_eval_print(&e, f);
    fclose(f);
    assert_non_null(strstr(buf, "in-scope accuracy"));
    assert_non_null(strstr(buf, "availability"));
    nlu_eval_free(&e);
    assert_int_equal(nlu_evaluate(m, NLU_TASK_SENTIMENT, &d, &e, &err), DK_EINVAL);
    assert_int_equal(nlu_evaluate(NULL, NLU_TASK_INTENT, &d, &e, &err), DK_EINVAL);
    nlu_dataset_free(&d);
    nlu_model_free(m);
}

/* Primal objective of the Crammer-Singer SVM with a regularised bias (svm.c). */
static double cs_primal(const struct nlu_csr *a, size_t k, const float *w, const float *b, float c)
{
    double obj = 0.0;
    for (size_t j = 0; j < k; j++) {
        obj += 0.5 * b[j] * b[j];
        for (size_t r = 0; r < k; r++) {
            obj += 0.5 * w[r * k + j] * w[r * k + j];
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        double z[8];
        for (size_t j = 0; j < k; j++) {
            z[j] = b[j];
            for (size_t p = a->ptr[i]; p < a->ptr[i + 1]; p++) {
                z[j] += a->val[p] * w[a->col[p] * k + j];
            }
        }
        double worst = 0.0;
        for (size_t j = 0; j < k; j++) {
            if (j != a->y[i]) {
                worst = fmax(worst, 1.0 + z[j] - z[a->y[i]]);
            }
        }
        obj += c * worst;
    }
    return obj;
}

/* The Crammer-Singer SVM alone on three overlapping classes over three columns: the weights
 * minimise the primal objective (no small move of any weight lowers it), a larger C fits the
 * training data more closely, and two runs give the same weights bit for bit. */
static void test_nlu_model_svm_solver(void **state)
{
    (void)state;
    enum { N = 30, K = 3 };
    size_t ptr[N + 1];
    uint32_t col[2 * N];
    float val[2 * N];
    uint32_t y[N];
    for (size_t i = 0; i < N; i++) {
        y[i] = (uint32_t)(i % K);
        ptr[i] = 2 * i;
        /* every fifth example leans to the wrong column */
        bool odd = i % 5 == 4;
        col[2 * i] = y[i];
        val[2 * i] = odd ? 0.3f : 0.6f + 0.02f * (float)(i % 7);
        col[2 * i + 1] = (y[i] + 1) % K;
        val[2 * i + 1] = odd ? 0.8f : 0.3f;
    }
    ptr[N] = 2 * N;
    struct nlu_csr a = {N, ptr, col, val, y};
    struct nlu_svm_opts o = {.c = 1.0f, .eps = 1e-4f, .max_epochs = 5000, .seed = 7};
    float w[K * K], b[K], w2[K * K], b2[K];
    nlu_svm_train(&a, K, K, &o, w, b);
    nlu_svm_train(&a, K, K, &o, w2, b2);
    assert_memory_equal(w, w2, sizeof(w));
    assert_memory_equal(b, b2, sizeof(b));
    double best = cs_primal(&a, K, w, b, o.c);
    assert_true(best > 0.0);
    for (size_t p = 0; p < K * K + K; p++) {
        float *x = p < K * K ? &w[p] : &b[p - K * K];
        float keep = *x;
        for (int s = -1; s <= 1; s += 2) {
            *x = keep + 0.05f * (float)s;
            assert_true(cs_primal(&a, K, w, b, o.c) > best - 1e-3);
        }
        *x = keep;
    }
    /* training errors: fewer with a large C than with a small one */
    size_t wrong[2] = {0, 0};
    for (int run = 0; run < 2; run++) {
        o.c = run == 0 ? 0.01f : 100.0f;
        nlu_svm_train(&a, K, K, &o, w2, b2);
        for (size_t i = 0; i < N; i++) {
            float z[K];
            for (size_t j = 0; j < K; j++) {
                z[j] = b2[j];
                for (size_t p = ptr[i]; p < ptr[i + 1]; p++) {
                    z[j] += val[p] * w2[col[p] * K + j];
                }
            }
            for (size_t j = 0; j < K; j++) {
                wrong[run] += j != y[i] && z[j] >= z[y[i]];
            }
        }
    }
    assert_true(wrong[1] < wrong[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nlu_model_dataset_formats),
        cmocka_unit_test(test_nlu_model_dataset_errors),
        cmocka_unit_test(test_nlu_model_training_is_deterministic),
        cmocka_unit_test(test_nlu_model_round_trip),
        cmocka_unit_test(test_nlu_model_rejects_bad_files),
        cmocka_unit_test(test_nlu_model_learns_small_dataset),
        cmocka_unit_test(test_nlu_model_out_of_scope),
        cmocka_unit_test(test_nlu_model_training_errors),
        cmocka_unit_test(test_nlu_model_sentiment_task),
        cmocka_unit_test(test_nlu_model_eval_metrics),
        cmocka_unit_test(test_nlu_model_evaluate_model),
        cmocka_unit_test(test_nlu_model_svm_solver),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
