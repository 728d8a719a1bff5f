/* metrics.c -- reads the fleet's figures into a snapshot (metrics.h);
 * metrics_render.c turns a snapshot into the Prometheus text format.
 *
 * DESIGN
 * This code runs on the snapshot thread (snapshot.c), never on the
 * coordinator's loop, so it owns every connection it uses and keeps each
 * one for one reading: a synchronous hiredis connection with 1 s timeouts
 * (a dead or stalled Redis delays a reading about a second, never a
 * request or the loop)
 * and a read-only SQLite connection with a 1 s busy timeout. Redis is read
 * in a few round trips: PING (timed), then TIME, the queue sizes, the quota
 * hash and the metrics hash in one pipeline, then the live workers (by
 * TIME) and the roles of delayed tasks (pipelined HGETs).
 *
 * The metrics hash holds one counter per histogram bucket (not cumulative,
 * so a worker adds one number per observation); rendering adds them up.
 * Its buckets are whatever the scripts wrote, merged with the default
 * bounds below so that a scrape before the first observation already shows
 * the full set; keep the defaults in step with finish.lua and claim.lua.
 */
#include "metrics.h"
#include "quota.h"
#include "record.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "cost.h"
#include "fq_shared.h"
#include "keys.h"
#include "redis.h"
#include "redis_sync.h"

#define IO_TIMEOUT_MS 1000
#define DELAYED_BATCH 500


const char *const fq_metrics_token_kinds[FQ_TOKENS_KINDS] = {"prompt", "completion",
                                                             "reasoning", "cached"};

/* ========================================================================
 * Small helpers
 * ===================================================================== */

static void set_error(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, FQ_METRICS_ERR_MAX, fmt, ap);
    va_end(ap);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A flat [name, value, ...] reply as fields (malloc'd; *n set). */
static fq_field *reply_fields(const redisReply *r, size_t *n)
{
    size_t max = r != NULL && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    fq_field *f = calloc(max + 1, sizeof(*f));
    *n = f != NULL ? fq_reply_fields(r, f, max) : 0;
    return f;
}

/* A field's value as a NUL-terminated string in buf ("" when absent). */
static const char *field_str(const fq_field *f, size_t n, const char *name, char *buf,
                             size_t len)
{
    const fq_field *v = fq_fields_find(f, n, name);
    size_t k = v ? v->value_len : 0;
    if (k >= len)
        k = len - 1;
    if (k > 0)
        memcpy(buf, v->value, k);
    buf[k] = '\0';
    return buf;
}

static double field_double(const fq_field *f, size_t n, const char *name, double def)
{
    char buf[64], *end;
    field_str(f, n, name, buf, sizeof(buf));
    if (buf[0] == '\0')
        return def;
    double v = strtod(buf, &end);
    return *end == '\0' && isfinite(v) ? v : def;
}

static int count_add(fq_metrics_count **arr, size_t *n, const char *a, size_t alen,
                     const char *b, size_t blen, int64_t v)
{
    fq_metrics_count *grown = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (grown == NULL)
        return -1;
    *arr = grown;
    fq_metrics_count *c = &grown[*n];
    c->a = strndup(a, alen);
    c->b = strndup(b, blen);
    c->n = v;
    if (c->a == NULL || c->b == NULL) {
        free(c->a);
        free(c->b);
        return -1;
    }
    (*n)++;
    return 0;
}

void fq_metrics_count_free(fq_metrics_count *arr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(arr[i].a);
        free(arr[i].b);
    }
    free(arr);
}

/* The buckets the scripts count in (shared.def, in ms), in seconds. */
static void hist_init(fq_metrics_hist *h, const long long *bounds_ms, int n)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < n && i < FQ_METRICS_MAX_BUCKETS; i++)
        h->le[h->nbuckets++] = (double)bounds_ms[i] / 1000.0;
}

/* Adds v observations to the bucket with upper bound `bound` (text), which
 * is inserted in order when new. +Inf is implied by the count. */
static void hist_add(fq_metrics_hist *h, const char *bound, size_t len, int64_t v)
{
    char buf[32], *end;
    if (len == 0 || len >= sizeof(buf))
        return;
    memcpy(buf, bound, len);
    buf[len] = '\0';
    double le = strtod(buf, &end);
    if (*end != '\0' || !isfinite(le))
        return;
    int i = 0;
    while (i < h->nbuckets && h->le[i] < le && fabs(h->le[i] - le) > 1e-9)
        i++;
    if (i < h->nbuckets && fabs(h->le[i] - le) <= 1e-9) {
        h->in[i] += v;
        return;
    }
    if (h->nbuckets == FQ_METRICS_MAX_BUCKETS)
        return;
    memmove(&h->le[i + 1], &h->le[i], (size_t)(h->nbuckets - i) * sizeof(h->le[0]));
    memmove(&h->in[i + 1], &h->in[i], (size_t)(h->nbuckets - i) * sizeof(h->in[0]));
    h->le[i] = le;
    h->in[i] = v;
    h->nbuckets++;
}

/* Reads "<name>_le:<bound>", "<name>_sum_ms" and "<name>_count". Returns 1
 * when the field belonged to this histogram. */
static int hist_field(fq_metrics_hist *h, const char *name, const fq_field *f, int64_t v)
{
    size_t nl = strlen(name);
    if (f->name_len <= nl + 1 || memcmp(f->name, name, nl) != 0 || f->name[nl] != '_')
        return 0;
    const char *rest = f->name + nl + 1;
    size_t rlen = f->name_len - nl - 1;
    if (rlen > 3 && memcmp(rest, "le:", 3) == 0)
        hist_add(h, rest + 3, rlen - 3, v);
    else if (rlen == 6 && memcmp(rest, "sum_ms", 6) == 0)
        h->sum_ms = v;
    else if (rlen == 5 && memcmp(rest, "count", 5) == 0)
        h->count = v;
    else
        return 0;
    return 1;
}

/* ========================================================================
 * Redis
 * ===================================================================== */

static int redis_fail(fq_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int redis_fail(fq_metrics *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->redis_error, sizeof(m->redis_error), fmt, ap);
    va_end(ap);
    m->redis_ok = 0;
    return -1;
}

/* Why the connection failed, in words: hiredis reports a read timeout as
 * the errno text of EAGAIN. */
static const char *redis_why(const redisContext *c)
{
    if (!c->err)
        return "no reply";
    if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
        return "no answer within 1 s (Redis stalled or overloaded?)";
    return c->errstr;
}

static redisContext *redis_open(fq_metrics *m, const fq_config *cfg)
{
    char err[sizeof(m->redis_error)];
    redisContext *c = fq_redis_connect_sync(cfg, IO_TIMEOUT_MS, IO_TIMEOUT_MS, NULL, err,
                                            sizeof(err));
    if (c == NULL)
        redis_fail(m, "%s", err);
    return c;
}

/* Reads n pipelined replies into rs (all NULL on failure). */
static int get_replies(fq_metrics *m, redisContext *c, redisReply **rs, int n)
{
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            for (int k = 0; k < i; k++) {
                freeReplyObject(rs[k]);
                rs[k] = NULL;
            }
            return redis_fail(m, "Redis stopped answering: %s",
                              redis_why(c));
        }
        rs[i] = r;
    }
    return 0;
}

/* The rate, freeze and breaker of one state of the quota. */
static void read_state(const fq_field *f, size_t n, int64_t now_ms, double default_ceiling,
                       fq_metrics_model *s)
{
    double rpm = field_double(f, n, "rpm_ceiling", -1);
    s->ceiling_per_s = rpm >= 0 ? rpm / 60.0 : default_ceiling;
    s->rate_per_s = field_double(f, n, "rate_per_s", s->ceiling_per_s);
    s->token_rate_per_min = field_double(f, n, "tpm_rate", -1);
    s->tpm_ceiling = fq_fields_int(f, n, "tpm_ceiling", 0);
    s->frozen = now_ms < fq_fields_int(f, n, "frozen_until_ms", 0);
    field_str(f, n, "breaker", s->breaker, sizeof(s->breaker));
    if (s->breaker[0] == '\0')
        snprintf(s->breaker, sizeof(s->breaker), "closed");
    s->decreases = fq_fields_int(f, n, "decreases", 0);
    s->rate_limited = fq_fields_int(f, n, "rate_limited", 0);
    s->breaker_opened = fq_fields_int(f, n, "breaker_opened", 0);
}

/* The fleet's figures from its states: rates and counts add up, the worst
 * breaker and any freeze stand for all. */
static void sum_states(fq_metrics *m)
{
    m->rate_per_s = m->ceiling_per_s = 0;
    m->frozen = 0;
    m->decreases = m->rate_limited = m->breaker_opened = 0;
    snprintf(m->breaker, sizeof(m->breaker), "closed");
    for (int i = 0; i < m->nmodels; i++) {
        const fq_metrics_model *s = &m->models[i];
        m->rate_per_s += s->rate_per_s;
        m->ceiling_per_s += s->ceiling_per_s;
        m->frozen |= s->frozen;
        m->decreases += s->decreases;
        m->rate_limited += s->rate_limited;
        m->breaker_opened += s->breaker_opened;
        if (fq_quota_breaker_rank(s->breaker) > fq_quota_breaker_rank(m->breaker))
            snprintf(m->breaker, sizeof(m->breaker), "%s", s->breaker);
    }
}

static int read_quota(fq_metrics *m, const fq_config *cfg, const redisReply *hash)
{
    size_t n;
    fq_field *f = reply_fields(hash, &n);
    if (f == NULL)
        return redis_fail(m, "out of memory reading %s", fq_keys()->quota);
    char scope[16];
    field_str(f, n, "scope", scope, sizeof(scope));
    m->by_model = scope[0] == '\0' ? cfg->limit_scope == FQ_SCOPE_MODEL
                                    : strcmp(scope, "key") != 0;
    double ceiling = (double)cfg->rate_limit_rpm / 60.0;
    if (!m->by_model) {
        m->nmodels = 1;
        read_state(f, n, m->now_ms, ceiling, &m->models[0]);
    }
    sum_states(m);
    if (m->by_model && m->nmodels == 0)
        m->rate_per_s = m->ceiling_per_s = ceiling;   /* no model has called yet */
    field_str(f, n, "paused", m->paused, sizeof(m->paused));
    field_str(f, n, "pause_reason", m->pause_reason, sizeof(m->pause_reason));
    m->inflight = fq_fields_int(f, n, "inflight", 0);
    /* The ledger is today's only if a worker has touched it today (UTC). */
    if (fq_fields_int(f, n, "budget_day", -1) == m->now_ms / 86400000) {
        m->spent_ticks = fq_fields_int(f, n, "budget_spent_ticks", 0);
        m->reserved_ticks = fq_fields_int(f, n, "budget_reserved_ticks", 0);
    }
    m->cap_ticks = fq_fields_int(f, n, "budget_cap_ticks", cfg->daily_budget_ticks);
    if (m->cap_ticks < 0)
        m->cap_ticks = 0;
    free(f);
    return 0;
}

/* With the scope `model`: the state of each model of the registry. */
static int read_models(fq_metrics *m, const fq_config *cfg, redisContext *c)
{
    redisReply *names = redisCommand(c, "ZREVRANGE %s 0 %d", fq_keys()->models,
                                     FQ_METRICS_MODELS_MAX - 1);
    if (names == NULL)
        return redis_fail(m, "Redis stopped answering: %s", redis_why(c));
    int rc = 0;
    size_t k = names->type == REDIS_REPLY_ARRAY ? names->elements : 0;
    for (size_t i = 0; i < k; i++)
        redisAppendCommand(c, "HGETALL %s:%b", fq_keys()->quota, names->element[i]->str,
                           names->element[i]->len);
    for (size_t i = 0; i < k; i++) {
        redisReply *h = NULL;
        if (redisGetReply(c, (void **)&h) != REDIS_OK || h == NULL) {
            rc = redis_fail(m, "Redis stopped answering: %s", redis_why(c));
            break;
        }
        size_t n;
        fq_field *f = reply_fields(h, &n);
        if (f != NULL && m->nmodels < FQ_METRICS_MODELS_MAX) {
            fq_metrics_model *s = &m->models[m->nmodels++];
            snprintf(s->name, sizeof(s->name), "%.*s", (int)names->element[i]->len,
                     names->element[i]->str);
            read_state(f, n, m->now_ms, (double)cfg->rate_limit_rpm / 60.0, s);
        }
        free(f);
        freeReplyObject(h);
    }
    freeReplyObject(names);
    if (rc == 0 && m->nmodels > 0)
        sum_states(m);
    return rc;
}

static int field_is(const fq_field *f, const char *name)
{
    return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0;
}

static int read_counters(fq_metrics *m, const redisReply *hash)
{
    size_t nf;
    fq_field *f = reply_fields(hash, &nf);
    if (f == NULL)
        return redis_fail(m, "out of memory reading %s", fq_keys()->metrics);
    for (size_t i = 0; i < nf; i++) {
        char num[32];
        size_t vl = f[i].value_len < sizeof(num) ? f[i].value_len : sizeof(num) - 1;
        memcpy(num, f[i].value, vl);
        num[vl] = '\0';
        int64_t v = strtoll(num, NULL, 10);
        const char *name = f[i].name;
        size_t len = f[i].name_len;
        if (len > 6 && memcmp(name, "calls:", 6) == 0) {
            const char *code = name + 6, *colon = memchr(code, ':', len - 6);
            if (colon != NULL &&
                count_add(&m->calls, &m->ncalls, code, (size_t)(colon - code), colon + 1,
                          len - (size_t)(colon + 1 - name), v) != 0) {
                free(f);
                return redis_fail(m, "out of memory reading %s", fq_keys()->metrics);
            }
        } else if (len > 7 && memcmp(name, "tokens:", 7) == 0) {
            for (int k = 0; k < FQ_TOKENS_KINDS; k++)
                if (len - 7 == strlen(fq_metrics_token_kinds[k]) &&
                    memcmp(name + 7, fq_metrics_token_kinds[k], len - 7) == 0)
                    m->tokens[k] = v;
        } else if (len == 10 && memcmp(name, "cost_ticks", 10) == 0) {
            m->cost_ticks = v;
        } else if (field_is(&f[i], "usage_estimated")) {
            m->usage_estimated = v;
        } else if (field_is(&f[i], "cache:hits")) {
            m->cache_hits = v;
        } else if (field_is(&f[i], "cache:misses")) {
            m->cache_misses = v;
        } else if (field_is(&f[i], "cache:saved_ticks")) {
            m->cache_saved_ticks = v;
        } else if (!hist_field(&m->latency, "latency", &f[i], v) &&
                   !hist_field(&m->ttft, "ttft", &f[i], v)) {
            hist_field(&m->wait, "wait", &f[i], v);
        }
    }
    free(f);
    return 0;
}

static void read_workers(fq_metrics *m, const redisReply *list)
{
    if (list == NULL || list->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        const char *colon = memrchr(e->str, ':', e->len);
        const char *role = colon ? colon + 1 : e->str;
        int r = fq_role_parse(role, e->len - (size_t)(role - e->str));
        if (r >= 0)
            m->workers[r]++;
    }
}

/* Counts the tasks of the set key per role into counts, into retrying
 * (when not NULL) those that have been tried before, and into phases
 * (when not NULL) those calling the API and those waiting for the quota
 * (the phase quota.lua marks), from their hashes, pipelined. */
static int read_roles(fq_metrics *m, redisContext *c, const char *key, int64_t *counts,
                      int64_t *retrying, int64_t *calling, int64_t *waiting_quota)
{
    redisReply *ids = redisCommand(c, "ZRANGE %s 0 %d", key, FQ_METRICS_DELAYED_SCAN - 1);
    if (ids == NULL)
        return redis_fail(m, "Redis stopped answering: %s", redis_why(c));
    int rc = 0;
    for (size_t at = 0; ids->type == REDIS_REPLY_ARRAY && at < ids->elements && rc == 0;
         at += DELAYED_BATCH) {
        size_t end = at + DELAYED_BATCH < ids->elements ? at + DELAYED_BATCH : ids->elements;
        for (size_t i = at; i < end; i++) {
            char task[FQ_KEY_MAX];
            const redisReply *id = ids->element[i];
            redisAppendCommand(c, "HMGET %s role attempts phase",
                               fq_key_task(id->type == REDIS_REPLY_STRING ? id->str : "", task,
                                           sizeof(task)));
        }
        for (size_t i = at; i < end; i++) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
                rc = redis_fail(m, "Redis stopped answering: %s", redis_why(c));
                break;
            }
            const redisReply *h = r;
            const redisReply *role = h->type == REDIS_REPLY_ARRAY && h->elements == 3
                                         ? h->element[0] : NULL;
            int k = role != NULL && role->type == REDIS_REPLY_STRING
                        ? fq_role_parse(role->str, role->len) : -1;
            if (k >= 0) {
                const redisReply *phase = h->element[2];
                int known = phase->type == REDIS_REPLY_STRING;
                counts[k]++;
                if (retrying != NULL && fq_reply_int(h->element[1], 0) > 0)
                    retrying[k]++;
                if (calling != NULL && known &&
                    strcmp(phase->str, fq_task_phases[FQ_PHASE_CALLING]) == 0)
                    calling[k]++;
                if (waiting_quota != NULL && known &&
                    strcmp(phase->str, fq_task_phases[FQ_PHASE_QUOTA]) == 0)
                    waiting_quota[k]++;
            }
            freeReplyObject(r);
        }
    }
    freeReplyObject(ids);
    return rc;
}

enum {
    R_TIME = 0,
    R_READY,                          /* FQ_ROLE_COUNT of them */
    R_DELAYED = R_READY + FQ_ROLE_COUNT,
    R_LEASES,
    R_DEAD,
    R_BACKLOG,
    R_QUOTA,
    R_METRICS,
    R_CACHE_ENTRIES,
    R_CACHE_BYTES,
    R_COUNT
};

static int read_redis(fq_metrics *m, const fq_config *cfg, int what)
{
    redisReply *rs[R_COUNT] = {0};
    redisContext *c = redis_open(m, cfg);
    if (c == NULL)
        return -1;
    int rc = -1;
    int64_t t0 = mono_us();
    redisReply *pong = redisCommand(c, "PING");
    if (pong == NULL || pong->type == REDIS_REPLY_ERROR) {
        redis_fail(m, "Redis at %s:%d did not answer PING: %s", cfg->redis_host,
                   cfg->redis_port, pong ? pong->str : redis_why(c));
        goto out;
    }
    m->redis_latency_ms = (double)(mono_us() - t0) / 1000.0;

    redisAppendCommand(c, "TIME");
    for (int r = 0; r < FQ_ROLE_COUNT; r++)
        redisAppendCommand(c, "ZCARD %s", fq_keys()->ready[r]);
    redisAppendCommand(c, "ZCARD %s", fq_keys()->delayed);
    redisAppendCommand(c, "ZCARD %s", fq_keys()->leases);
    redisAppendCommand(c, "ZCARD %s", fq_keys()->dead);
    redisAppendCommand(c, "XLEN %s", fq_keys()->results);
    redisAppendCommand(c, "HGETALL %s", fq_keys()->quota);
    redisAppendCommand(c, what != FQ_METRICS_HEALTH ? "HGETALL %s" : "EXISTS %s",
                       fq_keys()->metrics);
    redisAppendCommand(c, "HLEN %s", fq_keys()->cache);
    redisAppendCommand(c, "HGET %s bytes", fq_keys()->cache_meta);
    if (get_replies(m, c, rs, R_COUNT) != 0)
        goto out;

    const redisReply *t = rs[R_TIME];
    if (t->type != REDIS_REPLY_ARRAY || t->elements != 2) {
        redis_fail(m, "Redis answered TIME with something else than two numbers");
        goto out;
    }
    m->now_ms = fq_reply_int(t->element[0], 0) * 1000 + fq_reply_int(t->element[1], 0) / 1000;
    for (int r = 0; r < FQ_ROLE_COUNT; r++)
        m->queued[r] = fq_reply_int(rs[R_READY + r], 0);
    m->delayed_total = fq_reply_int(rs[R_DELAYED], 0);
    m->running = fq_reply_int(rs[R_LEASES], 0);
    m->dead = fq_reply_int(rs[R_DEAD], 0);
    m->backlog = fq_reply_int(rs[R_BACKLOG], 0);
    m->cache_entries = fq_reply_int(rs[R_CACHE_ENTRIES], 0);
    m->cache_bytes = fq_reply_int(rs[R_CACHE_BYTES], 0);
    if (read_quota(m, cfg, rs[R_QUOTA]) != 0 || (m->by_model && read_models(m, cfg, c) != 0))
        goto out;
    if (what != FQ_METRICS_HEALTH && read_counters(m, rs[R_METRICS]) != 0)
        goto out;

    /* Live: a heartbeat within the lease time (heartbeat.lua). */
    redisReply *live = redisCommand(c, "ZRANGEBYSCORE %s %lld +inf", fq_keys()->workers,
                                    (long long)(m->now_ms - (int64_t)cfg->lease_s * 1000));
    if (live == NULL) {
        redis_fail(m, "Redis stopped answering: %s", redis_why(c));
        goto out;
    }
    read_workers(m, live);
    freeReplyObject(live);
    if ((m->delayed_total > 0 &&
         read_roles(m, c, fq_keys()->delayed, m->delayed, m->retrying, NULL, NULL) != 0) ||
        (m->running > 0 && read_roles(m, c, fq_keys()->leases, m->running_role, NULL,
                                      m->calling_role, m->waiting_quota_role) != 0))
        goto out;
    m->redis_ok = 1;
    rc = 0;
out:
    if (pong != NULL)
        freeReplyObject(pong);
    for (int i = 0; i < R_COUNT; i++)
        if (rs[i] != NULL)
            freeReplyObject(rs[i]);
    redisFree(c);
    return rc;
}

/* ========================================================================
 * SQLite
 * ===================================================================== */

static int read_store(fq_metrics *m, const fq_config *cfg, int what)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(cfg->db_path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        set_error(m->sqlite_error, "cannot open FLEETQ_DB %s: %s", cfg->db_path,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_busy_timeout(db, IO_TIMEOUT_MS);
    const char *sql = what == FQ_METRICS_ALL
                          ? "SELECT coalesce(role, ''), status, count(*) FROM tasks "
                            "GROUP BY 1, 2 ORDER BY 1, 2"
                          : "SELECT 1 FROM tasks LIMIT 1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        set_error(m->sqlite_error, "FLEETQ_DB %s: %s", cfg->db_path, sqlite3_errmsg(db));
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (what != FQ_METRICS_ALL)
            continue;
        const char *role = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        if (role == NULL)
            role = "";   /* no role (NULL in the row): an empty label, no label to PromQL */
        if (status == NULL)
            status = "";
        if (count_add(&m->tasks, &m->ntasks, role, strlen(role), status, strlen(status),
                      sqlite3_column_int64(st, 2)) != 0) {
            set_error(m->sqlite_error, "out of memory reading the tasks table");
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        set_error(m->sqlite_error, "FLEETQ_DB %s: %s", cfg->db_path, sqlite3_errmsg(db));
        goto out;
    }
    m->sqlite_ok = 1;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return m->sqlite_ok ? 0 : -1;
}

/* ========================================================================
 * The snapshot
 * ===================================================================== */

int fq_metrics_read(fq_metrics *m, const fq_config *cfg, int what)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->breaker, sizeof(m->breaker), "closed");
    hist_init(&m->latency, fq_latency_buckets_ms, FQ_LATENCY_BUCKETS_MS_COUNT);
    hist_init(&m->ttft, fq_latency_buckets_ms, FQ_LATENCY_BUCKETS_MS_COUNT);
    hist_init(&m->wait, fq_wait_buckets_ms, FQ_WAIT_BUCKETS_MS_COUNT);
    int a = read_redis(m, cfg, what);
    int b = read_store(m, cfg, what);
    return a == 0 && b == 0 ? 0 : -1;
}

void fq_metrics_free(fq_metrics *m)
{
    fq_metrics_count_free(m->calls, m->ncalls);
    fq_metrics_count_free(m->tasks, m->ntasks);
    m->calls = m->tasks = NULL;
    m->ncalls = m->ntasks = 0;
}
