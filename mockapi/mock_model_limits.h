/* mock_model_limits.h -- the true limits each model has of its own.
 *
 * Real providers limit every model of a team (xAI) or organisation (OpenAI)
 * separately, on top of what the key may do over all models. The table is
 * indexed by mock_prices_index and lives inside mock_config, so it is
 * copied, checked and replaced with the other settings. It is written as
 * a SPEC such as "grok-4:rate=4;grok-code-fast-1:rate=20,tokens=50000"
 * (--model-limits, or the setting model_limits).
 */
#ifndef MOCK_MODEL_LIMITS_H
#define MOCK_MODEL_LIMITS_H

#include <stddef.h>

#include "mock_prices.h"

typedef struct mock_model_limit {
    int listed;     /* 1: the SPEC names this model */
    long rate;      /* admitted requests per window; 0 = none of its own */
    long tokens;    /* prompt+completion+reasoning tokens per window; 0 = none */
} mock_model_limit;

typedef struct mock_model_limits {
    mock_model_limit of[MOCK_MODEL_SLOTS];
} mock_model_limits;

/* Reads SPEC ("" lists no model) into out. Returns 0, or -1 with a reason
 * in err (unknown model or key, missing ':' or '=', a value that is not a
 * whole number, a model or key given twice, an empty model name); out is
 * then unspecified. */
int mock_model_limits_parse(const char *spec, mock_model_limits *out, char *err, size_t errlen);

/* The limits of m, or NULL when the SPEC does not list it. */
const mock_model_limit *mock_model_limits_of(const mock_model_limits *t, const mock_model *m);

#endif
