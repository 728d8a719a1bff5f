/* prices.c -- the mock's model list and price table.
 *
 * USD per 1M tokens times 1e10 ticks per USD divided by 1e6 tokens gives
 * ticks per token = USD-per-1M x 1e4; every listed price is a whole number
 * of ticks that way (grok-4 input: 3.00 USD per 1M = 30000 ticks/token).
 */
#include "mock_prices.h"

#include <string.h>

static const mock_model models[] = {
    /* id                 reasoning effort  input  cached  output */
    { "grok-4",           1, 0, 30000, 7500, 150000 },
    { "grok-3",           0, 0, 30000, 7500, 150000 },
    { "grok-3-mini",      1, 1, 3000,  750,  5000 },
    { "grok-code-fast-1", 1, 0, 2000,  200,  15000 },
    { "grok-4-fast",      1, 0, 2000,  500,  5000 },
    /* OpenAI's, for a fleet pointed at another provider's names */
    { "gpt-4o",           0, 0, 25000, 12500, 100000 },
    { "gpt-4o-mini",      0, 0, 1500,  750,   6000 },
};

#define MODEL_COUNT (sizeof(models) / sizeof(models[0]))

_Static_assert(MODEL_COUNT <= MOCK_MODEL_SLOTS, "raise MOCK_MODEL_SLOTS for the model table");

const mock_model *mock_prices_find(const char *id)
{
    for (size_t i = 0; i < MODEL_COUNT; i++)
        if (strcmp(models[i].id, id) == 0) return &models[i];
    return NULL;
}

size_t mock_prices_count(void)
{
    return MODEL_COUNT;
}

const mock_model *mock_prices_at(size_t i)
{
    return i < MODEL_COUNT ? &models[i] : NULL;
}

size_t mock_prices_index(const mock_model *m)
{
    return (size_t)(m - models);
}

int64_t mock_prices_cost(const mock_model *m, int64_t prompt, int64_t cached,
                         int64_t completion, int64_t reasoning)
{
    return (prompt - cached) * m->input_ticks + cached * m->cached_ticks +
           (completion + reasoning) * m->output_ticks;
}
