/* coordinator.c -- the coordinator's life cycle: connections, the periodic
 * timer, signals, and a shutdown that lets in-flight work finish.
 *
 * On SIGTERM/SIGINT the blocking reads are dropped at once (what they had
 * not delivered stays in the streams, pending for this consumer, and is
 * read again on the next start); scripts already sent are awaited; then the
 * store is closed and every handle too, and the loop ends. The HTTP server
 * answers until then (a health check sees the drain), and is stopped just
 * before the last handles close.
 *
 * The fleet's limits and budget (fleetq:limits, fleet_limits.h) are published
 * from this environment once Redis first answers, and again on SIGHUP;
 * after a reconnect they are only filled in if Redis lost them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "coordinator.h"
#include "http.h"
#include "keys.h"
#include "lease.h"
#include "log.h"
#include "quota.h"
#include "readers.h"
#include "timeutil.h"

#define TICK_MS 100
#define PRUNE_EVERY_TICKS 600   /* a minute */
#define PRUNE_BATCH 5000
#define READERS 2                  /* SQLite reader threads */
#define READ_TIME_LIMIT_MS 2000    /* one read (a batch's recall searches) at most */

static void on_group(fq_redis *r, redisReply *reply, void *data)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "BUSYGROUP", 9) != 0)
        fq_log(FQ_LOG_ERROR, "coordinator.group_failed", FQ_LS, "error", reply->str, FQ_LEND);
}

void fq_coordinator_ensure_group(fq_coordinator *c, const char *stream, const char *group)
{
    /* From the start of the stream: submissions made before the first
     * coordinator ever ran are processed too. */
    fq_redis_command(c->redis, on_group, NULL, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group);
}

static void on_limits_published(fq_redis *r, redisReply *reply, void *data)
{
    fq_coordinator *c = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        fq_log(FQ_LOG_ERROR, "limits.publish_failed", FQ_LS, "error",
               reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply", FQ_LEND);
        return;
    }
    if (fq_reply_int(reply->element[0], 0) == 1)
        fq_log(FQ_LOG_INFO, "limits.published", FQ_LI, "version",
               (int64_t)fq_reply_int(reply->element[1], 0), FQ_LS, "by", c->consumer, FQ_LEND);
    c->limits_published = 1;
}

static void publish_limits(fq_coordinator *c, const char *op)
{
    char who[256];
    snprintf(who, sizeof(who), "coordinator %s", c->consumer);
    if (fq_quota_publish_limits(c->redis, c->cfg, op, who, on_limits_published, c) != 0)
        fq_log(FQ_LOG_ERROR, "limits.publish_failed", FQ_LS, "error", "out of memory", FQ_LEND);
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    fq_coordinator *c = sig->data;
    if (!c->stopping && c->redis != NULL)
        publish_limits(c, "publish");
}

/* The value of "name:" in an INFO reply, copied into out ("" if absent). */
static void info_field(const redisReply *info, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = info->str; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t l = end != NULL ? (size_t)(end - line) : strlen(line);
        if (l > n && strncmp(line, name, n) == 0 && line[n] == ':') {
            size_t v = l - n - 1;
            while (v > 0 && (line[n + v] == '\r'))
                v--;
            snprintf(out, len, "%.*s", (int)v, line + n + 1);
            return;
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

/* Checks the server once per connect: a maxmemory-policy other than
 * noeviction lets Redis drop tasks when it fills up; on a cluster, a
 * prefix without a hash tag spreads the fleet's keys over slots. */
static void on_info(fq_redis *r, redisReply *reply, void *data)
{
    fq_coordinator *c = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_STRING)
        return;
    char policy[64];
    info_field(reply, "maxmemory_policy", policy, sizeof(policy));
    char warning[256] = "";
    if (policy[0] != '\0' && strcmp(policy, "noeviction") != 0) {
        snprintf(warning, sizeof(warning), "Redis' maxmemory-policy is %s: when it fills up it "
                 "evicts keys, tasks among them; set it to noeviction", policy);
        fq_log(FQ_LOG_WARN, "redis.eviction", FQ_LS, "maxmemory_policy", policy, FQ_LS, "msg",
               warning, FQ_LEND);
    }
    fq_health_warn(c->health, 0, warning);
    char cluster[8];
    info_field(reply, "cluster_enabled", cluster, sizeof(cluster));
    warning[0] = '\0';
    if (strcmp(cluster, "1") == 0 && !fq_keys()->tagged)
        snprintf(warning, sizeof(warning), "Redis is a cluster and FLEETQ_KEY_PREFIX (%s) has "
                 "no hash tag: set it to one such as {fleetq}", fq_keys()->prefix);
    fq_health_warn(c->health, 1, warning);
}

void fq_coordinator_activate(fq_coordinator *c)
{
    publish_limits(c, c->limits_published ? "init" : "publish");
    fq_coordinator_ensure_group(c, fq_keys()->submit, FQ_GROUP_INTAKE);
    fq_coordinator_ensure_group(c, fq_keys()->results, FQ_GROUP_STORE);
    fq_intake_kick(c->intake);
    fq_persist_kick(c->persist);
}

/* Nothing but the lease is touched before it is ours; after a reconnect
 * while it is, the parts carry on. */
static void on_main_state(fq_redis *r, int connected, void *data)
{
    fq_coordinator *c = data;
    if (!connected)
        return;
    fq_redis_command(r, on_info, c, "INFO");
    if (fq_lease_held(c->lease))
        fq_coordinator_activate(c);
    fq_lease_tick(c->lease);
}

static void on_intake_state(fq_redis *r, int connected, void *data)
{
    fq_coordinator *c = data;
    if (connected && fq_lease_held(c->lease))
        fq_intake_kick(c->intake);
}

static void on_results_state(fq_redis *r, int connected, void *data)
{
    fq_coordinator *c = data;
    if (connected && fq_lease_held(c->lease))
        fq_persist_kick(c->persist);
}

static void on_pruned(fq_write_job *job, void *data)
{
    fq_coordinator *c = data;
    c->pruning = 0;
    if (job->deleted < 0)
        fq_log(FQ_LOG_WARN, "store.prune_failed", FQ_LS, "error", job->error, FQ_LEND);
    else if (job->deleted > 0)
        fq_log(FQ_LOG_INFO, "store.pruned", FQ_LI, "tasks", (int64_t)job->deleted, FQ_LI,
               "retain_days", (int64_t)c->cfg->retain_days, FQ_LEND);
    c->prune_at = c->ticks + (job->deleted == PRUNE_BATCH ? 1 : PRUNE_EVERY_TICKS);
    fq_write_job_free(job);
    fq_coordinator_maybe_close(c);
}

/* FLEETQ_RETAIN_DAYS: once a minute, the rows of tasks that ended longer
 * ago go, a batch per tick while there are more, on the writer thread. */
static void prune(fq_coordinator *c)
{
    int days = c->cfg->retain_days;
    if (days <= 0 || c->stopping || c->pruning || c->ticks < c->prune_at)
        return;
    fq_write_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return;
    job->kind = FQ_WRITE_PRUNE;
    job->before_ms = fq_now_ms() - (int64_t)days * 86400000;
    job->limit = PRUNE_BATCH;
    job->done = on_pruned;
    job->data = c;
    c->pruning = 1;
    fq_writer_submit(c->writer, job);
}

static void on_tick(uv_timer_t *t)
{
    fq_coordinator *c = t->data;
    c->ticks++;
    fq_health_beat(c->health);
    fq_lease_tick(c->lease);
    if (!fq_lease_held(c->lease))
        return;
    fq_reaper_tick(c->reaper);
    fq_resolver_kick(c->resolver);
    prune(c);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void fq_coordinator_maybe_close(fq_coordinator *c)
{
    if (!c->stopping || c->closed || fq_intake_busy(c->intake) ||
        fq_persist_busy(c->persist) || fq_reaper_busy(c->reaper) ||
        fq_resolver_busy(c->resolver) || c->pruning || fq_lease_release(c->lease))
        return;
    c->closed = 1;
    fq_writer_stop(c->writer);
    c->writer = NULL;
    fq_readers_stop(c->readers);
    c->readers = NULL;
    fq_http_stop(c->http);
    c->http = NULL;
    fq_redis_close(c->redis);
    c->redis = NULL;
    fq_intake_free(c->intake);
    fq_persist_free(c->persist);
    c->intake = NULL;
    c->persist = NULL;
    close_handle((uv_handle_t *)&c->cron);
    close_handle((uv_handle_t *)&c->sigterm);
    close_handle((uv_handle_t *)&c->sigint);
    close_handle((uv_handle_t *)&c->sighup);
    close_handle((uv_handle_t *)&c->sigusr2);
    fq_log(FQ_LOG_INFO, "coordinator.stopped", FQ_LEND);
}

/* For tests of /health only: with FLEETQ_TEST_STALL_SECONDS set, SIGUSR2
 * stalls the loop for that long, as a loop stuck in a blocking call would. */
static void on_test_stall(uv_signal_t *sig, int signum)
{
    (void)signum;
    fq_coordinator *c = sig->data;
    fq_log(FQ_LOG_WARN, "coordinator.test_stall", FQ_LI, "seconds", (int64_t)c->test_stall_s,
           FQ_LEND);
    sleep((unsigned)c->test_stall_s);
}

void fq_coordinator_stop(fq_coordinator *c, int exit_code, const char *why)
{
    if (c->stopping)
        return;
    c->stopping = 1;
    c->exit_code = exit_code;
    fq_log(FQ_LOG_INFO, "coordinator.stopping", FQ_LS, "cause", why, FQ_LEND);
    uv_timer_stop(&c->cron);
    fq_redis_close(c->intake_conn);
    fq_redis_close(c->results_conn);
    c->intake_conn = c->results_conn = NULL;
    fq_coordinator_maybe_close(c);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
    fq_coordinator_stop(sig->data, 0, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int fq_coordinator_start(fq_coordinator *c, uv_loop_t *loop, fq_config *cfg,
                         struct fq_http *http, fq_health *health)
{
    char err[512];
    memset(c, 0, sizeof(*c));
    c->http = http;
    c->health = health;
    c->loop = loop;
    c->cfg = cfg;
    const char *name = getenv("FLEETQ_COORDINATOR_NAME");
    snprintf(c->consumer, sizeof(c->consumer), "%s", name && *name ? name : "coordinator");

    c->store = fq_store_open(cfg->db_path, err, sizeof(err));
    if (c->store == NULL) {
        fq_log(FQ_LOG_ERROR, "coordinator.store_failed", FQ_LS, "error", err, FQ_LEND);
        return -1;
    }
    /* reads (recall) run on reader threads with read-only connections: in
     * WAL mode a writer, ours or a user's, does not block them */
    c->readers = fq_readers_start(loop, cfg->db_path, READERS, READ_TIME_LIMIT_MS, err,
                                  sizeof(err));
    if (c->readers == NULL) {
        fq_log(FQ_LOG_ERROR, "coordinator.store_failed", FQ_LS, "error", err, FQ_LEND);
        return -1;
    }
    c->writer = fq_writer_start(loop, c->store);
    if (c->writer == NULL) {
        fq_log(FQ_LOG_ERROR, "coordinator.writer_failed", FQ_LS, "error",
               "could not start the SQLite writer thread", FQ_LEND);
        return -1;
    }
    c->intake = fq_intake_new(c);
    c->persist = fq_persist_new(c);
    c->reaper = fq_reaper_new(c);
    c->resolver = fq_resolver_new(c);
    c->lease = fq_lease_new(c);
    c->redis = fq_redis_new(loop, cfg, "fleetq-coordinator", 0);
    c->intake_conn = fq_redis_new(loop, cfg, "fleetq-coordinator-intake", 15000);
    c->results_conn = fq_redis_new(loop, cfg, "fleetq-coordinator-results", 15000);
    if (!c->intake || !c->persist || !c->reaper || !c->resolver || !c->lease || !c->redis ||
        !c->intake_conn || !c->results_conn)
        return -1;
    fq_redis_on_state(c->redis, on_main_state, c);
    fq_redis_on_state(c->intake_conn, on_intake_state, c);
    fq_redis_on_state(c->results_conn, on_results_state, c);

    uv_timer_init(loop, &c->cron);
    c->cron.data = c;
    uv_timer_start(&c->cron, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(loop, &c->sigterm);
    uv_signal_init(loop, &c->sigint);
    uv_signal_init(loop, &c->sighup);
    c->sigterm.data = c->sigint.data = c->sighup.data = c;
    uv_signal_start(&c->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&c->sighup, on_sighup, SIGHUP);
    const char *stall = getenv("FLEETQ_TEST_STALL_SECONDS");
    uv_signal_init(loop, &c->sigusr2);
    c->sigusr2.data = c;
    if (stall != NULL && (c->test_stall_s = atoi(stall)) > 0)
        uv_signal_start(&c->sigusr2, on_test_stall, SIGUSR2);
    fq_log(FQ_LOG_INFO, "coordinator.started", FQ_LS, "db", cfg->db_path, FQ_LI, "schema",
           (int64_t)fq_store_version(c->store), FQ_LS, "consumer", c->consumer, FQ_LEND);
    return 0;
}

void fq_coordinator_free(fq_coordinator *c)
{
    fq_http_stop(c->http);
    c->http = NULL;
    fq_reaper_free(c->reaper);
    fq_resolver_free(c->resolver);
    fq_lease_free(c->lease);
    if (c->store != NULL)
        fq_store_close(c->store);
}
