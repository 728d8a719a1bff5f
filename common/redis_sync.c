/* redis_sync.c -- a blocking Redis connection with fleetq's settings (see
 * redis_sync.h): connect and reply timeouts, AUTH and SELECT from
 * REDIS_URL, and errors that say what to check.
 */
#include "redis_sync.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

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
static int setup_reply(redisContext *c, const fq_config *cfg, redisReply *r, const char *what,
                       const char *check, int *refused, char *err, size_t errlen)
{
    char word[64];
    if (r == NULL) {
        snprintf(err, errlen, "Redis at %s:%d did not answer %s: %s", cfg->redis_host,
                 cfg->redis_port, what, c->err ? c->errstr : "no reply");
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) {
        snprintf(err, errlen, "Redis at %s:%d refused %s (%s); check %s in REDIS_URL",
                 cfg->redis_host, cfg->redis_port, what, first_word(r->str, word, sizeof(word)),
                 check);
        *refused = 1;
    }
    freeReplyObject(r);
    return bad ? -1 : 0;
}

redisContext *fq_redis_connect_sync(const fq_config *cfg, int connect_ms, int reply_ms,
                                    int *refused, char *err, size_t errlen)
{
    int refused_here = 0;
    redisContext *c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port,
                                              ms_to_tv(connect_ms));
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot reach Redis at %s:%d: %s; check REDIS_URL and that "
                 "Redis is running", cfg->redis_host, cfg->redis_port,
                 c != NULL ? c->errstr : "out of memory");
        goto err;
    }
    if (redisSetTimeout(c, ms_to_tv(reply_ms)) != REDIS_OK) {
        snprintf(err, errlen, "Redis at %s:%d: could not set the reply timeout",
                 cfg->redis_host, cfg->redis_port);
        goto err;
    }
    if (cfg->redis_password[0] != '\0') {
        redisReply *r = cfg->redis_user[0] != '\0'
                            ? redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
                            : redisCommand(c, "AUTH %s", cfg->redis_password);
        if (setup_reply(c, cfg, r, "AUTH", "the user and password", &refused_here, err,
                        errlen) != 0)
            goto err;
    }
    if (cfg->redis_db != 0 &&
        setup_reply(c, cfg, redisCommand(c, "SELECT %d", cfg->redis_db), "SELECT",
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
