/* test_form.c -- unit tests of the form-body reader (common/form.c): the
 * field found by its whole name, '+' and %XX decoded, a bad escape kept,
 * a value that does not fit or holds a NUL refused, a body that is not
 * NUL-terminated read within its length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"

static long value(const char *body, const char *name, char *out, size_t outlen)
{
    return fq_form_value(body, strlen(body), name, out, outlen);
}

static void test_fields(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(value("token=abc", "token", out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(value("x=1&token=a%2Bb%2fc+d&token=second", "token", out, sizeof(out)), 7);
    assert_string_equal(out, "a+b/c d");
    assert_int_equal(value("tokens=1&xtoken=2", "token", out, sizeof(out)), -1);
    assert_string_equal(out, "");
    assert_int_equal(value("token", "token", out, sizeof(out)), -1);
    assert_int_equal(value("token=", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(value("token=a=b", "token", out, sizeof(out)), 3);
    assert_string_equal(out, "a=b");
    assert_int_equal(value("token=%zz%4%", "token", out, sizeof(out)), 6);
    assert_string_equal(out, "%zz%4%");
}

static void test_refused(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(value("token=abcd", "token", out, sizeof(out)), -1);   /* needs 5 bytes */
    assert_string_equal(out, "");
    assert_int_equal(value("token=abc", "token", out, sizeof(out)), 3);
    assert_int_equal(value("token=a%00b", "token", out, sizeof(out)), -1);
    assert_int_equal(fq_form_value("token=abc", 9, "token", out, 0), -1);
}

static void test_length_bounds_the_body(void **state)
{
    (void)state;
    char out[16];
    const char body[] = {'t', '=', 'a', 'b', '&', 'u', '=', 'c'};   /* no NUL */
    assert_int_equal(fq_form_value(body, sizeof(body), "u", out, sizeof(out)), 1);
    assert_string_equal(out, "c");
    assert_int_equal(fq_form_value(body, 3, "t", out, sizeof(out)), 1);   /* "t=a" */
    assert_string_equal(out, "a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_length_bounds_the_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
