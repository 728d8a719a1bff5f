/* redis_uv.h -- attaches a hiredis async context to a libuv loop.
 *
 * Like hiredis' own adapters/libuv.h, with one difference that matters:
 * Debian's hiredis 0.14 adapter ignores a poll error, so a connect to a
 * Redis that is down (or a socket that fails) is never noticed and the
 * context hangs for ever. This one hands the error to hiredis, which then
 * reads the socket's error and runs the connect or disconnect callback.
 */
#ifndef FQ_REDIS_UV_H
#define FQ_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Returns REDIS_OK or REDIS_ERR, like redisLibuvAttach(). */
int fq_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
