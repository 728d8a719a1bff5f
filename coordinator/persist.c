/* persist.c -- moves worker results from the results stream into SQLite.
 *
 * Each XREADGROUP batch (up to 500 entries: whatever arrived since the
 * last one) is read into records on the loop and handed to the writer
 * thread (writer.h), which writes it in one BEGIN IMMEDIATE ... COMMIT;
 * only after the commit does stored.lua announce the finished tasks on
 * <prefix>:done:<id> and acknowledge the entries. One batch is in hand at
 * a time, so a busy or locked database holds up only the results, which
 * wait in Redis, never the loop. A crash in between replays the batch:
 * rows are upserts, so nothing is written twice, and a task is announced
 * once.
 *
 * A ceo task that ended `done` with a plan has its subtasks submitted
 * between the commit and stored.lua (intake.c's fq_intake_spawn): a replay
 * submits them again, and intake.lua takes each id once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "keys.h"
#include "lease.h"
#include "log.h"
#include "record.h"
#include "timeutil.h"
#include "writer.h"

#define BATCH 500
#define BLOCK_MS 1000
#define BUSY_RETRY_MS 500   /* a busy or locked database is tried again this often */
#define MAX_FIELDS 64

struct fq_persist {
    fq_coordinator *c;
    int reading;
    int acking;        /* from the commit until stored.lua answered */
    int spawning;      /* plans of this batch being submitted */
    char spawn_error[256];   /* why submitting one failed, "" if none did */
    fq_argv stored;    /* stored.lua's keys and arguments, sent after the plans */
    int stored_keys;
    fq_argv plans;     /* the batch's plans: task id, depth, normalized plan */
    fq_argv ids;       /* the batch's entry ids, while the writer has it */
    int own_pending;
    uv_timer_t retry;
    fq_failing failing;
};

static void on_retry(uv_timer_t *t)
{
    fq_persist_kick(t->data);
}

/* A step failed: the batch is read again from our pending entries once
 * the back-off has passed. sqlite says whether the step was SQLite's, and
 * refused whether SQLite refused the write rather than being busy (the
 * results wait in Redis meanwhile; /health answers 503 to a refusal). */
static void fail_step(struct fq_persist *p, const char *what, const char *error, int sqlite,
                      int refused)
{
    char why[640];
    snprintf(why, sizeof(why), "%s %s: %s", sqlite ? "SQLite" : "Redis", what, error);
    p->own_pending = 1;
    int64_t wait = fq_health_failed(p->c->health, FQ_PART_STORE, &p->failing, why, refused);
    if (sqlite && !refused && wait > BUSY_RETRY_MS)
        wait = BUSY_RETRY_MS;   /* a lock goes away by itself: try again soon */
    uv_timer_start(&p->retry, on_retry, (uint64_t)wait, 0);
}

static void fail_batch(struct fq_persist *p, const char *what, const char *error)
{
    fail_step(p, what, error, 0, 0);
}

static void works(struct fq_persist *p)
{
    fq_health_works(p->c->health, FQ_PART_STORE, &p->failing);
}

static void on_stored(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_persist *p = data;
    p->acking = 0;
    if (fq_reply_failed(reply)) {
        fail_batch(p, "announcing the stored batch", reply ? reply->str : "connection lost");
    } else {
        works(p);
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            fq_reply_int(reply->element[1], 0) > 0)
            fq_resolver_kick(p->c->resolver);
        fq_persist_kick(p);
    }
    fq_coordinator_maybe_close(p->c);
}

/* The last step of a batch: stored.lua announces and acknowledges. */
static void send_stored(struct fq_persist *p)
{
    if (fq_redis_script(p->c->redis, "stored", p->stored_keys, &p->stored, on_stored, p) != 0) {
        p->acking = 0;
        fail_batch(p, "announcing the stored batch", "connection lost or out of memory");
    }
    fq_argv_free(&p->stored);
}

/* Every plan of the batch has been submitted (or failed): stored.lua, or
 * the batch is read again after the back-off. */
static void after_spawns(struct fq_persist *p)
{
    if (p->spawn_error[0] == '\0') {
        send_stored(p);
        return;
    }
    p->acking = 0;
    fq_argv_free(&p->stored);
    fail_batch(p, "submitting a plan's subtasks", p->spawn_error);
}

static void on_spawned(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_persist *p = data;
    if (fq_reply_failed(reply))
        snprintf(p->spawn_error, sizeof(p->spawn_error), "%s",
                 reply ? reply->str : "connection lost");
    if (--p->spawning > 0)
        return;
    after_spawns(p);
    fq_coordinator_maybe_close(p->c);
}

/* The plans of the batch, then stored.lua. */
static void finish_batch(struct fq_persist *p)
{
    p->spawning = 0;
    p->spawn_error[0] = '\0';
    for (int i = 0; i + 2 < p->plans.argc; i += 3) {
        int depth = atoi(p->plans.argv[i + 1]);
        if (fq_intake_spawn(p->c->intake, p->plans.argv[i], depth, p->plans.argv[i + 2],
                            on_spawned, p) == 0)
            p->spawning++;
        else
            snprintf(p->spawn_error, sizeof(p->spawn_error), "connection lost or out of memory");
    }
    fq_argv_free(&p->plans);
    if (p->spawning == 0)
        after_spawns(p);
}

/* Reads one entry into the job's next record (an unreadable one is
 * dropped with a warning). */
static void read_entry(const redisReply *body, fq_write_job *job)
{
    fq_field fields[MAX_FIELDS];
    size_t nf = fq_reply_fields(body, fields, MAX_FIELDS);
    fq_write_entry *e = &job->entries[job->n];
    e->kind = fq_record_kind(fields, nf);
    if ((e->kind == 'a' && fq_record_attempt_from_fields(fields, nf, &e->attempt) == 0) ||
        (e->kind == 'f' && fq_record_final_from_fields(fields, nf, &e->final) == 0)) {
        job->n++;
        return;
    }
    fq_record_attempt_free(&e->attempt);
    fq_record_final_free(&e->final);
    fq_log(FQ_LOG_WARN, "persist.skipped", FQ_LS, "msg", "unreadable result entry; dropped",
           FQ_LEND);
}

/* The batch's (task, status) pairs of final records into finals, and
 * (task, depth, plan) of each done plan task into the batch's plans. */
static void note_finals(struct fq_persist *p, const fq_write_job *job, fq_argv *finals)
{
    for (size_t i = 0; i < job->n; i++) {
        const fq_final_record *rec = &job->entries[i].final;
        if (job->entries[i].kind != 'f' || rec->status == NULL)
            continue;
        fq_argv_adds(finals, rec->task_id);
        fq_argv_adds(finals, rec->status);
        if (rec->plan > 0 && rec->output != NULL && strcmp(rec->status, "done") == 0) {
            fq_argv_adds(&p->plans, rec->task_id);
            fq_argv_addll(&p->plans, rec->plan);
            fq_argv_adds(&p->plans, rec->output);
        }
    }
}

static void on_written(fq_write_job *job, void *data);

static void on_read(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_persist *p = data;
    fq_coordinator *c = p->c;
    p->reading = 0;
    if (c->stopping) {
        fq_coordinator_maybe_close(c);
        return;
    }
    if (fq_reply_failed(reply)) {
        if (reply != NULL && strncmp(reply->str, "NOGROUP", 7) == 0)
            fq_coordinator_ensure_group(c, fq_keys()->results, FQ_GROUP_STORE);
        fail_batch(p, "reading the results", reply ? reply->str : "connection lost");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        reply->element[0]->element[1]->elements == 0) {
        p->own_pending = 0;
        works(p);
        fq_persist_kick(p);
        return;
    }
    const redisReply *list = reply->element[0]->element[1];
    fq_write_job *job = fq_write_job_batch(list->elements);
    if (job == NULL) {
        fail_batch(p, "reading the results", "out of memory");
        return;
    }
    fq_argv_init(&p->ids);
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        fq_argv_add(&p->ids, e->element[0]->str, e->element[0]->len);
        if (e->element[1]->type == REDIS_REPLY_ARRAY)
            read_entry(e->element[1], job);
    }
    job->done = on_written;
    job->data = p;
    p->acking = 1;   /* from the hand-over until stored.lua answered */
    fq_writer_submit(c->writer, job);
}

/* The writer thread has written the batch (or not): on to stored.lua. */
static void on_written(fq_write_job *job, void *data)
{
    struct fq_persist *p = data;
    fq_coordinator *c = p->c;
    if (job->rc != 0) {
        p->acking = 0;
        fq_argv_free(&p->ids);
        /* a locked database only delays the results; any other failure is
         * SQLite refusing them */
        fail_step(p, "writing a batch", job->error, 1, !job->busy);
        fq_write_job_free(job);
        fq_coordinator_maybe_close(c);
        return;
    }
    fq_health_stored(c->health, fq_now_ms());
    fq_lease_recorded(c->lease);
    fq_argv finals;
    fq_argv_init(&finals);
    note_finals(p, job, &finals);
    fq_write_job_free(job);
    fq_argv ids = p->ids;
    fq_argv_init(&p->ids);
    fq_log(FQ_LOG_DEBUG, "persist.batch", FQ_LI, "entries", (int64_t)ids.argc,
           FQ_LI, "finals", (int64_t)(finals.argc / 2), FQ_LEND);

    fq_argv *a = &p->stored;
    fq_argv_init(a);
    fq_argv_adds(a, fq_keys()->results);
    fq_argv_adds(a, fq_keys()->dead);
    fq_argv_adds(a, fq_keys()->resolving);
    for (int i = 0; i < finals.argc; i += 2) {
        const char *id = finals.argv[i];
        size_t len = finals.argvlen[i];
        fq_argv_add_task_key(a, id, len);
        fq_argv_add_done_key(a, id, len);
        fq_argv_add_children_key(a, id, len);
    }
    fq_argv_adds(a, FQ_GROUP_STORE);
    fq_argv_addll(a, c->cfg->result_ttl_s);
    fq_argv_addll(a, ids.argc);
    for (int i = 0; i < ids.argc; i++)
        fq_argv_add(a, ids.argv[i], ids.argvlen[i]);
    for (int i = 0; i < finals.argc; i++)
        fq_argv_add(a, finals.argv[i], finals.argvlen[i]);
    p->stored_keys = 3 + finals.argc / 2 * 3;
    fq_argv_free(&ids);
    fq_argv_free(&finals);
    finish_batch(p);
}

void fq_persist_kick(struct fq_persist *p)
{
    fq_coordinator *c = p->c;
    if (c->stopping || p->reading || p->acking)
        return;
    if (fq_redis_command(c->results_conn, on_read, p,
                         "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s %s",
                         FQ_GROUP_STORE, c->consumer, BATCH, p->own_pending ? 0 : BLOCK_MS,
                         fq_keys()->results, p->own_pending ? "0" : ">") == 0)
        p->reading = 1;
    else
        fail_batch(p, "reading the results", "connection lost");
}

struct fq_persist *fq_persist_new(fq_coordinator *c)
{
    struct fq_persist *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->c = c;
    p->own_pending = 1;
    fq_health_part_init(&p->failing, FQ_PART_STORE);
    uv_timer_init(c->loop, &p->retry);
    p->retry.data = p;
    return p;
}

int fq_persist_busy(const struct fq_persist *p)
{
    return p->acking;
}

static void free_on_close(uv_handle_t *h)
{
    struct fq_persist *p = h->data;
    fq_argv_free(&p->stored);
    fq_argv_free(&p->plans);
    fq_argv_free(&p->ids);
    free(p);
}

void fq_persist_free(struct fq_persist *p)
{
    if (p != NULL)
        uv_close((uv_handle_t *)&p->retry, free_on_close);
}
