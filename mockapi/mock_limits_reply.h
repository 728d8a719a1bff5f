/* mock_limits_reply.h -- the answers about the account's limits.
 *
 * The refusals that name the team (xAI) or organisation (OpenAI) -- spent
 * credits, rate limits and requests too large for them -- in the words of
 * the request's error style.
 */
#ifndef MOCK_LIMITS_REPLY_H
#define MOCK_LIMITS_REPLY_H

#include <microhttpd.h>

#include "mock_config.h"
#include "mock_limiter.h"
#include "mock_prices.h"
#include "mock_server.h"

/* Sends "credits spent": 403 or 429 (credits_status) in xAI's style,
 * 429 insufficient_quota in OpenAI's, with OpenAI's words. */
enum MHD_Result mock_limits_reply_credits(struct MHD_Connection *c, mock_req *r,
                                          const mock_config *cfg);

/* Names the window of a limit: "requests per min (RPM)", "tokens per day
 * (TPD)", else by its length: "requests per 3000 ms". */
void mock_limits_window_name(int tokens, long window_ms, char *out, size_t len);

/* The words of a rate limit (of tokens, else of requests) reached by a
 * call to m, in r's error style: with hit, OpenAI's give the limit, what
 * the window holds, what was asked for and the wait; without (NULL), as
 * when a limit breaks off a streamed answer, they only name the window. */
void mock_limits_words(const mock_req *r, const mock_config *cfg, const mock_model *m,
                       int tokens, const mock_limit_hit *hit, char *msg, size_t len);

/* Sends the 429 for a call to m that the limiter refused with limit
 * (MOCK_LIMIT_REQUESTS or MOCK_LIMIT_TOKENS) and hit: its words name the
 * limit and the model, with the rate headers of a refusal
 * (mock_rate_headers.h). */
enum MHD_Result mock_limits_reply_rate_limited(struct MHD_Connection *c, mock_req *r,
                                               const mock_config *cfg, const mock_model *m,
                                               int limit, const mock_limit_hit *hit);

/* Sends the 429 for a call to m that asks for more tokens (requested:
 * prompt + max_tokens) than the setting request_token_limit allows in one
 * window, with the rate headers of a 200 and no retry-after: waiting does
 * not help. */
enum MHD_Result mock_limits_reply_too_large(struct MHD_Connection *c, mock_req *r,
                                            const mock_config *cfg, const mock_model *m,
                                            long requested);

#endif
