/* readers.c -- SQLite reads off the loop (see readers.h).
 *
 * DESIGN
 * One queue under a mutex, as writer.c: the loop appends jobs and signals;
 * each thread takes the first, runs it on its own read-only connection with
 * a deadline checked every 1000 virtual machine steps by a progress
 * handler, and puts it on the done list; a uv_async_t wakes the loop,
 * which reports every done job (wake-ups may coalesce, so it drains the
 * list).
 */
#include "readers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "timeutil.h"

#define READERS_MAX 8
#define PROGRESS_STEPS 1000
#define ERR_MAX 300

typedef struct read_job {
    fq_read_fn fn;
    fq_read_done done;
    void *data;
    int rc;
    char err[ERR_MAX];
    struct read_job *next;
} read_job;

typedef struct reader {
    fq_readers *pool;
    uv_thread_t thread;
    sqlite3 *db;
    int64_t deadline_ms;     /* of the query running, monotonic */
} reader;

struct fq_readers {
    uv_mutex_t lock;
    uv_cond_t wake;
    uv_async_t done_async;
    read_job *queue, *queue_tail, *done, *done_tail;
    int stop;
    int busy;
    int time_limit_ms;
    int nreaders;
    reader readers[READERS_MAX];
};

static void push(read_job **head, read_job **tail, read_job *job)
{
    job->next = NULL;
    if (*tail != NULL)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

/* Interrupts a query past its deadline. */
static int on_progress(void *arg)
{
    const reader *rd = arg;
    return fq_mono_ms() > rd->deadline_ms;
}

static void run(reader *rd, read_job *job)
{
    rd->deadline_ms = fq_mono_ms() + rd->pool->time_limit_ms;
    job->err[0] = '\0';
    job->rc = job->fn(rd->db, job->data, job->err, sizeof(job->err));
    if (job->rc != 0 && fq_mono_ms() > rd->deadline_ms)
        snprintf(job->err, sizeof(job->err), "the query took longer than %d ms and was stopped",
                 rd->pool->time_limit_ms);
}

static void thread_main(void *arg)
{
    reader *rd = arg;
    fq_readers *r = rd->pool;
    uv_mutex_lock(&r->lock);
    for (;;) {
        while (r->queue == NULL && !r->stop)
            uv_cond_wait(&r->wake, &r->lock);
        if (r->stop)
            break;
        read_job *job = r->queue;
        r->queue = job->next;
        if (r->queue == NULL)
            r->queue_tail = NULL;
        uv_mutex_unlock(&r->lock);
        run(rd, job);
        uv_mutex_lock(&r->lock);
        push(&r->done, &r->done_tail, job);
        uv_async_send(&r->done_async);
    }
    uv_mutex_unlock(&r->lock);
}

static void report(read_job *job)
{
    while (job != NULL) {
        read_job *next = job->next;
        job->done(job->rc, job->err, job->data);
        free(job);
        job = next;
    }
}

static void on_done(uv_async_t *a)
{
    fq_readers *r = a->data;
    uv_mutex_lock(&r->lock);
    read_job *job = r->done;
    int n = 0;
    for (read_job *j = job; j != NULL; j = j->next)
        n++;
    r->done = r->done_tail = NULL;
    r->busy -= n;
    uv_mutex_unlock(&r->lock);
    report(job);
}

static int open_reader(reader *rd, const char *path, char *err, size_t errlen)
{
    if (sqlite3_open_v2(path, &rd->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open FLEETQ_DB %s read-only: %s", path,
                 rd->db ? sqlite3_errmsg(rd->db) : "out of memory");
        sqlite3_close(rd->db);
        rd->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(rd->db, rd->pool->time_limit_ms);
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
    r->time_limit_ms = time_limit_ms;
    r->nreaders = threads < 1 ? 1 : threads > READERS_MAX ? READERS_MAX : threads;
    for (int i = 0; i < r->nreaders; i++) {
        r->readers[i].pool = r;
        if (open_reader(&r->readers[i], db_path, err, errlen) != 0) {
            close_readers(r);
            free(r);
            return NULL;
        }
    }
    uv_mutex_init(&r->lock);
    uv_cond_init(&r->wake);
    uv_async_init(loop, &r->done_async, on_done);
    r->done_async.data = r;
    for (int i = 0; i < r->nreaders; i++) {
        if (uv_thread_create(&r->readers[i].thread, thread_main, &r->readers[i]) != 0) {
            snprintf(err, errlen, "could not start the SQLite reader threads");
            r->nreaders = i;   /* the ones started are stopped with the pool */
            fq_readers_stop(r);
            return NULL;
        }
    }
    return r;
}

int fq_readers_submit(fq_readers *r, fq_read_fn fn, fq_read_done done, void *data)
{
    read_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -1;
    job->fn = fn;
    job->done = done;
    job->data = data;
    uv_mutex_lock(&r->lock);
    push(&r->queue, &r->queue_tail, job);
    r->busy++;
    uv_cond_signal(&r->wake);
    uv_mutex_unlock(&r->lock);
    return 0;
}

int fq_readers_busy(const fq_readers *r)
{
    return r != NULL && r->busy > 0;
}

static void free_on_close(uv_handle_t *h)
{
    fq_readers *r = h->data;
    uv_cond_destroy(&r->wake);
    uv_mutex_destroy(&r->lock);
    free(r);
}

void fq_readers_stop(fq_readers *r)
{
    if (r == NULL)
        return;
    uv_mutex_lock(&r->lock);
    r->stop = 1;
    uv_cond_broadcast(&r->wake);
    uv_mutex_unlock(&r->lock);
    for (int i = 0; i < r->nreaders; i++)
        uv_thread_join(&r->readers[i].thread);
    close_readers(r);
    for (read_job *j = r->queue; j != NULL; j = j->next) {
        j->rc = -1;
        snprintf(j->err, sizeof(j->err), "the coordinator is stopping");
    }
    report(r->done);
    report(r->queue);
    r->done = r->queue = NULL;
    uv_close((uv_handle_t *)&r->done_async, free_on_close);
}
