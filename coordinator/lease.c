/* lease.c -- one coordinator per fleet (see lease.h and lease.lua).
 *
 * Each try reads the database's fleet id first (on a reader thread: the
 * database may be slow, and a standby's may have been given its id by the
 * coordinator it waits for), then sends lease.lua. While the lease is
 * ours it is renewed every FQ_LEASE_RENEW_MS; a renewal that fails (Redis
 * away) is tried again every tick, and the lease lapses in Redis as it
 * would for a crash: if Redis stays away longer than FQ_LEASE_MS, a
 * standby may take over once Redis is back, and this coordinator, finding
 * the lease taken, stops.
 */
#include "lease.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "coordinator.h"
#include "keys.h"
#include "log.h"
#include "readers.h"
#include "record.h"
#include "timeutil.h"

#define FQ_LEASE_MS 10000         /* the lease lapses this long after its last renewal */
#define FQ_LEASE_RENEW_MS 1000    /* how often the holder renews it, and a standby tries */
#define FQ_LEASE_SILENT_MS 3000   /* a holder this long without renewing is presumed gone */
#define LEASE_RETRY_MS 500        /* after a try that failed (Redis away, the database busy) */
#define FLEET_ID_MAX 64

struct fq_lease {
    fq_coordinator *c;
    char token[96];               /* this coordinator's, unique */
    char host[256];
    char pid[16];
    char since[40];               /* when it started, ISO-8601 */
    char db[PATH_MAX];            /* the database's absolute path */
    char fleet[FLEET_ID_MAX];     /* the fleet's id, once the lease was ours */
    char db_fleet[FLEET_ID_MAX];  /* the database's fleet id as last read ("" none) */
    char stale[96];               /* a dead holder's token, to take over */
    int db_tasks;                 /* the database holds tasks */
    int held;                     /* the lease is ours */
    int busy;                     /* a read or a script in flight */
    int releasing;                /* the release is in flight */
    int released;
    int waiting;                  /* a wait for the holder was logged */
    int failing;                  /* a failed try was logged */
    int64_t next_ms;              /* monotonic: the next try */
};

fq_lease *fq_lease_new(fq_coordinator *c)
{
    fq_lease *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->c = c;
    if (gethostname(l->host, sizeof(l->host)) != 0 || l->host[0] == '\0')
        snprintf(l->host, sizeof(l->host), "unknown");
    l->host[sizeof(l->host) - 1] = '\0';
    snprintf(l->pid, sizeof(l->pid), "%ld", (long)getpid());
    snprintf(l->token, sizeof(l->token), "%.40s:%s:%016llx", l->host, l->pid,
             (unsigned long long)fq_random64());
    fq_iso8601_ms(fq_now_ms(), l->since, sizeof(l->since));
    if (realpath(c->cfg->db_path, l->db) == NULL)
        snprintf(l->db, sizeof(l->db), "%s", c->cfg->db_path);
    return l;
}

void fq_lease_free(fq_lease *l)
{
    free(l);
}

int fq_lease_held(const fq_lease *l)
{
    return l != NULL && l->held;
}

void fq_lease_recorded(fq_lease *l)
{
    if (l != NULL)
        l->db_tasks = 1;
}

static void report(fq_lease *l, const char *state, const char *host, const char *pid,
                   const char *since, const char *db)
{
    fq_health_coordinator(l->c->health, state, l->fleet, host, pid, since, db);
}

/* ------------------------------------------------------------------------
 * Refusals
 * --------------------------------------------------------------------- */

/* The lease is someone else's and we may not wait: say whose, and stop. */
static void refuse(fq_lease *l, const char *event, const char *msg)
{
    fq_log(FQ_LOG_ERROR, event, FQ_LS, "msg", msg, FQ_LEND);
    report(l, "refused", "", "", "", "");
    fq_coordinator_stop(l->c, FQ_EXIT_CONFIG, event);
}

static void refuse_fleet(fq_lease *l, const redisReply *reply)
{
    const char *id = reply->element[1]->str, *db = reply->element[2]->str;
    const char *host = reply->element[3]->str;
    char msg[1024 + PATH_MAX];
    if (strcmp(reply->element[0]->str, "other_fleet") == 0)
        snprintf(msg, sizeof(msg), "the database %s belongs to the fleet %s, but the fleet of "
                 "this Redis and FLEETQ_KEY_PREFIX %s is %s, whose results are in %s on %s; "
                 "point FLEETQ_DB at that database, or give this fleet another "
                 "FLEETQ_KEY_PREFIX", l->db, l->db_fleet, fq_keys()->prefix, id, db, host);
    else
        snprintf(msg, sizeof(msg), "the database %s is new, but the fleet %s has recorded its "
                 "results in %s on %s; point FLEETQ_DB at that database, or set "
                 "FLEETQ_NEW_DATABASE=true to start a new one (the results so far stay in the "
                 "old one)", l->db, id, db, host);
    refuse(l, "coordinator.wrong_database", msg);
}

/* 1 when the holder is a process of this host that no longer runs (or
 * this very process, restarted in a container with the same pid). */
static int holder_gone(const fq_lease *l, const char *host, const char *pid)
{
    if (strcmp(host, l->host) != 0)
        return 0;
    char *end;
    long p = strtol(pid, &end, 10);
    if (*end != '\0' || p <= 0)
        return 0;
    if (p == (long)getpid())
        return 1;
    return kill((pid_t)p, 0) != 0 && errno == ESRCH;
}

/* The lease is held by another coordinator (host, pid, since, db, ms since
 * it last renewed). */
static void on_held(fq_lease *l, const redisReply *reply)
{
    const char *token = reply->element[1]->str, *host = reply->element[2]->str;
    const char *pid = reply->element[3]->str, *since = reply->element[4]->str;
    const char *db = reply->element[5]->str;
    long long silent = strtoll(reply->element[6]->str, NULL, 10);
    char msg[1024 + PATH_MAX];
    if (l->held) {
        snprintf(msg, sizeof(msg), "another coordinator took the fleet over (host %s, pid %s, "
                 "database %s) while this one could not renew its lease; stopping", host, pid,
                 db);
        l->held = 0;
        refuse(l, "coordinator.lease_lost", msg);
        return;
    }
    if (holder_gone(l, host, pid) && strcmp(l->stale, token) != 0) {
        fq_log(FQ_LOG_INFO, "coordinator.taking_over", FQ_LS, "host", host, FQ_LS, "pid", pid,
               FQ_LS, "msg", "the coordinator that held the fleet on this host is gone", FQ_LEND);
        snprintf(l->stale, sizeof(l->stale), "%s", token);
        l->next_ms = 0;
        return;
    }
    if (!l->c->cfg->standby && silent < FQ_LEASE_SILENT_MS) {
        snprintf(msg, sizeof(msg), "another coordinator runs this fleet: host %s, pid %s, since "
                 "%s, database %s; stop it first, or set FLEETQ_STANDBY=true to wait as its "
                 "standby (on the same database)", host, pid, since, db);
        refuse(l, "coordinator.already_running", msg);
        return;
    }
    report(l, "standby", host, pid, since, db);
    if (!l->waiting) {
        l->waiting = 1;
        snprintf(msg, sizeof(msg), "%s; taking over when its lease lapses",
                 l->c->cfg->standby ? "standing by for the coordinator that runs the fleet"
                                    : "the coordinator that held the fleet stopped renewing "
                                      "its lease");
        fq_log(FQ_LOG_INFO, "coordinator.standby", FQ_LS, "host", host, FQ_LS, "pid", pid,
               FQ_LS, "since", since, FQ_LS, "db", db, FQ_LS, "msg", msg, FQ_LEND);
    }
}

/* ------------------------------------------------------------------------
 * Taking and renewing
 * --------------------------------------------------------------------- */

static void on_fleet_recorded(fq_write_job *job, void *data)
{
    if (job->rc != 0)
        fq_log(FQ_LOG_WARN, "store.fleet_failed", FQ_LS, "error", job->error, FQ_LEND);
    fq_write_job_free(job);
    fq_coordinator_maybe_close(data);
}

/* The lease became ours: the database gets the fleet's id if it had none,
 * and the coordinator starts its work. */
static void on_taken(fq_lease *l, const char *fleet)
{
    l->held = 1;
    snprintf(l->fleet, sizeof(l->fleet), "%s", fleet);
    if (strcmp(l->db_fleet, fleet) != 0) {
        fq_write_job *job = calloc(1, sizeof(*job));
        if (job != NULL) {
            job->kind = FQ_WRITE_FLEET;
            snprintf(job->fleet_id, sizeof(job->fleet_id), "%s", fleet);
            job->done = on_fleet_recorded;
            job->data = l->c;
            fq_writer_submit(l->c->writer, job);
        }
    }
    fq_log(FQ_LOG_INFO, "coordinator.lease_taken", FQ_LS, "fleet", fleet, FQ_LS, "db", l->db,
           FQ_LS, "msg", l->waiting ? "took the fleet over" : NULL, FQ_LEND);
    report(l, "active", l->host, l->pid, l->since, l->db);
    fq_coordinator_activate(l->c);
}

static int reply_ok(const redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
        return 0;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    const char *tag = reply->element[0]->str;
    return strcmp(tag, "ok") == 0 || (strcmp(tag, "held") == 0 && reply->elements == 7) ||
           ((strcmp(tag, "other_fleet") == 0 || strcmp(tag, "new_db") == 0) &&
            reply->elements == 4);
}

static void on_reply(fq_redis *r, redisReply *reply, void *data)
{
    fq_lease *l = data;
    l->busy = 0;
    fq_coordinator *c = l->c;
    if (c->stopping) {
        /* taken as the stop began: given up with the rest */
        if (reply_ok(reply) && strcmp(reply->element[0]->str, "ok") == 0)
            l->held = 1;
        fq_coordinator_maybe_close(c);
        return;
    }
    if (!reply_ok(reply)) {
        if (!l->failing)
            fq_log(FQ_LOG_WARN, "coordinator.lease_failed", FQ_LS, "error",
                   reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                     : "no reply",
                   FQ_LEND);
        l->failing = 1;
        l->next_ms = fq_mono_ms() + LEASE_RETRY_MS;
        return;
    }
    l->failing = 0;
    const char *tag = reply->element[0]->str;
    l->next_ms = fq_mono_ms() + FQ_LEASE_RENEW_MS;
    if (strcmp(tag, "ok") == 0) {
        if (!l->held)
            on_taken(l, reply->element[1]->str);
    } else if (strcmp(tag, "held") == 0) {
        on_held(l, reply);
    } else {
        refuse_fleet(l, reply);
    }
}

/* lease.lua with op; the arguments a release does not read are sent all
 * the same. */
static void send_script(fq_lease *l, const char *op, fq_redis_cb cb, int *in_flight)
{
    fq_argv a;
    fq_argv_init(&a);
    const fq_keyset *k = fq_keys();
    fq_argv_adds(&a, k->coordinator);
    fq_argv_adds(&a, k->fleet);
    fq_argv_adds(&a, op);
    fq_argv_adds(&a, l->token);
    fq_argv_addll(&a, FQ_LEASE_MS);
    fq_argv_adds(&a, l->host);
    fq_argv_adds(&a, l->pid);
    fq_argv_adds(&a, l->since);
    fq_argv_adds(&a, l->db);
    fq_argv_adds(&a, l->held ? l->fleet : l->db_fleet);
    fq_argv_adds(&a, l->db_tasks ? "1" : "0");
    if (strcmp(op, "acquire") == 0)   /* the id a new fleet gets */
        fq_argv_addf(&a, "%016llx%016llx", (unsigned long long)fq_random64(),
                     (unsigned long long)fq_random64());
    else
        fq_argv_adds(&a, "");
    fq_argv_adds(&a, l->c->cfg->new_database ? "1" : "0");
    fq_argv_adds(&a, l->stale);
    *in_flight = fq_argv_ok(&a) && fq_redis_script(l->c->redis, "lease", 2, &a, cb, l) == 0;
    if (!*in_flight)
        l->next_ms = fq_mono_ms() + LEASE_RETRY_MS;
    fq_argv_free(&a);
}

/* On a reader thread: the database's fleet id, and whether it holds tasks. */
static int read_fleet(sqlite3 *db, void *data, char *err, size_t errlen)
{
    fq_lease *l = data;
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT (SELECT id FROM fleet LIMIT 1), EXISTS (SELECT 1 FROM tasks)";
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        snprintf(l->db_fleet, sizeof(l->db_fleet), "%s", id != NULL ? (const char *)id : "");
        if (sqlite3_column_int(st, 1) != 0)
            l->db_tasks = 1;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "reading the database's fleet id: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static void on_fleet_read(int rc, const char *err, void *data)
{
    fq_lease *l = data;
    l->busy = 0;
    if (l->c->stopping) {
        fq_coordinator_maybe_close(l->c);
        return;
    }
    if (rc != 0) {
        fq_log(FQ_LOG_WARN, "coordinator.lease_failed", FQ_LS, "error", err, FQ_LEND);
        l->next_ms = fq_mono_ms() + LEASE_RETRY_MS;
        return;
    }
    if (fq_redis_connected(l->c->redis))
        send_script(l, "acquire", on_reply, &l->busy);
}

void fq_lease_tick(fq_lease *l)
{
    if (l == NULL || l->busy || l->c->stopping || l->released || fq_mono_ms() < l->next_ms ||
        !fq_redis_connected(l->c->redis))
        return;
    if (l->held) {
        send_script(l, "renew", on_reply, &l->busy);
    } else if (fq_readers_submit(l->c->readers, read_fleet, on_fleet_read, l) == 0) {
        l->busy = 1;
    } else {
        l->next_ms = fq_mono_ms() + LEASE_RETRY_MS;
    }
}

/* ------------------------------------------------------------------------
 * Giving it up
 * --------------------------------------------------------------------- */

static void on_released(fq_redis *r, redisReply *reply, void *data)
{
    fq_lease *l = data;
    l->releasing = 0;
    if (reply_ok(reply))
        fq_log(FQ_LOG_INFO, "coordinator.lease_released", FQ_LEND);
    fq_coordinator_maybe_close(l->c);
}

int fq_lease_release(fq_lease *l)
{
    if (l == NULL || l->busy)
        return l != NULL && l->busy;
    if (l->releasing)
        return 1;
    if (!l->held || l->released || !fq_redis_connected(l->c->redis))
        return 0;
    l->released = 1;
    send_script(l, "release", on_released, &l->releasing);
    l->held = 0;
    return l->releasing;
}
