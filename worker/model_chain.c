/* model_chain.c -- a task's models in order, and the models that do not
 * exist (see model_chain.h).
 */
#include "model_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fq_shared.h"
#include "keys.h"
#include "log.h"
#include "timeutil.h"

int fq_model_chain_init(fq_model_chain *c, const char *model, const char *fallback)
{
    memset(c, 0, sizeof(*c));
    size_t mlen = strlen(model), flen = fallback ? strlen(fallback) : 0;
    if ((c->buf = malloc(mlen + flen + 2)) == NULL)
        return -1;
    memcpy(c->buf, model, mlen + 1);
    c->names[c->n++] = c->buf;
    if (flen == 0)
        return 0;
    char *rest = c->buf + mlen + 1;
    memcpy(rest, fallback, flen + 1);
    for (char *save = NULL, *name = strtok_r(rest, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save)) {
        int seen = 0;
        for (int i = 0; i < c->n; i++)
            seen |= strcmp(c->names[i], name) == 0;
        if (!seen && name[0] != '\0' && c->n < 1 + FQ_FALLBACK_MAX)
            c->names[c->n++] = name;
    }
    return 0;
}

void fq_model_chain_free(fq_model_chain *c)
{
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

const char *fq_model_chain_current(const fq_model_chain *c)
{
    return c->n > 0 ? c->names[c->at] : NULL;
}

int fq_model_chain_has_next(const fq_model_chain *c)
{
    return c->at + 1 < c->n;
}

const char *fq_model_chain_advance(fq_model_chain *c)
{
    if (!fq_model_chain_has_next(c))
        return NULL;
    return c->names[++c->at];
}

void fq_model_chain_rest(const fq_model_chain *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = c->at + 1; i < c->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", c->names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ------------------------------------------------------------------------
 * Models that do not exist
 * --------------------------------------------------------------------- */

static int find(const fq_missing_models *m, const char *model)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->names[i], model) == 0)
            return i;
    return -1;
}

static void note(fq_missing_models *m, const char *model, size_t len, int64_t until_ms)
{
    if (len == 0 || len > FQ_MODEL_NAME_MAX)
        return;
    char name[FQ_MODEL_NAME_MAX + 1];
    memcpy(name, model, len);
    name[len] = '\0';
    int i = find(m, name);
    if (i < 0) {
        if (m->n == FQ_MISSING_MAX)
            return;
        i = m->n++;
        memcpy(m->names[i], name, len + 1);
    }
    m->until_ms[i] = until_ms;
}

int fq_missing_models_has(const fq_missing_models *m, const char *model)
{
    int i = find(m, model);
    return i >= 0 && m->until_ms[i] > fq_now_ms();
}

static void on_noted(fq_redis *r, redisReply *reply, void *data)
{
    (void)r;
    (void)data;
    if (fq_reply_failed(reply))
        fq_log(FQ_LOG_WARN, "models.missing_write_failed", FQ_LS, "error",
               reply != NULL ? reply->str : "no answer from Redis", FQ_LEND);
}

void fq_missing_models_add(fq_missing_models *m, fq_redis *r, const char *model)
{
    int64_t until = fq_now_ms() + FQ_MODEL_MISSING_TTL * 1000;
    note(m, model, strlen(model), until);
    if (r == NULL)
        return;
    const char *key = fq_keys()->missing_models;
    fq_redis_command(r, on_noted, NULL, "HSET %s %s %lld", key, model, (long long)until);
    fq_redis_command(r, on_noted, NULL, "PEXPIRE %s %lld", key,
                     (long long)FQ_MODEL_MISSING_TTL * 1000);
}

static void on_list(fq_redis *r, redisReply *reply, void *data)
{
    fq_missing_models *m = data;
    if (fq_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY)
        return;
    int64_t now = fq_now_ms();
    m->n = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *name = reply->element[i], *until = reply->element[i + 1];
        int64_t u = fq_reply_int(until, 0);
        if (name->type != REDIS_REPLY_STRING)
            continue;
        if (u > now)
            note(m, name->str, name->len, u);
        else
            fq_redis_command(r, on_noted, NULL, "HDEL %s %b", fq_keys()->missing_models,
                             name->str, name->len);
    }
}

void fq_missing_models_refresh(fq_missing_models *m, fq_redis *r)
{
    if (r != NULL)
        fq_redis_command(r, on_list, m, "HGETALL %s", fq_keys()->missing_models);
}
