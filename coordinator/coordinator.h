/* coordinator.h -- the coordinator process and its parts.
 *
 * One libuv loop drives three Redis connections (commands, and one each for
 * the two blocking stream reads) and a periodic timer; SQLite writes run on
 * a thread of their own (writer.h):
 *   intake.c  -- fleetq:submit → validate → intake.lua (route or reject);
 *   persist.c -- results stream → SQLite batch → stored.lua (announce, ack);
 *   reaper.c  -- delayed tasks and due retries promoted, expired leases reaped;
 *   resolver.c -- waiting tasks whose parents ended queued or cancelled.
 * The HTTP server (http.c: /health, /metrics) runs on threads of its own
 * and never touches the loop; the coordinator only stops it on shutdown.
 */
#ifndef FQ_COORDINATOR_H
#define FQ_COORDINATOR_H

#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "health.h"
#include "redis.h"
#include "store.h"
#include "writer.h"

typedef struct fq_coordinator {
    uv_loop_t *loop;
    fq_config *cfg;
    fq_store *store;         /* used by the writer thread only */
    struct fq_writer *writer;   /* SQLite writes, off the loop (writer.h) */
    struct fq_readers *readers;   /* SQLite reads, off the loop (readers.h) */
    int pruning;             /* a prune is with the writer */
    struct fq_http *http;    /* owned: stopped when the coordinator closes */
    fq_health *health;       /* what the parts report, for /health (shared with http) */
    char consumer[160];      /* stable across restarts, so our pending entries come back */

    fq_redis *redis;         /* ordinary commands and scripts */
    fq_redis *intake_conn;   /* XREADGROUP BLOCK on fleetq:submit */
    fq_redis *results_conn;  /* XREADGROUP BLOCK on the results stream */

    uv_timer_t cron;
    uv_signal_t sigterm, sigint, sighup;
    uv_signal_t sigusr2;     /* FLEETQ_TEST_STALL_SECONDS: stalls the loop, for tests */
    int test_stall_s;
    int stopping;
    int closed;
    int exit_code;           /* what main returns: 0, or why the coordinator stopped */
    struct fq_lease *lease;  /* the fleet's lease: the parts work only while it is ours */
    int limits_published;    /* this environment's limits are in fleetq:limits */
    uint64_t ticks;          /* of the timer, since start */
    uint64_t prune_at;       /* the tick of the next FLEETQ_RETAIN_DAYS prune */

    struct fq_intake *intake;
    struct fq_persist *persist;
    struct fq_reaper *reaper;
    struct fq_resolver *resolver;
} fq_coordinator;

/* Opens the store, connects and starts the timer and signal handlers.
 * Takes http (may be NULL), the HTTP server already listening, and stops it
 * when the coordinator closes. Returns 0, or -1 after logging why. */
int fq_coordinator_start(fq_coordinator *c, uv_loop_t *loop, fq_config *cfg,
                         struct fq_http *http, fq_health *health);
/* After uv_run() returned. */
void fq_coordinator_free(fq_coordinator *c);

/* Each part: create, start once Redis is up, stop taking new work, and
 * report whether it still has work in flight (for a clean shutdown). */
struct fq_intake *fq_intake_new(fq_coordinator *c);
void fq_intake_kick(struct fq_intake *in);
int fq_intake_busy(const struct fq_intake *in);
/* Submits the subtasks of a plan (the normalized output of a done plan
 * task of that depth) in one intake.lua call; cb gets its reply. Returns
 * 0, or -1 when the plan does not read back or nothing could be sent. */
int fq_intake_spawn(struct fq_intake *in, const char *parent_id, int depth, const char *plan,
                    fq_redis_cb cb, void *data);
void fq_intake_free(struct fq_intake *in);

struct fq_persist *fq_persist_new(fq_coordinator *c);
void fq_persist_kick(struct fq_persist *p);
int fq_persist_busy(const struct fq_persist *p);
void fq_persist_free(struct fq_persist *p);

struct fq_reaper *fq_reaper_new(fq_coordinator *c);
/* Runs from the coordinator's timer; does nothing while a run is in flight. */
void fq_reaper_tick(struct fq_reaper *r);
int fq_reaper_busy(const struct fq_reaper *r);
void fq_reaper_free(struct fq_reaper *r);

/* Releases or cancels waiting tasks whose parents ended (resolve.lua):
 * kicked by intake and the store when they have work for it, and by the
 * timer. */
struct fq_resolver *fq_resolver_new(fq_coordinator *c);
void fq_resolver_kick(struct fq_resolver *rs);
int fq_resolver_busy(const struct fq_resolver *rs);
void fq_resolver_free(struct fq_resolver *rs);

/* The lease became ours: publishes the limits, makes sure of the consumer
 * groups and sets the parts to work. */
void fq_coordinator_activate(fq_coordinator *c);
/* Begins a clean stop (as SIGTERM does); main then returns exit_code.
 * why names the cause in the log. */
void fq_coordinator_stop(fq_coordinator *c, int exit_code, const char *why);

/* Called by the parts when they go idle, so shutdown can complete. */
void fq_coordinator_maybe_close(fq_coordinator *c);

/* Creates a consumer group at the start of a stream (BUSYGROUP is fine). */
void fq_coordinator_ensure_group(fq_coordinator *c, const char *stream, const char *group);

#endif
