/* falloc.h -- allocation fault injection for the unit tests, in the
 * manner of beanstalkd's falloc and curl's torture tests.
 *
 * Force-included (-include falloc.h) into every source of the library the
 * fault test links (tests/CMakeLists.txt), it routes that code's malloc,
 * calloc, realloc, strdup, strndup and free through counting versions
 * (falloc.c); cJSON's allocations are routed there through its hooks. A
 * test first runs a path with no failure to count its allocations N, then
 * runs it N more times, failing the 1st, the 2nd, ... the Nth: each run
 * must end without a crash, without a leak (every block allocated is
 * freed) and either with the same result as the first run or with a clean
 * error.
 */
#ifndef FQ_FALLOC_H
#define FQ_FALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *fq_falloc_malloc(size_t n);
void *fq_falloc_calloc(size_t n, size_t size);
void *fq_falloc_realloc(void *p, size_t n);
char *fq_falloc_strdup(const char *s);
char *fq_falloc_strndup(const char *s, size_t n);
void fq_falloc_free(void *p);

/* Counting from now: fail the nth allocation (1-based; 0 fails none). */
void fq_falloc_fail_at(long nth);
/* Allocations made since the last fq_falloc_fail_at(). */
long fq_falloc_count(void);
/* Blocks allocated through here and not freed yet. */
long fq_falloc_live(void);
/* 1 when the allocation to fail was reached. */
int fq_falloc_failed(void);

#ifndef FQ_FALLOC_IMPL
#define malloc(n) fq_falloc_malloc(n)
#define calloc(n, size) fq_falloc_calloc(n, size)
#define realloc(p, n) fq_falloc_realloc(p, n)
#define strdup(s) fq_falloc_strdup(s)
#define strndup(s, n) fq_falloc_strndup(s, n)
#define free(p) fq_falloc_free(p)
#endif

#endif
