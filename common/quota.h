/* quota.h -- the worker's side of the fleet-wide quota (common/lua/quota.lua).
 *
 * Before each API call a worker asks for a grant: a slot under its model's
 * effective rate (with priority between role classes), the hourly and
 * token ceilings, the in-flight caps, and the call's worst-case cost under
 * the daily budget, all in one atomic script, unless the fleet is paused
 * (key rejected, no credits), the model's breaker is open or the model is
 * frozen after a 429. The limits come from fleetq:limits (fleet_limits.h), never
 * from the worker. A denial comes back with the exact wait and a reason.
 * After the call the worker reports what happened, which settles the grant
 * and steers the model's state (adaptive request and token rates, freeze,
 * breaker) and the fleet's (pause).
 */
#ifndef FQ_QUOTA_H
#define FQ_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cost.h"
#include "outcome.h"
#include "redis.h"

typedef enum fq_quota_verdict {
    FQ_QUOTA_GRANTED = 0,
    FQ_QUOTA_WAIT,       /* rate, freeze, breaker, in-flight cap, held budget: ask again after wait_ms */
    FQ_QUOTA_BUDGET,     /* today's budget is spent; wait_ms until the UTC day turns */
    FQ_QUOTA_OVER_CAP,   /* one call would cost more than the whole daily cap */
    FQ_QUOTA_PAUSED,     /* the fleet is paused (pause, pause_reason) */
    FQ_QUOTA_TOO_LARGE   /* the call's own token estimate is over the model's token
                            ceiling (tokens_ceiling): no wait lets it through */
} fq_quota_verdict;

typedef struct fq_quota_grant {
    fq_quota_verdict verdict;
    int64_t wait_ms;
    int64_t ticks;            /* reserved (granted) or needed (denied) */
    int64_t day;              /* the budget day of the reservation */
    int64_t tokens_ceiling;   /* TOO_LARGE: the model's tokens per minute */
    int probe;                /* granted as the probe of a pause (1) or open breaker (2) */
    char reason[16];          /* why a WAIT: rate, frozen, breaker, inflight, held, rph, tpm,
                                 nolimits (nobody had published fleetq:limits: this
                                 worker's environment now has) */
    char pause[16];           /* key_rejected or no_credits */
    char pause_reason[320];
} fq_quota_grant;

/* grant is NULL when Redis did not answer. */
typedef void (*fq_quota_cb)(const fq_quota_grant *grant, void *data);

typedef struct fq_quota_ask {
    const char *call_id;      /* unique per call: names its in-flight slot, "MODEL|..."
                                 (fq_quota_call_id) */
    const char *task_id;      /* the task the call is for, and its lease token: */
    const char *lease;        /* its hash gets the phase, calling or waiting */
    int klass;                /* 0 ceo ... 3 memory: priority class */
    const char *model;        /* the model called: its quota state, limits and breaker */
    const fq_price *price;    /* its price (an unknown model's is the fallback's) */
    size_t prompt_bytes;
    int messages;
    int max_tokens;
} fq_quota_ask;

/* Names a call's slot: "MODEL|WORKER/N", so that the slots of one model
 * can be counted against its own in-flight cap. */
void fq_quota_call_id(char *buf, size_t len, const char *model, const char *worker,
                      unsigned long long n);

/* Tokens a call is expected to use, reserved against GROK_RATE_LIMIT_TPM:
 * prompt bytes / 4 plus max_tokens. */
int64_t fq_quota_estimate_tokens(const fq_quota_ask *ask);

/* Asks and reports are gathered in a batch and sent together when its
 * owner flushes it, once per turn of its loop: one quota.lua call for the
 * reports of each model, then one for the asks of each model (up to 64
 * each), so that a busy worker pays one round trip and one script for
 * many calls. */
typedef struct fq_quota_batch fq_quota_batch;

fq_quota_batch *fq_quota_batch_new(fq_redis *r, const fq_config *cfg);
void fq_quota_batch_free(fq_quota_batch *b);
/* Sends what was gathered; the grants come back to each ask's cb. */
void fq_quota_flush(fq_quota_batch *b);

/* Queues an ask for a grant; cb gets it, or NULL when Redis could not be
 * asked (fq_quota_last_error says why). The task's hash gets its phase
 * (`phase`: calling once granted, quota while denied) as long as the
 * lease is still ask->lease. */
int fq_quota_reserve(fq_quota_batch *b, const fq_quota_ask *ask, fq_quota_cb cb, void *data);
/* Why the last reserve that called back with NULL failed (one loop, one
 * buffer: read it in that callback). */
const char *fq_quota_last_error(void);

/* What a call came to, for settling its grant. */
typedef struct fq_quota_report {
    const char *call_id;
    int64_t held_ticks;
    int64_t billed_ticks;
    int64_t day;
    const char *model;
    int64_t reasoning_tokens;  /* -1 when the call gave no usage */
    fq_outcome outcome;
    fq_limit_kind limit_kind;  /* for a 429: the request or the token limit */
    int64_t est_tokens;
    int64_t used_tokens;       /* usage.total_tokens, 0 when none */
    int64_t retry_after_ms;    /* -1 when absent */
    const char *error;         /* the provider's reason, for a pause */
} fq_quota_report;

/* Queues a report: fire and forget. */
int fq_quota_settle(fq_quota_batch *b, const fq_quota_report *rep);
/* Gives back an unused grant of a call to model. */
int fq_quota_release(fq_redis *r, const fq_config *cfg, const char *call_id, const char *model,
                     int64_t held_ticks, int64_t day, int64_t est_tokens);
/* Extends the leases of the given calls' slots (the worker's heartbeat). */
int fq_quota_extend(fq_redis *r, const fq_config *cfg, const char *const *call_ids, int n);
/* A breaker state ("closed", "half_open", "open", as quota.lua writes it)
 * as the number /metrics shows and the worst of several is picked by:
 * 0, 1, 2. */
int fq_quota_breaker_rank(const char *state);

/* Lifts a fleet pause; cb gets the reply (the pause that was lifted). */
int fq_quota_resume(fq_redis *r, fq_redis_cb cb, void *data);

/* Publishes this process' limits (limits.lua): op "publish" replaces
 * fleetq:limits with them (the coordinator), "init" only fills it while
 * nobody has (a worker). who names the publisher. cb may be NULL. */
int fq_quota_publish_limits(fq_redis *r, const fq_config *cfg, const char *op, const char *who,
                            fq_redis_cb cb, void *data);

#endif
