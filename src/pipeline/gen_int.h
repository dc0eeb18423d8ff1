/* pipeline/gen_int.h: what generate.c and draft.c share inside the pipeline. */
#ifndef PIPELINE_GEN_INT_H
#define PIPELINE_GEN_INT_H

#include "pipeline/pipeline.h"

const struct pipeline_responder *gen_responder(const struct pipeline_gen *g);
const char *pipeline_draft_customer_text(const struct pipeline_draft *d);
const char *pipeline_draft_intent(const struct pipeline_draft *d);

#endif
