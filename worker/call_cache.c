/* call_cache.c -- the worker's side of the response cache (see
 * call_cache.h): cache.lua's three ops over the worker's connection.
 */
#include "call_cache.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"

int fq_call_cache_wanted(const fq_config *cfg, const fq_task *t)
{
    if (t->cache != 0)
        return t->cache > 0;
    switch (cfg->cache) {
    case FQ_CACHE_ON:
        return 1;
    case FQ_CACHE_AUTO:
        return t->has_temperature && t->temperature == 0.0;
    case FQ_CACHE_OFF:
    default:
        return 0;
    }
}

#define CACHE_NKEYS 4

/* cache.lua's keys, then the op and the request's name (or body), and the
 * task: what every op starts with. */
static void cache_call(fq_argv *a, const char *op, const char *request, const char *task_id)
{
    const fq_keyset *k = fq_keys();
    fq_argv_init(a);
    fq_argv_adds(a, k->cache);
    fq_argv_adds(a, k->cache_index);
    fq_argv_adds(a, k->cache_meta);
    fq_argv_adds(a, k->metrics);
    fq_argv_adds(a, op);
    fq_argv_adds(a, request);
    fq_argv_adds(a, task_id);
}

typedef struct lookup {
    fq_call_cache_cb cb;
    void *data;
} lookup;

static void on_lookup(fq_redis *r, redisReply *reply, void *data)
{
    lookup *l = data;
    (void)r;
    fq_cache_verdict v = FQ_CACHE_ERROR;
    const char *hash = "", *answer = NULL;
    size_t answer_len = 0;
    int64_t wait_ms = 0;
    if (!fq_reply_failed(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING && reply->element[1]->len == 40) {
        const char *what = reply->element[0]->str;
        hash = reply->element[1]->str;
        if (strcmp(what, "hit") == 0 && reply->elements == 3 &&
            reply->element[2]->type == REDIS_REPLY_STRING) {
            v = FQ_CACHE_HIT;
            answer = reply->element[2]->str;
            answer_len = reply->element[2]->len;
        } else if (strcmp(what, "wait") == 0 && reply->elements == 3) {
            v = FQ_CACHE_WAIT;
            wait_ms = fq_reply_int(reply->element[2], 0);
        } else if (strcmp(what, "miss") == 0) {
            v = FQ_CACHE_MISS;
        }
    }
    if (v == FQ_CACHE_ERROR) {
        hash = "";
        fq_log(FQ_LOG_WARN, "cache.lookup_failed", FQ_LS, "error",
               reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                 : "no answer from Redis",
               FQ_LS, "msg", "the call goes ahead without the cache", FQ_LEND);
    }
    l->cb(v, hash, answer, answer_len, wait_ms, l->data);
    free(l);
}

int fq_call_cache_lookup(fq_redis *r, const char *body, const char *task_id, int64_t pending_ms,
                         fq_call_cache_cb cb, void *data)
{
    lookup *l = r != NULL ? malloc(sizeof(*l)) : NULL;
    if (l == NULL)
        return -1;
    l->cb = cb;
    l->data = data;
    fq_argv a;
    cache_call(&a, "get", body, task_id);
    fq_argv_addll(&a, pending_ms);
    int rc = fq_redis_script(r, "cache", CACHE_NKEYS, &a, on_lookup, l);
    fq_argv_free(&a);
    if (rc != 0)
        free(l);
    return rc;
}

static void on_cache_written(fq_redis *r, redisReply *reply, void *data)
{
    (void)r;
    (void)data;
    if (fq_reply_failed(reply))
        fq_log(FQ_LOG_WARN, "cache.write_failed", FQ_LS, "error",
               reply != NULL ? reply->str : "no answer from Redis", FQ_LEND);
}

void fq_call_cache_store(fq_redis *r, const fq_config *cfg, const char *hash,
                         const char *task_id, const char *answer)
{
    if (r == NULL)
        return;
    fq_argv a;
    cache_call(&a, "put", hash, task_id);
    fq_argv_adds(&a, answer);
    fq_argv_addll(&a, (long long)cfg->cache_ttl_s * 1000);
    fq_argv_addll(&a, (long long)cfg->cache_max_bytes);
    fq_redis_script(r, "cache", CACHE_NKEYS, &a, on_cache_written, NULL);
    fq_argv_free(&a);
}

void fq_call_cache_release(fq_redis *r, const char *hash, const char *task_id)
{
    if (r == NULL)
        return;
    fq_argv a;
    cache_call(&a, "drop", hash, task_id);
    fq_redis_script(r, "cache", CACHE_NKEYS, &a, on_cache_written, NULL);
    fq_argv_free(&a);
}
