/* model_params.c -- which models accept which optional parameters, and
 * adding the accepted ones to a request body (see model_params.h).
 *
 * The table is a small static array of (model name, set of parameters),
 * a set being one bit per parameter in the order of FQ_MODEL_PARAM_NAMES.
 * A model is looked up by its exact name first, then by the longest entry
 * that is a prefix of its name ending where the name goes on with '-' or
 * '.': "grok-4" covers grok-4-0709, grok-4-fast and grok-4.1-fast, while
 * grok-3-mini has an entry of its own that wins over grok-3. A model that
 * matches no entry is sent every parameter, so that a provider or model
 * the table does not know still gets what the task asked for.
 *
 * FLEETQ_MODEL_PARAMS is parsed into a copy of the table, which replaces
 * the table only when the whole value was valid: a bad entry changes
 * nothing.
 */
#include "model_params.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "task.h"
#include "text.h"

#define TABLE_MAX 64

enum param {
    P_REASONING_EFFORT, P_TOP_P, P_SEED, P_STOP, P_PRESENCE_PENALTY, P_FREQUENCY_PENALTY,
    P_RESPONSE_FORMAT, P_COUNT
};

/* In the order of FQ_MODEL_PARAM_NAMES. */
static const char *const param_names[P_COUNT] = {
    "reasoning_effort", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty",
    "response_format",
};

#define ACCEPTS(p) (1u << (p))
#define EVERY_PARAM (ACCEPTS(P_COUNT) - 1u)

/* xAI's reasoning models: no penalties, no stop, no reasoning_effort. */
#define XAI_REASONING (ACCEPTS(P_TOP_P) | ACCEPTS(P_SEED) | ACCEPTS(P_RESPONSE_FORMAT))
/* Chat models that do not reason: everything but reasoning_effort. */
#define CHAT (EVERY_PARAM & ~ACCEPTS(P_REASONING_EFFORT))
/* OpenAI's reasoning models. */
#define OPENAI_REASONING \
    (ACCEPTS(P_REASONING_EFFORT) | ACCEPTS(P_SEED) | ACCEPTS(P_RESPONSE_FORMAT))

typedef struct entry {
    char model[FQ_MODEL_NAME_MAX + 1];
    unsigned accepts;   /* ACCEPTS() bits */
} entry;

#define BUILTIN_ENTRIES                                                              \
    {"grok-4", XAI_REASONING}, {"grok-code-fast", XAI_REASONING},                    \
    {"grok-3-mini", XAI_REASONING | ACCEPTS(P_REASONING_EFFORT)}, {"grok-3", CHAT},  \
    {"grok-2", CHAT}, {"gpt-4o", CHAT}, {"gpt-4.1", CHAT}, {"gpt-4", CHAT},          \
    {"gpt-3.5", CHAT}, {"o1", OPENAI_REASONING}, {"o3", OPENAI_REASONING},           \
    {"o4-mini", OPENAI_REASONING}, {"gpt-5", OPENAI_REASONING}

static const entry builtin[] = {BUILTIN_ENTRIES};
#define BUILTIN_LEN ((int)(sizeof(builtin) / sizeof(builtin[0])))

static entry table[TABLE_MAX] = {BUILTIN_ENTRIES};
static int table_len = BUILTIN_LEN;

void fq_model_params_reset(void)
{
    memset(table, 0, sizeof(table));
    memcpy(table, builtin, sizeof(builtin));
    table_len = BUILTIN_LEN;
}

int fq_model_param_index(const char *name, size_t len)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < P_COUNT; i++) {
        if (strlen(param_names[i]) == len && memcmp(param_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * Lookup
 * --------------------------------------------------------------------- */

static int is_exactly(const entry *e, const char *s, size_t len)
{
    return strlen(e->model) == len && memcmp(e->model, s, len) == 0;
}

/* The entry of model: its own, else the longest prefix ending at a '-' or
 * '.' of the name; NULL when none matches. */
static const entry *lookup(const char *model)
{
    const entry *best = NULL;
    size_t best_len = 0;
    size_t model_len = strlen(model);
    for (int i = 0; i < table_len; i++) {
        if (is_exactly(&table[i], model, model_len))
            return &table[i];
    }
    for (int i = 0; i < table_len; i++) {
        size_t len = strlen(table[i].model);
        if (len > best_len && len < model_len && memcmp(table[i].model, model, len) == 0 &&
            (model[len] == '-' || model[len] == '.')) {
            best = &table[i];
            best_len = len;
        }
    }
    return best;
}

static unsigned accepted_by(const char *model)
{
    const entry *e = model != NULL ? lookup(model) : NULL;
    return e != NULL ? e->accepts : EVERY_PARAM;
}

int fq_model_accepts(const char *model, const char *param)
{
    int p = param != NULL ? fq_model_param_index(param, strlen(param)) : -1;
    return p >= 0 && (accepted_by(model) & ACCEPTS(p)) != 0;
}

/* ------------------------------------------------------------------------
 * FLEETQ_MODEL_PARAMS
 * --------------------------------------------------------------------- */

/* Narrows s[0..*len) to its part without surrounding blanks. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && fq_text_is_space(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && fq_text_is_space(s[*len - 1]))
        (*len)--;
    return s;
}

/* The set of "param/param/..." (blanks around names ignored; all blank =
 * the empty set) of the entry e[0..elen), for its error lines. */
static int parse_set(const char *s, size_t len, const char *e, size_t elen, unsigned *set,
                     char *err, size_t errlen)
{
    fq_text_shown she, shp;
    *set = 0;
    s = trim(s, &len);
    if (len == 0)
        return 0;
    size_t at = 0;
    while (at <= len) {
        const char *slash = memchr(s + at, '/', len - at);
        size_t end = slash != NULL ? (size_t)(slash - s) : len;
        size_t plen = end - at;
        const char *p = trim(s + at, &plen);
        int idx = fq_model_param_index(p, plen);
        if (idx < 0)
            return fq_text_fail(err, errlen, "entry %s: unknown parameter %s; known: "
                                FQ_MODEL_PARAM_NAMES, fq_text_show(&she, e, elen),
                                fq_text_show(&shp, p, plen));
        if (*set & ACCEPTS(idx))
            return fq_text_fail(err, errlen, "entry %s: names %s twice",
                                fq_text_show(&she, e, elen), param_names[idx]);
        *set |= ACCEPTS(idx);
        at = end + 1;
    }
    return 0;
}

/* Parses one "model=param/param" entry e[0..len) (already trimmed). */
static int parse_entry(const char *e, size_t len, entry *out, char *err, size_t errlen)
{
    fq_text_shown sh;
    const char *eq = memchr(e, '=', len);
    if (eq == NULL)
        return fq_text_fail(err, errlen, "entry %s must look like model=param/param (the "
                            "parameters that model accepts, e.g. grok-4=top_p/seed; "
                            "model= for none)", fq_text_show(&sh, e, len));
    size_t mlen = (size_t)(eq - e);
    const char *model = trim(e, &mlen);
    if (!fq_text_name_valid(model, mlen, FQ_MODEL_NAME_MAX))
        return fq_text_fail(err, errlen, "entry %s: the model name must be 1 to %d "
                            "characters of A-Z a-z 0-9 . _ : -", fq_text_show(&sh, e, len),
                            FQ_MODEL_NAME_MAX);
    memset(out, 0, sizeof(*out));
    memcpy(out->model, model, mlen);
    const char *set = eq + 1;
    return parse_set(set, len - (size_t)(set - e), e, len, &out->accepts, err, errlen);
}

/* Puts e into t[0..*n): replacing the entry of the same name, else
 * appended. -1 when the table is full. */
static int put_entry(entry *t, int *n, const entry *e, char *err, size_t errlen)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(t[i].model, e->model) == 0) {
            t[i] = *e;
            return 0;
        }
    }
    if (*n == TABLE_MAX)
        return fq_text_fail(err, errlen, "too many models (the table holds at most %d)",
                            TABLE_MAX);
    t[(*n)++] = *e;
    return 0;
}

/* 1 when list[0..n) has an entry for model. */
static int named_in(const entry *list, int n, const char *model)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i].model, model) == 0)
            return 1;
    }
    return 0;
}

int fq_model_params_override(const char *spec, char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    err[0] = '\0';
    if (spec == NULL)
        return 0;
    /* The entries of spec, each in the new table too, so at most TABLE_MAX. */
    entry given[TABLE_MAX];
    int given_len = 0;
    entry next[TABLE_MAX];
    int next_len = table_len;
    memcpy(next, table, sizeof(next));
    size_t spec_len = strlen(spec), at = 0;
    while (at <= spec_len) {
        const char *comma = memchr(spec + at, ',', spec_len - at);
        size_t end = comma != NULL ? (size_t)(comma - spec) : spec_len;
        size_t len = end - at;
        const char *e = trim(spec + at, &len);
        at = end + 1;
        if (len == 0)
            continue;
        entry parsed;
        if (parse_entry(e, len, &parsed, err, errlen) != 0)
            return -1;
        if (named_in(given, given_len, parsed.model))
            return fq_text_fail(err, errlen, "model %s is given twice", parsed.model);
        if (put_entry(next, &next_len, &parsed, err, errlen) != 0)
            return -1;
        given[given_len++] = parsed;
    }
    memcpy(table, next, sizeof(table));
    table_len = next_len;
    return 0;
}

/* ------------------------------------------------------------------------
 * Applying the parameters to a request
 * --------------------------------------------------------------------- */

/* Appends ", name" (or name, first) to dropped as far as it fits. */
static void note_dropped(char *dropped, size_t cap, const char *name)
{
    if (dropped == NULL || cap == 0)
        return;
    size_t used = strnlen(dropped, cap - 1);
    snprintf(dropped + used, cap - used, "%s%s", used > 0 ? ", " : "", name);
}

/* 1 for an integer that cJSON would print inexactly: beyond int's range
 * it prints 15 significant digits. Up to 2^53 every integer is exact. */
static int large_integer(double d)
{
    return isfinite(d) && d == floor(d) && fabs(d) > (double)INT32_MAX &&
           fabs(d) <= 9007199254740992.0;
}

/* A copy of item that prints as it was given: a large integer (a seed) as
 * its exact decimal text. */
static cJSON *copy_of(const cJSON *item)
{
    if (cJSON_IsNumber(item) && large_integer(item->valuedouble)) {
        char text[24];
        snprintf(text, sizeof(text), "%.0f", item->valuedouble);
        return cJSON_CreateRaw(text);
    }
    return cJSON_Duplicate(item, 1);
}

/* Puts a copy of item into body under its own name, replacing one that is
 * already there. */
static int put_copy(cJSON *body, const cJSON *item)
{
    cJSON *copy = copy_of(item);
    if (copy == NULL)
        return -1;
    int ok = cJSON_GetObjectItemCaseSensitive(body, item->string) != NULL
                 ? cJSON_ReplaceItemInObjectCaseSensitive(body, item->string, copy)
                 : cJSON_AddItemToObject(body, item->string, copy);
    if (!ok) {
        cJSON_Delete(copy);
        return -1;
    }
    return 0;
}

int fq_model_params_apply(cJSON *body, const char *model, const char *params, char *dropped,
                          size_t dropped_len)
{
    if (dropped != NULL && dropped_len > 0)
        dropped[0] = '\0';
    if (params == NULL)
        return 0;
    if (!cJSON_IsObject(body))
        return -1;
    cJSON *given = cJSON_ParseWithOpts(params, NULL, 1);
    if (!cJSON_IsObject(given)) {
        cJSON_Delete(given);
        return -1;
    }
    unsigned accepts = accepted_by(model);
    int rc = 0;
    for (const cJSON *it = given->child; it != NULL && rc == 0; it = it->next) {
        int p = fq_model_param_index(it->string, strlen(it->string));
        if (p >= 0 && (accepts & ACCEPTS(p)) != 0)
            rc = put_copy(body, it);
        else
            note_dropped(dropped, dropped_len, it->string);
    }
    cJSON_Delete(given);
    return rc;
}
