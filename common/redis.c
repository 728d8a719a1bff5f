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
 *
 * On a Redis Cluster (redis_cluster.h) every connect asks CLUSTER SLOTS
 * which master owns the fleet's slot and moves there when it is another
 * node; the nodes listed are kept, and a connect that fails goes on to
 * the next of them, so a failover whose old master is gone finds the new
 * one. A command answered MOVED or ASK is kept (each pending record holds
 * its command as sent) and sent again on the connection to the node
 * named, after ASKING for an ASK; the other commands in flight end with a
 * NULL reply, as on any lost connection.
 *
 * With rediss:// each context is connected to a TLS relay (redis_tls.h)
 * made for it; the relay goes with the context, and when the connection
 * is lost the relay's reason (a certificate that does not verify, Redis
 * gone) is what the log says.
 */
#include "redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "embedded.h"
#include "keys.h"
#include "log.h"
#include "redis_cluster.h"
#include "redis_tls.h"
#include "redis_uv.h"
#include "scripts.h"
#include "timeutil.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_PERIOD_MS 1000
#define DEFAULT_STALL_MS 15000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_SCRIPTS 64
#define MAX_REDIRECTS 5    /* of one command, before it fails */

typedef struct pending pending;

struct fq_redis {
    uv_loop_t *loop;
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    char name[64];
    int tls;                    /* rediss:// */
    int outage_logged;          /* the first failed connect of an outage was logged */

    redisAsyncContext *ac;
    fq_tls_relay *relay;        /* with tls: the relay behind ac */
    int connected;
    int closing;
    int open_handles;
    uv_timer_t reconnect_timer;
    uv_timer_t watchdog;
    uv_timer_t redirect_timer;   /* leaves the current node outside hiredis' callbacks */

    /* Redis Cluster: the nodes known (the configured one first), the next
     * to try after a failed connect, and the commands to send again on
     * the node they were redirected to */
    fq_cluster_node nodes[FQ_CLUSTER_NODES_MAX];
    size_t nnodes;
    size_t node_next;
    int cluster_warned;
    pending *redirected;
    pending *redirected_tail;
    int64_t backoff_ms;
    int64_t stall_ms;
    int pending;
    int64_t last_progress;  /* monotonic ms of the last reply or send on idle */
    int ping_outstanding;

    fq_redis_state_cb state_cb;
    void *state_data;
    char *shas[MAX_SCRIPTS];
};

struct pending {
    fq_redis *r;
    fq_redis_cb cb;
    void *data;
    int script;        /* index into fq_lua_files, or -1 */
    fq_argv eval;      /* for a script sent as EVALSHA: the EVAL form */
    char *cmd;         /* the command as sent (redisFormatCommand), for a redirect */
    size_t cmdlen;
    int redirects;
    int asking;        /* an ASK redirect: ASKING goes first */
    pending *next;     /* in the redirected queue */
};

static void connect_now(fq_redis *r);
static void forget_relay(fq_redis *r);
static void drop_connection(fq_redis *r, const char *why);
static void on_redirect_timer(uv_timer_t *t);
static void ready(fq_redis *r);

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
    if (p->cmd != NULL)
        redisFreeCommand(p->cmd);
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

/* Sends p's command (formatted already) on the current connection. */
static int send_formatted(fq_redis *r, pending *p)
{
    if (r->ac == NULL || r->closing)
        return -1;
    return sent(r, redisAsyncFormattedCommand(r->ac, on_reply, p, p->cmd, p->cmdlen));
}

static int send_argv(fq_redis *r, pending *p, const fq_argv *a)
{
    if (r->ac == NULL || r->closing)
        return -1;
    if (p->cmd != NULL)
        redisFreeCommand(p->cmd);
    p->cmd = NULL;
    int len = redisFormatCommandArgv(&p->cmd, a->argc, (const char **)a->argv, a->argvlen);
    if (len < 0)
        return -1;
    p->cmdlen = (size_t)len;
    return send_formatted(r, p);
}

/* ------------------------------------------------------------------------
 * Redis Cluster
 * --------------------------------------------------------------------- */

static void set_target(fq_redis *r, const fq_cluster_node *to)
{
    snprintf(r->host, sizeof(r->host), "%s", to->host);
    r->port = to->port;
}

/* Moves the connection to node `to` (from outside hiredis' callbacks). */
static void move_to(fq_redis *r, const fq_cluster_node *to, const char *why)
{
    if (!fq_cluster_node_is(to, r->host, r->port))
        fq_log(FQ_LOG_INFO, "redis.redirected", FQ_LS, "conn", r->name, FQ_LS, "from", r->host,
               FQ_LI, "from_port", (int64_t)r->port, FQ_LS, "to", to->host, FQ_LI, "to_port",
               (int64_t)to->port, FQ_LS, "reason", why, FQ_LEND);
    set_target(r, to);
    r->backoff_ms = BACKOFF_MIN_MS;
    if (!r->closing)
        uv_timer_start(&r->redirect_timer, on_redirect_timer, 0, 0);
}

static void redirect_later(fq_redis *r, pending *p)
{
    p->next = NULL;
    if (r->redirected_tail != NULL)
        r->redirected_tail->next = p;
    else
        r->redirected = p;
    r->redirected_tail = p;
}

/* Takes the redirected commands: sends each on the new connection, in
 * their order (send = 1), or ends it with a NULL reply when that fails or
 * the connection closes (send = 0). */
static void flush_redirected(fq_redis *r, int send)
{
    pending *p = r->redirected;
    r->redirected = r->redirected_tail = NULL;
    while (p != NULL) {
        pending *next = p->next;
        if (send && p->asking)
            redisAsyncCommand(r->ac, NULL, NULL, "ASKING");
        p->asking = 0;
        if (!send || send_formatted(r, p) != 0) {
            if (p->cb != NULL)
                p->cb(r, NULL, p->data);
            pending_free(p);
        }
        p = next;
    }
}

/* A MOVED or ASK reply to p: 1 when p was kept to be sent again there. */
static int redirected(fq_redis *r, pending *p, const redisReply *reply)
{
    fq_cluster_node to;
    int ask;
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR || p->cmd == NULL ||
        p->redirects >= MAX_REDIRECTS || fq_cluster_redirect(reply->str, &to, &ask) != 0)
        return 0;
    p->redirects++;
    p->asking = ask;
    redirect_later(r, p);
    move_to(r, &to, ask ? "ASK" : "MOVED");
    return 1;
}

/* The CLUSTER SLOTS reply at connect: on a cluster, the nodes, and the
 * master of the fleet's slot, where this connection belongs. */
static void on_cluster_slots(redisAsyncContext *ac, void *reply_, void *data)
{
    redisReply *reply = reply_;
    fq_redis *r = ac->data;
    if (r == NULL || r->ac != ac || reply == NULL)
        return;   /* the connection is gone */
    if (reply->type != REDIS_REPLY_ARRAY) {
        ready(r);   /* no cluster support: a plain server */
        return;
    }
    const fq_keyset *k = fq_keys();
    if (!k->tagged && !r->cluster_warned) {
        r->cluster_warned = 1;
        fq_log(FQ_LOG_ERROR, "redis.cluster_prefix", FQ_LS, "conn", r->name, FQ_LS, "prefix",
               k->prefix, FQ_LS, "msg", "this Redis is a cluster: set FLEETQ_KEY_PREFIX to a "
               "prefix with a hash tag, such as {fleetq}, so that every key of the fleet is in "
               "one slot", FQ_LEND);
    }
    fq_cluster_node owner;
    if (fq_cluster_slots(reply, fq_key_slot(k->submit), &owner, r->nodes, FQ_CLUSTER_NODES_MAX,
                         &r->nnodes) != 0) {
        ready(r);
        return;
    }
    if (owner.port > 0 && !fq_cluster_node_is(&owner, r->host, r->port))
        move_to(r, &owner, "CLUSTER SLOTS");
    else
        ready(r);
}

/* After a failed connect: the next known node, if there are others. */
static void next_node(fq_redis *r)
{
    if (r->nnodes < 2)
        return;
    r->node_next = (r->node_next + 1) % r->nnodes;
    set_target(r, &r->nodes[r->node_next]);
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *data)
{
    redisReply *reply = reply_;
    pending *p = data;
    fq_redis *r = p->r;
    r->pending--;
    r->last_progress = fq_mono_ms();
    if (!r->closing && redirected(r, p, reply))
        return;
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
    int len = redisvFormatCommand(&p->cmd, fmt, ap);
    va_end(ap);
    int rc = -1;
    if (len >= 0) {
        p->cmdlen = (size_t)len;
        rc = send_formatted(r, p);
    }
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
    char why[160];
    if (fq_script_check(name, nkeys, why, sizeof(why)) != 0 || nkeys > args->argc) {
        fq_log(FQ_LOG_ERROR, "redis.script_call_refused", FQ_LS, "script", name, FQ_LS, "error",
               nkeys > args->argc ? "fewer arguments than keys" : why, FQ_LEND);
        return -1;
    }
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

/* Lets the context's TLS relay go. Returns what to log of the lost
 * connection: the relay's reason when it has one (a certificate that does
 * not verify is also logged at error), else hiredis' error. */
static const char *let_relay_go(fq_redis *r, const char *hiredis_error, char *buf, size_t len)
{
    fq_tls_relay *t = r->relay;
    if (t == NULL)
        return hiredis_error;
    r->relay = NULL;
    fq_tls_relay_error(t, buf, len);
    if (fq_tls_relay_refused(t) && !r->closing)
        fq_log(FQ_LOG_ERROR, "redis.tls_refused", FQ_LS, "conn", r->name, FQ_LS, "error", buf,
               FQ_LI, "retry_ms", r->backoff_ms, FQ_LEND);
    fq_tls_relay_release(t);
    return buf[0] != '\0' ? buf : hiredis_error;
}

/* The same where the context was given up by fleetq itself: its reason
 * is not news. */
static void forget_relay(fq_redis *r)
{
    char why[320];
    let_relay_go(r, "", why, sizeof(why));
}

/* The URL the connection uses, for a message: never the password. */
static const char *show_url(const fq_redis *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s://%s%s%s%s:%d/%d", r->tls ? "rediss" : "redis", r->user,
             r->password[0] != '\0' ? ":***" : "", r->user[0] || r->password[0] ? "@" : "",
             r->host, r->port, r->db);
    return buf;
}

/* A connect that failed. The first of an outage (since the start, or
 * since the connection was last up) is logged at error at once, with where
 * and why; the others quietly, and as warnings once the back-off is at its
 * longest. */
static void connect_failed(fq_redis *r, const char *cause)
{
    char url[512];
    int first = !r->outage_logged;
    r->outage_logged = 1;
    fq_log(first ? FQ_LOG_ERROR : r->backoff_ms >= BACKOFF_MAX_MS ? FQ_LOG_WARN : FQ_LOG_DEBUG,
           first ? "redis.unreachable" : "redis.connect_failed", FQ_LS, "conn", r->name,
           FQ_LS, "url", show_url(r, url, sizeof(url)), FQ_LS, "error", cause, FQ_LI, "retry_ms",
           r->backoff_ms, FQ_LS, "msg", first ? "retrying with back-off; check REDIS_URL and "
           "that Redis is running" : NULL, FQ_LEND);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    fq_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        char why[320];
        connect_failed(r, let_relay_go(r, ac->errstr, why, sizeof(why)));
        r->ac = NULL;
        r->pending = 0;
        next_node(r);
        schedule_reconnect(r);
        return;
    }
    if (!r->tls)   /* a relay's Unix socket has no keep-alive; its TCP connection has */
        redisEnableKeepAlive((redisContext *)&ac->c);
    r->last_progress = fq_mono_ms();
    /* ready once CLUSTER SLOTS has said this is the node to use */
}

/* The connection is up on the right node: the owners may send. */
static void ready(fq_redis *r)
{
    r->connected = 1;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->last_progress = fq_mono_ms();
    if (r->outage_logged) {
        char url[512];
        fq_log(FQ_LOG_INFO, "redis.reachable", FQ_LS, "conn", r->name, FQ_LS, "url",
               show_url(r, url, sizeof(url)), FQ_LEND);
        r->outage_logged = 0;
    }
    fq_log(FQ_LOG_DEBUG, "redis.connected", FQ_LS, "conn", r->name, FQ_LS, "host", r->host,
           FQ_LI, "port", (int64_t)r->port, FQ_LEND);
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
    char why[320];
    const char *error = let_relay_go(r, status == REDIS_OK ? "closed" : ac->errstr, why,
                                     sizeof(why));
    if (r->closing)
        return;
    if (was)
        fq_log(FQ_LOG_WARN, "redis.disconnected", FQ_LS, "conn", r->name, FQ_LS, "error", error,
               FQ_LEND);
    else   /* lost before it was ever up: Redis is not (yet) there */
        connect_failed(r, error);
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
    redisAsyncContext *ac = NULL;
    char why[320];
    if (r->tls) {
        char path[108];
        r->relay = fq_tls_relay_listen(r->host, r->port, CONNECT_TIMEOUT_MS, path, sizeof(path),
                                       why, sizeof(why));
        if (r->relay != NULL)
            ac = redisAsyncConnectUnix(path);
    } else {
        ac = redisAsyncConnect(r->host, r->port);
    }
    if (ac == NULL || ac->err) {
        connect_failed(r, ac ? ac->errstr : r->tls && r->relay == NULL ? why : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        forget_relay(r);
        next_node(r);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    if (fq_redis_uv_attach(ac, r->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        forget_relay(r);
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
    redisAsyncCommand(ac, on_cluster_slots, NULL, "CLUSTER SLOTS");
    for (int i = 0; fq_lua_files[i].name != NULL && i < MAX_SCRIPTS; i++)
        if (r->shas[i] == NULL)
            redisAsyncCommand(ac, on_script_loaded, (void *)(intptr_t)i, "SCRIPT LOAD %s",
                              fq_lua_files[i].text);
    flush_redirected(r, 1);
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
    forget_relay(r);
    fq_log(FQ_LOG_WARN, "redis.dropped", FQ_LS, "conn", r->name, FQ_LS, "reason", why,
           FQ_LEND);
    redisAsyncFree(ac);
    r->pending = 0;
    r->ping_outstanding = 0;
    schedule_reconnect(r);
    if (was)
        notify(r, 0);
}

static void on_redirect_timer(uv_timer_t *t)
{
    fq_redis *r = t->data;
    if (r->ac != NULL)
        drop_connection(r, "redirected to another node");
    else if (!r->closing) {
        uv_timer_stop(&r->reconnect_timer);
        connect_now(r);
    }
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
    r->tls = cfg->redis_tls;
    r->stall_ms = stall_ms > 0 ? stall_ms : DEFAULT_STALL_MS;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->reconnect_timer);
    uv_timer_init(loop, &r->watchdog);
    uv_timer_init(loop, &r->redirect_timer);
    r->reconnect_timer.data = r;
    r->watchdog.data = r;
    r->redirect_timer.data = r;
    r->open_handles = 3;
    snprintf(r->nodes[0].host, sizeof(r->nodes[0].host), "%s", cfg->redis_host);
    r->nodes[0].port = cfg->redis_port;
    r->nnodes = 1;
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
    forget_relay(r);
    flush_redirected(r, 0);
    uv_close((uv_handle_t *)&r->reconnect_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
    uv_close((uv_handle_t *)&r->redirect_timer, on_handle_closed);
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
