/* fuzz_cache_answer.c -- libFuzzer harness for the reader of the response
 * cache's answers, fq_cache_answer_decode() (cache_answer.h): the input is
 * what the shared cache holds under a request's name, which any version of
 * any worker may have written.
 *
 * Invariants:
 *  - a refusal leaves the answer empty;
 *  - an accepted answer has an output and a task, counts of 0 or more, and
 *    encodes back (fq_cache_answer_encode) to JSON that decodes to the same
 *    answer.
 * A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_answer.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    fq_cache_answer a;
    int rc = fq_cache_answer_decode(copy, size, &a);
    free(copy);
    if (rc != 0) {
        if (a.output != NULL || a.task != NULL || a.model != NULL || a.finish_reason != NULL)
            fail("a refused answer is not empty");
        return 0;
    }
    if (a.output == NULL || a.task == NULL)
        fail("an accepted answer without output or task");
    if (a.usage.prompt_tokens < 0 || a.usage.completion_tokens < 0 ||
        a.usage.reasoning_tokens < 0 || a.usage.cached_tokens < 0 || a.usage.cost_ticks < 0)
        fail("an accepted answer with a negative count");
    char *json = fq_cache_answer_encode(&a);
    if (json != NULL) {
        fq_cache_answer b;
        if (fq_cache_answer_decode(json, strlen(json), &b) != 0)
            fail("an encoded answer does not decode");
        if (!same_string(a.output, b.output) || !same_string(a.task, b.task) ||
            !same_string(a.model, b.model) || !same_string(a.finish_reason, b.finish_reason) ||
            memcmp(&a.usage, &b.usage, sizeof(a.usage)) != 0)
            fail("an answer does not survive encoding");
        fq_cache_answer_free(&b);
        free(json);
    }
    fq_cache_answer_free(&a);
    return 0;
}
