/* quota.c -- reserve, settle and release against quota.lua (see quota.h). */
#include "quota.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

typedef struct reserve_req {
    fq_quota_cb cb;
    void *data;
} reserve_req;

static void on_reserved(fq_redis *r, redisReply *reply, void *data)
{
    reserve_req *req = data;
    fq_quota_grant g;
    memset(&g, 0, sizeof(g));
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 5) {
        req->cb(NULL, req->data);
        free(req);
        return;
    }
    const redisReply *reason = reply->element[2];
    g.wait_ms = fq_reply_int(reply->element[1], 1000);
    g.ticks = fq_reply_int(reply->element[3], 0);
    g.day = fq_reply_int(reply->element[4], 0);
    if (fq_reply_int(reply->element[0], 0) == 1)
        g.verdict = FQ_QUOTA_GRANTED;
    else if (reason->type == REDIS_REPLY_STRING && strcmp(reason->str, "budget") == 0)
        g.verdict = FQ_QUOTA_BUDGET;
    else if (reason->type == REDIS_REPLY_STRING && strcmp(reason->str, "over_cap") == 0)
        g.verdict = FQ_QUOTA_OVER_CAP;
    else
        g.verdict = FQ_QUOTA_RATE;
    req->cb(&g, req->data);
    free(req);
}

int fq_quota_reserve(fq_redis *r, const fq_config *cfg, const fq_quota_ask *ask,
                     fq_quota_cb cb, void *data)
{
    const fq_price *p = ask->price;
    int64_t base = fq_cost_worst_case(p, ask->prompt_bytes, ask->messages, ask->max_tokens, 0);
    int64_t out_tick = llround(p->output_per_m * 1e4);
    int64_t reasoning = p->reasoning ? cfg->reasoning_reserve : 0;

    reserve_req *req = calloc(1, sizeof(*req));
    if (req == NULL)
        return -1;
    req->cb = cb;
    req->data = data;
    fq_argv a;
    fq_argv_init(&a);
    int rc = -1;
    if (fq_argv_adds(&a, FQ_KEY_QUOTA) || fq_argv_adds(&a, "reserve") ||
        fq_argv_adds(&a, cfg->rate_limiting ? "1" : "0") ||
        fq_argv_addll(&a, cfg->rate_limit_rpm) || fq_argv_addll(&a, cfg->rate_burst) ||
        fq_argv_addll(&a, cfg->daily_budget_ticks) || fq_argv_addll(&a, base) ||
        fq_argv_addll(&a, out_tick) || fq_argv_adds(&a, p->model) ||
        fq_argv_addll(&a, reasoning))
        goto out;
    rc = fq_redis_script(r, "quota", 1, &a, on_reserved, req);
out:
    fq_argv_free(&a);
    if (rc != 0)
        free(req);
    return rc;
}

int fq_quota_settle(fq_redis *r, int64_t held_ticks, int64_t billed_ticks, int64_t day,
                    const char *model, int64_t reasoning_tokens)
{
    fq_argv a;
    fq_argv_init(&a);
    int rc = -1;
    if (!fq_argv_adds(&a, FQ_KEY_QUOTA) && !fq_argv_adds(&a, "settle") &&
        !fq_argv_addll(&a, held_ticks) && !fq_argv_addll(&a, billed_ticks) &&
        !fq_argv_addll(&a, day) && !fq_argv_adds(&a, model) &&
        !fq_argv_addll(&a, reasoning_tokens))
        rc = fq_redis_script(r, "quota", 1, &a, NULL, NULL);
    fq_argv_free(&a);
    return rc;
}

int fq_quota_release(fq_redis *r, int64_t held_ticks, int64_t day)
{
    fq_argv a;
    fq_argv_init(&a);
    int rc = -1;
    if (!fq_argv_adds(&a, FQ_KEY_QUOTA) && !fq_argv_adds(&a, "release") &&
        !fq_argv_addll(&a, held_ticks) && !fq_argv_addll(&a, day))
        rc = fq_redis_script(r, "quota", 1, &a, NULL, NULL);
    fq_argv_free(&a);
    return rc;
}
