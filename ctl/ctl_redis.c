/* ctl_redis.c -- fleetqctl's Redis connection: configuration, a blocking
 * hiredis context, commands, pipelines and the embedded Lua scripts.
 *
 * A command-line tool does one thing and exits, so it talks to Redis
 * synchronously (redisConnectWithTimeout, with a timeout on every reply)
 * instead of running an event loop. The configuration is the one every
 * fleetq program reads (fq_config_load without FQ_NEED_KEY: the tool never
 * needs the API key), with a warning on stderr, once, for each variable
 * that looks like a setting but is none (settings.h). Every failure prints
 * one line naming what went wrong and what to check, and records the exit
 * code that scripts see (see ctl.h). Scripts are the same .lua files the coordinator and the workers
 * run (fq_lua_files), or fleetqctl's own (fq_ctl_lua_files, ctl/lua):
 * loaded once per run with SCRIPT LOAD and called with EVALSHA, and sent
 * whole with EVAL when Redis has lost them (NOSCRIPT).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "embedded.h"
#include "redis_sync.h"
#include "scripts.h"
#include "settings.h"

extern char **environ;

#define CONNECT_TIMEOUT_S 5
#define REPLY_TIMEOUT_S 30

/* ------------------------------------------------------------------------
 * Connecting
 * --------------------------------------------------------------------- */

static void warn_unknown(const char *name, const char *suggestion, void *arg)
{
    (void)arg;
    char msg[512];
    fq_ctl_errorf("warning: %s", fq_settings_warning(name, suggestion, msg, sizeof(msg)));
}

int fq_ctl_load_config(fq_ctl *ctl)
{
    static int warned;
    char err[512];
    if (fq_config_load(&ctl->cfg, FQ_NO_KEY, err, sizeof(err)) != 0) {
        fq_ctl_errorf("%s", err);
        fq_ctl_fail(ctl, FQ_CTL_USAGE);
        return FQ_CTL_USAGE;
    }
    ctl->have_cfg = 1;
    if (!warned) {
        warned = 1;
        fq_settings_each_unknown(environ, warn_unknown, NULL);
    }
    return 0;
}

int fq_ctl_connect(fq_ctl *ctl)
{
    char err[512];
    if (fq_ctl_load_config(ctl) != 0)
        return FQ_CTL_USAGE;
    int refused = 0;
    redisContext *c = fq_redis_connect_sync(&ctl->cfg, CONNECT_TIMEOUT_S * 1000,
                                            REPLY_TIMEOUT_S * 1000, &refused, err, sizeof(err));
    if (c == NULL) {
        /* a refused AUTH or SELECT is a wrong REDIS_URL: a configuration error */
        fq_ctl_errorf("%s", err);
        fq_ctl_fail(ctl, refused ? FQ_CTL_USAGE : FQ_CTL_UNREACHABLE);
        return ctl->rc;
    }
    ctl->redis = c;
    redisReply *r = redisCommand(c, "CLIENT SETNAME %s", FQ_CTL_PROG);
    if (r == NULL) {
        fq_ctl_errorf("lost the connection to Redis at %s:%d while naming the connection: %s",
                      ctl->cfg.redis_host, ctl->cfg.redis_port, c->errstr);
        fq_ctl_fail(ctl, FQ_CTL_UNREACHABLE);
        return ctl->rc;
    }
    freeReplyObject(r);  /* an error here (an old Redis) does no harm */
    return 0;
}

void fq_ctl_close(fq_ctl *ctl)
{
    if (ctl->redis != NULL)
        redisFree(ctl->redis);
    ctl->redis = NULL;
    if (ctl->have_cfg)
        fq_config_free(&ctl->cfg);
    ctl->have_cfg = 0;
}

/* ------------------------------------------------------------------------
 * Commands
 * --------------------------------------------------------------------- */

/* NULL reply: the connection failed (hiredis' sync context is unusable
 * after that); error reply: freed. Either way NULL, with the exit code. */
static redisReply *checked(fq_ctl *ctl, redisReply *reply)
{
    if (reply == NULL) {
        fq_ctl_errorf("lost the connection to Redis at %s:%d: %s; check that Redis is running",
                      ctl->cfg.redis_host, ctl->cfg.redis_port,
                      ctl->redis->errstr[0] ? ctl->redis->errstr : "no reply");
        fq_ctl_fail(ctl, FQ_CTL_UNREACHABLE);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOAUTH", 6) == 0) {
        fq_ctl_errorf("REDIS_URL: Redis wants a password (%s); put it in the URL: "
                      "redis://[user:]password@host:port/db", reply->str);
        fq_ctl_fail(ctl, FQ_CTL_USAGE);
        freeReplyObject(reply);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        fq_ctl_errorf("Redis answered with an error: %s", reply->str);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *fq_ctl_command_run(fq_ctl *ctl, const char *fmt, ...)
{
    if (ctl->redis == NULL || ctl->redis->err)
        return checked(ctl, NULL);
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(ctl->redis, fmt, ap);
    va_end(ap);
    return checked(ctl, reply);
}

redisReply *fq_ctl_command_argv(fq_ctl *ctl, const fq_argv *a)
{
    if (ctl->redis == NULL || ctl->redis->err)
        return checked(ctl, NULL);
    return checked(ctl, redisCommandArgv(ctl->redis, a->argc, (const char **)a->argv,
                                         a->argvlen));
}

int fq_ctl_append(fq_ctl *ctl, const char *fmt, ...)
{
    if (ctl->redis == NULL || ctl->redis->err) {
        checked(ctl, NULL);
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(ctl->redis, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        fq_ctl_errorf("could not queue a command for Redis: %s",
                      ctl->redis->errstr[0] ? ctl->redis->errstr : "out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    return 0;
}

redisReply *fq_ctl_next_reply(fq_ctl *ctl)
{
    void *reply = NULL;
    if (ctl->redis == NULL || ctl->redis->err ||
        redisGetReply(ctl->redis, &reply) != REDIS_OK)
        reply = NULL;
    return checked(ctl, reply);
}

long long fq_ctl_redis_now_ms(fq_ctl *ctl)
{
    redisReply *r = fq_ctl_command_run(ctl, "TIME");
    if (r == NULL)
        return -1;
    long long ms = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING)
        ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
             strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    if (ms < 0) {
        fq_ctl_errorf("Redis answered TIME with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    return ms;
}

/* ------------------------------------------------------------------------
 * Scripts
 * --------------------------------------------------------------------- */

/* "<name>.lua" among the fleet's scripts, then among fleetqctl's own. */
static const char *script_text(const char *name)
{
    static const fq_embedded *const tables[] = {fq_lua_files, fq_ctl_lua_files};
    size_t len = strlen(name);
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (int i = 0; tables[t][i].name != NULL; i++) {
            const char *n = tables[t][i].name;
            if (strncmp(n, name, len) == 0 && strcmp(n + len, ".lua") == 0)
                return tables[t][i].text;
        }
    }
    return NULL;
}

/* The SHA1 of a script, loaded with SCRIPT LOAD the first time. Returns 0
 * with *sha set (NULL when the cache is full: the script then goes as
 * EVAL), or -1 after reporting why. */
static int script_sha(fq_ctl *ctl, const char *name, const char *text, const char **sha)
{
    *sha = NULL;
    for (int i = 0; i < ctl->nscripts; i++) {
        if (strcmp(ctl->scripts[i].name, name) == 0) {
            *sha = ctl->scripts[i].sha;
            return 0;
        }
    }
    if (ctl->nscripts == FQ_CTL_MAX_SCRIPTS)
        return 0;
    redisReply *r = fq_ctl_command_run(ctl, "SCRIPT LOAD %s", text);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING && r->len < sizeof(ctl->scripts[0].sha)) {
        int i = ctl->nscripts++;
        ctl->scripts[i].name = name;
        memcpy(ctl->scripts[i].sha, r->str, r->len);
        ctl->scripts[i].sha[r->len] = '\0';
        *sha = ctl->scripts[i].sha;
    }
    freeReplyObject(r);
    return 0;
}

/* Sends "verb body nkeys args...". Returns 0 with the reply in *reply (NULL
 * when the connection failed), or -1 after reporting that memory ran out. */
static int call_script(fq_ctl *ctl, const char *verb, const char *body, int nkeys,
                       const fq_argv *args, redisReply **reply)
{
    fq_argv call;
    fq_argv_init(&call);
    *reply = NULL;
    int built = fq_argv_adds(&call, verb) == 0 && fq_argv_adds(&call, body) == 0 &&
                fq_argv_addll(&call, nkeys) == 0;
    for (int i = 0; built && i < args->argc; i++)
        built = fq_argv_add(&call, args->argv[i], args->argvlen[i]) == 0;
    if (built && ctl->redis != NULL && !ctl->redis->err)
        *reply = redisCommandArgv(ctl->redis, call.argc, (const char **)call.argv,
                                  call.argvlen);
    fq_argv_free(&call);
    if (!built) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return -1;
    }
    return 0;
}

redisReply *fq_ctl_script(fq_ctl *ctl, const char *name, int nkeys, const fq_argv *args)
{
    const char *text = script_text(name), *sha;
    redisReply *reply;
    char why[160];
    if (fq_script_check(name, nkeys, why, sizeof(why)) != 0 || nkeys > args->argc) {
        fq_ctl_errorf("%s", nkeys > args->argc ? "a script call with fewer arguments than keys"
                                                : why);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return NULL;
    }
    if (text == NULL) {
        fq_ctl_errorf("this build has no script %s.lua; rebuild fleetqctl", name);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return NULL;
    }
    if (script_sha(ctl, name, text, &sha) != 0)
        return NULL;
    if (sha != NULL) {
        if (call_script(ctl, "EVALSHA", sha, nkeys, args, &reply) != 0)
            return NULL;
        if (reply == NULL || reply->type != REDIS_REPLY_ERROR ||
            strncmp(reply->str, "NOSCRIPT", 8) != 0)
            return checked(ctl, reply);
        freeReplyObject(reply);  /* Redis lost its scripts (a restart): send the text */
    }
    if (call_script(ctl, "EVAL", text, nkeys, args, &reply) != 0)
        return NULL;
    return checked(ctl, reply);
}
