/* outcome.h -- classifying what one API call came to, and what to do next.
 *
 * The table in docs/ARCHITECTURE.md: every HTTP status, error body (xAI's
 * flat {"code", "error"}, OpenAI's nested {"error": {"message", "type",
 * "code"}}) and transport failure maps to one outcome, which says whether
 * to retry and what the fleet must do (pause on a rejected key or spent
 * credits, slow down on a rate limit, count towards the circuit breaker on
 * 5xx/timeouts, nothing for a request too large to ever go through).
 */
#ifndef FQ_OUTCOME_H
#define FQ_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

typedef enum fq_outcome {
    FQ_OUT_OK = 0,           /* 200 with a valid body */
    FQ_OUT_MALFORMED,        /* 200 with a truncated or malformed body: retry */
    FQ_OUT_BAD_PARAM,        /* 400 "does not support parameter X": final */
    FQ_OUT_BAD_REQUEST,      /* other 400/413/422: final */
    FQ_OUT_KEY_REJECTED,     /* 400 "Incorrect API key", 401, 403 blocked: pause fleet */
    FQ_OUT_NO_CREDITS,       /* 403/429 out of credits or spending limit: pause fleet */
    FQ_OUT_MODEL_NOT_FOUND,  /* 404: final */
    FQ_OUT_RATE_LIMITED,     /* 429 rate limit / capacity: retry, slow the fleet */
    FQ_OUT_SERVER_ERROR,     /* 500, 502, 503, 504 and other 5xx: retry */
    FQ_OUT_TIMEOUT,          /* REQUEST_TIMEOUT elapsed: retry */
    FQ_OUT_NETWORK,          /* reset, refused, DNS, TLS: retry */
    FQ_OUT_TOO_LARGE,        /* 429 "Request too large": one request over a limit: final,
                                and the fleet's rate is left alone */
    FQ_OUT_COUNT
} fq_outcome;

/* Which of a provider's limits a 429 rate limit is about. */
typedef enum fq_limit_kind { FQ_LIMIT_REQUESTS = 0, FQ_LIMIT_TOKENS } fq_limit_kind;

/* Reads it off the error text and the x-ratelimit-remaining-* headers
 * (-1 when absent): tokens when the text speaks of tokens (xAI's "Too many
 * tokens for team ... and model ...", OpenAI's "... on tokens per min
 * (TPM)"), or when no tokens remain while requests do; else requests
 * (also when nothing says: the request rate is the one to lower). */
fq_limit_kind fq_outcome_limit_kind(const char *error, int64_t remaining_requests,
                                    int64_t remaining_tokens);

/* Stable lowercase names stored in attempts.outcome: "ok", "malformed",
 * "bad_param", "bad_request", "key_rejected", "no_credits",
 * "model_not_found", "rate_limited", "server_error", "timeout", "network",
 * "too_large". */
const char *fq_outcome_name(fq_outcome o);

/* 1 when the task may be tried again after this outcome. */
int fq_outcome_retryable(fq_outcome o);

/* 1 for outcomes that pause the whole fleet (key rejected, no credits). */
int fq_outcome_pauses_fleet(fq_outcome o);

/* 1 for outcomes the circuit breaker counts (5xx, timeout, network). */
int fq_outcome_trips_breaker(fq_outcome o);

/* Classifies an HTTP response. status is the HTTP status (0 when there was
 * no response); error_code/error_msg are the body's code (or OpenAI's
 * type) and message (NULL when absent), which the table of wordings in
 * outcome.c reads; body_ok is 1 when a 200 body parsed completely.
 * transport is 0, or 1 for a timeout, 2 for any other transport failure. */
fq_outcome fq_outcome_classify(long status, const char *error_code,
                               const char *error_msg, int body_ok, int transport);

/* The status an error without one most likely had, by its words: 429
 * for a rate limit, spent credits or quota, or a request too large (the
 * 429 rows of the wordings table); 0 when the words do not say. For
 * errors inside a 200 stream, which carry no status of their own. */
long fq_outcome_status_of_text(const char *code, const char *msg);

#endif
