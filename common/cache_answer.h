/* cache_answer.h -- an answer as the response cache keeps it.
 *
 * cache.lua stores each answer as one JSON object written here: the text,
 * its finish reason, the model that gave it, the task it was made for, and
 * what the call used and cost (cache.lua reads cost_ticks to count the
 * money a hit saved). Reading it back checks every member, since the
 * cache is shared and may hold what another version wrote.
 */
#ifndef FQ_CACHE_ANSWER_H
#define FQ_CACHE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"

typedef struct fq_cache_answer {
    char *output;           /* the answer's text (owned) */
    char *finish_reason;    /* owned, NULL if none */
    char *model;            /* owned, NULL if none */
    char *task;             /* the task it was made for (owned) */
    fq_usage usage;         /* what the call used; cost_ticks what it cost */
} fq_cache_answer;

/* The JSON text of a (malloc'd), or NULL when out of memory. */
char *fq_cache_answer_encode(const fq_cache_answer *a);

/* Reads json[0..len) into a. Returns 0, or -1 when it is not an answer
 * (not an object, no output or task string, a count that is not an
 * integer from 0 to 999999999999999); a is then empty. */
int fq_cache_answer_decode(const char *json, size_t len, fq_cache_answer *a);

void fq_cache_answer_free(fq_cache_answer *a);

#endif
