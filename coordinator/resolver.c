/* resolver.c -- releases the tasks that wait for others (`after`).
 *
 * A waiting task is put in the resolving set when a parent of it has
 * ended and the store has that parent (stored.lua), or at its intake when
 * every parent had already ended (intake.lua). The resolver takes up to
 * BATCH ids from the set, reads each one's `parents` (HGET, so that it can
 * name the parents' hashes, since a script touches no key it was not
 * given), and hands them all to resolve.lua, which queues each task with
 * its parents' outputs in its text, cancels it when a parent did not end
 * `done`, or leaves it waiting; the script checks each task again, so
 * several coordinators may run it at once without releasing a task twice.
 *
 * It runs when the store or the intake reports work for it, and on the
 * coordinator's timer, which also picks up what a crash left in the set.
 * A failed round waits out the timer part's back-off.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "coordinator.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"

#define BATCH 100

struct fq_resolver;

typedef struct waiting_task {
    struct fq_resolver *rs;
    char *id;
    char *parents;   /* JSON array as read; NULL when the hash had none */
} waiting_task;

struct fq_resolver {
    fq_coordinator *c;
    int busy;          /* a round is in flight */
    int again;         /* asked to run while busy, or the last batch was full */
    int reading;       /* HGETs of this round not yet answered */
    int failed;        /* one of them failed */
    int n;
    waiting_task tasks[BATCH];
    int64_t resume_at; /* monotonic ms: no round before this (backing off) */
    fq_failing failing;
};

static void start_round(struct fq_resolver *rs);

static void clear_round(struct fq_resolver *rs)
{
    for (int i = 0; i < rs->n; i++) {
        free(rs->tasks[i].id);
        free(rs->tasks[i].parents);
    }
    rs->n = 0;
}

static void round_done(struct fq_resolver *rs, const char *error)
{
    clear_round(rs);
    rs->busy = 0;
    if (error != NULL) {
        rs->again = 0;
        rs->resume_at = fq_mono_ms() + fq_health_failed(rs->c->health, FQ_PART_TIMER,
                                                        &rs->failing, error, 0);
    } else {
        fq_health_works(rs->c->health, FQ_PART_TIMER, &rs->failing);
    }
    if (rs->again && !rs->c->stopping) {
        rs->again = 0;
        start_round(rs);
    }
    fq_coordinator_maybe_close(rs->c);
}

static void on_resolved(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_resolver *rs = data;
    if (fq_reply_failed(reply)) {
        char why[300];
        snprintf(why, sizeof(why), "resolving waiting tasks: %s",
                 reply != NULL ? reply->str : "connection lost");
        round_done(rs, why);
        return;
    }
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements &&
                       i < (size_t)rs->n; i++) {
        const redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING && strcmp(e->str, "skipped") != 0 &&
            strcmp(e->str, "waiting") != 0)
            fq_log(FQ_LOG_DEBUG, "task.resolved", FQ_LS, "task", rs->tasks[i].id, FQ_LS,
                   "status", e->str, FQ_LEND);
    }
    round_done(rs, NULL);
}

/* Every `parents` of the round is in: one resolve.lua call. */
static void send_resolve(struct fq_resolver *rs)
{
    const fq_keyset *k = fq_keys();
    fq_argv keys, args;
    fq_argv_init(&keys);
    fq_argv_init(&args);
    fq_argv_adds(&keys, k->resolving);
    fq_argv_adds(&keys, k->events);
    fq_argv_adds(&keys, k->results);
    fq_argv_adds(&keys, k->delayed);
    fq_argv_adds(&keys, k->expiry);
    fq_argv_add_ready_keys(&keys);
    fq_argv_add_marker_keys(&keys);
    int bad = 0;
    for (int i = 0; i < rs->n; i++) {
        waiting_task *t = &rs->tasks[i];
        cJSON *parents = t->parents ? cJSON_Parse(t->parents) : NULL;
        bad |= t->parents != NULL && parents == NULL;
        fq_argv_add_task_key(&keys, t->id, strlen(t->id));
        fq_argv_adds(&args, t->id);
        fq_argv_adds(&args, t->parents ? t->parents : "");
        fq_argv_addll(&args, cJSON_GetArraySize(parents));
        const cJSON *p;
        cJSON_ArrayForEach(p, parents) {
            if (!cJSON_IsString(p)) {
                bad = 1;
                break;
            }
            fq_argv_add_task_key(&keys, p->valuestring, strlen(p->valuestring));
            fq_argv_adds(&args, p->valuestring);
        }
        cJSON_Delete(parents);
    }
    int nkeys = keys.argc;
    if (bad || fq_argv_append(&keys, &args) != 0 ||
        fq_redis_script(rs->c->redis, "resolve", nkeys, &keys, on_resolved, rs) != 0)
        round_done(rs, "resolve.lua: connection lost or out of memory");
    fq_argv_free(&keys);
    fq_argv_free(&args);
}

static void on_parents(fq_redis *r, redisReply *reply, void *data)
{
    waiting_task *t = data;
    struct fq_resolver *rs = t->rs;
    if (fq_reply_failed(reply) || (reply->type != REDIS_REPLY_STRING &&
                                   reply->type != REDIS_REPLY_NIL))
        rs->failed = 1;
    else if (reply->type == REDIS_REPLY_STRING)
        t->parents = strndup(reply->str, reply->len);
    if (--rs->reading > 0)
        return;
    if (rs->failed)
        round_done(rs, "reading the parents of waiting tasks: connection lost");
    else
        send_resolve(rs);
}

static void on_members(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_resolver *rs = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        round_done(rs, "reading the resolving set: connection lost");
        return;
    }
    if (reply->elements == 0 || rs->c->stopping) {
        round_done(rs, NULL);
        return;
    }
    rs->again |= reply->elements >= BATCH;
    rs->failed = 0;
    for (size_t i = 0; i < reply->elements && rs->n < BATCH; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        waiting_task *t = &rs->tasks[rs->n];
        t->rs = rs;
        t->parents = NULL;
        if ((t->id = strndup(e->str, e->len)) == NULL)
            continue;
        rs->n++;
    }
    char key[FQ_KEY_MAX];
    for (int i = 0; i < rs->n; i++) {
        if (fq_redis_command(rs->c->redis, on_parents, &rs->tasks[i], "HGET %s parents",
                             fq_key_task(rs->tasks[i].id, key, sizeof(key))) == 0)
            rs->reading++;
        else
            rs->failed = 1;
    }
    if (rs->reading == 0)
        round_done(rs, rs->n > 0 ? "reading the parents of waiting tasks: connection lost"
                                 : NULL);
}

static void start_round(struct fq_resolver *rs)
{
    if (fq_redis_command(rs->c->redis, on_members, rs, "SRANDMEMBER %s %d",
                         fq_keys()->resolving, BATCH) == 0)
        rs->busy = 1;
}

void fq_resolver_kick(struct fq_resolver *rs)
{
    if (rs->c->stopping || !fq_redis_connected(rs->c->redis) || fq_mono_ms() < rs->resume_at)
        return;
    if (rs->busy) {
        rs->again = 1;
        return;
    }
    start_round(rs);
}

struct fq_resolver *fq_resolver_new(fq_coordinator *c)
{
    struct fq_resolver *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return NULL;
    rs->c = c;
    fq_health_part_init(&rs->failing, FQ_PART_TIMER);
    return rs;
}

int fq_resolver_busy(const struct fq_resolver *rs)
{
    return rs->busy;
}

void fq_resolver_free(struct fq_resolver *rs)
{
    if (rs != NULL)
        clear_round(rs);
    free(rs);
}
