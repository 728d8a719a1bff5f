/* metrics_render.c -- a snapshot of the fleet's figures (metrics.h, read
 * by metrics.c) in the Prometheus text exposition format 0.0.4: every
 * family with # HELP and # TYPE, names prefixed fleetq_, label values
 * escaped, histograms cumulative with _sum and _count.
 */
#include "metrics.h"
#include "quota.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"

/* ========================================================================
 * Prometheus text
 * ===================================================================== */

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void label(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '"')
            fputs("\\\"", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void sample_ll(FILE *out, const char *name, int64_t v)
{
    fprintf(out, "%s %lld\n", name, (long long)v);
}

/* The shortest text that reads back as the same double. */
static void put_double(FILE *out, double v)
{
    char buf[40];
    if (isnan(v)) {
        fputs("NaN", out);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", out);
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void sample_d(FILE *out, const char *name, double v)
{
    fprintf(out, "%s ", name);
    put_double(out, v);
    fputc('\n', out);
}

static void sample_usd(FILE *out, const char *name, int64_t ticks)
{
    char usd[40];
    fprintf(out, "%s %s\n", name, fq_cost_format_usd(ticks, usd, sizeof(usd)));
}

/* name{l1="v1"[,l2="v2"]} value */
static void labelled(FILE *out, const char *name, const char *l1, const char *v1,
                     const char *l2, const char *v2, int64_t v)
{
    fprintf(out, "%s{", name);
    label(out, l1, v1);
    if (l2 != NULL) {
        fputc(',', out);
        label(out, l2, v2);
    }
    fprintf(out, "} %lld\n", (long long)v);
}

/* name{l1="v1"} value, for a value that is not a whole number */
static void labelled_d(FILE *out, const char *name, const char *l1, const char *v1, double v)
{
    fprintf(out, "%s{", name);
    label(out, l1, v1);
    fputs("} ", out);
    put_double(out, v);
    fputc('\n', out);
}

static void per_role(FILE *out, const char *name, const char *type, const char *help,
                     const int64_t *v)
{
    family(out, name, type, help);
    for (int r = 0; r < FQ_ROLE_COUNT; r++)
        labelled(out, name, "role", fq_role_name((fq_role)r), NULL, NULL, v[r]);
}

static void histogram(FILE *out, const char *name, const char *help, const fq_metrics_hist *h)
{
    int64_t cum = 0;
    family(out, name, "histogram", help);
    for (int i = 0; i < h->nbuckets; i++) {
        cum += h->in[i];
        fprintf(out, "%s_bucket{le=\"", name);
        put_double(out, h->le[i]);
        fprintf(out, "\"} %lld\n", (long long)cum);
    }
    int64_t count = h->count > cum ? h->count : cum;
    fprintf(out, "%s_bucket{le=\"+Inf\"} %lld\n", name, (long long)count);
    fprintf(out, "%s_sum %lld.%03lld\n", name, (long long)(h->sum_ms / 1000),
            (long long)(h->sum_ms % 1000));
    fprintf(out, "%s_count %lld\n", name, (long long)count);
}

static void render_store(FILE *out, const fq_metrics *m)
{
    family(out, "fleetq_tasks", "gauge",
           "Tasks in the SQLite store by role and final status (an empty role: rejected "
           "without a valid role, NULL in the tasks table).");
    for (size_t i = 0; i < m->ntasks; i++)
        labelled(out, "fleetq_tasks", "role", m->tasks[i].a, "status", m->tasks[i].b,
                 m->tasks[i].n);
}

static void render_queues(FILE *out, const fq_metrics *m)
{
    per_role(out, "fleetq_queue_depth", "gauge", "Tasks ready to run, waiting for a worker.",
             m->queued);
    per_role(out, "fleetq_queue_delayed", "gauge",
             "Delayed tasks and retries waiting for their time (counted per role among "
             "the 20000 due first).", m->delayed);
    family(out, "fleetq_tasks_running", "gauge", "Tasks held by a worker under a lease.");
    sample_ll(out, "fleetq_tasks_running", m->running);
    per_role(out, "fleetq_tasks_calling", "gauge",
             "Running tasks whose API call is under way (counted per role among the 20000 "
             "leases due first).", m->calling_role);
    per_role(out, "fleetq_tasks_waiting_quota", "gauge",
             "Running tasks a worker holds while the quota makes them wait: rate, tokens, "
             "in-flight cap, budget, freeze or breaker (per role, as above).",
             m->waiting_quota_role);
    family(out, "fleetq_dead_letters", "gauge", "Tasks in the dead-letter set.");
    sample_ll(out, "fleetq_dead_letters", m->dead);
    family(out, "fleetq_results_backlog", "gauge",
           "Records waiting in Redis for the SQLite store.");
    sample_ll(out, "fleetq_results_backlog", m->backlog);
    per_role(out, "fleetq_workers_live", "gauge",
             "Worker processes whose last heartbeat is within FLEETQ_LEASE_SECONDS.",
             m->workers);
}

static void render_cache(FILE *out, const fq_metrics *m)
{
    family(out, "fleetq_cache_hits_total", "counter",
           "Tasks answered from the response cache, without a call.");
    sample_ll(out, "fleetq_cache_hits_total", m->cache_hits);
    family(out, "fleetq_cache_misses_total", "counter",
           "Cacheable requests the response cache did not hold.");
    sample_ll(out, "fleetq_cache_misses_total", m->cache_misses);
    family(out, "fleetq_cache_saved_usd_total", "counter",
           "What the answers taken from the cache had cost when they were made, USD.");
    sample_usd(out, "fleetq_cache_saved_usd_total", m->cache_saved_ticks);
    family(out, "fleetq_cache_entries", "gauge", "Answers held by the response cache.");
    sample_ll(out, "fleetq_cache_entries", m->cache_entries);
    family(out, "fleetq_cache_bytes", "gauge",
           "Bytes of the answers held by the response cache (FLEETQ_CACHE_MAX_MB bounds it).");
    sample_ll(out, "fleetq_cache_bytes", m->cache_bytes);
}

static void render_calls(FILE *out, const fq_metrics *m)
{
    family(out, "fleetq_api_calls_total", "counter",
           "API calls made by the fleet, by HTTP status (0: no response) and outcome.");
    for (size_t i = 0; i < m->ncalls; i++)
        labelled(out, "fleetq_api_calls_total", "code", m->calls[i].a, "outcome",
                 m->calls[i].b, m->calls[i].n);
    family(out, "fleetq_tokens_total", "counter",
           "Tokens billed by the provider, by kind (cached is part of prompt).");
    for (int k = 0; k < FQ_TOKENS_KINDS; k++)
        labelled(out, "fleetq_tokens_total", "kind", fq_metrics_token_kinds[k], NULL, NULL,
                 m->tokens[k]);
    family(out, "fleetq_usage_estimated_total", "counter",
           "Answers that came without usage, whose tokens (and so their cost) are fleetq's "
           "estimate.");
    sample_ll(out, "fleetq_usage_estimated_total", m->usage_estimated);
    family(out, "fleetq_api_cost_usd_total", "counter", "Cost billed for the fleet's calls, USD.");
    sample_usd(out, "fleetq_api_cost_usd_total", m->cost_ticks);
    histogram(out, "fleetq_api_latency_seconds", "Duration of one API call.", &m->latency);
    histogram(out, "fleetq_api_ttft_seconds",
              "Time from the start of a call to its first token (a stream's first content, "
              "else the first byte of the answer).", &m->ttft);
    histogram(out, "fleetq_queue_wait_seconds",
              "Time from submission (or requeue) to a task's first start.", &m->wait);
}

/* What of a state of the quota a series shows. */
enum state_figure {
    STATE_RATE, STATE_CEILING, STATE_TOKEN_RATE, STATE_DECREASES, STATE_RATE_LIMITED,
    STATE_FROZEN, STATE_BREAKER, STATE_BREAKER_OPENED
};

static double state_value(const fq_metrics_model *s, enum state_figure what)
{
    switch (what) {
    case STATE_RATE: return s->rate_per_s;
    case STATE_CEILING: return s->ceiling_per_s;
    case STATE_TOKEN_RATE: return s->token_rate_per_min;
    case STATE_DECREASES: return (double)s->decreases;
    case STATE_RATE_LIMITED: return (double)s->rate_limited;
    case STATE_FROZEN: return s->frozen;
    case STATE_BREAKER: return fq_quota_breaker_rank(s->breaker);
    case STATE_BREAKER_OPENED: return (double)s->breaker_opened;
    }
    return 0;
}

/* One sample per model, labelled model="..." (FLEETQ_LIMIT_SCOPE=model),
 * or one for the key without a label (scope key); sum() over the model
 * label gives the fleet's figure. A token rate is left out while none was
 * learned. Before any model has called: the fleet's figures, unlabelled. */
static void for_each_state(FILE *out, const fq_metrics *m, const char *name,
                           enum state_figure what)
{
    if (m->nmodels == 0) {
        fq_metrics_model fleet = {.rate_per_s = m->rate_per_s,
                                  .ceiling_per_s = m->ceiling_per_s, .token_rate_per_min = -1};
        snprintf(fleet.breaker, sizeof(fleet.breaker), "closed");
        if (what != STATE_TOKEN_RATE)
            sample_d(out, name, state_value(&fleet, what));
        return;
    }
    for (int i = 0; i < m->nmodels; i++) {
        const fq_metrics_model *s = &m->models[i];
        double v = state_value(s, what);
        if (what == STATE_TOKEN_RATE && v < 0)
            continue;
        if (m->by_model)
            labelled_d(out, name, "model", s->name, v);
        else
            sample_d(out, name, v);
    }
}

/* The series of the quota's states, each a sample per model. */
static const struct state_series {
    const char *name, *type, *help;
    enum state_figure what;
} state_series[] = {
    {"fleetq_rate_effective_per_second", "gauge",
     "Effective rate of calls, adapted to the provider's 429s (per model).", STATE_RATE},
    {"fleetq_rate_ceiling_per_second", "gauge",
     "GROK_RATE_LIMIT_RPM (or the model's own rpm) / 60, per model.", STATE_CEILING},
    {"fleetq_token_rate_per_minute", "gauge",
     "Token rate learned from token 429s, per model (absent while none).", STATE_TOKEN_RATE},
    {"fleetq_rate_decreases_total", "counter", "Times a 429 lowered the rate, per model.",
     STATE_DECREASES},
    {"fleetq_rate_limited_total", "counter", "429 rate-limit answers, per model.",
     STATE_RATE_LIMITED},
    {"fleetq_frozen", "gauge", "1 while a 429 holds the model (per model).", STATE_FROZEN},
    {"fleetq_breaker_state", "gauge", "Circuit breaker, per model: 0 closed, 1 half-open, 2 open.",
     STATE_BREAKER},
    {"fleetq_breaker_opened_total", "counter", "Times the circuit breaker opened, per model.",
     STATE_BREAKER_OPENED},
};

static void render_quota(FILE *out, const fq_metrics *m)
{
    family(out, "fleetq_spend_usd_today", "gauge", "Spent from the daily budget today (UTC), USD.");
    sample_usd(out, "fleetq_spend_usd_today", m->spent_ticks);
    family(out, "fleetq_budget_reserved_usd", "gauge",
           "Held from the daily budget for calls in flight, USD.");
    sample_usd(out, "fleetq_budget_reserved_usd", m->reserved_ticks);
    family(out, "fleetq_budget_cap_usd", "gauge", "DAILY_BUDGET_USD (0: no cap).");
    sample_usd(out, "fleetq_budget_cap_usd", m->cap_ticks);
    if (m->cap_ticks > 0) {
        int64_t left = m->cap_ticks - m->spent_ticks - m->reserved_ticks;
        family(out, "fleetq_budget_left_usd", "gauge",
               "Left of the daily budget today, USD (absent when there is no cap).");
        sample_usd(out, "fleetq_budget_left_usd", left > 0 ? left : 0);
    }
    for (size_t i = 0; i < sizeof(state_series) / sizeof(state_series[0]); i++) {
        const struct state_series *ss = &state_series[i];
        family(out, ss->name, ss->type, ss->help);
        for_each_state(out, m, ss->name, ss->what);
    }
    family(out, "fleetq_paused", "gauge",
           "1 while the fleet is paused for this reason (key rejected, no credits).");
    labelled(out, "fleetq_paused", "reason", "key_rejected", NULL, NULL,
             strcmp(m->paused, "key_rejected") == 0);
    labelled(out, "fleetq_paused", "reason", "no_credits", NULL, NULL,
             strcmp(m->paused, "no_credits") == 0);
    family(out, "fleetq_inflight_calls", "gauge", "API calls in flight across the fleet.");
    sample_ll(out, "fleetq_inflight_calls", m->inflight);
}

static void render_parts(FILE *out, const fq_metrics *m)
{
    const fq_health_view *v = &m->health;
    family(out, "fleetq_part_failing", "gauge",
           "1 while a part of the coordinator fails and backs off (see /health for why).");
    for (int i = 0; i < FQ_PART_COUNT; i++)
        labelled(out, "fleetq_part_failing", "part", v->parts[i].part, NULL, NULL,
                 fq_failing_now(&v->parts[i]));
    family(out, "fleetq_part_failures_total", "counter",
           "Failed tries of a part of the coordinator since it started.");
    for (int i = 0; i < FQ_PART_COUNT; i++)
        labelled(out, "fleetq_part_failures_total", "part", v->parts[i].part, NULL, NULL,
                 v->parts[i].total);
}

char *fq_metrics_render(const fq_metrics *m, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL)
        return NULL;
    family(out, "fleetq_up", "gauge",
           "1 when the coordinator could read the component for this scrape.");
    labelled(out, "fleetq_up", "component", "redis", NULL, NULL, m->redis_ok);
    labelled(out, "fleetq_up", "component", "sqlite", NULL, NULL, m->sqlite_ok);
    family(out, "fleetq_build_info", "gauge", "The coordinator's version.");
    labelled(out, "fleetq_build_info", "version", FQ_VERSION, NULL, NULL, 1);
    render_parts(out, m);
    if (m->sqlite_ok)
        render_store(out, m);
    if (m->redis_ok) {
        render_queues(out, m);
        render_calls(out, m);
        render_cache(out, m);
        render_quota(out, m);
    }
    int bad = ferror(out);
    if (fclose(out) != 0 || bad) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}
