/* task_after.c -- how tasks depend on others (see task.h): a submission's
 * `after`, the tasks it waits for; the {{ID}} placeholders its texts may
 * name them by; and the review task that `review_by` brings.
 *
 * `after` is given as ids separated by commas ("a, b") or, inside `json`,
 * as a JSON array of id strings. Each must be a valid id, named once, not
 * the task's own, and there may be at most FQ_AFTER_MAX of them; the task
 * keeps them as a compact JSON array (its `parents`), the form the task
 * hash, the final record and SQLite hold. Whether each parent exists is
 * for intake.lua to say, since only Redis knows.
 *
 * A placeholder is "{{" id "}}" with nothing else between the braces. In a
 * task with `after`, every placeholder of its prompt, system or messages
 * must name one of its parents (resolve.lua puts that parent's output in
 * its place); text between braces that is not an id is left as it is. A
 * task without `after` has no placeholders: its braces are plain text.
 */
#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text.h"

/* Appends one id to the array, after checking it; -1 with err set. */
static int add_parent(cJSON *list, const char *s, size_t len, const char *own_id, char *err,
                      size_t errlen)
{
    fq_text_shown sh;
    if (!fq_id_valid(s, len))
        return fq_text_fail(err, errlen,
                            "after: %s is not a task id (1-128 of A-Z a-z 0-9 . _ : -)",
                            fq_text_show(&sh, s, len));
    if (own_id != NULL && strlen(own_id) == len && memcmp(own_id, s, len) == 0)
        return fq_text_fail(err, errlen, "after: names the task itself (%s)", own_id);
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (strlen(it->valuestring) == len && memcmp(it->valuestring, s, len) == 0)
            return fq_text_fail(err, errlen, "after: names %s more than once",
                                fq_text_show(&sh, s, len));
    }
    if (cJSON_GetArraySize(list) >= (int)FQ_AFTER_MAX)
        return fq_text_fail(err, errlen, "after: names more than %d tasks", (int)FQ_AFTER_MAX);
    char id[FQ_ID_MAX + 1];
    memcpy(id, s, len);
    id[len] = '\0';
    cJSON *str = cJSON_CreateString(id);
    if (str == NULL || !cJSON_AddItemToArray(list, str)) {
        cJSON_Delete(str);
        return fq_text_fail(err, errlen, "after: out of memory");
    }
    return 0;
}

static int add_from_text(cJSON *list, const char *s, size_t len, const char *own_id, char *err,
                         size_t errlen)
{
    size_t at = 0;
    while (at <= len) {
        size_t end = at;
        while (end < len && s[end] != ',')
            end++;
        size_t a = at, b = end;
        while (a < b && fq_text_is_space(s[a]))
            a++;
        while (b > a && fq_text_is_space(s[b - 1]))
            b--;
        if (add_parent(list, s + a, b - a, own_id, err, errlen) != 0)
            return -1;
        at = end + 1;
    }
    return 0;
}

int fq_after_parse(const char *s, size_t len, const cJSON *j, const char *own_id,
                   char **parents, char *err, size_t errlen)
{
    *parents = NULL;
    cJSON *list = cJSON_CreateArray();
    if (list == NULL)
        return fq_text_fail(err, errlen, "after: out of memory");
    int rc = 0;
    if (j != NULL && cJSON_IsArray(j)) {
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, j) {
            if (!cJSON_IsString(it)) {
                rc = fq_text_fail(err, errlen, "after: element %d is not a string; give an "
                                  "array of task ids like [\"a\", \"b\"]", i);
                break;
            }
            if ((rc = add_parent(list, it->valuestring, strlen(it->valuestring), own_id, err,
                                 errlen)) != 0)
                break;
            i++;
        }
    } else if (s != NULL) {
        rc = add_from_text(list, s, len, own_id, err, errlen);
    } else {
        rc = fq_text_fail(err, errlen, "after: must be task ids separated by commas, or a "
                          "JSON array of them");
    }
    if (rc == 0 && cJSON_GetArraySize(list) == 0)
        rc = fq_text_fail(err, errlen, "after: names no task");
    if (rc == 0 && (*parents = cJSON_PrintUnformatted(list)) == NULL)
        rc = fq_text_fail(err, errlen, "after: out of memory");
    cJSON_Delete(list);
    return rc;
}

/* The length of the id of a placeholder at s ("{{" id "}}"), else 0. */
size_t fq_placeholder_at(const char *s, size_t len)
{
    if (len < 5 || s[0] != '{' || s[1] != '{')
        return 0;
    size_t n = 0;
    while (2 + n + 1 < len && !(s[2 + n] == '}' && s[3 + n] == '}'))
        n++;
    if (2 + n + 1 >= len || n == 0 || !fq_id_valid(s + 2, n))
        return 0;
    return n;
}

int fq_after_check_placeholders(const char *parents, const char *what, const char *text,
                                char *err, size_t errlen)
{
    if (text == NULL)
        return 0;
    cJSON *list = parents ? cJSON_Parse(parents) : NULL;
    size_t len = strlen(text);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + 1 < len; i++) {
        size_t n = fq_placeholder_at(text + i, len - i);
        if (n == 0)
            continue;
        int known = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, list) {
            if (strlen(it->valuestring) == n && memcmp(it->valuestring, text + i + 2, n) == 0)
                known = 1;
        }
        if (!known)
            rc = fq_text_fail(err, errlen,
                              "%s: {{%.*s}} names a task that is not in after (%s); a "
                              "placeholder stands for the output of one of the task's parents",
                              what, (int)n, text + i + 2, parents ? parents : "none");
        i += n + 3;
    }
    cJSON_Delete(list);
    return rc;
}

/* The review task's prompt: what the task was asked, then its output. */
static char *review_prompt(const fq_task *t, const char *id)
{
    static const char head[] = "Review the result of task %s. Say whether it does what was "
                               "asked, and list every problem you find.\n\n"
                               "What was asked:\n%s\n\nThe result:\n{{%s}}\n";
    const char *asked = t->prompt ? t->prompt : t->messages;
    size_t len = sizeof(head) + 2 * strlen(id) + strlen(asked);
    char *out = malloc(len);
    if (out != NULL)
        snprintf(out, len, head, id, asked, id);
    return out;
}

int fq_task_review(const fq_task *t, const char *id, fq_task *out)
{
    fq_task_init(out);
    snprintf(out->id, sizeof(out->id), "%s" FQ_REVIEW_SUFFIX, id);
    out->role = (fq_role)t->review_by;
    cJSON *parents = t->parents ? cJSON_Parse(t->parents) : cJSON_CreateArray();
    cJSON *self = cJSON_CreateString(id);
    int ok = parents != NULL && self != NULL && cJSON_InsertItemInArray(parents, 0, self);
    if (!ok)
        cJSON_Delete(self);
    out->parents = ok ? cJSON_PrintUnformatted(parents) : NULL;
    cJSON_Delete(parents);
    out->prompt = review_prompt(t, id);
    if (out->parents == NULL || out->prompt == NULL) {
        fq_task_free(out);
        return -1;
    }
    return 0;
}
