/* writer.c -- the coordinator's SQLite writer thread (see writer.h).
 *
 * DESIGN
 * A job queue (job_queue.h) with one thread, whose context is the store.
 * A batch is one BEGIN IMMEDIATE ... COMMIT; a failure rolls it back and
 * says whether the database was only busy or locked (the results then wait
 * in Redis and are written when it takes writes again) or refused the
 * write.
 */
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fq_writer {
    fq_job_queue *queue;
};

static void note_failure(fq_write_job *job, fq_store *store)
{
    job->rc = -1;
    snprintf(job->error, sizeof(job->error), "%s", fq_store_error(store));
    job->busy = fq_store_was_busy(store);
}

static void run_batch(fq_store *store, fq_write_job *job)
{
    if (fq_store_begin(store) != 0) {
        note_failure(job, store);
        return;
    }
    for (size_t i = 0; i < job->n; i++) {
        const fq_write_entry *e = &job->entries[i];
        int rc = e->kind == 'a' ? fq_store_put_attempt(store, &e->attempt)
                                : fq_store_put_final(store, &e->final);
        if (rc != 0) {
            note_failure(job, store);
            fq_store_rollback(store);
            return;
        }
    }
    if (fq_store_commit(store) != 0) {
        note_failure(job, store);
        fq_store_rollback(store);
        return;
    }
    job->rc = 0;
}

/* On the writer thread. */
static void run(fq_job *base, void *ctx)
{
    fq_write_job *job = (fq_write_job *)base;
    fq_store *store = ctx;
    job->rc = 0;
    job->busy = 0;
    job->error[0] = '\0';
    if (job->kind == FQ_WRITE_BATCH) {
        run_batch(store, job);
        return;
    }
    if (job->kind == FQ_WRITE_FLEET) {
        if (fq_store_set_fleet(store, job->fleet_id) != 0)
            note_failure(job, store);
        return;
    }
    job->deleted = fq_store_prune(store, job->before_ms, job->limit);
    if (job->deleted < 0)
        note_failure(job, store);
}

/* On the loop. */
static void done(fq_job *base)
{
    fq_write_job *job = (fq_write_job *)base;
    job->done(job, job->data);
}

static void dropped(fq_job *base)
{
    fq_write_job_free((fq_write_job *)base);
}

fq_writer *fq_writer_start(uv_loop_t *loop, fq_store *store)
{
    fq_writer *w = calloc(1, sizeof(*w));
    void *ctx[1] = {store};
    if (w == NULL || (w->queue = fq_job_queue_start(loop, 1, ctx)) == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

void fq_writer_submit(fq_writer *w, fq_write_job *job)
{
    job->base.run = run;
    job->base.done = done;
    fq_job_queue_push(w->queue, &job->base);
}

fq_write_job *fq_write_job_batch(size_t n)
{
    fq_write_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return NULL;
    job->kind = FQ_WRITE_BATCH;
    if (n > 0 && (job->entries = calloc(n, sizeof(job->entries[0]))) == NULL) {
        free(job);
        return NULL;
    }
    return job;
}

void fq_write_job_free(fq_write_job *job)
{
    if (job == NULL)
        return;
    for (size_t i = 0; i < job->n; i++) {
        fq_record_attempt_free(&job->entries[i].attempt);
        fq_record_final_free(&job->entries[i].final);
    }
    free(job->entries);
    free(job);
}

void fq_writer_stop(fq_writer *w)
{
    if (w == NULL)
        return;
    fq_job_queue_stop(w->queue, dropped);
    free(w);
}
