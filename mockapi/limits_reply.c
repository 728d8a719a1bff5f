/* limits_reply.c -- credits and rate-limit refusals, and the rate headers.
 *
 * The team id is made once per process and shown in xAI's words; OpenAI's
 * words show the same account as organisation org-<its hex digits>. A
 * rate-limit refusal in xAI's words says which kind of limit was hit and
 * for which model; in OpenAI's it also gives the limit in force, what the
 * window holds, what was asked for and how long until it would fit. The
 * window is named per min (RPM/TPM) or per day (RPD/TPD) when it is one,
 * else by its length in ms. The headers come from the limiter's view, so a
 * model with limits of its own is described by them.
 */
#include "mock_limits_reply.h"

#include <pthread.h>
#include <stdio.h>

#include "mock_faults.h"
#include "mock_reply.h"
#include "mock_timing.h"

static pthread_once_t team_once = PTHREAD_ONCE_INIT;
static char team_id[37];
static char org_id[40];

static void make_team_id(void)
{
    mock_rand_uuid(team_id);
    size_t n = 0;
    n += (size_t)snprintf(org_id, sizeof(org_id), "org-");
    for (const char *p = team_id; *p && n + 1 < sizeof(org_id); p++)
        if (*p != '-') org_id[n++] = *p;
    org_id[n] = '\0';
}

enum MHD_Result mock_limits_reply_credits(struct MHD_Connection *c, mock_req *r,
                                          const mock_config *cfg)
{
    char msg[320];
    pthread_once(&team_once, make_team_id);
    if (r->error_style == MOCK_STYLE_OPENAI)
        snprintf(msg, sizeof(msg), "You exceeded your current quota, please check your plan "
                 "and billing details.");
    else
        snprintf(msg, sizeof(msg), "Your team %s has either used all available credits or "
                 "reached its monthly spending limit. To continue making API requests, please "
                 "purchase more credits or raise your spending limit.", team_id);
    r->outcome = "credits";
    return mock_reply_error(c, r, cfg->credits_status == 429 ? MOCK_ERR_CREDITS_EXHAUSTED
                                                             : MOCK_ERR_CREDITS_DENIED, msg);
}

/* A wait the way OpenAI writes it: "250ms", "1.5s", "2m0.25s", "1h0m0s". */
static void format_wait(long ms, char *out, size_t len)
{
    if (ms < 1000) {
        snprintf(out, len, "%ldms", ms);
        return;
    }
    long hours = ms / 3600000, minutes = ms / 60000 % 60;
    char secs[24];
    int n = snprintf(secs, sizeof(secs), "%ld.%03ld", ms / 1000 % 60, ms % 1000);
    while (n > 0 && secs[n - 1] == '0') secs[--n] = '\0';
    if (n > 0 && secs[n - 1] == '.') secs[--n] = '\0';
    /* secs is at most "59.999": the precision only tells the compiler so */
    if (hours > 0) snprintf(out, len, "%ldh%ldm%.6ss", hours, minutes, secs);
    else if (minutes > 0) snprintf(out, len, "%ldm%.6ss", minutes, secs);
    else snprintf(out, len, "%.6ss", secs);
}

/* "requests per min (RPM)", "tokens per day (TPD)", "requests per 3000 ms". */
static void name_window(int tokens, long window_ms, char *out, size_t len)
{
    const char *what = tokens ? "tokens" : "requests";
    char letter = tokens ? 'T' : 'R';
    if (window_ms == 60000) snprintf(out, len, "%s per min (%cPM)", what, letter);
    else if (window_ms == 86400000) snprintf(out, len, "%s per day (%cPD)", what, letter);
    else snprintf(out, len, "%s per %ld ms", what, window_ms);
}

static void rate_limit_words(const mock_req *r, const mock_config *cfg, const mock_model *m,
                             int tokens, const mock_limit_hit *hit, char *msg, size_t len)
{
    pthread_once(&team_once, make_team_id);
    if (r->error_style == MOCK_STYLE_OPENAI) {
        char window[48], wait[32];
        name_window(tokens, cfg->window_ms, window, sizeof(window));
        format_wait(hit->retry_ms, wait, sizeof(wait));
        snprintf(msg, len, "Rate limit reached for %s in organization %s on %s: Limit %ld, "
                 "Used %ld, Requested %ld. Please try again in %s.", m->id, org_id, window,
                 hit->limit, hit->used, hit->requested, wait);
    } else {
        snprintf(msg, len, "Too many %s for team %s and model %s. Please try again later or "
                 "contact support to increase your rate limit.", tokens ? "tokens" : "requests",
                 team_id, m->id);
    }
}

static void add_number_header(struct MHD_Response *resp, const char *name, long v)
{
    char n[24];
    snprintf(n, sizeof(n), "%ld", v);
    MHD_add_response_header(resp, name, n);
}

enum MHD_Result mock_limits_reply_rate_limited(struct MHD_Connection *c, mock_req *r,
                                               const mock_config *cfg, const mock_model *m,
                                               int limit, const mock_limit_hit *hit)
{
    int tokens = limit == MOCK_LIMIT_TOKENS;
    mock_error kind = tokens ? MOCK_ERR_RATE_TOKENS : MOCK_ERR_RATE_REQUESTS;
    char msg[400];
    rate_limit_words(r, cfg, m, tokens, hit, msg, sizeof(msg));
    struct MHD_Response *resp = mock_reply_error_response(r, kind, msg);
    if (resp) {
        mock_limit_view v;
        mock_limiter_view(cfg, m, mock_timing_now_ms(), &v);
        add_number_header(resp, "x-ratelimit-remaining-requests",
                          tokens ? v.remaining_requests : 0);
        add_number_header(resp, "x-ratelimit-remaining-tokens",
                          tokens ? 0 : v.remaining_tokens);
        add_number_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, mock_rand_range(0, 5));
    }
    r->outcome = tokens ? "rate_limited_tokens" : "rate_limited";
    return mock_reply_send(c, r, mock_reply_error_status(r, kind), resp);
}

void mock_limits_add_headers(struct MHD_Response *resp, const mock_config *cfg,
                             const mock_model *m)
{
    mock_limit_view v;
    mock_limiter_view(cfg, m, mock_timing_now_ms(), &v);
    add_number_header(resp, "x-ratelimit-limit-requests", v.limit_requests);
    add_number_header(resp, "x-ratelimit-remaining-requests", v.remaining_requests);
    add_number_header(resp, "x-ratelimit-limit-tokens", v.limit_tokens);
    add_number_header(resp, "x-ratelimit-remaining-tokens", v.remaining_tokens);
}
