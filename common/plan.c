/* plan.c -- a ceo task's plan (see plan.h): what the model answered, read
 * as subtasks and checked exactly like submissions.
 *
 * The answer must be a JSON array (a Markdown code fence around it is
 * allowed) of 1 to FLEETQ_PLAN_MAX objects, each a submission in its
 * `json` form: role and prompt (or messages), and any other submission
 * field, plus an optional local `id` and an `after` that names earlier
 * subtasks by their local ids. Subtask i (from 1) without an id is "i".
 * Each becomes a task <parent>.<local id> that waits for the parent task
 * and for the subtasks its `after` names; a {{local id}} of a sibling in
 * its texts becomes {{<parent>.<local id>}}. A subtask that plans in turn
 * would be a plan one level deeper: more than FLEETQ_PLAN_DEPTH is
 * refused. The normalized plan (those submissions, with their full ids)
 * is the parent task's output; the coordinator submits it once the
 * parent is stored (fq_plan_each).
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text.h"

/* The answer without a ``` fence around it, and without surrounding
 * white space: [*at, *at + *len). */
static void strip_fence(const char *s, size_t n, size_t *at, size_t *len)
{
    size_t a = 0, b = n;
    while (a < b && fq_text_is_space(s[a]))
        a++;
    while (b > a && fq_text_is_space(s[b - 1]))
        b--;
    if (b - a >= 6 && memcmp(s + a, "```", 3) == 0 && memcmp(s + b - 3, "```", 3) == 0) {
        const char *nl = memchr(s + a, '\n', b - a);
        if (nl != NULL && (size_t)(nl - s) < b - 3) {
            a = (size_t)(nl - s) + 1;
            b -= 3;
        }
    }
    *at = a;
    *len = b - a;
}

static int local_index(const cJSON *locals, const char *name, int before)
{
    for (int i = 0; i < before; i++) {
        const cJSON *l = cJSON_GetArrayItem(locals, i);
        if (l != NULL && strcmp(l->valuestring, name) == 0)
            return i;
    }
    return -1;
}

/* {{x}} with x a local id of an earlier sibling becomes {{parent.x}}, in
 * every string of the item (prompt, system, the contents of messages). */
static int qualify_placeholders(cJSON *item, const char *parent, const cJSON *locals, int before)
{
    if (cJSON_IsString(item)) {
        const char *s = item->valuestring;
        size_t len = strlen(s), cap = len + 1, used = 0;
        char *out = malloc(cap);
        if (out == NULL)
            return -1;
        for (size_t i = 0; i < len;) {
            size_t n = fq_placeholder_at(s + i, len - i);
            char name[FQ_ID_MAX + 1];
            if (n > 0 && n <= FQ_ID_MAX) {
                memcpy(name, s + i + 2, n);
                name[n] = '\0';
            }
            if (n > 0 && n <= FQ_ID_MAX && local_index(locals, name, before) >= 0) {
                size_t need = used + strlen(parent) + n + 6;
                if (need + (len - i) >= cap) {
                    cap = (need + (len - i)) * 2;
                    char *grown = realloc(out, cap);
                    if (grown == NULL) {
                        free(out);
                        return -1;
                    }
                    out = grown;
                }
                used += (size_t)sprintf(out + used, "{{%s.%s}}", parent, name);
                i += n + 4;
            } else {
                if (used + 2 >= cap) {
                    char *grown = realloc(out, cap *= 2);
                    if (grown == NULL) {
                        free(out);
                        return -1;
                    }
                    out = grown;
                }
                out[used++] = s[i++];
            }
        }
        out[used] = '\0';
        int ok = cJSON_SetValuestring(item, out) != NULL;
        free(out);
        return ok ? 0 : -1;
    }
    for (cJSON *c = item->child; c != NULL; c = c->next)
        if (qualify_placeholders(c, parent, locals, before) != 0)
            return -1;
    return 0;
}

/* `after` of subtask i (local ids of earlier subtasks) as full ids,
 * behind the parent; -1 with err set. */
static int qualify_after(cJSON *obj, int i, const char *parent, const cJSON *locals,
                         char *err, size_t errlen)
{
    cJSON *after = cJSON_DetachItemFromObjectCaseSensitive(obj, "after");
    cJSON *full = cJSON_CreateArray();
    int rc = full != NULL && cJSON_AddItemToArray(full, cJSON_CreateString(parent)) ? 0 : -1;
    if (rc != 0)
        fq_text_fail(err, errlen, "plan: out of memory");
    if (rc == 0 && after != NULL && !cJSON_IsArray(after))
        rc = fq_text_fail(err, errlen, "plan: subtask %d: after must be an array of the local ids "
                          "of earlier subtasks", i + 1);
    const cJSON *a;
    const cJSON *names = rc == 0 ? after : NULL;
    cJSON_ArrayForEach(a, names) {
        if (!cJSON_IsString(a)) {
            rc = fq_text_fail(err, errlen, "plan: subtask %d: after must name subtasks by their "
                              "local ids (strings)", i + 1);
            break;
        }
        if (local_index(locals, a->valuestring, i) < 0) {
            fq_text_shown sh;
            rc = fq_text_fail(err, errlen, "plan: subtask %d: after names %s, which is not an "
                              "earlier subtask", i + 1,
                              fq_text_show(&sh, a->valuestring, strlen(a->valuestring)));
            break;
        }
        char id[2 * FQ_ID_MAX + 2];
        snprintf(id, sizeof(id), "%s.%s", parent, a->valuestring);
        if (!cJSON_AddItemToArray(full, cJSON_CreateString(id))) {
            rc = fq_text_fail(err, errlen, "plan: out of memory");
            break;
        }
    }
    cJSON_Delete(after);
    if (rc == 0 && !cJSON_AddItemToObject(obj, "after", full))
        rc = fq_text_fail(err, errlen, "plan: out of memory");
    else if (rc == 0)
        return 0;
    cJSON_Delete(full);
    return rc;
}

/* Subtask i: its local id into locals, its full id, after and
 * placeholders in obj; then checked as a submission. */
static int normalize_subtask(cJSON *obj, int i, const char *parent, int depth,
                             const fq_plan_limits *lim, cJSON *locals, char *err, size_t errlen)
{
    char local[FQ_ID_MAX + 1];
    if (!cJSON_IsObject(obj))
        return fq_text_fail(err, errlen, "plan: subtask %d is not a JSON object like "
                            "{\"role\":\"code\",\"prompt\":\"...\"}", i + 1);
    cJSON *id = cJSON_DetachItemFromObjectCaseSensitive(obj, "id");
    if (id != NULL && (!cJSON_IsString(id) || !fq_id_valid(id->valuestring,
                                                           strlen(id->valuestring)))) {
        cJSON_Delete(id);
        return fq_text_fail(err, errlen, "plan: subtask %d: id must be 1-128 of A-Z a-z 0-9 . _ "
                            ": -", i + 1);
    }
    snprintf(local, sizeof(local), "%s", id ? id->valuestring : "");
    if (id == NULL)
        snprintf(local, sizeof(local), "%d", i + 1);
    cJSON_Delete(id);
    if (local_index(locals, local, i) >= 0)
        return fq_text_fail(err, errlen, "plan: subtask %d: id %s is given twice", i + 1, local);
    if (!cJSON_AddItemToArray(locals, cJSON_CreateString(local)))
        return fq_text_fail(err, errlen, "plan: out of memory");
    if (strlen(parent) + 1 + strlen(local) > FQ_ID_MAX)
        return fq_text_fail(err, errlen, "plan: subtask %d: its id %s.%s would be longer than %d "
                            "characters", i + 1, parent, local, FQ_ID_MAX);
    const cJSON *plans = cJSON_GetObjectItemCaseSensitive(obj, "plan");
    if (cJSON_IsTrue(plans) && depth + 1 > lim->max_depth)
        return fq_text_fail(err, errlen, "plan: subtask %d plans in turn, at depth %d: deeper "
                            "than FLEETQ_PLAN_DEPTH=%d", i + 1, depth + 1, lim->max_depth);
    if (qualify_after(obj, i, parent, locals, err, errlen) != 0 ||
        qualify_placeholders(obj, parent, locals, i) != 0)
        return err[0] ? -1 : fq_text_fail(err, errlen, "plan: out of memory");
    char full[2 * FQ_ID_MAX + 2];
    snprintf(full, sizeof(full), "%s.%s", parent, local);
    if (!cJSON_AddItemToObject(obj, "id", cJSON_CreateString(full)))
        return fq_text_fail(err, errlen, "plan: out of memory");

    /* exactly as a submission */
    char *text = cJSON_PrintUnformatted(obj);
    if (text == NULL)
        return fq_text_fail(err, errlen, "plan: out of memory");
    fq_field f = {"json", 4, text, strlen(text)};
    fq_task t;
    char why[512];
    int rc = fq_task_parse_submission(&f, 1, NULL, &t, NULL, why, sizeof(why));
    free(text);
    fq_task_free(&t);
    if (rc != 0)
        return fq_text_fail(err, errlen, "plan: subtask %d: %s", i + 1,
                            strncmp(why, "json: ", 6) == 0 ? why + 6 : why);
    return 0;
}

int fq_plan_check(const char *answer, size_t len, const char *parent, int depth,
                  const fq_plan_limits *lim, char **normalized, char *err, size_t errlen)
{
    size_t at, n;
    *normalized = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    strip_fence(answer, len, &at, &n);
    cJSON *plan = cJSON_ParseWithLength(answer + at, n);
    if (plan == NULL)
        return fq_text_fail(err, errlen, "plan: the answer is not JSON; a plan is a JSON array "
                            "of subtasks like [{\"role\":\"code\",\"prompt\":\"...\"}]");
    int rc = 0, count = cJSON_GetArraySize(plan);
    cJSON *locals = cJSON_CreateArray();
    if (!cJSON_IsArray(plan))
        rc = fq_text_fail(err, errlen, "plan: the answer is JSON but not an array of subtasks");
    else if (count == 0)
        rc = fq_text_fail(err, errlen, "plan: no subtasks");
    else if (count > lim->max_subtasks)
        rc = fq_text_fail(err, errlen, "plan: %d subtasks, more than FLEETQ_PLAN_MAX=%d", count,
                          lim->max_subtasks);
    else if (locals == NULL)
        rc = fq_text_fail(err, errlen, "plan: out of memory");
    for (int i = 0; rc == 0 && i < count; i++)
        rc = normalize_subtask(cJSON_GetArrayItem(plan, i), i, parent, depth, lim, locals, err,
                               errlen);
    if (rc == 0 && (*normalized = cJSON_PrintUnformatted(plan)) == NULL)
        rc = fq_text_fail(err, errlen, "plan: out of memory");
    cJSON_Delete(locals);
    cJSON_Delete(plan);
    return rc;
}

int fq_plan_each(const char *normalized, int depth, fq_plan_fn fn, void *data)
{
    cJSON *plan = cJSON_Parse(normalized);
    if (!cJSON_IsArray(plan)) {
        cJSON_Delete(plan);
        return -1;
    }
    int rc = 0;
    const cJSON *obj;
    cJSON_ArrayForEach(obj, plan) {
        char *text = cJSON_PrintUnformatted(obj);
        fq_field f = {"json", 4, text, text ? strlen(text) : 0};
        fq_task t;
        char why[512];
        rc = text != NULL ? fq_task_parse_submission(&f, 1, NULL, &t, NULL, why, sizeof(why))
                          : -1;
        free(text);
        if (rc == 0) {
            if (t.plan > 0)
                t.plan = depth + 1;
            rc = fn(&t, data);
        }
        fq_task_free(&t);
        if (rc != 0)
            break;
    }
    cJSON_Delete(plan);
    return rc;
}

char *fq_plan_instruction(const char *system, int max_subtasks)
{
    static const char text[] =
        "%s%s" FQ_PLAN_MARK " Answer with a plan and nothing else: a JSON array of at most %d "
        "subtasks, in the order they can run. Each subtask is an object with \"role\" (one of "
        FQ_ROLE_LIST ") and \"prompt\" (what that role is to do, complete on its own), and "
        "optionally \"id\" (a short name, letters, digits, . _ : -) and \"after\" (an array "
        "of the ids of earlier subtasks it needs). In a prompt, {{id}} stands for the output "
        "of an earlier subtask named in its after.";
    const char *sep = system != NULL && system[0] != '\0' ? "\n\n" : "";
    size_t len = sizeof(text) + (system ? strlen(system) : 0) + 16;
    char *out = malloc(len);
    if (out != NULL)
        snprintf(out, len, text, system ? system : "", sep, max_subtasks);
    return out;
}
