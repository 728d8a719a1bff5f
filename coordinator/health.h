/* health.h -- how the coordinator's own parts are doing, for /health and
 * /metrics.
 *
 * The parts run on the coordinator's loop; the HTTP server answers on
 * threads of its own. Each part reports here after every failure and every
 * recovery (a copy of its fq_failing, under a mutex), and the server takes
 * a snapshot per request. Warnings are facts about the setup that do not
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

typedef struct fq_health_view {
    fq_failing parts[FQ_PART_COUNT];   /* part names filled in */
    int store_refused;                 /* the failing store write was SQLite's refusal */
    int nwarnings;
    char warnings[FQ_HEALTH_WARNINGS_MAX][256];
} fq_health_view;

typedef struct fq_health fq_health;

fq_health *fq_health_new(void);
void fq_health_free(fq_health *h);

/* The part's state as it is now; refused marks a store failure that was
 * SQLite's (it did not take a write), not Redis'. */
void fq_health_report(fq_health *h, fq_part part, const fq_failing *f, int refused);
/* Sets warning slot i (0..FQ_HEALTH_WARNINGS_MAX-1); "" clears it. */
void fq_health_warn(fq_health *h, int i, const char *warning);
void fq_health_snapshot(fq_health *h, fq_health_view *out);

const char *fq_part_name(fq_part part);

#endif
