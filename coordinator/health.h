/* health.h -- how the coordinator's own parts are doing, for /health and
 * /metrics.
 *
 * The parts run on the coordinator's loop; the HTTP server answers on
 * threads of its own. Each part reports here after every failure and every
 * recovery (a copy of its fq_failing, under a mutex), the store after every
 * commit, and the loop's timer beats here every tick, so that a loop that
 * is stuck shows; the snapshot thread (snapshot.h) reads it. Warnings are facts about the setup that do not
 * stop the fleet but should be fixed (Redis evicting keys, say).
 */
#ifndef FQ_HEALTH_H
#define FQ_HEALTH_H

#include <stdint.h>

#include "failing.h"

typedef enum fq_part {
    FQ_PART_INTAKE,     /* reading and recording submissions */
    FQ_PART_STORE,      /* writing results to SQLite and announcing them */
    FQ_PART_TIMER,      /* delays, ttls and leases */
    FQ_PART_COUNT
} fq_part;

#define FQ_HEALTH_WARNINGS_MAX 4

/* Who runs the fleet, as this coordinator knows it (lease.h). */
typedef struct fq_health_lease {
    char state[16];         /* starting, active, standby or refused */
    char fleet[64];         /* the fleet's id once the lease was ours */
    char host[256];         /* the holder's ("" unknown) */
    char pid[16];
    char since[40];
    char db[512];
} fq_health_lease;

typedef struct fq_health_view {
    fq_failing parts[FQ_PART_COUNT];   /* part names filled in */
    int store_refused;                 /* the failing store write was SQLite's refusal */
    int64_t stored_at_ms;              /* the last batch committed (the start before one) */
    int64_t beat_mono_ms;              /* the loop's last heartbeat (monotonic) */
    char warnings[FQ_HEALTH_WARNINGS_MAX][256];   /* "" for none */
    fq_health_lease lease;
} fq_health_view;

typedef struct fq_health fq_health;

fq_health *fq_health_new(void);
void fq_health_free(fq_health *h);

/* A part's failing record, backing off from 100 ms, doubling to 10 s. */
void fq_health_part_init(fq_failing *f, fq_part part);
/* The part failed with error: records it (refused: the store's failure
 * was SQLite refusing a write, not Redis) and reports it here; returns the
 * wait before the next try, in ms. */
int64_t fq_health_failed(fq_health *h, fq_part part, fq_failing *f, const char *error,
                         int refused);
/* The part worked: reports the recovery after a failure (nothing to do,
 * and no lock taken, while it works on). */
void fq_health_works(fq_health *h, fq_part part, fq_failing *f);
/* Sets warning slot i (0..FQ_HEALTH_WARNINGS_MAX-1); "" clears it. */
void fq_health_warn(fq_health *h, int i, const char *warning);
void fq_health_snapshot(fq_health *h, fq_health_view *out);
/* The lease's state, and its holder as last seen. */
void fq_health_coordinator(fq_health *h, const char *state, const char *fleet, const char *host,
                           const char *pid, const char *since, const char *db);

/* A batch of results was committed to SQLite at now_ms. */
void fq_health_stored(fq_health *h, int64_t now_ms);
/* The loop is alive (its timer calls this every tick). */
void fq_health_beat(fq_health *h);
/* How long ago the loop last beat, in ms. */
int64_t fq_health_beat_age_ms(fq_health *h);

#endif
