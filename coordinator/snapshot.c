/* snapshot.c -- what /health and /metrics serve, taken by a thread of
 * its own (see snapshot.h).
 *
 * DESIGN
 * Every FQ_SNAPSHOT_MS the thread reads the fleet (metrics.c: one
 * synchronous Redis connection with 1 s timeouts and a read-only SQLite
 * connection, neither of them the loop's or the writer's) and the
 * coordinator's own board (health.h), renders the /health document and the
 * Prometheus text, and swaps them in under a mutex. A request copies the
 * latest under the same mutex and touches neither Redis nor SQLite, so a
 * stalled Redis or a locked database slows no request, and any number of
 * scrapes cost the fleet two snapshots a second. The loop's heartbeat is
 * checked at the request itself: a loop stuck for more than
 * FQ_LOOP_STALL_MS answers 503 whatever the last snapshot said.
 */
#include "snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "fq_shared.h"
#include "metrics.h"
#include "record.h"
#include "timeutil.h"

struct fq_snapshot {
    const fq_config *cfg;
    fq_health *health;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;
    int stop;
    int ready;                 /* a snapshot has been taken */
    char *health_doc;          /* the /health document, with its status */
    size_t health_len;
    unsigned health_status;
    char *metrics_text;        /* the /metrics text */
    size_t metrics_len;
    unsigned readings;
    fq_metrics_count *tasks;   /* the task counts of the last full reading (owned) */
    size_t ntasks;
};

static void add_count(cJSON *obj, const char *name, int known, int64_t v)
{
    if (known)
        cJSON_AddNumberToObject(obj, name, (double)v);
    else
        cJSON_AddNullToObject(obj, name);
}

static double usd(int64_t ticks)
{
    return (double)ticks / (double)FQ_TICKS_PER_USD;
}

/* 1 when any part of the coordinator is failing now; the store only when
 * SQLite refused a write (a database that is busy only delays the results,
 * which wait in Redis: store_behind() says when that is too long). */
static int any_failing(const fq_health_view *v)
{
    for (int i = 0; i < FQ_PART_COUNT; i++)
        if (fq_failing_now(&v->parts[i]) && (i != FQ_PART_STORE || v->store_refused))
            return 1;
    return 0;
}

/* The results have waited for SQLite longer than the stall time. */
static int store_behind(const fq_metrics *m, const fq_health_view *v, const fq_config *cfg,
                        int64_t now_ms)
{
    int64_t stall_ms = (int64_t)cfg->store_stall_s * 1000;
    const fq_failing *f = &v->parts[FQ_PART_STORE];
    if (fq_failing_now(f) && now_ms - f->since_ms > stall_ms)
        return 1;
    return m->redis_ok && m->backlog > 0 && now_ms - v->stored_at_ms > stall_ms;
}

/* "store": how far behind the results are, and why. */
static void add_store(cJSON *doc, const fq_metrics *m, const fq_health_view *v, int behind)
{
    cJSON *store = cJSON_AddObjectToObject(doc, "store");
    if (store == NULL)
        return;
    char t[40];
    cJSON_AddBoolToObject(store, "behind", behind);
    add_count(store, "backlog", m->redis_ok, m->backlog);
    cJSON_AddStringToObject(store, "last_write", fq_iso8601_ms(v->stored_at_ms, t, sizeof(t)));
    const fq_failing *f = &v->parts[FQ_PART_STORE];
    if (fq_failing_now(f))
        cJSON_AddStringToObject(store, "reason", f->error);
    else if (behind)
        cJSON_AddStringToObject(store, "reason", "waiting for the database to take writes");
}

/* "parts": each part's state, with the failing one's error, since when and
 * how often; "warnings": what should be fixed in the setup. */
static void add_parts(cJSON *doc, const fq_health_view *v)
{
    cJSON *parts = cJSON_AddObjectToObject(doc, "parts");
    for (int i = 0; parts != NULL && i < FQ_PART_COUNT; i++) {
        const fq_failing *f = &v->parts[i];
        cJSON *o = cJSON_AddObjectToObject(parts, f->part);
        if (o == NULL)
            break;
        cJSON_AddBoolToObject(o, "ok", !fq_failing_now(f));
        if (fq_failing_now(f)) {
            cJSON_AddStringToObject(o, "error", f->error);
            cJSON_AddNumberToObject(o, "failures", f->failures);
            char t[40];
            cJSON_AddStringToObject(o, "since", fq_iso8601_ms(f->since_ms, t, sizeof(t)));
        }
    }
    cJSON *warnings = cJSON_AddArrayToObject(doc, "warnings");
    for (int i = 0; warnings != NULL && i < FQ_HEALTH_WARNINGS_MAX; i++)
        if (v->warnings[i][0] != '\0')
            cJSON_AddItemToArray(warnings, cJSON_CreateString(v->warnings[i]));
}

/* Who runs the fleet: this coordinator's state and the lease's holder. */
static void add_coordinator(cJSON *doc, const fq_health_lease *l)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "coordinator");
    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "state", l->state);
    if (l->fleet[0] != '\0')
        cJSON_AddStringToObject(o, "fleet", l->fleet);
    else
        cJSON_AddNullToObject(o, "fleet");
    if (l->host[0] == '\0') {
        cJSON_AddNullToObject(o, "holder");
        return;
    }
    cJSON *h = cJSON_AddObjectToObject(o, "holder");
    if (h == NULL)
        return;
    cJSON_AddStringToObject(h, "host", l->host);
    cJSON_AddNumberToObject(h, "pid", atof(l->pid));
    cJSON_AddStringToObject(h, "since", l->since);
    cJSON_AddStringToObject(h, "db", l->db);
}

static cJSON *health_json(const fq_metrics *m, const fq_health_view *v, const fq_config *cfg,
                          int64_t now_ms)
{
    int up = m->redis_ok;
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL)
        return NULL;
    int behind = store_behind(m, v, cfg, now_ms);
    int ok = m->redis_ok && m->sqlite_ok && !any_failing(v) && !behind;
    int standby = strcmp(v->lease.state, "standby") == 0;
    cJSON_AddStringToObject(doc, "status", standby ? "standby" : ok ? "ok" : "degraded");
    cJSON_AddStringToObject(doc, "version", FQ_VERSION);
    add_coordinator(doc, &v->lease);
    add_parts(doc, v);
    add_store(doc, m, v, behind);
    add_count(doc, "backlog", up, m->backlog);

    cJSON *redis = cJSON_AddObjectToObject(doc, "redis");
    if (redis != NULL) {
        cJSON_AddBoolToObject(redis, "ok", m->redis_ok);
        if (m->redis_ok)
            cJSON_AddNumberToObject(redis, "latency_ms", round(m->redis_latency_ms * 1000) / 1000);
        else
            cJSON_AddStringToObject(redis, "error", m->redis_error);
    }
    cJSON *sqlite = cJSON_AddObjectToObject(doc, "sqlite");
    if (sqlite != NULL) {
        cJSON_AddBoolToObject(sqlite, "ok", m->sqlite_ok);
        cJSON_AddStringToObject(sqlite, "path", cfg->db_path);
        if (!m->sqlite_ok)
            cJSON_AddStringToObject(sqlite, "error", m->sqlite_error);
    }

    cJSON *queues = cJSON_AddObjectToObject(doc, "queues");
    cJSON *workers = cJSON_CreateObject();
    int64_t calling = 0, waiting_quota = 0;   /* running tasks by phase, every role */
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        const char *role = fq_role_name((fq_role)r);
        cJSON *q = queues != NULL ? cJSON_AddObjectToObject(queues, role) : NULL;
        if (q != NULL) {
            add_count(q, "queued", up, m->queued[r]);
            add_count(q, "delayed", up, m->delayed[r]);
            add_count(q, "retrying", up, m->retrying[r]);
            add_count(q, "running", up, m->running_role[r]);
            add_count(q, "calling", up, m->calling_role[r]);
            add_count(q, "waiting_quota", up, m->waiting_quota_role[r]);
        }
        calling += m->calling_role[r];
        waiting_quota += m->waiting_quota_role[r];
        if (workers != NULL)
            add_count(workers, role, up, m->workers[r]);
    }
    add_count(doc, "delayed", up, m->delayed_total);
    add_count(doc, "running", up, m->running);
    add_count(doc, "calling", up, calling);
    add_count(doc, "waiting_quota", up, waiting_quota);
    add_count(doc, "dead", up, m->dead);
    if (workers != NULL)
        cJSON_AddItemToObject(doc, "workers", workers);

    if (!up) {
        cJSON_AddNullToObject(doc, "quota");
        cJSON_AddNullToObject(doc, "budget");
        return doc;
    }
    cJSON *quota = cJSON_AddObjectToObject(doc, "quota");
    if (quota != NULL) {
        cJSON_AddNumberToObject(quota, "rate_per_s", m->rate_per_s);
        cJSON_AddNumberToObject(quota, "ceiling_per_s", round(m->ceiling_per_s * 1000) / 1000);
        cJSON_AddBoolToObject(quota, "frozen", m->frozen);
        /* not paused: null, as fleetqctl status --json says it */
        if (m->paused[0] != '\0') {
            cJSON_AddStringToObject(quota, "paused", m->paused);
            cJSON_AddStringToObject(quota, "pause_reason", m->pause_reason);
        } else {
            cJSON_AddNullToObject(quota, "paused");
            cJSON_AddNullToObject(quota, "pause_reason");
        }
        cJSON_AddStringToObject(quota, "breaker", m->breaker);
        cJSON_AddNumberToObject(quota, "inflight", (double)m->inflight);
        cJSON_AddStringToObject(quota, "scope", m->by_model ? "model" : "key");
    }
    /* each model's own state (the scope `model`) */
    cJSON *models = cJSON_AddObjectToObject(doc, "models");
    for (int i = 0; models != NULL && m->by_model && i < m->nmodels; i++) {
        const fq_metrics_model *s = &m->models[i];
        cJSON *o = cJSON_AddObjectToObject(models, s->name);
        if (o == NULL)
            break;
        cJSON_AddNumberToObject(o, "rate_per_s", s->rate_per_s);
        cJSON_AddNumberToObject(o, "ceiling_per_s", round(s->ceiling_per_s * 1000) / 1000);
        if (s->token_rate_per_min >= 0)
            cJSON_AddNumberToObject(o, "token_rate_per_min", s->token_rate_per_min);
        else
            cJSON_AddNullToObject(o, "token_rate_per_min");
        cJSON_AddNumberToObject(o, "tpm_ceiling", (double)s->tpm_ceiling);
        cJSON_AddBoolToObject(o, "frozen", s->frozen);
        cJSON_AddStringToObject(o, "breaker", s->breaker);
        cJSON_AddNumberToObject(o, "rate_limited", (double)s->rate_limited);
    }
    cJSON *budget = cJSON_AddObjectToObject(doc, "budget");
    if (budget != NULL) {
        cJSON_AddNumberToObject(budget, "spent_usd", usd(m->spent_ticks));
        cJSON_AddNumberToObject(budget, "reserved_usd", usd(m->reserved_ticks));
        if (m->cap_ticks > 0) {
            int64_t left = m->cap_ticks - m->spent_ticks - m->reserved_ticks;
            cJSON_AddNumberToObject(budget, "left_usd", usd(left > 0 ? left : 0));
            cJSON_AddNumberToObject(budget, "cap_usd", usd(m->cap_ticks));
        } else {
            cJSON_AddNullToObject(budget, "left_usd");
            cJSON_AddNullToObject(budget, "cap_usd");
        }
    }
    return doc;
}


/* The /health document of one reading, as a line, and its status. */
static char *render_health(const fq_metrics *m, const fq_health_view *v, const fq_config *cfg,
                           int read_ok, size_t *len, unsigned *status)
{
    *status = read_ok && !v->store_refused ? 200 : 503;
    cJSON *doc = health_json(m, v, cfg, fq_now_ms());
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (line != NULL) {
        memcpy(line, text, n);
        line[n] = '\n';
        line[n + 1] = '\0';
        *len = n + 1;
    }
    cJSON_free(text);
    return line;
}

/* One reading of the fleet, rendered and swapped in. */
static void take(fq_snapshot *s)
{
    fq_metrics m;
    fq_health_view v;
    fq_health_snapshot(s->health, &v);
    int full = s->readings++ % FQ_SNAPSHOT_COUNTS_EVERY == 0;
    int read_ok = fq_metrics_read(&m, s->cfg, full ? FQ_METRICS_ALL : FQ_METRICS_COUNTERS) == 0;
    m.health = v;
    if (full && m.sqlite_ok) {   /* keep the counts for the readings in between */
        fq_metrics_count_free(s->tasks, s->ntasks);
        s->tasks = m.tasks;
        s->ntasks = m.ntasks;
    } else {
        fq_metrics_count_free(m.tasks, m.ntasks);
    }
    m.tasks = s->tasks;
    m.ntasks = s->ntasks;
    size_t hlen = 0, mlen = 0;
    unsigned status = 503;
    char *health = render_health(&m, &v, s->cfg, read_ok, &hlen, &status);
    char *metrics = fq_metrics_render(&m, &mlen);
    m.tasks = NULL;   /* the snapshot's */
    m.ntasks = 0;
    fq_metrics_free(&m);
    uv_mutex_lock(&s->lock);
    if (health != NULL) {
        free(s->health_doc);
        s->health_doc = health;
        s->health_len = hlen;
        s->health_status = status;
        health = NULL;
    }
    if (metrics != NULL) {
        free(s->metrics_text);
        s->metrics_text = metrics;
        s->metrics_len = mlen;
        metrics = NULL;
    }
    s->ready = s->health_doc != NULL && s->metrics_text != NULL;
    uv_cond_broadcast(&s->wake);
    uv_mutex_unlock(&s->lock);
    free(health);
    free(metrics);
}

static void thread_main(void *arg)
{
    fq_snapshot *s = arg;
    for (;;) {
        take(s);
        uv_mutex_lock(&s->lock);
        if (!s->stop)
            uv_cond_timedwait(&s->wake, &s->lock, (uint64_t)FQ_SNAPSHOT_MS * 1000000u);
        int stop = s->stop;
        uv_mutex_unlock(&s->lock);
        if (stop)
            break;
    }
}

fq_snapshot *fq_snapshot_start(const fq_config *cfg, fq_health *health)
{
    fq_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = cfg;
    s->health = health;
    if (uv_mutex_init(&s->lock) != 0) {
        free(s);
        return NULL;
    }
    if (uv_cond_init(&s->wake) != 0) {
        uv_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    if (uv_thread_create(&s->thread, thread_main, s) != 0) {
        uv_cond_destroy(&s->wake);
        uv_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

/* The loop's heartbeat is too old: the answer is 503, whatever the last
 * reading said. */
static char *stalled_doc(int64_t age_ms, size_t *len)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "{\"status\":\"stalled\",\"version\":\"%s\",\"loop\":{\"ok\":false,"
                     "\"heartbeat_age_ms\":%lld,\"error\":\"the coordinator's loop has not "
                     "run for %lld ms\"}}\n", FQ_VERSION, (long long)age_ms, (long long)age_ms);
    *len = (size_t)n;
    return strdup(buf);
}

int fq_snapshot_get(fq_snapshot *s, int which, char **body, size_t *len, unsigned *status)
{
    *body = NULL;
    *len = 0;
    *status = 503;
    if (which == FQ_SNAPSHOT_HEALTH) {
        int64_t age = fq_health_beat_age_ms(s->health);
        if (age > FQ_LOOP_STALL_MS) {
            *body = stalled_doc(age, len);
            return *body != NULL ? 0 : -1;
        }
    }
    uv_mutex_lock(&s->lock);
    while (!s->ready && !s->stop)
        uv_cond_wait(&s->wake, &s->lock);
    const char *src = which == FQ_SNAPSHOT_HEALTH ? s->health_doc : s->metrics_text;
    size_t n = which == FQ_SNAPSHOT_HEALTH ? s->health_len : s->metrics_len;
    if (src != NULL && (*body = malloc(n + 1)) != NULL) {
        memcpy(*body, src, n + 1);
        *len = n;
        *status = which == FQ_SNAPSHOT_HEALTH ? s->health_status : 200;
    }
    uv_mutex_unlock(&s->lock);
    return *body != NULL ? 0 : -1;
}

void fq_snapshot_stop(fq_snapshot *s)
{
    if (s == NULL)
        return;
    uv_mutex_lock(&s->lock);
    s->stop = 1;
    uv_cond_broadcast(&s->wake);
    uv_mutex_unlock(&s->lock);
    uv_thread_join(&s->thread);
    uv_cond_destroy(&s->wake);
    uv_mutex_destroy(&s->lock);
    free(s->health_doc);
    free(s->metrics_text);
    fq_metrics_count_free(s->tasks, s->ntasks);
    free(s);
}
