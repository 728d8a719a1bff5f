/* test_lua_keys.c -- the names and limits that the Lua scripts spell out
 * themselves agree with the C headers: the dead-letter set the prelude
 * writes to is FQ_KEY_DEAD, a task hash is fq_key_task(), requeue.lua's
 * ceiling on attempts is the one the task hash is read back with
 * (FQ_MAX_ATTEMPTS_LIMIT), the prelude's result ttl is FQ_RESULT_TTL_S,
 * the fields of fleetq:limits quota.lua reads are the ones limits.h names
 * (fq_limit_fields, fq_model_limit_fields), and the scripts fleetqctl and
 * the coordinator call by name are embedded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embedded.h"
#include "keys.h"
#include "limits.h"

static const char *script(const char *name)
{
    for (int i = 0; fq_lua_files[i].name != NULL; i++)
        if (strcmp(fq_lua_files[i].name, name) == 0)
            return fq_lua_files[i].text;
    return NULL;
}

static void test_scripts_embedded(void **state)
{
    (void)state;
    const char *names[] = {"cancel.lua", "claim.lua", "finish.lua", "intake.lua",
                           "promote.lua", "reap.lua", "requeue.lua", "stored.lua",
                           "quota.lua", "limits.lua"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (script(names[i]) == NULL)
            fail_msg("%s is not embedded", names[i]);
    }
}

static void test_dead_key_in_every_script(void **state)
{
    (void)state;
    /* the prelude is prepended to each script, so each names the set */
    for (int i = 0; fq_lua_files[i].name != NULL; i++) {
        if (strstr(fq_lua_files[i].text, "local FQ_DEAD = '" FQ_KEY_DEAD "'") == NULL)
            fail_msg("%s: the prelude's dead-letter key is not " FQ_KEY_DEAD,
                     fq_lua_files[i].name);
    }
}

static void test_metrics_key_in_every_script(void **state)
{
    (void)state;
    for (int i = 0; fq_lua_files[i].name != NULL; i++) {
        if (strstr(fq_lua_files[i].text, "local FQ_METRICS = '" FQ_KEY_METRICS "'") == NULL)
            fail_msg("%s: the prelude's metrics key is not " FQ_KEY_METRICS,
                     fq_lua_files[i].name);
    }
}

/* quota.lua reads every fleet-wide field as L.<name>, and a model's own as
 * own('<name>', ...) (inflight directly, as 'model:' .. model .. ':inflight'). */
static void test_limit_fields_in_quota(void **state)
{
    (void)state;
    const char *q = script("quota.lua");
    assert_non_null(q);
    char needle[96];
    for (int i = 0; fq_limit_fields[i] != NULL; i++) {
        snprintf(needle, sizeof(needle), "L.%s", fq_limit_fields[i]);
        if (strstr(q, needle) == NULL)
            fail_msg("quota.lua does not read the limit %s (limits.h)", fq_limit_fields[i]);
    }
    for (int i = 0; fq_model_limit_fields[i] != NULL; i++) {
        snprintf(needle, sizeof(needle), "own('%s'", fq_model_limit_fields[i]);
        char direct[96];
        snprintf(direct, sizeof(direct), "':%s'", fq_model_limit_fields[i]);
        if (strstr(q, needle) == NULL && strstr(q, direct) == NULL)
            fail_msg("quota.lua does not read a model's %s (limits.h)", fq_model_limit_fields[i]);
    }
    if (strstr(q, "'model:' .. model .. ':'") == NULL)
        fail_msg("quota.lua does not name a model's fields model:<m>:<key> as limits.h does");
}

static void test_task_key(void **state)
{
    (void)state;
    char key[FQ_KEY_MAX], line[FQ_KEY_MAX + 64];
    fq_key_task("", key, sizeof(key));
    snprintf(line, sizeof(line), "return '%s' .. id", key);
    assert_non_null(strstr(script("requeue.lua"), line));
}

static void test_requeue_attempt_ceiling(void **state)
{
    (void)state;
    const char *text = script("requeue.lua");
    assert_non_null(text);
    const char *at = strstr(text, "local MAX_ATTEMPTS = ");
    assert_non_null(at);
    assert_int_equal(atoi(at + strlen("local MAX_ATTEMPTS = ")), FQ_MAX_ATTEMPTS_LIMIT);
}

static void test_result_ttl(void **state)
{
    (void)state;
    const char *text = script("claim.lua");
    assert_non_null(text);
    const char *at = strstr(text, "local FQ_RESULT_TTL = ");
    assert_non_null(at);
    assert_int_equal(atoi(at + strlen("local FQ_RESULT_TTL = ")), atoi(FQ_RESULT_TTL_S));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripts_embedded),
        cmocka_unit_test(test_dead_key_in_every_script),
        cmocka_unit_test(test_metrics_key_in_every_script),
        cmocka_unit_test(test_limit_fields_in_quota),
        cmocka_unit_test(test_task_key),
        cmocka_unit_test(test_requeue_attempt_ceiling),
        cmocka_unit_test(test_result_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
