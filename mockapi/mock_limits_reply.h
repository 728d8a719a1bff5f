/* mock_limits_reply.h -- the answers about the account's limits.
 *
 * The refusals that name the team (xAI) or organisation (OpenAI) -- spent
 * credits and rate limits -- in the words of the request's error style, and
 * the x-ratelimit-* headers that describe the limits a call was under.
 */
#ifndef MOCK_LIMITS_REPLY_H
#define MOCK_LIMITS_REPLY_H

#include <microhttpd.h>

#include "mock_config.h"
#include "mock_limiter.h"
#include "mock_prices.h"
#include "mock_server.h"

/* Sends "credits spent": 403 or 429 (credits_status) in xAI's style,
 * 429 insufficient_quota in OpenAI's. */
enum MHD_Result mock_limits_reply_credits(struct MHD_Connection *c, mock_req *r,
                                          const mock_config *cfg);

/* Sends the 429 for a call to m that the limiter refused with limit
 * (MOCK_LIMIT_REQUESTS or MOCK_LIMIT_TOKENS) and hit: its words name the
 * limit, x-ratelimit-remaining-requests/-tokens are sent (0 for the one
 * hit) and retry-after is 0..5 seconds. */
enum MHD_Result mock_limits_reply_rate_limited(struct MHD_Connection *c, mock_req *r,
                                               const mock_config *cfg, const mock_model *m,
                                               int limit, const mock_limit_hit *hit);

/* Adds the four x-ratelimit-* headers of a 200 for a call to m. */
void mock_limits_add_headers(struct MHD_Response *resp, const mock_config *cfg,
                             const mock_model *m);

#endif
