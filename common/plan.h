/* plan.h -- a ceo task's plan: the subtasks the model answered with,
 * checked like submissions, normalized, and later submitted (plan.c). */
#ifndef FQ_PLAN_H
#define FQ_PLAN_H

#include <stddef.h>

#include "task.h"

typedef struct fq_plan_limits {
    int max_subtasks;   /* FLEETQ_PLAN_MAX */
    int max_depth;      /* FLEETQ_PLAN_DEPTH: a user's plan is depth 1 */
} fq_plan_limits;

/* Reads the model's answer to the plan task parent (whose plan depth is
 * depth) as a plan. Returns 0 with the normalized plan in *normalized
 * (malloc'd JSON: the subtasks as submissions, with their full ids), or
 * -1 with one line in err naming what is wrong ("plan: ..."). */
int fq_plan_check(const char *answer, size_t len, const char *parent, int depth,
                  const fq_plan_limits *lim, char **normalized, char *err, size_t errlen);

/* Calls fn with each subtask of a normalized plan of depth depth, parsed
 * as a submission (a subtask that plans gets depth + 1). Stops at the
 * first non-zero return and returns it; -1 when the plan does not parse. */
typedef int (*fq_plan_fn)(fq_task *t, void *data);
int fq_plan_each(const char *normalized, int depth, fq_plan_fn fn, void *data);

/* What a plan task's request says after its system prompt (malloc'd):
 * the plan's shape, with FQ_PLAN_MARK in front, which the local mock
 * provider knows plan requests by. */
#define FQ_PLAN_MARK "[fleetq plan]"
char *fq_plan_instruction(const char *system, int max_subtasks);

#endif
