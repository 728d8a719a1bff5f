/* readers.c -- SQLite reads off the loop (see readers.h).
 *
 * DESIGN
 * A job queue (job_queue.h) with a thread per reader, whose context is
 * the reader: its own read-only connection and the deadline of the query
 * it runs, checked every 1000 virtual machine steps by a progress handler.
 */
#include "readers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "job_queue.h"
#include "timeutil.h"

#define PROGRESS_STEPS 1000
#define ERR_MAX 300

typedef struct read_job {
    fq_job base;             /* the queue's (job_queue.h) */
    fq_read_fn fn;
    fq_read_done done;
    void *data;
    int rc;
    char err[ERR_MAX];
} read_job;

typedef struct reader {
    sqlite3 *db;
    int time_limit_ms;
    int64_t deadline_ms;     /* of the query running, monotonic */
} reader;

struct fq_readers {
    fq_job_queue *queue;
    int nreaders;
    reader readers[FQ_JOB_THREADS_MAX];
};

/* Interrupts a query past its deadline. */
static int on_progress(void *arg)
{
    const reader *rd = arg;
    return fq_mono_ms() > rd->deadline_ms;
}

/* On a reader thread. */
static void run(fq_job *base, void *ctx)
{
    read_job *job = (read_job *)base;
    reader *rd = ctx;
    rd->deadline_ms = fq_mono_ms() + rd->time_limit_ms;
    job->err[0] = '\0';
    job->rc = job->fn(rd->db, job->data, job->err, sizeof(job->err));
    if (job->rc != 0 && fq_mono_ms() > rd->deadline_ms)
        snprintf(job->err, sizeof(job->err), "the query took longer than %d ms and was stopped",
                 rd->time_limit_ms);
}

/* On the loop. */
static void done(fq_job *base)
{
    read_job *job = (read_job *)base;
    job->done(job->rc, job->err, job->data);
    free(job);
}

static void dropped(fq_job *base)
{
    read_job *job = (read_job *)base;
    job->rc = -1;
    snprintf(job->err, sizeof(job->err), "the coordinator is stopping");
    done(base);
}

static int open_reader(reader *rd, const char *path, int time_limit_ms, char *err,
                       size_t errlen)
{
    rd->time_limit_ms = time_limit_ms;
    if (sqlite3_open_v2(path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open FLEETQ_DB %s read-only: %s", path,
                 rd->db ? sqlite3_errmsg(rd->db) : "out of memory");
        sqlite3_close(rd->db);
        rd->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(rd->db, time_limit_ms);
    sqlite3_progress_handler(rd->db, PROGRESS_STEPS, on_progress, rd);
    return 0;
}

static void close_readers(fq_readers *r)
{
    for (int i = 0; i < r->nreaders; i++)
        sqlite3_close(r->readers[i].db);
}

fq_readers *fq_readers_start(uv_loop_t *loop, const char *db_path, int threads,
                             int time_limit_ms, char *err, size_t errlen)
{
    fq_readers *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int want = threads < 1 ? 1 : threads > FQ_JOB_THREADS_MAX ? FQ_JOB_THREADS_MAX : threads;
    void *ctx[FQ_JOB_THREADS_MAX];
    for (; r->nreaders < want; r->nreaders++) {
        ctx[r->nreaders] = &r->readers[r->nreaders];
        if (open_reader(&r->readers[r->nreaders], db_path, time_limit_ms, err, errlen) != 0)
            goto err;
    }
    if ((r->queue = fq_job_queue_start(loop, want, ctx)) == NULL) {
        snprintf(err, errlen, "could not start the SQLite reader threads");
        goto err;
    }
    return r;
err:
    close_readers(r);
    free(r);
    return NULL;
}

int fq_readers_submit(fq_readers *r, fq_read_fn fn, fq_read_done cb, void *data)
{
    read_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -1;
    job->fn = fn;
    job->done = cb;
    job->data = data;
    job->base.run = run;
    job->base.done = done;
    fq_job_queue_push(r->queue, &job->base);
    return 0;
}

int fq_readers_busy(const fq_readers *r)
{
    return r != NULL && fq_job_queue_busy(r->queue);
}

void fq_readers_stop(fq_readers *r)
{
    if (r == NULL)
        return;
    fq_job_queue_stop(r->queue, dropped);
    close_readers(r);
    free(r);
}
