/* test_plan.c -- a ceo task's plan (plan.c): a good plan is normalized
 * (full ids, after behind the parent, sibling placeholders qualified) and
 * each subtask reads back as a submission; a bad one (not JSON, not an
 * array, empty, too many subtasks, too deep, an invalid subtask, an after
 * naming a later or unknown subtask, a duplicate id) is refused with the
 * reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static const fq_plan_limits limits = {.max_subtasks = 5, .max_depth = 2};

static char *check_ok(const char *answer, int depth)
{
    char *out = NULL;
    char err[512];
    if (fq_plan_check(answer, strlen(answer), "P", depth, &limits, &out, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    return out;
}

static void check_bad(const char *answer, int depth, const char *want)
{
    char *out = NULL;
    char err[512];
    if (fq_plan_check(answer, strlen(answer), "P", depth, &limits, &out, err, sizeof(err)) == 0)
        fail_msg("accepted %s, expected: %s", out, want);
    assert_null(out);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

typedef struct seen {
    int n;
    char ids[8][FQ_ID_MAX + 1];
    char parents[8][256];
    char prompts[8][256];
    int plan[8];
    int role[8];
} seen;

static int collect(fq_task *t, void *data)
{
    seen *s = data;
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", t->id);
    snprintf(s->parents[s->n], sizeof(s->parents[0]), "%s", t->parents ? t->parents : "");
    snprintf(s->prompts[s->n], sizeof(s->prompts[0]), "%s", t->prompt ? t->prompt : "");
    s->plan[s->n] = t->plan;
    s->role[s->n] = (int)t->role;
    s->n++;
    return 0;
}

static void test_good_plan(void **state)
{
    (void)state;
    char *out = check_ok("```json\n"
                         "[{\"id\":\"spec\",\"role\":\"code\",\"prompt\":\"write the spec\"},\n"
                         " {\"role\":\"code\",\"after\":[\"spec\"],\"prompt\":\"build {{spec}}\"},\n"
                         " {\"id\":\"sub\",\"role\":\"ceo\",\"plan\":true,\"after\":[\"spec\",\"2\"],"
                         "\"prompt\":\"plan more on {{2}}, not {{ spec }}\"}]\n```",
                         1);
    seen s = {0};
    assert_int_equal(fq_plan_each(out, 1, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ids[0], "P.spec");
    assert_string_equal(s.parents[0], "[\"P\"]");
    assert_string_equal(s.ids[1], "P.2");
    assert_string_equal(s.parents[1], "[\"P\",\"P.spec\"]");
    assert_string_equal(s.prompts[1], "build {{P.spec}}");
    assert_string_equal(s.ids[2], "P.sub");
    assert_string_equal(s.parents[2], "[\"P\",\"P.spec\",\"P.2\"]");
    assert_string_equal(s.prompts[2], "plan more on {{P.2}}, not {{ spec }}");
    assert_int_equal(s.role[2], FQ_ROLE_CEO);
    assert_int_equal(s.plan[2], 2);   /* one level deeper */
    assert_int_equal(s.plan[0], 0);
    free(out);
}

static void test_bad_plans(void **state)
{
    (void)state;
    check_bad("Here is my plan: first code, then review.", 1, "plan: the answer is not JSON");
    check_bad("{\"role\":\"code\",\"prompt\":\"x\"}", 1, "plan: the answer is JSON but not an array");
    check_bad("[]", 1, "plan: no subtasks");
    check_bad("[{\"role\":\"code\",\"prompt\":\"1\"},{\"role\":\"code\",\"prompt\":\"2\"},"
              "{\"role\":\"code\",\"prompt\":\"3\"},{\"role\":\"code\",\"prompt\":\"4\"},"
              "{\"role\":\"code\",\"prompt\":\"5\"},{\"role\":\"code\",\"prompt\":\"6\"}]",
              1, "plan: 6 subtasks, more than FLEETQ_PLAN_MAX=5");
    check_bad("[{\"role\":\"ceo\",\"plan\":true,\"prompt\":\"deeper\"}]", 2,
              "plan: subtask 1 plans in turn, at depth 3: deeper than FLEETQ_PLAN_DEPTH=2");
    check_bad("[{\"role\":\"coder\",\"prompt\":\"x\"}]", 1,
              "plan: subtask 1: role: must be one of ceo, code, quality, memory");
    check_bad("[{\"role\":\"code\"}]", 1, "plan: subtask 1: prompt: missing");
    check_bad("[{\"role\":\"code\",\"prompt\":\"x\",\"colour\":\"red\"}]", 1,
              "plan: subtask 1: unknown key \"colour\"");
    check_bad("[{\"role\":\"code\",\"prompt\":\"a\",\"after\":[\"2\"]},"
              "{\"role\":\"code\",\"prompt\":\"b\"}]", 1,
              "plan: subtask 1: after names \"2\", which is not an earlier subtask");
    check_bad("[{\"id\":\"a\",\"role\":\"code\",\"prompt\":\"a\"},"
              "{\"id\":\"a\",\"role\":\"code\",\"prompt\":\"b\"}]", 1,
              "plan: subtask 2: id a is given twice");
    check_bad("[{\"role\":\"code\",\"prompt\":\"uses {{x}}\"}]", 1,
              "plan: subtask 1: prompt: {{x}} names a task that is not in after");
    check_bad("[\"just a string\"]", 1, "plan: subtask 1 is not a JSON object");
    check_bad("[{\"role\":\"code\",\"prompt\":\"a\",\"after\":\"1\"}]", 1,
              "plan: subtask 1: after must be an array");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plan),
        cmocka_unit_test(test_bad_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
