/* fields.c -- name/value field lists and argument vectors (see fields.h). */
#include "fields.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const fq_field *fq_fields_find(const fq_field *fields, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (fields[i].name_len == len && memcmp(fields[i].name, name, len) == 0)
            return &fields[i];
    }
    return NULL;
}

char *fq_fields_dup(const fq_field *fields, size_t n, const char *name)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    if (f == NULL)
        return NULL;
    char *s = malloc(f->value_len + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, f->value, f->value_len);
    s[f->value_len] = '\0';
    return s;
}

int64_t fq_fields_int(const fq_field *fields, size_t n, const char *name, int64_t def)
{
    const fq_field *f = fq_fields_find(fields, n, name);
    char buf[32];
    if (f == NULL || f->value_len == 0 || f->value_len >= sizeof(buf))
        return def;
    memcpy(buf, f->value, f->value_len);
    buf[f->value_len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return def;
    return v;
}

void fq_argv_init(fq_argv *a)
{
    memset(a, 0, sizeof(*a));
}

void fq_argv_free(fq_argv *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    free(a->argvlen);
    fq_argv_init(a);
}

/* Marks the vector broken: it is never sent (see fields.h). */
static int argv_failed(fq_argv *a)
{
    a->failed = 1;
    return -1;
}

int fq_argv_add(fq_argv *a, const char *s, size_t len)
{
    if (a->failed)
        return -1;
    if (a->argc == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        char **argv = realloc(a->argv, sizeof(*argv) * (size_t)cap);
        if (argv == NULL)
            return argv_failed(a);
        a->argv = argv;
        size_t *argvlen = realloc(a->argvlen, sizeof(*argvlen) * (size_t)cap);
        if (argvlen == NULL)
            return argv_failed(a);
        a->argvlen = argvlen;
        a->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return argv_failed(a);
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    a->argv[a->argc] = copy;
    a->argvlen[a->argc] = len;
    a->argc++;
    return 0;
}

int fq_argv_append(fq_argv *a, const fq_argv *more)
{
    if (!fq_argv_ok(more))
        return argv_failed(a);
    for (int i = 0; i < more->argc; i++)
        if (fq_argv_add(a, more->argv[i], more->argvlen[i]) != 0)
            return -1;
    return 0;
}

int fq_argv_adds(fq_argv *a, const char *s)
{
    if (s == NULL)
        s = "";
    return fq_argv_add(a, s, strlen(s));
}

int fq_argv_addf(fq_argv *a, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return argv_failed(a);
    if ((size_t)n < sizeof(small))
        return fq_argv_add(a, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return argv_failed(a);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = fq_argv_add(a, big, (size_t)n);
    free(big);
    return rc;
}

int fq_argv_addll(fq_argv *a, long long v)
{
    return fq_argv_addf(a, "%lld", v);
}

int fq_argv_pair(fq_argv *a, const char *name, const char *value)
{
    if (fq_argv_adds(a, name) != 0)
        return -1;
    return fq_argv_adds(a, value);
}

int fq_argv_pairll(fq_argv *a, const char *name, long long v)
{
    if (fq_argv_adds(a, name) != 0)
        return -1;
    return fq_argv_addll(a, v);
}

int fq_argv_ok(const fq_argv *a)
{
    return !a->failed;
}
