/* mock_limiter.h -- the provider's TRUE rate limits.
 *
 * Sliding windows of window_ms, one set for the key over all models
 * (rate_limit admitted requests and token_limit answered tokens) and one
 * set for each model with limits of its own (model_limits). A request must
 * fit both its model's limits and the key's. Each limit is scaled by a
 * noise factor in [1 - rate_noise, 1 + rate_noise], redrawn once per window
 * length, separately for the key and for each model. What the headers
 * advertise (the "limit" the client sees) is a different, larger number,
 * as with the real provider.
 */
#ifndef MOCK_LIMITER_H
#define MOCK_LIMITER_H

#include <stdint.h>

#include "mock_config.h"
#include "mock_prices.h"

enum {
    MOCK_LIMIT_OK = 0,
    MOCK_LIMIT_REQUESTS = 1,   /* request limit reached */
    MOCK_LIMIT_TOKENS = 2,     /* token limit reached */
    MOCK_LIMIT_NOMEM = -1      /* could not record the request */
};

/* Which limit refused a request, for the words of the 429. */
typedef struct mock_limit_hit {
    int per_model;    /* 1: the model's own limit; 0: the key's over all models */
    long limit;       /* the true limit in force, noise included */
    long used;        /* requests or tokens already in the window */
    long requested;   /* 1 request, or the prompt's tokens */
    long retry_ms;    /* until enough of the window has passed for it to fit */
} mock_limit_hit;

/* What the x-ratelimit-* headers say. */
typedef struct mock_limit_view {
    long limit_requests;
    long remaining_requests;
    long reset_requests_ms;    /* until the request window is empty again */
    long limit_tokens;
    long remaining_tokens;
    long reset_tokens_ms;      /* until the token window is empty again */
} mock_limit_view;

/* Decides whether a request for model m with this many prompt tokens is
 * admitted at now_ms and, if so, records it in the key's and the model's
 * windows. Returns MOCK_LIMIT_*; on MOCK_LIMIT_REQUESTS or _TOKENS, hit
 * says which limit refused it. Refused requests are not recorded, except
 * with count_refused those refused for a request limit. */
int mock_limiter_admit(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                       int64_t prompt_tokens, mock_limit_hit *hit);

/* Records tokens answered for m at now_ms in the key's and the model's
 * token windows. Returns 0, or -1 when out of memory (the tokens are then
 * not counted in full). */
int mock_limiter_charge(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                        int64_t tokens);

/* Fills out with the advertised limits for a call to m and what remains of
 * them. Each of requests and tokens describes m's own limit when m has one
 * of that kind (advertised: twice the true limit), else the key's: requests
 * advertised_limit, else twice the true limit, else 480 when off; tokens
 * twice the true token limit, else 2000000 when off. The resets are the
 * true windows': how long until what they hold has left them (0 when they
 * are empty). */
void mock_limiter_view(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                       mock_limit_view *out);

/* Most admitted requests ever seen inside one window: for the key over all
 * models, and for model m alone. */
long mock_limiter_max_in_window(void);
long mock_limiter_model_max_in_window(const mock_model *m);

/* Empties every window and forgets the maxima. */
void mock_limiter_reset(void);

/* Frees the windows' memory (at exit). */
void mock_limiter_cleanup(void);

#endif
