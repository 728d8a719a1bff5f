/* keys.c -- builds the fleet's key names from its prefix (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

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

int fq_cancel_args(fq_argv *a, const char *id, size_t idlen, const char *reason,
                   const char *entry)
{
    const fq_keyset *k = fq_keys();
    fq_argv_add_task_key(a, id, idlen);
    fq_argv_adds(a, k->delayed);
    fq_argv_adds(a, k->expiry);
    fq_argv_adds(a, k->events);
    fq_argv_adds(a, k->results);
    fq_argv_adds(a, k->submit);
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, k->ready[role]);
    fq_argv_add(a, id, idlen);
    fq_argv_adds(a, reason);
    fq_argv_adds(a, FQ_EVENTS_MAXLEN_STR);
    fq_argv_adds(a, FQ_ENDED_TTL_STR);
    fq_argv_adds(a, entry);
    fq_argv_adds(a, FQ_GROUP_INTAKE);
    return fq_argv_ok(a) ? 0 : -1;
}
