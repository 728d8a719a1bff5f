/* cost.h -- what a call costs: the price table and worst-case estimates.
 *
 * Money is counted in USD ticks, 1 USD = 1e10 ticks (xAI's
 * cost_in_usd_ticks), in int64 so that budgets add up exactly.
 * Reasoning tokens are billed at the output price, cached prompt tokens at
 * the cached price (they are part of prompt_tokens). A model missing from the
 * table is priced at the highest known price of each kind, so spend is never
 * under-counted. The table can be overridden by FLEETQ_PRICES.
 */
#ifndef FQ_COST_H
#define FQ_COST_H

#include <stddef.h>
#include <stdint.h>

#include "fq_shared.h"   /* FQ_TICKS_PER_USD */


typedef struct fq_price {
    char model[64];
    double input_per_m;     /* USD per 1M prompt tokens */
    double cached_per_m;    /* USD per 1M cached prompt tokens */
    double output_per_m;    /* USD per 1M completion + reasoning tokens */
    int reasoning;          /* 1 for reasoning models (grok-4, grok-3-mini, ...) */
} fq_price;

typedef struct fq_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t reasoning_tokens;
    int64_t cached_tokens;
    int64_t total_tokens;
    int64_t cost_ticks;     /* provider's own figure; -1 when absent */
} fq_usage;

/* Applies an override list "model=in/cached/out[,model=...]" (reasoning flag
 * kept from the built-in entry, else 0; a trailing ":r" marks a reasoning
 * model, e.g. "my-model=1/0.5/2:r"). Returns 0, or -1 with a reason in err.
 * Not thread-safe; called once at start-up. */
int fq_cost_override(const char *spec, char *err, size_t errlen);

/* Looks a model up (exact name, then the longest known prefix so that
 * "grok-4-0709" prices as "grok-4"); unknown models get a synthetic entry at
 * the highest price of each kind, marked reasoning. Never NULL. */
const fq_price *fq_cost_lookup(const char *model);

/* Cost in ticks of a finished call as the price table counts it. */
int64_t fq_cost_ticks(const fq_price *p, const fq_usage *u);

/* The cost to bill: the provider's cost_ticks when present, else the table's. */
int64_t fq_cost_billed(const fq_price *p, const fq_usage *u);

/* Prompt token estimate used for quota reservations: ceil(bytes / 4) plus
 * 4 per message. */
int64_t fq_cost_estimate_prompt_tokens(size_t prompt_bytes, int messages);

/* Usage for an answer that came without any (many OpenAI-compatible
 * servers send none): the prompt as fq_cost_estimate_prompt_tokens() counts
 * it, the completion as ceil(answer bytes / 4), no reasoning or caching,
 * and no provider cost, so the price table bills it. */
void fq_cost_estimate_usage(size_t prompt_bytes, int messages, size_t answer_bytes,
                            fq_usage *u);

/* Worst-case ticks of a call before it is made: prompt tokens counted as
 * ceil(bytes / 2) + 8 per message (no tokenizer yields fewer bytes per
 * token), no caching discount, max_tokens of completion plus
 * reasoning_reserve tokens at the output price. */
int64_t fq_cost_worst_case(const fq_price *p, size_t prompt_bytes, int messages,
                           int64_t max_tokens, int64_t reasoning_reserve);

/* Formats ticks as a decimal USD string with up to 10 decimals, trailing
 * zeros trimmed ("0.000123"); returns buf. */
char *fq_cost_format_usd(int64_t ticks, char *buf, size_t len);

/* Parses a non-negative decimal USD amount ("50", "0.25") into ticks;
 * returns 0, or -1 when malformed or negative. */
int fq_cost_parse_usd(const char *s, int64_t *ticks);

#endif
