/* worker.c -- the claim / reserve / call / report loop of one worker.
 *
 * DESIGN
 * A worker owns `concurrency` slots. A free slot is filled by claim.lua
 * (a task under a lease); while nothing is ready the worker waits with
 * BZPOPMIN on its role's marker, on a connection of its own, so an idle
 * fleet sends no polling traffic. A filled slot walks through:
 *
 *   RESERVING -- quota.lua: a rate slot and the worst-case cost; a denied
 *                slot sleeps on its timer for exactly the wait it was told
 *                (WAITING), then asks again; the same call marks the task's
 *                phase in its hash (quota while denied, calling once
 *                granted), which `fleetqctl status` and /metrics count;
 *   CALLING   -- one HTTP call through libcurl multi on the loop;
 *   FINISHING -- finish.lua: the attempt record plus done / failed / retry
 *                (back-off with jitter through the delayed set) / release,
 *                guarded by the lease token. If Redis does not answer, the
 *                same script is sent again a second later (it is safe to
 *                repeat: a second run finds the lease gone and says 'lost').
 *
 * One heartbeat timer extends every held lease and keeps the worker's
 * entry in the registry fleetq:{q}:workers (heartbeat.lua; also sent at
 * every connect, so a new worker shows at once). SIGTERM stops claiming,
 * takes the worker out of the registry, hands back slots that have not
 * called yet, lets calls finish for FLEETQ_GRACE_SECONDS, then aborts the
 * rest, which go back to the queue as retries; the loop ends when every
 * slot is free and the registry has answered.
 */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cache_answer.h"
#include "call_cache.h"
#include "cost.h"
#include "failing.h"
#include "keys.h"
#include "log.h"
#include "model_chain.h"
#include "plan.h"
#include "quota.h"
#include "record.h"
#include "redis.h"
#include "stream_out.h"
#include "timeutil.h"

#define MARKER_BLOCK_S 5
#define CALL_RETRY_MS 1000       /* the API client could not start a call */
#define REDIS_RETRY_BASE_MS 100  /* a failing Redis: the back-off, doubling */
#define REDIS_RETRY_MAX_MS 10000
#define HARD_STOP_EXTRA_MS 5000
#define PAUSE_HOLD_MS 5000
#define CLAIM_SPARE 4        /* ids read beyond the free slots, in case some are taken */
#define CLAIM_MAX 64         /* the most tasks one claim takes */
#define REPORTS_MAX 64       /* the most reports one finish.lua call carries */
#define CACHE_POLL_MS 250    /* asking again for an answer another task is calling for */
#define CACHE_PENDING_EXTRA_S 30   /* how long beyond its timeout a call holds its request */

typedef enum slot_state {
    SLOT_FREE = 0,
    SLOT_GATED,        /* waiting for this process' first call to succeed */
    SLOT_LOOKUP,       /* asking the response cache */
    SLOT_CACHE_WAIT,   /* an identical task is calling: its answer is awaited */
    SLOT_RESERVING,
    SLOT_WAITING,
    SLOT_CALLING,
    SLOT_FINISHING
} slot_state;

typedef struct slot {
    struct fq_worker *w;
    slot_state state;
    uv_timer_t timer;
    char *id;
    char *token;
    fq_task task;
    int attempt;
    int max_attempts;
    int fallback_attempts; /* what fallbacks after a 404 added to max_attempts */
    const fq_price *price;
    char *body;
    int holding;
    int64_t held_ticks;
    int64_t held_day;
    int64_t est_tokens;
    char call_id[200];
    int64_t call_started_ms;
    fq_argv finish;        /* this slot's report, as finish.lua reads it */
    int report_queued;     /* in the worker's reports, to go with the next flush */
    fq_model_chain models; /* its model and fallbacks; the one in use */
    char dropped[160];     /* the task's parameters the model does not accept */
    int cacheable;         /* its answer may come from and go to the cache */
    char cache_hash[41];   /* the request's name in the cache, once it missed */
    int cache_owner;       /* this slot holds the request's mark in the cache */
    int streaming;         /* its answer is streamed, and appended to Redis */
    fq_stream_out out;
} slot;

/* The kinds of Redis work a worker does, each with its own back-off. */
enum work { WORK_CLAIM, WORK_GRANT, WORK_REPORT, WORK_COUNT };

struct fq_worker {
    uv_loop_t *loop;
    fq_config *cfg;
    fq_role role;
    int concurrency;
    char id[160];
    const char *ready_key;     /* of fq_keys(): this role's queue and marker */
    const char *marker_key;

    fq_redis *redis;
    fq_redis *blocking;
    fq_quota_batch *quota;     /* this turn's asks and reports to quota.lua */
    fq_api *api;
    slot *slots;

    uv_timer_t heartbeat;
    uv_timer_t claim_retry;
    uv_timer_t report_retry;   /* a finish.lua call failed: the reports wait it out */
    uv_prepare_t flush;        /* before the loop sleeps: send what this turn queued */
    slot **reports;            /* reports queued for the next flush */
    int nreports;
    uv_timer_t grace;
    uv_signal_t sigterm, sigint, sighup;

    int claiming;
    int marker_waiting;
    int verified;          /* a call with the current key has succeeded */
    uint64_t calls;        /* for call ids */
    int64_t hold_until;    /* no claims before this (monotonic ms): fleet paused */
    slot *probing_slot;    /* the one call allowed until then, when running */
    int stopping;
    int leaving;           /* the heartbeat that leaves the registry is in flight */
    int closed;
    int limits_checked;    /* this environment compared with fleetq:limits (once) */
    fq_missing_models missing;   /* models that answered 404, as the fleet knows them */
    fq_failing failing[WORK_COUNT];   /* each kind of Redis work, backing off on its own */
};

static void try_claim(fq_worker *w);
static void reserve(slot *s);
static char *build_body(const slot *s, int stream, char *dropped, size_t dropped_len);

/* A claim, grant or report failed (Redis refused it or the connection
 * dropped): returns the wait before trying again, which grows for every
 * slot while that kind of work keeps failing, logged once per step. */
static int64_t redis_failed_with(fq_worker *w, enum work kind, const char *error)
{
    return fq_failing_fail(&w->failing[kind], error);
}

static int64_t redis_failed(fq_worker *w, enum work kind, const redisReply *reply)
{
    return redis_failed_with(w, kind, reply != NULL && reply->type == REDIS_REPLY_ERROR
                                          ? reply->str
                                          : "connection lost");
}

static void redis_works(fq_worker *w, enum work kind)
{
    fq_failing_ok(&w->failing[kind]);
}
static void kick_gated(fq_worker *w);

/* The probing slot's call is over (or did not happen): the next gated
 * slot may try. */
static void end_probe(fq_worker *w, const slot *s)
{
    if (w->probing_slot != s)
        return;
    w->probing_slot = NULL;
    kick_gated(w);
}
static void maybe_finish_shutdown(fq_worker *w);

/* ------------------------------------------------------------------------
 * Slots
 * --------------------------------------------------------------------- */

static slot *free_slot(fq_worker *w)
{
    for (int i = 0; i < w->concurrency; i++)
        if (w->slots[i].state == SLOT_FREE)
            return &w->slots[i];
    return NULL;
}

static int busy_slots(const fq_worker *w)
{
    int n = 0;
    for (int i = 0; i < w->concurrency; i++)
        n += w->slots[i].state != SLOT_FREE;
    return n;
}

static void slot_clear(slot *s)
{
    uv_timer_stop(&s->timer);
    if (s->w->probing_slot == s) {
        s->state = SLOT_FREE;
        end_probe(s->w, s);
    }
    if (s->cache_owner && s->w->redis != NULL)
        fq_call_cache_release(s->w->redis, s->cache_hash, s->id);
    s->cache_owner = 0;
    free(s->id);
    free(s->token);
    free(s->body);
    fq_task_free(&s->task);
    fq_argv_free(&s->finish);
    fq_model_chain_free(&s->models);
    fq_stream_out_free(&s->out);
    s->id = s->token = s->body = NULL;
    s->holding = 0;
    s->state = SLOT_FREE;
}

static const char *slot_model(const slot *s)
{
    if (s->models.n > 0)
        return fq_model_chain_current(&s->models);
    return s->task.model ? s->task.model : s->w->cfg->roles[s->w->role].model;
}

static int slot_timeout_s(const slot *s)
{
    return s->task.timeout_s > 0 ? s->task.timeout_s : s->w->cfg->request_timeout_s;
}

/* The model in use and, once the task has moved on from its first, the
 * fallbacks still left: what a later attempt starts from. */
static void add_model_pairs(const slot *s, fq_argv *hash)
{
    fq_argv_pair(hash, "model", slot_model(s));
    if (s->models.at > 0) {
        char rest[(FQ_MODEL_NAME_MAX + 1) * FQ_FALLBACK_MAX + 1];
        fq_model_chain_rest(&s->models, rest, sizeof(rest));
        fq_argv_pair(hash, "fallback", rest);
    }
}

/* Gives back what the slot still holds of the quota: nothing was billed. */
static void slot_release_quota(slot *s)
{
    if (s->holding) {
        fq_quota_release(s->w->redis, s->w->cfg, s->call_id, slot_model(s), s->held_ticks,
                         s->held_day, s->est_tokens);
        s->holding = 0;
    }
}

/* ------------------------------------------------------------------------
 * Reporting (finish.lua)
 * --------------------------------------------------------------------- */

/* Reports are queued as they are made and sent together, one finish.lua
 * call for all the reports of one turn of the loop (up to REPORTS_MAX),
 * just before the loop waits again (the flush handle). A failed call puts
 * its reports back in the queue; they go again after the reports'
 * back-off. */

typedef struct report_batch {
    fq_worker *w;
    int n;
    slot *slots[];
} report_batch;

static void queue_report(slot *s)
{
    fq_worker *w = s->w;
    s->state = SLOT_FINISHING;
    if (!s->report_queued) {
        s->report_queued = 1;
        w->reports[w->nreports++] = s;
    }
}

static void on_report_retry(uv_timer_t *t)
{
    (void)t;  /* the flush handle sends them */
}

/* The batch's reports go back in the queue, after the back-off. */
static void reports_failed(fq_worker *w, report_batch *b, const redisReply *reply)
{
    int64_t wait = redis_failed(w, WORK_REPORT, reply);
    for (int i = 0; i < b->n; i++)
        queue_report(b->slots[i]);
    uv_timer_start(&w->report_retry, on_report_retry, (uint64_t)wait, 0);
}

static void on_finished(fq_redis *r, redisReply *reply, void *data)
{
    report_batch *b = data;
    fq_worker *w = b->w;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        reports_failed(w, b, reply);
        free(b);
        return;
    }
    redis_works(w, WORK_REPORT);
    for (int i = 0; i < b->n; i++) {
        slot *s = b->slots[i];
        const redisReply *e = (size_t)i < reply->elements ? reply->element[i] : NULL;
        if (e != NULL && e->type == REDIS_REPLY_STRING && strcmp(e->str, "lost") == 0)
            fq_log(FQ_LOG_WARN, "task.lease_lost", FQ_LS, "task", s->id, FQ_LS, "role",
                   fq_role_name(w->role), FQ_LS, "msg",
                   "the lease expired and the task was handed on; result not written",
                   FQ_LEND);
        slot_clear(s);
    }
    free(b);
    try_claim(w);
    maybe_finish_shutdown(w);
}

/* One finish.lua call with the queued reports (the first REPORTS_MAX). */
static void send_reports(fq_worker *w)
{
    if (w->nreports == 0 || uv_is_active((uv_handle_t *)&w->report_retry))
        return;
    int n = w->nreports < REPORTS_MAX ? w->nreports : REPORTS_MAX;
    report_batch *b = malloc(sizeof(*b) + (size_t)n * sizeof(b->slots[0]));
    if (b == NULL)
        return;  /* out of memory: tried again at the next turn */
    b->w = w;
    b->n = n;
    const fq_keyset *k = fq_keys();
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, k->leases);
    fq_argv_adds(&a, k->delayed);
    fq_argv_adds(&a, w->ready_key);
    fq_argv_adds(&a, w->marker_key);
    fq_argv_adds(&a, k->events);
    fq_argv_adds(&a, k->results);
    fq_argv_adds(&a, k->dead);
    fq_argv_adds(&a, k->metrics);
    for (int i = 0; i < n; i++) {
        b->slots[i] = w->reports[i];
        b->slots[i]->report_queued = 0;
        fq_argv_add_task_key(&a, b->slots[i]->id, strlen(b->slots[i]->id));
    }
    fq_argv_adds(&a, fq_role_name(w->role));
    for (int i = 0; i < n; i++)
        fq_argv_append(&a, &b->slots[i]->finish);
    w->nreports -= n;
    memmove(w->reports, w->reports + n, (size_t)w->nreports * sizeof(w->reports[0]));
    if (fq_redis_script(w->redis, "finish", 8 + n, &a, on_finished, b) != 0) {
        reports_failed(w, b, NULL);
        free(b);
    }
    fq_argv_free(&a);
}

static void on_flush(uv_prepare_t *h)
{
    fq_worker *w = h->data;
    if (w->quota != NULL)
        fq_quota_flush(w->quota);
    for (int i = 0; i < w->concurrency && w->redis != NULL; i++)
        fq_stream_out_flush(&w->slots[i].out, w->redis, w->cfg);
    while (w->nreports > 0 && !uv_is_active((uv_handle_t *)&w->report_retry) &&
           w->redis != NULL) {
        int before = w->nreports;
        send_reports(w);
        if (w->nreports >= before)
            break;
    }
}

/* Builds finish.lua's arguments: the action, the attempt record (may be
 * NULL) and the name/value pairs for the task hash in `hash`. */
static void finish(slot *s, const char *action, int64_t due_ms,
                   const fq_attempt_record *attempt, const fq_argv *hash)
{
    fq_argv *a = &s->finish;
    fq_argv rec;
    fq_argv_init(&rec);
    fq_argv_free(a);
    int bad = 0;
    if (attempt != NULL)
        bad |= fq_record_attempt_to_fields(attempt, &rec);
    bad |= fq_argv_adds(a, s->id) | fq_argv_adds(a, s->token) | fq_argv_adds(a, action) |
           fq_argv_addll(a, due_ms) | fq_argv_addll(a, rec.argc) | fq_argv_append(a, &rec) |
           fq_argv_addll(a, hash != NULL ? hash->argc : 0);
    if (hash != NULL)
        bad |= fq_argv_append(a, hash);
    fq_argv_free(&rec);
    if (bad) {
        /* Out of memory: the lease will expire and the reaper retries it. */
        fq_log(FQ_LOG_ERROR, "task.report_oom", FQ_LS, "task", s->id, FQ_LEND);
        slot_clear(s);
        return;
    }
    queue_report(s);
}

/* Ends the task without an API call (budget, validation of the stored
 * task, ...), or hands it back uncounted when action is "release". */
static void finish_without_call(slot *s, const char *action, int64_t due_ms,
                                const char *error)
{
    fq_argv hash;
    fq_argv_init(&hash);
    if (error != NULL)
        fq_argv_pair(&hash, "error", error);
    add_model_pairs(s, &hash);
    finish(s, action, due_ms, NULL, &hash);
    fq_argv_free(&hash);
}

/* ------------------------------------------------------------------------
 * The API call
 * --------------------------------------------------------------------- */

static void log_call(const slot *s, const char *model, const fq_api_result *res,
                     const char *next, int64_t billed)
{
    char cost[32];
    fq_log(res->outcome == FQ_OUT_OK ? FQ_LOG_INFO : FQ_LOG_WARN, "call.done",
           FQ_LS, "task", s->id, FQ_LS, "role", fq_role_name(s->w->role),
           FQ_LS, "model", model, FQ_LI, "attempt", (int64_t)s->attempt,
           FQ_LI, "http_status", (int64_t)res->http_status,
           FQ_LS, "outcome", fq_outcome_name(res->outcome), FQ_LS, "next", next,
           FQ_LI, "latency_ms", res->latency_ms,
           FQ_LI, "prompt_tokens", res->usage.prompt_tokens,
           FQ_LI, "completion_tokens", res->usage.completion_tokens,
           FQ_LI, "reasoning_tokens", res->usage.reasoning_tokens,
           FQ_LS, "cost_usd", fq_cost_format_usd(billed, cost, sizeof(cost)),
           FQ_LI, "prompt_bytes", (int64_t)(s->body ? strlen(s->body) : 0),
           FQ_LI, "output_bytes", (int64_t)(res->content ? strlen(res->content) : 0),
           FQ_LS, "request_id", res->request_id, FQ_LS, "error", res->error, FQ_LEND);
}

static void settle_quota(slot *s, const fq_api_result *res, int64_t billed)
{
    if (!s->holding)
        return;
    fq_quota_report rep = {
        .call_id = s->call_id,
        .held_ticks = s->held_ticks,
        .billed_ticks = billed,
        .day = s->held_day,
        .model = slot_model(s),
        .reasoning_tokens = res->outcome == FQ_OUT_OK ? res->usage.reasoning_tokens : -1,
        .outcome = res->outcome,
        .limit_kind = fq_outcome_limit_kind(res->error, res->rl.remaining_requests,
                                            res->rl.remaining_tokens),
        .est_tokens = s->est_tokens,
        .used_tokens = res->usage.total_tokens,
        .retry_after_ms = res->rl.retry_after_ms,
        .error = res->error,
    };
    /* The provider may have billed a call whose answer we never read:
     * count it at its worst case so the cap still holds. */
    if (res->outcome == FQ_OUT_MALFORMED || res->outcome == FQ_OUT_TIMEOUT) {
        rep.billed_ticks = s->held_ticks;
        rep.used_tokens = s->est_tokens;
    }
    fq_quota_settle(s->w->quota, &rep);
    s->holding = 0;
}

/* Until one call with the current key has succeeded, a worker runs one
 * call at a time: a bad key or an empty balance costs the provider one
 * call per process before the fleet pauses, not one per slot. */
static void kick_gated(fq_worker *w)
{
    for (int i = 0; i < w->concurrency; i++)
        if (w->slots[i].state == SLOT_GATED)
            reserve(&w->slots[i]);
}

static void note_verification(fq_worker *w, const slot *s, fq_outcome outcome)
{
    if (outcome == FQ_OUT_OK)
        w->verified = 1;
    else if (fq_outcome_pauses_fleet(outcome))
        w->verified = 0;
    end_probe(w, s);
}

/* The fleet is paused: hold off claiming until the pause may be over. */
static void hold_claims(fq_worker *w, int64_t ms)
{
    w->hold_until = fq_mono_ms() + ms;
    w->verified = 0;
}

/* The usage and cost of a call that was answered, for the task hash. */
static void add_usage(fq_argv *hash, const fq_api_result *res, int64_t billed)
{
    fq_argv_pairll(hash, "prompt_tokens", res->usage.prompt_tokens);
    fq_argv_pairll(hash, "completion_tokens", res->usage.completion_tokens);
    fq_argv_pairll(hash, "reasoning_tokens", res->usage.reasoning_tokens);
    fq_argv_pairll(hash, "cached_tokens", res->usage.cached_tokens);
    fq_argv_pairll(hash, "cost_ticks", billed);
    fq_argv_pairll(hash, "usage_estimated", res->usage_estimated);
}

/* An answer that came without usage: its tokens estimated from what was
 * sent and what came back, so that the budget, the token quota and the
 * records count it as they would the provider's figures. */
static void estimate_usage(const slot *s, fq_api_result *res)
{
    int messages = 0;
    size_t sent = fq_api_request_text_bytes(s->body, &messages);
    fq_cost_estimate_usage(sent, messages, res->content ? strlen(res->content) : 0,
                           &res->usage);
}

/* The end entry of a streamed attempt: what became of it. */
static void end_stream(slot *s, const char *action, const fq_api_result *res)
{
    if (!fq_stream_out_active(&s->out))
        return;
    const char *end = strcmp(action, "done") == 0     ? "done"
                      : strcmp(action, "failed") == 0 ? "failed"
                                                      : "retry";
    fq_argv f;
    fq_argv_init(&f);
    fq_argv_pair(&f, "model", slot_model(s));
    if (res->finish_reason)
        fq_argv_pair(&f, "finish_reason", res->finish_reason);
    if (res->outcome == FQ_OUT_OK) {
        fq_argv_pairll(&f, "prompt_tokens", res->usage.prompt_tokens);
        fq_argv_pairll(&f, "completion_tokens", res->usage.completion_tokens);
        fq_argv_pairll(&f, "reasoning_tokens", res->usage.reasoning_tokens);
    }
    if (res->error)
        fq_argv_pair(&f, "error", res->error);
    fq_stream_out_end(&s->out, s->w->redis, s->w->cfg,
                      res->outcome == FQ_OUT_OK ? res->content : NULL, end, &f);
    fq_argv_free(&f);
}

/* A call this slot made for the cache has ended: a good answer is kept
 * for the next identical request, else the request's mark is lifted so
 * that a waiting twin calls itself. */
static void settle_cache(slot *s, const char *action, const fq_api_result *res, int64_t billed)
{
    if (!s->cache_owner)
        return;
    s->cache_owner = 0;
    if (strcmp(action, "done") != 0 || res->content == NULL) {
        fq_call_cache_release(s->w->redis, s->cache_hash, s->id);
        return;
    }
    fq_cache_answer a = {
        .output = res->content,
        .finish_reason = res->finish_reason,
        .model = (char *)slot_model(s),
        .task = s->id,
        .usage = res->usage,
    };
    a.usage.cost_ticks = billed;
    char *json = fq_cache_answer_encode(&a);
    if (json != NULL)
        fq_call_cache_store(s->w->redis, s->w->cfg, s->cache_hash, s->id, json);
    else
        fq_call_cache_release(s->w->redis, s->cache_hash, s->id);
    free(json);
}

/* What an answer comes to: from a call, or (cached_from set: the task
 * whose answer it is) from the response cache, which costs nothing. */
static void conclude(slot *s, fq_api_result *res, const char *cached_from)
{
    fq_worker *w = s->w;
    int cached = cached_from != NULL;
    if (!cached && res->outcome == FQ_OUT_OK && res->usage_estimated)
        estimate_usage(s, res);
    int64_t billed = !cached && res->outcome == FQ_OUT_OK ? fq_cost_billed(s->price, &res->usage)
                                                          : 0;
    if (!cached) {
        settle_quota(s, res, billed);
        note_verification(w, s, res->outcome);
    }

    fq_attempt_record att = {
        .task_id = s->id,
        .n = s->attempt,
        .http_status = res->http_status,
        .outcome = (char *)(cached ? "cached" : fq_outcome_name(res->outcome)),
        .error = res->error,
        .latency_ms = res->latency_ms,
        .started_at = s->call_started_ms,
        .worker = w->id,
        .model = (char *)slot_model(s),
        .ttft_ms = res->ttft_ms,
        .prompt_tokens = cached ? 0 : res->usage.prompt_tokens,
        .completion_tokens = cached ? 0 : res->usage.completion_tokens,
        .cost_ticks = billed,
        .usage_estimated = !cached && res->usage_estimated,
    };
    fq_argv hash;
    fq_argv_init(&hash);
    fq_argv_pairll(&hash, "latency_ms", res->latency_ms);
    if (cached)
        fq_argv_pair(&hash, "cached_from", cached_from);
    if (s->dropped[0] != '\0') {
        char note[256];
        snprintf(note, sizeof(note), "not sent, as %s does not accept them: %s", slot_model(s),
                 s->dropped);
        fq_argv_pair(&hash, "notes", note);
    }

    char *plan = NULL;
    char plan_error[512] = "";
    if (res->outcome == FQ_OUT_OK && s->task.plan > 0) {
        fq_plan_limits lim = {.max_subtasks = w->cfg->plan_max, .max_depth = w->cfg->plan_depth};
        const char *answer = res->content ? res->content : "";
        fq_plan_check(answer, strlen(answer), s->id, s->task.plan, &lim, &plan, plan_error,
                      sizeof(plan_error));
    }

    const char *action;
    int64_t due = 0;
    char error[512];
    const char *called = slot_model(s);
    if (res->outcome == FQ_OUT_MODEL_NOT_FOUND && !cached)
        fq_missing_models_add(&w->missing, w->redis, called);
    if (res->outcome == FQ_OUT_OK && plan_error[0] != '\0') {
        /* The call worked, the plan did not: the task fails with why, and
         * what the model answered is kept as its output. */
        fq_argv_pair(&hash, "output", res->content ? res->content : "");
        fq_argv_pair(&hash, "error", plan_error);
        add_usage(&hash, res, billed);
        action = "failed";
    } else if (res->outcome == FQ_OUT_OK) {
        fq_argv_pair(&hash, "output", plan ? plan : res->content ? res->content : "");
        add_usage(&hash, res, billed);
        if (res->finish_reason)
            fq_argv_pair(&hash, "finish_reason", res->finish_reason);
        if (res->request_id[0])
            fq_argv_pair(&hash, "request_id", res->request_id);
        action = "done";
    } else if (fq_outcome_pauses_fleet(res->outcome)) {
        /* Not the task's fault: it waits, counted, for the fleet to resume. */
        snprintf(error, sizeof(error), "paused: %s", res->error ? res->error
                                                                : fq_outcome_name(res->outcome));
        fq_argv_pair(&hash, "error", error);
        fq_log(FQ_LOG_ERROR, "fleet.paused", FQ_LS, "reason", fq_outcome_name(res->outcome),
               FQ_LS, "error", res->error, FQ_LS, "msg",
               "the whole fleet stops calling; fix the key or the credits, then SIGHUP the "
               "workers or run fleetqctl resume", FQ_LEND);
        hold_claims(w, PAUSE_HOLD_MS);
        action = "requeue";
        due = PAUSE_HOLD_MS;
    } else if (res->outcome == FQ_OUT_MODEL_NOT_FOUND && fq_model_chain_has_next(&s->models)) {
        /* The model does not exist: the next attempt is the fallback's, at
         * once, and does not count against the task's retries. */
        fq_argv_pair(&hash, "error", res->error);
        fq_log(FQ_LOG_WARN, "task.fallback", FQ_LS, "task", s->id, FQ_LS, "from",
               slot_model(s), FQ_LS, "to", s->models.names[s->models.at + 1], FQ_LS, "reason",
               "the model does not exist (404)", FQ_LEND);
        fq_model_chain_advance(&s->models);
        if (s->attempt >= s->max_attempts) {   /* the limit makes room for it */
            fq_argv_pairll(&hash, "max_attempts", s->attempt + 1);
            fq_argv_pairll(&hash, "fallback_attempts",
                           s->fallback_attempts + s->attempt + 1 - s->max_attempts);
        }
        action = "retry";
    } else if (fq_outcome_retryable(res->outcome) &&
               (w->stopping || s->attempt < s->max_attempts)) {
        /* On shutdown an aborted call goes straight back to the queue. A
         * 429 is the fleet's business, not the task's: the shared quota
         * has slowed and frozen the fleet, so the task comes back as soon
         * as the freeze is over instead of backing off on its own. */
        if (res->outcome == FQ_OUT_RATE_LIMITED && w->cfg->adaptive && w->cfg->rate_limiting)
            due = w->cfg->freeze_ms;
        else if (!w->stopping)
            due = fq_backoff_ms(s->attempt, w->cfg->backoff_base_ms, w->cfg->backoff_max_ms);
        fq_argv_pair(&hash, "error", res->error);
        action = "retry";
    } else {
        if (fq_outcome_retryable(res->outcome))
            snprintf(error, sizeof(error), "gave up after %d attempts; last: %s", s->attempt,
                     res->error ? res->error : fq_outcome_name(res->outcome));
        else
            snprintf(error, sizeof(error), "%s", res->error ? res->error
                                                            : fq_outcome_name(res->outcome));
        fq_argv_pair(&hash, "error", error);
        action = "failed";
    }
    add_model_pairs(s, &hash);
    if (!cached)
        log_call(s, called, res, strcmp(action, "requeue") == 0 ? "paused" : action, billed);
    else
        fq_log(FQ_LOG_INFO, "call.cached", FQ_LS, "task", s->id, FQ_LS, "role",
               fq_role_name(w->role), FQ_LS, "model", slot_model(s), FQ_LS, "cached_from",
               cached_from, FQ_LS, "next", action, FQ_LEND);
    end_stream(s, action, res);
    settle_cache(s, action, res, billed);
    finish(s, action, due, &att, &hash);
    free(plan);
    fq_argv_free(&hash);
}

static void on_api_result(fq_api_call *call, fq_api_result *res, void *data)
{
    (void)call;
    conclude(data, res, NULL);
}

static void on_delta(const char *text, size_t len, void *data)
{
    slot *s = data;
    fq_stream_out_append(&s->out, text, len);
}

static void start_call(slot *s)
{
    fq_worker *w = s->w;
    s->state = SLOT_CALLING;
    s->call_started_ms = fq_now_ms();
    fq_api_call *call = w->api != NULL ? fq_api_post(w->api, s->body, slot_timeout_s(s),
                                                     on_api_result, s)
                                       : NULL;
    if (call == NULL) {
        slot_release_quota(s);
        finish_without_call(s, "release", CALL_RETRY_MS,
                            "the worker could not start the call; handed back");
        return;
    }
    if (s->streaming && fq_stream_out_begin(&s->out, s->id, s->attempt) == 0)
        fq_api_call_on_delta(call, on_delta);
}

/* An answer the cache holds ends the task without a call. */
static void answer_from_cache(slot *s, const char *json, size_t len)
{
    fq_cache_answer a;
    if (fq_cache_answer_decode(json, len, &a) != 0) {
        fq_log(FQ_LOG_WARN, "cache.unreadable", FQ_LS, "task", s->id, FQ_LS, "msg",
               "the cached answer could not be read; calling the provider", FQ_LEND);
        reserve(s);
        return;
    }
    fq_api_result res;
    memset(&res, 0, sizeof(res));
    fq_api_result_reset(&res, 0);
    fq_ratelimit_headers_init(&res.rl);
    res.outcome = FQ_OUT_OK;
    res.content = a.output;
    res.finish_reason = a.finish_reason;
    res.ttft_ms = -1;
    s->call_started_ms = fq_now_ms();
    if (s->streaming)
        fq_stream_out_begin(&s->out, s->id, s->attempt);
    conclude(s, &res, a.task);
    fq_cache_answer_free(&a);
}

static void lookup_cache(slot *s);

static void on_cache_timer(uv_timer_t *t)
{
    lookup_cache(t->data);
}

static void on_cache(fq_cache_verdict v, const char *hash, const char *answer, size_t len,
                     int64_t wait_ms, void *data)
{
    slot *s = data;
    if (v == FQ_CACHE_MISS) {
        memcpy(s->cache_hash, hash, sizeof(s->cache_hash) - 1);
        s->cache_hash[sizeof(s->cache_hash) - 1] = '\0';
        s->cache_owner = 1;
    }
    if (v == FQ_CACHE_HIT) {
        answer_from_cache(s, answer, len);
    } else if (s->w->stopping) {
        finish_without_call(s, "release", 0, NULL);
    } else if (v == FQ_CACHE_WAIT) {
        s->state = SLOT_CACHE_WAIT;
        uv_timer_start(&s->timer, on_cache_timer,
                       (uint64_t)(wait_ms > 0 && wait_ms < CACHE_POLL_MS ? wait_ms
                                                                          : CACHE_POLL_MS),
                       0);
    } else {
        reserve(s);
    }
}

/* Asks the cache for the answer to the request as it would be sent
 * without a stream (the cache's name for it covers everything sent). */
static void lookup_cache(slot *s)
{
    fq_worker *w = s->w;
    char *identity = s->streaming ? build_body(s, 0, NULL, 0) : NULL;
    int64_t pending_ms = ((int64_t)slot_timeout_s(s) + CACHE_PENDING_EXTRA_S) * 1000;
    s->state = SLOT_LOOKUP;
    if ((s->streaming && identity == NULL) || w->redis == NULL ||
        fq_call_cache_lookup(w->redis, identity ? identity : s->body, s->id, pending_ms,
                             on_cache, s) != 0)
        reserve(s);
    free(identity);
}

/* Builds the slot's request for its current model and sends it on: to the
 * cache first when it may be answered from there, else to the quota. */
static void prepare_call(slot *s)
{
    free(s->body);
    s->price = fq_cost_lookup(slot_model(s));
    s->body = build_body(s, s->streaming, s->dropped, sizeof(s->dropped));
    if (s->body == NULL) {
        finish_without_call(s, "failed", 0, "could not build the request body");
        return;
    }
    if (s->dropped[0] != '\0')
        fq_log(FQ_LOG_INFO, "task.params_dropped", FQ_LS, "task", s->id, FQ_LS, "model",
               slot_model(s), FQ_LS, "dropped", s->dropped, FQ_LS, "msg",
               "the model does not accept these parameters; they are not sent", FQ_LEND);
    if (s->cacheable)
        lookup_cache(s);
    else
        reserve(s);
}

/* The slot moves on to its next model (its current one cannot serve it). */
static void switch_model(slot *s, const char *why)
{
    fq_log(FQ_LOG_WARN, "task.fallback", FQ_LS, "task", s->id, FQ_LS, "from", slot_model(s),
           FQ_LS, "to", s->models.names[s->models.at + 1], FQ_LS, "reason", why, FQ_LEND);
    if (s->cache_owner)
        fq_call_cache_release(s->w->redis, s->cache_hash, s->id);
    s->cache_owner = 0;
    fq_model_chain_advance(&s->models);
    prepare_call(s);
}

/* ------------------------------------------------------------------------
 * The quota
 * --------------------------------------------------------------------- */

static void on_reserve_timer(uv_timer_t *t)
{
    reserve(t->data);
}

static void on_grant(const fq_quota_grant *g, void *data)
{
    slot *s = data;
    fq_worker *w = s->w;
    char usd[32], cap[32], msg[512];
    if (g == NULL) {
        s->state = SLOT_WAITING;
        uv_timer_start(&s->timer, on_reserve_timer,
                       (uint64_t)redis_failed_with(w, WORK_GRANT,
                                                   fq_quota_last_error()), 0);
        return;
    }
    redis_works(w, WORK_GRANT);
    if (g->verdict == FQ_QUOTA_GRANTED) {
        s->holding = 1;
        s->held_ticks = g->ticks;
        s->held_day = g->day;
        if (g->probe)
            fq_log(FQ_LOG_INFO, "quota.probe", FQ_LS, "task", s->id, FQ_LS, "kind",
                   g->probe == 1 ? "pause" : "breaker", FQ_LEND);
        if (w->stopping) {
            slot_release_quota(s);
            finish_without_call(s, "release", 0, NULL);
            return;
        }
        start_call(s);
        return;
    }
    if (w->stopping) {
        finish_without_call(s, "release", 0, NULL);
        return;
    }
    end_probe(w, s);  /* the probe did not happen: let another slot try */
    switch (g->verdict) {
    case FQ_QUOTA_PAUSED:
        snprintf(msg, sizeof(msg), "paused: the fleet is paused (%s): %s", g->pause,
                 g->pause_reason);
        hold_claims(w, g->wait_ms);
        finish_without_call(s, "release", g->wait_ms, msg);
        return;
    case FQ_QUOTA_WAIT:
        if (fq_model_chain_has_next(&s->models)) {
            if (strcmp(g->reason, "breaker") == 0) {
                switch_model(s, "its circuit breaker is open");
                return;
            }
            if (g->wait_ms > (int64_t)slot_timeout_s(s) * 1000 &&
                strcmp(g->reason, "nolimits") != 0 && strcmp(g->reason, "held") != 0) {
                snprintf(msg, sizeof(msg), "rate-limited: a wait of %lld ms, longer than the "
                         "task's timeout of %d s (%s)", (long long)g->wait_ms, slot_timeout_s(s),
                         g->reason);
                switch_model(s, msg);
                return;
            }
        }
        s->state = SLOT_WAITING;
        uv_timer_start(&s->timer, on_reserve_timer, (uint64_t)(g->wait_ms > 0 ? g->wait_ms : 1),
                       0);
        return;
    case FQ_QUOTA_BUDGET:
        fq_cost_format_usd(w->cfg->daily_budget_ticks, cap, sizeof(cap));
        if (w->cfg->on_budget == FQ_ON_BUDGET_WAIT) {
            snprintf(msg, sizeof(msg), "waiting for the daily budget: DAILY_BUDGET_USD=%s is "
                     "spent or reserved for today (UTC); resumes when the day turns", cap);
            fq_log(FQ_LOG_WARN, "budget.wait", FQ_LS, "task", s->id, FQ_LS, "msg", msg,
                   FQ_LEND);
            finish_without_call(s, "release", g->wait_ms, msg);
        } else {
            snprintf(msg, sizeof(msg), "daily budget spent: DAILY_BUDGET_USD=%s is used up for "
                     "today (UTC) and FLEETQ_ON_BUDGET=fail", cap);
            finish_without_call(s, "failed", 0, msg);
        }
        return;
    case FQ_QUOTA_TOO_LARGE:
        snprintf(msg, sizeof(msg), "request too large: its estimate of %lld tokens (the prompt "
                 "and max_tokens) is over %s's ceiling of %lld tokens per minute, so no wait "
                 "would let it through; shorten the prompt or lower max_tokens",
                 (long long)s->est_tokens, slot_model(s), (long long)g->tokens_ceiling);
        finish_without_call(s, "failed", 0, msg);
        return;
    case FQ_QUOTA_OVER_CAP:
    default:
        fq_cost_format_usd(g->ticks, usd, sizeof(usd));
        fq_cost_format_usd(w->cfg->daily_budget_ticks, cap, sizeof(cap));
        snprintf(msg, sizeof(msg), "one call could cost up to $%s, more than the whole "
                 "DAILY_BUDGET_USD=%s; lower max_tokens or raise the budget", usd, cap);
        finish_without_call(s, "failed", 0, msg);
        return;
    }
}

static void reserve(slot *s)
{
    fq_worker *w = s->w;
    if (!w->verified) {
        if (w->probing_slot != NULL && w->probing_slot != s) {
            s->state = SLOT_GATED;
            return;
        }
        w->probing_slot = s;   /* (or it is, trying again after a failed grant) */
    }
    const char *text = s->task.prompt ? s->task.prompt : s->task.messages;
    const char *system = s->task.system ? s->task.system : w->cfg->roles[w->role].system;
    fq_quota_call_id(s->call_id, sizeof(s->call_id), slot_model(s), w->id,
                     (unsigned long long)++w->calls);
    fq_quota_ask ask = {
        .call_id = s->call_id,
        .task_id = s->id,
        .lease = s->token,
        .klass = s->task.priority == 0 ? FQ_ROLE_CEO : (int)w->role,
        .model = slot_model(s),
        .price = s->price,
        .prompt_bytes = strlen(text) + (system ? strlen(system) : 0),
        .messages = 2,
        .max_tokens = s->task.max_tokens > 0 ? s->task.max_tokens : w->cfg->max_tokens_default,
    };
    s->est_tokens = fq_quota_estimate_tokens(&ask);
    s->state = SLOT_RESERVING;
    if (fq_quota_reserve(w->quota, &ask, on_grant, s) != 0) {
        s->state = SLOT_WAITING;
        uv_timer_start(&s->timer, on_reserve_timer,
                       (uint64_t)redis_failed(w, WORK_GRANT, NULL), 0);
    }
}

/* ------------------------------------------------------------------------
 * Claiming
 * --------------------------------------------------------------------- */

/* The request body for the slot's current model (malloc'd, or NULL): the
 * system prompt is the task's (or the role's), the earlier results the
 * coordinator attached (recall), a plan's instruction. dropped (may be
 * NULL) gets the parameters the model does not accept. */
static char *build_body(const slot *s, int stream, char *dropped, size_t dropped_len)
{
    fq_worker *w = s->w;
    const char *system = s->task.system ? s->task.system : w->cfg->roles[w->role].system;
    char *with_context = NULL;
    if (s->task.context != NULL) {
        size_t len = (system ? strlen(system) : 0) + strlen(s->task.context) + 3;
        if ((with_context = malloc(len)) == NULL)
            return NULL;
        snprintf(with_context, len, "%s%s%s", system ? system : "",
                 system && system[0] ? "\n\n" : "", s->task.context);
        system = with_context;
    }
    char *plan_system = s->task.plan > 0 ? fq_plan_instruction(system, w->cfg->plan_max) : NULL;
    fq_api_request req = {
        .model = slot_model(s),
        .system = plan_system ? plan_system : system,
        .prompt = s->task.prompt,
        .messages = s->task.messages,
        .max_tokens = s->task.max_tokens > 0 ? s->task.max_tokens : w->cfg->max_tokens_default,
        .has_temperature = s->task.has_temperature,
        .temperature = s->task.temperature,
        .stream = stream,
        .params = s->task.params,
        .dropped = dropped,
        .dropped_len = dropped_len,
    };
    char *body = fq_api_build_request(&req);
    free(plan_system);
    free(with_context);
    return body;
}

static void start_slot(slot *s)
{
    fq_worker *w = s->w;
    const fq_role_profile *profile = &w->cfg->roles[w->role];
    if (fq_model_chain_init(&s->models, s->task.model ? s->task.model : profile->model,
                            s->task.fallback ? s->task.fallback : profile->fallback) != 0) {
        finish_without_call(s, "release", CALL_RETRY_MS,
                            "out of memory building the request; handed back");
        return;
    }
    while (fq_model_chain_has_next(&s->models) &&
           fq_missing_models_has(&w->missing, slot_model(s))) {
        fq_log(FQ_LOG_INFO, "task.fallback", FQ_LS, "task", s->id, FQ_LS, "from",
               slot_model(s), FQ_LS, "to", s->models.names[s->models.at + 1], FQ_LS, "reason",
               "the model answered 404 (does not exist) a short while ago", FQ_LEND);
        fq_model_chain_advance(&s->models);
    }
    s->streaming = s->task.stream != 0 ? s->task.stream > 0 : w->cfg->stream;
    s->cacheable = fq_call_cache_wanted(w->cfg, &s->task);
    prepare_call(s);
}

static void on_claim_retry(uv_timer_t *t)
{
    try_claim(t->data);
}

/* Reading the queue, claiming or waiting for tasks failed: try again after
 * the claims' back-off. */
static void claim_failed(fq_worker *w, const redisReply *reply)
{
    int64_t wait = redis_failed(w, WORK_CLAIM, reply);
    if (!w->stopping)
        uv_timer_start(&w->claim_retry, on_claim_retry, (uint64_t)wait, 0);
}

static void on_marker(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    w->marker_waiting = 0;
    if (reply == NULL && !w->stopping) {
        claim_failed(w, NULL);
        return;
    }
    try_claim(w);
}

/* Sleeps on the role's marker until a task is added (or the block times
 * out, as a safety net against a lost wake-up). */
static void wait_marker(fq_worker *w)
{
    if (w->stopping || w->marker_waiting)
        return;
    if (fq_redis_command(w->blocking, on_marker, w, "BZPOPMIN %s %d", w->marker_key,
                         MARKER_BLOCK_S) == 0)
        w->marker_waiting = 1;
    else
        claim_failed(w, NULL);
}

static int free_slots(const fq_worker *w)
{
    return w->concurrency - busy_slots(w);
}

/* A task claim.lua handed over ({id, lease token, hash fields...}) takes
 * a free slot and starts on its way. */
static void take_task(fq_worker *w, const redisReply *t)
{
    slot *s = free_slot(w);  /* the claim asked for no more than were free */
    if (s == NULL || t->type != REDIS_REPLY_ARRAY || t->elements < 2)
        return;   /* (cannot happen) its lease returns it */
    s->id = strndup(t->element[0]->str, t->element[0]->len);
    s->token = strndup(t->element[1]->str, t->element[1]->len);
    size_t nf = (t->elements - 2) / 2;
    fq_field *fields = calloc(nf + 1, sizeof(*fields));
    char err[256] = "";
    int ok = s->id && s->token && fields;
    if (ok) {
        for (size_t i = 0; i < nf; i++) {
            const redisReply *k = t->element[2 + 2 * i], *v = t->element[3 + 2 * i];
            fields[i] = (fq_field){k->str, k->len, v->str, v->len};
        }
        ok = fq_task_from_hash(fields, nf, &s->task, err, sizeof(err)) == 0;
        s->attempt = (int)fq_fields_int(fields, nf, "attempts", 1);
        s->max_attempts = (int)fq_fields_int(fields, nf, "max_attempts",
                                             w->cfg->max_retries + 1);
        s->fallback_attempts = (int)fq_fields_int(fields, nf, "fallback_attempts", 0);
    }
    free(fields);
    s->state = SLOT_RESERVING;
    fq_log(FQ_LOG_DEBUG, "task.claimed", FQ_LS, "task", s->id, FQ_LS, "role",
           fq_role_name(w->role), FQ_LI, "attempt", (int64_t)s->attempt, FQ_LEND);
    if (s->id == NULL || s->token == NULL) {
        slot_clear(s);  /* out of memory: the lease returns the task */
    } else if (!ok) {
        char msg[320];
        snprintf(msg, sizeof(msg), "stored task is unreadable: %s", err);
        finish_without_call(s, "failed", 0, msg);
    } else if (w->stopping) {
        finish_without_call(s, "release", 0, NULL);
    } else {
        start_slot(s);
    }
}

static void on_claimed(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    w->claiming = 0;
    if (fq_reply_failed(reply)) {
        claim_failed(w, reply);
        maybe_finish_shutdown(w);
        return;
    }
    redis_works(w, WORK_CLAIM);
    if (reply->type == REDIS_REPLY_STRING) {  /* 'again': the candidates were taken */
        try_claim(w);
        maybe_finish_shutdown(w);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        wait_marker(w);
        maybe_finish_shutdown(w);
        return;
    }
    for (size_t i = 0; i < reply->elements; i++)
        take_task(w, reply->element[i]);
    try_claim(w);
}

/* A claim is two steps: read the first ids of the role's queue, then
 * claim.lua with them and their hash keys (a script is given every key it
 * touches), taking as many as there are free slots. Several workers
 * reading the same ids take one each. */
static void on_candidates(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    w->claiming = 0;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        claim_failed(w, reply);
        maybe_finish_shutdown(w);
        return;
    }
    redis_works(w, WORK_CLAIM);
    int want = free_slots(w);
    if (reply->elements == 0 || w->stopping || want == 0) {
        if (!w->stopping)
            wait_marker(w);
        maybe_finish_shutdown(w);
        return;
    }
    const fq_keyset *k = fq_keys();
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, w->ready_key);
    fq_argv_adds(&a, k->leases);
    fq_argv_adds(&a, w->marker_key);
    fq_argv_adds(&a, k->events);
    fq_argv_adds(&a, k->results);
    fq_argv_adds(&a, k->metrics);
    fq_argv_adds(&a, k->expiry);
    fq_argv_add_task_keys(&a, reply, reply->elements);
    fq_argv_adds(&a, w->id);
    fq_argv_addll(&a, (long long)w->cfg->lease_s * 1000);
    fq_argv_adds(&a, fq_role_name(w->role));
    fq_argv_addll(&a, want < CLAIM_MAX ? want : CLAIM_MAX);
    fq_argv_add_ids(&a, reply, reply->elements);
    if (fq_redis_script(w->redis, "claim", 7 + (int)reply->elements, &a, on_claimed, w) == 0)
        w->claiming = 1;
    else
        claim_failed(w, NULL);
    fq_argv_free(&a);
}

static void try_claim(fq_worker *w)
{
    if (w->stopping || w->claiming || free_slot(w) == NULL)
        return;
    int64_t hold = w->hold_until - fq_mono_ms();
    if (hold > 0) {
        uv_timer_start(&w->claim_retry, on_claim_retry, (uint64_t)hold, 0);
        return;
    }
    int want = free_slots(w);
    int read = (want < CLAIM_MAX ? want : CLAIM_MAX) + CLAIM_SPARE;
    if (fq_redis_command(w->redis, on_candidates, w, "ZRANGE %s 0 %d", w->ready_key,
                         read - 1) == 0)
        w->claiming = 1;
    else
        claim_failed(w, NULL);
}

/* ------------------------------------------------------------------------
 * Heartbeat
 * --------------------------------------------------------------------- */

static void on_heartbeat_reply(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *id = reply->element[i];
        for (int k = 0; k < w->concurrency; k++) {
            slot *s = &w->slots[k];
            if (s->state == SLOT_FREE || s->id == NULL || strlen(s->id) != id->len ||
                memcmp(s->id, id->str, id->len) != 0)
                continue;
            fq_log(FQ_LOG_WARN, "task.lease_lost", FQ_LS, "task", s->id, FQ_LEND);
            if (s->state == SLOT_WAITING || s->state == SLOT_CACHE_WAIT) {
                /* not calling yet: just let go */
                slot_release_quota(s);
                slot_clear(s);
            }
        }
    }
    try_claim(w);
    maybe_finish_shutdown(w);
}

static void on_left(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    w->leaving = 0;
    on_heartbeat_reply(r, reply, data);
}

/* 1 when a slot's lease is one the heartbeat extends. */
static int heartbeat_holds(const slot *s)
{
    return s->state != SLOT_FREE && s->state != SLOT_FINISHING && s->id && s->token;
}

/* One heartbeat.lua call: the worker's registry entry (refreshed, or
 * removed once stopping) and the leases of its busy slots. */
static void send_heartbeat(fq_worker *w)
{
    if (w->redis == NULL)
        return;
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, fq_keys()->leases);
    fq_argv_adds(&a, fq_keys()->workers);
    int held = 0;
    char task_key[FQ_KEY_MAX];
    for (int i = 0; i < w->concurrency; i++) {
        slot *s = &w->slots[i];
        if (heartbeat_holds(s)) {
            fq_argv_adds(&a, fq_key_task(s->id, task_key, sizeof(task_key)));
            held++;
        }
    }
    fq_argv_addll(&a, (long long)w->cfg->lease_s * 1000);
    fq_argv_adds(&a, w->id);
    fq_argv_adds(&a, w->stopping ? "leaving" : "live");
    for (int i = 0; i < w->concurrency; i++) {
        slot *s = &w->slots[i];
        if (heartbeat_holds(s)) {
            fq_argv_adds(&a, s->id);
            fq_argv_adds(&a, s->token);
        }
    }
    if (!w->stopping)
        fq_redis_script(w->redis, "heartbeat", 2 + held, &a, on_heartbeat_reply, w);
    else if (!w->leaving &&
             fq_redis_script(w->redis, "heartbeat", 2 + held, &a, on_left, w) == 0)
        w->leaving = 1;
    fq_argv_free(&a);
}

static void on_heartbeat(uv_timer_t *t)
{
    fq_worker *w = t->data;
    send_heartbeat(w);
    fq_missing_models_refresh(&w->missing, w->redis);

    const char **calls = calloc((size_t)w->concurrency, sizeof(*calls));
    int n = 0;
    for (int i = 0; calls != NULL && i < w->concurrency; i++)
        if (w->slots[i].holding)
            calls[n++] = w->slots[i].call_id;
    if (n > 0)
        fq_quota_extend(w->redis, w->cfg, calls, n);
    free(calls);
}

/* ------------------------------------------------------------------------
 * Signals and shutdown
 * --------------------------------------------------------------------- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void maybe_finish_shutdown(fq_worker *w)
{
    if (!w->stopping || w->closed || busy_slots(w) > 0 || w->claiming || w->leaving)
        return;
    w->closed = 1;
    fq_log(FQ_LOG_INFO, "worker.stopped", FQ_LS, "worker", w->id, FQ_LEND);
    if (w->api != NULL)
        fq_api_close(w->api);
    w->api = NULL;
    fq_redis_close(w->blocking);
    fq_redis_close(w->redis);
    w->blocking = w->redis = NULL;
    for (int i = 0; i < w->concurrency; i++)
        close_handle((uv_handle_t *)&w->slots[i].timer);
    close_handle((uv_handle_t *)&w->heartbeat);
    close_handle((uv_handle_t *)&w->claim_retry);
    close_handle((uv_handle_t *)&w->report_retry);
    close_handle((uv_handle_t *)&w->flush);
    close_handle((uv_handle_t *)&w->grace);
    close_handle((uv_handle_t *)&w->sigterm);
    close_handle((uv_handle_t *)&w->sigint);
    close_handle((uv_handle_t *)&w->sighup);
}

static void on_hard_stop(uv_timer_t *t)
{
    fq_worker *w = t->data;
    fq_log(FQ_LOG_ERROR, "worker.forced_exit", FQ_LI, "unreported", (int64_t)busy_slots(w),
           FQ_LS, "msg", "Redis did not take the last reports; their leases will return "
           "the tasks to the queue", FQ_LEND);
    exit(0);
}

static void on_grace_over(uv_timer_t *t)
{
    fq_worker *w = t->data;
    if (w->api != NULL && fq_api_inflight(w->api) > 0) {
        fq_log(FQ_LOG_WARN, "worker.grace_over", FQ_LI, "aborted",
               (int64_t)fq_api_inflight(w->api), FQ_LEND);
        fq_api_close(w->api);  /* each call reports "aborted" and goes back as a retry */
        w->api = NULL;
    }
    uv_timer_start(&w->grace, on_hard_stop, HARD_STOP_EXTRA_MS, 0);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
    fq_worker *w = sig->data;
    if (w->stopping)
        return;
    w->stopping = 1;
    fq_log(FQ_LOG_INFO, "worker.stopping", FQ_LS, "signal", signum == SIGTERM ? "SIGTERM"
                                                                               : "SIGINT",
           FQ_LI, "in_flight", (int64_t)busy_slots(w), FQ_LI, "grace_s",
           (int64_t)w->cfg->grace_s, FQ_LEND);
    uv_timer_stop(&w->claim_retry);
    uv_timer_stop(&w->heartbeat);
    uv_timer_start(&w->heartbeat, on_heartbeat, 1000, (uint64_t)w->cfg->lease_s * 1000 / 3);
    for (int i = 0; i < w->concurrency; i++) {
        slot *s = &w->slots[i];
        if (s->state == SLOT_WAITING || s->state == SLOT_CACHE_WAIT) {
            uv_timer_stop(&s->timer);
            slot_release_quota(s);
            finish_without_call(s, "release", 0, NULL);
        }
    }
    uv_timer_start(&w->grace, on_grace_over, (uint64_t)w->cfg->grace_s * 1000, 0);
    send_heartbeat(w);  /* leaves the registry */
    maybe_finish_shutdown(w);
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    fq_worker *w = sig->data;
    char err[256];
    int rc = fq_config_reload_key(w->cfg, err, sizeof(err));
    if (rc < 0) {
        fq_log(FQ_LOG_ERROR, "key.reload_failed", FQ_LS, "error", err, FQ_LEND);
        return;
    }
    if (rc == 1) {
        fq_log_add_secret(w->cfg->api_key);
        if (w->api != NULL)
            fq_api_set_key(w->api, w->cfg->api_key);
        /* A new key: lift the fleet's pause and try again, one call first. */
        w->verified = 0;
        w->hold_until = 0;
        fq_quota_resume(w->redis, NULL, NULL);
        try_claim(w);
    }
    char redacted[32];
    fq_config_redact_key(w->cfg->api_key, redacted, sizeof(redacted));
    fq_log(FQ_LOG_INFO, "key.reloaded", FQ_LS, "key", redacted, FQ_LS, "changed",
           rc == 1 ? "yes" : "no", FQ_LEND);
}

/* ------------------------------------------------------------------------
 * Life cycle
 * --------------------------------------------------------------------- */

/* The fleet's limits are fleetq:limits', never this environment's: say
 * once where the two differ, so that an operator sees a stale setting. */
static void on_limits(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || w->limits_checked)
        return;
    w->limits_checked = 1;
    fq_field fields[64];
    size_t n = fq_reply_fields(reply, fields, sizeof(fields) / sizeof(fields[0]));
    char diff[1024];
    if (fq_config_limits_diff(w->cfg, fields, n, diff, sizeof(diff)) > 0)
        fq_log(FQ_LOG_WARN, "limits.differ", FQ_LS, "differences", diff, FQ_LS, "note",
               "the fleet's limits apply, not this worker's environment "
               "(fleetqctl limits shows them)", FQ_LS, "key", fq_keys()->limits, FQ_LEND);
}

static void on_limits_init(fq_redis *r, redisReply *reply, void *data)
{
    fq_worker *w = data;
    if (!fq_reply_failed(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        fq_reply_int(reply->element[0], 0) == 1) {
        w->limits_checked = 1;
        fq_log(FQ_LOG_INFO, "limits.published", FQ_LS, "by", w->id, FQ_LS, "note",
               "nobody had published the fleet's limits: this worker's environment now is them "
               "until a coordinator publishes its own", FQ_LEND);
    } else if (!w->limits_checked) {
        fq_redis_command(r, on_limits, w, "HGETALL %s", fq_keys()->limits);
    }
}

static void on_redis_state(fq_redis *r, int connected, void *data)
{
    fq_worker *w = data;
    if (connected) {
        send_heartbeat(w);  /* in the registry at once */
        if (!w->limits_checked)
            fq_quota_publish_limits(r, w->cfg, "init", w->id, on_limits_init, w);
        try_claim(w);
    }
}

fq_worker *fq_worker_new(uv_loop_t *loop, fq_config *cfg, fq_role role, int concurrency)
{
    fq_worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->slots = calloc((size_t)concurrency, sizeof(*w->slots));
    if (w->slots == NULL)
        goto err;
    w->loop = loop;
    w->cfg = cfg;
    w->role = role;
    w->concurrency = concurrency;
    static const char *const work_names[WORK_COUNT] = {"claim", "grant", "report"};
    for (int i = 0; i < WORK_COUNT; i++)
        fq_failing_init(&w->failing[i], work_names[i], REDIS_RETRY_BASE_MS, REDIS_RETRY_MAX_MS);
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(w->id, sizeof(w->id), "%s:%ld:%s", host, (long)getpid(), fq_role_name(role));
    w->ready_key = fq_keys()->ready[role];
    w->marker_key = fq_keys()->marker[role];
    for (int i = 0; i < concurrency; i++) {
        w->slots[i].w = w;
        fq_task_init(&w->slots[i].task);
        fq_argv_init(&w->slots[i].finish);
        uv_timer_init(loop, &w->slots[i].timer);
        w->slots[i].timer.data = &w->slots[i];
    }
    w->reports = calloc((size_t)concurrency, sizeof(*w->reports));
    if (w->reports == NULL)
        goto err;
    uv_timer_init(loop, &w->heartbeat);
    uv_timer_init(loop, &w->claim_retry);
    uv_timer_init(loop, &w->report_retry);
    uv_prepare_init(loop, &w->flush);
    uv_timer_init(loop, &w->grace);
    uv_signal_init(loop, &w->sigterm);
    uv_signal_init(loop, &w->sigint);
    uv_signal_init(loop, &w->sighup);
    w->heartbeat.data = w->claim_retry.data = w->grace.data = w;
    w->report_retry.data = w->flush.data = w;
    w->sigterm.data = w->sigint.data = w->sighup.data = w;
    return w;
err:
    free(w->slots);
    free(w->reports);
    free(w);
    return NULL;
}

int fq_worker_start(fq_worker *w)
{
    char name[96];
    w->api = fq_api_new(w->loop, w->cfg->base_url);
    if (w->api == NULL || fq_api_set_key(w->api, w->cfg->api_key) != 0) {
        fq_log(FQ_LOG_ERROR, "worker.api_init_failed", FQ_LEND);
        return -1;
    }
    snprintf(name, sizeof(name), "fleetq-worker-%s", fq_role_name(w->role));
    w->redis = fq_redis_new(w->loop, w->cfg, name, 0);
    snprintf(name, sizeof(name), "fleetq-worker-%s-wait", fq_role_name(w->role));
    w->blocking = fq_redis_new(w->loop, w->cfg, name, (MARKER_BLOCK_S + 10) * 1000);
    if (w->redis == NULL || w->blocking == NULL)
        return -1;
    w->quota = fq_quota_batch_new(w->redis, w->cfg);
    if (w->quota == NULL)
        return -1;
    fq_redis_on_state(w->redis, on_redis_state, w);
    uint64_t beat = (uint64_t)w->cfg->lease_s * 1000 / 3;
    uv_timer_start(&w->heartbeat, on_heartbeat, beat, beat);
    uv_prepare_start(&w->flush, on_flush);
    uv_signal_start(&w->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&w->sighup, on_sighup, SIGHUP);
    fq_log(FQ_LOG_INFO, "worker.started", FQ_LS, "worker", w->id, FQ_LS, "role",
           fq_role_name(w->role), FQ_LI, "concurrency", (int64_t)w->concurrency,
           FQ_LS, "model", w->cfg->roles[w->role].model, FQ_LS, "api", w->cfg->base_url,
           FQ_LS, "key", w->cfg->api_keyless ? "none: no Authorization header" : "set",
           FQ_LEND);
    return 0;
}

void fq_worker_free(fq_worker *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < w->concurrency; i++) {
        slot *s = &w->slots[i];
        free(s->id);
        free(s->token);
        free(s->body);
        fq_task_free(&s->task);
        fq_argv_free(&s->finish);
        fq_model_chain_free(&s->models);
        fq_stream_out_free(&s->out);
    }
    fq_quota_batch_free(w->quota);
    free(w->slots);
    free(w->reports);
    free(w);
}
