/* outcome.c -- classifying one API call and what the fleet does next (see
 * outcome.h and the table in docs/ARCHITECTURE.md).
 *
 * A transport failure decides on its own (timeout or network). Otherwise
 * the HTTP status decides, refined by what the error says for the
 * statuses providers overload: a 400 may be a bad key or an unsupported
 * parameter; a 403 or 429 may mean the credits, quota or billing are
 * spent; a 429 may be one request larger than a limit, which no wait will
 * let through. The wordings are one table (wordings[]), read in order,
 * each row a status and words looked for, ignoring case, in the code (or
 * OpenAI's type) and in the message, because providers move wording
 * between the two: a new provider's wording is a new row. A 429 the table
 * does not know is a rate limit.
 */
#include "outcome.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[FQ_OUT_COUNT] = {
    [FQ_OUT_OK] = "ok",
    [FQ_OUT_MALFORMED] = "malformed",
    [FQ_OUT_BAD_PARAM] = "bad_param",
    [FQ_OUT_BAD_REQUEST] = "bad_request",
    [FQ_OUT_KEY_REJECTED] = "key_rejected",
    [FQ_OUT_NO_CREDITS] = "no_credits",
    [FQ_OUT_MODEL_NOT_FOUND] = "model_not_found",
    [FQ_OUT_RATE_LIMITED] = "rate_limited",
    [FQ_OUT_SERVER_ERROR] = "server_error",
    [FQ_OUT_TIMEOUT] = "timeout",
    [FQ_OUT_NETWORK] = "network",
    [FQ_OUT_TOO_LARGE] = "too_large",
};

const char *fq_outcome_name(fq_outcome o)
{
    if ((int)o < 0 || (int)o >= FQ_OUT_COUNT)
        return "unknown";
    return names[o];
}

int fq_outcome_retryable(fq_outcome o)
{
    return o == FQ_OUT_MALFORMED || o == FQ_OUT_RATE_LIMITED || o == FQ_OUT_SERVER_ERROR ||
           o == FQ_OUT_TIMEOUT || o == FQ_OUT_NETWORK;
}

int fq_outcome_pauses_fleet(fq_outcome o)
{
    return o == FQ_OUT_KEY_REJECTED || o == FQ_OUT_NO_CREDITS;
}

int fq_outcome_trips_breaker(fq_outcome o)
{
    return o == FQ_OUT_SERVER_ERROR || o == FQ_OUT_TIMEOUT || o == FQ_OUT_NETWORK;
}

/* 1 when needle occurs, ignoring case, in code or msg. */
static int says(const char *code, const char *msg, const char *needle)
{
    return (code != NULL && strcasestr(code, needle) != NULL) ||
           (msg != NULL && strcasestr(msg, needle) != NULL);
}

/* What an error says, by status: the first row whose status matches and
 * whose words occur decides. */
static const struct wording {
    long status;
    const char *words;
    fq_outcome outcome;
} wordings[] = {
    /* xAI: a key it does not know is a 400 */
    {400, "Incorrect API key", FQ_OUT_KEY_REJECTED},
    /* a parameter the model does not take */
    {400, "does not support parameter", FQ_OUT_BAD_PARAM},
    {400, "not supported on this model", FQ_OUT_BAD_PARAM},
    {400, "Unsupported parameter", FQ_OUT_BAD_PARAM},
    /* credits, quota or billing spent: xAI's "used all available credits
     * or reached its monthly spending limit" (403 or 429), OpenAI's
     * insufficient_quota "You exceeded your current quota" (429) */
    {403, "credits", FQ_OUT_NO_CREDITS},
    {403, "spending limit", FQ_OUT_NO_CREDITS},
    {429, "credits", FQ_OUT_NO_CREDITS},
    {429, "spending limit", FQ_OUT_NO_CREDITS},
    {429, "insufficient_quota", FQ_OUT_NO_CREDITS},
    {429, "exceeded your current quota", FQ_OUT_NO_CREDITS},
    {429, "billing", FQ_OUT_NO_CREDITS},
    /* one request over a limit: OpenAI's "Request too large for gpt-4o ...
     * on tokens per min (TPM): Limit 30000, Requested 45000" */
    {429, "Request too large", FQ_OUT_TOO_LARGE},
    {429, "request is too large", FQ_OUT_TOO_LARGE},
};

/* The outcome of a status whose error no wording matched. */
static fq_outcome status_default(long status)
{
    switch (status) {
    case 401:
    case 403:
        return FQ_OUT_KEY_REJECTED;
    case 402:   /* Payment Required */
        return FQ_OUT_NO_CREDITS;
    case 404:
        return FQ_OUT_MODEL_NOT_FOUND;
    case 408:
        return FQ_OUT_TIMEOUT;
    case 429:
        return FQ_OUT_RATE_LIMITED;
    default:
        return status >= 400 && status < 500 ? FQ_OUT_BAD_REQUEST : FQ_OUT_SERVER_ERROR;
    }
}

/* The number after word in msg ("Limit 30000" -> 30000), or -1. */
static long long number_after(const char *msg, const char *word)
{
    const char *p = msg != NULL ? strcasestr(msg, word) : NULL;
    if (p == NULL)
        return -1;
    p += strlen(word);
    while (*p == ' ' || *p == ':' || *p == '=')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    return strtoll(p, NULL, 10);
}

/* A 429 that names its limit and what this one request asked for, with
 * nothing used ("Limit 30000, Requested 45000"): more than the limit
 * itself, so it can never go through. A refusal of the usual kind says
 * what was used too ("Limit 30000, Used 29000, Requested 2000"). */
static int asks_more_than_limit(const char *msg)
{
    long long limit = number_after(msg, "Limit");
    long long requested = number_after(msg, "Requested");
    return limit > 0 && requested > limit && number_after(msg, "Used") < 0;
}

long fq_outcome_status_of_text(const char *code, const char *msg)
{
    static const char *const rate_words[] = {
        "rate limit", "rate_limit", "too many requests", "resource-exhausted",
        "resource_exhausted",
    };
    for (size_t i = 0; i < sizeof(wordings) / sizeof(wordings[0]); i++)
        if (wordings[i].status == 429 && says(code, msg, wordings[i].words))
            return 429;
    for (size_t i = 0; i < sizeof(rate_words) / sizeof(rate_words[0]); i++)
        if (says(code, msg, rate_words[i]))
            return 429;
    return 0;
}

fq_outcome fq_outcome_classify(long status, const char *error_code,
                               const char *error_msg, int body_ok, int transport)
{
    if (transport == 1)
        return FQ_OUT_TIMEOUT;
    if (transport != 0 || status <= 0)
        return FQ_OUT_NETWORK;
    if (status == 200)
        return body_ok ? FQ_OUT_OK : FQ_OUT_MALFORMED;
    for (size_t i = 0; i < sizeof(wordings) / sizeof(wordings[0]); i++)
        if (wordings[i].status == status && says(error_code, error_msg, wordings[i].words))
            return wordings[i].outcome;
    if (status == 429 && asks_more_than_limit(error_msg))
        return FQ_OUT_TOO_LARGE;
    return status_default(status);
}

fq_limit_kind fq_outcome_limit_kind(const char *error, int64_t remaining_requests,
                                    int64_t remaining_tokens)
{
    if (says(NULL, error, "too many tokens") || says(NULL, error, "tokens per min") ||
        says(NULL, error, "tokens per day") || says(NULL, error, "(TPM)") ||
        says(NULL, error, "token limit") || says(NULL, error, "token rate limit"))
        return FQ_LIMIT_TOKENS;
    if (says(NULL, error, "too many requests") || says(NULL, error, "requests per"))
        return FQ_LIMIT_REQUESTS;
    if (remaining_tokens == 0 && remaining_requests != 0)
        return FQ_LIMIT_TOKENS;
    return FQ_LIMIT_REQUESTS;
}
