/* quota.h -- the worker's side of the fleet-wide quota (common/lua/quota.lua).
 *
 * Before each API call a worker reserves: one request slot under the
 * fleet's rate and the call's worst-case cost under the daily budget, in
 * one atomic script. A denial comes back with the exact wait and a reason.
 * After the call the reservation is settled to what the provider billed,
 * or released when nothing was billed.
 */
#ifndef FQ_QUOTA_H
#define FQ_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cost.h"
#include "redis.h"

typedef enum fq_quota_verdict {
    FQ_QUOTA_GRANTED = 0,
    FQ_QUOTA_RATE,       /* wait wait_ms, then ask again (rate, or budget held by calls in flight) */
    FQ_QUOTA_BUDGET,     /* today's budget is spent; wait_ms until the UTC day turns */
    FQ_QUOTA_OVER_CAP    /* one call would cost more than the whole daily cap */
} fq_quota_verdict;

typedef struct fq_quota_grant {
    fq_quota_verdict verdict;
    int64_t wait_ms;
    int64_t ticks;       /* reserved (granted) or needed (denied) */
    int64_t day;         /* the budget day of the reservation */
} fq_quota_grant;

/* grant is NULL when Redis did not answer. */
typedef void (*fq_quota_cb)(const fq_quota_grant *grant, void *data);

typedef struct fq_quota_ask {
    const fq_price *price;
    size_t prompt_bytes;
    int messages;
    int max_tokens;
} fq_quota_ask;

int fq_quota_reserve(fq_redis *r, const fq_config *cfg, const fq_quota_ask *ask,
                     fq_quota_cb cb, void *data);

/* Fire and forget; reasoning_tokens < 0 when the call gave no usage. */
int fq_quota_settle(fq_redis *r, int64_t held_ticks, int64_t billed_ticks, int64_t day,
                    const char *model, int64_t reasoning_tokens);
int fq_quota_release(fq_redis *r, int64_t held_ticks, int64_t day);

#endif
