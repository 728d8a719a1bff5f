/* mock_stats.h -- counters of what the mock answered, for GET /mock/stats.
 *
 * Tests compare these counters with fleetq's own records: calls made,
 * rate limits hit, tokens and spend billed. Spend also drives the credits
 * limit (--credits-usd).
 */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "mock_faults.h"
#include "mock_prices.h"

/* A chat request arrived / finished (in flight in between). */
void mock_stats_begin(void);
void mock_stats_end(void);

/* The final HTTP status of a chat request. */
void mock_stats_status(int status);

/* A chat request was refused for its key (missing, wrong, blocked). */
void mock_stats_auth_failure(void);

/* A chat request for model m reached the true rate limits. */
void mock_stats_model_request(const mock_model *m);

/* A chat request for model m was refused by a true rate limit (the
 * model's or the key's); tokens is 1 when a token limit refused it. */
void mock_stats_rate_limited(const mock_model *m, int tokens);

/* A chat request asked for more tokens than request_token_limit. */
void mock_stats_request_too_large(void);

/* A chat request for model m passed the rate limits. */
void mock_stats_admitted(const mock_model *m);

/* A fault was injected. */
void mock_stats_fault(mock_fault f);

/* A 200 for model m was answered and billed; ok is 0 for truncated bodies. */
void mock_stats_billed(const mock_model *m, int ok, int64_t prompt, int64_t completion,
                       int64_t reasoning, int64_t cached, int64_t ticks);

/* Ticks billed since start or the last reset. */
int64_t mock_stats_spend(void);

/* The counters as a JSON object (NULL when out of memory). */
cJSON *mock_stats_json(void);

/* Zeroes every counter (in-flight requests stay counted). */
void mock_stats_reset(void);

#endif
