/* fleet_limits.h -- the fleet's limits and budget: the one source of truth that
 * every worker's quota obeys, held in Redis in the hash fleetq:limits.
 *
 * The coordinator publishes them from its environment at start and on
 * SIGHUP (GROK_RATE_LIMIT_RPM/RPH/TPM, FLEETQ_RATE_BURST,
 * FLEETQ_MAX_INFLIGHT, DAILY_BUDGET_USD, ENABLE_RATE_LIMITING,
 * FLEETQ_ADAPTIVE, FLEETQ_LIMIT_SCOPE, FLEETQ_MODEL_LIMITS); `fleetqctl
 * limits set` changes them at run time; quota.lua reads them on every
 * grant, so a change holds fleet-wide at the next call. A worker's own
 * environment only fills the hash when nobody has published it yet.
 *
 * The hash, readable with HGETALL:
 *   scope            model (each model has its own rate, freeze, breaker
 *                    and priority contention) or key (one for them all)
 *   rpm rph tpm      the ceilings of a model without its own entry (0 = off)
 *   burst            calls allowed back to back above the pace
 *   max_inflight     calls in flight over the whole key (0 = off)
 *   daily_budget_usd the spend cap of the UTC day (0 = no cap)
 *   rate_limiting    on or off (ENABLE_RATE_LIMITING; the budget holds anyway)
 *   adaptive         on or off (FLEETQ_ADAPTIVE)
 *   model:<m>:rpm, model:<m>:rph, model:<m>:tpm, model:<m>:inflight
 *                    one model's own ceilings (each optional)
 *   version          counts every change; published_by, published_at_ms
 * quota.lua and limits.lua spell these names out as well (the unit test
 * test_lua_keys checks that they agree with fq_limit_fields[]).
 */
#ifndef FQ_LIMITS_H
#define FQ_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "task.h"                   /* FQ_MODEL_NAME_MAX */

#define FQ_MODEL_LIMITS_MAX 64      /* models with an entry of their own */

typedef enum fq_limit_scope { FQ_SCOPE_MODEL = 0, FQ_SCOPE_KEY } fq_limit_scope;

/* A model's own ceilings; -1 where it has none (the fleet's applies). */
typedef struct fq_model_limit {
    char model[FQ_MODEL_NAME_MAX + 1];
    int64_t rpm, rph, tpm, inflight;
} fq_model_limit;

/* The names of the fleet-wide fields, in the order `fleetqctl limits`
 * shows them, and of a model's own fields (after "model:<m>:"). */
extern const char *const fq_limit_fields[];
extern const char *const fq_model_limit_fields[];

const char *fq_limit_scope_name(fq_limit_scope s);
/* Returns the scope for "model" or "key", -1 for anything else. */
int fq_limit_scope_parse(const char *s);

/* Parses one model's ceilings, "rpm=60,tpm=16000" (keys rpm, rph, tpm,
 * inflight; each a non-negative integer), into out, over what it holds
 * already. Returns 0, or -1 with a reason in err. */
int fq_model_limit_parse(const char *spec, size_t len, fq_model_limit *out, char *err,
                         size_t errlen);

/* Parses FLEETQ_MODEL_LIMITS, "MODEL:KEY=N[,KEY=N...][;MODEL:...]", into
 * out[0..*n) (each model once). Returns 0, or -1 with a reason in err. */
int fq_model_limits_parse(const char *spec, fq_model_limit *out, size_t cap, size_t *n,
                          char *err, size_t errlen);

/* Appends the model's fields that are set as "model:<m>:<key>" value pairs. */
int fq_model_limit_argv(const fq_model_limit *m, fq_argv *out);

#endif
