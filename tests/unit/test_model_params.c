/* test_model_params.c -- unit tests for the model parameter table
 * (common/model_params.c): the built-in entries and how a model name finds
 * its entry, FLEETQ_MODEL_PARAMS overrides and their errors, and adding a
 * task's parameters to a request body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model_params.h"

static int reset(void **state)
{
    (void)state;
    fq_model_params_reset();
    return 0;
}

/* The parameters model accepts, as "top_p seed ..." in table order. */
static const char *accepted(const char *model)
{
    static const char *const names[] = {"reasoning_effort", "top_p", "seed", "stop",
                                        "presence_penalty", "frequency_penalty",
                                        "response_format"};
    static char buf[256];
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (fq_model_accepts(model, names[i]))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? " " : "",
                     names[i]);
    }
    return buf;
}

#define EVERY "reasoning_effort top_p seed stop presence_penalty frequency_penalty response_format"
#define XAI_REASONING "top_p seed response_format"
#define CHAT "top_p seed stop presence_penalty frequency_penalty response_format"
#define OPENAI_REASONING "reasoning_effort seed response_format"

/* ------------------------------------------------------------------------
 * Parameter names
 * --------------------------------------------------------------------- */

static void test_param_index(void **state)
{
    (void)state;
    /* the indexes follow FQ_MODEL_PARAM_NAMES */
    char list[] = FQ_MODEL_PARAM_NAMES;
    int i = 0;
    for (char *save = NULL, *p = strtok_r(list, ", ", &save); p != NULL;
         p = strtok_r(NULL, ", ", &save), i++)
        assert_int_equal(fq_model_param_index(p, strlen(p)), i);
    assert_int_equal(i, 7);
    assert_int_equal(fq_model_param_index("top_p", 4), -1);
    assert_int_equal(fq_model_param_index("top_px", 5), 1);   /* length-bounded */
    assert_int_equal(fq_model_param_index("Top_p", 5), -1);
    assert_int_equal(fq_model_param_index("temperature", 11), -1);
    assert_int_equal(fq_model_param_index("", 0), -1);
    assert_int_equal(fq_model_param_index(NULL, 0), -1);
    assert_false(fq_model_accepts("grok-3", "temperature"));
    assert_false(fq_model_accepts("grok-3", NULL));
}

/* ------------------------------------------------------------------------
 * The built-in table
 * --------------------------------------------------------------------- */

static void test_builtin_xai(void **state)
{
    (void)state;
    assert_string_equal(accepted("grok-4"), XAI_REASONING);
    assert_string_equal(accepted("grok-4-0709"), XAI_REASONING);
    assert_string_equal(accepted("grok-4-fast"), XAI_REASONING);
    assert_string_equal(accepted("grok-4-fast-reasoning"), XAI_REASONING);
    assert_string_equal(accepted("grok-4.1-fast"), XAI_REASONING);
    assert_string_equal(accepted("grok-code-fast"), XAI_REASONING);
    assert_string_equal(accepted("grok-code-fast-1"), XAI_REASONING);
    assert_string_equal(accepted("grok-3-mini"), "reasoning_effort " XAI_REASONING);
    assert_string_equal(accepted("grok-3-mini-fast"), "reasoning_effort " XAI_REASONING);
    /* grok-3-mini is the longer prefix; grok-3 itself does not reason */
    assert_string_equal(accepted("grok-3"), CHAT);
    assert_string_equal(accepted("grok-3-fast"), CHAT);
    assert_string_equal(accepted("grok-2-1212"), CHAT);
    assert_string_equal(accepted("grok-2-vision-1212"), CHAT);
}

static void test_builtin_openai(void **state)
{
    (void)state;
    assert_string_equal(accepted("gpt-4o"), CHAT);
    assert_string_equal(accepted("gpt-4o-mini"), CHAT);
    assert_string_equal(accepted("gpt-4.1-nano"), CHAT);
    assert_string_equal(accepted("gpt-4-turbo"), CHAT);
    assert_string_equal(accepted("gpt-3.5-turbo"), CHAT);
    assert_string_equal(accepted("o1"), OPENAI_REASONING);
    assert_string_equal(accepted("o1-mini"), OPENAI_REASONING);
    assert_string_equal(accepted("o3-mini"), OPENAI_REASONING);
    assert_string_equal(accepted("o4-mini"), OPENAI_REASONING);
    assert_string_equal(accepted("gpt-5"), OPENAI_REASONING);
    assert_string_equal(accepted("gpt-5-mini"), OPENAI_REASONING);
}

static void test_unknown_models(void **state)
{
    (void)state;
    assert_string_equal(accepted("llama-3.1-70b"), EVERY);
    assert_string_equal(accepted("mistral-large"), EVERY);
    assert_string_equal(accepted(""), EVERY);
    assert_string_equal(accepted(NULL), EVERY);
    /* a prefix counts only where the name goes on with '-' or '.' */
    assert_string_equal(accepted("grok-40"), EVERY);
    assert_string_equal(accepted("o10"), EVERY);
    assert_string_equal(accepted("grok"), EVERY);
    assert_string_equal(accepted("GROK-4"), EVERY);
}

/* ------------------------------------------------------------------------
 * FLEETQ_MODEL_PARAMS
 * --------------------------------------------------------------------- */

static void override_ok(const char *spec)
{
    char err[256];
    if (fq_model_params_override(spec, err, sizeof(err)) != 0)
        fail_msg("override \"%s\": %s", spec ? spec : "(null)", err);
    assert_string_equal(err, "");
}

/* The override fails with exactly want and changes nothing. */
static void override_bad(const char *spec, const char *want)
{
    char err[256];
    char before[4][256];
    static const char *const probes[] = {"grok-4", "grok-3", "my-model", "gpt-4o"};
    for (int i = 0; i < 4; i++)
        snprintf(before[i], sizeof(before[i]), "%s", accepted(probes[i]));
    assert_int_equal(fq_model_params_override(spec, err, sizeof(err)), -1);
    if (strcmp(err, want) != 0)
        fail_msg("override \"%s\":\n  %s\nnot\n  %s", spec, err, want);
    for (int i = 0; i < 4; i++)
        assert_string_equal(accepted(probes[i]), before[i]);
}

static void test_override_replaces_and_adds(void **state)
{
    (void)state;
    override_ok("grok-4=top_p/stop, my-model = seed / reasoning_effort ,gpt-4o=");
    assert_string_equal(accepted("grok-4"), "top_p stop");
    assert_string_equal(accepted("grok-4-fast"), "top_p stop");   /* by prefix, too */
    assert_string_equal(accepted("my-model"), "reasoning_effort seed");
    assert_string_equal(accepted("my-model-2"), "reasoning_effort seed");
    assert_string_equal(accepted("gpt-4o"), "");
    assert_string_equal(accepted("gpt-4o-mini"), "");
    /* the rest of the table is as it was */
    assert_string_equal(accepted("grok-3-mini"), "reasoning_effort " XAI_REASONING);
    assert_string_equal(accepted("gpt-4.1"), CHAT);

    /* an entry more exact than a built-in one wins for its own names */
    override_ok("grok-4-fast=seed");
    assert_string_equal(accepted("grok-4-fast-reasoning"), "seed");
    assert_string_equal(accepted("grok-4-0709"), "top_p stop");

    /* empty, blank and comma-only values change nothing */
    override_ok("");
    override_ok(" , ,");
    override_ok(NULL);
    assert_string_equal(accepted("grok-4"), "top_p stop");
    assert_int_equal(fq_model_params_override("", NULL, 0), 0);

    fq_model_params_reset();
    assert_string_equal(accepted("grok-4"), XAI_REASONING);
    assert_string_equal(accepted("my-model"), EVERY);
}

static void test_override_errors(void **state)
{
    (void)state;
    override_bad("grok-4=top_p,grok-3",
                 "entry \"grok-3\" must look like model=param/param (the parameters that model "
                 "accepts, e.g. grok-4=top_p/seed; model= for none)");
    override_bad("grok-4=top_p/temperature",
                 "entry \"grok-4=top_p/temperature\": unknown parameter \"temperature\"; known: "
                 FQ_MODEL_PARAM_NAMES);
    override_bad("grok-4=top_p//seed",
                 "entry \"grok-4=top_p//seed\": unknown parameter \"\"; known: "
                 FQ_MODEL_PARAM_NAMES);
    override_bad("grok-4=seed/seed", "entry \"grok-4=seed/seed\": names seed twice");
    override_bad("=seed", "entry \"=seed\": the model name must be 1 to 63 characters of "
                          "A-Z a-z 0-9 . _ : -");
    override_bad("my model=seed", "entry \"my model=seed\": the model name must be 1 to 63 "
                                  "characters of A-Z a-z 0-9 . _ : -");
    override_bad("a=seed,b=top_p,a=stop", "model a is given twice");
    override_bad("x=\x01", "entry \"x=\\x01\": unknown parameter \"\\x01\"; known: "
                           FQ_MODEL_PARAM_NAMES);

    char name[80];
    memset(name, 'm', 64);
    snprintf(name + 64, sizeof(name) - 64, "=seed");
    char want[256];
    snprintf(want, sizeof(want), "entry \"%.40s\"... (69 bytes): the model name must be 1 to "
             "63 characters of A-Z a-z 0-9 . _ : -", name);
    override_bad(name, want);
    snprintf(name + 63, sizeof(name) - 63, "=seed");
    override_ok(name);   /* 63 characters */
    fq_model_params_reset();

    /* a bad entry after good ones applies none of them */
    override_bad("grok-4=stop,grok-3=bogus",
                 "entry \"grok-3=bogus\": unknown parameter \"bogus\"; known: "
                 FQ_MODEL_PARAM_NAMES);
    assert_string_equal(accepted("grok-4"), XAI_REASONING);

    /* no room for the error line is no reason to crash */
    assert_int_equal(fq_model_params_override("x", NULL, 0), -1);
}

static void test_override_table_full(void **state)
{
    (void)state;
    char spec[64 * 16] = "";
    /* 13 built-in entries: 51 new ones fill the table */
    for (int i = 0; i < 51; i++)
        snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%sm%d=seed", i ? "," : "",
                 i);
    override_ok(spec);
    assert_string_equal(accepted("m50"), "seed");
    /* replacing is still possible, adding is not */
    override_ok("m0=top_p,grok-4=");
    override_bad("m1=stop,one-more=seed", "too many models (the table holds at most 64)");
    assert_string_equal(accepted("m1"), "seed");
    fq_model_params_reset();

    char longer[64 * 16] = "";
    for (int i = 0; i < 70; i++)
        snprintf(longer + strlen(longer), sizeof(longer) - strlen(longer), "%sn%d=", i ? "," : "",
                 i);
    override_bad(longer, "too many models (the table holds at most 64)");
    assert_string_equal(accepted("n0"), EVERY);
}

/* ------------------------------------------------------------------------
 * Applying a task's parameters to a request body
 * --------------------------------------------------------------------- */

/* body after fq_model_params_apply, printed, and what it dropped. */
static int apply(const char *model, const char *params, char *printed, size_t plen,
                 char *dropped, size_t dlen)
{
    cJSON *body = cJSON_CreateObject();
    assert_non_null(body);
    assert_non_null(cJSON_AddStringToObject(body, "model", model ? model : "none"));
    int rc = fq_model_params_apply(body, model, params, dropped, dlen);
    char *text = cJSON_PrintUnformatted(body);
    snprintf(printed, plen, "%s", text);
    cJSON_free(text);
    cJSON_Delete(body);
    return rc;
}

#define ALL_PARAMS                                                                         \
    "{\"reasoning_effort\":\"high\",\"top_p\":0.9,\"seed\":9007199254740992,\"stop\":[\"x\"]," \
    "\"presence_penalty\":-1.5,\"frequency_penalty\":0.5,\"response_format\":{\"type\":\"text\"}}"

static void test_apply(void **state)
{
    (void)state;
    char body[1024], dropped[256];

    assert_int_equal(apply("grok-4-fast", ALL_PARAMS, body, sizeof(body), dropped,
                           sizeof(dropped)), 0);
    assert_string_equal(body, "{\"model\":\"grok-4-fast\",\"top_p\":0.9,\"seed\":9007199254740992,"
                              "\"response_format\":{\"type\":\"text\"}}");
    assert_string_equal(dropped, "reasoning_effort, stop, presence_penalty, frequency_penalty");

    assert_int_equal(apply("grok-3-mini", ALL_PARAMS, body, sizeof(body), dropped,
                           sizeof(dropped)), 0);
    assert_string_equal(dropped, "stop, presence_penalty, frequency_penalty");
    assert_non_null(strstr(body, "\"reasoning_effort\":\"high\""));

    assert_int_equal(apply("grok-3", ALL_PARAMS, body, sizeof(body), dropped,
                           sizeof(dropped)), 0);
    assert_string_equal(dropped, "reasoning_effort");

    /* an unknown model gets everything, in the order given */
    assert_int_equal(apply("local-model", "{\"stop\":\"END\",\"top_p\":1}", body, sizeof(body),
                           dropped, sizeof(dropped)), 0);
    assert_string_equal(body, "{\"model\":\"local-model\",\"stop\":\"END\",\"top_p\":1}");
    assert_string_equal(dropped, "");

    /* nothing to add */
    strcpy(dropped, "stale");
    assert_int_equal(apply("grok-4", NULL, body, sizeof(body), dropped, sizeof(dropped)), 0);
    assert_string_equal(body, "{\"model\":\"grok-4\"}");
    assert_string_equal(dropped, "");
    assert_int_equal(apply("grok-4", "{}", body, sizeof(body), dropped, sizeof(dropped)), 0);
    assert_string_equal(dropped, "");

    /* a member the body already has is replaced, not doubled */
    assert_int_equal(apply("x", "{\"model\":\"y\"}", body, sizeof(body), dropped,
                           sizeof(dropped)), 0);
    assert_string_equal(body, "{\"model\":\"x\"}");   /* model is not a parameter */
    assert_string_equal(dropped, "model");
    cJSON *b = cJSON_Parse("{\"seed\":1}");
    assert_int_equal(fq_model_params_apply(b, "x", "{\"seed\":2}", NULL, 0), 0);
    char *text = cJSON_PrintUnformatted(b);
    assert_string_equal(text, "{\"seed\":2}");
    cJSON_free(text);
    cJSON_Delete(b);
}

static void test_apply_dropped_bounds(void **state)
{
    (void)state;
    char body[1024], dropped[12];
    memset(dropped, 'x', sizeof(dropped));
    assert_int_equal(apply("gpt-5", ALL_PARAMS, body, sizeof(body), dropped, sizeof(dropped)),
                     0);
    assert_string_equal(dropped, "top_p, stop");   /* cut to fit, still ended */
    char one[1] = {'x'};
    assert_int_equal(apply("gpt-5", ALL_PARAMS, body, sizeof(body), one, sizeof(one)), 0);
    assert_int_equal(one[0], '\0');
    assert_int_equal(apply("gpt-5", ALL_PARAMS, body, sizeof(body), NULL, 0), 0);
    assert_non_null(strstr(body, "\"seed\":9007199254740992"));
}

static void test_apply_bad_params(void **state)
{
    (void)state;
    char body[256], dropped[64];
    static const char *const bad[] = {"", "[1]", "\"top_p\"", "{\"top_p\":", "{} x", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (apply("grok-4", bad[i], body, sizeof(body), dropped, sizeof(dropped)) != -1)
            fail_msg("params %s accepted", bad[i]);
        assert_string_equal(body, "{\"model\":\"grok-4\"}");
        assert_string_equal(dropped, "");
    }
    assert_int_equal(fq_model_params_apply(NULL, "grok-4", "{}", dropped, sizeof(dropped)), -1);
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(fq_model_params_apply(arr, "grok-4", "{}", dropped, sizeof(dropped)), -1);
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_param_index, reset),
        cmocka_unit_test_setup(test_builtin_xai, reset),
        cmocka_unit_test_setup(test_builtin_openai, reset),
        cmocka_unit_test_setup(test_unknown_models, reset),
        cmocka_unit_test_setup(test_override_replaces_and_adds, reset),
        cmocka_unit_test_setup(test_override_errors, reset),
        cmocka_unit_test_setup(test_override_table_full, reset),
        cmocka_unit_test_setup(test_apply, reset),
        cmocka_unit_test_setup(test_apply_dropped_bounds, reset),
        cmocka_unit_test_setup(test_apply_bad_params, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
