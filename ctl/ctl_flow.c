/* ctl_flow.c -- the tasks of a flow, as Redis has them, for `flow` and
 * `cancel --flow`.
 *
 * A flow is named by its root's id. Its tasks are found from the root
 * down: each task's <prefix>:children:<id> set names the tasks that
 * waited for it, and those whose flow_id is the root's belong to the flow
 * (a task with parents in two flows joins its first parent's). Each
 * task's state is one HMGET of its hash. Redis keeps ended tasks for
 * FLEETQ_RESULT_TTL; older flows are in SQLite (the flows view).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"

#define FLOW_MAX 100000

static const char *const fields[FQ_CTL_FLOW_FIELDS] = {
    "status", "role", "parents", "cost_ticks", "error", "flow_id",
};

static int known(const fq_ctl_flow *f, const char *id)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tasks[i].id, id) == 0)
            return 1;
    return 0;
}

static int add(fq_ctl_flow *f, const char *id)
{
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 32;
        fq_ctl_flow_task *t = realloc(f->tasks, sizeof(*t) * (size_t)cap);
        if (t == NULL)
            return -1;
        f->tasks = t;
        f->cap = cap;
    }
    fq_ctl_flow_task *t = &f->tasks[f->n];
    memset(t, 0, sizeof(*t));
    if ((t->id = strdup(id)) == NULL)
        return -1;
    f->n++;
    return 0;
}

int fq_ctl_flow_gather(fq_ctl *ctl, const char *root, fq_ctl_flow *f)
{
    memset(f, 0, sizeof(*f));
    if (add(f, root) != 0)
        return -1;
    for (int i = 0; i < f->n; i++) {
        char key[FQ_KEY_MAX];
        fq_key_task(f->tasks[i].id, key, sizeof(key));
        fq_argv a;
        fq_argv_init(&a);
        fq_argv_adds(&a, "HMGET");
        fq_argv_adds(&a, key);
        for (int k = 0; k < FQ_CTL_FLOW_FIELDS; k++)
            fq_argv_adds(&a, fields[k]);
        redisReply *h = fq_ctl_command_argv(ctl, &a);
        fq_argv_free(&a);
        if (h == NULL)
            return -1;
        if (h->type != REDIS_REPLY_ARRAY || h->elements != FQ_CTL_FLOW_FIELDS) {
            freeReplyObject(h);
            return -1;
        }
        f->tasks[i].fields = h;
        redisReply *kids = fq_ctl_command_run(ctl, "SMEMBERS %s",
                                              fq_key_children(f->tasks[i].id, key, sizeof(key)));
        if (kids == NULL)
            return -1;
        for (size_t k = 0; kids->type == REDIS_REPLY_ARRAY && k < kids->elements; k++) {
            const char *kid = kids->element[k]->str;
            if (kids->element[k]->type == REDIS_REPLY_STRING && !known(f, kid) &&
                f->n < FLOW_MAX && add(f, kid) != 0) {
                freeReplyObject(kids);
                return -1;
            }
        }
        freeReplyObject(kids);
    }
    /* the tasks whose flow is another's (a second parent's) are left out */
    int kept = 0;
    for (int i = 0; i < f->n; i++) {
        const char *flow = fq_ctl_flow_field(&f->tasks[i], FQ_CTL_FLOW_FLOW_ID);
        if (i == 0 || (flow != NULL && strcmp(flow, root) == 0)) {
            f->tasks[kept++] = f->tasks[i];
        } else {
            free(f->tasks[i].id);
            freeReplyObject(f->tasks[i].fields);
        }
    }
    f->n = kept;
    return 0;
}

const char *fq_ctl_flow_field(const fq_ctl_flow_task *t, int field)
{
    const redisReply *v = t->fields ? t->fields->element[field] : NULL;
    return v != NULL && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

void fq_ctl_flow_free(fq_ctl_flow *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->tasks[i].id);
        if (f->tasks[i].fields)
            freeReplyObject(f->tasks[i].fields);
    }
    free(f->tasks);
    memset(f, 0, sizeof(*f));
}
