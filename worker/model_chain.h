/* model_chain.h -- the models a task may use, in order, and the models the
 * provider said do not exist.
 *
 * A task runs on its model (or its role's) and, when that one cannot
 * serve it, on its fallbacks in turn (`fallback`, else
 * FLEETQ_ROLE_<ROLE>_FALLBACK). A model that answered 404 is remembered
 * fleet-wide for FQ_MODEL_MISSING_TTL seconds in
 * <prefix>:{q}:models:missing (model -> until ms), so that later tasks go
 * straight to their fallback; each worker keeps a copy, refreshed with its
 * heartbeat.
 */
#ifndef FQ_MODEL_CHAIN_H
#define FQ_MODEL_CHAIN_H

#include <stdint.h>

#include "redis.h"
#include "task.h"

typedef struct fq_model_chain {
    char *buf;                                   /* the names, NUL-separated */
    const char *names[1 + FQ_FALLBACK_MAX];
    int n;
    int at;                                      /* the one in use */
} fq_model_chain;

/* Builds the chain: model first, then the comma-separated fallback list
 * (may be NULL), each name once. Returns 0 or -1 (memory). */
int fq_model_chain_init(fq_model_chain *c, const char *model, const char *fallback);
void fq_model_chain_free(fq_model_chain *c);

const char *fq_model_chain_current(const fq_model_chain *c);
/* 1 when a model follows the current one. */
int fq_model_chain_has_next(const fq_model_chain *c);
/* Moves to the next model; returns it, or NULL when none is left. */
const char *fq_model_chain_advance(fq_model_chain *c);
/* The models after the current one, comma-separated, into buf. */
void fq_model_chain_rest(const fq_model_chain *c, char *buf, size_t len);

#define FQ_MISSING_MAX 32

typedef struct fq_missing_models {
    char names[FQ_MISSING_MAX][FQ_MODEL_NAME_MAX + 1];
    int64_t until_ms[FQ_MISSING_MAX];           /* wall clock */
    int n;
} fq_missing_models;

/* 1 when model answered 404 within FQ_MODEL_MISSING_TTL. */
int fq_missing_models_has(const fq_missing_models *m, const char *model);

/* Remembers model here and for the fleet. */
void fq_missing_models_add(fq_missing_models *m, fq_redis *r, const char *model);

/* Reads the fleet's list again (and drops its expired entries). */
void fq_missing_models_refresh(fq_missing_models *m, fq_redis *r);

#endif
