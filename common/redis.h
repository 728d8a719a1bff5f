/* redis.h -- one Redis connection on the libuv loop, that heals itself.
 *
 * fq_redis wraps a hiredis async context attached to the loop by
 * redis_uv.c (Debian's hiredis 0.14 libuv adapter drops poll errors, so a
 * refused connect would hang for ever). It authenticates and selects the
 * database on every (re)connect, keeps TCP keepalive on, and reconnects
 * with exponential back-off (100 ms doubling to 5 s) after any disconnect.
 * hiredis 0.14 has no command timeouts, so a watchdog timer gives up on a
 * connect after 5 s, probes an idle connection with PING and drops one
 * whose replies stall past the stall limit; pending callbacks then run
 * with a NULL reply.
 *
 * Conventions (libuv's): a call that returns -1 never runs its callback;
 * a call that returns 0 runs it exactly once, with the reply, or with NULL
 * when the connection was lost first. Blocking commands (BZPOPMIN,
 * XREADGROUP BLOCK) get a connection of their own, created with a stall
 * limit above their block time.
 *
 * Lua scripts (the .lua files in common/lua, embedded at build time) are called by
 * name with fq_redis_script(): EVALSHA once the script is loaded, EVAL
 * before that or after a NOSCRIPT reply (a restarted Redis).
 */
#ifndef FQ_REDIS_H
#define FQ_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "config.h"
#include "fields.h"

typedef struct fq_redis fq_redis;

typedef void (*fq_redis_cb)(fq_redis *r, redisReply *reply, void *data);
/* Called after every successful (re)connect (connected = 1, scripts
 * loaded or loading) and after every loss (connected = 0). */
typedef void (*fq_redis_state_cb)(fq_redis *r, int connected, void *data);

/* name is for logs and CLIENT SETNAME ("fleetq-worker-code-main").
 * stall_ms: how long a command may go unanswered before the connection is
 * dropped (0 = 15000). Starts connecting at once. */
fq_redis *fq_redis_new(uv_loop_t *loop, const fq_config *cfg, const char *name,
                       int64_t stall_ms);
void fq_redis_on_state(fq_redis *r, fq_redis_state_cb cb, void *data);
int fq_redis_connected(const fq_redis *r);

int fq_redis_argv(fq_redis *r, fq_redis_cb cb, void *data, const fq_argv *a);
int fq_redis_command(fq_redis *r, fq_redis_cb cb, void *data, const char *fmt, ...);

/* Calls the embedded script "<name>.lua" with the first nkeys elements
 * of args as KEYS and the rest as ARGV. */
int fq_redis_script(fq_redis *r, const char *name, int nkeys, const fq_argv *args,
                    fq_redis_cb cb, void *data);

/* Disconnects, runs pending callbacks with NULL, and frees r once its
 * handles are closed. */
void fq_redis_close(fq_redis *r);

/* Reply helpers. */
/* Views a flat array reply [name, value, name, value, ...] as fields;
 * returns the number of pairs written (at most max). */
size_t fq_reply_fields(const redisReply *arr, fq_field *out, size_t max);
/* 1 when reply is an error reply (or NULL). */
int fq_reply_failed(const redisReply *reply);
/* Integer value of an integer or numeric-string reply, def otherwise. */
long long fq_reply_int(const redisReply *reply, long long def);

#endif
