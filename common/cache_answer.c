/* cache_answer.c -- an answer as the response cache keeps it (see
 * cache_answer.h): a flat JSON object of strings and counts, written and
 * read through one table of members.
 */
#include "cache_answer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const struct {
    const char *name;
    size_t offset;
} count_members[] = {
    {"prompt_tokens", offsetof(fq_usage, prompt_tokens)},
    {"completion_tokens", offsetof(fq_usage, completion_tokens)},
    {"reasoning_tokens", offsetof(fq_usage, reasoning_tokens)},
    {"cached_tokens", offsetof(fq_usage, cached_tokens)},
    {"cost_ticks", offsetof(fq_usage, cost_ticks)},
};

#define NCOUNTS (sizeof(count_members) / sizeof(count_members[0]))

/* The largest count read: cJSON prints a number with 15 significant digits
 * when that reads back close enough, so larger ones would not come back
 * exactly (1e15 ticks are 100,000 USD, far beyond one call). */
#define COUNT_MAX 999999999999999.0

static int64_t *count_at(fq_usage *u, size_t i)
{
    return (int64_t *)((char *)u + count_members[i].offset);
}

static int add_string(cJSON *o, const char *name, const char *v)
{
    return v == NULL || cJSON_AddStringToObject(o, name, v) != NULL ? 0 : -1;
}

char *fq_cache_answer_encode(const fq_cache_answer *a)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;
    if (o == NULL || a->output == NULL || a->task == NULL)
        goto done;
    if (add_string(o, "output", a->output) != 0 ||
        add_string(o, "finish_reason", a->finish_reason) != 0 ||
        add_string(o, "model", a->model) != 0 || add_string(o, "task", a->task) != 0)
        goto done;
    fq_usage u = a->usage;
    for (size_t i = 0; i < NCOUNTS; i++) {
        int64_t v = *count_at(&u, i);
        if (cJSON_AddNumberToObject(o, count_members[i].name, (double)(v > 0 ? v : 0)) == NULL)
            goto done;
    }
    char *printed = cJSON_PrintUnformatted(o);
    if (printed != NULL) {
        out = strdup(printed);
        cJSON_free(printed);
    }
done:
    cJSON_Delete(o);
    return out;
}

static int take_string(const cJSON *o, const char *name, int required, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL || cJSON_IsNull(v))
        return required ? -1 : 0;
    if (!cJSON_IsString(v))
        return -1;
    return (*out = strdup(v->valuestring)) != NULL ? 0 : -1;
}

int fq_cache_answer_decode(const char *json, size_t len, fq_cache_answer *a)
{
    memset(a, 0, sizeof(*a));
    cJSON *o = json != NULL ? cJSON_ParseWithLength(json, len) : NULL;
    int rc = -1;
    if (!cJSON_IsObject(o))
        goto done;
    if (take_string(o, "output", 1, &a->output) != 0 ||
        take_string(o, "task", 1, &a->task) != 0 ||
        take_string(o, "finish_reason", 0, &a->finish_reason) != 0 ||
        take_string(o, "model", 0, &a->model) != 0)
        goto done;
    for (size_t i = 0; i < NCOUNTS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, count_members[i].name);
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (v != NULL && (!cJSON_IsNumber(v) || !isfinite(d) || d < 0 || d > COUNT_MAX ||
                          d != floor(d)))
            goto done;
        *count_at(&a->usage, i) = (int64_t)d;
    }
    a->usage.total_tokens = a->usage.prompt_tokens + a->usage.completion_tokens +
                            a->usage.reasoning_tokens;
    rc = 0;
done:
    cJSON_Delete(o);
    if (rc != 0)
        fq_cache_answer_free(a);
    return rc;
}

void fq_cache_answer_free(fq_cache_answer *a)
{
    free(a->output);
    free(a->finish_reason);
    free(a->model);
    free(a->task);
    memset(a, 0, sizeof(*a));
}
