/* fuzz_submission.c -- libFuzzer harness for the submission parser
 * fq_task_parse_submission() and the task hash round trip (task.h).
 *
 * Input format: the first byte is the separator; the rest is split at every
 * separator byte into tokens, which pair up as name, value, name, value, ...
 * (a name without a value gets ""). So "\nrole\ncode\nprompt\nhi" is a
 * plain submission, and a separator other than 0x00 lets values carry NUL
 * bytes. Each token is copied into its own buffer of exactly its length,
 * so that reading one byte past a field trips AddressSanitizer.
 *
 * Every input is parsed twice, with a 256-byte submission limit and with
 * the default (1 MiB): the small limit may only turn an accepted
 * submission into a rejection, never change what is accepted. Then:
 *  - a rejection must carry one error line: non-empty, no control
 *    characters, valid UTF-8 unless it was cut at the buffer's end, and
 *    the task must hold no strings;
 *  - an accepted task must respect every limit of task.h (its fallback a
 *    list of distinct model names, its params a JSON object of known
 *    parameters in their order), and
 *    fq_task_to_hash() -> fq_task_from_hash() must give back the same
 *    task, whose hash must in turn be the same field list.
 * A broken invariant calls abort(), which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fields.h"
#include "model_params.h"
#include "task.h"
#include "text.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERR_LEN 512
#define SMALL_LIMIT 256


/* ------------------------------------------------------------------------
 * Splitting the input into fields
 * --------------------------------------------------------------------- */

typedef struct tokens {
    size_t n;
    char **s;
    size_t *len;
} tokens;

static void tokens_free(tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->len);
    memset(t, 0, sizeof(*t));
}

/* Splits data at sep into exactly-sized heap copies. Returns 0 or -1. */
static int tokens_split(const uint8_t *data, size_t size, uint8_t sep, tokens *t)
{
    size_t count = 1;
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < size; i++)
        count += data[i] == sep;
    t->s = calloc(count, sizeof(*t->s));
    t->len = calloc(count, sizeof(*t->len));
    if (t->s == NULL || t->len == NULL)
        return -1;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != sep)
            continue;
        size_t len = i - start;
        char *copy = malloc(len ? len : 1);
        if (copy == NULL)
            return -1;
        if (len > 0)
            memcpy(copy, data + start, len);
        t->s[t->n] = copy;
        t->len[t->n] = len;
        t->n++;
        start = i + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Invariants
 * --------------------------------------------------------------------- */

static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void check_error_line(const char *err)
{
    fuzz_check_error_line(err, ERR_LEN, 1);
}

static void check_rejected(const fq_task *t, int role)
{
    if (t->model || t->system || t->prompt || t->messages || t->fallback || t->params)
        fail("rejected task still holds strings");
    if (role < -1 || role >= FQ_ROLE_COUNT)
        fail("role_or_minus1 out of range on rejection");
    if (role >= 0 && (int)t->role != role)
        fail("role_or_minus1 differs from out->role on rejection");
    if (t->id[0] != '\0' && !fq_id_valid(t->id, strlen(t->id)))
        fail("rejected task carries an invalid id");
}

/* NULL, "" or 1..FQ_FALLBACK_MAX distinct model names joined by commas. */
static void check_fallback(const char *list)
{
    if (list == NULL || list[0] == '\0')
        return;
    char names[FQ_FALLBACK_MAX][FQ_MODEL_NAME_MAX + 1];
    int n = 0;
    for (const char *p = list;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == FQ_FALLBACK_MAX || !fq_text_name_valid(p, len, FQ_MODEL_NAME_MAX))
            fail("fallback is not a list of model names");
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (int i = 0; i < n; i++) {
            if (strcmp(names[i], names[n]) == 0)
                fail("fallback names a model twice");
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

/* NULL, or a non-empty JSON object of known model parameters in order. */
static void check_params(const char *params)
{
    if (params == NULL)
        return;
    cJSON *j = cJSON_ParseWithOpts(params, NULL, 1);
    if (!cJSON_IsObject(j) || j->child == NULL)
        fail("params is not a non-empty JSON object");
    int last = -1;
    for (const cJSON *it = j->child; it != NULL; it = it->next) {
        int i = fq_model_param_index(it->string, strlen(it->string));
        if (i <= last)
            fail("params holds an unknown parameter, or one out of order");
        last = i;
    }
    cJSON_Delete(j);
}

static void check_accepted(const fq_task *t, int role)
{
    if ((int)t->role < 0 || (int)t->role >= FQ_ROLE_COUNT || role != (int)t->role)
        fail("accepted task has a bad role");
    if (t->priority < -1 || t->priority > FQ_PRIORITY_MAX)
        fail("priority out of range");
    if (t->id[0] != '\0' && !fq_id_valid(t->id, strlen(t->id)))
        fail("accepted task has an invalid id");
    if ((t->prompt == NULL) == (t->messages == NULL))
        fail("accepted task must have exactly one of prompt and messages");
    if (t->prompt != NULL && !fq_utf8_valid(t->prompt, strlen(t->prompt)))
        fail("prompt is not valid UTF-8");
    if (t->prompt != NULL && t->prompt[0] == '\0')
        fail("prompt is empty");
    if (t->messages != NULL && (t->messages[0] != '[' || !fq_utf8_valid(t->messages,
                                                                      strlen(t->messages))))
        fail("messages is not a JSON array in UTF-8");
    if (t->system != NULL && !fq_utf8_valid(t->system, strlen(t->system)))
        fail("system is not valid UTF-8");
    if (t->model != NULL && !fq_text_name_valid(t->model, strlen(t->model), 64))
        fail("model is not a valid name");
    if (t->max_tokens < 0 || t->max_tokens > FQ_MAX_TOKENS_LIMIT)
        fail("max_tokens out of range");
    if (t->has_temperature && !(t->temperature >= 0.0 && t->temperature <= FQ_TEMPERATURE_MAX))
        fail("temperature out of range");
    if (t->max_attempts < 0 || t->max_attempts > FQ_MAX_ATTEMPTS_LIMIT)
        fail("max_attempts out of range");
    if (t->timeout_s < 0 || t->timeout_s > FQ_TIMEOUT_LIMIT)
        fail("timeout out of range");
    if (t->delay_s < 0 || t->delay_s > FQ_DELAY_LIMIT)
        fail("delay out of range");
    if (t->ttl_s < 0 || t->ttl_s > FQ_TTL_LIMIT)
        fail("ttl out of range");
    if (t->cache < -1 || t->cache > 1 || t->stream < -1 || t->stream > 1)
        fail("cache or stream out of range");
    check_fallback(t->fallback);
    check_params(t->params);
}

static void check_same_task(const fq_task *a, const fq_task *b, const char *what)
{
    if (strcmp(a->id, b->id) != 0 || a->role != b->role || a->priority != b->priority ||
        !str_eq(a->model, b->model) || !str_eq(a->system, b->system) ||
        !str_eq(a->prompt, b->prompt) || !str_eq(a->messages, b->messages) ||
        a->max_tokens != b->max_tokens || a->has_temperature != b->has_temperature ||
        (a->has_temperature && a->temperature != b->temperature) ||
        a->max_attempts != b->max_attempts || a->timeout_s != b->timeout_s ||
        a->delay_s != b->delay_s || a->ttl_s != b->ttl_s || a->cache != b->cache ||
        a->stream != b->stream || !str_eq(a->fallback, b->fallback) ||
        !str_eq(a->params, b->params))
        fail(what);
}

/* The task's hash as fq_task_to_hash() writes it, plus the id the
 * coordinator stores beside it. Returns 0 or -1 (out of memory). */
static int task_hash(const fq_task *t, fq_argv *a)
{
    fq_argv_init(a);
    if (fq_task_to_hash(t, a) != 0)
        return -1;
    if (t->id[0] != '\0' && fq_argv_pair(a, "id", t->id) != 0)
        return -1;
    if (a->argc % 2 != 0)
        fail("task hash has an odd number of elements");
    return 0;
}

static void check_round_trip(const fq_task *t)
{
    fq_argv a, b;
    fq_task back;
    char err[ERR_LEN];
    if (task_hash(t, &a) != 0) {
        fq_argv_free(&a);
        return;
    }
    size_t n = (size_t)a.argc / 2;
    fq_field *f = calloc(n ? n : 1, sizeof(*f));
    if (f == NULL) {
        fq_argv_free(&a);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        f[i].name = a.argv[2 * i];
        f[i].name_len = a.argvlen[2 * i];
        f[i].value = a.argv[2 * i + 1];
        f[i].value_len = a.argvlen[2 * i + 1];
    }
    if (fq_task_from_hash(f, n, &back, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_submission: from_hash said: %s\n", err);
        fail("fq_task_from_hash rejected what fq_task_to_hash wrote");
    }
    check_same_task(t, &back, "task hash round trip changed the task");

    if (task_hash(&back, &b) == 0) {
        if (a.argc != b.argc)
            fail("task hash of the read-back task has a different length");
        for (int i = 0; i < a.argc; i++) {
            if (a.argvlen[i] != b.argvlen[i] || memcmp(a.argv[i], b.argv[i], a.argvlen[i]) != 0)
                fail("task hash of the read-back task differs");
        }
    }
    fq_argv_free(&b);
    fq_task_free(&back);
    free(f);
    fq_argv_free(&a);
}

/* ------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tokens tk;
    fq_task small, full;
    int role_small = -2, role_full = -2;
    char err_small[ERR_LEN], err_full[ERR_LEN];
    fq_task_limits limits = {.max_submission_bytes = SMALL_LIMIT};

    if (size == 0)
        return 0;
    if (tokens_split(data + 1, size - 1, data[0], &tk) != 0) {
        tokens_free(&tk);
        return 0;
    }
    size_t nf = (tk.n + 1) / 2;
    fq_field *fields = calloc(nf, sizeof(*fields));
    if (fields == NULL) {
        tokens_free(&tk);
        return 0;
    }
    static const char empty[1] = "";
    for (size_t i = 0; i < nf; i++) {
        fields[i].name = tk.s[2 * i];
        fields[i].name_len = tk.len[2 * i];
        if (2 * i + 1 < tk.n) {
            fields[i].value = tk.s[2 * i + 1];
            fields[i].value_len = tk.len[2 * i + 1];
        } else {
            fields[i].value = empty;
            fields[i].value_len = 0;
        }
    }

    int rc_small = fq_task_parse_submission(fields, nf, &limits, &small, &role_small, err_small,
                                            sizeof(err_small));
    int rc_full = fq_task_parse_submission(fields, nf, NULL, &full, &role_full, err_full,
                                           sizeof(err_full));

    if (rc_small != 0 && rc_small != -1)
        fail("unexpected return value");
    if (rc_full != 0 && rc_full != -1)
        fail("unexpected return value");
    if (rc_small == 0 && rc_full != 0)
        fail("accepted under the small limit but rejected under the default one");
    if (rc_small == 0) {
        check_accepted(&small, role_small);
        check_same_task(&small, &full, "the size limit changed an accepted task");
    } else {
        check_error_line(err_small);
        check_rejected(&small, role_small);
    }
    if (rc_full == 0) {
        check_accepted(&full, role_full);
        check_round_trip(&full);
    } else {
        check_error_line(err_full);
        check_rejected(&full, role_full);
    }

    fq_task_free(&small);
    fq_task_free(&full);
    free(fields);
    tokens_free(&tk);
    return 0;
}
