/* snapshot.h -- what /health and /metrics serve: a reading of the fleet
 * taken twice a second by a thread of its own, so that no request touches
 * Redis or SQLite, and the loop's own heartbeat, checked per request.
 *
 * /health is 200 "ok"; 200 "degraded" while a part of the coordinator is
 * failing, or while results have waited for SQLite longer than
 * FLEETQ_STORE_STALL_SECONDS (with the backlog and the reason); 503 when
 * Redis or SQLite cannot be read, when SQLite refuses writes, or when the
 * loop has not run for FQ_LOOP_STALL_MS ("stalled").
 */
#ifndef FQ_SNAPSHOT_H
#define FQ_SNAPSHOT_H

#include <stddef.h>

#include "config.h"
#include "health.h"

#define FQ_SNAPSHOT_MS 500        /* a reading this often */
#define FQ_SNAPSHOT_COUNTS_EVERY 4    /* the tasks table's counts every 4th (2 s) */
#define FQ_LOOP_STALL_MS 3000     /* a loop silent for longer is stuck */

enum { FQ_SNAPSHOT_HEALTH = 0, FQ_SNAPSHOT_METRICS = 1 };

typedef struct fq_snapshot fq_snapshot;

/* Starts the thread, which takes its first reading at once. */
fq_snapshot *fq_snapshot_start(const fq_config *cfg, fq_health *health);

/* A copy of the latest /health document or /metrics text (malloc'd, in
 * *body) and the status to answer with; waits for the first reading.
 * Returns 0, or -1 when out of memory. */
int fq_snapshot_get(fq_snapshot *s, int which, char **body, size_t *len, unsigned *status);

void fq_snapshot_stop(fq_snapshot *s);

#endif
