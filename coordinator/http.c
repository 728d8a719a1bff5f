/* http.c -- the coordinator's HTTP server (see http.h): routing, the
 * /health JSON, and the libmicrohttpd daemon's life cycle.
 *
 * DESIGN
 * The listening socket is bound here rather than by libmicrohttpd, so that
 * a port already in use is reported with the system's reason and the
 * variable to change. The daemon then runs with its internal polling
 * thread and one thread per connection: a request that waits on a stalled
 * Redis (at most about a second, see metrics.c) holds only its own thread.
 * MHD calls the access handler at least twice per request: the first call
 * only marks the connection; upload data (none is expected) is discarded;
 * the last call answers. SIGPIPE is blocked on the server's threads (they
 * inherit the mask of the thread that starts the daemon), so a peer or a
 * Redis that vanishes mid-write is an error return, never a dead process.
 * Nothing here reads the API key (the coordinator never loads it) or
 * prints the Redis password.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "fq_shared.h"
#include "log.h"
#include "metrics.h"
#include "record.h"

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10
#define LISTEN_BACKLOG 64

#define TYPE_JSON "application/json"
#define TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

struct fq_http {
    struct MHD_Daemon *daemon;
    const fq_config *cfg;
    fq_health *health;
    int port;
};

/* ========================================================================
 * Responses
 * ===================================================================== */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               const char *body, size_t len, const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, cJSON *doc,
                                    const char *allow)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, TYPE_JSON, oom, sizeof(oom) - 1,
                       NULL);
    }
    size_t len = strlen(text);
    char *line = malloc(len + 2);
    enum MHD_Result ret = MHD_NO;
    if (line != NULL) {
        memcpy(line, text, len);
        line[len] = '\n';
        line[len + 1] = '\0';
        ret = respond(conn, status, TYPE_JSON, line, len + 1, allow);
        free(line);
    }
    cJSON_free(text);
    return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
                                     const char *msg, const char *allow)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc != NULL) {
        cJSON_AddStringToObject(doc, "error", msg);
        cJSON *paths = cJSON_AddArrayToObject(doc, "paths");
        if (paths != NULL) {
            cJSON_AddItemToArray(paths, cJSON_CreateString("/health"));
            cJSON_AddItemToArray(paths, cJSON_CreateString("/metrics"));
        }
    }
    return respond_json(conn, status, doc, allow);
}

/* ========================================================================
 * GET /health
 * ===================================================================== */

static void add_count(cJSON *obj, const char *name, int known, int64_t v)
{
    if (known)
        cJSON_AddNumberToObject(obj, name, (double)v);
    else
        cJSON_AddNullToObject(obj, name);
}

static double usd(int64_t ticks)
{
    return (double)ticks / (double)FQ_TICKS_PER_USD;
}

/* 1 when any part of the coordinator is failing now. */
static int any_failing(const fq_health_view *v)
{
    for (int i = 0; i < FQ_PART_COUNT; i++)
        if (fq_failing_now(&v->parts[i]))
            return 1;
    return 0;
}

/* "parts": each part's state, with the failing one's error, since when and
 * how often; "warnings": what should be fixed in the setup. */
static void add_parts(cJSON *doc, const fq_health_view *v)
{
    cJSON *parts = cJSON_AddObjectToObject(doc, "parts");
    for (int i = 0; parts != NULL && i < FQ_PART_COUNT; i++) {
        const fq_failing *f = &v->parts[i];
        cJSON *o = cJSON_AddObjectToObject(parts, f->part);
        if (o == NULL)
            break;
        cJSON_AddBoolToObject(o, "ok", !fq_failing_now(f));
        if (fq_failing_now(f)) {
            cJSON_AddStringToObject(o, "error", f->error);
            cJSON_AddNumberToObject(o, "failures", f->failures);
            char t[40];
            cJSON_AddStringToObject(o, "since", fq_iso8601_ms(f->since_ms, t, sizeof(t)));
        }
    }
    cJSON *warnings = cJSON_AddArrayToObject(doc, "warnings");
    for (int i = 0; warnings != NULL && i < FQ_HEALTH_WARNINGS_MAX; i++)
        if (v->warnings[i][0] != '\0')
            cJSON_AddItemToArray(warnings, cJSON_CreateString(v->warnings[i]));
}

static cJSON *health_json(const fq_metrics *m, const fq_health_view *v, const fq_config *cfg)
{
    int up = m->redis_ok;
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL)
        return NULL;
    int ok = m->redis_ok && m->sqlite_ok && !any_failing(v);
    cJSON_AddStringToObject(doc, "status", ok ? "ok" : "degraded");
    cJSON_AddStringToObject(doc, "version", FQ_VERSION);
    add_parts(doc, v);
    add_count(doc, "backlog", up, m->backlog);

    cJSON *redis = cJSON_AddObjectToObject(doc, "redis");
    if (redis != NULL) {
        cJSON_AddBoolToObject(redis, "ok", m->redis_ok);
        if (m->redis_ok)
            cJSON_AddNumberToObject(redis, "latency_ms", round(m->redis_latency_ms * 1000) / 1000);
        else
            cJSON_AddStringToObject(redis, "error", m->redis_error);
    }
    cJSON *sqlite = cJSON_AddObjectToObject(doc, "sqlite");
    if (sqlite != NULL) {
        cJSON_AddBoolToObject(sqlite, "ok", m->sqlite_ok);
        cJSON_AddStringToObject(sqlite, "path", cfg->db_path);
        if (!m->sqlite_ok)
            cJSON_AddStringToObject(sqlite, "error", m->sqlite_error);
    }

    cJSON *queues = cJSON_AddObjectToObject(doc, "queues");
    cJSON *workers = cJSON_CreateObject();
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        const char *role = fq_role_name((fq_role)r);
        cJSON *q = queues != NULL ? cJSON_AddObjectToObject(queues, role) : NULL;
        if (q != NULL) {
            add_count(q, "queued", up, m->queued[r]);
            add_count(q, "delayed", up, m->delayed[r]);
        }
        if (workers != NULL)
            add_count(workers, role, up, m->workers[r]);
    }
    add_count(doc, "delayed", up, m->delayed_total);
    add_count(doc, "running", up, m->running);
    add_count(doc, "dead", up, m->dead);
    if (workers != NULL)
        cJSON_AddItemToObject(doc, "workers", workers);

    if (!up) {
        cJSON_AddNullToObject(doc, "quota");
        cJSON_AddNullToObject(doc, "budget");
        return doc;
    }
    cJSON *quota = cJSON_AddObjectToObject(doc, "quota");
    if (quota != NULL) {
        cJSON_AddNumberToObject(quota, "rate_per_s", m->rate_per_s);
        cJSON_AddNumberToObject(quota, "ceiling_per_s", round(m->ceiling_per_s * 1000) / 1000);
        cJSON_AddBoolToObject(quota, "frozen", m->frozen);
        cJSON_AddStringToObject(quota, "paused", m->paused);
        cJSON_AddStringToObject(quota, "pause_reason", m->pause_reason);
        cJSON_AddStringToObject(quota, "breaker", m->breaker);
        cJSON_AddNumberToObject(quota, "inflight", (double)m->inflight);
        cJSON_AddStringToObject(quota, "scope", m->by_model ? "model" : "key");
    }
    /* each model's own state (the scope `model`) */
    cJSON *models = cJSON_AddObjectToObject(doc, "models");
    for (int i = 0; models != NULL && m->by_model && i < m->nmodels; i++) {
        const fq_metrics_model *s = &m->models[i];
        cJSON *o = cJSON_AddObjectToObject(models, s->name);
        if (o == NULL)
            break;
        cJSON_AddNumberToObject(o, "rate_per_s", s->rate_per_s);
        cJSON_AddNumberToObject(o, "ceiling_per_s", round(s->ceiling_per_s * 1000) / 1000);
        if (s->token_rate_per_min >= 0)
            cJSON_AddNumberToObject(o, "token_rate_per_min", s->token_rate_per_min);
        else
            cJSON_AddNullToObject(o, "token_rate_per_min");
        cJSON_AddNumberToObject(o, "tpm_ceiling", (double)s->tpm_ceiling);
        cJSON_AddBoolToObject(o, "frozen", s->frozen);
        cJSON_AddStringToObject(o, "breaker", s->breaker);
        cJSON_AddNumberToObject(o, "rate_limited", (double)s->rate_limited);
    }
    cJSON *budget = cJSON_AddObjectToObject(doc, "budget");
    if (budget != NULL) {
        cJSON_AddNumberToObject(budget, "spent_usd", usd(m->spent_ticks));
        cJSON_AddNumberToObject(budget, "reserved_usd", usd(m->reserved_ticks));
        if (m->cap_ticks > 0) {
            int64_t left = m->cap_ticks - m->spent_ticks - m->reserved_ticks;
            cJSON_AddNumberToObject(budget, "left_usd", usd(left > 0 ? left : 0));
            cJSON_AddNumberToObject(budget, "cap_usd", usd(m->cap_ticks));
        } else {
            cJSON_AddNullToObject(budget, "left_usd");
            cJSON_AddNullToObject(budget, "cap_usd");
        }
    }
    return doc;
}

static enum MHD_Result serve_health(fq_http *h, struct MHD_Connection *conn, unsigned *status)
{
    fq_metrics m;
    fq_health_view v;
    fq_health_snapshot(h->health, &v);
    int rc = fq_metrics_read(&m, h->cfg, FQ_METRICS_HEALTH);
    *status = rc == 0 && !v.store_refused ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    cJSON *doc = health_json(&m, &v, h->cfg);
    fq_metrics_free(&m);
    return respond_json(conn, *status, doc, NULL);
}

/* ========================================================================
 * GET /metrics
 * ===================================================================== */

static enum MHD_Result serve_metrics(fq_http *h, struct MHD_Connection *conn, unsigned *status)
{
    fq_metrics m;
    size_t len = 0;
    fq_metrics_read(&m, h->cfg, FQ_METRICS_ALL);
    fq_health_snapshot(h->health, &m.health);
    char *text = fq_metrics_render(&m, &len);
    fq_metrics_free(&m);
    if (text == NULL) {
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return respond_error(conn, *status, "out of memory rendering the metrics", NULL);
    }
    /* Always 200: fleetq_up says which part could not be read. */
    *status = MHD_HTTP_OK;
    enum MHD_Result ret = respond(conn, *status, TYPE_PROMETHEUS, text, len, NULL);
    free(text);
    return ret;
}

/* ========================================================================
 * Routing
 * ===================================================================== */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    static int seen;
    fq_http *h = cls;
    if (*con_cls == NULL) {  /* headers only so far */
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {  /* a body nobody asked for */
        *upload_data_size = 0;
        return MHD_YES;
    }
    unsigned status;
    enum MHD_Result ret;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        ret = respond_error(conn, status, "method not allowed: use GET (or HEAD)", "GET, HEAD");
    } else if (strcmp(url, "/health") == 0) {
        ret = serve_health(h, conn, &status);
    } else if (strcmp(url, "/metrics") == 0) {
        ret = serve_metrics(h, conn, &status);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        ret = respond_error(conn, status, "not found: the coordinator serves /health and /metrics",
                            NULL);
    }
    fq_log(FQ_LOG_DEBUG, "http.request", FQ_LS, "method", method, FQ_LS, "path", url,
           FQ_LI, "status", (int64_t)status, FQ_LEND);
    return ret;
}

/* ========================================================================
 * Life cycle
 * ===================================================================== */

/* The variable the port came from, for error lines. */
static const char *port_variable(void)
{
    const char *p = getenv("PORT");
    if (p != NULL && p[0] != '\0')
        return "PORT";
    p = getenv("FLEETQ_HTTP_PORT");
    if (p != NULL && p[0] != '\0')
        return "FLEETQ_HTTP_PORT";
    return "PORT (default 8080)";
}

static int listen_on(int port, int *bound, char *err, size_t errlen)
{
    int one = 1;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a socket for port %d: %s", port_variable(),
                 port, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "%s: cannot listen on 0.0.0.0:%d: %s; choose a free port with "
                 "PORT or FLEETQ_HTTP_PORT, or stop what holds it", port_variable(), port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    *bound = port;
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
        *bound = ntohs(addr.sin_port);
    return fd;
}

fq_http *fq_http_start(const fq_config *cfg, fq_health *health, char *err, size_t errlen)
{
    sigset_t block, old;
    fq_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory starting the HTTP server");
        return NULL;
    }
    h->cfg = cfg;
    h->health = health;
    int fd = listen_on(cfg->http_port, &h->port, err, errlen);
    if (fd < 0)
        goto err;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC,
        0, NULL, NULL, on_request, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "%s: the HTTP server could not start on port %d (out of "
                 "threads or memory?)", port_variable(), h->port);
        close(fd);
        goto err;
    }
    fq_log(FQ_LOG_INFO, "http.listening", FQ_LS, "address", "0.0.0.0", FQ_LI, "port",
           (int64_t)h->port, FQ_LS, "paths", "/health /metrics", FQ_LEND);
    return h;
err:
    free(h);
    return NULL;
}

void fq_http_stop(fq_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);  /* closes the listening socket too */
    fq_log(FQ_LOG_INFO, "http.stopped", FQ_LEND);
    free(h);
}
