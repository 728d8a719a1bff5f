/* test_dashboard_auth.c -- unit tests of the dashboard's token, sessions
 * and CSRF tokens (coordinator/dashboard_auth.c).
 *
 * The bearer token opens the dashboard and nothing like it does; a login
 * with the token opens a session of its own with its own CSRF token; a
 * wrong cookie, an ended session and a pushed-out session open nothing;
 * the secret comparison is equality, whatever the lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dashboard_auth.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(fq_secret_equal("abc", 3, "abc", 3));
    assert_false(fq_secret_equal("abd", 3, "abc", 3));
    assert_false(fq_secret_equal("ab", 2, "abc", 3));
    assert_false(fq_secret_equal("abcabc", 6, "abc", 3));   /* a repeat is not the secret */
    assert_false(fq_secret_equal("", 0, "abc", 3));
    assert_false(fq_secret_equal("", 0, "", 0));            /* an empty secret opens nothing */
}

static void test_bearer(void **state)
{
    (void)state;
    char csrf[FQ_DASH_SECRET_HEX + 1] = "";
    fq_dash_auth *a = fq_dash_auth_new(TOKEN);
    assert_non_null(a);
    assert_int_equal(fq_dash_auth_check(a, "Bearer " TOKEN, NULL, csrf), FQ_DASH_BEARER);
    assert_int_equal(fq_dash_auth_check(a, "Bearer " TOKEN "x", NULL, csrf), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, "Bearer 0123", NULL, csrf), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, "Basic " TOKEN, NULL, csrf), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, NULL, NULL, csrf), FQ_DASH_NOBODY);
    /* a cookie holding the token is no session */
    assert_int_equal(fq_dash_auth_check(a, NULL, TOKEN TOKEN, csrf), FQ_DASH_NOBODY);
    fq_dash_auth_free(a);
}

static void test_sessions(void **state)
{
    (void)state;
    char s1[FQ_DASH_SECRET_HEX + 1], c1[FQ_DASH_SECRET_HEX + 1];
    char s2[FQ_DASH_SECRET_HEX + 1], c2[FQ_DASH_SECRET_HEX + 1], csrf[FQ_DASH_SECRET_HEX + 1];
    fq_dash_auth *a = fq_dash_auth_new(TOKEN);
    assert_int_equal(fq_dash_auth_login(a, "wrong", s1, c1), -1);
    assert_int_equal(fq_dash_auth_login(a, NULL, s1, c1), -1);
    assert_int_equal(fq_dash_auth_login(a, TOKEN, s1, c1), 0);
    assert_int_equal(fq_dash_auth_login(a, TOKEN, s2, c2), 0);
    assert_int_equal(strlen(s1), FQ_DASH_SECRET_HEX);
    assert_string_not_equal(s1, s2);
    assert_string_not_equal(c1, c2);
    assert_string_not_equal(s1, c1);
    assert_null(strstr(s1, TOKEN));

    assert_int_equal(fq_dash_auth_check(a, NULL, s1, csrf), FQ_DASH_SESSION);
    assert_string_equal(csrf, c1);
    assert_int_equal(fq_dash_auth_check(a, NULL, s2, csrf), FQ_DASH_SESSION);
    assert_string_equal(csrf, c2);
    char wrong[FQ_DASH_SECRET_HEX + 1];
    memcpy(wrong, s1, sizeof(wrong));
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_int_equal(fq_dash_auth_check(a, NULL, wrong, csrf), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, NULL, c1, csrf), FQ_DASH_NOBODY);  /* a CSRF token */

    fq_dash_auth_logout(a, s1);
    assert_int_equal(fq_dash_auth_check(a, NULL, s1, csrf), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, NULL, s2, csrf), FQ_DASH_SESSION);
    fq_dash_auth_free(a);
}

/* The table is bounded: the oldest session gives way to a new one. */
static void test_oldest_pushed_out(void **state)
{
    (void)state;
    char first[FQ_DASH_SECRET_HEX + 1], s[FQ_DASH_SECRET_HEX + 1], c[FQ_DASH_SECRET_HEX + 1];
    fq_dash_auth *a = fq_dash_auth_new(TOKEN);
    assert_int_equal(fq_dash_auth_login(a, TOKEN, first, c), 0);
    for (int i = 0; i < FQ_DASH_SESSIONS - 1; i++)
        assert_int_equal(fq_dash_auth_login(a, TOKEN, s, c), 0);
    assert_int_equal(fq_dash_auth_check(a, NULL, first, c), FQ_DASH_SESSION);
    assert_int_equal(fq_dash_auth_login(a, TOKEN, s, c), 0);   /* one more than the table */
    assert_int_equal(fq_dash_auth_check(a, NULL, first, c), FQ_DASH_NOBODY);
    assert_int_equal(fq_dash_auth_check(a, NULL, s, c), FQ_DASH_SESSION);
    fq_dash_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_oldest_pushed_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
