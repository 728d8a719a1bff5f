/* mock_faults.h -- the seeded random source and the per-request fault draw.
 *
 * Every random choice the mock makes (faults, token counts, retry-after
 * values, ids, rate-limit noise) comes from one seeded generator, so a run
 * with --seed N is reproducible when requests arrive in the same order.
 */
#ifndef MOCK_FAULTS_H
#define MOCK_FAULTS_H

#include <stdint.h>

#include "mock_config.h"

typedef enum mock_fault {
    MOCK_FAULT_NONE = 0,
    MOCK_FAULT_RESET,         /* close the connection, no answer */
    MOCK_FAULT_HANG,          /* sleep hang_ms before answering */
    MOCK_FAULT_SERVER_ERROR,  /* 500, 502 or 503 */
    MOCK_FAULT_TRUNCATE,      /* 200 with a cut body */
    MOCK_FAULT_STREAM_ERROR   /* a streamed 200 that ends in an error event */
} mock_fault;

/* Seeds the generator (thread-safe; may be called again to reseed). */
void mock_rand_seed(uint64_t seed);

/* A uniformly random 64-bit value. */
uint64_t mock_rand_u64(void);

/* A uniformly random double in [0, 1). */
double mock_rand_unit(void);

/* A uniformly random integer in [lo, hi] (lo when hi < lo). */
long mock_rand_range(long lo, long hi);

/* Writes a random uuid-like id "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void mock_rand_uuid(char out[37]);

/* Draws the fault for one admitted request from the rates in cfg; a
 * stream error only for a streamed one (stream 1). */
mock_fault mock_faults_draw(const mock_config *cfg, int stream);

/* A short lowercase name for a fault ("reset", "hang", ...). */
const char *mock_faults_name(mock_fault f);

#endif
