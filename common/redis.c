/* redis.c -- a self-healing Redis connection on the libuv loop.
 *
 * DESIGN
 * Every command goes through a small `pending` record that wraps the
 * caller's callback, so that the wrapper can (1) count what is in flight
 * for the stall watchdog, (2) resend a script as EVAL when Redis answers
 * NOSCRIPT, and (3) guarantee that the caller's callback runs exactly once.
 * hiredis runs every pending callback with a NULL reply when a context is
 * lost or freed, and calls the disconnect callback afterwards; the
 * connection then schedules its own reconnect. r->ac is cleared before a
 * context is freed, so a callback that issues a new command during the
 * teardown gets -1 instead of touching a dying context.
 */
#include "redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "embedded.h"
#include "log.h"
#include "redis_uv.h"
#include "timeutil.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_PERIOD_MS 1000
#define DEFAULT_STALL_MS 15000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_SCRIPTS 64

struct fq_redis {
    uv_loop_t *loop;
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    char name[64];

    redisAsyncContext *ac;
    int connected;
    int closing;
    int open_handles;
    uv_timer_t reconnect_timer;
    uv_timer_t watchdog;
    int64_t backoff_ms;
    int64_t stall_ms;
    int pending;
    int64_t last_progress;  /* monotonic ms of the last reply or send on idle */
    int ping_outstanding;

    fq_redis_state_cb state_cb;
    void *state_data;
    char *shas[MAX_SCRIPTS];
};

typedef struct pending {
    fq_redis *r;
    fq_redis_cb cb;
    void *data;
    int script;        /* index into fq_lua_files, or -1 */
    fq_argv eval;      /* for a script sent as EVALSHA: the EVAL form */
} pending;

static void connect_now(fq_redis *r);
static void drop_connection(fq_redis *r, const char *why);

/* ------------------------------------------------------------------------
 * Scripts
 * --------------------------------------------------------------------- */

static int script_index(const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; fq_lua_files[i].name != NULL && i < MAX_SCRIPTS; i++) {
        const char *n = fq_lua_files[i].name;
        if (strncmp(n, name, len) == 0 && strcmp(n + len, ".lua") == 0)
            return i;
    }
    return -1;
}

static void on_script_loaded(redisAsyncContext *ac, void *reply_, void *data)
{
    redisReply *reply = reply_;
    fq_redis *r = ac->data;
    int i = (int)(intptr_t)data;
    if (reply != NULL && reply->type == REDIS_REPLY_STRING && r->shas[i] == NULL) {
        r->shas[i] = strndup(reply->str, reply->len);
    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        fq_log(FQ_LOG_ERROR, "redis.script_load_failed", FQ_LS, "conn", r->name,
               FQ_LS, "script", fq_lua_files[i].name, FQ_LS, "error", reply->str, FQ_LEND);
    }
}

/* ------------------------------------------------------------------------
 * Command plumbing
 * --------------------------------------------------------------------- */

static void pending_free(pending *p)
{
    fq_argv_free(&p->eval);
    free(p);
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *data);

static pending *pending_new(fq_redis *r, fq_redis_cb cb, void *data, int script)
{
    pending *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->r = r;
        p->cb = cb;
        p->data = data;
        p->script = script;
    }
    return p;
}

/* Counts a command handed to hiredis (rc is hiredis' result). */
static int sent(fq_redis *r, int rc)
{
    if (rc != REDIS_OK)
        return -1;
    if (r->pending++ == 0)
        r->last_progress = fq_mono_ms();
    return 0;
}

static int send_argv(fq_redis *r, pending *p, const fq_argv *a)
{
    if (r->ac == NULL || r->closing)
        return -1;
    return sent(r, redisAsyncCommandArgv(r->ac, on_reply, p, a->argc, (const char **)a->argv,
                                         a->argvlen));
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *data)
{
    redisReply *reply = reply_;
    pending *p = data;
    fq_redis *r = p->r;
    r->pending--;
    r->last_progress = fq_mono_ms();
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && p->script >= 0 &&
        p->eval.argc > 0 && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* Redis lost its script cache (a restart): send the text once. */
        fq_argv eval = p->eval;
        fq_argv_init(&p->eval);
        int rc = send_argv(r, p, &eval);
        fq_argv_free(&eval);
        if (rc == 0)
            return;
    }
    if (p->cb != NULL)
        p->cb(r, reply, p->data);
    pending_free(p);
}

int fq_redis_argv(fq_redis *r, fq_redis_cb cb, void *data, const fq_argv *a)
{
    if (!fq_argv_ok(a))
        return -1;  /* an element is missing: never send a shifted command */
    pending *p = pending_new(r, cb, data, -1);
    if (p == NULL)
        return -1;
    if (send_argv(r, p, a) != 0) {
        pending_free(p);
        return -1;
    }
    return 0;
}

int fq_redis_command(fq_redis *r, fq_redis_cb cb, void *data, const char *fmt, ...)
{
    if (r->ac == NULL || r->closing)
        return -1;
    pending *p = pending_new(r, cb, data, -1);
    if (p == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = sent(r, redisvAsyncCommand(r->ac, on_reply, p, fmt, ap));
    va_end(ap);
    if (rc != 0)
        pending_free(p);
    return rc;
}

/* Builds "EVAL|EVALSHA body nkeys args..." into out. */
static int build_script_call(fq_argv *out, const char *verb, const char *body, int nkeys,
                             const fq_argv *args)
{
    if (fq_argv_adds(out, verb) || fq_argv_adds(out, body) || fq_argv_addll(out, nkeys))
        return -1;
    for (int i = 0; i < args->argc; i++)
        if (fq_argv_add(out, args->argv[i], args->argvlen[i]))
            return -1;
    return 0;
}

int fq_redis_script(fq_redis *r, const char *name, int nkeys, const fq_argv *args,
                    fq_redis_cb cb, void *data)
{
    if (!fq_argv_ok(args))
        return -1;  /* an element is missing: never send shifted arguments */
    int i = script_index(name);
    if (i < 0) {
        fq_log(FQ_LOG_ERROR, "redis.unknown_script", FQ_LS, "script", name, FQ_LEND);
        return -1;
    }
    pending *p = pending_new(r, cb, data, i);
    if (p == NULL)
        return -1;
    fq_argv call;
    fq_argv_init(&call);
    int rc = -1;
    if (r->shas[i] != NULL) {
        if (build_script_call(&call, "EVALSHA", r->shas[i], nkeys, args) ||
            build_script_call(&p->eval, "EVAL", fq_lua_files[i].text, nkeys, args))
            goto out;
    } else if (build_script_call(&call, "EVAL", fq_lua_files[i].text, nkeys, args)) {
        goto out;
    }
    rc = send_argv(r, p, &call);
out:
    fq_argv_free(&call);
    if (rc != 0)
        pending_free(p);
    return rc;
}

/* ------------------------------------------------------------------------
 * Connection life cycle
 * --------------------------------------------------------------------- */

static void notify(fq_redis *r, int connected)
{
    if (r->state_cb != NULL && !r->closing)
        r->state_cb(r, connected, r->state_data);
}

static void on_reconnect_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_reconnect(fq_redis *r)
{
    if (r->closing)
        return;
    int64_t delay = r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    uv_timer_start(&r->reconnect_timer, on_reconnect_timer, (uint64_t)delay, 0);
}

static void on_auth_or_select(redisAsyncContext *ac, void *reply_, void *data)
{
    redisReply *reply = reply_;
    fq_redis *r = ac->data;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        fq_log(FQ_LOG_ERROR, "redis.setup_failed", FQ_LS, "conn", r->name,
               FQ_LS, "step", (const char *)data, FQ_LS, "error", reply->str, FQ_LEND);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    fq_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        fq_log(r->backoff_ms >= BACKOFF_MAX_MS ? FQ_LOG_WARN : FQ_LOG_DEBUG,
               "redis.connect_failed", FQ_LS, "conn", r->name, FQ_LS, "error", ac->errstr,
               FQ_LI, "retry_ms", r->backoff_ms, FQ_LEND);
        r->ac = NULL;
        r->pending = 0;
        schedule_reconnect(r);
        return;
    }
    redisEnableKeepAlive((redisContext *)&ac->c);
    r->connected = 1;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->last_progress = fq_mono_ms();
    fq_log(FQ_LOG_DEBUG, "redis.connected", FQ_LS, "conn", r->name, FQ_LEND);
    notify(r, 1);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    fq_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;  /* a context we detached ourselves */
    r->ac = NULL;
    r->pending = 0;
    int was = r->connected;
    r->connected = 0;
    if (r->closing)
        return;
    fq_log(FQ_LOG_WARN, "redis.disconnected", FQ_LS, "conn", r->name,
           FQ_LS, "error", status == REDIS_OK ? "closed" : ac->errstr, FQ_LEND);
    schedule_reconnect(r);
    if (was)
        notify(r, 0);
}

static void connect_now(fq_redis *r)
{
    if (r->closing || r->ac != NULL)
        return;
    fq_log(FQ_LOG_DEBUG, "redis.connecting", FQ_LS, "conn", r->name, FQ_LS, "host", r->host,
           FQ_LI, "port", (int64_t)r->port, FQ_LEND);
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL || ac->err) {
        fq_log(FQ_LOG_WARN, "redis.connect_failed", FQ_LS, "conn", r->name,
               FQ_LS, "error", ac ? ac->errstr : "out of memory", FQ_LEND);
        if (ac != NULL)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    if (fq_redis_uv_attach(ac, r->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    r->ac = ac;
    r->pending = 0;
    r->last_progress = fq_mono_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued before the connection completes, so they go first. */
    if (r->password[0] != '\0') {
        if (r->user[0] != '\0')
            redisAsyncCommand(ac, on_auth_or_select, "AUTH", "AUTH %s %s", r->user, r->password);
        else
            redisAsyncCommand(ac, on_auth_or_select, "AUTH", "AUTH %s", r->password);
    }
    if (r->db != 0)
        redisAsyncCommand(ac, on_auth_or_select, "SELECT", "SELECT %d", r->db);
    redisAsyncCommand(ac, on_auth_or_select, "CLIENT SETNAME", "CLIENT SETNAME %s", r->name);
    for (int i = 0; fq_lua_files[i].name != NULL && i < MAX_SCRIPTS; i++)
        if (r->shas[i] == NULL)
            redisAsyncCommand(ac, on_script_loaded, (void *)(intptr_t)i, "SCRIPT LOAD %s",
                              fq_lua_files[i].text);
}

/* Frees the context from outside any hiredis callback; pending callbacks
 * run with NULL and a reconnect is scheduled. */
static void drop_connection(fq_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (ac == NULL)
        return;
    int was = r->connected;
    r->ac = NULL;
    r->connected = 0;
    fq_log(FQ_LOG_WARN, "redis.dropped", FQ_LS, "conn", r->name, FQ_LS, "reason", why,
           FQ_LEND);
    redisAsyncFree(ac);
    r->pending = 0;
    r->ping_outstanding = 0;
    schedule_reconnect(r);
    if (was)
        notify(r, 0);
}

static void on_ping(fq_redis *r, redisReply *reply, void *data)
{
    r->ping_outstanding = 0;
}

static void on_watchdog(uv_timer_t *t)
{
    fq_redis *r = t->data;
    if (r->ac == NULL)
        return;
    int64_t quiet = fq_mono_ms() - r->last_progress;
    if (!r->connected) {
        if (quiet > CONNECT_TIMEOUT_MS)
            drop_connection(r, "connect timed out");
        return;
    }
    if (r->pending > 0 && quiet > r->stall_ms) {
        drop_connection(r, "no reply within the stall limit");
    } else if (r->pending == 0 && quiet > r->stall_ms / 3 && !r->ping_outstanding) {
        if (fq_redis_command(r, on_ping, NULL, "PING") == 0)
            r->ping_outstanding = 1;
    }
}

fq_redis *fq_redis_new(uv_loop_t *loop, const fq_config *cfg, const char *name,
                       int64_t stall_ms)
{
    fq_redis *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->loop = loop;
    snprintf(r->host, sizeof(r->host), "%s", cfg->redis_host);
    r->port = cfg->redis_port;
    r->db = cfg->redis_db;
    snprintf(r->user, sizeof(r->user), "%s", cfg->redis_user);
    snprintf(r->password, sizeof(r->password), "%s", cfg->redis_password);
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->stall_ms = stall_ms > 0 ? stall_ms : DEFAULT_STALL_MS;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->reconnect_timer);
    uv_timer_init(loop, &r->watchdog);
    r->reconnect_timer.data = r;
    r->watchdog.data = r;
    r->open_handles = 2;
    uv_timer_start(&r->watchdog, on_watchdog, WATCHDOG_PERIOD_MS, WATCHDOG_PERIOD_MS);
    connect_now(r);
    return r;
}

void fq_redis_on_state(fq_redis *r, fq_redis_state_cb cb, void *data)
{
    r->state_cb = cb;
    r->state_data = data;
}

int fq_redis_connected(const fq_redis *r)
{
    return r->connected;
}

static void on_handle_closed(uv_handle_t *h)
{
    fq_redis *r = h->data;
    if (--r->open_handles > 0)
        return;
    for (int i = 0; i < MAX_SCRIPTS; i++)
        free(r->shas[i]);
    explicit_bzero(r->password, sizeof(r->password));
    free(r);
}

void fq_redis_close(fq_redis *r)
{
    if (r == NULL || r->closing)
        return;
    r->closing = 1;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->connected = 0;
    if (ac != NULL)
        redisAsyncFree(ac);
    uv_close((uv_handle_t *)&r->reconnect_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
}

/* ------------------------------------------------------------------------
 * Reply helpers
 * --------------------------------------------------------------------- */

size_t fq_reply_fields(const redisReply *arr, fq_field *out, size_t max)
{
    if (arr == NULL || arr->type != REDIS_REPLY_ARRAY)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i + 1 < arr->elements && n < max; i += 2) {
        const redisReply *k = arr->element[i], *v = arr->element[i + 1];
        if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS)
            continue;
        out[n].name = k->str;
        out[n].name_len = k->len;
        if (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS) {
            out[n].value = v->str;
            out[n].value_len = v->len;
        } else {
            out[n].value = "";
            out[n].value_len = 0;
        }
        n++;
    }
    return n;
}

int fq_reply_failed(const redisReply *reply)
{
    return reply == NULL || reply->type == REDIS_REPLY_ERROR;
}

long long fq_reply_int(const redisReply *reply, long long def)
{
    if (reply == NULL)
        return def;
    if (reply->type == REDIS_REPLY_INTEGER)
        return reply->integer;
    if (reply->type == REDIS_REPLY_STRING && reply->len > 0 && reply->len < 32) {
        char buf[32], *end;
        memcpy(buf, reply->str, reply->len);
        buf[reply->len] = '\0';
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0')
            return v;
    }
    return def;
}
