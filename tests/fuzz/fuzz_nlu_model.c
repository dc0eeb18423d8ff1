/*
 * Fuzz target of the classifier's parsers of outside data: model files (nlu_model_load_mem
 * with its checksum, and the parser behind it with the checksum skipped so that mutations
 * reach the structure checks; a model that parses must classify without harm) and dataset
 * files (CSV, TSV, JSONL, JSON arrays and objects of splits) parsed from memory.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nlu/nlu.h"
#include "nlu/nlu_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dk_err err;
    struct nlu_model *m = nlu_model_load_mem(data, size, &err);
    nlu_model_free(m);
    m = nlu_model_parse(data, size, false, "fuzz", &err);
    if (m != NULL) {
        struct nlu_ctx *c = nlu_ctx_new();
        struct nlu_prediction p;
        static const char *const texts[] = {"how much is delivery to berlin?", "привет :)", ""};
        for (size_t i = 0; i < 3; i++) {
            if (nlu_classify(m, c, texts[i], strlen(texts[i]), &p, &err) == 0 &&
                (p.label == NULL || !(p.confidence >= 0.0f && p.confidence <= 1.0f))) {
                __builtin_trap();
            }
        }
        struct dk_buf b;
        dk_buf_init(&b, 64u << 20);
        if (nlu_model_save_mem(m, &b, &err) != 0) {
            __builtin_trap();
        }
        dk_buf_free(&b);
        nlu_ctx_free(c);
        nlu_model_free(m);
    }
    struct nlu_dataset d;
    nlu_dataset_init(&d);
    nlu_dataset_parse((const char *)data, size, "fuzz", &d, &err);
    nlu_dataset_parse_split("fuzz", (const char *)data, size, "train+val", &d, &err);
    for (size_t i = 0; i < d.n; i++) {
        if (d.v[i].text == NULL || d.v[i].label == NULL || d.v[i].label[0] == '\0') {
            __builtin_trap();
        }
    }
    nlu_dataset_free(&d);
    return 0;
}
