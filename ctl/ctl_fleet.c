/* ctl_fleet.c -- the figures `fleetqctl status` and `fleetqctl watch` show:
 * the fleet's queues, workers, dead letters, quota and budget, taken as one
 * snapshot and written as an aligned text screen or as JSON.
 *
 * The snapshot is ctl/lua/fleet.lua's (one round trip, one consistent
 * moment, on Redis' clock): per role the ready queue, the delayed set
 * (delayed and retrying tasks), the leases (running tasks) and the live
 * workers, plus the dead letters, the calls in flight and fleetq:quota as
 * it stands. A worker is live when its heartbeat in the registry is at most
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
#include "record.h"

#define BY_ROLE_LIMIT 5000      /* most members of a set counted by role */
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
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 11)
        return -1;
    redisReply *const *e = r->element;
    if (!is_int(e[0]) || !is_array(e[1], FQ_ROLE_COUNT) || !is_int(e[2]) || !is_int(e[3]) ||
        !is_int(e[4]) || !(is_array(e[5], 0) || is_array(e[5], 2 * FQ_ROLE_COUNT)) ||
        !(is_array(e[6], 0) || is_array(e[6], FQ_ROLE_COUNT)) ||
        !is_array(e[7], FQ_ROLE_COUNT + 2) || !is_int(e[8]) ||
        e[9]->type != REDIS_REPLY_ARRAY || e[10]->type != REDIS_REPLY_STRING ||
        e[10]->len >= sizeof(f->events_last))
        return -1;
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
        if (f->running_by_role)
            f->running[i] = e[6]->element[i]->integer;
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

int fq_ctl_fleet_gather(fq_ctl *ctl, fq_ctl_fleet *f)
{
    char key[FQ_KEY_MAX];
    memset(f, 0, sizeof(*f));
    f->lease_s = ctl->cfg.lease_s;
    fq_argv a;
    fq_argv_init(&a);
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(&a, fq_key_ready((fq_role)role, key, sizeof(key)));
    fq_argv_adds(&a, FQ_KEY_DELAYED);
    fq_argv_adds(&a, FQ_KEY_LEASES);
    fq_argv_adds(&a, FQ_KEY_DEAD);
    fq_argv_adds(&a, FQ_KEY_WORKERS);
    fq_argv_adds(&a, FQ_KEY_INFLIGHT);
    fq_argv_adds(&a, FQ_KEY_QUOTA);
    fq_argv_adds(&a, FQ_KEY_EVENTS);
    fq_argv_addll(&a, (long long)f->lease_s * 1000);
    int bad = fq_argv_addll(&a, BY_ROLE_LIMIT) != 0;
    redisReply *r = bad ? NULL : fq_ctl_script(ctl, "fleet", FQ_ROLE_COUNT + 7, &a);
    fq_argv_free(&a);
    if (bad) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    if (r == NULL)
        return -1;
    f->reply = r;
    if (take(f, r) != 0) {
        fq_ctl_errorf("fleet.lua answered with something unexpected; is this fleetqctl as "
                      "new as the fleet?");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    return 0;
}

void fq_ctl_fleet_free(fq_ctl_fleet *f)
{
    if (f->reply != NULL)
        freeReplyObject(f->reply);
    f->reply = NULL;
    f->quota = NULL;
}

long long fq_ctl_fleet_outstanding(const fq_ctl_fleet *f)
{
    return f->queued_all + f->delayed_all + f->running_all;
}

/* ------------------------------------------------------------------------
 * fleetq:quota read against the snapshot's clock
 * --------------------------------------------------------------------- */

typedef struct quota_view {
    int present;                 /* the hash has anything at all */
    const char *rate_limiting;   /* "on", "off", NULL when unknown */
    const redisReply *rate;      /* rate_per_s, NULL when none */
    long long rpm_ceiling;       /* -1 when none */
    long long window_requests;   /* this minute's calls */
    long long frozen_until_ms;
    long long frozen_left_ms;    /* 0 when not frozen */
    const redisReply *paused;    /* NULL when not paused */
    const redisReply *pause_reason;
    long long paused_at_ms;      /* -1 when unknown */
    long long resumed_at_ms;     /* -1 when never */
    const char *breaker;         /* "closed", "open", "half_open" */
    long long breaker_failures;
    long long breaker_left_ms;   /* open: until the next probe */
    int has_budget;              /* a ledger exists */
    long long spent, reserved;   /* ticks, today */
    long long cap;               /* ticks, 0 = no cap */
} quota_view;

static const redisReply *nonempty(const redisReply *v)
{
    return v != NULL && v->len > 0 ? v : NULL;
}

static void view_quota(const fq_ctl_fleet *f, quota_view *q)
{
    const redisReply *h = f->quota;
    long long now = f->now_ms;
    memset(q, 0, sizeof(*q));
    q->present = h != NULL && h->elements > 0;
    const redisReply *v = fq_ctl_hash_get(h, "rate_limiting");
    q->rate_limiting = v ? v->str : NULL;
    q->rate = nonempty(fq_ctl_hash_get(h, "rate_per_s"));
    q->rpm_ceiling = fq_ctl_hash_ll(h, "rpm_ceiling", -1);
    if (fq_ctl_hash_ll(h, "window_minute", -1) == now / 60000)
        q->window_requests = fq_ctl_hash_ll(h, "window_requests", 0);
    q->frozen_until_ms = fq_ctl_hash_ll(h, "frozen_until_ms", 0);
    q->frozen_left_ms = q->frozen_until_ms > now ? q->frozen_until_ms - now : 0;
    q->paused = nonempty(fq_ctl_hash_get(h, "paused"));
    q->pause_reason = nonempty(fq_ctl_hash_get(h, "pause_reason"));
    q->paused_at_ms = fq_ctl_hash_ll(h, "paused_at_ms", -1);
    q->resumed_at_ms = fq_ctl_hash_ll(h, "resumed_at_ms", -1);
    v = nonempty(fq_ctl_hash_get(h, "breaker"));
    q->breaker = v ? v->str : "closed";
    q->breaker_failures = fq_ctl_hash_ll(h, "breaker_failures", 0);
    long long open_until = fq_ctl_hash_ll(h, "breaker_open_until_ms", 0);
    if (strcmp(q->breaker, "closed") != 0 && open_until > now)
        q->breaker_left_ms = open_until - now;
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

static void print_table(const fq_ctl_fleet *f, FILE *out)
{
    fprintf(out, "%-8s%10s%10s%10s%10s%10s\n", "ROLE", "QUEUED", "DELAYED", "RETRYING",
            "RUNNING", "WORKERS");
    long long retrying_all = 0;
    for (int i = 0; i < FQ_ROLE_COUNT; i++) {
        fprintf(out, "%-8s", fq_role_name((fq_role)i));
        cell(out, 1, f->queued[i]);
        cell(out, f->delayed_by_role, f->delayed[i]);
        cell(out, f->delayed_by_role, f->retrying[i]);
        cell(out, f->running_by_role, f->running[i]);
        cell(out, 1, f->workers[i]);
        fputc('\n', out);
        retrying_all += f->retrying[i];
    }
    fprintf(out, "%-8s", "all");
    cell(out, 1, f->queued_all);
    cell(out, 1, f->delayed_all);
    cell(out, f->delayed_by_role, retrying_all);
    cell(out, 1, f->running_all);
    cell(out, 1, f->workers_live);
    fputc('\n', out);
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

static void print_quota(const fq_ctl_fleet *f, const quota_view *q, FILE *out)
{
    char t[40];
    if (!q->present) {
        fprintf(out, LABEL "no figures yet: no worker has asked for a call\n", "quota");
        return;
    }
    fprintf(out, LABEL, "rate");
    if (q->rate_limiting != NULL && strcmp(q->rate_limiting, "off") == 0)
        fputs("limiting off (ENABLE_RATE_LIMITING=false)", out);
    else if (q->rate != NULL && q->rpm_ceiling > 0)
        fprintf(out, "%.3f calls/s (ceiling %lld/min = %.3f/s)", atof(q->rate->str),
                q->rpm_ceiling, (double)q->rpm_ceiling / 60.0);
    else
        fputs("no ceiling (GROK_RATE_LIMIT_RPM=0)", out);
    fprintf(out, "; %lld call%s this minute\n", q->window_requests,
            q->window_requests == 1 ? "" : "s");
    fprintf(out, LABEL "%lld call%s\n", "in flight", f->inflight, f->inflight == 1 ? "" : "s");
    if (q->frozen_left_ms > 0)
        fprintf(out, LABEL "yes, for %lld ms more (after a 429)\n", "frozen", q->frozen_left_ms);
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
    fprintf(out, LABEL "%s", "breaker", q->breaker);
    if (q->breaker_left_ms > 0)
        fprintf(out, ", next probe in %.1f s", (double)q->breaker_left_ms / 1000.0);
    fprintf(out, " (%lld failure%s in a row)\n", q->breaker_failures,
            q->breaker_failures == 1 ? "" : "s");
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

/* One row of the table: queued, delayed (of which retrying), running,
 * workers; a count not known is null. */
static int add_counts(cJSON *parent, const char *name, long long queued, int delayed_known,
                      long long delayed, int retrying_known, long long retrying,
                      int running_known, long long running, long long workers)
{
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    if (o == NULL)
        return -1;
    return add_count(o, "queued", 1, queued) | add_count(o, "delayed", delayed_known, delayed) |
           add_count(o, "retrying", retrying_known, retrying) |
           add_count(o, "running", running_known, running) | add_count(o, "workers", 1, workers);
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
    bad |= (q->rate ? cJSON_AddNumberToObject(o, "rate_per_s", atof(q->rate->str))
                    : cJSON_AddNullToObject(o, "rate_per_s")) == NULL;
    bad |= add_count(o, "rpm_ceiling", q->rpm_ceiling >= 0, q->rpm_ceiling);
    bad |= add_count(o, "window_requests", 1, q->window_requests);
    bad |= add_count(o, "inflight", 1, f->inflight);
    bad |= cJSON_AddBoolToObject(o, "frozen", q->frozen_left_ms > 0) == NULL;
    bad |= add_count(o, "frozen_until_ms", 1, q->frozen_until_ms);
    bad |= add_reply_str(o, "paused", q->paused);
    bad |= add_reply_str(o, "pause_reason", q->pause_reason);
    bad |= add_time(o, "paused_at_ms", q->paused ? q->paused_at_ms : 0);
    bad |= add_time(o, "resumed_at_ms", q->resumed_at_ms);
    bad |= cJSON_AddStringToObject(o, "breaker", q->breaker) == NULL;
    bad |= add_count(o, "breaker_failures", 1, q->breaker_failures);
    bad |= add_count(o, "decreases", 1, fq_ctl_hash_ll(f->quota, "decreases", 0));
    bad |= add_time(o, "last_429_ms", fq_ctl_hash_ll(f->quota, "last_429_ms", 0));

    cJSON *b = cJSON_AddObjectToObject(root, "budget");
    if (b == NULL)
        return -1;
    bad |= add_usd(b, "spent_usd", q->has_budget, q->spent);
    bad |= add_usd(b, "reserved_usd", q->has_budget, q->reserved);
    bad |= add_usd(b, "cap_usd", q->cap > 0, q->cap);
    bad |= add_usd(b, "left_usd", q->cap > 0, budget_left(q));
    return bad ? -1 : 0;
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
    long long retrying_all = 0;
    for (int i = 0; !bad && i < FQ_ROLE_COUNT; i++) {
        int by_role = f->delayed_by_role;
        bad |= add_counts(roles, fq_role_name((fq_role)i), f->queued[i], by_role, f->delayed[i],
                          by_role, f->retrying[i], f->running_by_role, f->running[i],
                          f->workers[i]);
        retrying_all += f->retrying[i];
    }
    bad = bad || add_counts(root, "all", f->queued_all, 1, f->delayed_all, f->delayed_by_role,
                            retrying_all, 1, f->running_all, f->workers_live);
    cJSON *w = bad ? NULL : cJSON_AddObjectToObject(root, "workers");
    bad |= w == NULL;
    bad = bad || add_count(w, "live", 1, f->workers_live) ||
          add_count(w, "registered", 1, f->workers_registered) ||
          add_count(w, "lease_seconds", 1, f->lease_s);
    bad = bad || add_count(root, "dead", 1, f->dead) || add_quota(root, f, &q);
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
