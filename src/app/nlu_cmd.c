/*
 * app/nlu_cmd: `direkt nlu train|eval|analyze`: the local NLU from the command line.
 *   train FILE… --task intent|sentiment --out MODEL [--val FILE] [--seed N] [--hash-bits N]
 *         [--epochs N]      trains from JSONL/CSV/JSON files (FILE#split+split for CLINC150)
 *   train --db [--out MODEL] trains the intent model from the built-in examples and the
 *         database's; without --out it is stored as the new model version
 *   eval FILE --task intent|sentiment [--model MODEL] [--json]
 *   analyze TEXT|- [--model MODEL] [--sentiment-model MODEL]
 * Errors go to stderr with the exit code 2 (usage) or 1 (failure).
 */
#include "app/app.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dktime.h"
#include "core/mem.h"
#include "nlu/nlu.h"
#include "pipeline/pipeline.h"

#define MAX_FILES 16

struct nlu_args {
    const char *files[MAX_FILES];
    int nfiles;
    const char *task;
    const char *out;
    const char *val;
    const char *model;
    const char *sentiment_model;
    bool json;
    bool db;
    unsigned long long seed;
    unsigned long hash_bits;
    unsigned long epochs;
};

static int usage(void)
{
    fprintf(stderr,
            "usage: direkt nlu train FILE... --task intent|sentiment --out MODEL [--val FILE]\n"
            "                        [--seed N] [--hash-bits N] [--epochs N]\n"
            "       direkt nlu train --db [--out MODEL]\n"
            "       direkt nlu eval FILE --task intent|sentiment [--model MODEL] [--json]\n"
            "       direkt nlu analyze TEXT|- [--model MODEL] [--sentiment-model MODEL]\n"
            "FILE: JSONL ({\"text\": …, \"label\": …} per line), CSV with text and label columns,\n"
            "or JSON; FILE#a+b selects splits of a JSON object of splits (CLINC150).\n");
    return 2;
}

static bool parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v = s != NULL && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, int first, struct nlu_args *a)
{
    memset(a, 0, sizeof(*a));
    a->seed = nlu_default_seed();
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n = 0;
        bool takes = true;
        if (strcmp(o, "--task") == 0 && v != NULL) {
            a->task = v;
        } else if (strcmp(o, "--out") == 0 && v != NULL) {
            a->out = v;
        } else if (strcmp(o, "--val") == 0 && v != NULL) {
            a->val = v;
        } else if (strcmp(o, "--model") == 0 && v != NULL) {
            a->model = v;
        } else if (strcmp(o, "--sentiment-model") == 0 && v != NULL) {
            a->sentiment_model = v;
        } else if (strcmp(o, "--seed") == 0 && parse_number(v, UINT64_MAX, &n)) {
            a->seed = n;
        } else if (strcmp(o, "--hash-bits") == 0 && parse_number(v, 26, &n) && n >= 10) {
            a->hash_bits = (unsigned long)n;
        } else if (strcmp(o, "--epochs") == 0 && parse_number(v, 10000, &n) && n > 0) {
            a->epochs = (unsigned long)n;
        } else {
            takes = false;
            if (strcmp(o, "--json") == 0) {
                a->json = true;
            } else if (strcmp(o, "--db") == 0) {
                a->db = true;
            } else if (o[0] == '-' && o[1] == '-') {
                fprintf(stderr, "direkt: nlu: bad or incomplete option %s\n", o);
                return -1;
            } else if (a->nfiles < MAX_FILES) {
                a->files[a->nfiles++] = o;
            } else {
                fprintf(stderr, "direkt: nlu: at most %d input files\n", MAX_FILES);
                return -1;
            }
        }
        i += takes ? 1 : 0;
    }
    return 0;
}

static bool task_of(const char *name, enum nlu_task *task)
{
    if (name != NULL && strcmp(name, "intent") == 0) {
        *task = NLU_TASK_INTENT;
    } else if (name != NULL && strcmp(name, "sentiment") == 0) {
        *task = NLU_TASK_SENTIMENT;
    } else {
        fprintf(stderr, "direkt: nlu: --task must be intent or sentiment\n");
        return false;
    }
    return true;
}

static int load_files(const char *const *files, int n, struct nlu_dataset *d)
{
    for (int i = 0; i < n; i++) {
        struct dk_err err = {0};
        if (nlu_dataset_load(files[i], d, &err) != 0) {
            fprintf(stderr, "direkt: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static void progress(void *arg, unsigned epoch, unsigned max_epochs, float val_score)
{
    bool tty = *(bool *)arg;
    fprintf(stderr, "%sepoch %u/%u: validation score %.4f%s", tty ? "\r" : "", epoch, max_epochs,
            (double)val_score, tty ? "   " : "\n");
}

static struct nlu_model *load_model(const char *path)
{
    struct dk_err err = {0};
    struct nlu_model *m = nlu_model_load(path, &err);
    if (m == NULL) {
        fprintf(stderr, "direkt: %s\n", err.msg);
    }
    return m;
}

static int save_model(const struct nlu_model *m, const char *path)
{
    struct dk_err err = {0};
    if (nlu_model_save(m, path, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* --db: built-in + database examples. With --out the model goes to a file, else into the
 * database as the new version that every process picks up. */
static int train_db(const struct app_config *cfg, const struct nlu_args *a)
{
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    int rc = c != NULL ? 0 : err.code;
    int64_t version = 0;
    int code = 1;
    if (rc == 0 && a->out != NULL) {
        struct nlu_dataset d;
        nlu_dataset_init(&d);
        rc = pipeline_nlu_training_set(c, &d, &err);
        struct nlu_train_opts opts = {.task = NLU_TASK_INTENT, .seed = a->seed};
        struct nlu_model *m = rc == 0 ? nlu_train(&d, NULL, &opts, &err) : NULL;
        code = m != NULL ? save_model(m, a->out) : 1;
        if (m != NULL && code == 0) {
            printf("trained %zu examples, %zu intents into %s\n", d.n, nlu_model_nlabels(m),
                   a->out);
        }
        nlu_model_free(m);
        nlu_dataset_free(&d);
    } else if (rc == 0) {
        /* reads and trains with no lock held; stores in a short transaction */
        rc = pipeline_nlu_retrain(c, &version, &err);
        if (rc == 0) {
            printf("intent model version %lld stored (see GET /api/v1/ai/intents)\n",
                   (long long)version);
            code = 0;
        }
    }
    if (code != 0 && err.msg[0] != '\0') {
        fprintf(stderr, "direkt: could not train from the database: %s\n", err.msg);
    }
    store_release(c);
    store_close(s);
    return code;
}

static int cmd_train(const struct app_config *cfg, const struct nlu_args *a)
{
    if (a->db) {
        return train_db(cfg, a);
    }
    enum nlu_task task;
    if (a->nfiles == 0 || a->out == NULL || !task_of(a->task, &task)) {
        return usage();
    }
    struct nlu_dataset train, val;
    nlu_dataset_init(&train);
    nlu_dataset_init(&val);
    int code = 1;
    if (load_files(a->files, a->nfiles, &train) == 0 &&
        (a->val == NULL || load_files(&a->val, 1, &val) == 0)) {
        bool tty = isatty(STDERR_FILENO);
        struct nlu_train_opts opts = {.task = task,
                                      .seed = a->seed,
                                      .hash_bits = (unsigned)a->hash_bits,
                                      .max_epochs = (unsigned)a->epochs,
                                      .progress = progress,
                                      .progress_arg = &tty};
        struct dk_err err = {0};
        int64_t t0 = dk_now_ms();
        struct nlu_model *m = nlu_train(&train, a->val != NULL ? &val : NULL, &opts, &err);
        int64_t ms = dk_now_ms() - t0;
        if (tty) {
            fputc('\n', stderr);
        }
        if (m == NULL) {
            fprintf(stderr, "direkt: could not train: %s\n", err.msg);
        } else {
            code = save_model(m, a->out);
            if (code == 0) {
                printf("trained %zu examples, %zu labels in %lld ms; %zu bytes in memory; "
                       "saved to %s\n",
                       train.n, nlu_model_nlabels(m), (long long)ms, nlu_model_bytes(m), a->out);
            }
            nlu_model_free(m);
        }
    }
    nlu_dataset_free(&train);
    nlu_dataset_free(&val);
    return code;
}

static int cmd_eval(const struct nlu_args *a)
{
    enum nlu_task task;
    if (a->nfiles != 1 || !task_of(a->task, &task)) {
        return usage();
    }
    struct nlu_model *owned = NULL;
    const struct nlu_model *m = NULL;
    if (a->model != NULL) {
        owned = load_model(a->model);
        if (owned == NULL) {
            return 1;
        }
        if (nlu_model_task(owned) != task) {
            fprintf(stderr, "direkt: %s is not a model for --task %s\n", a->model, a->task);
            nlu_model_free(owned);
            return 1;
        }
        m = owned;
    } else if (task == NLU_TASK_INTENT) {
        m = nlu_default_intent_model();
    } /* sentiment without a model: the lexicons */
    struct nlu_dataset d;
    nlu_dataset_init(&d);
    int code = 1;
    if (load_files(a->files, 1, &d) == 0) {
        struct nlu_eval ev;
        struct dk_err err = {0};
        if (nlu_evaluate(m, task, &d, &ev, &err) != 0) {
            fprintf(stderr, "direkt: could not evaluate: %s\n", err.msg);
        } else {
            if (a->json) {
                json_t *j = nlu_eval_json(&ev);
                json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
                fputc('\n', stdout);
                json_decref(j);
            } else {
                nlu_eval_print(&ev, stdout);
            }
            nlu_eval_free(&ev);
            code = 0;
        }
    }
    nlu_dataset_free(&d);
    nlu_model_free(owned);
    return code;
}

static char *read_stdin(size_t *len)
{
    struct dk_buf b;
    dk_buf_init(&b, NLU_MAX_TEXT + 1);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (dk_buf_append(&b, chunk, n) != 0) {
            break;
        }
    }
    /* one trailing newline from echo or a heredoc is not part of the message */
    if (b.len > 0 && b.data[b.len - 1] == '\n') {
        b.data[--b.len] = '\0';
    }
    return dk_buf_take(&b, len);
}

static int cmd_analyze(const struct nlu_args *a)
{
    if (a->nfiles != 1) {
        return usage();
    }
    struct nlu_model *im = a->model != NULL ? load_model(a->model) : NULL;
    struct nlu_model *sm = a->sentiment_model != NULL ? load_model(a->sentiment_model) : NULL;
    if ((a->model != NULL && im == NULL) || (a->sentiment_model != NULL && sm == NULL)) {
        nlu_model_free(im);
        nlu_model_free(sm);
        return 1;
    }
    size_t len = 0;
    char *stdin_text = strcmp(a->files[0], "-") == 0 ? read_stdin(&len) : NULL;
    const char *text = stdin_text != NULL ? stdin_text : a->files[0];
    if (stdin_text == NULL) {
        len = strlen(text);
    }
    struct nlu_ctx *c = nlu_ctx_new();
    struct nlu_result res;
    struct dk_err err = {0};
    int code = 1;
    if (nlu_analyze(c, im, sm, text, len, &res, &err) != 0) {
        fprintf(stderr, "direkt: could not analyze: %s\n", err.msg);
    } else {
        json_t *j = nlu_result_json(&res, text, len);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        json_decref(j);
        code = 0;
    }
    nlu_ctx_free(c);
    dk_free(stdin_text);
    nlu_model_free(im);
    nlu_model_free(sm);
    return code;
}

int app_cmd_nlu(const struct app_config *cfg, int argc, char **argv)
{
    if (argc < 3) {
        return usage();
    }
    struct nlu_args a;
    if (parse_args(argc, argv, 3, &a) != 0) {
        return 2;
    }
    const char *sub = argv[2];
    if (strcmp(sub, "train") == 0) {
        return cmd_train(cfg, &a);
    }
    if (strcmp(sub, "eval") == 0) {
        return cmd_eval(&a);
    }
    if (strcmp(sub, "analyze") == 0) {
        return cmd_analyze(&a);
    }
    return usage();
}
