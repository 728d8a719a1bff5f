/* keys.c -- builds the fleet's key names from its prefix (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

static fq_keyset keys;
static int keys_built;

/* 1 when s holds a hash tag as Redis Cluster reads one: the first '{'
 * followed, after at least one byte, by a '}'. */
static int has_hash_tag(const char *s)
{
    const char *open = strchr(s, '{');
    if (open == NULL)
        return 0;
    const char *close = strchr(open + 1, '}');
    return close != NULL && close > open + 1;
}

/* <prefix>:<what> for the keys users type, <prefix>:{q}:<what> inside. */
static void name(char *out, int internal, const char *prefix, const char *what)
{
    snprintf(out, FQ_KEY_MAX, "%s:%s%s", prefix, internal ? "{q}:" : "", what);
}

static void build(const char *prefix)
{
    fq_keyset *k = &keys;
    memset(k, 0, sizeof(*k));
    snprintf(k->prefix, sizeof(k->prefix), "%s", prefix);
    k->tagged = has_hash_tag(prefix);
    enum { user = 0, internal = 1 };
    name(k->submit, user, prefix, "submit");
    name(k->events, user, prefix, "events");
    name(k->quota, user, prefix, "quota");
    name(k->limits, user, prefix, "limits");
    name(k->fleet, user, prefix, "fleet");
    name(k->coordinator, user, prefix, "coordinator");
    name(k->delayed, internal, prefix, "delayed");
    name(k->expiry, internal, prefix, "expiry");
    name(k->leases, internal, prefix, "leases");
    name(k->results, internal, prefix, "results");
    name(k->seq, internal, prefix, "seq");
    name(k->workers, internal, prefix, "workers");
    name(k->metrics, internal, prefix, "metrics");
    name(k->inflight, internal, prefix, "inflight");
    name(k->oks, internal, prefix, "oks");
    name(k->models, internal, prefix, "models");
    name(k->dead, internal, prefix, "dead");
    name(k->resolving, internal, prefix, "resolving");
    name(k->cache, internal, prefix, "cache");
    name(k->cache_index, internal, prefix, "cache:index");
    name(k->cache_meta, internal, prefix, "cache:meta");
    name(k->missing_models, internal, prefix, "models:missing");
    for (int role = 0; role < FQ_ROLE_COUNT; role++) {
        snprintf(k->ready[role], FQ_KEY_MAX, "%s:{q}:ready:%s", prefix,
                 fq_role_name((fq_role)role));
        snprintf(k->marker[role], FQ_KEY_MAX, "%s:{q}:marker:%s", prefix,
                 fq_role_name((fq_role)role));
    }
    keys_built = 1;
}

int fq_keys_init(const char *prefix, char *err, size_t errlen)
{
    size_t len = strlen(prefix);
    if (len == 0 || len > FQ_KEY_PREFIX_MAX) {
        snprintf(err, errlen, "must be 1 to %d characters, got %zu", FQ_KEY_PREFIX_MAX, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)prefix[i];
        if (ch <= ' ' || ch >= 0x7f) {
            snprintf(err, errlen, "must be printable ASCII without spaces (character %zu is "
                     "not)", i + 1);
            return -1;
        }
    }
    if (strchr(prefix, '{') != NULL && !has_hash_tag(prefix)) {
        snprintf(err, errlen, "a '{' must open a hash tag closed by '}' with a name between, "
                 "such as {fleetq}");
        return -1;
    }
    build(prefix);
    return 0;
}

/* CRC16-CCITT (XMODEM), as Redis Cluster hashes keys. */
static unsigned crc16(const char *s, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)s[i] << 8;
        for (int bit = 0; bit < 8; bit++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }
    return crc;
}

int fq_key_slot(const char *key)
{
    size_t len = strlen(key);
    const char *open = strchr(key, '{');
    if (open != NULL) {
        const char *close = strchr(open + 1, '}');
        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - open - 1);
        }
    }
    return (int)(crc16(key, len) % 16384);
}

const fq_keyset *fq_keys(void)
{
    if (!keys_built)
        build(FQ_KEY_PREFIX_DEFAULT);
    return &keys;
}

const char *fq_key_task(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s:task:%s", fq_keys()->prefix, id);
    return buf;
}

const char *fq_key_done(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s:done:%s", fq_keys()->prefix, id);
    return buf;
}

int fq_argv_add_task_key(fq_argv *a, const char *id, size_t len)
{
    return fq_argv_addf(a, "%s:task:%.*s", fq_keys()->prefix, (int)len, id);
}

int fq_argv_add_done_key(fq_argv *a, const char *id, size_t len)
{
    return fq_argv_addf(a, "%s:done:%.*s", fq_keys()->prefix, (int)len, id);
}

const char *fq_key_children(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s:children:%s", fq_keys()->prefix, id);
    return buf;
}

const char *fq_key_stream(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s:stream:%s", fq_keys()->prefix, id);
    return buf;
}

int fq_argv_add_children_key(fq_argv *a, const char *id, size_t len)
{
    return fq_argv_addf(a, "%s:children:%.*s", fq_keys()->prefix, (int)len, id);
}

int fq_argv_add_model_key(fq_argv *a, const char *model, size_t len)
{
    return fq_argv_addf(a, "%s:%.*s", fq_keys()->quota, (int)len, model);
}

int fq_argv_add_ready_keys(fq_argv *a)
{
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, fq_keys()->ready[role]);
    return fq_argv_ok(a) ? 0 : -1;
}

int fq_argv_add_marker_keys(fq_argv *a)
{
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, fq_keys()->marker[role]);
    return fq_argv_ok(a) ? 0 : -1;
}

/* An element of an id list as text ("" for one that is no string, which
 * keeps the keys and the ids in step: a script skips what it cannot find). */
static const char *id_at(const redisReply *ids, size_t i, size_t *len)
{
    const redisReply *e = ids->element[i];
    int text = e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
    *len = text ? e->len : 0;
    return text ? e->str : "";
}

/* The first n ids, as they are or (as_keys) as their task hashes' keys. */
static int add_each(fq_argv *a, const redisReply *ids, size_t n, int as_keys)
{
    size_t len;
    for (size_t i = 0; i < n && i < ids->elements; i++) {
        const char *id = id_at(ids, i, &len);
        if (as_keys)
            fq_argv_add_task_key(a, id, len);
        else
            fq_argv_add(a, id, len);
    }
    return fq_argv_ok(a) ? 0 : -1;
}

int fq_argv_add_ids(fq_argv *a, const redisReply *ids, size_t n)
{
    return add_each(a, ids, n, 0);
}

int fq_argv_add_task_keys(fq_argv *a, const redisReply *ids, size_t n)
{
    return add_each(a, ids, n, 1);
}

int fq_cancel_args(fq_argv *a, const char *id, size_t idlen, const char *reason,
                   const char *entry, int dead_too)
{
    const fq_keyset *k = fq_keys();
    fq_argv_add_task_key(a, id, idlen);
    fq_argv_adds(a, k->delayed);
    fq_argv_adds(a, k->expiry);
    fq_argv_adds(a, k->events);
    fq_argv_adds(a, k->results);
    fq_argv_adds(a, k->submit);
    fq_argv_add_ready_keys(a);
    fq_argv_adds(a, k->dead);
    fq_argv_add(a, id, idlen);
    fq_argv_adds(a, reason);
    fq_argv_adds(a, entry);
    fq_argv_adds(a, FQ_GROUP_INTAKE);
    fq_argv_adds(a, dead_too ? "1" : "0");
    return fq_argv_ok(a) ? 0 : -1;
}

int fq_requeue_args(fq_argv *a, const char *const *ids, const size_t *lens, size_t n)
{
    const fq_keyset *k = fq_keys();
    fq_argv_adds(a, k->dead);
    fq_argv_adds(a, k->events);
    fq_argv_adds(a, k->seq);
    fq_argv_add_ready_keys(a);
    fq_argv_add_marker_keys(a);
    fq_argv_adds(a, k->resolving);
    for (size_t i = 0; i < n; i++) {
        fq_argv_add_task_key(a, ids[i], lens[i]);
        fq_argv_add_done_key(a, ids[i], lens[i]);
    }
    for (size_t i = 0; i < n; i++)
        fq_argv_add(a, ids[i], lens[i]);
    return fq_argv_ok(a) ? 0 : -1;
}

int fq_resume_args(fq_argv *a, const struct redisReply *models, int breaker,
                   long long breaker_cooldown_ms)
{
    size_t n = models != NULL && models->type == REDIS_REPLY_ARRAY ? models->elements : 0;
    fq_argv_adds(a, fq_keys()->quota);
    for (size_t i = 0; i < n; i++)
        fq_argv_add_model_key(a, models->element[i]->str, models->element[i]->len);
    fq_argv_adds(a, breaker ? "1" : "0");
    fq_argv_addll(a, breaker_cooldown_ms);
    return fq_argv_ok(a) ? 1 + (int)n : -1;
}
