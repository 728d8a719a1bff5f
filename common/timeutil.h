/* timeutil.h -- clocks and small time helpers.
 *
 * fq_now_ms() is the host's wall clock, used only for timestamps that
 * people read; anything the fleet agrees on (rate windows, leases, budget
 * days) takes its time from Redis' TIME inside the Lua scripts instead.
 * fq_mono_ms() is for local intervals (latency, back-off timers).
 */
#ifndef FQ_TIMEUTIL_H
#define FQ_TIMEUTIL_H

#include <stdint.h>

int64_t fq_now_ms(void);
int64_t fq_mono_ms(void);

/* Exponential back-off with full jitter for the attempt'th retry
 * (1-based): a random delay in [d/2, d] where d = base * 2^(attempt-1),
 * capped at max_ms. */
int64_t fq_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);
/* The same delay without its jitter: base * 2^(attempt-1), capped. */
int64_t fq_backoff_step_ms(int attempt, int64_t base_ms, int64_t max_ms);

/* A random 64-bit value (seeded once from the OS). */
uint64_t fq_random64(void);

#endif
