/* test_cost.c -- unit tests for the cost model (common/cost.c): the
 * built-in prices, prefix lookup, the unknown-model fallback, exact tick
 * arithmetic, worst-case estimates, USD text both ways and FLEETQ_PRICES
 * overrides. Overrides change process-wide state, so they run last.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cost.h"

static fq_usage usage(int64_t prompt, int64_t cached, int64_t completion, int64_t reasoning)
{
    fq_usage u = {prompt, completion, reasoning, cached, prompt + completion + reasoning, -1};
    return u;
}

static void test_builtin_table(void **state)
{
    const fq_price *p = fq_cost_lookup("grok-4");
    assert_string_equal(p->model, "grok-4");
    assert_true(p->input_per_m == 3.00 && p->cached_per_m == 0.75 && p->output_per_m == 15.00);
    assert_int_equal(p->reasoning, 1);

    p = fq_cost_lookup("grok-3");
    assert_true(p->input_per_m == 3.00 && p->cached_per_m == 0.75 && p->output_per_m == 15.00);
    assert_int_equal(p->reasoning, 0);

    p = fq_cost_lookup("grok-3-mini");
    assert_true(p->input_per_m == 0.30 && p->cached_per_m == 0.075 && p->output_per_m == 0.50);
    assert_int_equal(p->reasoning, 1);

    p = fq_cost_lookup("grok-code-fast-1");
    assert_true(p->input_per_m == 0.20 && p->cached_per_m == 0.02 && p->output_per_m == 1.50);
    assert_int_equal(p->reasoning, 1);

    p = fq_cost_lookup("grok-4-fast");
    assert_true(p->input_per_m == 0.20 && p->cached_per_m == 0.05 && p->output_per_m == 0.50);
    assert_int_equal(p->reasoning, 1);
}

static void test_prefix_lookup(void **state)
{
    assert_string_equal(fq_cost_lookup("grok-4-0709")->model, "grok-4");
    assert_string_equal(fq_cost_lookup("grok-4-fast-reasoning")->model, "grok-4-fast");
    assert_string_equal(fq_cost_lookup("grok-4-fast")->model, "grok-4-fast");
    assert_string_equal(fq_cost_lookup("grok-3-mini-beta")->model, "grok-3-mini");
    assert_string_equal(fq_cost_lookup("grok-3-beta")->model, "grok-3");
    /* a prefix must end at '-': "grok-40" is not grok-4 */
    const fq_price *u = fq_cost_lookup("grok-40");
    assert_string_not_equal(u->model, "grok-4");
    assert_true(u->input_per_m == 3.00 && u->cached_per_m == 0.75 && u->output_per_m == 15.00);
    assert_int_equal(u->reasoning, 1);
    /* case matters */
    assert_ptr_equal(fq_cost_lookup("GROK-4"), u);
    assert_ptr_equal(fq_cost_lookup("gpt-4o"), u);
    assert_ptr_equal(fq_cost_lookup(""), u);
    assert_ptr_equal(fq_cost_lookup(NULL), u);
}

static void test_ticks_exact(void **state)
{
    const fq_price *g4 = fq_cost_lookup("grok-4");
    const fq_price *mini = fq_cost_lookup("grok-3-mini");
    fq_usage u;

    /* 1 prompt token of grok-4 = $3/1M = 30000 ticks */
    u = usage(1, 0, 0, 0);
    assert_int_equal(fq_cost_ticks(g4, &u), 30000);
    /* cached grok-3-mini token = $0.075/1M = 750 ticks */
    u = usage(1, 1, 0, 0);
    assert_int_equal(fq_cost_ticks(mini, &u), 750);
    /* 1M output tokens of grok-4 = $15 exactly */
    u = usage(0, 0, 1000000, 0);
    assert_int_equal(fq_cost_ticks(g4, &u), 15 * FQ_TICKS_PER_USD);
    /* reasoning at the output price */
    u = usage(0, 0, 0, 1000);
    assert_int_equal(fq_cost_ticks(g4, &u), 1000 * 150000LL);
    /* mixed: (1000-200)*30000 + 200*7500 + (300+500)*150000 */
    u = usage(1000, 200, 300, 500);
    assert_int_equal(fq_cost_ticks(g4, &u), 800 * 30000LL + 200 * 7500LL + 800 * 150000LL);
    /* cached is clamped to [0, prompt] */
    u = usage(100, 500, 0, 0);
    assert_int_equal(fq_cost_ticks(g4, &u), 100 * 7500LL);
    u = usage(100, -5, 0, 0);
    assert_int_equal(fq_cost_ticks(g4, &u), 100 * 30000LL);
    /* negative counts never make money */
    u = usage(-100, 0, -1, -1);
    assert_int_equal(fq_cost_ticks(g4, &u), 0);
    /* absurd counts saturate instead of wrapping */
    u = usage(0, 0, INT64_MAX / 2, INT64_MAX / 2);
    assert_int_equal(fq_cost_ticks(g4, &u), INT64_MAX);

    /* summing many small calls equals one big call: no rounding drift */
    int64_t sum = 0;
    for (int i = 0; i < 1000; i++) {
        u = usage(7, 3, 11, 0);
        sum += fq_cost_ticks(mini, &u);
    }
    u = usage(7000, 3000, 11000, 0);
    assert_int_equal(sum, fq_cost_ticks(mini, &u));
}

static void test_billed(void **state)
{
    const fq_price *g4 = fq_cost_lookup("grok-4");
    fq_usage u = usage(10, 0, 10, 0);
    assert_int_equal(fq_cost_billed(g4, &u), 10 * 30000LL + 10 * 150000LL);
    u.cost_ticks = 12345;
    assert_int_equal(fq_cost_billed(g4, &u), 12345);
    u.cost_ticks = 0;
    assert_int_equal(fq_cost_billed(g4, &u), 0);
}

static void test_estimates(void **state)
{
    assert_int_equal(fq_cost_estimate_prompt_tokens(0, 0), 0);
    assert_int_equal(fq_cost_estimate_prompt_tokens(1, 0), 1);
    assert_int_equal(fq_cost_estimate_prompt_tokens(4, 0), 1);
    assert_int_equal(fq_cost_estimate_prompt_tokens(5, 0), 2);
    assert_int_equal(fq_cost_estimate_prompt_tokens(400, 3), 100 + 12);

    const fq_price *g4 = fq_cost_lookup("grok-4");   /* reasoning */
    const fq_price *g3 = fq_cost_lookup("grok-3");   /* not reasoning */
    /* prompt ceil(101/2)=51 + 2*8 = 67 tokens at input, (500+2048) at output */
    assert_int_equal(fq_cost_worst_case(g4, 101, 2, 500, 2048), 67 * 30000LL + 2548 * 150000LL);
    /* no reasoning reserve for a model that does not reason */
    assert_int_equal(fq_cost_worst_case(g3, 101, 2, 500, 2048), 67 * 30000LL + 500 * 150000LL);
    /* unknown models are priced high and get the reserve */
    assert_int_equal(fq_cost_worst_case(fq_cost_lookup("mystery"), 2, 0, 10, 10),
                     1 * 30000LL + 20 * 150000LL);
    /* the worst case is never below the actual cost of a call within it */
    fq_usage u = usage(67, 0, 500, 2048);
    assert_true(fq_cost_worst_case(g4, 101, 2, 500, 2048) >= fq_cost_ticks(g4, &u));
}

static void test_format_usd(void **state)
{
    char buf[40];
    assert_string_equal(fq_cost_format_usd(0, buf, sizeof(buf)), "0");
    assert_string_equal(fq_cost_format_usd(50 * FQ_TICKS_PER_USD, buf, sizeof(buf)), "50");
    assert_string_equal(fq_cost_format_usd(FQ_TICKS_PER_USD / 4, buf, sizeof(buf)), "0.25");
    assert_string_equal(fq_cost_format_usd(1230000, buf, sizeof(buf)), "0.000123");
    assert_string_equal(fq_cost_format_usd(1, buf, sizeof(buf)), "0.0000000001");
    assert_string_equal(fq_cost_format_usd(12 * FQ_TICKS_PER_USD + 5, buf, sizeof(buf)),
                        "12.0000000005");
    assert_string_equal(fq_cost_format_usd(-FQ_TICKS_PER_USD / 2, buf, sizeof(buf)), "-0.5");
    assert_string_equal(fq_cost_format_usd(INT64_MAX, buf, sizeof(buf)), "922337203.6854775807");
    assert_string_equal(fq_cost_format_usd(INT64_MIN, buf, sizeof(buf)), "-922337203.6854775808");
    char small[4];
    assert_string_equal(fq_cost_format_usd(123 * FQ_TICKS_PER_USD, small, sizeof(small)), "123");
    assert_string_equal(fq_cost_format_usd(1234 * FQ_TICKS_PER_USD, small, sizeof(small)), "123");
}

static void test_parse_usd(void **state)
{
    int64_t t = -1;
    assert_int_equal(fq_cost_parse_usd("50", &t), 0);
    assert_int_equal(t, 50 * FQ_TICKS_PER_USD);
    assert_int_equal(fq_cost_parse_usd("0.25", &t), 0);
    assert_int_equal(t, FQ_TICKS_PER_USD / 4);
    assert_int_equal(fq_cost_parse_usd("0", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(fq_cost_parse_usd(".5", &t), 0);
    assert_int_equal(t, FQ_TICKS_PER_USD / 2);
    assert_int_equal(fq_cost_parse_usd("0.0000000001", &t), 0);
    assert_int_equal(t, 1);
    assert_int_equal(fq_cost_parse_usd("12.3456789012", &t), 0);
    assert_int_equal(t, 123456789012LL);
    assert_int_equal(fq_cost_parse_usd("922337203.6854775807", &t), 0);
    assert_int_equal(t, INT64_MAX);

    static const char *const bad[] = {
        "", "-1", "+1", "1e-3", "1e3", "abc", "1.", ".", " 1", "1 ", "1,5", "0x10",
        "0.00000000001",  /* 11 decimals */
        "922337203.6854775808", "99999999999", "nan", "1.2.3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 77;
        if (fq_cost_parse_usd(bad[i], &t) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 77);
    }
    assert_int_equal(fq_cost_parse_usd(NULL, &t), -1);

    /* format and parse agree */
    int64_t samples[] = {0, 1, 9, 10, 123456789, 50 * FQ_TICKS_PER_USD, 7 * FQ_TICKS_PER_USD + 1};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char buf[40];
        assert_int_equal(fq_cost_parse_usd(fq_cost_format_usd(samples[i], buf, sizeof(buf)), &t), 0);
        assert_int_equal(t, samples[i]);
    }
}

static void test_override(void **state)
{
    char err[256];
    const fq_price *p;

    /* a bad spec changes nothing */
    assert_int_equal(fq_cost_override("grok-4=1/1/1,broken", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"broken\" must look like model=input/cached/output"));
    assert_true(fq_cost_lookup("grok-4")->input_per_m == 3.00);
    assert_int_equal(fq_cost_override("grok-4=1/1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "grok-4: prices must be input/cached/output"));
    assert_int_equal(fq_cost_override("grok-4=1/-1/2", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "price \"-1\" must be a non-negative decimal"));
    assert_int_equal(fq_cost_override("grok-4=1/1/1/1", err, sizeof(err)), -1);
    assert_int_equal(fq_cost_override("=1/1/1", err, sizeof(err)), -1);
    assert_int_equal(fq_cost_override("bad model=1/1/1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "may only hold"));
    assert_true(fq_cost_lookup("grok-4")->input_per_m == 3.00);

    /* empty is a no-op */
    assert_int_equal(fq_cost_override("", err, sizeof(err)), 0);
    assert_int_equal(fq_cost_override(NULL, err, sizeof(err)), 0);

    /* change a built-in (reasoning kept) and add new models */
    assert_int_equal(fq_cost_override("grok-4=2/0.5/10, my-model=1/0.5/2:r,plain=0.1/0/0.2",
                                      err, sizeof(err)), 0);
    p = fq_cost_lookup("grok-4-0709");
    assert_string_equal(p->model, "grok-4");
    assert_true(p->input_per_m == 2.0 && p->cached_per_m == 0.5 && p->output_per_m == 10.0);
    assert_int_equal(p->reasoning, 1);
    fq_usage u = usage(1, 0, 1, 0);
    assert_int_equal(fq_cost_ticks(p, &u), 20000 + 100000);

    p = fq_cost_lookup("my-model");
    assert_true(p->input_per_m == 1.0 && p->output_per_m == 2.0);
    assert_int_equal(p->reasoning, 1);
    p = fq_cost_lookup("plain-v2");
    assert_string_equal(p->model, "plain");
    assert_int_equal(p->reasoning, 0);

    /* the unknown-model price follows the table: grok-3 is now the max input */
    p = fq_cost_lookup("mystery");
    assert_true(p->input_per_m == 3.0 && p->cached_per_m == 0.75 && p->output_per_m == 15.0);
    assert_int_equal(fq_cost_override("grok-3=4/1/20", err, sizeof(err)), 0);
    p = fq_cost_lookup("mystery");
    assert_true(p->input_per_m == 4.0 && p->cached_per_m == 1.0 && p->output_per_m == 20.0);
    assert_int_equal(p->reasoning, 1);

    /* an explicit :r on a built-in that does not reason turns it on */
    assert_int_equal(fq_cost_override("grok-3=4/1/20:r", err, sizeof(err)), 0);
    assert_int_equal(fq_cost_lookup("grok-3")->reasoning, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_table),
        cmocka_unit_test(test_prefix_lookup),
        cmocka_unit_test(test_ticks_exact),
        cmocka_unit_test(test_billed),
        cmocka_unit_test(test_estimates),
        cmocka_unit_test(test_format_usd),
        cmocka_unit_test(test_parse_usd),
        cmocka_unit_test(test_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
