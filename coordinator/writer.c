/* writer.c -- the coordinator's SQLite writer thread (see writer.h).
 *
 * DESIGN
 * A queue of jobs under a mutex: the loop appends and signals the
 * condition; the thread takes the first, runs it against the store, moves
 * it to the done list and wakes the loop with uv_async_send(), whose
 * callback runs each done job's callback. uv_async_send() may coalesce
 * several wake-ups into one callback, so the callback drains the whole
 * done list. A batch is one BEGIN IMMEDIATE ... COMMIT; a failure rolls it
 * back and says whether the database was only busy or locked (the results
 * then wait in Redis and are written when it takes writes again) or
 * refused the write.
 */
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fq_writer {
    fq_store *store;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;
    uv_async_t done_async;
    fq_write_job *queue, *queue_tail;
    fq_write_job *done, *done_tail;
    int stop;
};

static void append(fq_write_job **head, fq_write_job **tail, fq_write_job *job)
{
    job->next = NULL;
    if (*tail != NULL)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

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

static void run(fq_store *store, fq_write_job *job)
{
    job->rc = 0;
    job->busy = 0;
    job->error[0] = '\0';
    if (job->kind == FQ_WRITE_BATCH) {
        run_batch(store, job);
        return;
    }
    job->deleted = fq_store_prune(store, job->before_ms, job->limit);
    if (job->deleted < 0)
        note_failure(job, store);
}

static void thread_main(void *arg)
{
    fq_writer *w = arg;
    uv_mutex_lock(&w->lock);
    for (;;) {
        while (w->queue == NULL && !w->stop)
            uv_cond_wait(&w->wake, &w->lock);
        if (w->queue == NULL)
            break;
        fq_write_job *job = w->queue;
        w->queue = job->next;
        if (w->queue == NULL)
            w->queue_tail = NULL;
        uv_mutex_unlock(&w->lock);
        run(w->store, job);
        uv_mutex_lock(&w->lock);
        append(&w->done, &w->done_tail, job);
        uv_async_send(&w->done_async);
        if (w->stop)
            break;
    }
    uv_mutex_unlock(&w->lock);
}

static void on_done(uv_async_t *a)
{
    fq_writer *w = a->data;
    uv_mutex_lock(&w->lock);
    fq_write_job *job = w->done;
    w->done = w->done_tail = NULL;
    uv_mutex_unlock(&w->lock);
    while (job != NULL) {
        fq_write_job *next = job->next;
        job->done(job, job->data);
        job = next;
    }
}

fq_writer *fq_writer_start(uv_loop_t *loop, fq_store *store)
{
    fq_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->store = store;
    if (uv_mutex_init(&w->lock) != 0)
        goto err_mutex;
    if (uv_cond_init(&w->wake) != 0)
        goto err_cond;
    if (uv_async_init(loop, &w->done_async, on_done) != 0)
        goto err_async;
    w->done_async.data = w;
    if (uv_thread_create(&w->thread, thread_main, w) != 0) {
        uv_close((uv_handle_t *)&w->done_async, NULL);
        goto err_async;
    }
    return w;
err_async:
    uv_cond_destroy(&w->wake);
err_cond:
    uv_mutex_destroy(&w->lock);
err_mutex:
    free(w);
    return NULL;
}

void fq_writer_submit(fq_writer *w, fq_write_job *job)
{
    uv_mutex_lock(&w->lock);
    append(&w->queue, &w->queue_tail, job);
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->lock);
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

static void free_jobs(fq_write_job *job)
{
    while (job != NULL) {
        fq_write_job *next = job->next;
        fq_write_job_free(job);
        job = next;
    }
}

static void free_on_close(uv_handle_t *h)
{
    fq_writer *w = h->data;
    uv_cond_destroy(&w->wake);
    uv_mutex_destroy(&w->lock);
    free(w);
}

void fq_writer_stop(fq_writer *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->stop = 1;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->lock);
    uv_thread_join(&w->thread);
    free_jobs(w->queue);
    free_jobs(w->done);
    w->queue = w->done = NULL;
    uv_close((uv_handle_t *)&w->done_async, free_on_close);
}
