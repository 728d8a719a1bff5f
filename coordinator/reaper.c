/* reaper.c -- the coordinator's timer over the task queues, every tick
 * (100 ms), whether or not a worker of a role is running:
 *  - promote.lua: delayed tasks and due retries go to their role's queue;
 *  - expire.lua: tasks whose ttl passed before they started end `expired`;
 *  - reap.lua (every second): tasks whose lease expired (a worker died or
 *    stalled) go back to their queue, counting the attempt, or end
 *    `failed` after their last attempt.
 * Each tick first asks due.lua which ids are due in the delayed set, the
 * expiry set and (every second) the leases; only then are the scripts
 * called, with those ids and their task hashes in KEYS (a script touches
 * no key it was not given). A full batch is followed at once by the next.
 * The scripts check each id again and are atomic, so several coordinators
 * may run them at once without handling a task twice. After a failed
 * round the next waits for a back-off from 100 ms doubling to 10 s.
 */
#include <stdlib.h>

#include "coordinator.h"
#include "keys.h"
#include "log.h"
#include "task.h"
#include "timeutil.h"

#define BATCH 500
#define REAP_EVERY_TICKS 10

enum { DUE_DELAYED, DUE_EXPIRY, DUE_LEASES, DUE_SETS };

struct fq_reaper {
    fq_coordinator *c;
    int outstanding;   /* due.lua or its scripts not yet answered */
    int full;          /* a set had a full batch due: go again at once */
    unsigned ticks;
    char error[256];   /* why a call of this round failed, "" if none did */
    int64_t resume_at; /* monotonic ms: no round before this (backing off) */
    fq_failing failing;
};

static void check_due(struct fq_reaper *rp, int with_leases);

static void script_done(struct fq_reaper *rp)
{
    if (--rp->outstanding > 0)
        return;
    if (rp->error[0] != '\0') {
        rp->full = 0;
        rp->resume_at = fq_mono_ms() + fq_health_failed(rp->c->health, FQ_PART_TIMER,
                                                        &rp->failing, rp->error, 0);
        rp->error[0] = '\0';
    } else {
        fq_health_works(rp->c->health, FQ_PART_TIMER, &rp->failing);
    }
    if (rp->full) {
        rp->full = 0;
        check_due(rp, 1);
    }
    fq_coordinator_maybe_close(rp->c);
}

static void failed(struct fq_reaper *rp, const char *what, const redisReply *reply)
{
    snprintf(rp->error, sizeof(rp->error), "%s: %s", what,
             reply != NULL ? reply->str : "connection lost");
}

static void on_script(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_reaper *rp = data;
    if (fq_reply_failed(reply))
        failed(rp, "moving due tasks", reply);
    script_done(rp);
}

static void on_reaped(fq_redis *r, redisReply *reply, void *data)
{
    if (!fq_reply_failed(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        long long requeued = fq_reply_int(reply->element[0], 0);
        long long failed = fq_reply_int(reply->element[1], 0);
        if (requeued + failed > 0)
            fq_log(FQ_LOG_WARN, "reap.expired_leases", FQ_LI, "requeued", (int64_t)requeued,
                   FQ_LI, "failed", (int64_t)failed, FQ_LEND);
    }
    on_script(r, reply, data);
}

static void on_expired(fq_redis *r, redisReply *reply, void *data)
{
    long long n = fq_reply_int(reply, 0);
    if (n > 0)
        fq_log(FQ_LOG_INFO, "tasks.expired", FQ_LI, "count", (int64_t)n, FQ_LEND);
    on_script(r, reply, data);
}

/* Calls one script for the ids due in one set. */
static void run(struct fq_reaper *rp, int set, const redisReply *ids)
{
    const fq_keyset *k = fq_keys();
    fq_argv a;
    fq_argv_init(&a);
    const char *script;
    int nkeys;
    fq_redis_cb cb = on_script;
    if (set == DUE_DELAYED) {
        script = "promote";
        fq_argv_adds(&a, k->delayed);
        fq_argv_adds(&a, k->events);
        fq_argv_add_ready_keys(&a);
        fq_argv_add_marker_keys(&a);
        nkeys = 2 + 2 * FQ_ROLE_COUNT;
    } else if (set == DUE_EXPIRY) {
        script = "expire";
        cb = on_expired;
        fq_argv_adds(&a, k->expiry);
        fq_argv_adds(&a, k->delayed);
        fq_argv_adds(&a, k->events);
        fq_argv_adds(&a, k->results);
        fq_argv_add_ready_keys(&a);
        nkeys = 4 + FQ_ROLE_COUNT;
    } else {
        script = "reap";
        cb = on_reaped;
        fq_argv_adds(&a, k->leases);
        fq_argv_adds(&a, k->events);
        fq_argv_adds(&a, k->results);
        fq_argv_adds(&a, k->dead);
        fq_argv_add_ready_keys(&a);
        fq_argv_add_marker_keys(&a);
        nkeys = 4 + 2 * FQ_ROLE_COUNT;
    }
    fq_argv_add_task_keys(&a, ids, ids->elements);
    fq_argv_add_ids(&a, ids, ids->elements);
    if (fq_redis_script(rp->c->redis, script, nkeys + (int)ids->elements, &a, cb, rp) == 0)
        rp->outstanding++;
    else
        snprintf(rp->error, sizeof(rp->error), "%s.lua: connection lost or out of memory",
                 script);
    fq_argv_free(&a);
}

static int is_id_list(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    return 1;
}

static void on_due(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_reaper *rp = data;
    if (fq_reply_failed(reply)) {
        failed(rp, "reading what is due", reply);
    } else if (reply->type == REDIS_REPLY_ARRAY && !rp->c->stopping) {
        for (size_t set = 0; set < reply->elements && set < DUE_SETS; set++) {
            const redisReply *ids = reply->element[set];
            if (!is_id_list(ids) || ids->elements == 0)
                continue;
            if (ids->elements >= BATCH)
                rp->full = 1;
            run(rp, (int)set, ids);
        }
    }
    script_done(rp);
}

static void check_due(struct fq_reaper *rp, int with_leases)
{
    const fq_keyset *k = fq_keys();
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, k->delayed);
    fq_argv_adds(&a, k->expiry);
    if (with_leases)
        fq_argv_adds(&a, k->leases);
    fq_argv_addll(&a, BATCH);
    if (fq_redis_script(rp->c->redis, "due", with_leases ? 3 : 2, &a, on_due, rp) == 0)
        rp->outstanding++;
    fq_argv_free(&a);
}

void fq_reaper_tick(struct fq_reaper *rp)
{
    if (rp->c->stopping || !fq_redis_connected(rp->c->redis))
        return;
    int with_leases = ++rp->ticks % REAP_EVERY_TICKS == 0;
    if (rp->outstanding == 0 && fq_mono_ms() >= rp->resume_at)
        check_due(rp, with_leases);
}

struct fq_reaper *fq_reaper_new(fq_coordinator *c)
{
    struct fq_reaper *rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        return NULL;
    rp->c = c;
    fq_health_part_init(&rp->failing, FQ_PART_TIMER);
    return rp;
}

int fq_reaper_busy(const struct fq_reaper *rp)
{
    return rp->outstanding > 0;
}

void fq_reaper_free(struct fq_reaper *rp)
{
    free(rp);
}
