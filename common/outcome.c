/* outcome.c -- classifying one API call and what the fleet does next (see
 * outcome.h and the table in docs/ARCHITECTURE.md).
 *
 * A transport failure decides on its own (timeout or network). Otherwise
 * the HTTP status decides, refined by the text of xAI's flat error body for
 * the statuses where the provider overloads one code: a 400 may be a bad key
 * or an unsupported parameter, a 403 or 429 may mean the team is out of
 * credits. The text tests look at both "code" and "error", ignoring case,
 * because providers move wording between the two.
 */
#include "outcome.h"

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

static int out_of_credits(const char *code, const char *msg)
{
    return says(code, msg, "credits") || says(code, msg, "spending limit");
}

fq_outcome fq_outcome_classify(long status, const char *error_code,
                               const char *error_msg, int body_ok, int transport)
{
    if (transport == 1)
        return FQ_OUT_TIMEOUT;
    if (transport != 0 || status <= 0)
        return FQ_OUT_NETWORK;
    switch (status) {
    case 200:
        return body_ok ? FQ_OUT_OK : FQ_OUT_MALFORMED;
    case 400:
        if (says(error_code, error_msg, "Incorrect API key"))
            return FQ_OUT_KEY_REJECTED;
        if (says(error_code, error_msg, "does not support parameter") ||
            says(error_code, error_msg, "not supported on this model") ||
            says(error_code, error_msg, "Unsupported parameter"))
            return FQ_OUT_BAD_PARAM;
        return FQ_OUT_BAD_REQUEST;
    case 401:
        return FQ_OUT_KEY_REJECTED;
    case 403:
        return out_of_credits(error_code, error_msg) ? FQ_OUT_NO_CREDITS : FQ_OUT_KEY_REJECTED;
    case 404:
        return FQ_OUT_MODEL_NOT_FOUND;
    case 408:
        return FQ_OUT_TIMEOUT;
    case 413:
    case 422:
        return FQ_OUT_BAD_REQUEST;
    case 429:
        return out_of_credits(error_code, error_msg) ? FQ_OUT_NO_CREDITS : FQ_OUT_RATE_LIMITED;
    default:
        break;
    }
    if (status >= 400 && status < 500)
        return FQ_OUT_BAD_REQUEST;
    return FQ_OUT_SERVER_ERROR;
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
