/* reaper.c -- the coordinator's timed duties on the task queues:
 *  - promote.lua: delayed tasks and due retries go to their role's queue
 *    (every tick, 100 ms; again at once while a full batch was moved);
 *  - reap.lua: tasks whose lease expired (a worker died or stalled) go back
 *    to their queue, counting the attempt, or end `failed` after their
 *    last attempt (every second).
 * Both scripts are atomic, so several coordinators may run them at once
 * without handling a task twice.
 */
#include <stdlib.h>

#include "coordinator.h"
#include "keys.h"
#include "log.h"
#include "task.h"

#define PROMOTE_BATCH 500
#define REAP_BATCH 200
#define REAP_EVERY_TICKS 10

struct fq_reaper {
    fq_coordinator *c;
    int promoting;
    int reaping;
    unsigned ticks;
};

static void promote(struct fq_reaper *rp);

static void add_role_keys(fq_argv *a)
{
    char key[FQ_KEY_MAX];
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, fq_key_ready((fq_role)role, key, sizeof(key)));
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, fq_key_marker((fq_role)role, key, sizeof(key)));
}

static void on_promoted(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_reaper *rp = data;
    rp->promoting = 0;
    if (fq_reply_failed(reply)) {
        if (reply != NULL)
            fq_log(FQ_LOG_ERROR, "promote.failed", FQ_LS, "error", reply->str, FQ_LEND);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               fq_reply_int(reply->element[0], 0) >= PROMOTE_BATCH) {
        promote(rp);  /* more are due right now */
    }
    fq_coordinator_maybe_close(rp->c);
}

static void promote(struct fq_reaper *rp)
{
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, FQ_KEY_DELAYED);
    fq_argv_adds(&a, FQ_KEY_EVENTS);
    add_role_keys(&a);
    fq_argv_addll(&a, PROMOTE_BATCH);
    fq_argv_adds(&a, FQ_EVENTS_MAXLEN);
    if (fq_redis_script(rp->c->redis, "promote", 2 + 2 * FQ_ROLE_COUNT, &a, on_promoted, rp) == 0)
        rp->promoting = 1;
    fq_argv_free(&a);
}

static void on_reaped(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_reaper *rp = data;
    rp->reaping = 0;
    if (fq_reply_failed(reply)) {
        if (reply != NULL)
            fq_log(FQ_LOG_ERROR, "reap.failed", FQ_LS, "error", reply->str, FQ_LEND);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        long long requeued = fq_reply_int(reply->element[0], 0);
        long long failed = fq_reply_int(reply->element[1], 0);
        if (requeued + failed > 0)
            fq_log(FQ_LOG_WARN, "reap.expired_leases", FQ_LI, "requeued", (int64_t)requeued,
                   FQ_LI, "failed", (int64_t)failed, FQ_LEND);
    }
    fq_coordinator_maybe_close(rp->c);
}

static void reap(struct fq_reaper *rp)
{
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, FQ_KEY_LEASES);
    fq_argv_adds(&a, FQ_KEY_EVENTS);
    fq_argv_adds(&a, FQ_KEY_RESULTS);
    add_role_keys(&a);
    fq_argv_addll(&a, REAP_BATCH);
    fq_argv_adds(&a, FQ_EVENTS_MAXLEN);
    fq_argv_adds(&a, FQ_RESULT_TTL_S);
    if (fq_redis_script(rp->c->redis, "reap", 3 + 2 * FQ_ROLE_COUNT, &a, on_reaped, rp) == 0)
        rp->reaping = 1;
    fq_argv_free(&a);
}

void fq_reaper_tick(struct fq_reaper *rp)
{
    if (rp->c->stopping || !fq_redis_connected(rp->c->redis))
        return;
    if (!rp->promoting)
        promote(rp);
    if (++rp->ticks % REAP_EVERY_TICKS == 0 && !rp->reaping)
        reap(rp);
}

struct fq_reaper *fq_reaper_new(fq_coordinator *c)
{
    struct fq_reaper *rp = calloc(1, sizeof(*rp));
    if (rp != NULL)
        rp->c = c;
    return rp;
}

int fq_reaper_busy(const struct fq_reaper *rp)
{
    return rp->promoting || rp->reaping;
}

void fq_reaper_free(struct fq_reaper *rp)
{
    free(rp);
}
