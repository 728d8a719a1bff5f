/* test_task.c -- unit tests for the task model (common/task.c): roles,
 * priorities, UTF-8 and id checks, every submission rule with a passing
 * and a failing case, both submission forms (separate fields and one
 * `json` field), the order in which problems are reported, the round
 * trip through the task hash, and the note on a limit of attempts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_params.h"
#include "task.h"

/* The longest stop sequence a task may give (task.c). */
#define STOP_TEST_BYTES 200

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

typedef struct run {
    fq_task t;
    int role;
    int rc;
    char err[512];
} run;

/* Parses a NULL-terminated list of name, value strings with a limit. */
static void parse_list(run *r, size_t limit, const char *const *kv)
{
    fq_field f[64];
    size_t n = 0;
    for (; kv[2 * n] != NULL; n++) {
        f[n].name = kv[2 * n];
        f[n].name_len = strlen(kv[2 * n]);
        f[n].value = kv[2 * n + 1];
        f[n].value_len = strlen(kv[2 * n + 1]);
    }
    fq_task_limits lim = {.max_submission_bytes = limit};
    memset(r->err, 0, sizeof(r->err));
    r->rc = fq_task_parse_submission(f, n, &lim, &r->t, &r->role, r->err, sizeof(r->err));
    /* Every reason is one line. */
    assert_null(strchr(r->err, '\n'));
    if (r->rc == 0)
        assert_string_equal(r->err, "");
    else
        assert_true(strlen(r->err) > 0);
}

#define PARSE(r, ...) parse_list((r), 1u << 20, (const char *const[]){__VA_ARGS__, NULL})

/* Expects success. */
#define OK(...)                                      \
    do {                                             \
        run r_;                                      \
        PARSE(&r_, __VA_ARGS__);                     \
        if (r_.rc != 0)                              \
            fail_msg("unexpected error: %s", r_.err); \
        fq_task_free(&r_.t);                         \
    } while (0)

/* Expects failure with a reason containing want. */
#define BAD(want, ...)                                                      \
    do {                                                                    \
        run r_;                                                             \
        PARSE(&r_, __VA_ARGS__);                                            \
        if (r_.rc == 0)                                                     \
            fail_msg("accepted, expected error containing: %s", want);      \
        if (strstr(r_.err, want) == NULL)                                   \
            fail_msg("error \"%s\" does not contain \"%s\"", r_.err, want); \
        fq_task_free(&r_.t);                                                \
    } while (0)

/* ------------------------------------------------------------------------
 * Roles, priorities, UTF-8, ids
 * --------------------------------------------------------------------- */

static void test_roles(void **state)
{
    assert_string_equal(fq_role_name(FQ_ROLE_CEO), "ceo");
    assert_string_equal(fq_role_name(FQ_ROLE_CODE), "code");
    assert_string_equal(fq_role_name(FQ_ROLE_QUALITY), "quality");
    assert_string_equal(fq_role_name(FQ_ROLE_MEMORY), "memory");
    assert_null(fq_role_name(FQ_ROLE_COUNT));
    assert_null(fq_role_name((fq_role)-1));
    assert_int_equal(fq_role_parse("memory", 6), FQ_ROLE_MEMORY);
    assert_int_equal(fq_role_parse("code", 4), FQ_ROLE_CODE);
    assert_int_equal(fq_role_parse("cod", 3), -1);
    assert_int_equal(fq_role_parse("CEO", 3), -1);
    assert_int_equal(fq_role_parse("ceo ", 4), -1);
    assert_int_equal(fq_role_parse("ceox", 3), FQ_ROLE_CEO);  /* length-bounded */
    assert_int_equal(fq_role_parse("", 0), -1);
}

static void test_priority_parse(void **state)
{
    assert_int_equal(fq_priority_parse("critical", 8), 0);
    assert_int_equal(fq_priority_parse("high", 4), 2);
    assert_int_equal(fq_priority_parse("normal", 6), 4);
    assert_int_equal(fq_priority_parse("low", 3), 6);
    assert_int_equal(fq_priority_parse("bulk", 4), 8);
    for (int d = 0; d <= 9; d++) {
        char c = (char)('0' + d);
        assert_int_equal(fq_priority_parse(&c, 1), d);
    }
    assert_int_equal(fq_priority_parse("Critical", 8), -1);
    assert_int_equal(fq_priority_parse("HIGH", 4), -1);
    assert_int_equal(fq_priority_parse("10", 2), -1);
    assert_int_equal(fq_priority_parse("-1", 2), -1);
    assert_int_equal(fq_priority_parse("", 0), -1);
    assert_int_equal(fq_priority_parse("urgent", 6), -1);
    assert_int_equal(fq_priority_parse(" 4", 2), -1);
}

static void test_utf8(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"hello", 5, 1},
        {"\xC3\xA9", 2, 1},                 /* é */
        {"\xE2\x82\xAC", 3, 1},             /* € */
        {"\xF0\x9F\x98\x80", 4, 1},         /* U+1F600 */
        {"\xEF\xBF\xBF", 3, 1},             /* U+FFFF */
        {"\xF4\x8F\xBF\xBF", 4, 1},         /* U+10FFFF */
        {"\xED\x9F\xBF", 3, 1},             /* U+D7FF, just below surrogates */
        {"a\0b", 3, 1},                     /* NUL is UTF-8 */
        {"\xC0\x80", 2, 0},                 /* overlong NUL */
        {"\xC1\xBF", 2, 0},                 /* overlong */
        {"\xE0\x80\x80", 3, 0},             /* overlong */
        {"\xE0\x9F\xBF", 3, 0},             /* overlong U+07FF */
        {"\xF0\x80\x80\x80", 4, 0},         /* overlong */
        {"\xF0\x8F\xBF\xBF", 4, 0},         /* overlong U+FFFF */
        {"\xED\xA0\x80", 3, 0},             /* U+D800 surrogate */
        {"\xED\xBF\xBF", 3, 0},             /* U+DFFF surrogate */
        {"\xF4\x90\x80\x80", 4, 0},         /* U+110000 */
        {"\xF5\x80\x80\x80", 4, 0},
        {"\xFF", 1, 0},
        {"\x80", 1, 0},                     /* stray continuation */
        {"\xE2\x82", 2, 0},                 /* truncated */
        {"abc\xF0\x9F\x98", 6, 0},          /* truncated at the end */
        {"\xC3\x28", 2, 0},                 /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (fq_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
            fail_msg("case %zu: expected %d", i, cases[i].ok);
    }
}

static void test_id_valid(void **state)
{
    char id[FQ_ID_MAX + 2];
    memset(id, 'a', sizeof(id));
    assert_true(fq_id_valid("plan-42", 7));
    assert_true(fq_id_valid("A.b_c:d-9", 9));
    assert_true(fq_id_valid("1700000000000-0", 15));
    assert_true(fq_id_valid(id, FQ_ID_MAX));
    assert_false(fq_id_valid(id, FQ_ID_MAX + 1));
    assert_false(fq_id_valid("", 0));
    assert_false(fq_id_valid("a b", 3));
    assert_false(fq_id_valid("a/b", 3));
    assert_false(fq_id_valid("a\0b", 3));
    assert_false(fq_id_valid("\xC3\xA9", 2));
}

/* ------------------------------------------------------------------------
 * Separate fields
 * --------------------------------------------------------------------- */

static void test_minimal(void **state)
{
    run r;
    PARSE(&r, "role", "code", "prompt", "Fix this bug: print('hello world')");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.role, FQ_ROLE_CODE);
    assert_int_equal(r.t.role, FQ_ROLE_CODE);
    assert_string_equal(r.t.prompt, "Fix this bug: print('hello world')");
    assert_null(r.t.messages);
    assert_null(r.t.model);
    assert_null(r.t.system);
    assert_string_equal(r.t.id, "");
    assert_int_equal(r.t.priority, -1);
    assert_int_equal(r.t.max_tokens, 0);
    assert_int_equal(r.t.has_temperature, 0);
    assert_int_equal(r.t.max_attempts, 0);
    assert_int_equal(r.t.timeout_s, 0);
    assert_int_equal(r.t.delay_s, 0);
    assert_int_equal(r.t.ttl_s, 0);
    fq_task_free(&r.t);
    assert_null(r.t.prompt);
}

static void test_all_fields(void **state)
{
    run r;
    PARSE(&r, "role", "ceo", "priority", "critical", "id", "plan-42", "prompt", "Draft the Q3 plan",
          "system", "Be brief.", "model", "grok-4-0709", "max_tokens", "300", "temperature", "0.7",
          "max_attempts", "5", "timeout", "120", "delay", "10", "ttl", "3600");
    if (r.rc != 0)
        fail_msg("%s", r.err);
    assert_int_equal(r.t.role, FQ_ROLE_CEO);
    assert_int_equal(r.t.priority, 0);
    assert_string_equal(r.t.id, "plan-42");
    assert_string_equal(r.t.prompt, "Draft the Q3 plan");
    assert_string_equal(r.t.system, "Be brief.");
    assert_string_equal(r.t.model, "grok-4-0709");
    assert_int_equal(r.t.max_tokens, 300);
    assert_int_equal(r.t.has_temperature, 1);
    assert_true(r.t.temperature == 0.7);
    assert_int_equal(r.t.max_attempts, 5);
    assert_int_equal(r.t.timeout_s, 120);
    assert_int_equal(r.t.delay_s, 10);
    assert_int_equal(r.t.ttl_s, 3600);
    fq_task_free(&r.t);
}

static void test_unknown_and_duplicate_fields(void **state)
{
    BAD("unknown field \"promt\"; allowed: role, prompt, messages, priority, id, system, model, "
        "max_tokens, temperature, max_attempts, timeout, delay, ttl, after, review_by, plan, "
        "recall, cache, stream, fallback, reasoning_effort, top_p, seed, stop, presence_penalty, "
        "frequency_penalty, response_format, json",
        "role", "code", "promt", "hi");
    BAD("unknown field \"Role\"", "Role", "code", "prompt", "hi");
    BAD("role: given more than once", "role", "code", "role", "code", "prompt", "hi");
    BAD("prompt: given more than once", "role", "code", "prompt", "a", "prompt", "b");
    OK("role", "code", "prompt", "hi");
}

static void test_role_rules(void **state)
{
    BAD("role: missing; give one of ceo, code, quality, memory", "prompt", "hi");
    BAD("role: must be one of ceo, code, quality, memory, got \"boss\"", "role", "boss",
        "prompt", "hi");
    BAD("role: must be one of ceo, code, quality, memory, got \"Code\"", "role", "Code",
        "prompt", "hi");
    BAD("role: must be one of", "role", "", "prompt", "hi");
    OK("role", "quality", "prompt", "hi");
    OK("role", "memory", "prompt", "hi");
}

static void test_prompt_rules(void **state)
{
    BAD("prompt: missing; give prompt", "role", "code");
    BAD("prompt and messages: both given", "role", "code", "prompt", "hi", "messages",
        "[{\"role\":\"user\",\"content\":\"hi\"}]");
    BAD("prompt: must not be empty or only white space", "role", "code", "prompt", "");
    BAD("prompt: must not be empty or only white space, got \" \\x09\\x0a \"", "role", "code",
        "prompt", " \t\n ");
    OK("role", "code", "prompt", " x ");
}

static void test_messages_rules(void **state)
{
    run r;
    PARSE(&r, "role", "code", "messages",
          "[ {\"role\" : \"system\", \"content\": \"Be brief.\"},\n"
          "  {\"role\":\"user\",\"content\":\"hi \\u00e9\"},"
          "  {\"role\":\"assistant\",\"content\":\"\"} ]");
    if (r.rc != 0)
        fail_msg("%s", r.err);
    assert_null(r.t.prompt);
    assert_string_equal(r.t.messages,
                        "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                        "{\"role\":\"user\",\"content\":\"hi \xC3\xA9\"},"
                        "{\"role\":\"assistant\",\"content\":\"\"}]");
    fq_task_free(&r.t);

    BAD("messages: not valid JSON (error near byte", "role", "code", "messages", "[{\"role\":");
    BAD("messages: not valid JSON", "role", "code", "messages",
        "[{\"role\":\"user\",\"content\":\"hi\"}] trailing");
    BAD("messages: must be a JSON array of {\"role\",\"content\"} objects, got a JSON object",
        "role", "code", "messages", "{\"role\":\"user\",\"content\":\"hi\"}");
    BAD("messages: must not be empty", "role", "code", "messages", "[]");
    BAD("messages[0]: must be an object", "role", "code", "messages", "[\"hi\"]");
    BAD("messages[1].role: must be system, user or assistant, got \"tool\"", "role", "code",
        "messages", "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]");
    BAD("messages[0].role: missing", "role", "code", "messages", "[{\"content\":\"hi\"}]");
    BAD("messages[0].role: must be system, user or assistant, got a JSON number", "role", "code",
        "messages", "[{\"role\":1,\"content\":\"hi\"}]");
    BAD("messages[0].content: missing", "role", "code", "messages", "[{\"role\":\"user\"}]");
    BAD("messages[0].content: must be a string, got a JSON array", "role", "code", "messages",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]");
    BAD("messages[0].content: must not be empty", "role", "code", "messages",
        "[{\"role\":\"user\",\"content\":\"\"}]");
    BAD("messages[0].content: must not be empty", "role", "code", "messages",
        "[{\"role\":\"system\",\"content\":\"\"}]");
    BAD("messages[0]: unknown key \"name\"; allowed: role, content", "role", "code", "messages",
        "[{\"role\":\"user\",\"content\":\"hi\",\"name\":\"x\"}]");
    BAD("messages[0]: key \"role\" appears more than once", "role", "code", "messages",
        "[{\"role\":\"user\",\"role\":\"user\",\"content\":\"hi\"}]");
    BAD("messages: contains \\u0000", "role", "code", "messages",
        "[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]");
    /* An escaped backslash before u0000 is just text. */
    OK("role", "code", "messages", "[{\"role\":\"user\",\"content\":\"a\\\\u0000b\"}]");
    OK("role", "code", "messages", "[{\"role\":\"assistant\",\"content\":\"\"}]");
}

static void test_priority_rules(void **state)
{
    static const char *const good[] = {"critical", "high", "normal", "low", "bulk", "0", "9"};
    static const int want[] = {0, 2, 4, 6, 8, 0, 9};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        run r;
        PARSE(&r, "role", "code", "prompt", "hi", "priority", good[i]);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.t.priority, want[i]);
        fq_task_free(&r.t);
    }
    BAD("priority: must be critical, high, normal, low, bulk or a digit 0-9 (0 most urgent), "
        "got \"urgent\"", "role", "code", "prompt", "hi", "priority", "urgent");
    BAD("priority: must be", "role", "code", "prompt", "hi", "priority", "10");
    BAD("priority: must be", "role", "code", "prompt", "hi", "priority", "High");
    BAD("priority: must be", "role", "code", "prompt", "hi", "priority", "");
}

static void test_integer_rules(void **state)
{
    BAD("max_tokens: must be an integer from 1 to 131072, got \"abc\"", "role", "code", "prompt",
        "hi", "max_tokens", "abc");
    BAD("max_tokens: must be an integer from 1 to 131072, got \"0\"", "role", "code", "prompt",
        "hi", "max_tokens", "0");
    BAD("got \"131073\"", "role", "code", "prompt", "hi", "max_tokens", "131073");
    BAD("got \"12abc\"", "role", "code", "prompt", "hi", "max_tokens", "12abc");
    BAD("got \"1e3\"", "role", "code", "prompt", "hi", "max_tokens", "1e3");
    BAD("got \"-1\"", "role", "code", "prompt", "hi", "max_tokens", "-1");
    BAD("got \"+5\"", "role", "code", "prompt", "hi", "max_tokens", "+5");
    BAD("got \" 5\"", "role", "code", "prompt", "hi", "max_tokens", " 5");
    BAD("got \"5.0\"", "role", "code", "prompt", "hi", "max_tokens", "5.0");
    BAD("got \"0x10\"", "role", "code", "prompt", "hi", "max_tokens", "0x10");
    BAD("got \"\"", "role", "code", "prompt", "hi", "max_tokens", "");
    BAD("got \"99999999999999999999999\"", "role", "code", "prompt", "hi", "max_tokens",
        "99999999999999999999999");
    BAD("got \"4294967297\"", "role", "code", "prompt", "hi", "max_tokens", "4294967297");
    OK("role", "code", "prompt", "hi", "max_tokens", "1");
    OK("role", "code", "prompt", "hi", "max_tokens", "131072");

    BAD("max_attempts: must be an integer from 1 to 100, got \"0\"", "role", "code", "prompt",
        "hi", "max_attempts", "0");
    BAD("max_attempts: must be", "role", "code", "prompt", "hi", "max_attempts", "101");
    OK("role", "code", "prompt", "hi", "max_attempts", "100");

    BAD("timeout: must be an integer number of seconds from 1 to 3600, got \"0\"", "role",
        "code", "prompt", "hi", "timeout", "0");
    BAD("timeout: must be", "role", "code", "prompt", "hi", "timeout", "3601");
    OK("role", "code", "prompt", "hi", "timeout", "3600");

    BAD("delay: must be an integer number of seconds from 0 to 2592000, got \"2592001\"", "role",
        "code", "prompt", "hi", "delay", "2592001");
    BAD("delay: must be", "role", "code", "prompt", "hi", "delay", "-1");
    OK("role", "code", "prompt", "hi", "delay", "0");
    OK("role", "code", "prompt", "hi", "delay", "2592000");

    BAD("ttl: must be an integer number of seconds from 1 to 2592000, got \"0\"", "role", "code",
        "prompt", "hi", "ttl", "0");
    BAD("ttl: must be", "role", "code", "prompt", "hi", "ttl", "2592001");
    OK("role", "code", "prompt", "hi", "ttl", "1");
    OK("role", "code", "prompt", "hi", "ttl", "2592000");
}

static void test_temperature_rules(void **state)
{
    static const char *const good[] = {"0", "2", "0.7", ".5", "1.", "2.0", "0.123456789"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        run r;
        PARSE(&r, "role", "code", "prompt", "hi", "temperature", good[i]);
        if (r.rc != 0)
            fail_msg("%s: %s", good[i], r.err);
        assert_int_equal(r.t.has_temperature, 1);
        assert_true(r.t.temperature == strtod(good[i], NULL));
        fq_task_free(&r.t);
    }
    static const char *const bad[] = {"2.1", "-0.1", "abc", "1e0", "nan", "inf", "", ".",
                                      "0.5.1", " 1", "0x1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "temperature: must be a number from 0 to 2");
        BAD(want, "role", "code", "prompt", "hi", "temperature", bad[i]);
    }
}

static void test_id_rules(void **state)
{
    char long_id[FQ_ID_MAX + 2];
    memset(long_id, 'x', FQ_ID_MAX + 1);
    long_id[FQ_ID_MAX + 1] = '\0';
    BAD("id: must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got \"a b\"", "role", "code",
        "prompt", "hi", "id", "a b");
    BAD("id: must be 1 to 128", "role", "code", "prompt", "hi", "id", long_id);
    BAD("id: must be 1 to 128", "role", "code", "prompt", "hi", "id", "");
    long_id[FQ_ID_MAX] = '\0';
    OK("role", "code", "prompt", "hi", "id", long_id);
}

static void test_model_and_system_rules(void **state)
{
    char m[66];
    memset(m, 'm', 64);
    m[64] = '\0';
    BAD("model: must be 1 to 63 characters", "role", "code", "prompt", "hi", "model", m);
    m[63] = '\0';
    OK("role", "code", "prompt", "hi", "model", m);
    BAD("model: must be 1 to 63 characters", "role", "code", "prompt", "hi", "model", "");
    BAD("model: must be 1 to 63 characters of A-Z a-z 0-9 . _ : -, got \"grok 4\"", "role",
        "code", "prompt", "hi", "model", "grok 4");
    m[64] = '\0';
    OK("role", "code", "prompt", "hi", "model", m);
    OK("role", "code", "prompt", "hi", "model", "grok-3-mini:beta_1.0");

    run r;
    PARSE(&r, "role", "code", "prompt", "hi", "system", "");
    assert_int_equal(r.rc, 0);
    assert_non_null(r.t.system);
    assert_string_equal(r.t.system, "");
    fq_task_free(&r.t);
}

static void test_utf8_rules(void **state)
{
    BAD("prompt: not valid UTF-8 (byte 0xff at offset 2)", "role", "code", "prompt", "hi\xff");
    BAD("system: not valid UTF-8", "role", "code", "prompt", "hi", "system", "\xED\xA0\x80");
    BAD("field name \"pr\\xc0\\x80\" is not valid UTF-8", "role", "code", "pr\xC0\x80", "x");
    /* UTF-8 is checked before field names: the bad value wins over the typo. */
    BAD("\"promt\": not valid UTF-8", "role", "code", "promt", "\xC3");
    OK("role", "code", "prompt", "caf\xC3\xA9 \xF0\x9F\x98\x80");

    /* A NUL byte inside a value is refused too (it would cut the text). */
    run r;
    fq_field f[2] = {{"role", 4, "code", 4}, {"prompt", 6, "a\0b", 3}};
    fq_task_limits lim = {1u << 20};
    r.rc = fq_task_parse_submission(f, 2, &lim, &r.t, &r.role, r.err, sizeof(r.err));
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "prompt: contains a NUL byte at offset 1"));
    fq_task_free(&r.t);
}

static void test_size_limit(void **state)
{
    char big[2001];
    memset(big, 'a', 2000);
    big[2000] = '\0';
    run r;
    parse_list(&r, 1024, (const char *const[]){"role", "code", "prompt", big, NULL});
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "submission is 2014 bytes; the limit is 1024 "
                               "(FLEETQ_MAX_SUBMISSION_BYTES)");
    /* The role is still reported for the rejection record. */
    assert_int_equal(r.role, FQ_ROLE_CODE);
    fq_task_free(&r.t);

    /* Size before UTF-8. */
    big[5] = '\xff';
    parse_list(&r, 1024, (const char *const[]){"role", "code", "prompt", big, NULL});
    assert_non_null(strstr(r.err, "submission is 2014 bytes"));
    fq_task_free(&r.t);

    /* Exactly at the limit passes: 4 + 4 + 6 + 1010 = 1024. */
    big[5] = 'a';
    big[1010] = '\0';
    parse_list(&r, 1024, (const char *const[]){"role", "code", "prompt", big, NULL});
    assert_int_equal(r.rc, 0);
    fq_task_free(&r.t);

    /* A zero limit means the default of 1 MiB. */
    parse_list(&r, 0, (const char *const[]){"role", "code", "prompt", "hi", NULL});
    assert_int_equal(r.rc, 0);
    fq_task_free(&r.t);
}

static void test_shown_values_are_bounded(void **state)
{
    char junk[301];
    memset(junk, 'z', 300);
    junk[300] = '\0';
    run r;
    PARSE(&r, "role", junk, "prompt", "hi");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "... (300 bytes)"));
    assert_true(strlen(r.err) < 160);
    fq_task_free(&r.t);

    BAD("got \"a\\\"b\\\\c\\x01\\x0ad\"", "role", "a\"b\\c\x01\nd", "prompt", "hi");
    BAD("got \"r\xC3\xB4le\"", "role", "r\xC3\xB4le", "prompt", "hi");
}

static void test_role_and_id_survive_rejection(void **state)
{
    run r;
    PARSE(&r, "role", "code", "id", "job-7", "prompt", "   ");
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.role, FQ_ROLE_CODE);
    assert_int_equal(r.t.role, FQ_ROLE_CODE);
    assert_string_equal(r.t.id, "job-7");
    assert_null(r.t.prompt);
    fq_task_free(&r.t);

    PARSE(&r, "role", "boss", "id", "job-8", "prompt", "hi");
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.role, -1);
    assert_string_equal(r.t.id, "job-8");
    fq_task_free(&r.t);

    PARSE(&r, "role", "memory", "id", "bad id", "prompt", "hi");
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.role, FQ_ROLE_MEMORY);
    assert_string_equal(r.t.id, "");
    fq_task_free(&r.t);

    /* Even with an unknown field the role and id are known. */
    PARSE(&r, "role", "quality", "id", "q1", "prompt", "hi", "colour", "red");
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.role, FQ_ROLE_QUALITY);
    assert_string_equal(r.t.id, "q1");
    fq_task_free(&r.t);

    /* From inside json as well. */
    PARSE(&r, "json", "{\"role\":\"ceo\",\"id\":\"j-1\",\"prompt\":\"hi\",\"max_tokens\":0}");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "max_tokens"));
    assert_int_equal(r.role, FQ_ROLE_CEO);
    assert_string_equal(r.t.id, "j-1");
    fq_task_free(&r.t);

    PARSE(&r, "json", "{\"role\":\"ceo\",\"id\":\"j-2\",\"extra\":1}");
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "json: unknown key \"extra\""));
    assert_int_equal(r.role, FQ_ROLE_CEO);
    assert_string_equal(r.t.id, "j-2");
    fq_task_free(&r.t);
}

/* ------------------------------------------------------------------------
 * The json form
 * --------------------------------------------------------------------- */

static void test_json_form(void **state)
{
    run r;
    PARSE(&r, "json",
          "{\"role\":\"quality\",\"prompt\":\"Review this diff\",\"max_tokens\":300,"
          "\"temperature\":0.25,\"priority\":\"high\",\"timeout\":\"60\",\"delay\":0,"
          "\"ttl\":86400,\"max_attempts\":2,\"model\":\"grok-3-mini\",\"system\":\"S\","
          "\"id\":\"rev-1\"}");
    if (r.rc != 0)
        fail_msg("%s", r.err);
    assert_int_equal(r.t.role, FQ_ROLE_QUALITY);
    assert_string_equal(r.t.prompt, "Review this diff");
    assert_int_equal(r.t.max_tokens, 300);
    assert_true(r.t.temperature == 0.25);
    assert_int_equal(r.t.priority, 2);
    assert_int_equal(r.t.timeout_s, 60);
    assert_int_equal(r.t.ttl_s, 86400);
    assert_int_equal(r.t.max_attempts, 2);
    assert_string_equal(r.t.model, "grok-3-mini");
    assert_string_equal(r.t.system, "S");
    assert_string_equal(r.t.id, "rev-1");
    fq_task_free(&r.t);

    /* messages as an array and as a string holding one */
    PARSE(&r, "json", "{\"role\":\"code\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.t.messages, "[{\"role\":\"user\",\"content\":\"x\"}]");
    fq_task_free(&r.t);
    PARSE(&r, "json",
          "{\"role\":\"code\",\"messages\":\"[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"y\\\"}]\"}");
    if (r.rc != 0)
        fail_msg("%s", r.err);
    assert_string_equal(r.t.messages, "[{\"role\":\"user\",\"content\":\"y\"}]");
    fq_task_free(&r.t);

    /* numbers as JSON numbers: integral ones only, in range */
    OK("json", "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":300.0}");
    OK("json", "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":1e3}");
    OK("json", "{\"role\":\"code\",\"prompt\":\"p\",\"priority\":3}");
    BAD("max_tokens: must be an integer from 1 to 131072, got 300.5", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":300.5}");
    BAD("max_tokens: must be an integer from 1 to 131072, got 1e+300", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":1e300}");
    BAD("max_tokens: must be an integer from 1 to 131072, got true", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":true}");
    BAD("max_tokens: must be an integer from 1 to 131072, got \"1e3\"", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"max_tokens\":\"1e3\"}");
    BAD("temperature: must be a number from 0 to 2 (like 0.7), got 2.5", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"temperature\":2.5}");
    BAD("priority: must be", "json", "{\"role\":\"code\",\"prompt\":\"p\",\"priority\":10}");
    BAD("priority: must be", "json", "{\"role\":\"code\",\"prompt\":\"p\",\"priority\":2.5}");
    BAD("role: must be a string, got a JSON number", "json", "{\"role\":1,\"prompt\":\"p\"}");
    BAD("prompt: must be a string, got a JSON array", "json", "{\"role\":\"code\",\"prompt\":[]}");
    BAD("id: must be a string, got a JSON number", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"id\":42}");
    BAD("messages: must be a JSON array", "json", "{\"role\":\"code\",\"messages\":5}");

    /* null counts as not given */
    PARSE(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"model\":null,\"max_tokens\":null}");
    assert_int_equal(r.rc, 0);
    assert_null(r.t.model);
    assert_int_equal(r.t.max_tokens, 0);
    fq_task_free(&r.t);

    /* shape errors */
    BAD("json: cannot be combined with other fields (got \"role\" too)", "role", "code", "json",
        "{\"prompt\":\"p\"}");
    BAD("json: not valid JSON (error near byte", "json", "{\"role\":\"code\",");
    BAD("json: not valid JSON", "json", "{\"role\":\"code\",\"prompt\":\"p\"} x");
    BAD("json: must be a JSON object", "json", "[1,2]");
    BAD("json: unknown key \"promt\"", "json", "{\"role\":\"code\",\"promt\":\"p\"}");
    BAD("json: unknown key \"json\"", "json", "{\"role\":\"code\",\"json\":\"p\"}");
    BAD("json: key \"role\" appears more than once", "json",
        "{\"role\":\"code\",\"role\":\"ceo\",\"prompt\":\"p\"}");
    BAD("json: contains \\u0000", "json", "{\"role\":\"code\",\"prompt\":\"a\\u0000b\"}");
    BAD("json: not valid UTF-8", "json", "{\"role\":\"code\",\"prompt\":\"\xC0\xAF\"}");
    BAD("json: not valid JSON", "json", "{\"role\":\"code\",\"prompt\":\"\\ud800\"}");
    BAD("prompt: must not be empty", "json", "{\"role\":\"code\",\"prompt\":\"  \"}");
    BAD("json: not valid JSON", "json", "");
}

static void test_empty_submission(void **state)
{
    run r;
    fq_task_limits lim = {1u << 20};
    r.rc = fq_task_parse_submission(NULL, 0, &lim, &r.t, &r.role, r.err, sizeof(r.err));
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.role, -1);
    assert_non_null(strstr(r.err, "submission is empty"));
    fq_task_free(&r.t);
}

/* ------------------------------------------------------------------------
 * The task hash
 * --------------------------------------------------------------------- */

static void to_fields(const fq_argv *a, fq_field *f, size_t *n)
{
    *n = (size_t)a->argc / 2;
    for (size_t i = 0; i < *n; i++) {
        f[i].name = a->argv[2 * i];
        f[i].name_len = a->argvlen[2 * i];
        f[i].value = a->argv[2 * i + 1];
        f[i].value_len = a->argvlen[2 * i + 1];
    }
}

static void assert_same_task(const fq_task *a, const fq_task *b)
{
    assert_int_equal(a->role, b->role);
    assert_int_equal(a->priority, b->priority);
#define SAME_STR(x)                                   \
    do {                                              \
        if (a->x == NULL)                             \
            assert_null(b->x);                        \
        else                                          \
            assert_string_equal(a->x, b->x);          \
    } while (0)
    SAME_STR(model);
    SAME_STR(system);
    SAME_STR(prompt);
    SAME_STR(messages);
    SAME_STR(fallback);
    SAME_STR(params);
#undef SAME_STR
    assert_int_equal(a->max_tokens, b->max_tokens);
    assert_int_equal(a->has_temperature, b->has_temperature);
    assert_true(a->temperature == b->temperature);
    assert_int_equal(a->max_attempts, b->max_attempts);
    assert_int_equal(a->timeout_s, b->timeout_s);
    assert_int_equal(a->delay_s, b->delay_s);
    assert_int_equal(a->ttl_s, b->ttl_s);
    assert_int_equal(a->cache, b->cache);
    assert_int_equal(a->stream, b->stream);
}

static void roundtrip(const fq_task *t)
{
    fq_argv a;
    fq_field f[32];
    size_t n;
    fq_task back;
    char err[256];
    fq_argv_init(&a);
    assert_int_equal(fq_task_to_hash(t, &a), 0);
    assert_int_equal(a.argc % 2, 0);
    to_fields(&a, f, &n);
    /* role and priority are always written */
    assert_non_null(fq_fields_find(f, n, "role"));
    assert_non_null(fq_fields_find(f, n, "priority"));
    if (fq_task_from_hash(f, n, &back, err, sizeof(err)) != 0)
        fail_msg("from_hash: %s", err);
    assert_same_task(t, &back);
    fq_task_free(&back);
    fq_argv_free(&a);
}

static void test_hash_roundtrip(void **state)
{
    run r;
    PARSE(&r, "role", "ceo", "priority", "high", "prompt", "Plan\nthe \"Q3\"", "system", "",
          "model", "grok-4", "max_tokens", "777", "temperature", "0.1", "max_attempts", "4",
          "timeout", "30", "delay", "5", "ttl", "600");
    assert_int_equal(r.rc, 0);
    roundtrip(&r.t);

    /* temperatures that need all 17 digits still come back exactly */
    r.t.temperature = 0.1 + 0.2;
    roundtrip(&r.t);
    r.t.temperature = 1.9999999999999998;
    roundtrip(&r.t);
    r.t.temperature = 0;
    roundtrip(&r.t);
    fq_task_free(&r.t);

    PARSE(&r, "role", "memory", "messages", "[{\"role\":\"user\",\"content\":\"x\"}]");
    assert_int_equal(r.rc, 0);
    roundtrip(&r.t);   /* priority -1, nothing optional */

    fq_argv a;
    fq_argv_init(&a);
    assert_int_equal(fq_task_to_hash(&r.t, &a), 0);
    /* only the set fields: role, priority, messages */
    assert_int_equal(a.argc, 6);
    fq_argv_free(&a);
    fq_task_free(&r.t);
}

static void test_from_hash(void **state)
{
    fq_task t;
    char err[256];
    fq_field f[8] = {
        {"status", 6, "queued", 6},
        {"role", 4, "code", 4},
        {"prompt", 6, "hi", 2},
        {"attempts", 8, "1", 1},
        {"id", 2, "abc", 3},
        {"priority", 8, "4", 1},
        {"temperature", 11, "0.5", 3},
        {"max_tokens", 10, "12", 2},
    };
    assert_int_equal(fq_task_from_hash(f, 8, &t, err, sizeof(err)), 0);
    assert_int_equal(t.role, FQ_ROLE_CODE);
    assert_string_equal(t.prompt, "hi");
    assert_string_equal(t.id, "abc");
    assert_int_equal(t.priority, 4);
    assert_int_equal(t.max_tokens, 12);
    assert_true(t.temperature == 0.5);
    fq_task_free(&t);

    assert_int_equal(fq_task_from_hash(f + 2, 6, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "role: missing"));

    f[1].value = "boss";
    assert_int_equal(fq_task_from_hash(f, 8, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "role:"));
    f[1].value = "code";

    fq_field noprompt[2] = {{"role", 4, "ceo", 3}, {"priority", 8, "2", 1}};
    assert_int_equal(fq_task_from_hash(noprompt, 2, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "prompt: missing"));
    assert_null(t.prompt);

    f[7].value = "12x";
    f[7].value_len = 3;
    assert_int_equal(fq_task_from_hash(f, 8, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "max_tokens"));
}

/* ------------------------------------------------------------------------
 * after and placeholders
 * --------------------------------------------------------------------- */

static void test_after(void **state)
{
    (void)state;
    run r;
    PARSE(&r, "role", "code", "id", "d", "after", " b ,c", "prompt", "join {{b}} and {{c}}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.t.parents, "[\"b\",\"c\"]");
    fq_argv h;
    fq_argv_init(&h);
    assert_int_equal(fq_task_to_hash(&r.t, &h), 0);
    int found = 0;
    for (int i = 0; i + 1 < h.argc; i += 2)
        found |= strcmp(h.argv[i], "parents") == 0 && strcmp(h.argv[i + 1], "[\"b\",\"c\"]") == 0;
    assert_true(found);
    fq_argv_free(&h);
    fq_task_free(&r.t);

    PARSE(&r, "json", "{\"role\":\"code\",\"after\":[\"a\"],\"prompt\":\"{{a}}\"}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.t.parents, "[\"a\"]");
    fq_task_free(&r.t);

    /* no after: braces are plain text */
    OK("role", "code", "prompt", "a template with {{title}}");
    /* text between braces that is not an id is left alone */
    OK("role", "code", "after", "a", "prompt", "{{ a }} and {{a b}} and {{a}}");
    OK("role", "code", "after", "a", "messages", "[{\"role\":\"user\",\"content\":\"{{a}}\"}]");

    BAD("prompt: {{x}} names a task that is not in after ([\"a\"])", "role", "code", "after",
        "a", "prompt", "use {{x}}");
    BAD("system: {{y}} names a task that is not in after", "role", "code", "after", "a",
        "prompt", "p", "system", "see {{y}}");
    BAD("messages: {{z}} names a task that is not in after", "role", "code", "after", "a",
        "messages", "[{\"role\":\"user\",\"content\":\"{{z}}\"}]");
    BAD("after: names the task itself (t)", "role", "code", "id", "t", "after", "a,t",
        "prompt", "p");
    BAD("after: names \"a\" more than once", "role", "code", "after", "a,a", "prompt", "p");
    BAD("after: \"a b\" is not a task id", "role", "code", "after", "a b", "prompt", "p");
    BAD("after: \"\" is not a task id", "role", "code", "after", "a,,b", "prompt", "p");
    BAD("after: element 1 is not a string", "json",
        "{\"role\":\"code\",\"after\":[\"a\",2],\"prompt\":\"p\"}");
    BAD("after: must be task ids separated by commas", "json",
        "{\"role\":\"code\",\"after\":7,\"prompt\":\"p\"}");

    char many[40 * 8] = "";
    for (int i = 0; i <= (int)FQ_AFTER_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sp%d", i ? "," : "", i);
    BAD("after: names more than 32 tasks", "role", "code", "after", many, "prompt", "p");
}

static void test_review_by(void **state)
{
    (void)state;
    run r;
    PARSE(&r, "role", "code", "id", "k", "after", "a", "review_by", "quality", "prompt",
          "build on {{a}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.t.review_by, FQ_ROLE_QUALITY);
    fq_task review;
    assert_int_equal(fq_task_review(&r.t, "k", &review), 0);
    assert_string_equal(review.id, "k.review");
    assert_int_equal(review.role, FQ_ROLE_QUALITY);
    assert_string_equal(review.parents, "[\"k\",\"a\"]");
    assert_non_null(strstr(review.prompt, "build on {{a}}"));
    assert_non_null(strstr(review.prompt, "{{k}}"));
    /* what the review asks names only its parents */
    char err[256];
    assert_int_equal(fq_after_check_placeholders(review.parents, "prompt", review.prompt, err,
                                                 sizeof(err)), 0);
    fq_task_free(&review);
    fq_task_free(&r.t);

    BAD("review_by: must be one of ceo, code, quality, memory, got \"qa\"", "role", "code",
        "review_by", "qa", "prompt", "p");
    char id[FQ_ID_MAX + 1];
    memset(id, 'x', FQ_ID_MAX);
    id[FQ_ID_MAX] = '\0';
    BAD("review_by: the review's id", "role", "code", "id", id, "review_by", "quality",
        "prompt", "p");
}

/* ------------------------------------------------------------------------
 * cache, stream, fallback and the model parameters
 * --------------------------------------------------------------------- */

/* Parses a separate-field submission and returns the task (rc 0 expected). */
#define PARSED(r, ...)                                 \
    do {                                               \
        PARSE((r), __VA_ARGS__);                       \
        if ((r)->rc != 0)                              \
            fail_msg("unexpected error: %s", (r)->err); \
    } while (0)

static void test_cache_and_stream(void **state)
{
    (void)state;
    run r;
    PARSED(&r, "role", "code", "prompt", "p");
    assert_int_equal(r.t.cache, 0);
    assert_int_equal(r.t.stream, 0);
    fq_task_free(&r.t);
    PARSED(&r, "role", "code", "prompt", "p", "cache", "true", "stream", "0");
    assert_int_equal(r.t.cache, 1);
    assert_int_equal(r.t.stream, -1);
    fq_task_free(&r.t);
    PARSED(&r, "role", "code", "prompt", "p", "cache", "false", "stream", "1");
    assert_int_equal(r.t.cache, -1);
    assert_int_equal(r.t.stream, 1);
    fq_task_free(&r.t);
    PARSED(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"cache\":false,\"stream\":true}");
    assert_int_equal(r.t.cache, -1);
    assert_int_equal(r.t.stream, 1);
    fq_task_free(&r.t);
    PARSED(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"cache\":\"1\",\"stream\":null}");
    assert_int_equal(r.t.cache, 1);
    assert_int_equal(r.t.stream, 0);
    fq_task_free(&r.t);

    BAD("cache: must be true or false, got \"yes\"", "role", "code", "prompt", "p", "cache",
        "yes");
    BAD("cache: must be true or false, got \"True\"", "role", "code", "prompt", "p", "cache",
        "True");
    BAD("stream: must be true or false, got \"\"", "role", "code", "prompt", "p", "stream", "");
    BAD("stream: must be true or false, got 1", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"stream\":1}");
    BAD("cache: must be true or false, got a JSON array", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"cache\":[]}");
    /* plan shares the same reading of a boolean */
    OK("role", "ceo", "prompt", "p", "plan", "1");
    BAD("plan: must be true or false, got \"truex\"", "role", "ceo", "prompt", "p", "plan",
        "truex");
}

static void test_fallback_field(void **state)
{
    (void)state;
    run r;
    PARSED(&r, "role", "code", "prompt", "p", "fallback", " grok-3 , grok-3-mini");
    assert_string_equal(r.t.fallback, "grok-3,grok-3-mini");
    fq_task_free(&r.t);
    assert_null(r.t.fallback);
    PARSED(&r, "role", "code", "prompt", "p", "fallback", "");
    assert_string_equal(r.t.fallback, "");
    fq_task_free(&r.t);
    PARSED(&r, "role", "code", "prompt", "p");
    assert_null(r.t.fallback);
    fq_task_free(&r.t);
    PARSED(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"fallback\":[\"gpt-4o\",\"o3\"]}");
    assert_string_equal(r.t.fallback, "gpt-4o,o3");
    fq_task_free(&r.t);
    PARSED(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"fallback\":\"a, b\"}");
    assert_string_equal(r.t.fallback, "a,b");
    fq_task_free(&r.t);
    PARSED(&r, "json", "{\"role\":\"code\",\"prompt\":\"p\",\"fallback\":[]}");
    assert_string_equal(r.t.fallback, "");
    fq_task_free(&r.t);

    BAD("fallback: \"a b\" is not a model name (1 to 63 of A-Z a-z 0-9 . _ : -)", "role",
        "code", "prompt", "p", "fallback", "a b");
    BAD("fallback: names \"a\" more than once", "role", "code", "prompt", "p", "fallback",
        "a,b,a");
    BAD("fallback: element 1 is not a string", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"fallback\":[\"a\",1]}");
    BAD("fallback: must be model names separated by commas, or a JSON array of them", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"fallback\":true}");
}

/* fq_fallback_parse() on a comma list: 0 and *out, or -1 and err. */
static int fallback_of(const char *s, char **out, char *err, size_t errlen)
{
    return fq_fallback_parse("FLEETQ_ROLE_CODE_FALLBACK", s, strlen(s), NULL, out, err, errlen);
}

static void test_fallback_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } good[] = {
        {"", ""},
        {" \t ", ""},
        {"grok-3", "grok-3"},
        {" grok-3 ,\tgrok-3-mini ", "grok-3,grok-3-mini"},
        {"a.b_c:d-9,e", "a.b_c:d-9,e"},
        {"a,b,c,d", "a,b,c,d"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *out = NULL;
        if (fallback_of(good[i].in, &out, err, sizeof(err)) != 0)
            fail_msg("\"%s\": %s", good[i].in, err);
        assert_string_equal(out, good[i].out);
        free(out);
    }

    static const struct {
        const char *in;
        const char *err;
    } bad[] = {
        {"a,,b", "FLEETQ_ROLE_CODE_FALLBACK: \"\" is not a model name"},
        {"a,", "FLEETQ_ROLE_CODE_FALLBACK: \"\" is not a model name"},
        {",a", "FLEETQ_ROLE_CODE_FALLBACK: \"\" is not a model name"},
        {"a/b", "FLEETQ_ROLE_CODE_FALLBACK: \"a/b\" is not a model name"},
        {"gr\xC3\xA9k", "FLEETQ_ROLE_CODE_FALLBACK: \"gr\xC3\xA9k\" is not a model name"},
        {"a, a", "FLEETQ_ROLE_CODE_FALLBACK: names \"a\" more than once"},
        {"a,b,c,d,e", "FLEETQ_ROLE_CODE_FALLBACK: names more than 4 models"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = (char *)"untouched";
        assert_int_equal(fallback_of(bad[i].in, &out, err, sizeof(err)), -1);
        assert_null(out);
        if (strstr(err, bad[i].err) == NULL)
            fail_msg("\"%s\": \"%s\" does not contain \"%s\"", bad[i].in, err, bad[i].err);
    }

    /* names of 63 characters pass, 64 do not */
    char name[FQ_MODEL_NAME_MAX + 2];
    memset(name, 'm', sizeof(name));
    name[FQ_MODEL_NAME_MAX] = '\0';
    char *out = NULL;
    assert_int_equal(fallback_of(name, &out, err, sizeof(err)), 0);
    assert_string_equal(out, name);
    free(out);
    name[FQ_MODEL_NAME_MAX] = 'm';
    name[FQ_MODEL_NAME_MAX + 1] = '\0';
    assert_int_equal(fallback_of(name, &out, err, sizeof(err)), -1);

    /* no field name given: the error says fallback */
    assert_int_equal(fq_fallback_parse(NULL, "a b", 3, NULL, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "fallback: \"a b\""));
    /* the length bounds the text */
    assert_int_equal(fq_fallback_parse("f", "a,b c", 3, NULL, &out, err, sizeof(err)), 0);
    assert_string_equal(out, "a,b");
    free(out);
}

/* The params a separate-field submission with one more field gives. */
static void params_are(const char *name, const char *value, const char *want)
{
    run r;
    PARSE(&r, "role", "code", "prompt", "p", name, value);
    if (r.rc != 0)
        fail_msg("%s=%s: %s", name, value, r.err);
    if (r.t.params == NULL || strcmp(r.t.params, want) != 0)
        fail_msg("%s=%s gave %s, not %s", name, value, r.t.params ? r.t.params : "NULL", want);
    fq_task_free(&r.t);
}

/* The params a `json` submission with one more key (its JSON text) gives. */
static void json_params_are(const char *name, const char *json, const char *want)
{
    char doc[1024];
    run r;
    snprintf(doc, sizeof(doc), "{\"role\":\"code\",\"prompt\":\"p\",\"%s\":%s}", name, json);
    PARSE(&r, "json", doc);
    if (r.rc != 0)
        fail_msg("%s: %s", doc, r.err);
    if (r.t.params == NULL || strcmp(r.t.params, want) != 0)
        fail_msg("%s gave %s, not %s", doc, r.t.params ? r.t.params : "NULL", want);
    fq_task_free(&r.t);
}

static void test_model_param_fields(void **state)
{
    (void)state;
    run r;
    PARSED(&r, "role", "code", "prompt", "p");
    assert_null(r.t.params);
    fq_task_free(&r.t);
    /* the field list carries the parameters in their own order */
    assert_non_null(strstr(fq_task_fields, FQ_MODEL_PARAM_NAMES ", json"));

    params_are("reasoning_effort", "high", "{\"reasoning_effort\":\"high\"}");
    params_are("reasoning_effort", "minimal", "{\"reasoning_effort\":\"minimal\"}");
    json_params_are("reasoning_effort", "\"low\"", "{\"reasoning_effort\":\"low\"}");
    params_are("top_p", "0.9", "{\"top_p\":0.9}");
    params_are("top_p", "0", "{\"top_p\":0}");
    json_params_are("top_p", "1", "{\"top_p\":1}");
    params_are("seed", "-42", "{\"seed\":-42}");
    params_are("seed", "9007199254740992", "{\"seed\":9007199254740992}");
    json_params_are("seed", "1234567890123", "{\"seed\":1234567890123}");
    json_params_are("seed", "-9007199254740992", "{\"seed\":-9007199254740992}");
    params_are("stop", "END", "{\"stop\":\"END\"}");
    params_are("stop", "[\"a\", \"\\n\\n\"]", "{\"stop\":[\"a\",\"\\n\\n\"]}");
    params_are("stop", "[1,2]", "{\"stop\":\"[1,2]\"}");   /* not strings: the text itself */
    params_are("stop", "[oops", "{\"stop\":\"[oops\"}");
    params_are("stop", " [ \"\\u00e9\" ,\"\\\"q\\\"\" ] ", "{\"stop\":[\"\xC3\xA9\",\"\\\"q\\\"\"]}");
    params_are("stop", "[\"bad \\x\"]", "{\"stop\":\"[\\\"bad \\\\x\\\"]\"}");
    params_are("stop", "[\"a\"] x", "{\"stop\":\"[\\\"a\\\"] x\"}");
    params_are("stop", "[\"a\",]", "{\"stop\":\"[\\\"a\\\",]\"}");
    json_params_are("stop", "\"###\"", "{\"stop\":\"###\"}");
    json_params_are("stop", "[\"x\",\"y\",\"z\",\"w\"]", "{\"stop\":[\"x\",\"y\",\"z\",\"w\"]}");
    json_params_are("stop", "\"[1]\"", "{\"stop\":\"[1]\"}");
    params_are("presence_penalty", "-1.5", "{\"presence_penalty\":-1.5}");
    params_are("frequency_penalty", "2", "{\"frequency_penalty\":2}");
    json_params_are("presence_penalty", "-2", "{\"presence_penalty\":-2}");
    json_params_are("frequency_penalty", "0.25", "{\"frequency_penalty\":0.25}");
    params_are("response_format", "text", "{\"response_format\":{\"type\":\"text\"}}");
    params_are("response_format", "json_object",
               "{\"response_format\":{\"type\":\"json_object\"}}");
    params_are("response_format", "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}",
               "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}");
    json_params_are("response_format", "\"json_object\"",
                    "{\"response_format\":{\"type\":\"json_object\"}}");
    json_params_are("response_format", "{\"type\":\"json_object\"}",
                    "{\"response_format\":{\"type\":\"json_object\"}}");

    /* all of them, given in another order, come out in FQ_MODEL_PARAM_NAMES's */
    PARSED(&r, "role", "code", "prompt", "p", "response_format", "text", "stop", "x",
           "frequency_penalty", "1", "presence_penalty", "-1", "seed", "7", "top_p", "0.5",
           "reasoning_effort", "medium");
    assert_string_equal(r.t.params,
                        "{\"reasoning_effort\":\"medium\",\"top_p\":0.5,\"seed\":7,\"stop\":\"x\","
                        "\"presence_penalty\":-1,\"frequency_penalty\":1,"
                        "\"response_format\":{\"type\":\"text\"}}");
    fq_task_free(&r.t);
}

static void test_model_param_rules(void **state)
{
    (void)state;
    BAD("reasoning_effort: must be minimal, low, medium or high, got \"max\"", "role", "code",
        "prompt", "p", "reasoning_effort", "max");
    BAD("reasoning_effort: must be minimal, low, medium or high, got \"High\"", "role", "code",
        "prompt", "p", "reasoning_effort", "High");
    BAD("reasoning_effort: must be minimal, low, medium or high, got 3", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"reasoning_effort\":3}");
    BAD("top_p: must be a number from 0 to 1 (like 0.9), got \"1.5\"", "role", "code", "prompt",
        "p", "top_p", "1.5");
    BAD("top_p: must be a number from 0 to 1 (like 0.9), got \"-0.1\"", "role", "code",
        "prompt", "p", "top_p", "-0.1");
    BAD("top_p: must be a number from 0 to 1 (like 0.9), got \"1e-3\"", "role", "code",
        "prompt", "p", "top_p", "1e-3");
    BAD("top_p: must be a number from 0 to 1 (like 0.9), got true", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"top_p\":true}");
    BAD("seed: must be an integer from -9007199254740992 to 9007199254740992, got \"1.5\"",
        "role", "code", "prompt", "p", "seed", "1.5");
    BAD("seed: must be an integer from -9007199254740992 to 9007199254740992, "
        "got \"9007199254740993\"", "role", "code", "prompt", "p", "seed", "9007199254740993");
    BAD("seed: must be an integer", "role", "code", "prompt", "p", "seed", "");
    BAD("seed: must be an integer from -9007199254740992 to 9007199254740992, got 1e+300",
        "json", "{\"role\":\"code\",\"prompt\":\"p\",\"seed\":1e300}");
    BAD("seed: must be an integer", "json", "{\"role\":\"code\",\"prompt\":\"p\",\"seed\":0.5}");
    BAD("presence_penalty: must be a number from -2 to 2 (like 0.5), got \"2.5\"", "role",
        "code", "prompt", "p", "presence_penalty", "2.5");
    BAD("frequency_penalty: must be a number from -2 to 2 (like 0.5), got \"--1\"", "role",
        "code", "prompt", "p", "frequency_penalty", "--1");
    BAD("frequency_penalty: must be a number from -2 to 2 (like 0.5), got -3", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"frequency_penalty\":-3}");
    BAD("presence_penalty: must be a number", "role", "code", "prompt", "p",
        "presence_penalty", "-");

    BAD("stop: must be a non-empty string of at most 200 bytes, or a JSON array of 1 to 4 of "
        "them, got \"\"", "role", "code", "prompt", "p", "stop", "");
    char long_stop[STOP_TEST_BYTES + 2];
    memset(long_stop, 's', sizeof(long_stop));
    long_stop[STOP_TEST_BYTES] = '\0';
    OK("role", "code", "prompt", "p", "stop", long_stop);
    long_stop[STOP_TEST_BYTES] = 's';
    long_stop[STOP_TEST_BYTES + 1] = '\0';
    BAD("stop: must be a non-empty string of at most 200 bytes", "role", "code", "prompt", "p",
        "stop", long_stop);
    BAD("stop: a list must hold 1 to 4 stop sequences, got 0", "role", "code", "prompt", "p",
        "stop", "[]");
    BAD("stop: a list must hold 1 to 4 stop sequences, got 5", "role", "code", "prompt", "p",
        "stop", "[\"a\",\"b\",\"c\",\"d\",\"e\"]");
    BAD("stop: element 1 must be 1 to 200 bytes, got \"\"", "role", "code", "prompt", "p",
        "stop", "[\"a\",\"\"]");
    BAD("stop: contains \\u0000 at byte", "role", "code", "prompt", "p", "stop",
        "[\"a\\u0000b\"]");
    BAD("stop: not valid JSON (error near byte", "role", "code", "prompt", "p", "stop",
        "[\"\\ud800\"]");
    BAD("stop: element 0 must be a string, got a JSON number", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"stop\":[1]}");
    BAD("stop: must be a non-empty string of at most 200 bytes, or a JSON array of 1 to 4 of "
        "them, got a JSON object", "json", "{\"role\":\"code\",\"prompt\":\"p\",\"stop\":{}}");

    BAD("response_format: must be text, json_object or a JSON object with a string \"type\" "
        "(like {\"type\":\"json_schema\",\"json_schema\":{...}}), got \"json\"", "role", "code",
        "prompt", "p", "response_format", "json");
    BAD("response_format: not valid JSON (error near byte 7); give text, json_object", "role", "code", "prompt",
        "p", "response_format", "{\"type\":");
    BAD("response_format: must be text, json_object or a JSON object with a string \"type\" "
        "(like {\"type\":\"json_schema\",\"json_schema\":{...}}); its \"type\" is missing",
        "role", "code", "prompt", "p", "response_format", "{\"schema\":{}}");
    BAD("; its \"type\" is a JSON number", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"response_format\":{\"type\":1}}");
    BAD("; its \"type\" is empty", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"response_format\":{\"type\":\"\"}}");
    BAD("response_format: must be text, json_object or a JSON object", "json",
        "{\"role\":\"code\",\"prompt\":\"p\",\"response_format\":[\"text\"]}");
    BAD("response_format: contains \\u0000", "role", "code", "prompt", "p", "response_format",
        "{\"type\":\"a\\u0000\"}");
}

static void test_new_fields_hash_roundtrip(void **state)
{
    (void)state;
    run r;
    PARSED(&r, "role", "code", "prompt", "p", "cache", "false", "stream", "true", "fallback",
           "grok-3,grok-3-mini", "seed", "3", "stop", "[\"a\",\"b\"]", "response_format",
           "json_object");
    roundtrip(&r.t);
    fq_argv a;
    fq_argv_init(&a);
    fq_field f[32];
    size_t n;
    assert_int_equal(fq_task_to_hash(&r.t, &a), 0);
    to_fields(&a, f, &n);
    const fq_field *x = fq_fields_find(f, n, "cache");
    assert_non_null(x);
    assert_memory_equal(x->value, "0", 2);
    x = fq_fields_find(f, n, "stream");
    assert_non_null(x);
    assert_memory_equal(x->value, "1", 2);
    x = fq_fields_find(f, n, "params");
    assert_non_null(x);
    assert_string_equal(x->value, "{\"seed\":3,\"stop\":[\"a\",\"b\"],"
                                  "\"response_format\":{\"type\":\"json_object\"}}");
    fq_argv_free(&a);
    fq_task_free(&r.t);

    /* an empty fallback is kept: it turns the role's off */
    PARSED(&r, "role", "code", "prompt", "p", "fallback", "", "cache", "1");
    roundtrip(&r.t);
    fq_argv_init(&a);
    assert_int_equal(fq_task_to_hash(&r.t, &a), 0);
    to_fields(&a, f, &n);
    x = fq_fields_find(f, n, "fallback");
    assert_non_null(x);
    assert_int_equal(x->value_len, 0);
    assert_null(fq_fields_find(f, n, "stream"));
    assert_null(fq_fields_find(f, n, "params"));
    fq_argv_free(&a);
    fq_task_free(&r.t);

    /* what the hash holds is read back as it is; a bad flag is refused */
    fq_task t;
    char err[256];
    fq_field h[5] = {
        {"role", 4, "code", 4},
        {"prompt", 6, "hi", 2},
        {"params", 6, "{\"top_p\":1}", 11},
        {"cache", 5, "1", 1},
        {"stream", 6, "0", 1},
    };
    assert_int_equal(fq_task_from_hash(h, 5, &t, err, sizeof(err)), 0);
    assert_string_equal(t.params, "{\"top_p\":1}");
    assert_null(t.fallback);
    assert_int_equal(t.cache, 1);
    assert_int_equal(t.stream, -1);
    fq_task_free(&t);
    h[4].value = "yes";
    h[4].value_len = 3;
    assert_int_equal(fq_task_from_hash(h, 5, &t, err, sizeof(err)), -1);
    assert_string_equal(err, "stream: must be 1 or 0 in the task hash, got \"yes\"");
    assert_null(t.params);
}

/* The note on a limit of attempts (task_hash.c): nothing while the limit
 * is what was asked; a requeue's attempts made and a 404 fallback's
 * raise, each said, from the hash's fields. */
static void check_note(long long max, long long allowance, long long requeues,
                       long long at_requeue, long long fallbacks, const char *want)
{
    fq_attempt_limit l;
    char note[160];
    fq_attempt_limit_read(max, allowance, requeues, at_requeue, fallbacks, &l);
    fq_attempt_limit_note(&l, note, sizeof(note));
    assert_string_equal(note, want);
}

static void test_attempt_limit(void **state)
{
    (void)state;
    fq_attempt_limit l;
    /* never requeued: what was asked is max_attempts less the fallbacks' */
    fq_attempt_limit_read(4, -1, -1, -1, -1, &l);
    assert_int_equal(l.asked, 4);
    assert_int_equal(l.requeues, 0);
    assert_int_equal(l.at_requeue, 0);
    assert_int_equal(l.by_fallback, 0);
    check_note(4, -1, -1, -1, -1, "");
    check_note(2, -1, -1, -1, 1, "1 asked, +1 for a fallback after a 404");
    check_note(5, -1, -1, -1, 3, "2 asked, +3 for fallbacks after a 404");
    /* requeued after 1 attempt of 4: the report's "2 of 5" */
    fq_attempt_limit_read(5, 4, 1, 1, -1, &l);
    assert_int_equal(l.asked, 4);
    assert_int_equal(l.requeues, 1);
    assert_int_equal(l.at_requeue, 1);
    check_note(5, 4, 1, 1, -1, "4 asked, +1 made before the requeue");
    check_note(9, 2, 3, 6, 1, "2 asked, +6 made before the last of 3 requeues, +1 for a "
                              "fallback after a 404");
    /* requeued before a call was made (cancelled while delayed): as asked */
    check_note(4, 4, 1, 0, -1, "");
    /* a hash requeued before attempts_at_requeue was kept */
    check_note(7, 4, 1, -1, -1, "4 asked, +3 made before the requeue");
    /* the most a task may have caps it */
    check_note(100, 40, 1, 90, -1, "40 asked, +90 made before the requeue, at most 100");
    /* no max_attempts: nothing to explain */
    check_note(-1, -1, -1, -1, -1, "");
    /* cut to the buffer, terminated */
    fq_attempt_limit_read(5, 4, 1, 1, -1, &l);
    char small[8];
    fq_attempt_limit_note(&l, small, sizeof(small));
    assert_string_equal(small, "4 asked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attempt_limit),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_priority_parse),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_unknown_and_duplicate_fields),
        cmocka_unit_test(test_role_rules),
        cmocka_unit_test(test_prompt_rules),
        cmocka_unit_test(test_messages_rules),
        cmocka_unit_test(test_priority_rules),
        cmocka_unit_test(test_integer_rules),
        cmocka_unit_test(test_temperature_rules),
        cmocka_unit_test(test_id_rules),
        cmocka_unit_test(test_model_and_system_rules),
        cmocka_unit_test(test_utf8_rules),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_shown_values_are_bounded),
        cmocka_unit_test(test_role_and_id_survive_rejection),
        cmocka_unit_test(test_json_form),
        cmocka_unit_test(test_empty_submission),
        cmocka_unit_test(test_hash_roundtrip),
        cmocka_unit_test(test_from_hash),
        cmocka_unit_test(test_after),
        cmocka_unit_test(test_review_by),
        cmocka_unit_test(test_cache_and_stream),
        cmocka_unit_test(test_fallback_field),
        cmocka_unit_test(test_fallback_parse),
        cmocka_unit_test(test_model_param_fields),
        cmocka_unit_test(test_model_param_rules),
        cmocka_unit_test(test_new_fields_hash_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
