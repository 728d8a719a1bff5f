/* test_lua_keys.c -- the Lua scripts and the C headers agree: no script
 * names or builds a key (each is given every key it touches, in KEYS, so
 * that a Redis Cluster can route it and strict servers accept it), the key
 * set follows FLEETQ_KEY_PREFIX (a hash tag puts every key in one slot),
 * requeue.lua's ceiling on attempts is the one the task hash is read back
 * with (FQ_MAX_ATTEMPTS_LIMIT), the fields of <prefix>:limits quota.lua
 * reads are the ones limits.h names (fq_limit_fields,
 * fq_model_limit_fields), and the scripts fleetqctl and the coordinator
 * call by name are embedded.
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

extern const fq_embedded fq_ctl_lua_files[];

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
    const char *names[] = {"cancel.lua", "claim.lua", "due.lua", "expire.lua", "finish.lua",
                           "intake.lua", "promote.lua", "reap.lua", "requeue.lua",
                           "stored.lua", "quota.lua", "limits.lua"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (script(names[i]) == NULL)
            fail_msg("%s is not embedded", names[i]);
    }
}

/* The code of a script line (what precedes a "--" comment). */
static size_t code_len(const char *line, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (line[i] == '-' && line[i + 1] == '-')
            return i;
    return len;
}

/* Fails when a line of code names a key of the fleet, or calls Redis with
 * a first key argument built by concatenation ("redis.call('X', a .. b"). */
static void check_no_built_keys(const fq_embedded *files)
{
    for (int i = 0; files[i].name != NULL; i++) {
        const char *line = files[i].text;
        int lineno = 1;
        while (*line != '\0') {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char code[512];
            size_t n = code_len(line, len);
            snprintf(code, sizeof(code), "%.*s", (int)(n < sizeof(code) ? n : sizeof(code) - 1),
                     line);
            if (strstr(code, FQ_KEY_PREFIX_DEFAULT ":") != NULL)
                fail_msg("%s:%d names a key: %s", files[i].name, lineno, code);
            const char *call = strstr(code, "redis.call('");
            if (call != NULL) {
                const char *arg = strchr(call + strlen("redis.call('"), ',');
                const char *next = arg ? strpbrk(arg + 1, ",)") : NULL;
                const char *cat = arg ? strstr(arg, "..") : NULL;
                if (cat != NULL && (next == NULL || cat < next))
                    fail_msg("%s:%d builds a key name: %s", files[i].name, lineno, code);
            }
            line += len + (end ? 1 : 0);
            lineno++;
        }
    }
}

static void test_no_script_builds_a_key(void **state)
{
    (void)state;
    check_no_built_keys(fq_lua_files);
    check_no_built_keys(fq_ctl_lua_files);
}

static void test_key_prefix(void **state)
{
    (void)state;
    char err[160];
    const fq_keyset *k = fq_keys();
    assert_string_equal(k->submit, "fleetq:submit");
    assert_string_equal(k->ready[FQ_ROLE_MEMORY], "fleetq:{q}:ready:memory");
    assert_false(k->tagged);
    assert_int_equal(fq_keys_init("{fleetq}", err, sizeof(err)), 0);
    k = fq_keys();
    assert_true(k->tagged);
    assert_string_equal(k->submit, "{fleetq}:submit");
    assert_string_equal(k->dead, "{fleetq}:{q}:dead");
    char key[FQ_KEY_MAX];
    assert_string_equal(fq_key_task("t1", key, sizeof(key)), "{fleetq}:task:t1");
    assert_string_equal(fq_key_done("t1", key, sizeof(key)), "{fleetq}:done:t1");
    const char *bad[] = {"", "two words", "{}x", "{open", "tab\there"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(fq_keys_init(bad[i], err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
    }
    char longest[FQ_KEY_PREFIX_MAX + 2];
    memset(longest, 'p', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    assert_int_equal(fq_keys_init(longest, err, sizeof(err)), -1);
    assert_string_equal(fq_keys()->submit, "{fleetq}:submit");   /* a refusal keeps the set */
    assert_int_equal(fq_keys_init("acme:prod", err, sizeof(err)), 0);
    assert_string_equal(fq_keys()->limits, "acme:prod:limits");
    assert_int_equal(fq_keys_init(FQ_KEY_PREFIX_DEFAULT, err, sizeof(err)), 0);
}

/* Slots as Redis Cluster computes them: CRC16 of "123456789" is 0x31c3 (the
 * checksum's check value), "foo" is slot 12182 (the cluster specification). */
static void test_key_slot(void **state)
{
    (void)state;
    assert_int_equal(fq_key_slot("foo"), 12182);
    assert_int_equal(fq_key_slot("123456789"), 12739);
    assert_int_equal(fq_key_slot("{fleetq}:task:t1"), fq_key_slot("fleetq"));
    assert_int_equal(fq_key_slot("{fleetq}:{q}:ready:code"), fq_key_slot("{fleetq}:submit"));
    assert_int_equal(fq_key_slot("a{}b"), fq_key_slot("a{}b"));
    assert_int_not_equal(fq_key_slot("fleetq:submit"), fq_key_slot("fleetq:{q}:delayed"));
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

static void test_requeue_attempt_ceiling(void **state)
{
    (void)state;
    const char *text = script("requeue.lua");
    assert_non_null(text);
    const char *at = strstr(text, "local MAX_ATTEMPTS = ");
    assert_non_null(at);
    assert_int_equal(atoi(at + strlen("local MAX_ATTEMPTS = ")), FQ_MAX_ATTEMPTS_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripts_embedded),
        cmocka_unit_test(test_no_script_builds_a_key),
        cmocka_unit_test(test_key_prefix),
        cmocka_unit_test(test_key_slot),
        cmocka_unit_test(test_limit_fields_in_quota),
        cmocka_unit_test(test_requeue_attempt_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
