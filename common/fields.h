/* fields.h -- name/value field lists and argument vectors.
 *
 * Redis stream entries and hashes arrive as flat name/value arrays whose
 * strings are not NUL-terminated; commands go out as argv/argvlen pairs.
 * fq_field is a borrowed view of one pair; fq_argv owns a growable command
 * line that hiredis' redisAsyncCommandArgv() can send as is.
 */
#ifndef FQ_FIELDS_H
#define FQ_FIELDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fq_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} fq_field;

/* Finds a field by exact (case-sensitive) name; NULL when absent. */
const fq_field *fq_fields_find(const fq_field *fields, size_t n, const char *name);

/* Copies a field's value into a new NUL-terminated string (NULL when the
 * field is absent or on allocation failure). */
char *fq_fields_dup(const fq_field *fields, size_t n, const char *name);

/* Parses a field as a signed 64-bit decimal; returns def when absent or
 * malformed. */
int64_t fq_fields_int(const fq_field *fields, size_t n, const char *name, int64_t def);

typedef struct fq_argv {
    int argc;
    int cap;
    char **argv;      /* each element owned, NUL-terminated for debugging */
    size_t *argvlen;
    int failed;       /* an append failed: the vector is incomplete */
} fq_argv;

void fq_argv_init(fq_argv *a);
void fq_argv_free(fq_argv *a);
/* Each append copies its bytes. Return 0, or -1 on allocation failure.
 * A failure is sticky: every later append fails too, so no element is
 * skipped with the next ones shifted into its place, and a failed vector
 * is never sent (fq_redis_argv and fq_redis_script refuse it); callers
 * just free it. */
int fq_argv_add(fq_argv *a, const char *s, size_t len);
int fq_argv_adds(fq_argv *a, const char *s);
/* Appends every element of more (which must be complete). */
int fq_argv_append(fq_argv *a, const fq_argv *more);
int fq_argv_addf(fq_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fq_argv_addll(fq_argv *a, long long v);
/* Appends name then value (value may be NULL: appended as ""). */
int fq_argv_pair(fq_argv *a, const char *name, const char *value);
int fq_argv_pairll(fq_argv *a, const char *name, long long v);
/* 1 when every append so far succeeded. */
int fq_argv_ok(const fq_argv *a);

#endif
