/* failing.h -- one part of a program whose Redis or SQLite calls fail, and
 * how long it waits before trying again.
 *
 * Every failure doubles the wait (full jitter, fq_backoff_ms of
 * timeutil.h) from a base up to a cap, so a part that cannot make progress
 * never spins. The log gets one line per step of the back-off (the first
 * failure, then each doubling), one a minute while it stays at the cap,
 * and one when the part works again: never one per try. A program shows
 * its failing parts in /health and /metrics (the coordinator) from these
 * records.
 */
#ifndef FQ_FAILING_H
#define FQ_FAILING_H

#include <stdint.h>

typedef struct fq_failing {
    const char *part;         /* "intake", "store", "timer", "claim", ... */
    int64_t base_ms;
    int64_t max_ms;
    int failures;             /* in a row; 0 while the part works */
    int64_t since_ms;         /* wall clock ms of the first of them */
    int64_t logged_ms;        /* monotonic ms of the last line logged */
    int64_t total;            /* failures since start, for /metrics */
    char error[256];          /* the last one's error */
} fq_failing;

void fq_failing_init(fq_failing *f, const char *part, int64_t base_ms, int64_t max_ms);

/* Records a failure with its error (what Redis or SQLite said) and
 * returns how long to wait before the next try, in ms. */
int64_t fq_failing_fail(fq_failing *f, const char *error);

/* Records that the part works: logs the recovery after failures. */
void fq_failing_ok(fq_failing *f);

/* 1 while the last try failed. */
int fq_failing_now(const fq_failing *f);

#endif
