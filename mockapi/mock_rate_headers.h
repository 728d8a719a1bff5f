/* mock_rate_headers.h -- the x-ratelimit-* and retry-after headers.
 *
 * Two sets, chosen by the setting rate_headers (by default the error
 * style's). xAI's: x-ratelimit-limit-requests, -remaining-requests,
 * -limit-tokens and -remaining-tokens on a 200; on a 429 of the windows
 * only the two remaining counts (0 for the limit hit) and a retry-after of
 * 0..5 seconds drawn at random. OpenAI's: those four and
 * x-ratelimit-reset-requests and -reset-tokens (waits such as "6m0s", see
 * mock_duration.h) on a 200 and on every 429 that names a model; on a 429
 * of the windows the remaining count of the limit hit is 0 and retry-after
 * is the whole seconds, rounded up, until the call would fit. Limits and
 * remaining counts are the advertised ones, resets the true windows'.
 */
#ifndef MOCK_RATE_HEADERS_H
#define MOCK_RATE_HEADERS_H

#include <microhttpd.h>

#include "mock_config.h"
#include "mock_limiter.h"
#include "mock_prices.h"

/* Adds the headers for a call to m: limit MOCK_LIMIT_OK for a 200 or a
 * refusal that is not the windows' (a request too large), else the
 * MOCK_LIMIT_REQUESTS or MOCK_LIMIT_TOKENS that refused it, with hit. */
void mock_rate_headers_add(struct MHD_Response *resp, const mock_config *cfg,
                           const mock_model *m, int limit, const mock_limit_hit *hit);

#endif
