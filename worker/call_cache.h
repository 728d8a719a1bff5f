/* call_cache.h -- the worker's side of the response cache (cache.lua).
 *
 * Before a cacheable call, the worker asks the cache for the request's
 * answer: a hit ends the task without a call; a request another task is
 * calling for right now makes this one wait and ask again; a miss marks
 * the request as this task's, and the answer is stored once it comes (or
 * the mark lifted when the call fails).
 */
#ifndef FQ_CALL_CACHE_H
#define FQ_CALL_CACHE_H

#include <stdint.h>

#include "config.h"
#include "redis.h"
#include "task.h"

/* 1 when the task's answer may come from, and go to, the cache: its
 * `cache` field when given, else FLEETQ_CACHE (auto: temperature 0). */
int fq_call_cache_wanted(const fq_config *cfg, const fq_task *t);

typedef enum fq_cache_verdict {
    FQ_CACHE_ERROR = 0,   /* Redis failed: go on without the cache */
    FQ_CACHE_HIT,
    FQ_CACHE_WAIT,        /* another task is calling for it; ask again later */
    FQ_CACHE_MISS         /* the request is this task's to call for */
} fq_cache_verdict;

/* hash is the request's name (40 hex digits + NUL), answer the stored
 * JSON (cache_answer.h) of a hit, wait_ms how long another task may still
 * hold the request. Valid during the callback only. */
typedef void (*fq_call_cache_cb)(fq_cache_verdict v, const char *hash, const char *answer,
                                 size_t answer_len, int64_t wait_ms, void *data);

/* Asks for the answer to body (built with stream off) for task_id, which,
 * on a miss, holds the request for pending_ms. Returns 0, or -1 when the
 * command could not be sent (cb never runs). */
int fq_call_cache_lookup(fq_redis *r, const char *body, const char *task_id, int64_t pending_ms,
                         fq_call_cache_cb cb, void *data);

/* Stores answer (JSON) under hash for FLEETQ_CACHE_TTL; lifts the mark. */
void fq_call_cache_store(fq_redis *r, const fq_config *cfg, const char *hash,
                         const char *task_id, const char *answer);

/* Lifts task_id's mark on hash: its call did not bring an answer. */
void fq_call_cache_release(fq_redis *r, const char *hash, const char *task_id);

#endif
