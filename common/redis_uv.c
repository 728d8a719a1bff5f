/* redis_uv.c -- a libuv event adapter for hiredis async (see redis_uv.h). */
#include "redis_uv.h"

#include <stdlib.h>

typedef struct uv_events {
    redisAsyncContext *ac;  /* NULL once hiredis has let go of us */
    uv_poll_t poll;
    int events;
} uv_events;

static void on_poll(uv_poll_t *handle, int status, int events)
{
    uv_events *e = handle->data;
    if (status < 0) {
        /* libuv has stopped the handle; let hiredis find the error on the
         * socket through whichever operation it was waiting for. */
        events = e->events;
    }
    if (e->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

static void update(uv_events *e, int add, int remove)
{
    e->events = (e->events | add) & ~remove;
    if (e->events)
        uv_poll_start(&e->poll, e->events, on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void add_read(void *data) { update(data, UV_READABLE, 0); }
static void del_read(void *data) { update(data, 0, UV_READABLE); }
static void add_write(void *data) { update(data, UV_WRITABLE, 0); }
static void del_write(void *data) { update(data, 0, UV_WRITABLE); }

static void on_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void cleanup(void *data)
{
    uv_events *e = data;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, on_closed);
}

int fq_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return REDIS_ERR;
    uv_events *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return REDIS_ERR;
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return REDIS_ERR;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = e;
    return REDIS_OK;
}
