/* test_outcome.c -- unit tests for outcome classification
 * (common/outcome.c): every row of docs/ARCHITECTURE.md's table, the message tests
 * that split 400/403/429, the fallbacks for other statuses, and the
 * retry / pause / breaker flags of each outcome.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "outcome.h"

#define C(status, code, msg) fq_outcome_classify((status), (code), (msg), 0, 0)

static void test_names(void **state)
{
    static const char *const want[FQ_OUT_COUNT] = {
        "ok", "malformed", "bad_param", "bad_request", "key_rejected", "no_credits",
        "model_not_found", "rate_limited", "server_error", "timeout", "network", "too_large",
    };
    for (int i = 0; i < FQ_OUT_COUNT; i++)
        assert_string_equal(fq_outcome_name((fq_outcome)i), want[i]);
    assert_non_null(fq_outcome_name(FQ_OUT_COUNT));
}

static void test_transport(void **state)
{
    assert_int_equal(fq_outcome_classify(0, NULL, NULL, 0, 1), FQ_OUT_TIMEOUT);
    assert_int_equal(fq_outcome_classify(0, NULL, NULL, 0, 2), FQ_OUT_NETWORK);
    /* a transport failure wins over a partial status */
    assert_int_equal(fq_outcome_classify(200, NULL, NULL, 1, 1), FQ_OUT_TIMEOUT);
    assert_int_equal(fq_outcome_classify(200, NULL, NULL, 1, 2), FQ_OUT_NETWORK);
    /* no response at all */
    assert_int_equal(fq_outcome_classify(0, NULL, NULL, 0, 0), FQ_OUT_NETWORK);
}

static void test_200(void **state)
{
    assert_int_equal(fq_outcome_classify(200, NULL, NULL, 1, 0), FQ_OUT_OK);
    assert_int_equal(fq_outcome_classify(200, NULL, NULL, 0, 0), FQ_OUT_MALFORMED);
}

static void test_400(void **state)
{
    assert_int_equal(C(400, "Client specified an invalid argument",
                       "Incorrect API key provided: xa***b1. You can obtain an API key from "
                       "https://console.x.ai."), FQ_OUT_KEY_REJECTED);
    assert_int_equal(C(400, NULL, "incorrect api KEY provided"), FQ_OUT_KEY_REJECTED);
    assert_int_equal(C(400, "Client specified an invalid argument",
                       "Model grok-4 does not support parameter presencePenalty."),
                     FQ_OUT_BAD_PARAM);
    assert_int_equal(C(400, NULL, "Model X DOES NOT SUPPORT PARAMETER stop"), FQ_OUT_BAD_PARAM);
    assert_int_equal(C(400, NULL, "Argument not supported on this model: presencePenalty"),
                     FQ_OUT_BAD_PARAM);
    assert_int_equal(C(400, NULL, "Unsupported parameter: 'presence_penalty'"), FQ_OUT_BAD_PARAM);
    assert_int_equal(C(400, NULL, "messages must not be empty"), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(400, NULL, NULL), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(413, NULL, NULL), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(422, NULL, "Failed to deserialize"), FQ_OUT_BAD_REQUEST);
}

static void test_401_403(void **state)
{
    assert_int_equal(C(401, NULL, NULL), FQ_OUT_KEY_REJECTED);
    assert_int_equal(C(403, "The caller does not have permission",
                       "Your team abc has either used all available credits or reached its "
                       "monthly spending limit."), FQ_OUT_NO_CREDITS);
    assert_int_equal(C(403, NULL, "monthly Spending Limit reached"), FQ_OUT_NO_CREDITS);
    assert_int_equal(C(403, NULL, "This API key is blocked"), FQ_OUT_KEY_REJECTED);
    assert_int_equal(C(403, NULL, NULL), FQ_OUT_KEY_REJECTED);
}

static void test_404_408(void **state)
{
    assert_int_equal(C(404, NULL, "The model grok-9 does not exist"), FQ_OUT_MODEL_NOT_FOUND);
    assert_int_equal(C(408, NULL, NULL), FQ_OUT_TIMEOUT);
}

static void test_429(void **state)
{
    assert_int_equal(C(429, NULL, "Too many requests"), FQ_OUT_RATE_LIMITED);
    assert_int_equal(C(429, "resource-exhausted", "at capacity"), FQ_OUT_RATE_LIMITED);
    assert_int_equal(C(429, NULL, NULL), FQ_OUT_RATE_LIMITED);
    assert_int_equal(C(429, NULL, "Your team has used all available CREDITS"), FQ_OUT_NO_CREDITS);
    /* the hint may sit in the code as well */
    assert_int_equal(C(429, "spending limit reached", NULL), FQ_OUT_NO_CREDITS);
    /* OpenAI: spent quota pauses like spent credits */
    assert_int_equal(C(429, "insufficient_quota",
                       "You exceeded your current quota, please check your plan and billing "
                       "details."), FQ_OUT_NO_CREDITS);
    assert_int_equal(C(402, NULL, "Payment Required"), FQ_OUT_NO_CREDITS);
    /* one request larger than the limit: final, not a rate limit */
    assert_int_equal(C(429, "rate_limit_exceeded",
                       "Request too large for gpt-4o in organization org-x on tokens per min "
                       "(TPM): Limit 30000, Requested 45000. The input or output tokens must "
                       "be reduced in order to run successfully."), FQ_OUT_TOO_LARGE);
    assert_int_equal(C(429, "tokens", "on tokens per min (TPM): Limit 30000, Requested 45000"),
                     FQ_OUT_TOO_LARGE);
    /* the usual refusal names what was used: a rate limit */
    assert_int_equal(C(429, "rate_limit_exceeded",
                       "Rate limit reached for gpt-4o in organization org-x on tokens per min "
                       "(TPM): Limit 30000, Used 29000, Requested 2000. Please try again in "
                       "2s."), FQ_OUT_RATE_LIMITED);
    assert_int_equal(C(429, NULL, "Limit 30000, Requested 20000"), FQ_OUT_RATE_LIMITED);
    /* wording nobody taught it: a rate limit */
    assert_int_equal(C(429, "slow_down", "Please wait a moment"), FQ_OUT_RATE_LIMITED);
    assert_false(fq_outcome_retryable(FQ_OUT_TOO_LARGE));
    assert_false(fq_outcome_pauses_fleet(FQ_OUT_TOO_LARGE));
    assert_false(fq_outcome_trips_breaker(FQ_OUT_TOO_LARGE));
}

static void test_5xx_and_others(void **state)
{
    long five[] = {500, 502, 503, 504, 520, 599};
    for (size_t i = 0; i < sizeof(five) / sizeof(five[0]); i++)
        assert_int_equal(C(five[i], NULL, NULL), FQ_OUT_SERVER_ERROR);
    assert_int_equal(C(402, NULL, NULL), FQ_OUT_NO_CREDITS);
    assert_int_equal(C(405, NULL, NULL), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(451, NULL, NULL), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(499, NULL, NULL), FQ_OUT_BAD_REQUEST);
    assert_int_equal(C(201, NULL, NULL), FQ_OUT_SERVER_ERROR);
    assert_int_equal(C(204, NULL, NULL), FQ_OUT_SERVER_ERROR);
    assert_int_equal(C(302, NULL, NULL), FQ_OUT_SERVER_ERROR);
    assert_int_equal(C(100, NULL, NULL), FQ_OUT_SERVER_ERROR);
    assert_int_equal(C(600, NULL, NULL), FQ_OUT_SERVER_ERROR);
}

static void test_flags(void **state)
{
    /* retryable: MALFORMED, RATE_LIMITED, SERVER_ERROR, TIMEOUT, NETWORK */
    static const int retry[FQ_OUT_COUNT] = {
        [FQ_OUT_MALFORMED] = 1, [FQ_OUT_RATE_LIMITED] = 1, [FQ_OUT_SERVER_ERROR] = 1,
        [FQ_OUT_TIMEOUT] = 1, [FQ_OUT_NETWORK] = 1,
    };
    static const int pause[FQ_OUT_COUNT] = {
        [FQ_OUT_KEY_REJECTED] = 1, [FQ_OUT_NO_CREDITS] = 1,
    };
    static const int breaker[FQ_OUT_COUNT] = {
        [FQ_OUT_SERVER_ERROR] = 1, [FQ_OUT_TIMEOUT] = 1, [FQ_OUT_NETWORK] = 1,
    };
    for (int i = 0; i < FQ_OUT_COUNT; i++) {
        if (fq_outcome_retryable((fq_outcome)i) != retry[i])
            fail_msg("retryable(%s)", fq_outcome_name((fq_outcome)i));
        if (fq_outcome_pauses_fleet((fq_outcome)i) != pause[i])
            fail_msg("pauses_fleet(%s)", fq_outcome_name((fq_outcome)i));
        if (fq_outcome_trips_breaker((fq_outcome)i) != breaker[i])
            fail_msg("trips_breaker(%s)", fq_outcome_name((fq_outcome)i));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_200),
        cmocka_unit_test(test_400),
        cmocka_unit_test(test_401_403),
        cmocka_unit_test(test_404_408),
        cmocka_unit_test(test_429),
        cmocka_unit_test(test_5xx_and_others),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
