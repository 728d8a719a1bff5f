/* mock_limiter.h -- the provider's TRUE rate limits.
 *
 * A sliding window of window_ms: at most rate_limit admitted requests and
 * token_limit answered tokens in any window, each limit scaled by a noise
 * factor in [1 - rate_noise, 1 + rate_noise] that is redrawn once per
 * window length. What the headers advertise (the "limit" the client sees)
 * is a different, larger number, as with the real provider.
 */
#ifndef MOCK_LIMITER_H
#define MOCK_LIMITER_H

#include <stdint.h>

#include "mock_config.h"

enum {
    MOCK_LIMIT_OK = 0,
    MOCK_LIMIT_REQUESTS = 1,   /* request limit reached */
    MOCK_LIMIT_TOKENS = 2,     /* token limit reached */
    MOCK_LIMIT_NOMEM = -1      /* could not record the request */
};

/* What the x-ratelimit-* headers of a 200 say. */
typedef struct mock_limit_view {
    long limit_requests;
    long remaining_requests;
    long limit_tokens;
    long remaining_tokens;
} mock_limit_view;

/* Decides whether a request with this many prompt tokens is admitted at
 * now_ms and, if so, records it in the window. Returns MOCK_LIMIT_*.
 * Refused requests are not recorded. */
int mock_limiter_admit(const mock_config *cfg, int64_t now_ms, int64_t prompt_tokens);

/* Records tokens answered at now_ms in the token window. Returns 0, or -1
 * when out of memory (the tokens are then not counted). */
int mock_limiter_charge(const mock_config *cfg, int64_t now_ms, int64_t tokens);

/* Fills out with the advertised limits and what remains of them: requests
 * advertised_limit, else twice the true limit, else 480 when off; tokens
 * twice the true token limit, else 2000000 when off. */
void mock_limiter_view(const mock_config *cfg, int64_t now_ms, mock_limit_view *out);

/* Most admitted requests ever seen inside one window. */
long mock_limiter_max_in_window(void);

/* Empties both windows and forgets the maximum. */
void mock_limiter_reset(void);

/* Frees the windows' memory (at exit). */
void mock_limiter_cleanup(void);

#endif
