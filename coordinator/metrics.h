/* metrics.h -- the fleet's figures as the coordinator's HTTP endpoints show
 * them: read from Redis and the SQLite store into one snapshot, and
 * rendered as Prometheus text for GET /metrics (GET /health renders the
 * same snapshot as JSON, in http.c).
 *
 * fq_metrics_read() runs on an HTTP server thread, so it never touches the
 * coordinator's own connections: it opens a short-lived synchronous Redis
 * connection (1 s connect and command timeouts, AUTH and SELECT from the
 * configuration) and a read-only SQLite connection (1 s busy timeout), and
 * closes both before it returns. A part that cannot be read is marked not
 * ok with a one-line reason; everything else is still filled in.
 *
 * Where the figures come from (key names in keys.h):
 *   ready queues, delayed set, leases, dead letters -- ZCARD (delayed,
 *     retrying and running per role from the tasks' hashes, for the first
 *     FQ_METRICS_DELAYED_SCAN of each set; of the running, those calling
 *     the API and those waiting for the quota by the phase quota.lua marks);
 *   live workers -- the registry fleetq:{q}:workers, members "host:pid:role"
 *     whose heartbeat (score, ms) is within FLEETQ_LEASE_SECONDS of Redis'
 *     TIME;
 *   pause, budget, in-flight calls -- the quota hash fleetq:quota
 *     (quota.lua), the configuration where a field is not written yet;
 *   rate, freeze, breaker -- per model, fleetq:quota:<model> for the models
 *     of the registry fleetq:{q}:models (with FLEETQ_LIMIT_SCOPE=key, the
 *     quota hash itself);
 *   calls, tokens, cost, latency and queue wait -- the counters workers
 *     add to fleetq:{q}:metrics (finish.lua, claim.lua);
 *   tasks by role and final status -- the store's `tasks` table.
 */
#ifndef FQ_METRICS_H
#define FQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "health.h"
#include "task.h"

#define FQ_METRICS_ERR_MAX 256
#define FQ_METRICS_MAX_BUCKETS 32
#define FQ_METRICS_DELAYED_SCAN 20000
#define FQ_METRICS_MODELS_MAX 32   /* models shown, the most recently used first */

/* A count under two labels: (code, outcome) of API calls, (role, status)
 * of stored tasks. */
typedef struct fq_metrics_count {
    char *a;
    char *b;
    int64_t n;
} fq_metrics_count;

/* A histogram as stored: observations per bucket (not cumulative), upper
 * bounds in seconds in ascending order, +Inf implied by count. */
typedef struct fq_metrics_hist {
    int nbuckets;
    double le[FQ_METRICS_MAX_BUCKETS];
    int64_t in[FQ_METRICS_MAX_BUCKETS];
    int64_t sum_ms;
    int64_t count;
} fq_metrics_hist;

typedef enum fq_metrics_token_kind {
    FQ_TOKENS_PROMPT = 0,
    FQ_TOKENS_COMPLETION,
    FQ_TOKENS_REASONING,
    FQ_TOKENS_CACHED,
    FQ_TOKENS_KINDS
} fq_metrics_token_kind;

/* One state of the quota (quota.lua): a model's, fleetq:quota:<model>, or
 * the key's when FLEETQ_LIMIT_SCOPE=key (then name is ""). */
typedef struct fq_metrics_model {
    char name[64];
    double rate_per_s;                   /* effective */
    double ceiling_per_s;
    double token_rate_per_min;           /* learned from token 429s, -1 when none */
    int64_t tpm_ceiling;                 /* 0 = none */
    int frozen;
    char breaker[16];                    /* "closed", "half_open" or "open" */
    int64_t decreases, rate_limited, breaker_opened;
} fq_metrics_model;

typedef struct fq_metrics {
    /* Redis */
    int redis_ok;
    char redis_error[FQ_METRICS_ERR_MAX];
    double redis_latency_ms;             /* one PING round trip */
    int64_t now_ms;                      /* Redis' TIME */
    int64_t queued[FQ_ROLE_COUNT];
    int64_t delayed[FQ_ROLE_COUNT];      /* per role, among the first FQ_METRICS_DELAYED_SCAN */
    int64_t delayed_total;
    int64_t retrying[FQ_ROLE_COUNT];     /* of the delayed: waiting to try again (attempts > 0) */
    int64_t running;                     /* leases held */
    int64_t running_role[FQ_ROLE_COUNT]; /* per role, among the first FQ_METRICS_DELAYED_SCAN */
    int64_t calling_role[FQ_ROLE_COUNT]; /* of those, calling the API */
    int64_t waiting_quota_role[FQ_ROLE_COUNT];   /* of those, waiting for the quota */
    int64_t dead;                        /* dead letters */
    int64_t backlog;                     /* records waiting for SQLite (the results stream) */
    int64_t workers[FQ_ROLE_COUNT];      /* live ones */

    /* the quota hash; with the scope `model`, rate to breaker add up the
     * models' (the longest freeze, the worst breaker) */
    int by_model;                        /* FLEETQ_LIMIT_SCOPE=model */
    fq_metrics_model models[FQ_METRICS_MODELS_MAX];
    int nmodels;
    double rate_per_s;                   /* effective */
    double ceiling_per_s;
    int frozen;
    char paused[32];                     /* "", "key_rejected" or "no_credits" */
    char pause_reason[256];
    char breaker[16];                    /* "closed", "half_open" or "open" */
    int64_t inflight;
    int64_t decreases, rate_limited, breaker_opened;
    int64_t spent_ticks, reserved_ticks; /* today (UTC) */
    int64_t cap_ticks;                   /* 0 = no cap */

    /* the metrics hash (only when read with FQ_METRICS_ALL) */
    fq_metrics_count *calls;             /* a = HTTP status ("0": no response), b = outcome */
    size_t ncalls;
    int64_t tokens[FQ_TOKENS_KINDS];
    int64_t cost_ticks;
    int64_t usage_estimated;      /* answers without usage, estimated (finish.lua) */
    fq_metrics_hist latency;
    fq_metrics_hist ttft;
    fq_metrics_hist wait;
    int64_t cache_hits, cache_misses, cache_saved_ticks;
    int64_t cache_entries, cache_bytes;  /* the response cache now */

    /* SQLite */
    int sqlite_ok;
    char sqlite_error[FQ_METRICS_ERR_MAX];
    fq_metrics_count *tasks;             /* a = role ("none" when it had none), b = status */
    size_t ntasks;

    /* the coordinator's own parts (health.h), filled in by the caller */
    fq_health_view health;
} fq_metrics;

/* What to read: FQ_METRICS_HEALTH skips the counters and the per-status
 * task counts; FQ_METRICS_COUNTERS reads the counters but only checks that
 * SQLite answers (the task counts are a scan of the tasks table, read
 * less often); FQ_METRICS_ALL reads everything. */
enum { FQ_METRICS_HEALTH = 0, FQ_METRICS_ALL = 1, FQ_METRICS_COUNTERS = 2 };

/* The names of the token kinds, in the order of fq_metrics.tokens. */
extern const char *const fq_metrics_token_kinds[FQ_TOKENS_KINDS];

/* Fills m (which the caller frees with fq_metrics_free, whatever was read).
 * Returns 0 when Redis and SQLite both answered, -1 otherwise. */
int fq_metrics_read(fq_metrics *m, const fq_config *cfg, int what);
void fq_metrics_free(fq_metrics *m);
/* Frees n counts and the array. */
void fq_metrics_count_free(fq_metrics_count *arr, size_t n);

/* The snapshot in the Prometheus text exposition format 0.0.4. Returns a
 * malloc'd NUL-terminated text and its length, or NULL when out of memory. */
char *fq_metrics_render(const fq_metrics *m, size_t *len);

#endif
