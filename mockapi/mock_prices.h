/* mock_prices.h -- the models the mock serves and what they cost.
 *
 * This table is the mock's own and deliberately independent of the
 * product's cost model, so that tests comparing the two really check
 * fleetq's accounting. Prices are whole ticks per token (1 USD = 1e10
 * ticks), so costs are exact integers.
 */
#ifndef MOCK_PRICES_H
#define MOCK_PRICES_H

#include <stddef.h>
#include <stdint.h>

/* Room for per-model tables indexed by mock_prices_index (counters, limits,
 * windows); prices.c checks that every model fits. */
#define MOCK_MODEL_SLOTS 16

typedef struct mock_model {
    const char *id;
    int reasoning;          /* 1: rejects penalties/stop, produces reasoning tokens */
    int takes_effort;       /* 1: accepts reasoning_effort */
    int64_t input_ticks;    /* per prompt token not served from cache */
    int64_t cached_ticks;   /* per cached prompt token */
    int64_t output_ticks;   /* per completion or reasoning token */
} mock_model;

/* The model with this exact id, or NULL. */
const mock_model *mock_prices_find(const char *id);

/* Number of models, and the i-th one (0 <= i < count). */
size_t mock_prices_count(void);
const mock_model *mock_prices_at(size_t i);

/* Index of m in the table (for per-model counters). */
size_t mock_prices_index(const mock_model *m);

/* Ticks for a call: (prompt - cached) at the input price, cached at the
 * cached price, completion + reasoning at the output price. */
int64_t mock_prices_cost(const mock_model *m, int64_t prompt, int64_t cached,
                         int64_t completion, int64_t reasoning);

#endif
