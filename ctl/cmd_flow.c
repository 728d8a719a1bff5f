/* cmd_flow.c -- `fleetqctl flow ID [--json]`: a flow's tasks as a tree,
 * with their statuses and costs (ctl_flow.c finds them in Redis).
 *
 * Each task is shown under its first parent in the flow other than the
 * root (under the root when it waited for no other), its siblings in the
 * order of their ids; a task that waited for more than one names them all
 * ("(after ...)"). A line ends with
 * the error of a task that did not end done. The totals come first: the
 * tasks by status, and the cost so far.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "fq_shared.h"
#include "task.h"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_flow = {
    .name = "flow",
    .args = "ID [--json]",
    .summary = "show a flow (a task and those that waited for it) as a tree",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_flow, stdout);
    fputs("\n"
          "Shows the flow whose root is ID: the task, the tasks that waited for it\n"
          "(after, review_by, a plan's subtasks), theirs, and so on, each with its\n"
          "status, role and cost; first the counts by status and the flow's cost.\n"
          "Redis keeps ended tasks for FLEETQ_RESULT_TTL; an older flow is in\n"
          "SQLite: SELECT * FROM flows WHERE flow_id = 'ID'.\n"
          "\n"
          "Options:\n"
          "  --json       print one JSON object: flow, status counts, cost_usd and\n"
          "               tasks (id, status, role, parents, cost_usd, error)\n"
          "  -h, --help   show this help\n",
          stdout);
}

static const char *parents_of(const fq_ctl_flow_task *t)
{
    const char *p = fq_ctl_flow_field(t, FQ_CTL_FLOW_PARENTS);
    return p != NULL ? p : "[]";
}

static double usd(const fq_ctl_flow_task *t)
{
    const char *ticks = fq_ctl_flow_field(t, FQ_CTL_FLOW_COST_TICKS);
    return ticks ? strtod(ticks, NULL) / (double)FQ_TICKS_PER_USD : 0;
}

static const char *status_of(const fq_ctl_flow_task *t)
{
    const char *s = fq_ctl_flow_field(t, FQ_CTL_FLOW_STATUS);
    return s ? s : "gone";
}

/* The task t is shown under: its first parent in the flow other than the
 * root, or the root (0) when it waited for no other. */
static int shown_under(const fq_ctl_flow *f, const fq_ctl_flow_task *t)
{
    cJSON *parents = cJSON_Parse(parents_of(t));
    int under = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parents) {
        for (int i = 1; i < f->n && under == 0 && cJSON_IsString(p); i++)
            if (strcmp(f->tasks[i].id, p->valuestring) == 0)
                under = i;
        if (under != 0)
            break;
    }
    cJSON_Delete(parents);
    return under;
}

static int by_id(const void *a, const void *b, void *f)
{
    const fq_ctl_flow *flow = f;
    return strcmp(flow->tasks[*(const int *)a].id, flow->tasks[*(const int *)b].id);
}

/* Prints task i and, below it, the tasks shown under it (under[k] is the
 * task k is shown under). */
static void print_task(const fq_ctl_flow *f, const int *under, int i, const char *indent,
                       int last, int depth)
{
    const fq_ctl_flow_task *t = &f->tasks[i];
    const char *role = fq_ctl_flow_field(t, FQ_CTL_FLOW_ROLE);
    const char *error = fq_ctl_flow_field(t, FQ_CTL_FLOW_ERROR);
    const char *status = status_of(t);
    printf("%s%s%s  %s  %s  $%.6f", indent, depth == 0 ? "" : last ? "`- " : "|- ", t->id,
           status, role ? role : "?", usd(t));
    cJSON *parents = cJSON_Parse(parents_of(t));
    if (cJSON_GetArraySize(parents) > 1) {
        printf("  (after");
        const cJSON *p;
        cJSON_ArrayForEach(p, parents)
            if (cJSON_IsString(p))
                printf(" %s", p->valuestring);
        printf(")");
    }
    cJSON_Delete(parents);
    if (error != NULL && strcmp(status, "done") != 0) {
        printf("  ");
        fq_ctl_put_field(stdout, error, strlen(error) > 100 ? 100 : strlen(error));
    }
    printf("\n");
    if (depth > 64)
        return;
    char next[512];
    if (snprintf(next, sizeof(next), "%s%s", indent, depth == 0 ? "" : last ? "   " : "|  ") >=
        (int)sizeof(next))
        return;
    int kids[1024], n = 0;
    for (int k = 0; k < f->n && n < 1024; k++)
        if (k != 0 && under[k] == i)
            kids[n++] = k;
    qsort_r(kids, (size_t)n, sizeof(kids[0]), by_id, (void *)f);
    for (int k = 0; k < n; k++)
        print_task(f, under, kids[k], next, k == n - 1, depth + 1);
}

static cJSON *as_json(const fq_ctl_flow *f, const char *root)
{
    cJSON *o = cJSON_CreateObject(), *counts = cJSON_CreateObject();
    cJSON *tasks = cJSON_CreateArray();
    if (o == NULL || counts == NULL || tasks == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(counts);
        cJSON_Delete(tasks);
        return NULL;
    }
    double total = 0;
    cJSON_AddStringToObject(o, "flow", root);
    cJSON_AddItemToObject(o, "counts", counts);
    for (int i = 0; i < f->n; i++) {
        const fq_ctl_flow_task *t = &f->tasks[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(tasks, e))
            break;
        const char *status = status_of(t);
        cJSON_AddStringToObject(e, "id", t->id);
        cJSON_AddStringToObject(e, "status", status);
        const char *role = fq_ctl_flow_field(t, FQ_CTL_FLOW_ROLE);
        fq_ctl_json_str(e, "role", role, role ? strlen(role) : 0);
        cJSON *parents = cJSON_Parse(parents_of(t));
        cJSON_AddItemToObject(e, "parents", parents ? parents : cJSON_CreateArray());
        cJSON_AddNumberToObject(e, "cost_usd", usd(t));
        const char *error = fq_ctl_flow_field(t, FQ_CTL_FLOW_ERROR);
        fq_ctl_json_str(e, "error", error, error ? strlen(error) : 0);
        cJSON *c = cJSON_GetObjectItemCaseSensitive(counts, status);
        if (c != NULL)
            cJSON_SetNumberValue(c, c->valuedouble + 1);
        else
            cJSON_AddNumberToObject(counts, status, 1);
        total += usd(t);
    }
    cJSON_AddNumberToObject(o, "cost_usd", total);
    cJSON_AddItemToObject(o, "tasks", tasks);
    return o;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    int json;
    int rc = fq_ctl_json_options(&fq_ctl_cmd_flow, help, 0, argc, argv, &json);
    if (rc >= 0)
        return rc;
    if (optind + 1 != argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_flow, optind >= argc ? "no flow id given"
                                                                   : "give one flow id");
    const char *root = argv[optind];
    if (!fq_id_valid(root, strlen(root)))
        return fq_ctl_usage_error(&fq_ctl_cmd_flow, "\"%.40s\" is not a task id", root);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);
    fq_ctl_flow f;
    if (fq_ctl_flow_gather(ctl, root, &f) != 0) {
        fq_ctl_flow_free(&f);
        if (fq_ctl_exit(ctl) == FQ_CTL_OK)
            fq_ctl_errorf("flow %s: out of memory or an unexpected reply", root);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    if (f.n == 1 && fq_ctl_flow_field(&f.tasks[0], FQ_CTL_FLOW_STATUS) == NULL) {
        fq_ctl_flow_free(&f);
        fq_ctl_errorf("flow %s: not found in Redis (unknown, or ended longer ago than "
                      "FLEETQ_RESULT_TTL: see SELECT * FROM flows WHERE flow_id = '%s')",
                      root, root);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return fq_ctl_exit(ctl);
    }
    if (json) {
        if (fq_ctl_json_print(as_json(&f, root)) != 0)
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else {
        cJSON *summary = as_json(&f, root);
        printf("flow %s: %d tasks", root, f.n);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(summary, "counts"))
            printf(", %s %d", c->string, (int)c->valuedouble);
        printf(", $%.6f\n",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(summary, "cost_usd")));
        cJSON_Delete(summary);
        int *under = calloc((size_t)f.n, sizeof(*under));
        for (int i = 1; under != NULL && i < f.n; i++)
            under[i] = shown_under(&f, &f.tasks[i]);
        if (under != NULL)
            print_task(&f, under, 0, "", 1, 0);
        else
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        free(under);
    }
    fq_ctl_flow_free(&f);
    return fq_ctl_exit(ctl);
}
