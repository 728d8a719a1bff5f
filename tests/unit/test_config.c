/* test_config.c -- unit tests for configuration from the environment
 * (common/config.c).
 *
 * Each test starts from an environment with every fleetq variable unset,
 * sets the ones it is about with setenv(), and loads. Key files are written
 * into a private mkdtemp() directory that is removed at the end. Every
 * failing case also checks the shape of the message: one line, starting
 * with the variable's name, never holding the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cost.h"
#include "log.h"

#define KEY "xai-Test-OnlyKey-0123456789-abcdefghijklm-nopqrstuvwxyz-ABCDEFGHIJKLM-NOPQRSTUVWXYZ"

static const char *const all_vars[] = {
    "REDIS_URL", "XAI_API_KEY", "GROK_API_KEY", "XAI_API_KEY_FILE", "GROK_API_KEY_FILE",
    "XAI_BASE_URL", "FLEETQ_DB", "PORT", "FLEETQ_HTTP_PORT", "GROK_RATE_LIMIT_RPM",
    "GROK_RATE_LIMIT_RPH", "GROK_RATE_LIMIT_TPM", "FLEETQ_MAX_INFLIGHT", "ENABLE_RATE_LIMITING",
    "FLEETQ_RATE_BURST", "DAILY_BUDGET_USD", "MAX_TOKENS_DEFAULT", "REQUEST_TIMEOUT",
    "GROK_MAX_RETRIES", "FLEETQ_LEASE_SECONDS", "FLEETQ_GRACE_SECONDS", "FLEETQ_ON_BUDGET",
    "FLEETQ_LOG_LEVEL", "FLEETQ_MAX_SUBMISSION_BYTES", "FLEETQ_REASONING_RESERVE",
    "FLEETQ_BACKOFF_BASE_MS", "FLEETQ_BACKOFF_MAX_MS", "FLEETQ_PRICES", "FLEETQ_STREAM",
    "FLEETQ_ADAPTIVE", "FLEETQ_RATE_WINDOW_MS", "FLEETQ_FREEZE_MS", "FLEETQ_BREAKER_THRESHOLD",
    "FLEETQ_BREAKER_COOLDOWN_MS", "FLEETQ_PAUSE_PROBE_SECONDS", "REDIS_PASSWORD_FILE",
    "FLEETQ_REDIS_CA_FILE", "FLEETQ_REDIS_CERT_FILE", "FLEETQ_REDIS_KEY_FILE",
    "FLEETQ_REDIS_TLS_VERIFY",
};
static const char *const role_upper[] = {"CEO", "CODE", "QUALITY", "MEMORY"};
static const char *const role_suffix[] = {"MODEL", "SYSTEM", "PRIORITY", "SHARE", "RESERVE"};

static char tmpdir[64];

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
        unsetenv(all_vars[i]);
    for (int r = 0; r < 4; r++) {
        for (int s = 0; s < 4; s++) {
            char name[64];
            snprintf(name, sizeof(name), "FLEETQ_ROLE_%s_%s", role_upper[r], role_suffix[s]);
            unsetenv(name);
        }
    }
}

static int setup(void **state)
{
    clear_env();
    return 0;
}

static int group_setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fleetq-test-config.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[320];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

/* Writes a file in the temp dir; returns its path (static buffer). */
static const char *write_file(const char *name, const char *content)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

typedef struct loaded {
    fq_config cfg;
    int rc;
    char err[512];
} loaded;

static void load(loaded *l, unsigned needs)
{
    memset(l->err, 0, sizeof(l->err));
    l->rc = fq_config_load(&l->cfg, needs, l->err, sizeof(l->err));
}

/* Loads, expects failure, and checks the message: one line, starting with
 * var, containing want, never the key. */
static void expect_error(unsigned needs, const char *var, const char *want)
{
    loaded l;
    load(&l, needs);
    if (l.rc == 0)
        fail_msg("loaded; expected an error from %s containing: %s", var, want);
    if (strncmp(l.err, var, strlen(var)) != 0)
        fail_msg("error \"%s\" does not start with %s", l.err, var);
    if (strstr(l.err, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", l.err, want);
    assert_null(strchr(l.err, '\n'));
    assert_null(strstr(l.err, KEY));
    assert_null(strstr(l.err, "TestOnlyKey"));
    assert_null(l.cfg.api_key);   /* nothing left to free */
    fq_config_free(&l.cfg);
}

/* Sets var=value and expects an error from it. */
static void bad(const char *var, const char *value, const char *want)
{
    setenv(var, value, 1);
    expect_error(0, var, want);
    unsetenv(var);
}

/* Sets var=value and expects a successful load (freed by the caller). */
static void good(loaded *l, const char *var, const char *value)
{
    setenv(var, value, 1);
    load(l, 0);
    if (l->rc != 0)
        fail_msg("%s=%s: %s", var, value, l->err);
    unsetenv(var);
}

/* ------------------------------------------------------------------------
 * Defaults
 * --------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    loaded l;
    load(&l, 0);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    fq_config *c = &l.cfg;
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->redis_port, 6379);
    assert_int_equal(c->redis_db, 0);
    assert_string_equal(c->redis_user, "");
    assert_string_equal(c->redis_password, "");
    assert_null(c->api_key);
    assert_string_equal(c->api_key_file, "");
    assert_string_equal(c->base_url, "https://api.x.ai/v1");
    assert_string_equal(c->db_path, "./fleetq.db");
    assert_int_equal(c->http_port, 8080);
    assert_int_equal(c->rate_limit_rpm, 480);
    assert_int_equal(c->rate_limit_rph, 0);
    assert_int_equal(c->rate_limit_tpm, 0);
    assert_int_equal(c->max_inflight, 0);
    assert_int_equal(c->rate_limiting, 1);
    assert_int_equal(c->rate_burst, 1);
    assert_int_equal(c->daily_budget_ticks, 50 * FQ_TICKS_PER_USD);
    assert_int_equal(c->max_tokens_default, 500);
    assert_int_equal(c->request_timeout_s, 90);
    assert_int_equal(c->max_retries, 3);
    assert_int_equal(c->lease_s, 30);
    assert_int_equal(c->grace_s, 25);
    assert_int_equal(c->on_budget, FQ_ON_BUDGET_WAIT);
    assert_int_equal(c->log_level, FQ_LOG_INFO);
    assert_int_equal(c->max_submission_bytes, 1048576);
    assert_int_equal(c->reasoning_reserve, 2048);
    assert_int_equal(c->backoff_base_ms, 1000);
    assert_int_equal(c->backoff_max_ms, 60000);

    assert_string_equal(c->roles[FQ_ROLE_CEO].model, "grok-4");
    assert_string_equal(c->roles[FQ_ROLE_CODE].model, "grok-code-fast-1");
    assert_string_equal(c->roles[FQ_ROLE_QUALITY].model, "grok-3-mini");
    assert_string_equal(c->roles[FQ_ROLE_MEMORY].model, "grok-4-fast");
    assert_int_equal(c->roles[FQ_ROLE_CEO].priority, 2);
    assert_int_equal(c->roles[FQ_ROLE_CODE].priority, 4);
    assert_int_equal(c->roles[FQ_ROLE_QUALITY].priority, 4);
    assert_int_equal(c->roles[FQ_ROLE_MEMORY].priority, 6);
    assert_true(c->roles[FQ_ROLE_CEO].share == 0.40);
    assert_true(c->roles[FQ_ROLE_CODE].share == 0.30);
    assert_true(c->roles[FQ_ROLE_QUALITY].share == 0.20);
    assert_true(c->roles[FQ_ROLE_MEMORY].share == 0.10);
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        assert_non_null(c->roles[r].system);
        assert_true(strlen(c->roles[r].system) > 20);
    }
    assert_non_null(strstr(c->roles[FQ_ROLE_CODE].system, "engineer"));
    assert_non_null(strstr(c->roles[FQ_ROLE_QUALITY].system, "review"));
    fq_config_free(c);
    assert_null(c->roles[0].system);
}

static void test_empty_counts_as_unset(void **state)
{
    loaded l;
    setenv("REDIS_URL", "", 1);
    setenv("GROK_RATE_LIMIT_RPM", "", 1);
    setenv("FLEETQ_ROLE_CEO_MODEL", "", 1);
    setenv("XAI_API_KEY", "", 1);
    load(&l, 0);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.redis_host, "127.0.0.1");
    assert_int_equal(l.cfg.rate_limit_rpm, 480);
    assert_string_equal(l.cfg.roles[FQ_ROLE_CEO].model, "grok-4");
    assert_null(l.cfg.api_key);
    fq_config_free(&l.cfg);
    expect_error(FQ_NEED_KEY, "XAI_API_KEY", "not set");
}

/* ------------------------------------------------------------------------
 * The key
 * --------------------------------------------------------------------- */

static void test_key_from_env(void **state)
{
    loaded l;
    expect_error(FQ_NEED_KEY, "XAI_API_KEY",
                 "XAI_API_KEY: not set; set XAI_API_KEY or XAI_API_KEY_FILE (the xAI API key), "
                 "or XAI_API_KEY=none for a server that needs no key");

    setenv("XAI_API_KEY", "  " KEY "\n", 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.api_key, KEY);
    assert_string_equal(l.cfg.api_key_file, "");
    fq_config_free(&l.cfg);
    assert_null(l.cfg.api_key);

    /* the alias, and both set to the same key */
    unsetenv("XAI_API_KEY");
    setenv("GROK_API_KEY", KEY, 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.api_key, KEY);
    fq_config_free(&l.cfg);
    setenv("XAI_API_KEY", KEY " ", 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    fq_config_free(&l.cfg);

    setenv("XAI_API_KEY", KEY "2", 1);
    expect_error(FQ_NEED_KEY, "XAI_API_KEY", "XAI_API_KEY and GROK_API_KEY are both set");
    unsetenv("GROK_API_KEY");

    /* "none": a server that needs no key; anything else is a key */
    setenv("XAI_API_KEY", " none\n", 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    assert_null(l.cfg.api_key);
    assert_int_equal(l.cfg.api_keyless, 1);
    fq_config_free(&l.cfg);
    setenv("XAI_API_KEY", "None", 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.api_key, "None");
    assert_int_equal(l.cfg.api_keyless, 0);
    fq_config_free(&l.cfg);
    setenv("XAI_API_KEY", "none none", 1);
    expect_error(FQ_NEED_KEY, "XAI_API_KEY", "not a single key");

    setenv("XAI_API_KEY", "   ", 1);
    expect_error(0, "XAI_API_KEY", "only white space");
    setenv("XAI_API_KEY", "xai-TestOnlyKey 0123", 1);
    expect_error(0, "XAI_API_KEY", "white space or control characters inside");
    setenv("XAI_API_KEY", "xai-TestOnlyKey\r\nX-Injected: 1", 1);
    expect_error(0, "XAI_API_KEY", "white space or control characters inside");
    unsetenv("XAI_API_KEY");
    setenv("GROK_API_KEY", "xai-TestOnlyKey\x01", 1);
    expect_error(0, "GROK_API_KEY", "white space or control characters inside");
}

static void test_key_from_file(void **state)
{
    loaded l;
    const char *path = write_file("key", "\n  " KEY " \n\n");
    setenv("XAI_API_KEY_FILE", path, 1);
    load(&l, FQ_NEED_KEY);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    assert_string_equal(l.cfg.api_key, KEY);
    assert_string_equal(l.cfg.api_key_file, path);
    fq_config_free(&l.cfg);

    /* the alias */
    unsetenv("XAI_API_KEY_FILE");
    setenv("GROK_API_KEY_FILE", path, 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.api_key, KEY);
    fq_config_free(&l.cfg);
    unsetenv("GROK_API_KEY_FILE");

    /* a key and a file */
    setenv("XAI_API_KEY", KEY, 1);
    setenv("XAI_API_KEY_FILE", path, 1);
    expect_error(FQ_NEED_KEY, "XAI_API_KEY",
                 "XAI_API_KEY and XAI_API_KEY_FILE are both set; set only one");
    unsetenv("XAI_API_KEY");
    setenv("GROK_API_KEY", KEY, 1);
    expect_error(0, "GROK_API_KEY", "GROK_API_KEY and XAI_API_KEY_FILE are both set; set only one");
    unsetenv("GROK_API_KEY");

    /* two different files */
    setenv("GROK_API_KEY_FILE", "/elsewhere", 1);
    expect_error(0, "XAI_API_KEY_FILE", "XAI_API_KEY_FILE and GROK_API_KEY_FILE are both set");
    unsetenv("GROK_API_KEY_FILE");

    /* empty, missing, a directory, junk */
    path = write_file("empty", " \n\t\n");
    setenv("XAI_API_KEY_FILE", path, 1);
    expect_error(FQ_NEED_KEY, "XAI_API_KEY_FILE", "is empty; put the xAI API key in it");

    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope", tmpdir);
    setenv("XAI_API_KEY_FILE", missing, 1);
    char want[400];
    snprintf(want, sizeof(want), "XAI_API_KEY_FILE: cannot read \"%s\": No such file or directory",
             missing);
    expect_error(0, "XAI_API_KEY_FILE", want);

    setenv("XAI_API_KEY_FILE", tmpdir, 1);
    expect_error(0, "XAI_API_KEY_FILE", "Is a directory");

    path = write_file("two", KEY "\n" KEY "\n");
    setenv("XAI_API_KEY_FILE", path, 1);
    expect_error(0, "XAI_API_KEY_FILE", "does not hold a single key");
    unsetenv("XAI_API_KEY_FILE");
}

static void test_reload_key(void **state)
{
    loaded l;
    char err[256];
    const char *path = write_file("rot", KEY "\n");
    char p[256];
    snprintf(p, sizeof(p), "%s", path);
    setenv("XAI_API_KEY_FILE", p, 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(l.rc, 0);

    assert_int_equal(fq_config_reload_key(&l.cfg, err, sizeof(err)), 0);
    assert_string_equal(l.cfg.api_key, KEY);

    write_file("rot", "test-only-key-rotated-A\n");
    assert_int_equal(fq_config_reload_key(&l.cfg, err, sizeof(err)), 1);
    assert_string_equal(l.cfg.api_key, "test-only-key-rotated-A");

    write_file("rot", "\n");
    assert_int_equal(fq_config_reload_key(&l.cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "XAI_API_KEY_FILE:"));
    assert_non_null(strstr(err, "is empty"));
    assert_string_equal(l.cfg.api_key, "test-only-key-rotated-A");

    unlink(p);
    assert_int_equal(fq_config_reload_key(&l.cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_string_equal(l.cfg.api_key, "test-only-key-rotated-A");
    fq_config_free(&l.cfg);
    unsetenv("XAI_API_KEY_FILE");

    setenv("XAI_API_KEY", KEY, 1);
    load(&l, FQ_NEED_KEY);
    assert_int_equal(fq_config_reload_key(&l.cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "XAI_API_KEY_FILE: not set"));
    assert_null(strstr(err, KEY));
    assert_string_equal(l.cfg.api_key, KEY);
    fq_config_free(&l.cfg);
}

static void test_redact(void **state)
{
    char buf[64];
    fq_config_redact_key("xai-abcdefgh1234", buf, sizeof(buf));
    assert_string_equal(buf, "xai-\xE2\x80\xA6" "1234");
    fq_config_redact_key("abcdefghijkl", buf, sizeof(buf));   /* 12: long enough */
    assert_string_equal(buf, "abcd\xE2\x80\xA6ijkl");
    fq_config_redact_key("abcdefghijk", buf, sizeof(buf));    /* 11: too short */
    assert_string_equal(buf, "\xE2\x80\xA6");
    fq_config_redact_key("", buf, sizeof(buf));
    assert_string_equal(buf, "\xE2\x80\xA6");
    fq_config_redact_key(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "\xE2\x80\xA6");
    char small[6];
    fq_config_redact_key(KEY, small, sizeof(small));
    assert_int_equal(strlen(small), 5);
    assert_null(strstr(KEY, small + 4));  /* never more than the first 4 */
}

static void test_key_never_in_errors(void **state)
{
    /* a key pasted into the wrong variable is not echoed back */
    setenv("XAI_API_KEY", KEY, 1);
    setenv("XAI_BASE_URL", KEY, 1);
    expect_error(0, "XAI_BASE_URL", "must start with http:// or https://");
    unsetenv("XAI_BASE_URL");
    setenv("GROK_RATE_LIMIT_RPM", KEY, 1);
    expect_error(0, "GROK_RATE_LIMIT_RPM", "got \"xai-\xE2\x80\xA6WXYZ\"");
    unsetenv("GROK_RATE_LIMIT_RPM");
    setenv("REDIS_URL", "redis://host:" KEY, 1);
    expect_error(0, "REDIS_URL", "the port must be");
    setenv("REDIS_URL", "redis://host/" KEY, 1);
    expect_error(0, "REDIS_URL", "the database must be");
    setenv("REDIS_URL", "tcp://" KEY ":6379", 1);
    expect_error(0, "REDIS_URL", "must look like");
    unsetenv("REDIS_URL");
    setenv("XAI_BASE_URL", "ftp://" KEY, 1);
    expect_error(0, "XAI_BASE_URL", "must start with");
    unsetenv("XAI_BASE_URL");
    setenv("FLEETQ_ROLE_CEO_PRIORITY", KEY, 1);
    expect_error(0, "FLEETQ_ROLE_CEO_PRIORITY", "must be");
    unsetenv("FLEETQ_ROLE_CEO_PRIORITY");
    /* an error line that quotes only the start of the value: no piece of
     * the key of 12 bytes or more gets through */
    setenv("FLEETQ_PRICES", KEY, 1);
    {
        loaded l;
        load(&l, 0);
        assert_int_equal(l.rc, -1);
        char piece[13];
        for (size_t i = 0; i + 12 <= strlen(KEY); i++) {
            memcpy(piece, KEY + i, 12);
            piece[12] = '\0';
            if (strstr(l.err, piece) != NULL)
                fail_msg("a piece of the key in \"%s\"", l.err);
        }
        fq_config_free(&l.cfg);
    }
    unsetenv("FLEETQ_PRICES");
    unsetenv("XAI_API_KEY");

    /* the alias, and a key that failed its own checks, are hidden too */
    setenv("GROK_API_KEY", KEY, 1);
    setenv("FLEETQ_LOG_LEVEL", KEY, 1);
    expect_error(0, "FLEETQ_LOG_LEVEL", "must be debug");
    unsetenv("FLEETQ_LOG_LEVEL");
    unsetenv("GROK_API_KEY");

    /* also when the key came from a file */
    setenv("XAI_API_KEY_FILE", write_file("k2", KEY), 1);
    setenv("FLEETQ_DB", "", 1);
    setenv("FLEETQ_ON_BUDGET", KEY, 1);
    expect_error(0, "FLEETQ_ON_BUDGET", "must be wait or fail");
    unsetenv("FLEETQ_ON_BUDGET");
    unsetenv("XAI_API_KEY_FILE");
}

/* ------------------------------------------------------------------------
 * REDIS_URL
 * --------------------------------------------------------------------- */

static void test_redis_url(void **state)
{
    static const struct {
        const char *url, *host, *user, *pass;
        int port, db, tls;
    } ok[] = {
        {"redis://localhost", "localhost", "", "", 6379, 0, 0},
        {"rediss://red-abc.example.com:6380/1", "red-abc.example.com", "", "", 6380, 1, 1},
        {"REDISS://:pw@h", "h", "", "pw", 6379, 0, 1},
        {"redis://fleetq-worker@redis:6379/0", "redis", "fleetq-worker", "", 6379, 0, 0},
        {"redis://redis:6380", "redis", "", "", 6380, 0, 0},
        {"redis://redis:6380/", "redis", "", "", 6380, 0, 0},
        {"redis://10.0.0.5:1/15", "10.0.0.5", "", "", 1, 15, 0},
        {"redis://h/20", "h", "", "", 6379, 20, 0},
        {"redis://:s3cret@red-abc.internal:6379/2", "red-abc.internal", "", "s3cret", 6379, 2, 0},
        {"redis://default:p%40ss%3Aw%2Fd@host:65535/1", "host", "default", "p@ss:w/d", 65535, 1, 0},
        {"redis://us%65r:a:b@host", "host", "user", "a:b", 6379, 0, 0},
        {"redis://[::1]:6379/3", "::1", "", "", 6379, 3, 0},
        {"redis://[fe80::1]", "fe80::1", "", "", 6379, 0, 0},
        {"REDIS://Host_1", "Host_1", "", "", 6379, 0, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        fq_config c;
        char err[256];
        memset(&c, 0, sizeof(c));
        if (fq_config_parse_redis_url(&c, ok[i].url, err, sizeof(err)) != 0)
            fail_msg("%s: %s", ok[i].url, err);
        assert_string_equal(c.redis_host, ok[i].host);
        assert_string_equal(c.redis_user, ok[i].user);
        assert_string_equal(c.redis_password, ok[i].pass);
        assert_int_equal(c.redis_port, ok[i].port);
        assert_int_equal(c.redis_db, ok[i].db);
        assert_int_equal(c.redis_tls, ok[i].tls);
    }

    static const struct {
        const char *url, *want;
    } no[] = {
        {"http://host", "REDIS_URL: must look like redis[s]://[user:password@]host[:port][/db]"},
        {"rediss:/host", "must look like"},
        {"localhost:6379", "must look like"},
        {"redis://", "no host"},
        {"redis:///0", "no host"},
        {"redis://:pw@", "no host"},
        {"redis://host:0", "the port must be from 1 to 65535, got \"0\""},
        {"redis://host:65536", "the port must be from 1 to 65535"},
        {"redis://host:", "the port must be from 1 to 65535"},
        {"redis://host:6x", "the port must be from 1 to 65535"},
        {"redis://host/-1", "the database must be a non-negative integer"},
        {"redis://host/db0", "the database must be a non-negative integer"},
        {"redis://host/0/x", "the database must be a non-negative integer"},
        {"redis://host/99999999999", "the database must be a non-negative integer"},
        {"redis://host?db=1", "query parameters are not supported"},
        {"redis://:bad%zzpw@host", "bad %-escape"},
        {"redis://:bad%00pw@host", "bad %-escape"},
        {"redis://:abc/def@host", "'@' after the host"},
        {"redis://[::1", "no closing ']'"},
        {"redis://[::1]x", "expected ':port'"},
        {"redis://[zz]:1", "bad IPv6 address"},
        {"redis://::1:6379", "brackets"},
        {"redis://ho st", "the host may only hold"},
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        fq_config c;
        char err[256];
        memset(&c, 0, sizeof(c));
        snprintf(c.redis_host, sizeof(c.redis_host), "unchanged");
        if (fq_config_parse_redis_url(&c, no[i].url, err, sizeof(err)) != -1)
            fail_msg("accepted %s", no[i].url);
        if (strstr(err, no[i].want) == NULL || strncmp(err, "REDIS_URL: ", 11) != 0)
            fail_msg("%s: error \"%s\" lacks \"%s\"", no[i].url, err, no[i].want);
        assert_string_equal(c.redis_host, "unchanged");
    }

    /* passwords are not echoed in messages */
    loaded l;
    setenv("REDIS_URL", "redis://admin:hunter2pw@host:99999/0", 1);
    load(&l, 0);
    assert_int_equal(l.rc, -1);
    assert_null(strstr(l.err, "hunter2pw"));
    setenv("REDIS_URL", "http://admin:hunter2pw@host", 1);
    load(&l, 0);
    assert_int_equal(l.rc, -1);
    assert_null(strstr(l.err, "hunter2pw"));
    assert_non_null(strstr(l.err, "***@host"));
    setenv("REDIS_URL", "redis://:hunter2pw@ho$t", 1);
    load(&l, 0);
    assert_int_equal(l.rc, -1);
    assert_null(strstr(l.err, "hunter2pw"));
    unsetenv("REDIS_URL");

    good(&l, "REDIS_URL", " redis://:pw@cache:7000/4\n");
    assert_string_equal(l.cfg.redis_host, "cache");
    assert_string_equal(l.cfg.redis_password, "pw");
    assert_int_equal(l.cfg.redis_port, 7000);
    assert_int_equal(l.cfg.redis_db, 4);
    fq_config_free(&l.cfg);
    assert_string_equal(l.cfg.redis_password, "");
}

/* REDIS_PASSWORD_FILE completes a URL that names the user alone. */
static void test_redis_password_file(void **state)
{
    loaded l;
    setenv("REDIS_URL", "redis://fleetq-worker@redis:6379/0", 1);
    expect_error(0, "REDIS_URL", "the user \"fleetq-worker\" has no password");
    setenv("REDIS_PASSWORD_FILE", write_file("redis_pw", "\n  s3cret-worker-pw \n"), 1);
    load(&l, 0);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    assert_string_equal(l.cfg.redis_user, "fleetq-worker");
    assert_string_equal(l.cfg.redis_password, "s3cret-worker-pw");
    fq_config_free(&l.cfg);
    setenv("REDIS_URL", "redis://fleetq-worker:other@redis:6379/0", 1);
    expect_error(0, "REDIS_PASSWORD_FILE", "REDIS_URL holds a password too");
    setenv("REDIS_URL", "redis://redis:6379/0", 1);
    setenv("REDIS_PASSWORD_FILE", write_file("redis_pw", " \n"), 1);
    expect_error(0, "REDIS_PASSWORD_FILE", "empty");
    setenv("REDIS_PASSWORD_FILE", "/nonexistent/redis_pw", 1);
    expect_error(0, "REDIS_PASSWORD_FILE", "cannot read");
}

/* The TLS settings: only with rediss://, a certificate with its key, and
 * files that can be read. */
static void test_redis_tls_settings(void **state)
{
    setenv("REDIS_URL", "redis://redis:6379/0", 1);
    bad("FLEETQ_REDIS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt",
        "set, but REDIS_URL is not rediss://");
    bad("FLEETQ_REDIS_TLS_VERIFY", "false", "set, but REDIS_URL is not rediss://");
    setenv("REDIS_URL", "rediss://redis:6380/0", 1);
    bad("FLEETQ_REDIS_TLS_VERIFY", "maybe", "must be true or false");
    bad("FLEETQ_REDIS_CERT_FILE", write_file("client.crt", "x"),
        "set FLEETQ_REDIS_CERT_FILE and FLEETQ_REDIS_KEY_FILE together");
    bad("FLEETQ_REDIS_CA_FILE", write_file("ca.crt", "not a certificate\n"),
        "cannot read CA certificates from");
    setenv("FLEETQ_REDIS_KEY_FILE", write_file("client.key", "x"), 1);
    bad("FLEETQ_REDIS_CERT_FILE", write_file("client.crt", "x"), "cannot read a certificate from");
    unsetenv("FLEETQ_REDIS_KEY_FILE");
    loaded l;
    setenv("FLEETQ_REDIS_TLS_VERIFY", "false", 1);
    load(&l, 0);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    assert_int_equal(l.cfg.redis_tls, 1);
    assert_int_equal(l.cfg.redis_tls_verify, 0);
    fq_config_free(&l.cfg);
}

/* ------------------------------------------------------------------------
 * The other variables
 * --------------------------------------------------------------------- */

static void test_base_url_db_port(void **state)
{
    loaded l;
    good(&l, "XAI_BASE_URL", "http://127.0.0.1:8000/v1///");
    assert_string_equal(l.cfg.base_url, "http://127.0.0.1:8000/v1");
    fq_config_free(&l.cfg);
    good(&l, "XAI_BASE_URL", "HTTPS://api.example.com");
    assert_string_equal(l.cfg.base_url, "HTTPS://api.example.com");
    fq_config_free(&l.cfg);
    bad("XAI_BASE_URL", "ftp://x", "XAI_BASE_URL: must start with http:// or https://");
    bad("XAI_BASE_URL", "api.x.ai/v1", "must start with http://");
    bad("XAI_BASE_URL", "https://", "no host");
    bad("XAI_BASE_URL", "https:///v1", "no host");
    bad("XAI_BASE_URL", "https://a b", "must not contain spaces");

    good(&l, "FLEETQ_DB", "/data/fleetq.db");
    assert_string_equal(l.cfg.db_path, "/data/fleetq.db");
    fq_config_free(&l.cfg);
    char longpath[600];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    bad("FLEETQ_DB", longpath, "longer than 511 bytes");

    good(&l, "FLEETQ_HTTP_PORT", "9000");
    assert_int_equal(l.cfg.http_port, 9000);
    fq_config_free(&l.cfg);
    good(&l, "PORT", "0");
    assert_int_equal(l.cfg.http_port, 0);
    fq_config_free(&l.cfg);
    setenv("FLEETQ_HTTP_PORT", "9000", 1);
    good(&l, "PORT", "10000");   /* PORT (set by the platform) wins */
    assert_int_equal(l.cfg.http_port, 10000);
    fq_config_free(&l.cfg);
    unsetenv("FLEETQ_HTTP_PORT");
    bad("PORT", "65536", "PORT: must be an integer from 0 to 65535, got \"65536\"");
    bad("FLEETQ_HTTP_PORT", "http", "FLEETQ_HTTP_PORT: must be an integer from 0 to 65535");
}

static void test_integers(void **state)
{
    loaded l;
    static const char *const nonneg[] = {"GROK_RATE_LIMIT_RPM", "GROK_RATE_LIMIT_RPH",
                                         "GROK_RATE_LIMIT_TPM", "FLEETQ_MAX_INFLIGHT"};
    for (int i = 0; i < 4; i++) {
        char want[128];
        snprintf(want, sizeof(want), "%s: must be a non-negative integer, got \"-5\"", nonneg[i]);
        bad(nonneg[i], "-5", want);
        bad(nonneg[i], "12abc", "must be a non-negative integer, got \"12abc\"");
        bad(nonneg[i], "1e3", "must be a non-negative integer");
        bad(nonneg[i], "99999999999999999999", "must be a non-negative integer");
    }
    good(&l, "GROK_RATE_LIMIT_RPM", " 600 ");
    assert_int_equal(l.cfg.rate_limit_rpm, 600);
    fq_config_free(&l.cfg);
    good(&l, "GROK_RATE_LIMIT_TPM", "2000000");
    assert_int_equal(l.cfg.rate_limit_tpm, 2000000);
    fq_config_free(&l.cfg);
    good(&l, "FLEETQ_MAX_INFLIGHT", "0");
    assert_int_equal(l.cfg.max_inflight, 0);
    fq_config_free(&l.cfg);

    static const struct {
        const char *var, *lo_bad, *hi_bad, *ok;
        int want;
        size_t off;
    } ranged[] = {
        {"FLEETQ_RATE_BURST", "0", "1001", "1000", 1000, offsetof(fq_config, rate_burst)},
        {"MAX_TOKENS_DEFAULT", "0", "131073", "131072", 131072, offsetof(fq_config, max_tokens_default)},
        {"REQUEST_TIMEOUT", "0", "3601", "3600", 3600, offsetof(fq_config, request_timeout_s)},
        {"GROK_MAX_RETRIES", "-1", "21", "0", 0, offsetof(fq_config, max_retries)},
        {"FLEETQ_LEASE_SECONDS", "4", "3601", "5", 5, offsetof(fq_config, lease_s)},
        {"FLEETQ_GRACE_SECONDS", "-1", "3601", "0", 0, offsetof(fq_config, grace_s)},
        {"FLEETQ_BACKOFF_BASE_MS", "0", "600001", "1", 1, offsetof(fq_config, backoff_base_ms)},
    };
    for (size_t i = 0; i < sizeof(ranged) / sizeof(ranged[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "%s: must be an integer from", ranged[i].var);
        bad(ranged[i].var, ranged[i].lo_bad, want);
        bad(ranged[i].var, ranged[i].hi_bad, want);
        bad(ranged[i].var, "ten", want);
        good(&l, ranged[i].var, ranged[i].ok);
        assert_int_equal(*(int *)((char *)&l.cfg + ranged[i].off), ranged[i].want);
        fq_config_free(&l.cfg);
    }

    bad("FLEETQ_MAX_SUBMISSION_BYTES", "1023", "from 1024 to 67108864");
    bad("FLEETQ_MAX_SUBMISSION_BYTES", "67108865", "from 1024 to 67108864");
    good(&l, "FLEETQ_MAX_SUBMISSION_BYTES", "67108864");
    assert_int_equal(l.cfg.max_submission_bytes, 64 << 20);
    fq_config_free(&l.cfg);

    bad("FLEETQ_REASONING_RESERVE", "1000001", "from 0 to 1000000");
    good(&l, "FLEETQ_REASONING_RESERVE", "0");
    assert_int_equal(l.cfg.reasoning_reserve, 0);
    fq_config_free(&l.cfg);
}

static void test_backoff(void **state)
{
    loaded l;
    setenv("FLEETQ_BACKOFF_BASE_MS", "2000", 1);
    bad("FLEETQ_BACKOFF_MAX_MS", "1999",
        "FLEETQ_BACKOFF_MAX_MS: must be at least FLEETQ_BACKOFF_BASE_MS (2000), got \"1999\"");
    good(&l, "FLEETQ_BACKOFF_MAX_MS", "2000");
    assert_int_equal(l.cfg.backoff_max_ms, 2000);
    fq_config_free(&l.cfg);
    /* a base above the default cap raises the cap with it */
    good(&l, "FLEETQ_BACKOFF_BASE_MS", "120000");
    assert_int_equal(l.cfg.backoff_max_ms, 120000);
    fq_config_free(&l.cfg);
}

static void test_bool_enum_budget_level(void **state)
{
    loaded l;
    static const char *const t[] = {"true", "TRUE", "1", "yes", "On"};
    static const char *const f[] = {"false", "False", "0", "no", "OFF"};
    for (int i = 0; i < 5; i++) {
        good(&l, "ENABLE_RATE_LIMITING", t[i]);
        assert_int_equal(l.cfg.rate_limiting, 1);
        fq_config_free(&l.cfg);
        good(&l, "ENABLE_RATE_LIMITING", f[i]);
        assert_int_equal(l.cfg.rate_limiting, 0);
        fq_config_free(&l.cfg);
    }
    bad("ENABLE_RATE_LIMITING", "maybe", "ENABLE_RATE_LIMITING: must be true or false");
    bad("ENABLE_RATE_LIMITING", "2", "must be true or false");

    good(&l, "DAILY_BUDGET_USD", "12.5");
    assert_int_equal(l.cfg.daily_budget_ticks, 125 * FQ_TICKS_PER_USD / 10);
    fq_config_free(&l.cfg);
    good(&l, "DAILY_BUDGET_USD", "0");
    assert_int_equal(l.cfg.daily_budget_ticks, 0);
    fq_config_free(&l.cfg);
    bad("DAILY_BUDGET_USD", "-1", "DAILY_BUDGET_USD: must be a non-negative amount in USD");
    bad("DAILY_BUDGET_USD", "$50", "got \"$50\"");
    bad("DAILY_BUDGET_USD", "1e2", "must be a non-negative amount");

    good(&l, "FLEETQ_ON_BUDGET", "fail");
    assert_int_equal(l.cfg.on_budget, FQ_ON_BUDGET_FAIL);
    fq_config_free(&l.cfg);
    good(&l, "FLEETQ_ON_BUDGET", "wait");
    assert_int_equal(l.cfg.on_budget, FQ_ON_BUDGET_WAIT);
    fq_config_free(&l.cfg);
    bad("FLEETQ_ON_BUDGET", "drop", "FLEETQ_ON_BUDGET: must be wait or fail, got \"drop\"");

    good(&l, "FLEETQ_LOG_LEVEL", "debug");
    assert_int_equal(l.cfg.log_level, FQ_LOG_DEBUG);
    fq_config_free(&l.cfg);
    good(&l, "FLEETQ_LOG_LEVEL", "warning");
    assert_int_equal(l.cfg.log_level, FQ_LOG_WARN);
    fq_config_free(&l.cfg);
    bad("FLEETQ_LOG_LEVEL", "loud", "FLEETQ_LOG_LEVEL: must be debug, info, warn or error");
}

static void test_prices(void **state)
{
    loaded l;
    good(&l, "FLEETQ_PRICES", "test-model-x=1/0.5/2:r");
    fq_config_free(&l.cfg);
    const fq_price *p = fq_cost_lookup("test-model-x");
    assert_string_equal(p->model, "test-model-x");
    assert_true(p->output_per_m == 2.0);
    bad("FLEETQ_PRICES", "oops", "FLEETQ_PRICES: entry \"oops\" must look like");
}

static void test_roles(void **state)
{
    loaded l;
    setenv("FLEETQ_ROLE_CODE_MODEL", "grok-4-0709", 1);
    setenv("FLEETQ_ROLE_CODE_SYSTEM", "Write C11. \xC3\xA9", 1);
    setenv("FLEETQ_ROLE_CODE_PRIORITY", "critical", 1);
    setenv("FLEETQ_ROLE_MEMORY_PRIORITY", "9", 1);
    setenv("FLEETQ_ROLE_MEMORY_SHARE", "0.05", 1);
    load(&l, 0);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    assert_string_equal(l.cfg.roles[FQ_ROLE_CODE].model, "grok-4-0709");
    assert_string_equal(l.cfg.roles[FQ_ROLE_CODE].system, "Write C11. \xC3\xA9");
    assert_int_equal(l.cfg.roles[FQ_ROLE_CODE].priority, 0);
    assert_int_equal(l.cfg.roles[FQ_ROLE_MEMORY].priority, 9);
    assert_true(l.cfg.roles[FQ_ROLE_MEMORY].share == 0.05);
    assert_string_equal(l.cfg.roles[FQ_ROLE_CEO].model, "grok-4");
    fq_config_free(&l.cfg);
    clear_env();

    char m[80];
    memset(m, 'm', 64);
    m[64] = '\0';
    bad("FLEETQ_ROLE_CEO_MODEL", m, "FLEETQ_ROLE_CEO_MODEL: must be 1 to 63 characters");
    bad("FLEETQ_ROLE_QUALITY_MODEL", "grok 3", "FLEETQ_ROLE_QUALITY_MODEL: must be 1 to 63");
    bad("FLEETQ_ROLE_CODE_SYSTEM", "bad \xff", "FLEETQ_ROLE_CODE_SYSTEM: not valid UTF-8");
    bad("FLEETQ_ROLE_CEO_PRIORITY", "urgent", "FLEETQ_ROLE_CEO_PRIORITY: must be critical, high");
    bad("FLEETQ_ROLE_CEO_PRIORITY", "10", "FLEETQ_ROLE_CEO_PRIORITY: must be");
    bad("FLEETQ_ROLE_CEO_SHARE", "1.5", "FLEETQ_ROLE_CEO_SHARE: must be a number from 0 to 1");
    bad("FLEETQ_ROLE_CEO_SHARE", "-0.1", "FLEETQ_ROLE_CEO_SHARE: must be a number");
    bad("FLEETQ_ROLE_CEO_SHARE", "half", "FLEETQ_ROLE_CEO_SHARE: must be a number");
    bad("FLEETQ_ROLE_MEMORY_SHARE", "0.5", "FLEETQ_ROLE_MEMORY_SHARE: the shares of the four "
        "roles add up to 1.4");
    good(&l, "FLEETQ_ROLE_CEO_SHARE", "0");
    assert_true(l.cfg.roles[FQ_ROLE_CEO].share == 0);
    fq_config_free(&l.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_empty_counts_as_unset, setup),
        cmocka_unit_test_setup(test_key_from_env, setup),
        cmocka_unit_test_setup(test_key_from_file, setup),
        cmocka_unit_test_setup(test_reload_key, setup),
        cmocka_unit_test_setup(test_redact, setup),
        cmocka_unit_test_setup(test_key_never_in_errors, setup),
        cmocka_unit_test_setup(test_redis_url, setup),
        cmocka_unit_test_setup(test_redis_password_file, setup),
        cmocka_unit_test_setup(test_redis_tls_settings, setup),
        cmocka_unit_test_setup(test_base_url_db_port, setup),
        cmocka_unit_test_setup(test_integers, setup),
        cmocka_unit_test_setup(test_backoff, setup),
        cmocka_unit_test_setup(test_bool_enum_budget_level, setup),
        cmocka_unit_test_setup(test_prices, setup),
        cmocka_unit_test_setup(test_roles, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
