/* dashboard_api.c -- the dashboard's JSON API (see dashboard_api.h).
 *
 * DESIGN
 * Every route runs on a dashboard thread, never on the loop or on the HTTP
 * server's own threads: SQLite through the thread's read-only connection
 * (time-limited by readers.c), Redis through a connection opened for the
 * request (redis_sync.h: 1 s to connect, 2 s per reply), so a slow query
 * or a Redis that stalls delays that one answer and nothing else. Rows go
 * out as JSON objects named by their columns. The text filters are bound
 * as SQL parameters, never spliced into the query; a search is one FTS5
 * phrase (the memory's index of `done` tasks) or a LIKE over the other
 * stored tasks. The actions run the very scripts fleetqctl runs, so a
 * requeue or a cancel from the page is exactly one from the command line.
 */
#include "dashboard_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "embedded.h"
#include "fq_shared.h"
#include "keys.h"
#include "redis.h"
#include "record.h"
#include "redis_sync.h"
#include "scripts.h"
#include "task.h"
#include "timeutil.h"

#define ERR_MAX 300
#define MINUTES 60              /* the charts: the last hour, per minute */
#define WINDOW_S 300            /* the models' recent calls: the last 5 minutes */
#define PREVIEW 160             /* bytes of a prompt or error in a list */
#define FLOW_TASKS_MAX 500
#define REDIS_CONNECT_MS 1000
#define REDIS_REPLY_MS 2000
#define ACTION_REASON "cancelled from the dashboard"

typedef struct answer {
    const fq_config *cfg;
    fq_snapshot *snapshot;
    sqlite3 *db;
    const fq_dash_query *q;
    unsigned status;
    char err[ERR_MAX];
} answer;

static const struct { const char *path; int route; int post; } routes[] = {
    {"/api/overview", FQ_DASH_OVERVIEW, 0}, {"/api/tasks", FQ_DASH_TASKS, 0},
    {"/api/task", FQ_DASH_TASK, 0},         {"/api/dead", FQ_DASH_DEAD, 0},
    {"/api/flows", FQ_DASH_FLOWS, 0},       {"/api/flow", FQ_DASH_FLOW, 0},
    {"/api/requeue", FQ_DASH_REQUEUE, 1},   {"/api/cancel", FQ_DASH_CANCEL, 1},
    {"/api/resume", FQ_DASH_RESUME, 1},
};

int fq_dash_route(const char *path, int *post)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i].path) == 0) {
            *post = routes[i].post;
            return routes[i].route;
        }
    return -1;
}

static cJSON *fail(answer *a, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cJSON *fail(answer *a, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
    a->status = status;
    return NULL;
}

/* ========================================================================
 * SQLite
 * ===================================================================== */

static cJSON *column_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return cJSON_CreateNumber(sqlite3_column_double(st, i));
    case SQLITE_NULL: return cJSON_CreateNull();
    default: return cJSON_CreateString((const char *)sqlite3_column_text(st, i));
    }
}

/* Every row of st as an object named by its columns; NULL after fail(). */
static cJSON *rows(answer *a, sqlite3_stmt *st)
{
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while (arr != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *row = cJSON_CreateObject();
        if (row == NULL || !cJSON_AddItemToArray(arr, row))
            break;
        for (int i = 0; i < sqlite3_column_count(st); i++)
            cJSON_AddItemToObject(row, sqlite3_column_name(st, i), column_json(st, i));
    }
    if (arr == NULL || rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return fail(a, 500, "reading the store: %s",
                    arr == NULL ? "out of memory" : sqlite3_errmsg(a->db));
    }
    return arr;
}

/* Prepares sql and binds args[0..n) as text (NULL binds NULL); NULL after
 * fail(). */
static sqlite3_stmt *prepare(answer *a, const char *sql, const char *const *args, int n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(a, 500, "reading the store: %s", sqlite3_errmsg(a->db));
        sqlite3_finalize(st);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
    return st;
}

/* The rows of sql with args; NULL after fail(). */
static cJSON *query(answer *a, const char *sql, const char *const *args, int n)
{
    sqlite3_stmt *st = prepare(a, sql, args, n);
    if (st == NULL)
        return NULL;
    cJSON *r = rows(a, st);
    sqlite3_finalize(st);
    return r;
}

static void add_rows(answer *a, cJSON *doc, const char *name, const char *sql,
                     const char *const *args, int n)
{
    cJSON *r = a->status == 200 ? query(a, sql, args, n) : NULL;
    if (r != NULL)
        cJSON_AddItemToObject(doc, name, r);
}

/* ========================================================================
 * GET /api/overview
 * ===================================================================== */

/* The minute of an ISO-8601 time, "YYYY-MM-DDTHH:MM" (16 bytes). */
static int minute_index(char labels[MINUTES][20], const char *t)
{
    if (t == NULL)
        return -1;
    for (int i = 0; i < MINUTES; i++)
        if (strncmp(labels[i], t, 16) == 0)
            return i;
    return -1;
}

static cJSON *zeros(void)
{
    double z[MINUTES] = {0};
    return cJSON_CreateDoubleArray(z, MINUTES);
}

static void bump(cJSON *series, int i, double v)
{
    cJSON *item = cJSON_GetArrayItem(series, i);
    if (item != NULL)
        cJSON_SetNumberValue(item, item->valuedouble + v);
}

/* Tasks ended per minute by status; calls, 429s and spend per minute. */
static void add_charts(answer *a, cJSON *doc, int64_t now_ms)
{
    char labels[MINUTES][20], since[40];
    int64_t first = (now_ms / 60000 - (MINUTES - 1)) * 60000;
    cJSON *minutes = cJSON_AddArrayToObject(doc, "minutes");
    for (int i = 0; i < MINUTES; i++) {
        char t[40];
        fq_iso8601_ms(first + (int64_t)i * 60000, t, sizeof(t));
        snprintf(labels[i], sizeof(labels[i]), "%.16s", t);
        cJSON_AddItemToArray(minutes, cJSON_CreateString(labels[i]));
    }
    fq_iso8601_ms(first, since, sizeof(since));
    const char *args[] = {since};

    cJSON *ended = cJSON_AddObjectToObject(doc, "ended");
    static const char *const statuses[] = {"done", "failed", "rejected", "expired", "cancelled"};
    for (size_t s = 0; ended != NULL && s < sizeof(statuses) / sizeof(statuses[0]); s++)
        cJSON_AddItemToObject(ended, statuses[s], zeros());
    cJSON *r = query(a, "SELECT substr(finished_at, 1, 16) AS minute, status, count(*) AS n"
                       "  FROM tasks WHERE finished_at >= ?1 GROUP BY 1, 2", args, 1);
    cJSON *row;
    cJSON_ArrayForEach(row, r) {
        int i = minute_index(labels, cJSON_GetStringValue(cJSON_GetObjectItem(row, "minute")));
        cJSON *series = cJSON_GetObjectItem(ended,
                                            cJSON_GetStringValue(cJSON_GetObjectItem(row, "status")));
        if (i >= 0 && series != NULL)
            bump(series, i, cJSON_GetNumberValue(cJSON_GetObjectItem(row, "n")));
    }
    cJSON_Delete(r);

    cJSON *calls = zeros(), *limited = zeros(), *spend = zeros();
    cJSON_AddItemToObject(doc, "calls", calls);
    cJSON_AddItemToObject(doc, "rate_limited", limited);
    cJSON_AddItemToObject(doc, "spend_usd", spend);
    r = a->status == 200
            ? query(a, "SELECT substr(started_at, 1, 16) AS minute, count(*) AS calls,"
                       "       sum(http_status = 429) AS rate_limited,"
                       "       sum(coalesce(cost_ticks, 0)) / 1e10 AS spend_usd"
                       "  FROM attempts WHERE started_at >= ?1 AND outcome <> 'cached'"
                       " GROUP BY 1", args, 1)
            : NULL;
    cJSON_ArrayForEach(row, r) {
        int i = minute_index(labels, cJSON_GetStringValue(cJSON_GetObjectItem(row, "minute")));
        if (i < 0)
            continue;
        bump(calls, i, cJSON_GetNumberValue(cJSON_GetObjectItem(row, "calls")));
        bump(limited, i, cJSON_GetNumberValue(cJSON_GetObjectItem(row, "rate_limited")));
        bump(spend, i, cJSON_GetNumberValue(cJSON_GetObjectItem(row, "spend_usd")));
    }
    cJSON_Delete(r);
}

static cJSON *overview(answer *a)
{
    char *health = NULL;
    size_t len;
    unsigned hs;
    if (fq_snapshot_get(a->snapshot, FQ_SNAPSHOT_HEALTH, &health, &len, &hs) != 0)
        return fail(a, 500, "out of memory");
    cJSON *doc = cJSON_CreateObject();
    cJSON *fleet = cJSON_Parse(health);
    free(health);
    if (doc == NULL || fleet == NULL) {
        cJSON_Delete(doc);
        cJSON_Delete(fleet);
        return fail(a, 500, "out of memory");
    }
    cJSON_AddItemToObject(doc, "fleet", fleet);
    cJSON_AddNumberToObject(doc, "health_status", hs);
    int64_t now = fq_now_ms();
    char t[40];
    cJSON_AddStringToObject(doc, "now", fq_iso8601_ms(now, t, sizeof(t)));
    add_charts(a, doc, now);
    char since[40];
    fq_iso8601_ms(now - WINDOW_S * 1000LL, since, sizeof(since));
    const char *args[] = {since};
    cJSON_AddNumberToObject(doc, "window_s", WINDOW_S);
    add_rows(a, doc, "window",
             "SELECT coalesce(model, '?') AS model, count(*) AS calls,"
             "       sum(http_status = 429) AS rate_limited, sum(outcome <> 'ok') AS errors,"
             "       sum(coalesce(cost_ticks, 0)) / 1e10 AS spend_usd"
             "  FROM attempts WHERE started_at >= ?1 AND outcome <> 'cached'"
             " GROUP BY 1 ORDER BY 2 DESC", args, 1);
    return doc;
}

/* ========================================================================
 * GET /api/tasks, /api/task
 * ===================================================================== */

static int known_status(const char *s)
{
    static const char *const final[] = {"done", "failed", "rejected", "expired", "cancelled"};
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        if (strcmp(s, final[i]) == 0)
            return 1;
    return 0;
}

/* text as one FTS5 phrase ("..." with " doubled) into out. */
static void fts_phrase(const char *text, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '"';
    for (const char *p = text; *p != '\0' && o + 3 < outlen; p++) {
        if (*p == '"')
            out[o++] = '"';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* text as a LIKE pattern matching it anywhere (\ escapes % and _). */
static void like_pattern(const char *text, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '%';
    for (const char *p = text; *p != '\0' && o + 4 < outlen; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o++] = '%';
    out[o] = '\0';
}

#define TASK_LIST_COLUMNS                                                                    \
    "id, role, status, model, substr(prompt, 1, 160) AS prompt, substr(error, 1, 160) AS error," \
    " attempts, cost_ticks / 1e10 AS cost_usd, latency_ms, finished_at, flow_id"

static cJSON *tasks(answer *a)
{
    const fq_dash_query *q = a->q;
    if (q->role[0] != '\0' && strcmp(q->role, "none") != 0 &&
        fq_role_parse(q->role, strlen(q->role)) < 0)
        return fail(a, 400, "role: one of ceo, code, quality, memory (or none), got \"%.40s\"",
                    q->role);
    if (q->status[0] != '\0' && !known_status(q->status))
        return fail(a, 400, "status: one of done, failed, rejected, expired, cancelled, got "
                    "\"%.40s\"", q->status);
    char sql[1400], phrase[2 * FQ_DASH_TEXT_MAX + 3], like[2 * FQ_DASH_TEXT_MAX + 3], lim[16];
    const char *args[8];
    int n = 0;
    size_t o = (size_t)snprintf(sql, sizeof(sql), "SELECT " TASK_LIST_COLUMNS
                                " FROM tasks WHERE 1");
#define WHERE(cond, value)                                                                    \
    do {                                                                                      \
        args[n++] = (value);                                                                  \
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, cond, n);                            \
    } while (0)
    if (strcmp(q->role, "none") == 0)
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, " AND coalesce(role, '') = ''");
    else if (q->role[0] != '\0')
        WHERE(" AND role = ?%d", q->role);
    if (q->status[0] != '\0')
        WHERE(" AND status = ?%d", q->status);
    if (q->model[0] != '\0')
        WHERE(" AND model = ?%d", q->model);
    if (q->flow[0] != '\0')
        WHERE(" AND flow_id = ?%d", q->flow);
    if (q->before[0] != '\0')
        WHERE(" AND finished_at < ?%d", q->before);
    if (q->text[0] != '\0') {
        fts_phrase(q->text, phrase, sizeof(phrase));
        like_pattern(q->text, like, sizeof(like));
        args[n++] = phrase;
        args[n++] = like;
        o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                              " AND (rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH"
                              " ?%d) OR (status <> 'done' AND (prompt LIKE ?%d ESCAPE '\\' OR"
                              " error LIKE ?%d ESCAPE '\\')))", n - 1, n, n);
    }
#undef WHERE
    snprintf(lim, sizeof(lim), "%d", q->limit);
    args[n++] = lim;
    snprintf(sql + o, sizeof(sql) - o, " ORDER BY finished_at DESC, id LIMIT ?%d", n);
    cJSON *list = query(a, sql, args, n);
    if (list == NULL)
        return NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "tasks", list);
    cJSON_AddBoolToObject(doc, "search_fts", q->text[0] != '\0');
    return doc;
}

/* attempts_note: why max_attempts is not the number the task was
 * submitted with (task.h), from its hash's max_attempts and the four
 * fields after it: allowance, requeues, attempts_at_requeue and
 * fallback_attempts; nothing when it is. */
static void add_attempts_note(cJSON *o, const redisReply *max, redisReply *const *four)
{
    fq_attempt_limit l;
    char note[160];
    fq_attempt_limit_read(fq_reply_int(max, -1), fq_reply_int(four[0], -1),
                          fq_reply_int(four[1], -1), fq_reply_int(four[2], -1),
                          fq_reply_int(four[3], -1), &l);
    fq_attempt_limit_note(&l, note, sizeof(note));
    if (note[0] != '\0')
        cJSON_AddStringToObject(o, "attempts_note", note);
}

/* A task not stored yet: what its hash says, or NULL when it has none. */
static cJSON *task_in_flight(answer *a, const char *id)
{
    char err[ERR_MAX], key[FQ_KEY_MAX];
    redisContext *c = fq_redis_connect_sync(a->cfg, REDIS_CONNECT_MS, REDIS_REPLY_MS, NULL, err,
                                            sizeof(err));
    if (c == NULL)
        return fail(a, 503, "%s", err);
    fq_argv cmd;
    fq_argv_init(&cmd);
    fq_argv_adds(&cmd, "HMGET");
    fq_argv_adds(&cmd, fq_key_task(id, key, sizeof(key)));
    fq_argv_adds(&cmd, "prompt");
    for (int i = 0; i < FQ_FOLLOW_FIELDS_COUNT; i++)
        fq_argv_adds(&cmd, fq_follow_fields[i]);
    redisReply *r = fq_argv_ok(&cmd) ? redisCommandArgv(c, cmd.argc, (const char **)cmd.argv,
                                                        cmd.argvlen)
                                     : NULL;
    fq_argv_free(&cmd);
    cJSON *task = NULL;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fail(a, 503, "Redis: %s", r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
    } else if (r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING) {
        task = cJSON_CreateObject();
        cJSON_AddStringToObject(task, "id", id);
        for (size_t i = 0; i < r->elements && task != NULL; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                cJSON_AddStringToObject(task, i == 0 ? "prompt" : fq_follow_fields[i - 1],
                                        r->element[i]->str);
        if (task != NULL && r->elements == 1 + FQ_FOLLOW_COUNT)
            add_attempts_note(task, r->element[1 + FQ_FOLLOW_MAX_ATTEMPTS],
                              &r->element[1 + FQ_FOLLOW_ALLOWANCE]);
    }
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return task;
}

static cJSON *task(answer *a)
{
    const char *id = a->q->id;
    if (id[0] == '\0')
        return fail(a, 400, "id: which task? /api/task?id=ID");
    const char *args[] = {id};
    cJSON *found = query(a, "SELECT id, role, priority, status, model, prompt, output, error,"
                            " attempts, prompt_tokens, completion_tokens, reasoning_tokens,"
                            " cached_tokens, cost_ticks / 1e10 AS cost_usd, latency_ms,"
                            " submitted_at, started_at, finished_at, worker, flow_id, parents,"
                            " plan, cached_from, notes FROM tasks WHERE id = ?1", args, 1);
    if (found == NULL)
        return NULL;
    cJSON *t = cJSON_DetachItemFromArray(found, 0);
    cJSON_Delete(found);
    int stored = t != NULL;
    if (t == NULL && (t = task_in_flight(a, id)) == NULL)
        return a->status != 200 ? NULL : fail(a, 404, "no task %.140s (never submitted, or "
                                             "pruned from the store and expired in Redis)", id);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "task", t);
    cJSON_AddBoolToObject(doc, "stored", stored);
    add_rows(a, doc, "attempts",
             "SELECT n, model, http_status, outcome, error, latency_ms, ttft_ms, prompt_tokens,"
             " completion_tokens, cost_ticks / 1e10 AS cost_usd, started_at, worker"
             " FROM attempts WHERE task_id = ?1 ORDER BY n", args, 1);
    const char *flow = cJSON_GetStringValue(cJSON_GetObjectItem(t, "flow_id"));
    if (flow != NULL && a->status == 200) {
        const char *fargs[] = {flow};
        add_rows(a, doc, "flow",
                 "SELECT id, role, status, parents, cost_ticks / 1e10 AS cost_usd FROM tasks"
                 " WHERE flow_id = ?1 ORDER BY submitted_at, id LIMIT 500", fargs, 1);
    }
    if (a->status != 200) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* ========================================================================
 * GET /api/flows, /api/flow
 * ===================================================================== */

#define FLOW_COLUMNS                                                                          \
    "flow_id, status, tasks, done, failed, cancelled, other, tokens, cost_usd, submitted_at,"  \
    " finished_at"

static cJSON *flows(answer *a)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", a->q->limit);
    const char *args[] = {lim};
    cJSON *list = query(a, "SELECT " FLOW_COLUMNS " FROM flows WHERE tasks > 1"
                           " ORDER BY submitted_at DESC LIMIT ?1", args, 1);
    if (list == NULL)
        return NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "flows", list);
    return doc;
}

static cJSON *flow(answer *a)
{
    if (a->q->id[0] == '\0')
        return fail(a, 400, "id: which flow? /api/flow?id=ROOT");
    const char *args[] = {a->q->id};
    cJSON *found = query(a, "SELECT " FLOW_COLUMNS " FROM flows WHERE flow_id = ?1", args, 1);
    if (found == NULL)
        return NULL;
    cJSON *summary = cJSON_DetachItemFromArray(found, 0);
    cJSON_Delete(found);
    if (summary == NULL)
        return fail(a, 404, "no stored flow %.140s", a->q->id);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "flow", summary);
    add_rows(a, doc, "tasks",
             "SELECT id, role, status, model, parents, attempts, cost_ticks / 1e10 AS cost_usd,"
             " finished_at FROM tasks WHERE flow_id = ?1 ORDER BY submitted_at, id LIMIT 500",
             args, 1);
    if (a->status != 200) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* ========================================================================
 * Redis: the dead letters, the actions
 * ===================================================================== */

static redisContext *redis_open(answer *a)
{
    char err[ERR_MAX];
    redisContext *c = fq_redis_connect_sync(a->cfg, REDIS_CONNECT_MS, REDIS_REPLY_MS, NULL, err,
                                            sizeof(err));
    if (c == NULL)
        fail(a, 503, "%s", err);
    return c;
}

static void add_reply_str(cJSON *obj, const char *name, const redisReply *r)
{
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        cJSON_AddStringToObject(obj, name, r->str);
    else
        cJSON_AddNullToObject(obj, name);
}

/* An ms-epoch field as ISO-8601, as the store writes times. */
static void add_reply_time(cJSON *obj, const char *name, const redisReply *r)
{
    long long ms = r != NULL && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    char t[40];
    if (ms > 0)
        cJSON_AddStringToObject(obj, name, fq_iso8601_ms(ms, t, sizeof(t)));
    else
        cJSON_AddNullToObject(obj, name);
}

static const char *const dead_fields[] = {"status", "role", "model", "attempts", "max_attempts",
                                          "error", "finished_at", "prompt", "allowance",
                                          "requeues", "attempts_at_requeue",
                                          "fallback_attempts"};
enum { DF_STATUS, DF_ROLE, DF_MODEL, DF_ATTEMPTS, DF_MAX_ATTEMPTS, DF_ERROR, DF_FINISHED,
       DF_PROMPT, DF_ALLOWANCE, DF_REQUEUES, DF_AT_REQUEUE, DF_FALLBACK_ATTEMPTS, DF_COUNT };
_Static_assert(sizeof(dead_fields) / sizeof(dead_fields[0]) == DF_COUNT, "a name per field");

static cJSON *dead_letter(const redisReply *id, const redisReply *h)
{
    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements != DF_COUNT ||
        h->element[DF_STATUS]->type != REDIS_REPLY_STRING ||
        strcmp(h->element[DF_STATUS]->str, "failed") != 0)
        return NULL;   /* expired, or requeued meanwhile */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id->str);
    add_reply_str(o, "role", h->element[DF_ROLE]);
    add_reply_str(o, "model", h->element[DF_MODEL]);
    cJSON_AddNumberToObject(o, "attempts", (double)fq_reply_int(h->element[DF_ATTEMPTS], 0));
    cJSON_AddNumberToObject(o, "max_attempts",
                            (double)fq_reply_int(h->element[DF_MAX_ATTEMPTS], 0));
    add_attempts_note(o, h->element[DF_MAX_ATTEMPTS], &h->element[DF_ALLOWANCE]);
    add_reply_str(o, "error", h->element[DF_ERROR]);
    add_reply_time(o, "finished_at", h->element[DF_FINISHED]);
    const redisReply *p = h->element[DF_PROMPT];
    if (p->type == REDIS_REPLY_STRING) {   /* the first PREVIEW bytes, cut at a character */
        size_t n = p->len;
        if (n > PREVIEW)
            for (n = PREVIEW; n > 0 && ((unsigned char)p->str[n] & 0xC0) == 0x80; n--)
                ;
        char cut[PREVIEW + 1];
        memcpy(cut, p->str, n);
        cut[n] = '\0';
        cJSON_AddStringToObject(o, "prompt", cut);
    }
    return o;
}

static cJSON *dead(answer *a)
{
    redisContext *c = redis_open(a);
    if (c == NULL)
        return NULL;
    cJSON *doc = NULL;
    redisReply *total = redisCommand(c, "ZCARD %s", fq_keys()->dead);
    redisReply *ids = total != NULL ? redisCommand(c, "ZREVRANGE %s 0 %d", fq_keys()->dead,
                                                   a->q->limit - 1)
                                    : NULL;
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        fail(a, 503, "Redis: %s", ids != NULL && ids->type == REDIS_REPLY_ERROR ? ids->str
                                                                               : c->errstr);
        goto out;
    }
    for (size_t i = 0; i < ids->elements; i++) {
        char key[FQ_KEY_MAX];
        fq_key_task(ids->element[i]->str, key, sizeof(key));
        const char *argv[2 + DF_COUNT] = {"HMGET", key};
        for (int f = 0; f < DF_COUNT; f++)
            argv[2 + f] = dead_fields[f];
        redisAppendCommandArgv(c, 2 + DF_COUNT, argv, NULL);
    }
    doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "total", (double)fq_reply_int(total, 0));
    cJSON *list = cJSON_AddArrayToObject(doc, "dead");
    for (size_t i = 0; i < ids->elements; i++) {
        void *h = NULL;
        if (redisGetReply(c, &h) != REDIS_OK) {
            cJSON_Delete(doc);
            doc = fail(a, 503, "Redis: %s", c->errstr);
            goto out;
        }
        cJSON *o = dead_letter(ids->element[i], h);
        if (o != NULL)
            cJSON_AddItemToArray(list, o);
        freeReplyObject(h);
    }
out:
    if (total != NULL)
        freeReplyObject(total);
    if (ids != NULL)
        freeReplyObject(ids);
    redisFree(c);
    return doc;
}

/* The embedded text of script name (common/lua). */
static const char *script_text(const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; fq_lua_files[i].name != NULL; i++)
        if (strncmp(fq_lua_files[i].name, name, len) == 0 &&
            strcmp(fq_lua_files[i].name + len, ".lua") == 0)
            return fq_lua_files[i].text;
    return NULL;
}

/* EVAL of script name with nkeys of args; NULL after fail(). */
static redisReply *eval(answer *a, redisContext *c, const char *name, int nkeys,
                        const fq_argv *args)
{
    char why[160];
    const char *text = script_text(name);
    if (text == NULL || fq_script_check(name, nkeys, why, sizeof(why)) != 0) {
        fail(a, 500, "%s", text == NULL ? "this build has no such script" : why);
        return NULL;
    }
    fq_argv cmd;
    fq_argv_init(&cmd);
    fq_argv_adds(&cmd, "EVAL");
    fq_argv_adds(&cmd, text);
    fq_argv_addll(&cmd, nkeys);
    fq_argv_append(&cmd, args);
    redisReply *r = fq_argv_ok(&cmd) && fq_argv_ok(args)
                        ? redisCommandArgv(c, cmd.argc, (const char **)cmd.argv, cmd.argvlen)
                        : NULL;
    fq_argv_free(&cmd);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fail(a, 503, "%s.lua: %s", name, r != NULL ? r->str : c->errstr);
        if (r != NULL)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

static const char *reply_str(const redisReply *r, size_t i)
{
    return r->type == REDIS_REPLY_ARRAY && i < r->elements &&
                   r->element[i]->type == REDIS_REPLY_STRING
               ? r->element[i]->str
               : "";
}

static cJSON *action(answer *a)
{
    const char *id = a->q->id;
    size_t idlen = strlen(id);
    if (a->q->route != FQ_DASH_RESUME && !fq_id_valid(id, idlen))
        return fail(a, 400, "id: a task id (1 to %d of A-Z a-z 0-9 . _ : -)", FQ_ID_MAX);
    redisContext *c = redis_open(a);
    if (c == NULL)
        return NULL;
    fq_argv args;
    fq_argv_init(&args);
    redisReply *r = NULL, *models = NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", id);
    if (a->q->route == FQ_DASH_REQUEUE) {
        fq_requeue_args(&args, &id, &idlen, 1);
        if ((r = eval(a, c, "requeue", FQ_REQUEUE_NKEYS + 2, &args)) != NULL) {
            const char *outcome = reply_str(r, 2);
            cJSON_AddStringToObject(doc, "outcome", outcome);
            if (strcmp(outcome, "requeued") != 0)
                fail(a, strcmp(outcome, "not found") == 0 ? 404 : 409, "requeue %s: %s", id,
                     outcome);
        }
    } else if (a->q->route == FQ_DASH_CANCEL) {
        fq_cancel_args(&args, id, idlen, ACTION_REASON, "", 1);
        if ((r = eval(a, c, "cancel", FQ_CANCEL_NKEYS, &args)) != NULL) {
            const char *outcome = reply_str(r, 0);
            cJSON_AddStringToObject(doc, "outcome", outcome);
            cJSON_AddStringToObject(doc, "was", reply_str(r, 2));
            if (strcmp(outcome, "cancelled") != 0)
                fail(a, strcmp(outcome, "not found") == 0 ? 404 : 409, "cancel %s: %s", id,
                     strcmp(outcome, "not found") == 0 ? outcome : reply_str(r, 2));
        }
    } else {
        models = redisCommand(c, "ZRANGE %s 0 -1", fq_keys()->models);
        int nkeys = models != NULL ? fq_resume_args(&args, models, a->q->breaker,
                                                    a->cfg->breaker_cooldown_ms)
                                   : -1;
        if (nkeys < 0)
            fail(a, 503, "Redis: %s", c->errstr);
        else if ((r = eval(a, c, "resume", nkeys, &args)) != NULL) {
            cJSON_AddStringToObject(doc, "was_paused", reply_str(r, 0));
            cJSON_AddStringToObject(doc, "pause_reason", reply_str(r, 1));
            cJSON_AddStringToObject(doc, "breaker_was", reply_str(r, 3));
        }
    }
    fq_argv_free(&args);
    if (r != NULL)
        freeReplyObject(r);
    if (models != NULL)
        freeReplyObject(models);
    redisFree(c);
    if (a->status != 200) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* ========================================================================
 * Dispatch
 * ===================================================================== */

void fq_dash_answer(const fq_config *cfg, fq_snapshot *snapshot, sqlite3 *db,
                    const fq_dash_query *q, char **body, size_t *len, unsigned *status)
{
    answer a = {.cfg = cfg, .snapshot = snapshot, .db = db, .q = q, .status = 200};
    cJSON *doc = NULL;
    switch (q->route) {
    case FQ_DASH_OVERVIEW: doc = overview(&a); break;
    case FQ_DASH_TASKS: doc = tasks(&a); break;
    case FQ_DASH_TASK: doc = task(&a); break;
    case FQ_DASH_DEAD: doc = dead(&a); break;
    case FQ_DASH_FLOWS: doc = flows(&a); break;
    case FQ_DASH_FLOW: doc = flow(&a); break;
    default: doc = action(&a); break;
    }
    if (doc != NULL && a.status != 200) {   /* a part failed after the document began */
        cJSON_Delete(doc);
        doc = NULL;
    }
    if (doc == NULL) {
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "error", a.err[0] != '\0' ? a.err : "out of memory");
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    *status = text != NULL ? a.status : 500;
    *body = text != NULL ? text : strdup("{\"error\":\"out of memory\"}");
    *len = *body != NULL ? strlen(*body) : 0;
}
