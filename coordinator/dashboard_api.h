/* dashboard_api.h -- what the dashboard's JSON API answers (/api/...):
 * each route is a function run on a dashboard thread (dashboard.c) with a
 * read-only SQLite connection of its own, and a Redis connection opened
 * for the routes that need one.
 *
 *   GET  /api/overview            the fleet now (the /health reading) and
 *                                 the last hour per minute, per model
 *   GET  /api/tasks               the newest stored tasks; filters role,
 *                                 status, model, flow, q (text), before
 *                                 (finished_at, for the next page), limit
 *   GET  /api/task?id=ID          a task, its attempts and its flow
 *   GET  /api/dead                the dead letters, newest first (limit)
 *   GET  /api/flows               the newest flows of more than one task
 *   GET  /api/flow?id=ROOT        a flow's tasks, with their parents
 *   POST /api/requeue?id=ID       requeue.lua
 *   POST /api/cancel?id=ID        cancel.lua
 *   POST /api/resume[?breaker=1]  resume.lua
 */
#ifndef FQ_DASHBOARD_API_H
#define FQ_DASHBOARD_API_H

#include <stddef.h>

#include "config.h"
#include "snapshot.h"

struct sqlite3;

#define FQ_DASH_LIMIT_DEFAULT 50
#define FQ_DASH_LIMIT_MAX 500
#define FQ_DASH_TEXT_MAX 256      /* bytes of a filter or search */

enum {
    FQ_DASH_OVERVIEW = 0, FQ_DASH_TASKS, FQ_DASH_TASK, FQ_DASH_DEAD, FQ_DASH_FLOWS,
    FQ_DASH_FLOW, FQ_DASH_REQUEUE, FQ_DASH_CANCEL, FQ_DASH_RESUME, FQ_DASH_ROUTES
};

/* A request's route and query arguments ("" when absent). */
typedef struct fq_dash_query {
    int route;
    char id[FQ_DASH_TEXT_MAX];
    char role[FQ_DASH_TEXT_MAX];
    char status[FQ_DASH_TEXT_MAX];
    char model[FQ_DASH_TEXT_MAX];
    char flow[FQ_DASH_TEXT_MAX];
    char text[FQ_DASH_TEXT_MAX];
    char before[FQ_DASH_TEXT_MAX];
    int limit;
    int breaker;
} fq_dash_query;

/* The route of path ("/api/tasks") for method, or -1 when none; *post is
 * 1 for the actions (which take POST only). */
int fq_dash_route(const char *path, int *post);

/* Answers q: a malloc'd JSON document in *body (*len bytes) and the HTTP
 * status. Runs on a dashboard thread. */
void fq_dash_answer(const fq_config *cfg, fq_snapshot *snapshot, struct sqlite3 *db,
                    const fq_dash_query *q, char **body, size_t *len, unsigned *status);

#endif
