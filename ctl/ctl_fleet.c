/* ctl_fleet.c -- the figures `fleetqctl status` and `fleetqctl watch` show:
 * the fleet's queues, workers, dead letters, quota and budget, taken as one
 * snapshot and written as an aligned text screen or as JSON.
 *
 * The snapshot is ctl/lua/fleet.lua's (one round trip, one consistent
 * moment, on Redis' clock): per role the ready queue, the delayed set
 * (delayed and retrying tasks), the leases (running tasks, and of those
 * the ones calling the API and the ones waiting for the quota, by the
 * phase quota.lua marks in their hashes) and the live workers, plus the
 * dead letters, the calls in flight, <prefix>:quota as it stands (the
 * pause, the budget, the key's figures) and the state of each model the
 * quota has seen (<prefix>:quota:<model>: its rate, ceilings, freeze and
 * breaker; with FLEETQ_LIMIT_SCOPE=key that state is <prefix>:quota
 * itself, for every model at once). The members it counts by role are
 * read just before, in one pipeline. A worker is live when its heartbeat in the registry is at most
 * FLEETQ_LEASE_SECONDS old (fleetqctl's own setting, which should be the
 * fleet's).
 *
 * fleetq:quota is written only when something happens (a call reserved or
 * settled), so some of its fields are read against the snapshot's clock: a
 * freeze whose end has passed is over, the minute's count belongs to the
 * minute it was made in, and the budget ledger belongs to the UTC day it
 * was last written on (a ledger from an earlier day means nothing spent
 * today).
 */
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "ctl.h"
#include "keys.h"
#include "quota.h"
#include "record.h"

#define BY_ROLE_LIMIT 5000      /* most members of a set counted by role */
#define MODELS_MAX 32           /* most models shown, the most recently used first */
#define LABEL "%-14s"
#define WIDTH 80

/* ------------------------------------------------------------------------
 * The snapshot
 * --------------------------------------------------------------------- */

static int is_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER;
}

static int is_array(const redisReply *r, size_t n)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_int(r->element[i]))
            return 0;
    return 1;
}

/* Files the script's reply into f. Returns 0, or -1 when it is not what
 * fleet.lua returns. */
static int take(fq_ctl_fleet *f, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 12)
        return -1;
    redisReply *const *e = r->element;
    if (!is_int(e[0]) || !is_array(e[1], FQ_ROLE_COUNT) || !is_int(e[2]) || !is_int(e[3]) ||
        !is_int(e[4]) || !(is_array(e[5], 0) || is_array(e[5], 2 * FQ_ROLE_COUNT)) ||
        !(is_array(e[6], 0) || is_array(e[6], 3 * FQ_ROLE_COUNT)) ||
        !is_array(e[7], FQ_ROLE_COUNT + 2) || !is_int(e[8]) ||
        e[9]->type != REDIS_REPLY_ARRAY || e[10]->type != REDIS_REPLY_STRING ||
        e[10]->len >= sizeof(f->events_last) || e[11]->type != REDIS_REPLY_ARRAY ||
        e[11]->elements % 2 != 0)
        return -1;
    for (size_t i = 0; i < e[11]->elements; i += 2)
        if (e[11]->element[i]->type != REDIS_REPLY_STRING ||
            e[11]->element[i + 1]->type != REDIS_REPLY_ARRAY)
            return -1;
    f->models = e[11];
    f->now_ms = e[0]->integer;
    f->delayed_all = e[2]->integer;
    f->running_all = e[3]->integer;
    f->dead = e[4]->integer;
    f->delayed_by_role = e[5]->elements > 0;
    f->running_by_role = e[6]->elements > 0;
    for (int i = 0; i < FQ_ROLE_COUNT; i++) {
        f->queued[i] = e[1]->element[i]->integer;
        f->queued_all += f->queued[i];
        if (f->delayed_by_role) {
            f->delayed[i] = e[5]->element[i]->integer;
            f->retrying[i] = e[5]->element[FQ_ROLE_COUNT + i]->integer;
        }
        if (f->running_by_role) {
            f->running[i] = e[6]->element[i]->integer;
            f->calling[i] = e[6]->element[FQ_ROLE_COUNT + i]->integer;
            f->waiting_quota[i] = e[6]->element[2 * FQ_ROLE_COUNT + i]->integer;
        }
        f->workers[i] = e[7]->element[i]->integer;
    }
    f->workers_live = e[7]->element[FQ_ROLE_COUNT]->integer;
    f->workers_registered = e[7]->element[FQ_ROLE_COUNT + 1]->integer;
    f->inflight = e[8]->integer;
    f->quota = e[9];
    memcpy(f->events_last, e[10]->str, e[10]->len);
    f->events_last[e[10]->len] = '\0';
    return 0;
}

/* The members fleet.lua is to count by role: the delayed ids, the leased
 * ids and the models (at most BY_ROLE_LIMIT + 1 and MODELS_MAX), read in
 * one pipeline. Returns 0, or -1 (reported). */
static int read_members(fq_ctl *ctl, redisReply *out[3], size_t count[3])
{
    const fq_keyset *k = fq_keys();
    if (fq_ctl_append(ctl, "ZRANGE %s 0 %d", k->delayed, BY_ROLE_LIMIT) != 0 ||
        fq_ctl_append(ctl, "ZRANGE %s 0 %d", k->leases, BY_ROLE_LIMIT) != 0 ||
        fq_ctl_append(ctl, "ZREVRANGE %s 0 %d", k->models, MODELS_MAX - 1) != 0)
        return -1;
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        out[i] = failed ? NULL : fq_ctl_next_reply(ctl);
        count[i] = 0;   /* none passed: the totals only */
        if (out[i] == NULL)
            failed = 1;
        else if (out[i]->type == REDIS_REPLY_ARRAY && out[i]->elements <= BY_ROLE_LIMIT)
            count[i] = out[i]->elements;
    }
    if (failed)
        for (int i = 0; i < 3; i++)
            if (out[i] != NULL)
                freeReplyObject(out[i]);
    return failed ? -1 : 0;
}

static redisReply *snapshot(fq_ctl *ctl, const fq_ctl_fleet *f)
{
    redisReply *m[3];
    size_t n[3];
    if (read_members(ctl, m, n) != 0)
        return NULL;
    const fq_keyset *k = fq_keys();
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_add_ready_keys(&a);
    fq_argv_adds(&a, k->delayed);
    fq_argv_adds(&a, k->leases);
    fq_argv_adds(&a, k->dead);
    fq_argv_adds(&a, k->workers);
    fq_argv_adds(&a, k->inflight);
    fq_argv_adds(&a, k->quota);
    fq_argv_adds(&a, k->events);
    fq_argv_add_task_keys(&a, m[0], n[0]);
    fq_argv_add_task_keys(&a, m[1], n[1]);
    for (size_t i = 0; i < n[2]; i++)
        fq_argv_add_model_key(&a, m[2]->element[i]->str, m[2]->element[i]->len);
    int nkeys = a.argc;
    fq_argv_addll(&a, (long long)f->lease_s * 1000);
    fq_argv_addll(&a, BY_ROLE_LIMIT);
    for (int s = 0; s < 3; s++)
        fq_argv_addll(&a, (long long)n[s]);
    for (int s = 0; s < 3; s++)
        fq_argv_add_ids(&a, m[s], n[s]);
    for (int s = 0; s < 3; s++)
        freeReplyObject(m[s]);
    redisReply *r = NULL;
    if (fq_argv_ok(&a)) {
        r = fq_ctl_script(ctl, "fleet", nkeys, &a);
    } else {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    fq_argv_free(&a);
    return r;
}

/* The response cache's figures (cache.lua): its counters in the metrics
 * hash and what it holds. Left at 0 when Redis does not answer. */
static void gather_cache(fq_ctl *ctl, fq_ctl_fleet *f)
{
    const fq_keyset *k = fq_keys();
    if (fq_ctl_append(ctl, "HMGET %s cache:hits cache:misses cache:saved_ticks",
                      k->metrics) != 0 ||
        fq_ctl_append(ctl, "HLEN %s", k->cache) != 0 ||
        fq_ctl_append(ctl, "HGET %s bytes", k->cache_meta) != 0)
        return;
    redisReply *r[3] = {NULL, NULL, NULL};   /* counters, entries, bytes */
    for (int i = 0; i < 3 && (i == 0 || r[i - 1] != NULL); i++)
        r[i] = fq_ctl_next_reply(ctl);
    if (r[0] != NULL && r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements == 3) {
        f->cache_hits = fq_reply_int(r[0]->element[0], 0);
        f->cache_misses = fq_reply_int(r[0]->element[1], 0);
        f->cache_saved_ticks = fq_reply_int(r[0]->element[2], 0);
    }
    f->cache_entries = fq_reply_int(r[1], 0);
    f->cache_bytes = fq_reply_int(r[2], 0);
    for (int i = 0; i < 3; i++)
        if (r[i] != NULL)
            freeReplyObject(r[i]);
}

/* The coordinator's lease: who runs the fleet (lease.lua). Left empty
 * when nobody holds it or Redis does not answer. */
static void gather_coordinator(fq_ctl *ctl, fq_ctl_fleet *f)
{
    static const char *const fields[] = {"host", "pid", "since", "db", "fleet", "renewed"};
    if (fq_ctl_append(ctl, "HMGET %s host pid since db fleet renewed",
                      fq_keys()->coordinator) != 0)
        return;
    redisReply *r = fq_ctl_next_reply(ctl);
    if (r == NULL)
        return;
    char *out[] = {f->coord_host, f->coord_pid, f->coord_since, f->coord_db, f->coord_fleet};
    size_t len[] = {sizeof(f->coord_host), sizeof(f->coord_pid), sizeof(f->coord_since),
                    sizeof(f->coord_db), sizeof(f->coord_fleet)};
    if (r->type == REDIS_REPLY_ARRAY && r->elements == sizeof(fields) / sizeof(fields[0]) &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        for (size_t i = 0; i < 5; i++)
            snprintf(out[i], len[i], "%s",
                     r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "");
        f->coord_silent_ms = f->now_ms - fq_reply_int(r->element[5], f->now_ms);
    }
    freeReplyObject(r);
}

int fq_ctl_fleet_gather(fq_ctl *ctl, fq_ctl_fleet *f)
{
    memset(f, 0, sizeof(*f));
    f->lease_s = ctl->cfg.lease_s;
    /* the sets may change between reading their members and the
     * snapshot: then it is taken again, a few times at most */
    for (int tries = 0;; tries++) {
        redisReply *r = snapshot(ctl, f);
        if (r == NULL)
            return -1;
        if (take(f, r) != 0) {
            freeReplyObject(r);
            fq_ctl_errorf("fleet.lua answered with something unexpected; is this fleetqctl as "
                          "new as the fleet?");
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
            return -1;
        }
        int complete = (f->delayed_by_role || f->delayed_all > BY_ROLE_LIMIT) &&
                       (f->running_by_role || f->running_all > BY_ROLE_LIMIT);
        if (complete || tries == 2) {
            f->reply = r;
            gather_cache(ctl, f);
            gather_coordinator(ctl, f);
            return 0;
        }
        freeReplyObject(r);
        int lease_s = f->lease_s;
        memset(f, 0, sizeof(*f));
        f->lease_s = lease_s;
    }
}

void fq_ctl_fleet_free(fq_ctl_fleet *f)
{
    if (f->reply != NULL)
        freeReplyObject(f->reply);
    f->reply = NULL;
    f->quota = NULL;
    f->models = NULL;
}

long long fq_ctl_fleet_outstanding(const fq_ctl_fleet *f)
{
    return f->queued_all + f->delayed_all + f->running_all;
}

/* ------------------------------------------------------------------------
 * fleetq:quota read against the snapshot's clock
 * --------------------------------------------------------------------- */

/* One state of the quota: a model's (fleetq:quota:<model>), or the key's
 * when the scope is the key; or those of every model added up. */
typedef struct state_view {
    const char *name;            /* the model, "" for the key or the sum */
    size_t name_len;
    int has_rate;
    double rate;                 /* calls per second */
    long long rpm_ceiling;       /* -1 when none */
    long long tpm_ceiling;       /* -1 when none, 0 = off */
    double token_rate;           /* learned tokens per minute, -1 when none */
    long long window_requests;   /* this minute's calls */
    long long frozen_until_ms;
    long long frozen_left_ms;    /* 0 when not frozen */
    const char *breaker;         /* "closed", "open", "half_open" */
    long long breaker_failures;
    long long breaker_left_ms;   /* open: until the next probe */
    long long decreases, token_decreases, rate_limited;
    long long last_429_ms;
} state_view;

typedef struct quota_view {
    int present;                 /* the hash has anything at all */
    int by_model;                /* the scope is the model */
    const char *rate_limiting;   /* "on", "off", NULL when unknown */
    state_view all;              /* the key's state, or the models' added up */
    state_view models[MODELS_MAX];
    int nmodels;
    long long window_requests;   /* this minute's calls, every model */
    const redisReply *paused;    /* NULL when not paused */
    const redisReply *pause_reason;
    long long paused_at_ms;      /* -1 when unknown */
    long long resumed_at_ms;     /* -1 when never */
    int has_budget;              /* a ledger exists */
    long long spent, reserved;   /* ticks, today */
    long long cap;               /* ticks, 0 = no cap */
} quota_view;

static const redisReply *nonempty(const redisReply *v)
{
    return v != NULL && v->len > 0 ? v : NULL;
}

static void view_state(const redisReply *h, long long now, state_view *s)
{
    const redisReply *v = nonempty(fq_ctl_hash_get(h, "rate_per_s"));
    s->has_rate = v != NULL;
    s->rate = v ? atof(v->str) : 0;
    s->rpm_ceiling = fq_ctl_hash_ll(h, "rpm_ceiling", -1);
    s->tpm_ceiling = fq_ctl_hash_ll(h, "tpm_ceiling", -1);
    v = nonempty(fq_ctl_hash_get(h, "tpm_rate"));
    s->token_rate = v ? atof(v->str) : -1;
    if (fq_ctl_hash_ll(h, "window_minute", -1) == now / 60000)
        s->window_requests = fq_ctl_hash_ll(h, "window_requests", 0);
    s->frozen_until_ms = fq_ctl_hash_ll(h, "frozen_until_ms", 0);
    s->frozen_left_ms = s->frozen_until_ms > now ? s->frozen_until_ms - now : 0;
    v = nonempty(fq_ctl_hash_get(h, "breaker"));
    s->breaker = v ? v->str : "closed";
    s->breaker_failures = fq_ctl_hash_ll(h, "breaker_failures", 0);
    long long open_until = fq_ctl_hash_ll(h, "breaker_open_until_ms", 0);
    if (strcmp(s->breaker, "closed") != 0 && open_until > now)
        s->breaker_left_ms = open_until - now;
    s->decreases = fq_ctl_hash_ll(h, "decreases", 0);
    s->token_decreases = fq_ctl_hash_ll(h, "token_decreases", 0);
    s->rate_limited = fq_ctl_hash_ll(h, "rate_limited", 0);
    s->last_429_ms = fq_ctl_hash_ll(h, "last_429_ms", 0);
}

/* Adds a model's state into the sum: rates and ceilings add up, the
 * longest freeze and the worst breaker stand for all. */
static void add_state(state_view *sum, const state_view *m)
{
    sum->has_rate |= m->has_rate;
    sum->rate += m->rate;
    if (m->rpm_ceiling >= 0)
        sum->rpm_ceiling = (sum->rpm_ceiling < 0 ? 0 : sum->rpm_ceiling) + m->rpm_ceiling;
    if (m->frozen_left_ms > sum->frozen_left_ms) {
        sum->frozen_left_ms = m->frozen_left_ms;
        sum->frozen_until_ms = m->frozen_until_ms;
    }
    if (fq_quota_breaker_rank(m->breaker) > fq_quota_breaker_rank(sum->breaker)) {
        sum->breaker = m->breaker;
        sum->breaker_left_ms = m->breaker_left_ms;
    }
    if (m->breaker_failures > sum->breaker_failures)
        sum->breaker_failures = m->breaker_failures;
    sum->decreases += m->decreases;
    sum->token_decreases += m->token_decreases;
    sum->rate_limited += m->rate_limited;
    if (m->last_429_ms > sum->last_429_ms)
        sum->last_429_ms = m->last_429_ms;
}

static void view_quota(const fq_ctl_fleet *f, quota_view *q)
{
    const redisReply *h = f->quota;
    long long now = f->now_ms;
    memset(q, 0, sizeof(*q));
    q->present = h != NULL && h->elements > 0;
    const redisReply *v = fq_ctl_hash_get(h, "rate_limiting");
    q->rate_limiting = v ? v->str : NULL;
    v = nonempty(fq_ctl_hash_get(h, "scope"));
    q->by_model = v == NULL || strcmp(v->str, "key") != 0;
    if (fq_ctl_hash_ll(h, "window_minute", -1) == now / 60000)
        q->window_requests = fq_ctl_hash_ll(h, "window_requests", 0);
    q->all.name = "";
    if (q->by_model) {
        q->all.rpm_ceiling = q->all.tpm_ceiling = -1;
        q->all.token_rate = -1;
        q->all.breaker = "closed";
        for (size_t i = 0; f->models != NULL && i < f->models->elements &&
                           q->nmodels < MODELS_MAX; i += 2) {
            state_view *m = &q->models[q->nmodels++];
            view_state(f->models->element[i + 1], now, m);
            m->name = f->models->element[i]->str;
            m->name_len = f->models->element[i]->len;
            add_state(&q->all, m);
        }
    } else {
        view_state(h, now, &q->all);
    }
    q->all.window_requests = q->window_requests;
    q->paused = nonempty(fq_ctl_hash_get(h, "paused"));
    q->pause_reason = nonempty(fq_ctl_hash_get(h, "pause_reason"));
    q->paused_at_ms = fq_ctl_hash_ll(h, "paused_at_ms", -1);
    q->resumed_at_ms = fq_ctl_hash_ll(h, "resumed_at_ms", -1);
    long long day = fq_ctl_hash_ll(h, "budget_day", -1);
    q->has_budget = day >= 0 || fq_ctl_hash_get(h, "budget_cap_ticks") != NULL;
    q->cap = fq_ctl_hash_ll(h, "budget_cap_ticks", 0);
    if (day == now / 86400000) {
        q->spent = fq_ctl_hash_ll(h, "budget_spent_ticks", 0);
        q->reserved = fq_ctl_hash_ll(h, "budget_reserved_ticks", 0);
    }
}

static long long budget_left(const quota_view *q)
{
    long long left = q->cap - q->spent - q->reserved;
    return left > 0 ? left : 0;
}

static double usd(long long ticks)
{
    return (double)ticks / (double)FQ_TICKS_PER_USD;
}

/* ------------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */

/* A count, or "-" when it was not counted. */
static void cell(FILE *out, int known, long long n)
{
    if (known)
        fprintf(out, "%10lld", n);
    else
        fprintf(out, "%10s", "-");
}

/* A count of each role, added up. */
static long long sum(const long long *by_role)
{
    long long n = 0;
    for (int i = 0; i < FQ_ROLE_COUNT; i++)
        n += by_role[i];
    return n;
}

static void print_table(const fq_ctl_fleet *f, FILE *out)
{
    fprintf(out, "%-8s%10s%10s%10s%10s%10s%10s%10s\n", "ROLE", "QUEUED", "DELAYED", "RETRYING",
            "RUNNING", "CALLING", "QUOTA", "WORKERS");
    for (int i = 0; i < FQ_ROLE_COUNT; i++) {
        fprintf(out, "%-8s", fq_role_name((fq_role)i));
        cell(out, 1, f->queued[i]);
        cell(out, f->delayed_by_role, f->delayed[i]);
        cell(out, f->delayed_by_role, f->retrying[i]);
        cell(out, f->running_by_role, f->running[i]);
        cell(out, f->running_by_role, f->calling[i]);
        cell(out, f->running_by_role, f->waiting_quota[i]);
        cell(out, 1, f->workers[i]);
        fputc('\n', out);
    }
    fprintf(out, "%-8s", "all");
    cell(out, 1, f->queued_all);
    cell(out, 1, f->delayed_all);
    cell(out, f->delayed_by_role, sum(f->retrying));
    cell(out, 1, f->running_all);
    cell(out, f->running_by_role, sum(f->calling));
    cell(out, f->running_by_role, sum(f->waiting_quota));
    cell(out, 1, f->workers_live);
    fputc('\n', out);
    fputs("(RUNNING: under a lease; of those CALLING the API, or waiting for the QUOTA)\n",
          out);
    if (!f->delayed_by_role || !f->running_by_role)
        fprintf(out, "(a dash: more than %d tasks, not counted by role)\n", BY_ROLE_LIMIT);
}

/* "12:00:01Z" for a time today, the full ISO-8601 form otherwise. */
static const char *when(long long ms, long long now, char *buf, size_t len)
{
    fq_iso8601_ms(ms, buf, len);
    if (ms / 86400000 == now / 86400000 && strlen(buf) == 24) {
        memmove(buf, buf + 11, 8);
        strcpy(buf + 8, "Z");
    }
    return buf;
}

/* Text under a label, wrapped at spaces to fit the screen, on at most
 * `lines` lines ("..." when it had to be cut). */
static void print_wrapped(FILE *out, const char *label, const char *s, size_t len, int lines)
{
    const size_t room = WIDTH - 1 - 14;
    for (int line = 0; len > 0 && line < lines; line++) {
        fprintf(out, LABEL, line == 0 ? label : "");
        size_t take = len;
        if (len > room) {
            int last = line == lines - 1;
            take = last ? room - 3 : room;
            while (take > room / 2 && s[take] != ' ')
                take--;  /* break at a space when there is one not too far back */
            if (s[take] != ' ')
                take = last ? room - 3 : room;
        }
        fq_ctl_put_field(out, s, take);
        if (take < len && line == lines - 1)
            fputs("...", out);
        fputc('\n', out);
        s += take;
        len -= take;
        while (len > 0 && *s == ' ') {
            s++;
            len--;
        }
    }
}

/* A line per model: rate, ceilings, a learned token rate, this minute's
 * calls, freeze and breaker. */
static void print_models(const quota_view *q, FILE *out)
{
    fprintf(out, LABEL "%-18s%9s%9s%9s%6s%5s %s\n", "models", "MODEL", "RATE/S", "CEIL/S",
            "TOK/MIN", "CALLS", "FRZ", "BREAKER");
    for (int i = 0; i < q->nmodels; i++) {
        const state_view *m = &q->models[i];
        char tok[24] = "-";
        if (m->token_rate >= 0)
            snprintf(tok, sizeof(tok), "%.0f", m->token_rate);
        else if (m->tpm_ceiling > 0)
            snprintf(tok, sizeof(tok), "%lld", m->tpm_ceiling);
        fprintf(out, LABEL, "");
        size_t shown = m->name_len > 17 ? 17 : m->name_len;
        fq_ctl_put_field(out, m->name, shown);
        fprintf(out, "%*s%9.3f", (int)(18 - shown), "", m->rate);
        if (m->rpm_ceiling > 0)
            fprintf(out, "%9.3f", (double)m->rpm_ceiling / 60.0);
        else
            fprintf(out, "%9s", "-");
        fprintf(out, "%9s%6lld%5s %s\n", tok, m->window_requests,
                m->frozen_left_ms > 0 ? "yes" : "no", m->breaker);
    }
}

static void print_quota(const fq_ctl_fleet *f, const quota_view *q, FILE *out)
{
    char t[40];
    const state_view *all = &q->all;
    if (!q->present) {
        fprintf(out, LABEL "no figures yet: no worker has asked for a call\n", "quota");
        return;
    }
    fprintf(out, LABEL, "rate");
    if (q->rate_limiting != NULL && strcmp(q->rate_limiting, "off") == 0)
        fputs("limiting off (ENABLE_RATE_LIMITING=false)", out);
    else if (all->has_rate && all->rpm_ceiling > 0)
        fprintf(out, "%.3f calls/s (ceiling %lld/min = %.3f/s)", all->rate, all->rpm_ceiling,
                (double)all->rpm_ceiling / 60.0);
    else
        fputs("no ceiling (GROK_RATE_LIMIT_RPM=0)", out);
    fprintf(out, "; %lld call%s this minute\n", q->window_requests,
            q->window_requests == 1 ? "" : "s");
    fprintf(out, LABEL "%s\n", "limited per",
            q->by_model ? "model (FLEETQ_LIMIT_SCOPE=model; the rate above adds them up)"
                        : "key (FLEETQ_LIMIT_SCOPE=key: one rate for every model)");
    if (q->by_model && q->nmodels > 0)
        print_models(q, out);
    fprintf(out, LABEL "%lld call%s", "in flight", f->inflight, f->inflight == 1 ? "" : "s");
    if (f->running_by_role) {
        long long waiting = sum(f->waiting_quota);
        fprintf(out, "; %lld running task%s waiting for the quota", waiting,
                waiting == 1 ? "" : "s");
    }
    fputc('\n', out);
    if (all->frozen_left_ms > 0)
        fprintf(out, LABEL "yes, for %lld ms more (after a 429)\n", "frozen", all->frozen_left_ms);
    else
        fprintf(out, LABEL "no\n", "frozen");
    if (q->paused != NULL) {
        fprintf(out, LABEL, "paused");
        fq_ctl_put_field(out, q->paused->str, q->paused->len);
        if (q->paused_at_ms > 0)
            fprintf(out, " since %s", when(q->paused_at_ms, f->now_ms, t, sizeof(t)));
        fputs(" (fleetqctl resume lifts it)\n", out);
        if (q->pause_reason != NULL)
            print_wrapped(out, "", q->pause_reason->str, q->pause_reason->len, 3);
    } else {
        fprintf(out, LABEL "no\n", "paused");
    }
    fprintf(out, LABEL "%s", "breaker", all->breaker);
    if (all->breaker_left_ms > 0)
        fprintf(out, ", next probe in %.1f s", (double)all->breaker_left_ms / 1000.0);
    fprintf(out, " (%lld failure%s in a row)\n", all->breaker_failures,
            all->breaker_failures == 1 ? "" : "s");
    fprintf(out, LABEL, "budget");
    if (!q->has_budget)
        fputs("no figures yet\n", out);
    else if (q->cap > 0)
        fprintf(out, "$%.6f spent today (UTC) of $%.2f; $%.6f left\n", usd(q->spent),
                usd(q->cap), usd(budget_left(q)));
    else
        fprintf(out, "$%.6f spent today (UTC); no daily cap\n", usd(q->spent));
}

void fq_ctl_fleet_print(const fq_ctl *ctl, const fq_ctl_fleet *f, FILE *out)
{
    char t[40];
    quota_view q;
    view_quota(f, &q);
    fprintf(out, "fleetq at %.60s:%d/%d, %s\n\n", ctl->cfg.redis_host, ctl->cfg.redis_port,
            ctl->cfg.redis_db, fq_iso8601_ms(f->now_ms, t, sizeof(t)));
    print_table(f, out);
    fputc('\n', out);
    if (f->coord_host[0] != '\0') {
        /* within 80 columns: a long path shows its end */
        size_t n = strlen(f->coord_db);
        fprintf(out, LABEL "%.24s pid %s since %s\n", "coordinator", f->coord_host,
                f->coord_pid, f->coord_since);
        fprintf(out, LABEL "%s%s\n", "database", n > 66 ? "\xE2\x80\xA6" : "",
                f->coord_db + (n > 66 ? n - 65 : 0));
    } else
        fprintf(out, LABEL "none holds the fleet's lease (not running, or not connected)\n",
                "coordinator");
    fprintf(out, LABEL "%lld live", "workers", f->workers_live);
    if (f->workers_registered > f->workers_live)
        fprintf(out, ", %lld without a heartbeat for %d s", f->workers_registered -
                f->workers_live, f->lease_s);
    else if (f->workers_registered == 0)
        fputs(" (none has registered)", out);
    fputc('\n', out);
    fprintf(out, LABEL "%lld", "dead letters", f->dead);
    if (f->dead > 0)
        fputs(" (fleetqctl dead lists them)", out);
    fputc('\n', out);
    print_quota(f, &q, out);
    fprintf(out, LABEL "%lld hit%s, %lld miss%s, $%.6f saved; %lld answer%s held, %.1f KB\n",
            "cache", f->cache_hits, f->cache_hits == 1 ? "" : "s", f->cache_misses,
            f->cache_misses == 1 ? "" : "es", usd(f->cache_saved_ticks), f->cache_entries,
            f->cache_entries == 1 ? "" : "s", (double)f->cache_bytes / 1024.0);
}

/* ------------------------------------------------------------------------
 * JSON
 * --------------------------------------------------------------------- */

/* Adds a count, or null when it was not counted. */
static int add_count(cJSON *o, const char *name, int known, long long n)
{
    return (known ? cJSON_AddNumberToObject(o, name, (double)n)
                  : cJSON_AddNullToObject(o, name)) != NULL ? 0 : -1;
}

/* One row of the table. */
typedef struct row {
    long long queued;
    int delayed_known;
    long long delayed;
    int retrying_known;
    long long retrying;
    int running_known;
    long long running;
    int phase_known;             /* calling and waiting_quota */
    long long calling, waiting_quota;
    long long workers;
} row;

/* A row as an object: queued, delayed (of which retrying), running (of
 * which calling and waiting_quota), workers; a count not known is null. */
static int add_counts(cJSON *parent, const char *name, const row *r)
{
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    if (o == NULL)
        return -1;
    return add_count(o, "queued", 1, r->queued) |
           add_count(o, "delayed", r->delayed_known, r->delayed) |
           add_count(o, "retrying", r->retrying_known, r->retrying) |
           add_count(o, "running", r->running_known, r->running) |
           add_count(o, "calling", r->phase_known, r->calling) |
           add_count(o, "waiting_quota", r->phase_known, r->waiting_quota) |
           add_count(o, "workers", 1, r->workers);
}

static int add_time(cJSON *o, const char *name, long long ms)
{
    return add_count(o, name, ms > 0, ms);
}

static int add_usd(cJSON *o, const char *name, int known, long long ticks)
{
    return (known ? cJSON_AddNumberToObject(o, name, usd(ticks))
                  : cJSON_AddNullToObject(o, name)) != NULL ? 0 : -1;
}

static int add_reply_str(cJSON *o, const char *name, const redisReply *v)
{
    return fq_ctl_json_str(o, name, v ? v->str : NULL, v ? v->len : 0);
}

/* A state's figures: rate, ceilings, freeze, breaker, 429s. */
static int add_state_json(cJSON *o, const state_view *s)
{
    int bad = (s->has_rate ? cJSON_AddNumberToObject(o, "rate_per_s", s->rate)
                           : cJSON_AddNullToObject(o, "rate_per_s")) == NULL;
    bad |= add_count(o, "rpm_ceiling", s->rpm_ceiling >= 0, s->rpm_ceiling);
    bad |= add_count(o, "window_requests", 1, s->window_requests);
    bad |= cJSON_AddBoolToObject(o, "frozen", s->frozen_left_ms > 0) == NULL;
    bad |= add_count(o, "frozen_until_ms", 1, s->frozen_until_ms);
    bad |= cJSON_AddStringToObject(o, "breaker", s->breaker) == NULL;
    bad |= add_count(o, "breaker_failures", 1, s->breaker_failures);
    bad |= add_count(o, "decreases", 1, s->decreases);
    bad |= add_time(o, "last_429_ms", s->last_429_ms);
    return bad ? -1 : 0;
}

static int add_quota(cJSON *root, const fq_ctl_fleet *f, const quota_view *q)
{
    if (!q->present)
        return cJSON_AddNullToObject(root, "quota") != NULL &&
               cJSON_AddNullToObject(root, "budget") != NULL ? 0 : -1;
    cJSON *o = cJSON_AddObjectToObject(root, "quota");
    if (o == NULL)
        return -1;
    int bad = fq_ctl_json_str(o, "rate_limiting", q->rate_limiting,
                              q->rate_limiting ? strlen(q->rate_limiting) : 0);
    bad |= cJSON_AddStringToObject(o, "scope", q->by_model ? "model" : "key") == NULL;
    bad |= add_state_json(o, &q->all);
    bad |= add_count(o, "inflight", 1, f->inflight);
    bad |= add_reply_str(o, "paused", q->paused);
    bad |= add_reply_str(o, "pause_reason", q->pause_reason);
    bad |= add_time(o, "paused_at_ms", q->paused ? q->paused_at_ms : 0);
    bad |= add_time(o, "resumed_at_ms", q->resumed_at_ms);
    cJSON *models = cJSON_AddObjectToObject(o, "models");
    bad |= models == NULL;
    for (int i = 0; !bad && i < q->nmodels; i++) {
        const state_view *m = &q->models[i];
        char name[FQ_MODEL_NAME_MAX + 1];
        snprintf(name, sizeof(name), "%.*s", (int)m->name_len, m->name);
        cJSON *mo = cJSON_AddObjectToObject(models, name);
        bad |= mo == NULL || add_state_json(mo, m);
        bad = bad || add_count(mo, "tpm_ceiling", m->tpm_ceiling >= 0, m->tpm_ceiling) ||
              (m->token_rate >= 0 ? cJSON_AddNumberToObject(mo, "token_rate_per_min",
                                                            m->token_rate)
                                  : cJSON_AddNullToObject(mo, "token_rate_per_min")) == NULL ||
              add_count(mo, "rate_limited", 1, m->rate_limited) ||
              add_count(mo, "token_decreases", 1, m->token_decreases);
    }

    cJSON *b = cJSON_AddObjectToObject(root, "budget");
    if (b == NULL)
        return -1;
    bad |= add_usd(b, "spent_usd", q->has_budget, q->spent);
    bad |= add_usd(b, "reserved_usd", q->has_budget, q->reserved);
    bad |= add_usd(b, "cap_usd", q->cap > 0, q->cap);
    bad |= add_usd(b, "left_usd", q->cap > 0, budget_left(q));
    return bad ? -1 : 0;
}

/* "coordinator": the lease's holder, or null when none holds it. */
static int add_coordinator(cJSON *root, const fq_ctl_fleet *f)
{
    if (f->coord_host[0] == '\0')
        return cJSON_AddNullToObject(root, "coordinator") == NULL ? -1 : 0;
    cJSON *o = cJSON_AddObjectToObject(root, "coordinator");
    return o == NULL || cJSON_AddStringToObject(o, "host", f->coord_host) == NULL ||
           add_count(o, "pid", 1, atoll(f->coord_pid)) ||
           cJSON_AddStringToObject(o, "since", f->coord_since) == NULL ||
           cJSON_AddStringToObject(o, "db", f->coord_db) == NULL ||
           cJSON_AddStringToObject(o, "fleet", f->coord_fleet) == NULL ||
           add_count(o, "renewed_ms_ago", 1, f->coord_silent_ms);
}

cJSON *fq_ctl_fleet_json(const fq_ctl *ctl, const fq_ctl_fleet *f)
{
    char t[40];
    quota_view q;
    view_quota(f, &q);
    cJSON *root = cJSON_CreateObject();
    if (root == NULL)
        return NULL;
    int bad = cJSON_AddStringToObject(root, "time", fq_iso8601_ms(f->now_ms, t, sizeof(t))) ==
              NULL;
    bad |= add_count(root, "now_ms", 1, f->now_ms);
    cJSON *roles = cJSON_AddObjectToObject(root, "roles");
    bad |= roles == NULL;
    int dk = f->delayed_by_role, rk = f->running_by_role;
    for (int i = 0; !bad && i < FQ_ROLE_COUNT; i++) {
        row r = {f->queued[i], dk, f->delayed[i], dk, f->retrying[i], rk, f->running[i], rk,
                 f->calling[i], f->waiting_quota[i], f->workers[i]};
        bad |= add_counts(roles, fq_role_name((fq_role)i), &r);
    }
    row all = {f->queued_all, 1, f->delayed_all, dk, sum(f->retrying), 1, f->running_all, rk,
               sum(f->calling), sum(f->waiting_quota), f->workers_live};
    bad = bad || add_counts(root, "all", &all);
    cJSON *w = bad ? NULL : cJSON_AddObjectToObject(root, "workers");
    bad |= w == NULL;
    bad = bad || add_count(w, "live", 1, f->workers_live) ||
          add_count(w, "registered", 1, f->workers_registered) ||
          add_count(w, "lease_seconds", 1, f->lease_s);
    bad = bad || add_count(root, "dead", 1, f->dead) || add_quota(root, f, &q);
    bad = bad || add_coordinator(root, f);
    cJSON *cache = bad ? NULL : cJSON_AddObjectToObject(root, "cache");
    bad |= cache == NULL;
    bad = bad || add_count(cache, "hits", 1, f->cache_hits) ||
          add_count(cache, "misses", 1, f->cache_misses) ||
          add_usd(cache, "saved_usd", 1, f->cache_saved_ticks) ||
          add_count(cache, "entries", 1, f->cache_entries) ||
          add_count(cache, "bytes", 1, f->cache_bytes);
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
