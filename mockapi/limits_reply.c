/* limits_reply.c -- credits and rate-limit refusals.
 *
 * The account is named by its team id in xAI's words and by its
 * organisation id in OpenAI's (mock_account.h). A rate-limit refusal in
 * xAI's words says which kind of limit was hit and for which model; in
 * OpenAI's it also gives the limit in force, what the window holds, what
 * was asked for and how long until it would fit. A request too large for
 * the request_token_limit gives the limit and what was asked for, in
 * OpenAI's words, or in words of the same kind as xAI's. The window is
 * named per min (RPM/TPM) or per day (RPD/TPD) when it is one, else by its
 * length in ms. The headers come from mock_rate_headers.h.
 */
#include "mock_limits_reply.h"

#include <stdio.h>

#include "mock_account.h"
#include "mock_duration.h"
#include "mock_rate_headers.h"
#include "mock_reply.h"

enum MHD_Result mock_limits_reply_credits(struct MHD_Connection *c, mock_req *r,
                                          const mock_config *cfg)
{
    char msg[320];
    if (r->error_style == MOCK_STYLE_OPENAI)
        snprintf(msg, sizeof(msg), "You exceeded your current quota, please check your plan "
                 "and billing details. For more information on this error, read the docs: "
                 "https://platform.openai.com/docs/guides/error-codes/api-errors.");
    else
        snprintf(msg, sizeof(msg), "Your team %s has either used all available credits or "
                 "reached its monthly spending limit. To continue making API requests, please "
                 "purchase more credits or raise your spending limit.", mock_account_team());
    r->outcome = "credits";
    return mock_reply_error(c, r, cfg->credits_status == 429 ? MOCK_ERR_CREDITS_EXHAUSTED
                                                             : MOCK_ERR_CREDITS_DENIED, msg);
}

void mock_limits_window_name(int tokens, long window_ms, char *out, size_t len)
{
    const char *what = tokens ? "tokens" : "requests";
    char letter = tokens ? 'T' : 'R';
    if (window_ms == 60000) snprintf(out, len, "%s per min (%cPM)", what, letter);
    else if (window_ms == 86400000) snprintf(out, len, "%s per day (%cPD)", what, letter);
    else snprintf(out, len, "%s per %ld ms", what, window_ms);
}

void mock_limits_words(const mock_req *r, const mock_config *cfg, const mock_model *m,
                       int tokens, const mock_limit_hit *hit, char *msg, size_t len)
{
    if (r->error_style == MOCK_STYLE_OPENAI) {
        char window[48], wait[32];
        mock_limits_window_name(tokens, cfg->window_ms, window, sizeof(window));
        if (hit == NULL) {
            snprintf(msg, len, "Rate limit reached for %s in organization %s on %s. Please "
                     "try again later.", m->id, mock_account_org(), window);
            return;
        }
        mock_duration_format(hit->retry_ms, wait, sizeof(wait));
        snprintf(msg, len, "Rate limit reached for %s in organization %s on %s: Limit %ld, "
                 "Used %ld, Requested %ld. Please try again in %s.", m->id, mock_account_org(),
                 window, hit->limit, hit->used, hit->requested, wait);
    } else {
        snprintf(msg, len, "Too many %s for team %s and model %s. Please try again later or "
                 "contact support to increase your rate limit.", tokens ? "tokens" : "requests",
                 mock_account_team(), m->id);
    }
}

/* Sends resp (an error of kind) with the rate headers of a call to m. */
static enum MHD_Result send_with_headers(struct MHD_Connection *c, mock_req *r,
                                         const mock_config *cfg, const mock_model *m,
                                         mock_error kind, struct MHD_Response *resp,
                                         int limit, const mock_limit_hit *hit)
{
    if (resp) mock_rate_headers_add(resp, cfg, m, limit, hit);
    return mock_reply_send(c, r, mock_reply_error_status(r, kind), resp);
}

enum MHD_Result mock_limits_reply_rate_limited(struct MHD_Connection *c, mock_req *r,
                                               const mock_config *cfg, const mock_model *m,
                                               int limit, const mock_limit_hit *hit)
{
    int tokens = limit == MOCK_LIMIT_TOKENS;
    mock_error kind = tokens ? MOCK_ERR_RATE_TOKENS : MOCK_ERR_RATE_REQUESTS;
    char msg[400];
    mock_limits_words(r, cfg, m, tokens, hit, msg, sizeof(msg));
    r->outcome = tokens ? "rate_limited_tokens" : "rate_limited";
    return send_with_headers(c, r, cfg, m, kind, mock_reply_error_response(r, kind, msg), limit,
                             hit);
}

enum MHD_Result mock_limits_reply_too_large(struct MHD_Connection *c, mock_req *r,
                                            const mock_config *cfg, const mock_model *m,
                                            long requested)
{
    char window[48], msg[480];
    mock_limits_window_name(1, cfg->window_ms, window, sizeof(window));
    if (r->error_style == MOCK_STYLE_OPENAI)
        snprintf(msg, sizeof(msg), "Request too large for %s in organization %s on %s: Limit "
                 "%ld, Requested %ld. The input or output tokens must be reduced in order to "
                 "run successfully. Visit https://platform.openai.com/account/rate-limits to "
                 "learn more.", m->id, mock_account_org(), window, cfg->request_token_limit,
                 requested);
    else
        snprintf(msg, sizeof(msg), "Request too large for team %s and model %s on %s: Limit "
                 "%ld, Requested %ld. Please reduce the prompt or max_tokens.",
                 mock_account_team(), m->id, window, cfg->request_token_limit, requested);
    r->outcome = "request_too_large";
    return send_with_headers(c, r, cfg, m, MOCK_ERR_RATE_TOKENS,
                             mock_reply_error_response(r, MOCK_ERR_RATE_TOKENS, msg),
                             MOCK_LIMIT_OK, NULL);
}
