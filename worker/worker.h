/* worker.h -- one worker process: claims tasks of one role and runs up to
 * `concurrency` API calls at once under the fleet-wide quota. */
#ifndef FQ_WORKER_H
#define FQ_WORKER_H

#include <uv.h>

#include "config.h"
#include "task.h"

typedef struct fq_worker fq_worker;

fq_worker *fq_worker_new(uv_loop_t *loop, fq_config *cfg, fq_role role, int concurrency);
/* Starts connecting, claiming and handling signals; returns 0 or -1. */
int fq_worker_start(fq_worker *w);
/* After uv_run() returned (every handle closed). */
void fq_worker_free(fq_worker *w);

#endif
