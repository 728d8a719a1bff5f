/* test_record.c -- results-stream records (common/record.c): both kinds
 * survive a trip through stream fields, absent fields read back as NULL / 0
 * (priority -1), and timestamps format as ISO-8601 UTC with milliseconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fq_shared.h"
#include "record.h"

/* Views an XADD-style argv of name/value pairs as fields, starting at
 * argv[first]; returns the number of pairs. */
static size_t as_fields(const fq_argv *a, int first, fq_field *out, size_t max)
{
    size_t n = 0;
    for (int i = first; i + 1 < a->argc && n < max; i += 2, n++) {
        out[n].name = a->argv[i];
        out[n].name_len = a->argvlen[i];
        out[n].value = a->argv[i + 1];
        out[n].value_len = a->argvlen[i + 1];
    }
    assert_int_equal((a->argc - first) % 2, 0);
    return n;
}

/* The value after name in an argv of pairs starting at argv[first]. */
static const char *value_at(const fq_argv *a, int first, const char *name)
{
    for (int i = first; i + 1 < a->argc; i += 2) {
        if (strcmp(a->argv[i], name) == 0)
            return a->argv[i + 1];
    }
    return NULL;
}

static const char *value_of(const fq_argv *a, const char *name)
{
    return value_at(a, 0, name);
}

static void test_attempt_round_trip(void **state)
{
    fq_attempt_record in = {
        .task_id = "1764892800123-0",
        .n = 2,
        .http_status = 429,
        .outcome = "rate_limited",
        .error = "HTTP 429 Some resource has been exhausted: Too many requests",
        .latency_ms = 1234,
        .started_at = 1764892800123LL,
        .worker = "host-a:4242",
        .model = "grok-4",
        .ttft_ms = 321,
        .prompt_tokens = 40,
        .completion_tokens = 7,
        .cost_ticks = 123456,
        .usage_estimated = 1,
    };
    fq_argv a;
    fq_argv_init(&a);
    /* callers put the command in front; the fields follow */
    assert_int_equal(fq_argv_adds(&a, "XADD"), 0);
    assert_int_equal(fq_argv_adds(&a, "fleetq:{q}:results"), 0);
    assert_int_equal(fq_argv_adds(&a, "*"), 0);
    assert_int_equal(fq_record_attempt_to_fields(&in, &a), 0);

    assert_string_equal(a.argv[3], "kind");
    assert_string_equal(a.argv[4], "attempt");
    assert_string_equal(value_at(&a, 3, "task"), "1764892800123-0");
    assert_string_equal(value_at(&a, 3, "n"), "2");
    assert_string_equal(value_at(&a, 3, "http_status"), "429");
    assert_string_equal(value_at(&a, 3, "latency_ms"), "1234");
    assert_string_equal(value_at(&a, 3, "started_at"), "1764892800123");
    assert_string_equal(value_at(&a, 3, "model"), "grok-4");
    assert_string_equal(value_at(&a, 3, "ttft_ms"), "321");
    assert_string_equal(value_at(&a, 3, "cost_ticks"), "123456");
    assert_string_equal(value_at(&a, 3, "usage_estimated"), "1");
    assert_int_equal(a.argc, 3 + 2 * 15);

    fq_field f[32];
    size_t n = as_fields(&a, 3, f, 32);
    assert_int_equal(fq_record_kind(f, n), 'a');

    fq_attempt_record out;
    assert_int_equal(fq_record_attempt_from_fields(f, n, &out), 0);
    assert_string_equal(out.task_id, in.task_id);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.http_status, 429);
    assert_string_equal(out.outcome, in.outcome);
    assert_string_equal(out.error, in.error);
    assert_int_equal(out.latency_ms, 1234);
    assert_int_equal(out.started_at, 1764892800123LL);
    assert_string_equal(out.worker, in.worker);
    assert_string_equal(out.model, "grok-4");
    assert_int_equal(out.ttft_ms, 321);
    assert_int_equal(out.prompt_tokens, 40);
    assert_int_equal(out.completion_tokens, 7);
    assert_int_equal(out.cost_ticks, 123456);
    /* copies, not views into the argv */
    assert_ptr_not_equal(out.task_id, value_at(&a, 3, "task"));
    fq_record_attempt_free(&out);
    assert_null(out.task_id);
    fq_argv_free(&a);
}

static void test_attempt_nulls_and_required(void **state)
{
    fq_attempt_record in = { .task_id = "t1", .n = 1, .outcome = "timeout" };
    fq_argv a;
    fq_argv_init(&a);
    assert_int_equal(fq_record_attempt_to_fields(&in, &a), 0);
    assert_null(value_of(&a, "error"));
    assert_null(value_of(&a, "worker"));
    assert_string_equal(value_of(&a, "http_status"), "0");

    fq_field f[32];
    size_t n = as_fields(&a, 0, f, 32);
    fq_attempt_record out;
    assert_int_equal(fq_record_attempt_from_fields(f, n, &out), 0);
    assert_null(out.error);
    assert_null(out.worker);
    assert_int_equal(out.http_status, 0);
    assert_string_equal(out.outcome, "timeout");
    fq_record_attempt_free(&out);
    fq_argv_free(&a);

    /* task and n are required; n must be a positive number */
    fq_field only_task[] = { { "task", 4, "t1", 2 } };
    assert_int_equal(fq_record_attempt_from_fields(only_task, 1, &out), -1);
    fq_field only_n[] = { { "n", 1, "1", 1 } };
    assert_int_equal(fq_record_attempt_from_fields(only_n, 1, &out), -1);
    fq_field bad_n[] = { { "task", 4, "t1", 2 }, { "n", 1, "x", 1 } };
    assert_int_equal(fq_record_attempt_from_fields(bad_n, 2, &out), -1);
}

static void test_final_round_trip(void **state)
{
    fq_final_record in = {
        .task_id = "plan-42",
        .role = "ceo",
        .priority = 0,
        .status = "done",
        .model = "grok-4",
        .prompt = "Draft the Q3 plan\nwith \"quotes\" and \xc3\xa9",
        .output = "1. Grow.\n2. Profit.",
        .error = NULL,
        .attempts = 2,
        .prompt_tokens = 37,
        .completion_tokens = 530,
        .reasoning_tokens = 233,
        .cached_tokens = 8,
        .cost_ticks = 91460000,
        .latency_ms = 5123,
        .submitted_at = 1764892700000LL,
        .started_at = 1764892790000LL,
        .finished_at = 1764892800123LL,
        .worker = "worker-ceo-1",
    };
    fq_argv a;
    fq_argv_init(&a);
    assert_int_equal(fq_record_final_to_fields(&in, &a), 0);
    assert_string_equal(a.argv[0], "kind");
    assert_string_equal(a.argv[1], "final");
    assert_null(value_of(&a, "error"));
    assert_string_equal(value_of(&a, "priority"), "0");
    assert_string_equal(value_of(&a, "cost_ticks"), "91460000");
    /* kind + 18 set fields + plan and usage_estimated (integers, always
     * there; error, flow_id and parents left out) */
    assert_int_equal(a.argc, 2 * 21);
    assert_string_equal(value_of(&a, "usage_estimated"), "0");
    assert_string_equal(value_of(&a, "plan"), "0");

    fq_field f[40];
    size_t n = as_fields(&a, 0, f, 40);
    assert_int_equal(fq_record_kind(f, n), 'f');
    fq_final_record out;
    assert_int_equal(fq_record_final_from_fields(f, n, &out), 0);
    assert_string_equal(out.task_id, "plan-42");
    assert_string_equal(out.role, "ceo");
    assert_int_equal(out.priority, 0);
    assert_string_equal(out.status, "done");
    assert_string_equal(out.model, "grok-4");
    assert_string_equal(out.prompt, in.prompt);
    assert_string_equal(out.output, in.output);
    assert_null(out.error);
    assert_int_equal(out.attempts, 2);
    assert_int_equal(out.prompt_tokens, 37);
    assert_int_equal(out.completion_tokens, 530);
    assert_int_equal(out.reasoning_tokens, 233);
    assert_int_equal(out.cached_tokens, 8);
    assert_int_equal(out.cost_ticks, 91460000);
    assert_int_equal(out.latency_ms, 5123);
    assert_int_equal(out.submitted_at, 1764892700000LL);
    assert_int_equal(out.started_at, 1764892790000LL);
    assert_int_equal(out.finished_at, 1764892800123LL);
    assert_string_equal(out.worker, "worker-ceo-1");
    fq_record_final_free(&out);
    fq_argv_free(&a);
}

/* A final record's fields, as record.c writes them, are shared.def's
 * FINAL_FIELDS in their order (the same list the Lua prelude reads from a
 * task hash), after kind and task. */
static void test_final_fields_are_shared(void **state)
{
    (void)state;
    fq_final_record in = {
        .task_id = "t", .role = "ceo", .priority = 0, .status = "done", .model = "m",
        .prompt = "p", .output = "o", .error = "e", .attempts = 1, .prompt_tokens = 1,
        .completion_tokens = 1, .reasoning_tokens = 1, .cached_tokens = 1, .cost_ticks = 1,
        .latency_ms = 1, .submitted_at = 1, .started_at = 1, .finished_at = 1, .worker = "w",
        .flow_id = "f", .parents = "[\"p\"]", .plan = 1, .recalled = "[\"r\"]",
        .cached_from = "c", .notes = "n",
    };
    fq_argv a;
    fq_argv_init(&a);
    assert_int_equal(fq_record_final_to_fields(&in, &a), 0);
    int k = 0;
    for (int i = 0; i + 1 < a.argc; i += 2) {
        if (strcmp(a.argv[i], "kind") == 0 || strcmp(a.argv[i], "task") == 0)
            continue;
        if (k >= FQ_FINAL_FIELDS_COUNT || strcmp(a.argv[i], fq_final_fields[k]) != 0)
            fail_msg("field %d of the final record is %s, shared.def says %s", k, a.argv[i],
                     k < FQ_FINAL_FIELDS_COUNT ? fq_final_fields[k] : "(none)");
        k++;
    }
    assert_int_equal(k, FQ_FINAL_FIELDS_COUNT);
    fq_argv_free(&a);
}

static void test_final_rejection_defaults(void **state)
{
    /* a rejection: no role, no model, the priority unknown */
    fq_final_record in = {
        .task_id = "1764892800123-7",
        .role = NULL,
        .priority = -1,
        .status = "rejected",
        .error = "unknown role \"cfo\": use ceo, code, quality or memory",
        .submitted_at = 1764892800123LL,
        .finished_at = 1764892800124LL,
    };
    fq_argv a;
    fq_argv_init(&a);
    assert_int_equal(fq_record_final_to_fields(&in, &a), 0);
    assert_null(value_of(&a, "role"));
    assert_string_equal(value_of(&a, "priority"), "-1");
    fq_field f[40];
    size_t n = as_fields(&a, 0, f, 40);
    fq_final_record out;
    assert_int_equal(fq_record_final_from_fields(f, n, &out), 0);
    assert_null(out.role);
    assert_null(out.model);
    assert_null(out.output);
    assert_int_equal(out.priority, -1);
    assert_string_equal(out.error, in.error);
    fq_record_final_free(&out);
    fq_argv_free(&a);

    /* absent fields: strings NULL, integers 0, priority -1 */
    fq_field minimal[] = { { "kind", 4, "final", 5 }, { "task", 4, "x", 1 },
                           { "attempts", 8, "nope", 4 } };
    assert_int_equal(fq_record_final_from_fields(minimal, 3, &out), 0);
    assert_string_equal(out.task_id, "x");
    assert_null(out.status);
    assert_int_equal(out.priority, -1);
    assert_int_equal(out.attempts, 0);
    assert_int_equal(out.finished_at, 0);
    fq_record_final_free(&out);

    fq_field no_task[] = { { "kind", 4, "final", 5 }, { "status", 6, "done", 4 } };
    assert_int_equal(fq_record_final_from_fields(no_task, 2, &out), -1);
}

static void test_values_not_nul_terminated(void **state)
{
    /* stream values arrive as views into a reply buffer */
    const char *buf = "kindattemptTASK-9xn12http_status503";
    fq_field f[] = {
        { buf, 4, buf + 4, 7 },             /* kind=attempt */
        { "task", 4, buf + 11, 6 },         /* TASK-9 */
        { "n", 1, buf + 19, 2 },            /* 12 */
        { "http_status", 11, buf + 32, 3 }, /* 503 */
    };
    assert_int_equal(fq_record_kind(f, 4), 'a');
    fq_attempt_record out;
    assert_int_equal(fq_record_attempt_from_fields(f, 4, &out), 0);
    assert_string_equal(out.task_id, "TASK-9");
    assert_int_equal(out.n, 12);
    assert_int_equal(out.http_status, 503);
    fq_record_attempt_free(&out);
}

static void test_kind(void **state)
{
    fq_field f[] = { { "kind", 4, "final", 5 } };
    assert_int_equal(fq_record_kind(f, 1), 'f');
    f[0].value = "attempt";
    f[0].value_len = 7;
    assert_int_equal(fq_record_kind(f, 1), 'a');
    f[0].value = "attempts";
    f[0].value_len = 8;
    assert_int_equal(fq_record_kind(f, 1), 0);
    f[0].value = "fin";
    f[0].value_len = 3;
    assert_int_equal(fq_record_kind(f, 1), 0);
    f[0].value = "Final";
    f[0].value_len = 5;
    assert_int_equal(fq_record_kind(f, 1), 0);
    fq_field other[] = { { "task", 4, "x", 1 } };
    assert_int_equal(fq_record_kind(other, 1), 0);
    assert_int_equal(fq_record_kind(NULL, 0), 0);
}

static void test_iso8601(void **state)
{
    char buf[32];
    assert_string_equal(fq_iso8601_ms(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
    assert_ptr_equal(fq_iso8601_ms(0, buf, sizeof(buf)), buf);

    /* 1764892800123 ms: the expected text is worked out from the calendar
     * (timegm of the day's midnight), not by the code under test */
    int64_t ms = 1764892800123LL;
    struct tm want = { .tm_year = 2025 - 1900, .tm_mon = 11, .tm_mday = 5 };
    int64_t midnight = (int64_t)timegm(&want);
    int64_t sec = ms / 1000;
    int64_t into = sec - midnight;
    char expect[32];
    snprintf(expect, sizeof(expect), "2025-12-05T%02d:%02d:%02d.123Z",
             (int)(into / 3600), (int)(into / 60 % 60), (int)(into % 60));
    assert_true(into >= 0 && into < 86400);
    assert_string_equal(fq_iso8601_ms(ms, buf, sizeof(buf)), expect);

    /* fixed instants */
    assert_string_equal(fq_iso8601_ms(951782400999LL, buf, sizeof(buf)),
                        "2000-02-29T00:00:00.999Z");
    assert_string_equal(fq_iso8601_ms(1798761599001LL, buf, sizeof(buf)),
                        "2026-12-31T23:59:59.001Z");
    /* before the epoch: milliseconds count forward from the earlier second */
    assert_string_equal(fq_iso8601_ms(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");

    /* exactly 25 bytes is enough */
    char tight[25];
    assert_string_equal(fq_iso8601_ms(1764892800123LL, tight, sizeof(tight)), expect);
    assert_int_equal(strlen(tight), 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attempt_round_trip),
        cmocka_unit_test(test_attempt_nulls_and_required),
        cmocka_unit_test(test_final_round_trip),
        cmocka_unit_test(test_final_fields_are_shared),
        cmocka_unit_test(test_final_rejection_defaults),
        cmocka_unit_test(test_values_not_nul_terminated),
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
