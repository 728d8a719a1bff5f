/* rate_headers.c -- the x-ratelimit-* and retry-after headers of an answer,
 * from the limiter's view of the windows a call to the model is under.
 */
#include "mock_rate_headers.h"

#include <stdio.h>

#include "mock_duration.h"
#include "mock_faults.h"
#include "mock_timing.h"

static void add_number(struct MHD_Response *resp, const char *name, long v)
{
    char n[24];
    snprintf(n, sizeof(n), "%ld", v);
    MHD_add_response_header(resp, name, n);
}

static void add_wait(struct MHD_Response *resp, const char *name, long ms)
{
    char w[32];
    mock_duration_format(ms, w, sizeof(w));
    MHD_add_response_header(resp, name, w);
}

void mock_rate_headers_add(struct MHD_Response *resp, const mock_config *cfg,
                           const mock_model *m, int limit, const mock_limit_hit *hit)
{
    int refused = limit == MOCK_LIMIT_REQUESTS || limit == MOCK_LIMIT_TOKENS;
    int openai = mock_config_header_style(cfg) == MOCK_STYLE_OPENAI;
    mock_limit_view v;
    mock_limiter_view(cfg, m, mock_timing_now_ms(), &v);
    if (limit == MOCK_LIMIT_REQUESTS) v.remaining_requests = 0;
    if (limit == MOCK_LIMIT_TOKENS) v.remaining_tokens = 0;

    if (openai || !refused) add_number(resp, "x-ratelimit-limit-requests", v.limit_requests);
    add_number(resp, "x-ratelimit-remaining-requests", v.remaining_requests);
    if (openai) add_wait(resp, "x-ratelimit-reset-requests", v.reset_requests_ms);
    if (openai || !refused) add_number(resp, "x-ratelimit-limit-tokens", v.limit_tokens);
    add_number(resp, "x-ratelimit-remaining-tokens", v.remaining_tokens);
    if (openai) add_wait(resp, "x-ratelimit-reset-tokens", v.reset_tokens_ms);
    if (!refused) return;
    add_number(resp, MHD_HTTP_HEADER_RETRY_AFTER,
               openai ? (hit->retry_ms + 999) / 1000 : mock_rand_range(0, 5));
}
