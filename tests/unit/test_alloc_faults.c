/* test_alloc_faults.c -- every allocation of the parsers and argument
 * builders, failed in turn (falloc.h): the submission parser and the task
 * hash, the request builder, the response and error parsers, the stream
 * parser, the store's records, the model limits, the model parameters and
 * the script arguments.
 *
 * Each path runs once without a failure, which counts its allocations
 * and gives its result as a digest string; then once per allocation,
 * with that one failed. Every run must free all it allocated, and end
 * either with the first run's digest or with a clean error: an error
 * status or message, never a result with a part missing (an argument
 * vector with an element dropped, a parsed field silently empty).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "api.h"
#include "config.h"
#include "falloc.h"
#include "fields.h"
#include "keys.h"
#include "fleet_limits.h"
#include "model_params.h"
#include "record.h"
#include "sse.h"
#include "task.h"

#define DIGEST_MAX 8192

/* A path under test: 0 with its result in digest, or -1 for a clean error. */
typedef int (*path_fn)(char *digest, size_t len);

/* digest += the argv's elements */
static int digest_argv(const fq_argv *a, char *digest, size_t len)
{
    if (!fq_argv_ok(a))
        return -1;
    size_t used = strlen(digest);
    for (int i = 0; i < a->argc && used < len; i++)
        used += (size_t)snprintf(digest + used, len - used, "[%.*s]", (int)a->argvlen[i],
                                 a->argv[i]);
    return 0;
}

static void digestf(char *digest, size_t len, const char *fmt, ...)
{
    size_t used = strlen(digest);
    if (used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(digest + used, len - used, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * The paths
 * --------------------------------------------------------------------- */

static const char *const submission[] = {
    "id", "plan-42", "role", "code", "priority", "high", "model", "grok-code-fast-1",
    "system", "You review code.", "max_tokens", "300", "temperature", "0.4",
    "messages", "[{\"role\":\"user\",\"content\":\"Review this diff\"},"
                "{\"role\":\"assistant\",\"content\":\"Which one?\"},"
                "{\"role\":\"user\",\"content\":\"The last one, \\u00e9\"}]",
    "max_attempts", "4", "timeout", "60", "ttl", "600", "cache", "false",
    "fallback", "grok-3, grok-3-mini", "top_p", "0.9", "seed", "42",
    "stop", "[\"END\",\"###\"]", "response_format", "{\"type\":\"json_object\"}",
};

/* submission -> task -> hash fields -> task again */
static int path_task(char *digest, size_t len)
{
    size_t n = sizeof(submission) / sizeof(submission[0]) / 2;
    fq_field fields[32];
    for (size_t i = 0; i < n; i++)
        fields[i] = (fq_field){submission[2 * i], strlen(submission[2 * i]),
                               submission[2 * i + 1], strlen(submission[2 * i + 1])};
    fq_task_limits limits = {.max_submission_bytes = 1 << 20};
    fq_task task, back;
    fq_task_init(&task);
    fq_task_init(&back);
    int role = -1, rc = -1;
    char err[256] = "";
    fq_argv hash;
    fq_argv_init(&hash);
    if (fq_task_parse_submission(fields, n, &limits, &task, &role, err, sizeof(err)) != 0) {
        assert_true(err[0] != '\0');   /* an error says why */
        goto out;
    }
    if (fq_task_to_hash(&task, &hash) != 0 || digest_argv(&hash, digest, len) != 0)
        goto out;
    fq_field back_fields[32];
    size_t nb = 0;
    for (int i = 0; i + 1 < hash.argc && nb < 32; i += 2)
        back_fields[nb++] = (fq_field){hash.argv[i], hash.argvlen[i], hash.argv[i + 1],
                                       hash.argvlen[i + 1]};
    err[0] = '\0';
    if (fq_task_from_hash(back_fields, nb, &back, err, sizeof(err)) != 0) {
        assert_true(err[0] != '\0');
        goto out;
    }
    digestf(digest, len, "|%s|%s|%s|%d|%s|%s|%d", back.model ? back.model : "-",
            back.system ? back.system : "-", back.messages ? back.messages : "-",
            back.max_tokens, back.fallback ? back.fallback : "-",
            back.params ? back.params : "-", back.cache);
    rc = 0;
out:
    fq_argv_free(&hash);
    fq_task_free(&task);
    fq_task_free(&back);
    return rc;
}

static int path_request(char *digest, size_t len)
{
    fq_api_request req = {
        .model = "grok-4",
        .system = "Be brief.",
        .messages = "[{\"role\":\"user\",\"content\":\"Plan the release\"}]",
        .max_tokens = 200,
        .has_temperature = 1,
        .temperature = 0.2,
        .stream = 1,
    };
    char *body = fq_api_build_request(&req);
    if (body == NULL)
        return -1;
    digestf(digest, len, "%s", body);
    free(body);
    return 0;
}

static int digest_result(fq_api_result *r, char *digest, size_t len)
{
    digestf(digest, len, "%s|%ld|%s|%s|%s|%lld/%lld/%lld/%lld;", fq_outcome_name(r->outcome),
            r->http_status, r->content ? r->content : "-",
            r->finish_reason ? r->finish_reason : "-", r->error ? r->error : "-",
            (long long)r->usage.prompt_tokens, (long long)r->usage.completion_tokens,
            (long long)r->usage.reasoning_tokens, (long long)r->usage.cached_tokens);
    return 0;
}

static const char completion[] =
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"grok-4\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Ship it on Friday.\","
    "\"reasoning_content\":\"Weighing the risks.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":6,\"total_tokens\":57,"
    "\"prompt_tokens_details\":{\"cached_tokens\":4},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":30}}}";
static const char xai_error[] =
    "{\"code\":\"Some resource has been exhausted\",\"error\":\"Too many requests for "
    "model grok-4: 4 per second\"}";
static const char openai_error[] =
    "{\"error\":{\"message\":\"Rate limit reached for gpt-4o on tokens per min (TPM): "
    "Limit 30000, Used 29000\",\"type\":\"tokens\",\"param\":null,\"code\":"
    "\"rate_limit_exceeded\"}}";

/* The outcome of a whole body is all or nothing: a failed allocation may
 * make it malformed (a clean error), never OK with a part missing. */
static int parse_one(long status, const char *body, char *digest, size_t len)
{
    fq_api_result r;
    fq_api_result_reset(&r, status);
    fq_api_parse_response(status, body, strlen(body), 0, NULL, &r);
    digest_result(&r, digest, len);
    fq_api_result_free(&r);
    return 0;
}

static int path_responses(char *digest, size_t len)
{
    parse_one(200, completion, digest, len);
    parse_one(429, xai_error, digest, len);
    parse_one(429, openai_error, digest, len);
    return 0;
}

static const char stream[] =
    "data: {\"id\":\"s1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"s1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello, \"}}]}\n\n"
    "data: {\"id\":\"s1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"world\"}}]}\n\n"
    "data: {\"id\":\"s1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"s1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":3,\"total_tokens\":12}}\n\n"
    "data: [DONE]\n\n";

static int path_stream(char *digest, size_t len)
{
    fq_sse *p = fq_sse_new();
    if (p == NULL)
        return -1;
    /* in pieces of 13 bytes, as a network delivers them */
    for (size_t off = 0; off < sizeof(stream) - 1; off += 13) {
        size_t n = sizeof(stream) - 1 - off < 13 ? sizeof(stream) - 1 - off : 13;
        fq_sse_feed(p, stream + off, n);
    }
    fq_sse_finish(p);
    fq_api_result r;
    fq_api_result_reset(&r, 200);
    fq_sse_result(p, 200, &r);
    digest_result(&r, digest, len);
    fq_api_result_free(&r);
    fq_sse_free(p);
    return 0;
}

static int path_records(char *digest, size_t len)
{
    fq_final_record fin = {
        .task_id = "plan-42", .role = "ceo", .priority = 0, .status = "done",
        .model = "grok-4", .prompt = "Plan the release", .output = "Ship it on Friday.",
        .error = NULL, .attempts = 2, .prompt_tokens = 21, .completion_tokens = 6,
        .reasoning_tokens = 30, .cached_tokens = 4, .cost_ticks = 123456,
        .latency_ms = 840, .submitted_at = 1796276455000, .started_at = 1796276455100,
        .finished_at = 1796276455940, .worker = "host:1:ceo",
    };
    fq_attempt_record att = {
        .task_id = "plan-42", .n = 2, .http_status = 200, .outcome = "ok", .error = NULL,
        .latency_ms = 840, .started_at = 1796276455100, .worker = "host:1:ceo",
    };
    fq_argv a, b;
    fq_argv_init(&a);
    fq_argv_init(&b);
    int rc = -1;
    if (fq_record_final_to_fields(&fin, &a) != 0 || fq_record_attempt_to_fields(&att, &b) != 0 ||
        digest_argv(&a, digest, len) != 0 || digest_argv(&b, digest, len) != 0)
        goto out;
    fq_field f[64];
    size_t n = 0;
    for (int i = 0; i + 1 < a.argc && n < 64; i += 2)
        f[n++] = (fq_field){a.argv[i], a.argvlen[i], a.argv[i + 1], a.argvlen[i + 1]};
    fq_final_record back;
    if (fq_record_final_from_fields(f, n, &back) != 0)
        goto out;
    digestf(digest, len, "|%s|%s|%s|%lld", back.task_id ? back.task_id : "-",
            back.output ? back.output : "-", back.worker ? back.worker : "-",
            (long long)back.cost_ticks);
    fq_record_final_free(&back);
    rc = 0;
out:
    fq_argv_free(&a);
    fq_argv_free(&b);
    return rc;
}

static int path_limits(char *digest, size_t len)
{
    fq_model_limit m[8];
    size_t n = 0;
    char err[256] = "";
    if (fq_model_limits_parse("grok-4:rpm=240,tpm=100000,inflight=4;grok-code-fast-1:rpm=1200",
                              m, 8, &n, err, sizeof(err)) != 0) {
        assert_true(err[0] != '\0');
        return -1;
    }
    fq_argv a;
    fq_argv_init(&a);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fq_model_limit_argv(&m[i], &a);
    if (rc == 0)
        rc = digest_argv(&a, digest, len);
    fq_argv_free(&a);
    return rc;
}

/* A task's model parameters added to a request body, after an override. */
static int path_model_params(char *digest, size_t len)
{
    char err[256] = "", dropped[128];
    fq_model_params_reset();
    if (fq_model_params_override("grok-4=top_p/seed, my-model=stop", err, sizeof(err)) != 0)
        fail_msg("override: %s", err);
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return -1;
    int rc = fq_model_params_apply(body, "grok-4-fast",
                                   "{\"top_p\":0.5,\"seed\":9007199254740992,\"stop\":[\"x\"],"
                                   "\"response_format\":{\"type\":\"text\"}}",
                                   dropped, sizeof(dropped));
    char *printed = rc == 0 ? cJSON_PrintUnformatted(body) : NULL;
    if (printed != NULL)
        digestf(digest, len, "%s|%s", printed, dropped);
    cJSON_free(printed);
    cJSON_Delete(body);
    fq_model_params_reset();
    return printed != NULL ? 0 : -1;
}

/* The configuration, from an environment with a key, roles' systems,
 * model limits and a Redis URL with a password. */
static int path_config(char *digest, size_t len)
{
    fq_config cfg;
    char err[512] = "";
    if (fq_config_load(&cfg, FQ_NEED_KEY, err, sizeof(err)) != 0) {
        assert_true(err[0] != '\0');
        return -1;
    }
    digestf(digest, len, "%s:%d|%s|%s|%zu|%s|%s|%s", cfg.redis_host, cfg.redis_port,
            cfg.base_url, cfg.key_prefix, cfg.n_model_limits,
            cfg.roles[FQ_ROLE_CODE].system ? cfg.roles[FQ_ROLE_CODE].system : "-",
            cfg.roles[FQ_ROLE_CODE].fallback ? cfg.roles[FQ_ROLE_CODE].fallback : "-",
            cfg.api_key != NULL ? "key" : "no key");
    fq_config_free(&cfg);
    return 0;
}

/* The arguments of a script call: KEYS then ARGV, none dropped. */
static int path_script_args(char *digest, size_t len)
{
    fq_argv a;
    fq_argv_init(&a);
    char longer[600];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    int rc = fq_cancel_args(&a, "plan-42", 7, "cancelled by operator", "1-1", 0);
    for (int i = 0; i < 40 && rc == 0; i++)   /* past the first growth of the vector */
        rc = fq_argv_addf(&a, "%s:%d", i % 2 ? longer : "short", i);
    if (rc == 0)
        rc = fq_argv_add_task_key(&a, "plan-42", 7) | fq_argv_pairll(&a, "attempts", 3);
    /* a failure anywhere is sticky: later appends fail too */
    if (rc != 0)
        assert_int_equal(fq_argv_adds(&a, "after"), -1);
    rc = rc == 0 ? digest_argv(&a, digest, len) : -1;
    fq_argv_free(&a);
    return rc;
}

/* ------------------------------------------------------------------------
 * The harness
 * --------------------------------------------------------------------- */

static void run_path(const char *name, path_fn fn)
{
    static char first[DIGEST_MAX], digest[DIGEST_MAX];
    first[0] = '\0';
    fq_falloc_fail_at(0);
    if (fn(first, sizeof(first)) != 0)
        fail_msg("%s fails without an allocation failure", name);
    long total = fq_falloc_count();
    assert_int_equal(fq_falloc_live(), 0);
    assert_true(total > 0);
    long errors = 0;
    for (long nth = 1; nth <= total; nth++) {
        digest[0] = '\0';
        fq_falloc_fail_at(nth);
        int rc = fn(digest, sizeof(digest));
        if (fq_falloc_live() != 0)
            fail_msg("%s: %ld blocks leaked when allocation %ld of %ld failed", name,
                     fq_falloc_live(), nth, total);
        if (rc != 0) {
            errors++;
        } else if (strcmp(digest, first) != 0) {
            fail_msg("%s: allocation %ld of %ld failed and the result changed without an "
                     "error:\n  %s\nnot\n  %s", name, nth, total, digest, first);
        }
        assert_true(fq_falloc_failed());
    }
    fq_falloc_fail_at(0);
    print_message("%s: %ld allocations failed in turn, %ld ended in a clean error, the others "
                  "gave the same result\n", name, total, errors);
}

/* The result parsers report a failure in the result itself: each result
 * of a run (digests separated by ';') is either the first run's, or not
 * OK (malformed, with its error): never OK with a part missing. */
static void run_result_path(const char *name, path_fn fn)
{
    static char first[DIGEST_MAX], digest[DIGEST_MAX];
    first[0] = '\0';
    fq_falloc_fail_at(0);
    assert_int_equal(fn(first, sizeof(first)), 0);
    long total = fq_falloc_count();
    assert_int_equal(fq_falloc_live(), 0);
    long changed = 0;
    for (long nth = 1; nth <= total; nth++) {
        digest[0] = '\0';
        fq_falloc_fail_at(nth);
        fn(digest, sizeof(digest));
        if (fq_falloc_live() != 0)
            fail_msg("%s: %ld blocks leaked when allocation %ld of %ld failed", name,
                     fq_falloc_live(), nth, total);
        if (strcmp(digest, first) != 0)
            changed++;
        char *dsave = NULL, *fsave = NULL;
        char d[DIGEST_MAX], f[DIGEST_MAX];
        snprintf(d, sizeof(d), "%s", digest);
        snprintf(f, sizeof(f), "%s", first);
        for (char *dp = strtok_r(d, ";", &dsave), *fp = strtok_r(f, ";", &fsave);
             dp != NULL && fp != NULL;
             dp = strtok_r(NULL, ";", &dsave), fp = strtok_r(NULL, ";", &fsave)) {
            if (strncmp(dp, "ok|", 3) == 0 && strcmp(dp, fp) != 0)
                fail_msg("%s: allocation %ld of %ld failed and an OK result lost a part:\n"
                         "  %s\nnot\n  %s", name, nth, total, dp, fp);
        }
    }
    fq_falloc_fail_at(0);
    print_message("%s: %ld allocations failed in turn, %ld changed a result (then not OK, "
                  "with its error)\n", name, total, changed);
}

static void test_task(void **state) { (void)state; run_path("task", path_task); }
static void test_request(void **state) { (void)state; run_path("request", path_request); }
static void test_records(void **state) { (void)state; run_path("records", path_records); }
static void test_limits(void **state) { (void)state; run_path("limits", path_limits); }
static void test_model_params(void **state)
{
    (void)state;
    run_path("model parameters", path_model_params);
}
static void test_config(void **state)
{
    (void)state;
    setenv("XAI_API_KEY", "test-key-for-the-fault-run", 1);
    setenv("REDIS_URL", "redis://fleet:secret@redis.internal:6380/2", 1);
    setenv("XAI_BASE_URL", "http://127.0.0.1:9/v1", 1);
    setenv("FLEETQ_MODEL_LIMITS", "grok-4:rpm=60,tpm=16000;grok-code-fast-1:rpm=480", 1);
    setenv("FLEETQ_ROLE_CODE_SYSTEM", "You write careful C.", 1);
    setenv("FLEETQ_ROLE_CODE_FALLBACK", "grok-3, grok-3-mini", 1);
    setenv("FLEETQ_KEY_PREFIX", "{fleetq}", 1);
    run_path("configuration", path_config);
    fq_keys_init(FQ_KEY_PREFIX_DEFAULT, (char[8]){0}, 8);
}
static void test_script_args(void **state)
{
    (void)state;
    run_path("script arguments", path_script_args);
}
static void test_responses(void **state)
{
    (void)state;
    run_result_path("responses", path_responses);
}
static void test_stream(void **state) { (void)state; run_result_path("stream", path_stream); }

int main(void)
{
    cJSON_Hooks hooks = {fq_falloc_malloc, fq_falloc_free};
    cJSON_InitHooks(&hooks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_model_params),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_script_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
