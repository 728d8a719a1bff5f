/* task_fallback.c -- the models a task falls back to (see task.h): a
 * submission's `fallback` and FLEETQ_ROLE_<R>_FALLBACK.
 *
 * The list is given as model names separated by commas ("grok-3, grok-3-mini")
 * or, inside `json`, as a JSON array of them (or that same comma string).
 * Blanks around each name are ignored. Each name is 1 to FQ_MODEL_NAME_MAX
 * characters of the id alphabet, named once, and there are at most
 * FQ_FALLBACK_MAX of them. An empty (or blank) list is valid and kept as
 * "": it means no fallback, so a task can turn its role's list off. The
 * list is kept as the names joined by commas, without blanks.
 */
#include "task.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text.h"

typedef struct names {
    const char *what;   /* the field, for error lines */
    int n;
    const char *s[FQ_FALLBACK_MAX];
    size_t len[FQ_FALLBACK_MAX];
} names;

/* Appends one name to the list, after checking it; -1 with err set. */
static int add_name(names *list, const char *s, size_t len, char *err, size_t errlen)
{
    fq_text_shown sh;
    if (!fq_text_name_valid(s, len, FQ_MODEL_NAME_MAX))
        return fq_text_fail(err, errlen,
                            "%s: %s is not a model name (1 to %d of A-Z a-z 0-9 . _ : -)",
                            list->what, fq_text_show(&sh, s, len), FQ_MODEL_NAME_MAX);
    for (int i = 0; i < list->n; i++) {
        if (list->len[i] == len && memcmp(list->s[i], s, len) == 0)
            return fq_text_fail(err, errlen, "%s: names %s more than once", list->what,
                                fq_text_show(&sh, s, len));
    }
    if (list->n == FQ_FALLBACK_MAX)
        return fq_text_fail(err, errlen, "%s: names more than %d models", list->what,
                            FQ_FALLBACK_MAX);
    list->s[list->n] = s;
    list->len[list->n] = len;
    list->n++;
    return 0;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!fq_text_is_space(s[i]))
            return 0;
    }
    return 1;
}

static int add_from_text(names *list, const char *s, size_t len, char *err, size_t errlen)
{
    if (blank(s, len))
        return 0;
    size_t at = 0;
    while (at <= len) {
        const char *comma = memchr(s + at, ',', len - at);
        size_t end = comma != NULL ? (size_t)(comma - s) : len;
        size_t a = at, b = end;
        while (a < b && fq_text_is_space(s[a]))
            a++;
        while (b > a && fq_text_is_space(s[b - 1]))
            b--;
        if (add_name(list, s + a, b - a, err, errlen) != 0)
            return -1;
        at = end + 1;
    }
    return 0;
}

static int add_from_array(names *list, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsString(it))
            return fq_text_fail(err, errlen, "%s: element %d is not a string; give an array "
                                "of model names like [\"grok-3\", \"grok-3-mini\"]",
                                list->what, i);
        if (add_name(list, it->valuestring, strlen(it->valuestring), err, errlen) != 0)
            return -1;
        i++;
    }
    return 0;
}

/* The names joined by commas (malloc'd), or NULL when memory ran out. */
static char *join(const names *list)
{
    size_t total = 1;
    for (int i = 0; i < list->n; i++)
        total += list->len[i] + 1;
    char *out = malloc(total);
    if (out == NULL)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < list->n; i++) {
        if (i > 0)
            out[at++] = ',';
        memcpy(out + at, list->s[i], list->len[i]);
        at += list->len[i];
    }
    out[at] = '\0';
    return out;
}

int fq_fallback_parse(const char *what, const char *s, size_t len, const cJSON *j, char **out,
                      char *err, size_t errlen)
{
    names list = {.what = what != NULL ? what : "fallback"};
    int rc;
    *out = NULL;
    if (j != NULL && cJSON_IsArray(j))
        rc = add_from_array(&list, j, err, errlen);
    else if (s != NULL)
        rc = add_from_text(&list, s, len, err, errlen);
    else
        rc = fq_text_fail(err, errlen, "%s: must be model names separated by commas, or a "
                          "JSON array of them", list.what);
    if (rc != 0)
        return -1;
    if ((*out = join(&list)) == NULL)
        return fq_text_fail(err, errlen, "%s: out of memory", list.what);
    return 0;
}
