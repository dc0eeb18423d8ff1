/* pipeline/gen_int.h: what generate.c and draft.c share inside the pipeline. */
#ifndef PIPELINE_GEN_INT_H
#define PIPELINE_GEN_INT_H

#include "pipeline/pipeline.h"

const struct pipeline_responder *gen_responder(const struct pipeline_gen *g);
const char *pipeline_draft_customer_text(const struct pipeline_draft *d);
const char *pipeline_draft_intent(const struct pipeline_draft *d);
/* What a handed-over job keeps of the claimed one (no payload). */
void gen_job_copy(struct queue_job *to, const struct queue_job *job);
/* After the finisher stored (or failed to store) a handed-over job's step: a canceled step
 * goes back to the queue uncounted, a failed one retries with backoff, a lost lease is left to
 * its new holder. */
void gen_job_outcome(struct store_conn *c, const struct queue_job *job, int rc,
                     const struct dk_err *err);
/* Moves a handed-over job's lease past the router's deadline, in a transaction of its own. */
int gen_extend_lease(struct pipeline_gen *g, struct store_conn *c, const struct queue_job *job,
                     struct dk_err *err);

#endif
