/* job_queue.c -- blocking work off the loop (see job_queue.h).
 *
 * DESIGN
 * A queue and a done list under one mutex: the loop appends and signals
 * the condition; a thread takes the first job, runs it outside the lock,
 * appends it to the done list and wakes the loop with uv_async_send(),
 * whose callback reports every done job (wake-ups may coalesce into one
 * callback, so it drains the whole list). Without a loop there is no
 * async handle: the thread calls done itself, outside the lock.
 */
#include "job_queue.h"

#include <stdlib.h>

typedef struct job_thread {
    fq_job_queue *q;
    uv_thread_t thread;
    void *ctx;
} job_thread;

struct fq_job_queue {
    uv_mutex_t lock;
    uv_cond_t wake;
    uv_async_t done_async;
    int has_loop;
    fq_job *queue, *queue_tail, *done, *done_tail;
    int stop;
    int busy;
    int nthreads;
    job_thread threads[FQ_JOB_THREADS_MAX];
};

static void append(fq_job **head, fq_job **tail, fq_job *job)
{
    job->next = NULL;
    if (*tail != NULL)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void thread_main(void *arg)
{
    job_thread *t = arg;
    fq_job_queue *q = t->q;
    uv_mutex_lock(&q->lock);
    for (;;) {
        while (q->queue == NULL && !q->stop)
            uv_cond_wait(&q->wake, &q->lock);
        if (q->stop)
            break;
        fq_job *job = q->queue;
        q->queue = job->next;
        if (q->queue == NULL)
            q->queue_tail = NULL;
        uv_mutex_unlock(&q->lock);
        job->run(job, t->ctx);
        if (!q->has_loop) {
            job->done(job);
            uv_mutex_lock(&q->lock);
            q->busy--;
            continue;
        }
        uv_mutex_lock(&q->lock);
        append(&q->done, &q->done_tail, job);
        uv_async_send(&q->done_async);
    }
    uv_mutex_unlock(&q->lock);
}

/* Takes the done list (and counts it out of busy) under the lock. */
static fq_job *take_done(fq_job_queue *q)
{
    uv_mutex_lock(&q->lock);
    fq_job *job = q->done;
    for (fq_job *j = job; j != NULL; j = j->next)
        q->busy--;
    q->done = q->done_tail = NULL;
    uv_mutex_unlock(&q->lock);
    return job;
}

static void report(fq_job *job, void (*fn)(fq_job *))
{
    while (job != NULL) {
        fq_job *next = job->next;
        fn(job);
        job = next;
    }
}

static void call_done(fq_job *job)
{
    job->done(job);
}

static void on_done(uv_async_t *a)
{
    report(take_done(a->data), call_done);
}

fq_job_queue *fq_job_queue_start(uv_loop_t *loop, int threads, void *const *ctx)
{
    fq_job_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    uv_mutex_init(&q->lock);
    uv_cond_init(&q->wake);
    q->has_loop = loop != NULL;
    if (q->has_loop) {
        uv_async_init(loop, &q->done_async, on_done);
        q->done_async.data = q;
    }
    int want = threads < 1 ? 1 : threads > FQ_JOB_THREADS_MAX ? FQ_JOB_THREADS_MAX : threads;
    for (int i = 0; i < want; i++) {
        q->threads[i].q = q;
        q->threads[i].ctx = ctx[i];
        if (uv_thread_create(&q->threads[i].thread, thread_main, &q->threads[i]) != 0) {
            fq_job_queue_stop(q, NULL);
            return NULL;
        }
        q->nthreads++;
    }
    return q;
}

void fq_job_queue_push(fq_job_queue *q, fq_job *job)
{
    uv_mutex_lock(&q->lock);
    append(&q->queue, &q->queue_tail, job);
    q->busy++;
    uv_cond_signal(&q->wake);
    uv_mutex_unlock(&q->lock);
}

int fq_job_queue_busy(const fq_job_queue *q)
{
    return q != NULL && q->busy > 0;
}

static void free_on_close(uv_handle_t *h)
{
    fq_job_queue *q = h->data;
    uv_cond_destroy(&q->wake);
    uv_mutex_destroy(&q->lock);
    free(q);
}

void fq_job_queue_stop(fq_job_queue *q, void (*dropped)(fq_job *job))
{
    if (q == NULL)
        return;
    uv_mutex_lock(&q->lock);
    q->stop = 1;
    uv_cond_broadcast(&q->wake);
    uv_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++)
        uv_thread_join(&q->threads[i].thread);
    report(take_done(q), call_done);
    fq_job *left = q->queue;
    q->queue = q->queue_tail = NULL;
    if (dropped != NULL)
        report(left, dropped);
    if (q->has_loop) {
        uv_close((uv_handle_t *)&q->done_async, free_on_close);
    } else {
        q->done_async.data = q;
        free_on_close((uv_handle_t *)&q->done_async);
    }
}
