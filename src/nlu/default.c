/*
 * nlu/default: the shipped intent model for Instagram shops. The binary carries the examples
 * (data/nlu/intents/, JSONL files written by us in English and Russian), not the weights: the model
 * is trained from them on first use, once per process, with a fixed seed, so every process
 * and every build of the same source holds the same model. Training takes well under a second.
 */
#include "nlu/nlu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

static const char *const FILES[] = {"intents/en.jsonl", "intents/ru.jsonl"};

#define DEFAULT_SEED 20261127u

static struct nlu_dataset examples;
static struct nlu_model *model;
static pthread_once_t examples_once = PTHREAD_ONCE_INIT;
static pthread_once_t model_once = PTHREAD_ONCE_INIT;

static void load_examples(void)
{
    nlu_dataset_init(&examples);
    for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++) {
        size_t len = 0;
        const char *data = nlu_data_get(FILES[i], &len);
        struct dk_err err = {0};
        if (data == NULL || nlu_dataset_parse(data, len, FILES[i], &examples, &err) != 0) {
            /* the files are part of the source tree and tested: this is a broken build */
            DK_ERROR("built-in intent examples %s: %s", FILES[i],
                     data == NULL ? "missing" : err.msg);
            abort();
        }
    }
}

const struct nlu_dataset *nlu_default_intent_examples(void)
{
    pthread_once(&examples_once, load_examples);
    return &examples;
}

static void train_default(void)
{
    struct nlu_train_opts opts = {.task = NLU_TASK_INTENT, .seed = DEFAULT_SEED};
    struct dk_err err = {0};
    model = nlu_train(nlu_default_intent_examples(), NULL, &opts, &err);
    if (model == NULL) {
        DK_ERROR("could not train the built-in intent model: %s", err.msg);
        abort();
    }
}

const struct nlu_model *nlu_default_intent_model(void)
{
    pthread_once(&model_once, train_default);
    return model;
}

uint64_t nlu_default_seed(void)
{
    return DEFAULT_SEED;
}
