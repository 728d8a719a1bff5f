/* falloc.c -- the counting allocator of falloc.h. Live blocks are kept in
 * an open-addressing set, so that a block freed here that came from
 * elsewhere (a library's own allocation) is freed without being counted. */
#define FQ_FALLOC_IMPL
#include "falloc.h"

#include <stdint.h>

#define SLOTS (1 << 16)

static void *live_set[SLOTS];
static long live;
static long count;
static long fail_at;
static int failed;

static size_t slot_of(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(x >> 48) & (SLOTS - 1);
}

static void track(void *p)
{
    if (p == NULL)
        return;
    size_t i = slot_of(p);
    while (live_set[i] != NULL && live_set[i] != (void *)1)
        i = (i + 1) & (SLOTS - 1);
    live_set[i] = p;
    live++;
}

/* 1 when p was tracked (and is no more). */
static int untrack(void *p)
{
    size_t i = slot_of(p);
    for (size_t k = 0; k < SLOTS && live_set[i] != NULL; k++, i = (i + 1) & (SLOTS - 1)) {
        if (live_set[i] == p) {
            live_set[i] = (void *)1;   /* a tombstone keeps later probes going */
            live--;
            return 1;
        }
    }
    return 0;
}

static int fail_now(void)
{
    count++;
    if (fail_at > 0 && count == fail_at) {
        failed = 1;
        return 1;
    }
    return 0;
}

void *fq_falloc_malloc(size_t n)
{
    if (fail_now())
        return NULL;
    void *p = malloc(n);
    track(p);
    return p;
}

void *fq_falloc_calloc(size_t n, size_t size)
{
    if (fail_now())
        return NULL;
    void *p = calloc(n, size);
    track(p);
    return p;
}

void *fq_falloc_realloc(void *p, size_t n)
{
    if (fail_now())
        return NULL;   /* p stays valid, as realloc leaves it */
    int ours = p != NULL && untrack(p);
    void *q = realloc(p, n);
    if (q != NULL)
        track(q);
    else if (ours)
        track(p);
    return q;
}

char *fq_falloc_strdup(const char *s)
{
    return fq_falloc_strndup(s, strlen(s));
}

char *fq_falloc_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = fq_falloc_malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void fq_falloc_free(void *p)
{
    if (p != NULL)
        untrack(p);
    free(p);
}

void fq_falloc_fail_at(long nth)
{
    fail_at = nth;
    count = 0;
    failed = 0;
}

long fq_falloc_count(void)
{
    return count;
}

long fq_falloc_live(void)
{
    return live;
}

int fq_falloc_failed(void)
{
    return failed;
}
