/* fuzz_plan.c -- libFuzzer harness for the plan reader fq_plan_check()
 * (plan.h): the input is what a model answered to a plan task.
 *
 * The first byte sets the parent task's plan depth (1..3) and whether the
 * id is long (near the 128-byte limit); the rest is the answer, copied
 * into a buffer of exactly its length. Invariants:
 *  - a refusal carries one error line starting "plan: " and no plan;
 *  - an accepted plan has 1..FLEETQ_PLAN_MAX subtasks, each of which reads
 *    back (fq_plan_each) as a valid submission whose id is <parent>.<x>,
 *    that waits for the parent first and only for the parent and earlier
 *    subtasks, and whose plan depth, when it plans, is one more.
 * A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plan.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERR_LEN 512

typedef struct seen {
    const char *parent;
    int depth;
    int n;
    char ids[32][FQ_ID_MAX + 1];
} seen;

static int check_subtask(fq_task *t, void *data)
{
    seen *s = data;
    size_t plen = strlen(s->parent);
    if (strncmp(t->id, s->parent, plen) != 0 || t->id[plen] != '.')
        fail("a subtask's id is not <parent>.<local id>");
    cJSON *parents = cJSON_Parse(t->parents ? t->parents : "");
    if (!cJSON_IsArray(parents) || cJSON_GetArraySize(parents) < 1)
        fail("a subtask does not wait for its parent");
    const cJSON *p;
    int first = 1;
    cJSON_ArrayForEach(p, parents) {
        int ok = first ? strcmp(p->valuestring, s->parent) == 0 : 0;
        for (int i = 0; !first && i < s->n; i++)
            ok |= strcmp(p->valuestring, s->ids[i]) == 0;
        if (!ok)
            fail("a subtask waits for something other than its parent and earlier subtasks");
        first = 0;
    }
    cJSON_Delete(parents);
    if (t->plan != 0 && t->plan != s->depth + 1)
        fail("a planning subtask is not one level deeper");
    if (s->n >= 32)
        fail("more subtasks than the limit");
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", t->id);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int depth = 1 + data[0] % 3;
    const char *parent = data[0] & 0x80 ? "a-long-parent-id-that-leaves-little-room-for-the-"
                                          "local-ids-of-its-subtasks-0123456789-0123456789"
                                        : "p";
    size_t len = size - 1;
    char *answer = malloc(len ? len : 1);
    if (answer == NULL)
        return 0;
    memcpy(answer, data + 1, len);
    fq_plan_limits lim = {.max_subtasks = 5, .max_depth = 3};
    char err[ERR_LEN];
    char *plan = NULL;
    if (fq_plan_check(answer, len, parent, depth, &lim, &plan, err, sizeof(err)) != 0) {
        if (plan != NULL)
            fail("a refused plan came with a plan");
        fuzz_check_error_line(err, sizeof(err), 1);
        if (strncmp(err, "plan: ", 6) != 0)
            fail("a refusal does not start with \"plan: \"");
        free(answer);
        return 0;
    }
    seen s = {.parent = parent, .depth = depth};
    if (fq_plan_each(plan, depth, check_subtask, &s) != 0)
        fail("an accepted plan does not read back");
    if (s.n < 1 || s.n > lim.max_subtasks)
        fail("an accepted plan has a number of subtasks out of bounds");
    free(plan);
    free(answer);
    return 0;
}
