/* writer.h -- the coordinator's SQLite writer: a thread of its own that
 * owns the result store's connection, so that a busy, locked, slow or
 * full database never holds up the loop.
 *
 * The loop hands over a job (a batch of records to write in one
 * transaction, or a prune) and hears back on the loop, through a
 * uv_async_t, once the thread has done it. Jobs run one at a time in the
 * order they were handed over (job_queue.h, with one thread).
 */
#ifndef FQ_WRITER_H
#define FQ_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "job_queue.h"
#include "record.h"
#include "store.h"

typedef enum fq_write_kind { FQ_WRITE_BATCH, FQ_WRITE_PRUNE, FQ_WRITE_FLEET } fq_write_kind;

/* One entry of a batch, in the order of the results stream. */
typedef struct fq_write_entry {
    char kind;                      /* 'a' attempt, 'f' final */
    fq_attempt_record attempt;
    fq_final_record final;
} fq_write_entry;

typedef struct fq_write_job fq_write_job;
typedef void (*fq_write_cb)(fq_write_job *job, void *data);

struct fq_write_job {
    fq_job base;                    /* the queue's (job_queue.h) */
    fq_write_kind kind;
    fq_write_entry *entries;        /* FQ_WRITE_BATCH: owned by the job */
    size_t n;
    int64_t before_ms;              /* FQ_WRITE_PRUNE */
    int limit;
    char fleet_id[64];              /* FQ_WRITE_FLEET: the id to record */
    /* the outcome, set by the thread */
    int rc;                         /* 0, or -1 */
    int busy;                       /* the failure was a locked or busy database */
    int deleted;                    /* FQ_WRITE_PRUNE: rows deleted */
    char error[512];
    fq_write_cb done;               /* runs on the loop */
    void *data;
};

typedef struct fq_writer fq_writer;

/* Starts the thread, which from now on is the only user of store. */
fq_writer *fq_writer_start(uv_loop_t *loop, fq_store *store);

/* Hands a job over; its callback runs on the loop once it is done. */
void fq_writer_submit(fq_writer *w, fq_write_job *job);

/* A batch job with room for n entries (zeroed), or NULL. */
fq_write_job *fq_write_job_batch(size_t n);
/* Frees a job and its entries. */
void fq_write_job_free(fq_write_job *job);

/* Finishes the job in hand, stops the thread and closes the async handle;
 * jobs not started are dropped (their callbacks never run). */
void fq_writer_stop(fq_writer *w);

#endif
