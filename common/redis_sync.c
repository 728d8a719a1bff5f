/* redis_sync.c -- a blocking Redis connection with fleetq's settings (see
 * redis_sync.h): connect and reply timeouts, AUTH and SELECT from
 * REDIS_URL, TLS for rediss:// (redis_tls.h), errors that say what to
 * check, and on a Redis Cluster the node that owns the fleet's slot.
 */
#include "redis_sync.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "keys.h"
#include "redis_cluster.h"
#include "redis_tls.h"

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* The first word of an error reply ("WRONGPASS", "NOAUTH"). */
static const char *first_word(const char *s, char *buf, size_t len)
{
    size_t n = strcspn(s, " ");
    if (n >= len)
        n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Checks the reply to AUTH or SELECT; frees it. Returns 0, or -1 with err
 * and *refused set. */
static int setup_reply(redisContext *c, const fq_cluster_node *at, redisReply *r,
                       const char *what, const char *check, int *refused, char *err,
                       size_t errlen)
{
    char word[64];
    if (r == NULL) {
        snprintf(err, errlen, "Redis at %s:%d did not answer %s: %s", at->host, at->port, what,
                 c->err ? c->errstr : "no reply");
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) {
        snprintf(err, errlen, "Redis at %s:%d refused %s (%s); check %s in REDIS_URL",
                 at->host, at->port, what, first_word(r->str, word, sizeof(word)), check);
        *refused = 1;
    }
    freeReplyObject(r);
    return bad ? -1 : 0;
}

/* On a Redis Cluster, the master of the fleet's slot when it is another
 * node than c's: 1 with *owner set, else 0. */
static int owner_elsewhere(redisContext *c, const fq_cluster_node *at, fq_cluster_node *owner)
{
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    fq_cluster_node nodes[FQ_CLUSTER_NODES_MAX];
    size_t n = 0;
    int elsewhere = r != NULL &&
                    fq_cluster_slots(r, fq_key_slot(fq_keys()->submit), owner, nodes,
                                     FQ_CLUSTER_NODES_MAX, &n) == 0 &&
                    owner->port > 0 && !fq_cluster_node_is(owner, at->host, at->port);
    if (r != NULL)
        freeReplyObject(r);
    return elsewhere;
}

static redisContext *connect_node(const fq_config *cfg, const fq_cluster_node *at,
                                  int connect_ms, int reply_ms, int *refused, char *err,
                                  size_t errlen);

/* rediss://: a TLS relay (redis_tls.h) and hiredis on its other end, once
 * the session is up. A certificate that does not verify sets *refused. */
static redisContext *connect_tls(const fq_cluster_node *at, int connect_ms, int *refused,
                                 char *err, size_t errlen)
{
    char why[320];
    int fd = -1;
    fq_tls_relay *t = fq_tls_relay_pair(at->host, at->port, connect_ms, &fd, why, sizeof(why));
    if (t == NULL || fq_tls_relay_wait(t, connect_ms, why, sizeof(why)) != 0) {
        if (t != NULL)
            *refused = fq_tls_relay_refused(t);
        snprintf(err, errlen, "cannot reach Redis at %s:%d over TLS: %s; check REDIS_URL and "
                 "that Redis is running", at->host, at->port, why);
        if (fd >= 0)
            close(fd);
        fq_tls_relay_release(t);
        return NULL;
    }
    fq_tls_relay_detach(t);   /* it lives on until hiredis closes fd */
    redisContext *c = redisConnectFd(fd);
    if (c == NULL)
        close(fd);
    return c;
}

redisContext *fq_redis_connect_sync(const fq_config *cfg, int connect_ms, int reply_ms,
                                    int *refused, char *err, size_t errlen)
{
    fq_cluster_node at;
    snprintf(at.host, sizeof(at.host), "%s", cfg->redis_host);
    at.port = cfg->redis_port;
    redisContext *c = connect_node(cfg, &at, connect_ms, reply_ms, refused, err, errlen);
    /* a cluster: go to the owner of the fleet's slot (it may move once
     * more during a failover) */
    fq_cluster_node owner;
    for (int hops = 0; c != NULL && hops < 3 && owner_elsewhere(c, &at, &owner); hops++) {
        redisFree(c);
        at = owner;
        c = connect_node(cfg, &at, connect_ms, reply_ms, refused, err, errlen);
    }
    return c;
}

static redisContext *connect_node(const fq_config *cfg, const fq_cluster_node *at,
                                  int connect_ms, int reply_ms, int *refused, char *err,
                                  size_t errlen)
{
    int refused_here = 0;
    redisContext *c = cfg->redis_tls ? connect_tls(at, connect_ms, &refused_here, err, errlen)
                                     : redisConnectWithTimeout(at->host, at->port,
                                                               ms_to_tv(connect_ms));
    if (cfg->redis_tls && c == NULL)
        goto err;
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot reach Redis at %s:%d: %s; check REDIS_URL and that "
                 "Redis is running", at->host, at->port, c != NULL ? c->errstr : "out of memory");
        goto err;
    }
    if (redisSetTimeout(c, ms_to_tv(reply_ms)) != REDIS_OK) {
        snprintf(err, errlen, "Redis at %s:%d: could not set the reply timeout", at->host,
                 at->port);
        goto err;
    }
    if (cfg->redis_password[0] != '\0') {
        redisReply *r = cfg->redis_user[0] != '\0'
                            ? redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
                            : redisCommand(c, "AUTH %s", cfg->redis_password);
        if (setup_reply(c, at, r, "AUTH", "the user and password", &refused_here, err,
                        errlen) != 0)
            goto err;
    }
    if (cfg->redis_db != 0 &&
        setup_reply(c, at, redisCommand(c, "SELECT %d", cfg->redis_db), "SELECT",
                    "the database number", &refused_here, err, errlen) != 0)
        goto err;
    return c;
err:
    if (c != NULL)
        redisFree(c);
    if (refused != NULL)
        *refused = refused_here;
    return NULL;
}
