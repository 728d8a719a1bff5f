/* fuzz_model_params.c -- libFuzzer harness for the model parameter table
 * (model_params.h): fq_model_params_override() on a FLEETQ_MODEL_PARAMS
 * value, then fq_model_params_apply() of a task's parameters to a request.
 *
 * Input format: the first line is the FLEETQ_MODEL_PARAMS value, the
 * second the model name, the rest the parameters (a JSON object text);
 * each is copied into a buffer of exactly its length plus the NUL. The
 * table is put back to the built-in one before every input, so each input
 * replays on its own. Invariants:
 *  - a refused override carries one error line and changes no answer of
 *    fq_model_accepts() (probed for every parameter on a set of models:
 *    built-in ones, the input's and ones the spec names);
 *  - an accepted override accepted once more gives the same answers;
 *  - fq_model_params_apply() returns -1 only for parameters that are not a
 *    JSON object; otherwise every member the model accepts is in the body
 *    and every other named in `dropped`, unless that was cut to its
 *    bound; `dropped` always ends within its buffer, even a tiny one.
 * A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model_params.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERR_LEN 256
#define PROBES 8

static const char *const param_names[] = {"reasoning_effort", "top_p", "seed", "stop",
                                          "presence_penalty", "frequency_penalty",
                                          "response_format"};
#define PARAM_COUNT (sizeof(param_names) / sizeof(param_names[0]))

typedef struct answers {
    unsigned char accepts[PROBES][PARAM_COUNT];
} answers;

/* What the table says for each probe model and parameter. */
static void ask(const char *const *probes, answers *out)
{
    for (int m = 0; m < PROBES; m++) {
        for (size_t p = 0; p < PARAM_COUNT; p++)
            out->accepts[m][p] = (unsigned char)fq_model_accepts(probes[m], param_names[p]);
    }
}

/* Splits off the part of data[*at..size) up to a newline, as a new string. */
static char *next_line(const uint8_t *data, size_t size, size_t *at, int to_end)
{
    size_t start = *at, end = start;
    while (end < size && (to_end || data[end] != '\n'))
        end++;
    char *s = malloc(end - start + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data + start, end - start);
    s[end - start] = '\0';
    *at = end < size ? end + 1 : end;
    return s;
}

/* The model name of the spec's first entry (before its '='), for a probe. */
static void first_entry_model(const char *spec, char *out, size_t len)
{
    size_t n = strcspn(spec, "=,");
    snprintf(out, len, "%.*s", (int)n, spec);
}

static void check_override(const char *spec, const char *model)
{
    char err[ERR_LEN];
    char named[80];
    first_entry_model(spec, named, sizeof(named));
    const char *last_comma = strrchr(spec, ',');
    char named_last[80];
    first_entry_model(last_comma ? last_comma + 1 : spec, named_last, sizeof(named_last));
    const char *probes[PROBES] = {"grok-4-fast", "grok-3-mini", "grok-3", "gpt-4o", "o3",
                                  model, named, named_last};
    answers before, after, again;
    ask(probes, &before);
    int rc = fq_model_params_override(spec, err, sizeof(err));
    if (rc != 0 && rc != -1)
        fail("unexpected return value of the override");
    ask(probes, &after);
    if (rc != 0) {
        fuzz_check_error_line(err, sizeof(err), 1);
        if (memcmp(&before, &after, sizeof(before)) != 0)
            fail("a refused override changed the table");
        return;
    }
    if (err[0] != '\0')
        fail("an accepted override wrote an error line");
    if (fq_model_params_override(spec, err, sizeof(err)) != 0)
        fail("an accepted override was refused the second time");
    ask(probes, &again);
    if (memcmp(&after, &again, sizeof(after)) != 0)
        fail("the same override applied twice changed the table again");
}

/* The length of the whole list of the members of given the model does
 * not accept, as apply writes it ("a, b"). */
static size_t dropped_length(const char *model, const cJSON *given)
{
    size_t len = 0;
    int n = 0;
    for (const cJSON *it = given ? given->child : NULL; it != NULL; it = it->next) {
        if (!fq_model_accepts(model, it->string))
            len += strlen(it->string) + (n++ > 0 ? 2 : 0);
    }
    return len;
}

static void check_apply(const char *model, const char *params)
{
    char dropped[512], tiny[3];
    cJSON *body = cJSON_CreateObject();
    cJSON *given = cJSON_ParseWithOpts(params, NULL, 1);
    if (body == NULL)
        fail("out of memory");
    memset(dropped, 'x', sizeof(dropped));
    int rc = fq_model_params_apply(body, model, params, dropped, sizeof(dropped));
    if (strnlen(dropped, sizeof(dropped)) >= sizeof(dropped))
        fail("dropped is not ended within its buffer");
    if (rc != 0 && rc != -1)
        fail("unexpected return value of apply");
    if ((rc == 0) != (cJSON_IsObject(given) != 0))
        fail("apply refused a JSON object, or took something else");
    int cut = dropped_length(model, rc == 0 ? given : NULL) >= sizeof(dropped);
    for (const cJSON *it = rc == 0 ? given->child : NULL; it != NULL; it = it->next) {
        int in_body = cJSON_GetObjectItemCaseSensitive(body, it->string) != NULL;
        if (fq_model_accepts(model, it->string)) {
            if (!in_body)
                fail("an accepted parameter is missing from the body");
        } else {
            if (in_body)
                fail("a parameter the model does not accept is in the body");
            if (!cut && strstr(dropped, it->string) == NULL)
                fail("a parameter left out is not named in dropped");
        }
    }
    memset(tiny, 'x', sizeof(tiny));
    cJSON *other = cJSON_CreateObject();
    if (other == NULL)
        fail("out of memory");
    if (fq_model_params_apply(other, model, params, tiny, sizeof(tiny)) != rc)
        fail("the size of dropped changed the outcome");
    if (strnlen(tiny, sizeof(tiny)) >= sizeof(tiny))
        fail("a tiny dropped is not ended within its buffer");
    cJSON_Delete(other);
    cJSON_Delete(given);
    cJSON_Delete(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    fq_model_params_reset();
    char *spec = next_line(data, size, &at, 0);
    char *model = next_line(data, size, &at, 0);
    char *params = next_line(data, size, &at, 1);
    if (spec != NULL && model != NULL && params != NULL) {
        check_override(spec, model);
        check_apply(model, params);
    }
    free(spec);
    free(model);
    free(params);
    return 0;
}
