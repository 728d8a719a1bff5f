/* test_lua_keys.c -- the Lua scripts and the C headers agree: no script
 * names or builds a key (each is given every key it touches, in KEYS, so
 * that a Redis Cluster can route it and strict servers accept it), the key
 * set follows FLEETQ_KEY_PREFIX (a hash tag puts every key in one slot),
 * every script starts with the constants of shared.def as the C side has
 * them (ticks per USD, attempts, buckets, the final record's and a
 * follower's fields, a running task's phases), each
 * script's fq_contract() agrees with the table of scripts.c, the fields of
 * <prefix>:limits quota.lua reads are the ones fleet_limits.h names
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
#include "fleet_limits.h"
#include "record.h"
#include "scripts.h"

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
                           "intake.lua", "promote.lua", "reap.lua", "requeue.lua", "resolve.lua",
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

/* Each script's fq_contract(N, more) agrees with scripts.c's table, and
 * every script is in it. */
static void check_contracts(const fq_embedded *files)
{
    for (int i = 0; files[i].name != NULL; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(strlen(files[i].name) - 4), files[i].name);
        const fq_script_def *d = fq_script_find(name);
        if (d == NULL)
            fail_msg("%s is not in the table of scripts (scripts.c)", files[i].name);
        /* the script's own line, after the prelude's definition */
        const char *body = strstr(files[i].text, "\nfq_contract(");
        if (body == NULL)
            fail_msg("%s does not state its keys with fq_contract()", files[i].name);
        int keys = -1;
        char more[8] = "";
        if (sscanf(body, "\nfq_contract(%d, %7[a-z])", &keys, more) != 2)
            fail_msg("%s: unreadable fq_contract() line", files[i].name);
        if (keys != d->keys || strcmp(more, d->more_keys ? "true" : "false") != 0)
            fail_msg("%s takes %d keys (more: %s), the table says %d (more: %d)", files[i].name,
                     keys, more, d->keys, d->more_keys);
    }
}

static void test_contracts(void **state)
{
    (void)state;
    check_contracts(fq_lua_files);
    check_contracts(fq_ctl_lua_files);
    char err[160];
    assert_int_equal(fq_script_check("intake", 15, err, sizeof(err)), 0);
    assert_int_equal(fq_script_check("intake", 13, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "called with 13 keys, takes 15 or more"));
    assert_int_equal(fq_script_check("cancel", 12, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "called with 12 keys, takes 11"));
    assert_int_equal(fq_script_check("claim", 12, err, sizeof(err)), 0);
    assert_int_equal(fq_script_check("claim", 6, err, sizeof(err)), -1);
    assert_int_equal(fq_script_check("nosuch", 1, err, sizeof(err)), -1);
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
 * checksum's check value), "foo" is slot 12182 (the cluster specification),
 * "{fleetq}:submit" is slot 16169 (CLUSTER KEYSLOT of redis-server 7.0, as
 * test_cluster.sh logs it), and an empty tag "{}" hashes the whole key. */
static void test_key_slot(void **state)
{
    (void)state;
    assert_int_equal(fq_key_slot("foo"), 12182);
    assert_int_equal(fq_key_slot("123456789"), 12739);
    assert_int_equal(fq_key_slot("{fleetq}:submit"), 16169);
    assert_int_equal(fq_key_slot("{fleetq}:task:t1"), 16169);
    assert_int_equal(fq_key_slot("{fleetq}:{q}:ready:code"), 16169);
    assert_int_equal(fq_key_slot("a{}b"), 13694);
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
            fail_msg("quota.lua does not read the limit %s (fleet_limits.h)", fq_limit_fields[i]);
    }
    for (int i = 0; fq_model_limit_fields[i] != NULL; i++) {
        snprintf(needle, sizeof(needle), "own('%s'", fq_model_limit_fields[i]);
        char direct[96];
        snprintf(direct, sizeof(direct), "':%s'", fq_model_limit_fields[i]);
        if (strstr(q, needle) == NULL && strstr(q, direct) == NULL)
            fail_msg("quota.lua does not read a model's %s (fleet_limits.h)", fq_model_limit_fields[i]);
    }
    if (strstr(q, "'model:' .. model .. ':'") == NULL)
        fail_msg("quota.lua does not name a model's fields model:<m>:<key> as fleet_limits.h does");
}

/* The constants every script starts with are the C side's (both come from
 * shared.def; this checks the generation). */
static void expect_in_every_script(const char *line)
{
    for (int i = 0; fq_lua_files[i].name != NULL; i++)
        if (strstr(fq_lua_files[i].text, line) == NULL)
            fail_msg("%s lacks \"%s\"", fq_lua_files[i].name, line);
}

static void expect_list(const char *name, const char *const *words, const long long *nums,
                        int n)
{
    char line[2048];
    size_t used = (size_t)snprintf(line, sizeof(line), "local FQ_%s = {", name);
    for (int i = 0; i < n && used < sizeof(line); i++) {
        if (words != NULL)
            used += (size_t)snprintf(line + used, sizeof(line) - used, "%s'%s'", i ? ", " : "",
                                     words[i]);
        else
            used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%lld", i ? ", " : "",
                                     nums[i]);
    }
    snprintf(line + used, sizeof(line) - used, "}");
    expect_in_every_script(line);
}

static void test_shared_constants(void **state)
{
    (void)state;
    char line[128];
    snprintf(line, sizeof(line), "local FQ_TICKS_PER_USD = %lld", (long long)FQ_TICKS_PER_USD);
    expect_in_every_script(line);
    snprintf(line, sizeof(line), "local FQ_MAX_ATTEMPTS = %d", FQ_MAX_ATTEMPTS_LIMIT);
    expect_in_every_script(line);
    snprintf(line, sizeof(line), "local FQ_EVENTS_MAXLEN = %s", FQ_EVENTS_MAXLEN_STR);
    expect_in_every_script(line);
    snprintf(line, sizeof(line), "local FQ_ENDED_TTL = %s", FQ_ENDED_TTL_STR);
    expect_in_every_script(line);
    expect_list("FINAL_FIELDS", fq_final_fields, NULL, FQ_FINAL_FIELDS_COUNT);
    expect_list("LATENCY_BUCKETS_MS", NULL, fq_latency_buckets_ms, FQ_LATENCY_BUCKETS_MS_COUNT);
    expect_list("WAIT_BUCKETS_MS", NULL, fq_wait_buckets_ms, FQ_WAIT_BUCKETS_MS_COUNT);
    expect_list("FOLLOW_FIELDS", fq_follow_fields, NULL, FQ_FOLLOW_FIELDS_COUNT);
    expect_list("TASK_PHASES", fq_task_phases, NULL, FQ_TASK_PHASES_COUNT);
    assert_string_equal(fq_task_phases[FQ_PHASE_CALLING], "calling");
    assert_string_equal(fq_task_phases[FQ_PHASE_QUOTA], "quota");
    /* record.h's names for the positions of the follow fields */
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_STATUS], "status");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_ROLE], "role");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_PRIORITY], "priority");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_MODEL], "model");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_ATTEMPTS], "attempts");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_MAX_ATTEMPTS], "max_attempts");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_ERROR], "error");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_OUTPUT], "output");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_FINISH_REASON], "finish_reason");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_PROMPT_TOKENS], "prompt_tokens");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_COMPLETION_TOKENS], "completion_tokens");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_REASONING_TOKENS], "reasoning_tokens");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_CACHED_TOKENS], "cached_tokens");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_COST_TICKS], "cost_ticks");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_LATENCY], "latency_ms");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_SUBMITTED], "submitted_at");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_STARTED], "started_at");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_FINISHED], "finished_at");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_WORKER], "worker");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_FLOW_ID], "flow_id");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_PARENTS], "parents");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_CACHED_FROM], "cached_from");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_NOTES], "notes");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_USAGE_ESTIMATED], "usage_estimated");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_ALLOWANCE], "allowance");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_REQUEUES], "requeues");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_AT_REQUEUE], "attempts_at_requeue");
    assert_string_equal(fq_follow_fields[FQ_FOLLOW_FALLBACK_ATTEMPTS], "fallback_attempts");
    /* and the scripts use them, not numbers of their own */
    assert_non_null(strstr(script("requeue.lua"), "local MAX_ATTEMPTS = FQ_MAX_ATTEMPTS"));
    assert_non_null(strstr(script("quota.lua"), "local TICKS = FQ_TICKS_PER_USD"));
    assert_non_null(strstr(script("stored.lua"), "ipairs(FQ_FOLLOW_FIELDS)"));
    assert_non_null(strstr(script("quota.lua"), "FQ_TASK_PHASES[o[1] == 1 and 1 or 2]"));
    assert_non_null(strstr(script("finish.lua"), "redis.call('EXPIRE', key, FQ_ENDED_TTL)"));
    assert_non_null(strstr(script("finish.lua"), "'MAXLEN', '~', FQ_EVENTS_MAXLEN"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripts_embedded),
        cmocka_unit_test(test_no_script_builds_a_key),
        cmocka_unit_test(test_contracts),
        cmocka_unit_test(test_key_prefix),
        cmocka_unit_test(test_key_slot),
        cmocka_unit_test(test_limit_fields_in_quota),
        cmocka_unit_test(test_shared_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
