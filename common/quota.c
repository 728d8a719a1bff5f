/* quota.c -- the calls into quota.lua (see quota.h). */
#include "quota.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "limits.h"

#define QUOTA_NKEYS 7

typedef struct reserve_req {
    fq_quota_cb cb;
    void *data;
    fq_redis *redis;
    const fq_config *cfg;
} reserve_req;

/* The script's keys (quota.lua), for a call to model ("" when none), and
 * the operation. */
static int start_call(fq_argv *a, const char *model, const char *op)
{
    return fq_argv_adds(a, fq_keys()->quota) | fq_argv_adds(a, fq_keys()->inflight) |
           fq_argv_adds(a, fq_keys()->oks) | fq_argv_adds(a, fq_keys()->limits) |
           fq_argv_add_model_key(a, model, strlen(model)) |
           fq_argv_addf(a, "%s:%s", fq_keys()->oks, model) |
           fq_argv_adds(a, fq_keys()->models) | fq_argv_adds(a, op);
}

static int run(fq_redis *r, fq_argv *a, int bad, fq_redis_cb cb, void *data)
{
    int rc = bad ? -1 : fq_redis_script(r, "quota", QUOTA_NKEYS, a, cb, data);
    fq_argv_free(a);
    return rc;
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

static void on_reserved(fq_redis *r, redisReply *reply, void *data)
{
    reserve_req *req = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 5) {
        snprintf(last_error, sizeof(last_error), "%s",
                 reply == NULL                       ? "connection lost"
                 : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "quota.lua answered with something else");
        req->cb(NULL, req->data);
        free(req);
        return;
    }
    fq_quota_grant g;
    memset(&g, 0, sizeof(g));
    g.wait_ms = fq_reply_int(reply->element[1], 1000);
    g.ticks = fq_reply_int(reply->element[3], 0);
    g.day = fq_reply_int(reply->element[4], 0);
    copy_str(reply->element[2], g.reason, sizeof(g.reason));
    if (fq_reply_int(reply->element[0], 0) == 1) {
        g.verdict = FQ_QUOTA_GRANTED;
        g.probe = reply->elements > 5 ? (int)fq_reply_int(reply->element[5], 0) : 0;
    } else if (strcmp(g.reason, "budget") == 0) {
        g.verdict = FQ_QUOTA_BUDGET;
    } else if (strcmp(g.reason, "over_cap") == 0) {
        g.verdict = FQ_QUOTA_OVER_CAP;
    } else if (strcmp(g.reason, "paused") == 0) {
        g.verdict = FQ_QUOTA_PAUSED;
        if (reply->elements > 6) {
            copy_str(reply->element[5], g.pause, sizeof(g.pause));
            copy_str(reply->element[6], g.pause_reason, sizeof(g.pause_reason));
        }
    } else {
        g.verdict = FQ_QUOTA_WAIT;
        if (strcmp(g.reason, "nolimits") == 0)
            fq_quota_publish_limits(req->redis, req->cfg, "init", "worker", NULL, NULL);
    }
    req->cb(&g, req->data);
    free(req);
}

int64_t fq_quota_estimate_tokens(const fq_quota_ask *ask)
{
    return fq_cost_estimate_prompt_tokens(ask->prompt_bytes, ask->messages) + ask->max_tokens;
}

int fq_quota_reserve(fq_redis *r, const fq_config *cfg, const fq_quota_ask *ask,
                     fq_quota_cb cb, void *data)
{
    const fq_price *p = ask->price;
    const fq_role_profile *profile = &cfg->roles[ask->klass];
    int64_t base = fq_cost_worst_case(p, ask->prompt_bytes, ask->messages, ask->max_tokens, 0);
    char reserve[32], share[32];
    snprintf(reserve, sizeof(reserve), "%.6f", profile->reserve);
    snprintf(share, sizeof(share), "%.6f", profile->share);

    reserve_req *req = calloc(1, sizeof(*req));
    if (req == NULL)
        return -1;
    req->cb = cb;
    req->data = data;
    req->redis = r;
    req->cfg = cfg;
    fq_argv a;
    fq_argv_init(&a);
    int bad = start_call(&a, p->model, "reserve");
    bad |= fq_argv_addll(&a, ask->klass) | fq_argv_adds(&a, ask->call_id) |
           fq_argv_adds(&a, p->model) | fq_argv_addll(&a, fq_quota_estimate_tokens(ask)) |
           fq_argv_addll(&a, (long long)cfg->lease_s * 1000) | fq_argv_addll(&a, base) |
           fq_argv_addll(&a, llround(p->output_per_m * 1e4)) |
           fq_argv_addll(&a, p->reasoning ? cfg->reasoning_reserve : 0) |
           fq_argv_adds(&a, reserve) | fq_argv_adds(&a, share) |
           fq_argv_addll(&a, (long long)cfg->pause_probe_s * 1000) |
           fq_argv_addll(&a, cfg->breaker_cooldown_ms) | fq_argv_addll(&a, cfg->rate_window_ms);
    int rc = run(r, &a, bad, on_reserved, req);
    if (rc != 0)
        free(req);
    return rc;
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

int fq_quota_settle(fq_redis *r, const fq_config *cfg, const fq_quota_report *rep)
{
    fq_argv a;
    fq_argv_init(&a);
    int bad = start_call(&a, rep->model, "settle");
    bad |= fq_argv_adds(&a, rep->call_id) | fq_argv_addll(&a, rep->held_ticks) |
           fq_argv_addll(&a, rep->billed_ticks) | fq_argv_addll(&a, rep->day) |
           fq_argv_adds(&a, rep->model) | fq_argv_addll(&a, rep->reasoning_tokens) |
           fq_argv_adds(&a, steer(rep->outcome)) |
           fq_argv_adds(&a, rep->limit_kind == FQ_LIMIT_TOKENS ? "tokens" : "requests") |
           fq_argv_addll(&a, rep->est_tokens) | fq_argv_addll(&a, rep->used_tokens) |
           fq_argv_addll(&a, rep->retry_after_ms) | fq_argv_addll(&a, cfg->rate_window_ms) |
           fq_argv_addll(&a, cfg->freeze_ms) | fq_argv_addll(&a, cfg->breaker_threshold) |
           fq_argv_addll(&a, cfg->breaker_cooldown_ms) |
           fq_argv_adds(&a, rep->error ? rep->error : "") |
           fq_argv_addll(&a, (long long)cfg->pause_probe_s * 1000);
    return run(r, &a, bad, NULL, NULL);
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
