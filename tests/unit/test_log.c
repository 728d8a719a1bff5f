/* test_log.c -- unit tests for JSON-lines logging (common/log.c).
 *
 * stderr is pointed at a temporary file (dup2) around each batch of log
 * calls; the captured lines are parsed back with cJSON, so every test also
 * checks that the output is valid JSON. Secret tests hide a key in every
 * place a caller could put it (message, value, field name, event, across
 * the cut of a long value) and check that no line carries it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"

#define KEY "xai-Zq8Test-KeyNotReal-0123456789-abcdefB14o"
#define KEY_REDACTED "xai-\xE2\x80\xA6" "B14o"

/* ------------------------------------------------------------------------
 * Capturing stderr
 * --------------------------------------------------------------------- */

static int saved_fd = -1;
static FILE *cap_file;

static void capture_begin(void)
{
    cap_file = tmpfile();
    assert_non_null(cap_file);
    fflush(stderr);
    saved_fd = dup(2);
    assert_true(saved_fd >= 0);
    assert_int_equal(dup2(fileno(cap_file), 2), 2);
}

/* Restores stderr and returns everything written meanwhile (malloc'd). */
static char *capture_end(void)
{
    dup2(saved_fd, 2);
    close(saved_fd);
    saved_fd = -1;
    fseek(cap_file, 0, SEEK_END);
    long len = ftell(cap_file);
    rewind(cap_file);
    char *s = malloc((size_t)len + 1);
    assert_non_null(s);
    size_t got = fread(s, 1, (size_t)len, cap_file);
    s[got] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return s;
}

/* Parses one line (which must end with exactly one '\n'). */
static cJSON *parse_line(const char *line)
{
    size_t len = strlen(line);
    assert_true(len > 0);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (j == NULL)
        fail_msg("not JSON: %.300s", line);
    assert_true(cJSON_IsObject(j));
    return j;
}

static const char *jstr(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!cJSON_IsString(v))
        fail_msg("field %s missing or not a string", name);
    return v->valuestring;
}

static int setup(void **state)
{
    fq_log_clear_secrets();
    fq_log_init("fleetq-test", FQ_LOG_INFO);
    return 0;
}

/* ------------------------------------------------------------------------
 * Tests
 * --------------------------------------------------------------------- */

static void test_level_parse(void **state)
{
    assert_int_equal(fq_log_level_parse("debug"), FQ_LOG_DEBUG);
    assert_int_equal(fq_log_level_parse("info"), FQ_LOG_INFO);
    assert_int_equal(fq_log_level_parse("warn"), FQ_LOG_WARN);
    assert_int_equal(fq_log_level_parse("warning"), FQ_LOG_WARN);
    assert_int_equal(fq_log_level_parse("error"), FQ_LOG_ERROR);
    assert_int_equal(fq_log_level_parse("ERROR"), FQ_LOG_ERROR);
    assert_int_equal(fq_log_level_parse("Info"), FQ_LOG_INFO);
    assert_int_equal(fq_log_level_parse("verbose"), -1);
    assert_int_equal(fq_log_level_parse(""), -1);
    assert_int_equal(fq_log_level_parse("info "), -1);
    assert_int_equal(fq_log_level_parse(NULL), -1);
}

static void test_line_shape(void **state)
{
    capture_begin();
    fq_log(FQ_LOG_INFO, "call.done", FQ_LS, "task", "t-1", FQ_LI, "latency_ms", (int64_t)42,
           FQ_LI, "big", (int64_t)INT64_MIN, FQ_LD, "ratio", 0.1, FQ_LS, "none", (const char *)NULL,
           FQ_LD, "nan", NAN, FQ_LD, "inf", -INFINITY, FQ_LEND);
    char *out = capture_end();

    cJSON *j = parse_line(out);
    const char *ts = jstr(j, "ts");
    /* 2026-11-23T12:00:00.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(jstr(j, "level"), "info");
    assert_string_equal(jstr(j, "prog"), "fleetq-test");
    assert_string_equal(jstr(j, "event"), "call.done");
    assert_string_equal(jstr(j, "task"), "t-1");
    assert_int_equal(cJSON_GetObjectItem(j, "latency_ms")->valuedouble, 42);
    assert_true(cJSON_GetObjectItem(j, "ratio")->valuedouble == 0.1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "inf")));
    assert_null(cJSON_GetObjectItem(j, "truncated"));
    /* order: ts, level, prog, event first */
    assert_non_null(strstr(out, "\",\"level\":\"info\",\"prog\":\"fleetq-test\",\"event\":\"call.done\","));
    assert_non_null(strstr(out, "\"big\":-9223372036854775808"));
    assert_non_null(strstr(out, "\"ratio\":0.1,"));
    cJSON_Delete(j);
    free(out);
}

static void test_levels(void **state)
{
    capture_begin();
    fq_log(FQ_LOG_DEBUG, "hidden", FQ_LEND);
    fq_log(FQ_LOG_WARN, "shown.warn", FQ_LEND);
    fq_log_set_level(FQ_LOG_ERROR);
    fq_log(FQ_LOG_WARN, "hidden2", FQ_LEND);
    fq_log(FQ_LOG_ERROR, "shown.error", FQ_LEND);
    fq_log_set_level(FQ_LOG_DEBUG);
    fq_logf(FQ_LOG_DEBUG, "shown.debug", "x=%d", 1);
    char *out = capture_end();
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "\"level\":\"warn\",\"prog\":\"fleetq-test\",\"event\":\"shown.warn\"}\n"));
    assert_non_null(strstr(out, "\"level\":\"error\",\"prog\":\"fleetq-test\",\"event\":\"shown.error\"}"));
    assert_non_null(strstr(out, "\"event\":\"shown.debug\",\"msg\":\"x=1\"}"));
    free(out);

    fq_log_set_level(FQ_LOG_WARN);
    assert_false(fq_log_enabled(FQ_LOG_INFO));
    assert_true(fq_log_enabled(FQ_LOG_WARN));
    assert_true(fq_log_enabled(FQ_LOG_ERROR));
    fq_log_set_level(FQ_LOG_INFO);
}

static void test_escaping(void **state)
{
    capture_begin();
    fq_log(FQ_LOG_INFO, "esc\"ape", FQ_LS, "na\"me", "a\"b\\c\nd\x01\x7f\xff \xC3\xA9 \xC0\xAF\xED\xA0\x80/",
           FQ_LEND);
    char *out = capture_end();
    cJSON *j = parse_line(out);
    assert_string_equal(jstr(j, "event"), "esc\"ape");
    assert_string_equal(jstr(j, "na\"me"),
                        "a\"b\\c\nd\x01\x7f\xEF\xBF\xBD \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD"
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD/");
    assert_non_null(strstr(out, "\\u0001"));
    assert_non_null(strstr(out, "\\u007f"));
    assert_non_null(strstr(out, "\\u000a"));
    cJSON_Delete(j);
    free(out);
}

static void test_logf(void **state)
{
    char big[3000];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_begin();
    fq_logf(FQ_LOG_WARN, "fmt", "n=%d s=%s", 5, "q\"");
    fq_logf(FQ_LOG_WARN, "fmt.big", "%s|%s", big, "end");
    char *out = capture_end();
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    char *first = strndup(out, (size_t)(nl - out + 1));
    cJSON *a = parse_line(first);
    free(first);
    assert_string_equal(jstr(a, "msg"), "n=5 s=q\"");
    cJSON *b = parse_line(nl + 1);
    assert_int_equal(strlen(jstr(b, "msg")), 2999 + 4);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(out);
}

static void test_secret_everywhere(void **state)
{
    fq_log_add_secret(KEY);
    capture_begin();
    fq_logf(FQ_LOG_ERROR, "auth", "sending Authorization: Bearer %s now", KEY);
    fq_log(FQ_LOG_INFO, "x", FQ_LS, "header", "Bearer " KEY, FQ_LEND);
    fq_log(FQ_LOG_INFO, "x", FQ_LS, KEY, "as a name", FQ_LEND);
    fq_log(FQ_LOG_INFO, "event-" KEY, FQ_LEND);
    fq_log(FQ_LOG_INFO, "x", FQ_LS, "twice", KEY KEY "|" KEY, FQ_LEND);
    char *out = capture_end();

    assert_null(strstr(out, KEY));
    assert_null(strstr(out, "TestKeyNotReal"));
    int lines = 0;
    for (char *p = out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1, lines++) {
        char *line = strndup(p, (size_t)(nl - p + 1));
        cJSON_Delete(parse_line(line));
        free(line);
    }
    assert_int_equal(lines, 5);
    assert_non_null(strstr(out, "Bearer " KEY_REDACTED " now"));
    assert_non_null(strstr(out, "\"" KEY_REDACTED "\":\"as a name\""));
    assert_non_null(strstr(out, KEY_REDACTED KEY_REDACTED "|" KEY_REDACTED));
    free(out);

    /* Once cleared the secret is no longer scrubbed: the scrub really is
     * what kept it out above. */
    fq_log_clear_secrets();
    capture_begin();
    fq_log(FQ_LOG_INFO, "x", FQ_LS, "v", KEY, FQ_LEND);
    out = capture_end();
    assert_non_null(strstr(out, KEY));
    free(out);
}

static void test_secret_rules(void **state)
{
    /* short and NULL secrets are ignored */
    fq_log_add_secret(NULL);
    fq_log_add_secret("short");
    /* a secret of 8..11 bytes redacts to the ellipsis alone */
    fq_log_add_secret("12345678");
    /* a secret with characters JSON escapes */
    fq_log_add_secret("ab\"c\\defghij");
    capture_begin();
    fq_log(FQ_LOG_INFO, "x", FQ_LS, "a", "short 12345678 ab\"c\\defghij", FQ_LEND);
    char *out = capture_end();
    cJSON *j = parse_line(out);
    assert_string_equal(jstr(j, "a"), "short \xE2\x80\xA6 ab\"c\xE2\x80\xA6ghij");
    assert_null(strstr(out, "12345678"));
    assert_null(strstr(out, "ab\\\"c\\\\defghij"));
    cJSON_Delete(j);
    free(out);

    /* at most four: adding more drops the oldest */
    fq_log_clear_secrets();
    const char *keys[5] = {"secret-key-one", "secret-key-two", "secret-key-three",
                           "secret-key-four", "secret-key-five"};
    for (int i = 0; i < 5; i++)
        fq_log_add_secret(keys[i]);
    fq_log_add_secret("secret-key-five");   /* a repeat takes no slot */
    capture_begin();
    for (int i = 0; i < 5; i++)
        fq_log(FQ_LOG_INFO, "x", FQ_LS, "k", keys[i], FQ_LEND);
    out = capture_end();
    assert_non_null(strstr(out, "secret-key-one"));
    for (int i = 1; i < 5; i++)
        assert_null(strstr(out, keys[i]));
    free(out);
    fq_log_clear_secrets();
}

static void test_truncation(void **state)
{
    size_t n = 200 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    /* A key straddling every plausible cut point. */
    for (size_t at = 100; at + sizeof(KEY) < n; at += 1000) {
        memcpy(big + at, KEY, sizeof(KEY) - 1);
    }
    memcpy(big + 8192 - 10, KEY, sizeof(KEY) - 1);
    memcpy(big + 1024 - 10, KEY, sizeof(KEY) - 1);
    fq_log_add_secret(KEY);
    capture_begin();
    fq_log(FQ_LOG_INFO, "big", FQ_LS, "v", big, FQ_LS, "w", big, FQ_LI, "n", (int64_t)7, FQ_LEND);
    char *out = capture_end();
    assert_true(strlen(out) <= 64 * 1024);
    cJSON *j = parse_line(out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    assert_true(strlen(jstr(j, "v")) > 100);
    assert_true(strlen(jstr(j, "v")) < n);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valuedouble, 7);
    /* no piece of the key beyond what the redacted form shows */
    assert_null(strstr(out, "xai-Zq8T"));
    cJSON_Delete(j);
    free(out);

    /* cutting never splits an escape or a UTF-8 character */
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 3 == 0) ? '\n' : (i % 3 == 1) ? '\xC3' : '\xA9';
    capture_begin();
    fq_log(FQ_LOG_INFO, "big", FQ_LS, "v", big, FQ_LEND);
    out = capture_end();
    j = parse_line(out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    cJSON_Delete(j);
    free(out);
    free(big);
    fq_log_clear_secrets();
}

/* Lines from several processes sharing one pipe arrive whole. */
static void test_one_write_per_line(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            char v[3000];
            memset(v, 'a' + k, sizeof(v) - 1);
            v[sizeof(v) - 1] = '\0';
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
            for (int i = 0; i < 200; i++)
                fq_log(FQ_LOG_INFO, "race", FQ_LI, "kid", (int64_t)k, FQ_LS, "v", v, FQ_LEND);
            _exit(0);
        }
    }
    close(fds[1]);
    size_t cap = 4 << 20, len = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    ssize_t r;
    while ((r = read(fds[0], all + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    all[len] = '\0';
    close(fds[0]);
    for (int k = 0; k < 4; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    int lines = 0;
    for (char *p = all, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1, lines++) {
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
        if (j == NULL)
            fail_msg("interleaved line %d", lines);
        cJSON_Delete(j);
    }
    assert_int_equal(lines, 800);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_level_parse, setup),
        cmocka_unit_test_setup(test_line_shape, setup),
        cmocka_unit_test_setup(test_levels, setup),
        cmocka_unit_test_setup(test_escaping, setup),
        cmocka_unit_test_setup(test_logf, setup),
        cmocka_unit_test_setup(test_secret_everywhere, setup),
        cmocka_unit_test_setup(test_secret_rules, setup),
        cmocka_unit_test_setup(test_truncation, setup),
        cmocka_unit_test_setup(test_one_write_per_line, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
