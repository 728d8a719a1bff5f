/* test_settings.c -- unit tests for the table of settings (common/
 * settings.def, settings.c) and the check of unknown variables
 * (settings_check.c).
 *
 * The table is checked against itself (names unique, every row that allows
 * 0 says what 0 means, the rows read with another name a row that reads
 * them) and against fq_config_load(): for every number it reads, 0 loads
 * exactly when the table allows it, the ends of each generic row's range
 * load and the values just past them do not, and each default, given
 * explicitly, loads as the variable left unset does. Each test starts from
 * an environment without any variable the table names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "settings.h"

#define VALUE_MARK "value-never-shown-7f3a"

/* Calls fn(name, arg) for the variable of every row (each role's). */
static void each_name(void (*fn)(const fq_setting *s, const char *name, void *arg), void *arg)
{
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        int roles = fq_setting_per_role(s) ? FQ_ROLE_COUNT : 1;
        for (int r = 0; r < roles; r++) {
            char name[96];
            fn(s, fq_setting_name(s, r, name, sizeof(name)), arg);
        }
    }
}

static void unset_one(const fq_setting *s, const char *name, void *arg)
{
    (void)s;
    (void)arg;
    unsetenv(name);
}

static int setup(void **state)
{
    (void)state;
    each_name(unset_one, NULL);
    return 0;
}

/* The variable of row s that a test sets: CEO's for a role's row. */
static const char *test_name(const fq_setting *s, char *buf, size_t len)
{
    return fq_setting_name(s, FQ_ROLE_CEO, buf, len);
}

/* Loads with name=value (NULL: unset); returns the result, the config
 * freed unless keep. */
static int load_with(const char *name, const char *value, fq_config *cfg, int keep, char *err,
                     size_t errlen)
{
    if (value != NULL)
        setenv(name, value, 1);
    int rc = fq_config_load(cfg, 0, err, errlen);
    unsetenv(name);
    if (rc == 0 && !keep)
        fq_config_free(cfg);
    return rc;
}

/* 1 for the types whose values are numbers. */
static int numeric(const fq_setting *s)
{
    return s->type == FQ_SET_INT64 || s->type == FQ_SET_INT || s->type == FQ_SET_FRACTION ||
           s->type == FQ_SET_USD;
}

/* ------------------------------------------------------------------------
 * The table itself
 * --------------------------------------------------------------------- */

typedef struct names {
    char list[512][96];
    size_t n;
} names;

static void collect(const fq_setting *s, const char *name, void *arg)
{
    names *ns = arg;
    (void)s;
    assert_true(name[0] != '\0');
    assert_true(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(name));
    for (size_t k = 0; k < ns->n; k++)
        if (strcmp(ns->list[k], name) == 0)
            fail_msg("%s is named by two rows", name);
    assert_true(ns->n < 512);
    snprintf(ns->list[ns->n++], sizeof(ns->list[0]), "%s", name);
}

static void test_names_unique(void **state)
{
    (void)state;
    static names ns;
    ns.n = 0;
    each_name(collect, &ns);
    assert_true(ns.n > 90);
    /* every variable is found as its own row */
    for (size_t k = 0; k < ns.n; k++) {
        const fq_setting *s = fq_setting_find(ns.list[k]);
        assert_non_null(s);
        if (!fq_setting_per_role(s))
            assert_string_equal(s->name, ns.list[k]);
    }
    assert_null(fq_setting_find("FLEETQ_ROLE_<ROLE>_MODEL"));
    assert_null(fq_setting_find("FLEETQ_ROLE_INTERN_MODEL"));
    assert_null(fq_setting_find("FLEETQ_ROLE_CODE_MODELS"));
    assert_string_equal(fq_setting_find("FLEETQ_ROLE_MEMORY_FALLBACK")->name,
                        "FLEETQ_ROLE_<ROLE>_FALLBACK");
}

static void test_rows_well_formed(void **state)
{
    (void)state;
    /* the key first: every later message hides it */
    assert_string_equal(fq_settings[0].name, "XAI_API_KEY");
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        if (s->with != NULL) {
            const fq_setting *w = fq_setting_find(s->with);
            if (w == NULL || w->read == NULL || w->by != FQ_BY_CONFIG)
                fail_msg("%s: read with %s, which has no reader of its own", s->name, s->with);
        } else if (s->by == FQ_BY_CONFIG && s->read == NULL && s->read_role == NULL &&
                   (s->type == FQ_SET_TEXT || s->size == 0)) {
            fail_msg("%s: neither a reader nor a typed field", s->name);
        }
        if (s->read_role != NULL && (!fq_setting_per_role(s) || s->read != NULL))
            fail_msg("%s: a reader of one role's variable, but not a role's row alone",
                     s->name);
        if ((s->by == FQ_BY_SCRIPTS || s->by == FQ_BY_TESTS) && s->where == NULL)
            fail_msg("%s: read by scripts or tests, but which is not said", s->name);
        if (fq_setting_per_role(s))
            for (int r = 0; r < FQ_ROLE_COUNT; r++)
                assert_non_null(fq_setting_default(s, r));
    }
}

/* Every row whose range allows 0 says what 0 means, and only those. */
static void test_zero_has_meaning(void **state)
{
    (void)state;
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        if (fq_setting_allows_zero(s) && (s->zero == NULL || s->zero[0] == '\0'))
            fail_msg("%s allows 0 but does not say what 0 means", s->name);
        if (!fq_setting_allows_zero(s) && s->zero != NULL)
            fail_msg("%s says what 0 means but its range does not allow 0", s->name);
    }
}

/* ------------------------------------------------------------------------
 * The table against fq_config_load()
 * --------------------------------------------------------------------- */

/* For every number fq_config_load() reads, 0 loads exactly when the table
 * allows it; a refused 0 names the variable. */
static void test_zero_as_loaded(void **state)
{
    (void)state;
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        char name[96], err[512];
        fq_config cfg;
        if (s->by != FQ_BY_CONFIG || !numeric(s))
            continue;
        test_name(s, name, sizeof(name));
        int rc = load_with(name, "0", &cfg, 0, err, sizeof(err));
        if (fq_setting_allows_zero(s) && rc != 0)
            fail_msg("%s=0 is allowed by the table but refused: %s", name, err);
        if (!fq_setting_allows_zero(s) && rc == 0)
            fail_msg("%s=0 loads but the table does not allow it", name);
        if (rc != 0 && strncmp(err, name, strlen(name)) != 0)
            fail_msg("%s=0: the error does not name it: %s", name, err);
    }
}

/* The ends of each generic number's range load; just past them does not,
 * and the error says what 0 means when 0 is allowed. */
static void test_ranges_as_loaded(void **state)
{
    (void)state;
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        char name[96], err[512], v[48];
        fq_config cfg;
        if (s->by != FQ_BY_CONFIG || s->read != NULL || s->read_role != NULL ||
            s->with != NULL || !numeric(s) || s->type == FQ_SET_USD)
            continue;
        test_name(s, name, sizeof(name));
        snprintf(v, sizeof(v), "%lld", (long long)s->lo);
        if (load_with(name, v, &cfg, 0, err, sizeof(err)) != 0)
            fail_msg("%s=%s (its lowest) refused: %s", name, v, err);
        snprintf(v, sizeof(v), "%lld", (long long)s->lo - 1);
        if (load_with(name, v, &cfg, 0, err, sizeof(err)) == 0)
            fail_msg("%s=%s (under its lowest) loads", name, v);
        if (s->zero != NULL && strstr(err, s->zero) == NULL)
            fail_msg("%s: the error does not say what 0 means: %s", name, err);
        if (s->hi == INT64_MAX)
            continue;
        snprintf(v, sizeof(v), "%lld", (long long)s->hi);
        if (load_with(name, v, &cfg, 0, err, sizeof(err)) != 0)
            fail_msg("%s=%s (its highest) refused: %s", name, v, err);
        snprintf(v, sizeof(v), s->type == FQ_SET_FRACTION ? "%lld.5" : "%lld",
                 (long long)(s->type == FQ_SET_FRACTION ? s->hi : s->hi + 1));
        if (load_with(name, v, &cfg, 0, err, sizeof(err)) == 0)
            fail_msg("%s=%s (over its highest) loads", name, v);
    }
}

/* Each generic row's default, given explicitly, loads as the variable
 * left unset does. */
static void test_defaults_as_loaded(void **state)
{
    (void)state;
    fq_config unset, given;
    char err[512];
    if (fq_config_load(&unset, 0, err, sizeof(err)) != 0)
        fail_msg("the defaults do not load: %s", err);
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        if (s->by != FQ_BY_CONFIG || s->with != NULL || s->size == 0)
            continue;
        int roles = fq_setting_per_role(s) ? FQ_ROLE_COUNT : 1;
        for (int r = 0; r < roles; r++) {
            char name[96];
            const char *def = fq_setting_default(s, r);
            fq_setting_name(s, r, name, sizeof(name));
            /* FLEETQ_REDIS_TLS_VERIFY set at all needs a rediss:// URL */
            if (def[0] == '\0' || strcmp(name, "FLEETQ_REDIS_TLS_VERIFY") == 0)
                continue;
            if (load_with(name, def, &given, 1, err, sizeof(err)) != 0)
                fail_msg("%s=%s (its default) refused: %s", name, def, err);
            size_t base = fq_setting_per_role(s) ? offsetof(fq_config, roles) +
                                                       (size_t)r * sizeof(fq_role_profile)
                                                 : 0;
            if (memcmp((char *)&unset + base + s->offset, (char *)&given + base + s->offset,
                       s->size) != 0)
                fail_msg("%s=%s loads otherwise than %s unset", name, def, name);
            fq_config_free(&given);
        }
    }
    fq_config_free(&unset);
}

/* ------------------------------------------------------------------------
 * Suggestions and the check
 * --------------------------------------------------------------------- */

static void expect_suggestion(const char *name, const char *want)
{
    char buf[128];
    const char *got = fq_settings_suggest(name, buf, sizeof(buf));
    if (want == NULL && got != NULL)
        fail_msg("%s: suggested %s, expected none", name, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("%s: suggested %s, expected %s", name, got ? got : "none", want);
}

static void test_suggest(void **state)
{
    (void)state;
    expect_suggestion("GROK_RATE_LIMT_RPM", "GROK_RATE_LIMIT_RPM");
    expect_suggestion("FLEETQ_ROLE_CODER_MODEL", "FLEETQ_ROLE_CODE_MODEL");
    expect_suggestion("FLEETQ_ZZZZZZZZZZ", NULL);
    /* a swap of neighbours is one slip */
    expect_suggestion("FLEETQ_LAESE_SECONDS", "FLEETQ_LEASE_SECONDS");
    expect_suggestion("FLEETQ_ROLE_MEMROY_SHARE", "FLEETQ_ROLE_MEMORY_SHARE");
    /* a prefix too many, or the other one */
    expect_suggestion("FLEETQ_DAILY_BUDGET_USD", "DAILY_BUDGET_USD");
    expect_suggestion("FLEETQ_REDIS_URL", "REDIS_URL");
    expect_suggestion("XAI_RATE_LIMIT_RPM", "GROK_RATE_LIMIT_RPM");
    /* case */
    expect_suggestion("FLEETQ_Log_Level", "FLEETQ_LOG_LEVEL");
    /* another word is not a slip */
    expect_suggestion("FLEETQ_ROLE_INTERN_MODEL", NULL);
    expect_suggestion("XAI_ORGANIZATION", NULL);
    expect_suggestion("GROK_X", NULL);
}

typedef struct seen {
    char names[8][128];
    char near[8][128];
    int n;
} seen;

static void record(const char *name, const char *suggestion, void *arg)
{
    seen *w = arg;
    assert_true(w->n < 8);
    assert_null(strchr(name, '='));
    assert_null(strstr(name, VALUE_MARK));
    snprintf(w->names[w->n], sizeof(w->names[0]), "%s", name);
    snprintf(w->near[w->n], sizeof(w->near[0]), "%s", suggestion ? suggestion : "");
    w->n++;
}

static void test_each_unknown(void **state)
{
    (void)state;
    char *envp[] = {
        "PATH=/usr/bin",
        "GROK_RATE_LIMT_RPM=5" VALUE_MARK,
        "FLEETQ_DB=./x.db",
        "FLEETQ_ROLE_QUALITY_FALLBACK=grok-4",
        "FLEETQ_ROLE_CODER_MODEL=" VALUE_MARK,
        "FLEETQ_TEST_STAGES=asan",
        "FLEETQ_CONCURRENCY=2",
        "FLEETQ_TEST_STALL_SECONDS=1",
        "XAI_API_KY=xai-" VALUE_MARK,
        "GROK_RATE_LIMT_RPM=6",             /* the same name again: once */
        "FLEETQ_BAD\x01NAME=1",
        "MY_FLEETQ_DB=1",
        "fleetq_db=1",
        NULL,
    };
    seen w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(fq_settings_each_unknown(envp, record, &w), 4);
    assert_int_equal(w.n, 4);
    assert_string_equal(w.names[0], "GROK_RATE_LIMT_RPM");
    assert_string_equal(w.near[0], "GROK_RATE_LIMIT_RPM");
    assert_string_equal(w.names[1], "FLEETQ_ROLE_CODER_MODEL");
    assert_string_equal(w.near[1], "FLEETQ_ROLE_CODE_MODEL");
    assert_string_equal(w.names[2], "XAI_API_KY");
    assert_string_equal(w.near[2], "XAI_API_KEY");
    assert_string_equal(w.names[3], "FLEETQ_BAD?NAME");
    assert_int_equal(fq_settings_each_unknown(NULL, record, &w), 0);
}

static void test_warning(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(fq_settings_warning("GROK_RATE_LIMT_RPM", "GROK_RATE_LIMIT_RPM", buf,
                                            sizeof(buf)),
                        "GROK_RATE_LIMT_RPM is not a fleetq setting and changes nothing; "
                        "did you mean GROK_RATE_LIMIT_RPM?");
    fq_settings_warning("FLEETQ_ZZZZZZZZZZ", NULL, buf, sizeof(buf));
    assert_non_null(strstr(buf, "FLEETQ_ZZZZZZZZZZ is not a fleetq setting"));
    assert_null(strstr(buf, "did you mean"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_names_unique, setup),
        cmocka_unit_test_setup(test_rows_well_formed, setup),
        cmocka_unit_test_setup(test_zero_has_meaning, setup),
        cmocka_unit_test_setup(test_zero_as_loaded, setup),
        cmocka_unit_test_setup(test_ranges_as_loaded, setup),
        cmocka_unit_test_setup(test_defaults_as_loaded, setup),
        cmocka_unit_test_setup(test_suggest, setup),
        cmocka_unit_test_setup(test_each_unknown, setup),
        cmocka_unit_test_setup(test_warning, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
