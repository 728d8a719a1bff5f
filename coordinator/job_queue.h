/* job_queue.h -- blocking work off the loop: a queue of jobs run by
 * threads of their own, each job reported back on the loop once done.
 *
 * The loop pushes a job; a free thread takes it (in the order pushed) and
 * runs it with that thread's own context (a database connection, say);
 * the job's done callback then runs on the loop, woken through a
 * uv_async_t. This is the way Redis's bio.c keeps blocking work off its
 * event loop. The SQLite writer (writer.c, one thread) and readers
 * (readers.c, a small pool) are built on it. Without a loop (NULL), the
 * done callback runs on the job's thread as soon as it has run: the
 * dashboard's requests (dashboard.c) answer that way, never touching the
 * loop.
 */
#ifndef FQ_JOB_QUEUE_H
#define FQ_JOB_QUEUE_H

#include <uv.h>

#define FQ_JOB_THREADS_MAX 8

typedef struct fq_job fq_job;
struct fq_job {
    void (*run)(fq_job *job, void *thread_ctx);   /* on a thread */
    void (*done)(fq_job *job);                    /* on the loop; may free the job */
    fq_job *next;
};

typedef struct fq_job_queue fq_job_queue;

/* Starts threads (1..FQ_JOB_THREADS_MAX) threads; thread i runs its jobs
 * with ctx[i]. loop may be NULL (done then runs on the thread). Returns
 * NULL when a thread could not start. */
fq_job_queue *fq_job_queue_start(uv_loop_t *loop, int threads, void *const *ctx);

void fq_job_queue_push(fq_job_queue *q, fq_job *job);

/* Jobs pushed and not yet reported. */
int fq_job_queue_busy(const fq_job_queue *q);

/* Lets the running jobs finish and joins the threads; the jobs done are
 * reported, the ones never started are given to dropped (on the loop, or
 * on the caller's thread without one). The queue is freed once its async
 * handle has closed (at once without a loop). */
void fq_job_queue_stop(fq_job_queue *q, void (*dropped)(fq_job *job));

#endif
