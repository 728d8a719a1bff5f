/* task_hash.c -- a parsed task to and from the field list of its task hash
 * (see task.h), and what its limit of attempts is made of.
 *
 * The coordinator writes every accepted task with HSET into
 * `fleetq:task:<id>` and the workers read it back with HGETALL.
 * fq_task_to_hash() appends only the fields that are set (role and priority
 * always); numbers are plain decimals and the temperature is printed with
 * the shortest precision that reads back to the same double; cache and
 * stream are "1" or "0", and the model parameters one JSON object (params).
 * fq_task_from_hash() ignores fields it does not know, because the same hash
 * also holds status, attempts and timestamps. It checks the role, the
 * priority and every number against the limits of task.h (an id that is
 * not valid is left out) and names the field in its error line; texts are
 * copied as they are.
 */
#include "task.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* The shortest %.Ng that reads back as the same double. */
static void format_double(double d, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

int fq_task_to_hash(const fq_task *t, fq_argv *out)
{
    const char *role = fq_role_name(t->role);
    if (role == NULL)
        return -1;
    if (fq_argv_pair(out, "role", role) != 0 || fq_argv_pairll(out, "priority", t->priority) != 0)
        return -1;
    if (t->model != NULL && fq_argv_pair(out, "model", t->model) != 0)
        return -1;
    if (t->system != NULL && fq_argv_pair(out, "system", t->system) != 0)
        return -1;
    if (t->prompt != NULL) {
        if (fq_argv_pair(out, "prompt", t->prompt) != 0)
            return -1;
    } else if (t->messages != NULL) {
        if (fq_argv_pair(out, "messages", t->messages) != 0)
            return -1;
    }
    if (t->max_tokens > 0 && fq_argv_pairll(out, "max_tokens", t->max_tokens) != 0)
        return -1;
    if (t->has_temperature) {
        char buf[40];
        format_double(t->temperature, buf, sizeof(buf));
        if (fq_argv_pair(out, "temperature", buf) != 0)
            return -1;
    }
    if (t->max_attempts > 0 && fq_argv_pairll(out, "max_attempts", t->max_attempts) != 0)
        return -1;
    if (t->timeout_s > 0 && fq_argv_pairll(out, "timeout", t->timeout_s) != 0)
        return -1;
    if (t->delay_s > 0 && fq_argv_pairll(out, "delay", t->delay_s) != 0)
        return -1;
    if (t->ttl_s > 0 && fq_argv_pairll(out, "ttl", t->ttl_s) != 0)
        return -1;
    if (t->parents != NULL && fq_argv_pair(out, "parents", t->parents) != 0)
        return -1;
    if (t->plan > 0 && fq_argv_pairll(out, "plan", t->plan) != 0)
        return -1;
    if (t->context != NULL && (fq_argv_pair(out, "context", t->context) != 0 ||
                               fq_argv_pair(out, "recalled", t->recalled) != 0))
        return -1;
    if (t->cache != 0 && fq_argv_pair(out, "cache", t->cache > 0 ? "1" : "0") != 0)
        return -1;
    if (t->stream != 0 && fq_argv_pair(out, "stream", t->stream > 0 ? "1" : "0") != 0)
        return -1;
    if (t->fallback != NULL && fq_argv_pair(out, "fallback", t->fallback) != 0)
        return -1;
    if (t->params != NULL && fq_argv_pair(out, "params", t->params) != 0)
        return -1;
    return 0;
}

/* Reads an optional non-negative int field of the hash into *out. */
static int hash_int(const fq_field *fields, size_t n, const char *name, int64_t hi, int *out,
                    char *err, size_t errlen)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    int64_t v;
    if (f == NULL)
        return 0;
    if (fq_text_parse_int64(f->value, f->value_len, &v) != 0 || v < 0 || v > hi) {
        fq_text_shown sh;
        return fq_text_fail(err, errlen, "%s: not a valid number in the task hash, got %s", name,
                            fq_text_show(&sh, f->value, f->value_len));
    }
    *out = (int)v;
    return 0;
}

/* Reads an optional "1"/"0" field of the hash into *out as 1/-1. */
static int hash_flag(const fq_field *fields, size_t n, const char *name, int *out, char *err,
                     size_t errlen)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    if (f == NULL)
        return 0;
    if (f->value_len == 1 && (f->value[0] == '1' || f->value[0] == '0')) {
        *out = f->value[0] == '1' ? 1 : -1;
        return 0;
    }
    fq_text_shown sh;
    return fq_text_fail(err, errlen, "%s: must be 1 or 0 in the task hash, got %s", name,
                        fq_text_show(&sh, f->value, f->value_len));
}

static int hash_str(const fq_field *fields, size_t n, const char *name, char **out, char *err,
                    size_t errlen)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    if (f == NULL)
        return 0;
    if ((*out = fq_text_dupn(f->value, f->value_len)) == NULL)
        return fq_text_fail(err, errlen, "%s: out of memory", name);
    return 0;
}

int fq_task_from_hash(const fq_field *fields, size_t n, fq_task *out,
                      char *err, size_t errlen)
{
    const fq_field *f;
    fq_text_shown sh;
    fq_task_init(out);
    if (fields == NULL)
        n = 0;

    f = fq_fields_find(fields, n, "role");
    int role = f ? fq_role_parse(f->value, f->value_len) : -1;
    if (role < 0) {
        if (f != NULL)
            fq_text_fail(err, errlen,
                         "role: must be one of " FQ_ROLE_LIST " in the task hash, got %s",
                         fq_text_show(&sh, f->value, f->value_len));
        else
            fq_text_fail(err, errlen, "role: missing from the task hash");
        goto err;
    }
    out->role = (fq_role)role;

    f = fq_fields_find(fields, n, "id");
    if (f != NULL && fq_id_valid(f->value, f->value_len)) {
        memcpy(out->id, f->value, f->value_len);
        out->id[f->value_len] = '\0';
    }

    f = fq_fields_find(fields, n, "priority");
    if (f != NULL && !(f->value_len == 2 && memcmp(f->value, "-1", 2) == 0)) {
        out->priority = fq_priority_parse(f->value, f->value_len);
        if (out->priority < 0) {
            fq_text_fail(err, errlen, "priority: not a valid priority in the task hash, got %s",
                         fq_text_show(&sh, f->value, f->value_len));
            goto err;
        }
    }

    if (hash_str(fields, n, "prompt", &out->prompt, err, errlen) != 0 ||
        hash_str(fields, n, "messages", &out->messages, err, errlen) != 0 ||
        hash_str(fields, n, "model", &out->model, err, errlen) != 0 ||
        hash_str(fields, n, "system", &out->system, err, errlen) != 0 ||
        hash_str(fields, n, "context", &out->context, err, errlen) != 0 ||
        hash_str(fields, n, "parents", &out->parents, err, errlen) != 0 ||
        hash_str(fields, n, "fallback", &out->fallback, err, errlen) != 0 ||
        hash_str(fields, n, "params", &out->params, err, errlen) != 0 ||
        hash_flag(fields, n, "cache", &out->cache, err, errlen) != 0 ||
        hash_flag(fields, n, "stream", &out->stream, err, errlen) != 0)
        goto err;
    if (out->prompt == NULL && out->messages == NULL) {
        fq_text_fail(err, errlen,
                     "prompt: missing from the task hash (neither prompt nor messages)");
        goto err;
    }

    if (hash_int(fields, n, "max_tokens", FQ_MAX_TOKENS_LIMIT, &out->max_tokens, err, errlen) != 0 ||
        hash_int(fields, n, "max_attempts", FQ_MAX_ATTEMPTS_LIMIT, &out->max_attempts, err, errlen) != 0 ||
        hash_int(fields, n, "timeout", FQ_TIMEOUT_LIMIT, &out->timeout_s, err, errlen) != 0 ||
        hash_int(fields, n, "delay", FQ_DELAY_LIMIT, &out->delay_s, err, errlen) != 0 ||
        hash_int(fields, n, "ttl", FQ_TTL_LIMIT, &out->ttl_s, err, errlen) != 0 ||
        hash_int(fields, n, "plan", FQ_PLAN_DEPTH_LIMIT, &out->plan, err, errlen) != 0)
        goto err;

    f = fq_fields_find(fields, n, "temperature");
    if (f != NULL) {
        char buf[64];
        char *end;
        if (f->value_len == 0 || f->value_len >= sizeof(buf)) {
            fq_text_fail(err, errlen, "temperature: not a valid number in the task hash, got %s",
                         fq_text_show(&sh, f->value, f->value_len));
            goto err;
        }
        memcpy(buf, f->value, f->value_len);
        buf[f->value_len] = '\0';
        double d = strtod(buf, &end);
        if (*end != '\0' || !isfinite(d) || d < 0 || d > FQ_TEMPERATURE_MAX) {
            fq_text_fail(err, errlen, "temperature: not a valid number in the task hash, got %s",
                         fq_text_show(&sh, f->value, f->value_len));
            goto err;
        }
        out->temperature = d;
        out->has_temperature = 1;
    }
    return 0;

err:
    fq_task_free(out);
    return -1;
}

/* ------------------------------------------------------------------------
 * The limit of attempts
 * --------------------------------------------------------------------- */

void fq_attempt_limit_read(long long max_attempts, long long allowance, long long requeues,
                           long long at_requeue, long long fallbacks, fq_attempt_limit *out)
{
    out->max = max_attempts;
    out->requeues = requeues > 0 ? requeues : 0;
    out->by_fallback = fallbacks > 0 ? fallbacks : 0;
    /* before its first requeue a task keeps only max_attempts, which the
     * fallbacks raised */
    out->asked = out->requeues > 0 && allowance > 0 ? allowance : max_attempts - out->by_fallback;
    if (out->asked < 1)
        out->asked = max_attempts;
    /* a hash requeued without attempts_at_requeue: what the rest leaves */
    long long rest = max_attempts - out->asked - out->by_fallback;
    out->at_requeue = out->requeues == 0 ? 0 : at_requeue >= 0 ? at_requeue : rest > 0 ? rest : 0;
}

/* Appends to buf[*n..len) what fits, NUL-terminated. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t len, size_t *n,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, len - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n = *n + (size_t)w < len ? *n + (size_t)w : len - 1;
}

void fq_attempt_limit_note(const fq_attempt_limit *l, char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    if (l->max <= 0 || l->max == l->asked)
        return;
    append(buf, len, &n, "%lld asked", l->asked);
    if (l->at_requeue > 0 && l->requeues == 1)
        append(buf, len, &n, ", +%lld made before the requeue", l->at_requeue);
    else if (l->at_requeue > 0)
        append(buf, len, &n, ", +%lld made before the last of %lld requeues", l->at_requeue,
               l->requeues);
    if (l->by_fallback > 0)
        append(buf, len, &n, ", +%lld for %s after a 404", l->by_fallback,
               l->by_fallback == 1 ? "a fallback" : "fallbacks");
    if (l->asked + l->at_requeue + l->by_fallback > l->max)
        append(buf, len, &n, ", at most %d", FQ_MAX_ATTEMPTS_LIMIT);
}
