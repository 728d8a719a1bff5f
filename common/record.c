/* record.c -- attempt and final records on the results stream (see record.h).
 *
 * A record goes out as flat name/value pairs, "kind" first, integers in
 * decimal, NULL strings left out; it comes back through the same table of
 * names, so writing and reading can never disagree about a field. Reading
 * is lenient: an absent or malformed integer reads as 0 (priority as -1),
 * an absent string as NULL; only the fields that identify the row (task,
 * and n for an attempt) are required.
 */
#include "record.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One field of a record: its stream name and where it lives in the struct. */
typedef struct rec_field {
    const char *name;
    size_t offset;
    char type;          /* 's' string, 'i' int64 */
    int64_t def;        /* value of an absent integer */
} rec_field;

#define S(st, name, member) { name, offsetof(st, member), 's', 0 }
#define I(st, name, member, def) { name, offsetof(st, member), 'i', def }

static const rec_field attempt_fields[] = {
    S(fq_attempt_record, "task", task_id),
    I(fq_attempt_record, "n", n, 0),
    I(fq_attempt_record, "http_status", http_status, 0),
    S(fq_attempt_record, "outcome", outcome),
    S(fq_attempt_record, "error", error),
    I(fq_attempt_record, "latency_ms", latency_ms, 0),
    I(fq_attempt_record, "started_at", started_at, 0),
    S(fq_attempt_record, "worker", worker),
    S(fq_attempt_record, "model", model),
    I(fq_attempt_record, "ttft_ms", ttft_ms, -1),
    I(fq_attempt_record, "prompt_tokens", prompt_tokens, 0),
    I(fq_attempt_record, "completion_tokens", completion_tokens, 0),
    I(fq_attempt_record, "cost_ticks", cost_ticks, 0),
    I(fq_attempt_record, "usage_estimated", usage_estimated, 0),
};

static const rec_field final_fields[] = {
    S(fq_final_record, "task", task_id),
    S(fq_final_record, "role", role),
    I(fq_final_record, "priority", priority, -1),
    S(fq_final_record, "status", status),
    S(fq_final_record, "model", model),
    S(fq_final_record, "prompt", prompt),
    S(fq_final_record, "output", output),
    S(fq_final_record, "error", error),
    I(fq_final_record, "attempts", attempts, 0),
    I(fq_final_record, "prompt_tokens", prompt_tokens, 0),
    I(fq_final_record, "completion_tokens", completion_tokens, 0),
    I(fq_final_record, "reasoning_tokens", reasoning_tokens, 0),
    I(fq_final_record, "cached_tokens", cached_tokens, 0),
    I(fq_final_record, "cost_ticks", cost_ticks, 0),
    I(fq_final_record, "latency_ms", latency_ms, 0),
    I(fq_final_record, "submitted_at", submitted_at, 0),
    I(fq_final_record, "started_at", started_at, 0),
    I(fq_final_record, "finished_at", finished_at, 0),
    S(fq_final_record, "worker", worker),
    S(fq_final_record, "flow_id", flow_id),
    S(fq_final_record, "parents", parents),
    I(fq_final_record, "plan", plan, 0),
    S(fq_final_record, "recalled", recalled),
    S(fq_final_record, "cached_from", cached_from),
    S(fq_final_record, "notes", notes),
    I(fq_final_record, "usage_estimated", usage_estimated, 0),
};

#undef S
#undef I

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static char **str_at(const void *rec, const rec_field *f)
{
    return (char **)((char *)rec + f->offset);
}

static int64_t *int_at(const void *rec, const rec_field *f)
{
    return (int64_t *)((char *)rec + f->offset);
}

static int to_fields(const char *kind, const rec_field *tab, size_t ntab,
                     const void *rec, fq_argv *out)
{
    if (fq_argv_pair(out, "kind", kind) != 0)
        return -1;
    for (size_t i = 0; i < ntab; i++) {
        const rec_field *f = &tab[i];
        if (f->type == 's') {
            const char *s = *str_at(rec, f);
            if (s != NULL && fq_argv_pair(out, f->name, s) != 0)
                return -1;
        } else if (fq_argv_pairll(out, f->name, (long long)*int_at(rec, f)) != 0) {
            return -1;
        }
    }
    return 0;
}

static void free_strings(const rec_field *tab, size_t ntab, void *rec)
{
    for (size_t i = 0; i < ntab; i++) {
        if (tab[i].type == 's') {
            char **s = str_at(rec, &tab[i]);
            free(*s);
            *s = NULL;
        }
    }
}

/* Fills rec from fields; -1 on allocation failure (rec then freed). */
static int from_fields(const rec_field *tab, size_t ntab, const fq_field *fields,
                       size_t n, void *rec)
{
    for (size_t i = 0; i < ntab; i++) {
        const rec_field *f = &tab[i];
        if (f->type == 'i') {
            *int_at(rec, f) = fq_fields_int(fields, n, f->name, f->def);
            continue;
        }
        *str_at(rec, f) = NULL;
        if (fq_fields_find(fields, n, f->name) == NULL)
            continue;
        if ((*str_at(rec, f) = fq_fields_dup(fields, n, f->name)) == NULL) {
            free_strings(tab, i, rec);
            return -1;
        }
    }
    return 0;
}

int fq_record_attempt_to_fields(const fq_attempt_record *r, fq_argv *out)
{
    return to_fields("attempt", attempt_fields, NFIELDS(attempt_fields), r, out);
}

int fq_record_final_to_fields(const fq_final_record *r, fq_argv *out)
{
    return to_fields("final", final_fields, NFIELDS(final_fields), r, out);
}

char fq_record_kind(const fq_field *fields, size_t n)
{
    const fq_field *k = fq_fields_find(fields, n, "kind");
    if (k == NULL)
        return 0;
    if (k->value_len == 7 && memcmp(k->value, "attempt", 7) == 0)
        return 'a';
    if (k->value_len == 5 && memcmp(k->value, "final", 5) == 0)
        return 'f';
    return 0;
}

int fq_record_attempt_from_fields(const fq_field *fields, size_t n, fq_attempt_record *r)
{
    memset(r, 0, sizeof(*r));
    if (fq_fields_find(fields, n, "task") == NULL || fq_fields_find(fields, n, "n") == NULL)
        return -1;
    /* n must be a real number: a row keyed (task, 0) would collide */
    if (fq_fields_int(fields, n, "n", -1) < 1)
        return -1;
    return from_fields(attempt_fields, NFIELDS(attempt_fields), fields, n, r);
}

int fq_record_final_from_fields(const fq_field *fields, size_t n, fq_final_record *r)
{
    memset(r, 0, sizeof(*r));
    r->priority = -1;
    if (fq_fields_find(fields, n, "task") == NULL)
        return -1;
    return from_fields(final_fields, NFIELDS(final_fields), fields, n, r);
}

void fq_record_attempt_free(fq_attempt_record *r)
{
    if (r == NULL)
        return;
    free_strings(attempt_fields, NFIELDS(attempt_fields), r);
    memset(r, 0, sizeof(*r));
}

void fq_record_final_free(fq_final_record *r)
{
    if (r == NULL)
        return;
    free_strings(final_fields, NFIELDS(final_fields), r);
    memset(r, 0, sizeof(*r));
    r->priority = -1;
}

char *fq_iso8601_ms(int64_t ms, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return buf;
    int64_t sec = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {          /* floor towards the past for times before 1970 */
        rem += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
    return buf;
}
