/* quota.c -- the calls into quota.lua (see quota.h). */
#include "quota.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "fleet_limits.h"
#include "log.h"

#define QUOTA_NKEYS 7
#define BATCH_MAX 64      /* the most asks or reports one call carries */

/* The script's keys (quota.lua), for a call to model ("" when none). */
static int add_keys(fq_argv *a, const char *model)
{
    return fq_argv_adds(a, fq_keys()->quota) | fq_argv_adds(a, fq_keys()->inflight) |
           fq_argv_adds(a, fq_keys()->oks) | fq_argv_adds(a, fq_keys()->limits) |
           fq_argv_add_model_key(a, model, strlen(model)) |
           fq_argv_addf(a, "%s:%s", fq_keys()->oks, model) |
           fq_argv_adds(a, fq_keys()->models);
}

/* The keys and the operation. */
static int start_call(fq_argv *a, const char *model, const char *op)
{
    return add_keys(a, model) | fq_argv_adds(a, op);
}

/* Runs quota.lua with its keys and nkeys - QUOTA_NKEYS task keys. */
static int run_keys(fq_redis *r, fq_argv *a, int nkeys, int bad, fq_redis_cb cb, void *data)
{
    int rc = bad ? -1 : fq_redis_script(r, "quota", nkeys, a, cb, data);
    fq_argv_free(a);
    return rc;
}

static int run(fq_redis *r, fq_argv *a, int bad, fq_redis_cb cb, void *data)
{
    return run_keys(r, a, QUOTA_NKEYS, bad, cb, data);
}

void fq_quota_call_id(char *buf, size_t len, const char *model, const char *worker,
                      unsigned long long n)
{
    snprintf(buf, len, "%s|%s/%llu", model, worker, n);
}

static void copy_str(const redisReply *e, char *dst, size_t len)
{
    if (e != NULL && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS))
        snprintf(dst, len, "%.*s", (int)e->len, e->str);
}

static char last_error[256];

const char *fq_quota_last_error(void)
{
    return last_error;
}

int64_t fq_quota_estimate_tokens(const fq_quota_ask *ask)
{
    return fq_cost_estimate_prompt_tokens(ask->prompt_bytes, ask->messages) + ask->max_tokens;
}

/* How an outcome steers the fleet, in quota.lua's words. */
static const char *steer(fq_outcome o)
{
    if (o == FQ_OUT_OK)
        return "ok";
    if (o == FQ_OUT_RATE_LIMITED)
        return "rate_limited";
    if (o == FQ_OUT_KEY_REJECTED)
        return "key_rejected";
    if (o == FQ_OUT_NO_CREDITS)
        return "no_credits";
    if (fq_outcome_trips_breaker(o))
        return "failure";
    return "other";
}

int fq_quota_release(fq_redis *r, const fq_config *cfg, const char *call_id, const char *model,
                     int64_t held_ticks, int64_t day, int64_t est_tokens)
{
    fq_argv a;
    fq_argv_init(&a);
    int bad = start_call(&a, model, "release");
    bad |= fq_argv_adds(&a, call_id) | fq_argv_addll(&a, held_ticks) | fq_argv_addll(&a, day) |
           fq_argv_addll(&a, est_tokens) | fq_argv_addll(&a, cfg->rate_window_ms) |
           fq_argv_adds(&a, model);
    return run(r, &a, bad, NULL, NULL);
}

int fq_quota_extend(fq_redis *r, const fq_config *cfg, const char *const *call_ids, int n)
{
    fq_argv a;
    fq_argv_init(&a);
    int bad = start_call(&a, "", "extend") | fq_argv_addll(&a, (long long)cfg->lease_s * 1000);
    for (int i = 0; i < n; i++)
        bad |= fq_argv_adds(&a, call_ids[i]);
    return run(r, &a, bad, NULL, NULL);
}

int fq_quota_breaker_rank(const char *state)
{
    return strcmp(state, "open") == 0 ? 2 : strcmp(state, "half_open") == 0 ? 1 : 0;
}

int fq_quota_resume(fq_redis *r, fq_redis_cb cb, void *data)
{
    fq_argv a;
    fq_argv_init(&a);
    return run(r, &a, start_call(&a, "", "resume"), cb, data);
}

int fq_quota_publish_limits(fq_redis *r, const fq_config *cfg, const char *op, const char *who,
                            fq_redis_cb cb, void *data)
{
    fq_argv a;
    fq_argv_init(&a);
    int bad = fq_argv_adds(&a, fq_keys()->limits) | fq_argv_adds(&a, op) | fq_argv_adds(&a, who) |
              fq_config_limits_argv(cfg, &a);
    int rc = bad ? -1 : fq_redis_script(r, "limits", 1, &a, cb, data);
    fq_argv_free(&a);
    return rc;
}

/* ------------------------------------------------------------------------
 * Batches: the asks and reports of one turn of the caller's loop
 * --------------------------------------------------------------------- */

typedef struct quota_item {
    char *model;
    char *key;           /* asks: the task's hash, NULL for reports */
    fq_argv vals;        /* its values, as quota.lua reads them */
    fq_quota_cb cb;      /* asks: who gets the grant */
    void *data;
} quota_item;

typedef struct quota_queue {
    quota_item *items;
    int n, cap;
} quota_queue;

struct fq_quota_batch {
    fq_redis *redis;
    const fq_config *cfg;
    quota_queue asks, reports;
};

typedef struct reserve_call {
    fq_quota_batch *batch;
    int n;
    quota_item items[];   /* (their cb and data; model and vals are freed) */
} reserve_call;

fq_quota_batch *fq_quota_batch_new(fq_redis *r, const fq_config *cfg)
{
    fq_quota_batch *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->redis = r;
        b->cfg = cfg;
    }
    return b;
}

static void item_free(quota_item *it)
{
    free(it->model);
    free(it->key);
    fq_argv_free(&it->vals);
}

static void queue_free(quota_queue *q)
{
    for (int i = 0; i < q->n; i++)
        item_free(&q->items[i]);
    free(q->items);
    memset(q, 0, sizeof(*q));
}

void fq_quota_batch_free(fq_quota_batch *b)
{
    if (b == NULL)
        return;
    queue_free(&b->asks);
    queue_free(&b->reports);
    free(b);
}

/* Takes vals (on success and on failure alike). */
static int enqueue(quota_queue *q, const char *model, const char *key, fq_argv *vals,
                   fq_quota_cb cb, void *data)
{
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 16;
        quota_item *items = realloc(q->items, sizeof(*items) * (size_t)cap);
        if (items == NULL) {
            fq_argv_free(vals);
            return -1;
        }
        q->items = items;
        q->cap = cap;
    }
    quota_item *it = &q->items[q->n];
    it->model = strdup(model);
    it->key = key != NULL ? strdup(key) : NULL;
    if (it->model == NULL || (key != NULL && it->key == NULL) || !fq_argv_ok(vals)) {
        free(it->model);
        free(it->key);
        fq_argv_free(vals);
        return -1;
    }
    it->vals = *vals;
    it->cb = cb;
    it->data = data;
    q->n++;
    return 0;
}

/* Moves the queue's first item and those after it for the same model
 * (up to BATCH_MAX) into out, which gets their values; returns how many,
 * their model in *model (the caller frees it). */
static int take_group(quota_queue *q, fq_argv *out, quota_item *taken, char **model)
{
    *model = q->items[0].model;
    const char *group = *model;
    int n = 0, kept = 0;
    for (int i = 0; i < q->n; i++) {
        quota_item *it = &q->items[i];
        if (n < BATCH_MAX && (i == 0 || strcmp(it->model, group) == 0)) {
            fq_argv_append(out, &it->vals);
            fq_argv_free(&it->vals);
            if (i > 0)
                free(it->model);
            it->model = NULL;
            taken[n++] = *it;
        } else {
            q->items[kept++] = *it;
        }
    }
    q->n = kept;
    return n;
}

static void grant_from(const redisReply *e, fq_quota_grant *g)
{
    memset(g, 0, sizeof(*g));
    g->wait_ms = fq_reply_int(e->element[1], 1000);
    g->ticks = fq_reply_int(e->element[3], 0);
    g->day = fq_reply_int(e->element[4], 0);
    copy_str(e->element[2], g->reason, sizeof(g->reason));
    if (fq_reply_int(e->element[0], 0) == 1) {
        g->verdict = FQ_QUOTA_GRANTED;
        g->probe = e->elements > 5 ? (int)fq_reply_int(e->element[5], 0) : 0;
    } else if (strcmp(g->reason, "budget") == 0) {
        g->verdict = FQ_QUOTA_BUDGET;
    } else if (strcmp(g->reason, "over_cap") == 0) {
        g->verdict = FQ_QUOTA_OVER_CAP;
    } else if (strcmp(g->reason, "too_large") == 0) {
        g->verdict = FQ_QUOTA_TOO_LARGE;
        g->tokens_ceiling = g->ticks;
        g->ticks = 0;
    } else if (strcmp(g->reason, "paused") == 0) {
        g->verdict = FQ_QUOTA_PAUSED;
        if (e->elements > 6) {
            copy_str(e->element[5], g->pause, sizeof(g->pause));
            copy_str(e->element[6], g->pause_reason, sizeof(g->pause_reason));
        }
    } else {
        g->verdict = FQ_QUOTA_WAIT;
    }
}

static void on_reserved(fq_redis *r, redisReply *reply, void *data)
{
    reserve_call *call = data;
    int bad = fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY;
    if (bad)
        snprintf(last_error, sizeof(last_error), "%s",
                 reply == NULL                       ? "connection lost"
                 : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "quota.lua answered with something else");
    int nolimits = 0;
    for (int i = 0; i < call->n; i++) {
        const redisReply *e = !bad && (size_t)i < reply->elements ? reply->element[i] : NULL;
        quota_item *it = &call->items[i];
        if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 5) {
            if (!bad)
                snprintf(last_error, sizeof(last_error), "quota.lua answered with something else");
            it->cb(NULL, it->data);
            continue;
        }
        fq_quota_grant g;
        grant_from(e, &g);
        nolimits |= g.verdict == FQ_QUOTA_WAIT && strcmp(g.reason, "nolimits") == 0;
        it->cb(&g, it->data);
    }
    if (nolimits)
        fq_quota_publish_limits(call->batch->redis, call->batch->cfg, "init", "worker", NULL,
                                NULL);
    free(call);
}

int fq_quota_reserve(fq_quota_batch *b, const fq_quota_ask *ask, fq_quota_cb cb, void *data)
{
    const fq_price *p = ask->price;
    const fq_role_profile *profile = &b->cfg->roles[ask->klass];
    int64_t base = fq_cost_worst_case(p, ask->prompt_bytes, ask->messages, ask->max_tokens, 0);
    fq_argv v;
    fq_argv_init(&v);
    fq_argv_addll(&v, ask->klass);
    fq_argv_adds(&v, ask->call_id);
    fq_argv_addll(&v, fq_quota_estimate_tokens(ask));
    fq_argv_addll(&v, base);
    fq_argv_addll(&v, llround(p->output_per_m * 1e4));
    fq_argv_addll(&v, p->reasoning ? b->cfg->reasoning_reserve : 0);
    fq_argv_addf(&v, "%.6f", profile->reserve);
    fq_argv_addf(&v, "%.6f", profile->share);
    fq_argv_adds(&v, ask->lease);
    char key[FQ_KEY_MAX];
    return enqueue(&b->asks, ask->model, fq_key_task(ask->task_id, key, sizeof(key)), &v, cb,
                   data);
}

int fq_quota_settle(fq_quota_batch *b, const fq_quota_report *rep)
{
    fq_argv v;
    fq_argv_init(&v);
    fq_argv_adds(&v, rep->call_id);
    fq_argv_addll(&v, rep->held_ticks);
    fq_argv_addll(&v, rep->billed_ticks);
    fq_argv_addll(&v, rep->day);
    fq_argv_addll(&v, rep->reasoning_tokens);
    fq_argv_adds(&v, steer(rep->outcome));
    fq_argv_adds(&v, rep->limit_kind == FQ_LIMIT_TOKENS ? "tokens" : "requests");
    fq_argv_addll(&v, rep->est_tokens);
    fq_argv_addll(&v, rep->used_tokens);
    fq_argv_addll(&v, rep->retry_after_ms);
    fq_argv_adds(&v, rep->error ? rep->error : "");
    return enqueue(&b->reports, rep->model, NULL, &v, NULL, NULL);
}

/* The reports first: the slots they free are there for the asks. */
void fq_quota_flush(fq_quota_batch *b)
{
    const fq_config *cfg = b->cfg;
    quota_item taken[BATCH_MAX];
    while (b->reports.n > 0) {
        char *model;
        fq_argv a;
        fq_argv_init(&a);
        int bad = start_call(&a, b->reports.items[0].model, "settle");
        bad |= fq_argv_adds(&a, b->reports.items[0].model) |
               fq_argv_addll(&a, cfg->rate_window_ms) | fq_argv_addll(&a, cfg->freeze_ms) |
               fq_argv_addll(&a, cfg->breaker_threshold) |
               fq_argv_addll(&a, cfg->breaker_cooldown_ms) |
               fq_argv_addll(&a, (long long)cfg->pause_probe_s * 1000);
        int n = take_group(&b->reports, &a, taken, &model);
        free(model);
        if (run(b->redis, &a, bad, NULL, NULL) != 0)
            fq_log(FQ_LOG_WARN, "quota.settle_failed", FQ_LI, "reports", (int64_t)n, FQ_LS,
                   "msg", "the grants' slots free themselves when their leases run out",
                   FQ_LEND);
    }
    while (b->asks.n > 0) {
        char *model;
        fq_argv a, vals;
        fq_argv_init(&a);
        fq_argv_init(&vals);
        int n = take_group(&b->asks, &vals, taken, &model);
        /* the keys: the script's, then each ask's task hash */
        int bad = add_keys(&a, model);
        for (int i = 0; i < n; i++) {
            bad |= fq_argv_adds(&a, taken[i].key);
            free(taken[i].key);
            taken[i].key = NULL;
        }
        bad |= fq_argv_adds(&a, "reserve") | fq_argv_adds(&a, model) |
               fq_argv_addll(&a, (long long)cfg->lease_s * 1000) |
               fq_argv_addll(&a, (long long)cfg->pause_probe_s * 1000) |
               fq_argv_addll(&a, cfg->breaker_cooldown_ms) | fq_argv_addll(&a, cfg->rate_window_ms);
        bad |= fq_argv_append(&a, &vals);
        fq_argv_free(&vals);
        free(model);
        reserve_call *call = malloc(sizeof(*call) + (size_t)n * sizeof(call->items[0]));
        if (call != NULL) {
            call->batch = b;
            call->n = n;
            memcpy(call->items, taken, (size_t)n * sizeof(taken[0]));
        }
        if (call == NULL ||
            run_keys(b->redis, &a, QUOTA_NKEYS + n, bad, on_reserved, call) != 0) {
            if (call == NULL)
                fq_argv_free(&a);
            snprintf(last_error, sizeof(last_error), "connection lost or out of memory");
            for (int i = 0; i < n; i++)
                taken[i].cb(NULL, taken[i].data);
            free(call);
        }
    }
}
