/* http.c -- the coordinator's HTTP server (see http.h): routing and the
 * libmicrohttpd daemon's life cycle; what /health and /metrics answer
 * comes from snapshot.c, the dashboard's paths go to dashboard.c.
 *
 * DESIGN
 * The listening socket is bound here rather than by libmicrohttpd, so that
 * a port already in use is reported with the system's reason and the
 * variable to change. The daemon is event-driven: THREADS threads, each
 * with its own epoll set, serve every connection, so an idle or slow
 * client holds a descriptor, never a thread. A request answers from the
 * latest snapshot and never waits on Redis or SQLite. Open internet
 * limits: CONNECTION_LIMIT connections (the open-file limit is raised to
 * its maximum), PER_ADDRESS_LIMIT from one address, CONNECTION_TIMEOUT_S
 * of silence (for a request's headers, and between keep-alive requests),
 * REQUEST_MEMORY bytes of request. MHD calls the access handler at least twice per request: the first call
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "dashboard.h"
#include "dashboard_auth.h"
#include "fq_shared.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "snapshot.h"

#define THREADS 2                 /* event loops (epoll), each serving many connections */
#define CONNECTION_LIMIT 20000    /* within the open-file limit (raised to its maximum) */
#define PER_ADDRESS_LIMIT 1024    /* connections from one client address */
#define CONNECTION_TIMEOUT_S 5    /* idle: a request's headers, or keep-alive, this long */
#define REQUEST_MEMORY 16384      /* bytes of one request: headers over this are refused */
#define LISTEN_BACKLOG 1024

#define TYPE_JSON "application/json"
#define TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

struct fq_http {
    struct MHD_Daemon *daemon;
    const fq_config *cfg;
    fq_snapshot *snapshot;
    fq_dashboard *dashboard;   /* NULL when FLEETQ_DASHBOARD_TOKEN is not set */
    int port;
};

/* ========================================================================
 * Responses
 * ===================================================================== */

struct MHD_Response *fq_http_response(const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    return r;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               const char *body, size_t len, const char *allow)
{
    struct MHD_Response *r = fq_http_response(type, body, len);
    if (r == NULL)
        return MHD_NO;
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
 * GET /health, GET /metrics: the latest snapshot (snapshot.h)
 * ===================================================================== */

/* 1 when the request may see the details (the whole /health, /metrics):
 * FLEETQ_METRICS_TOKEN is not set, or it came as the bearer token. */
static int may_see_details(const fq_http *h, struct MHD_Connection *conn)
{
    static const char bearer[] = "Bearer ";
    const char *token = h->cfg->metrics_token;
    if (token[0] == '\0')
        return 1;
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL || strncmp(auth, bearer, sizeof(bearer) - 1) != 0)
        return 0;
    auth += sizeof(bearer) - 1;
    return fq_secret_equal(auth, strlen(auth), token, strlen(token));
}

/* /health for a caller without the token: the status alone, with the
 * same code, which is all a platform's health check reads. */
static enum MHD_Result respond_status_only(struct MHD_Connection *conn, unsigned status,
                                           const char *doc)
{
    cJSON *full = cJSON_Parse(doc);
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(full, "status"));
    char line[64];
    int n = snprintf(line, sizeof(line), "{\"status\":\"%s\"}\n", s != NULL ? s : "unknown");
    cJSON_Delete(full);
    return respond(conn, status, TYPE_JSON, line, (size_t)n, NULL);
}

static enum MHD_Result serve_snapshot(fq_http *h, struct MHD_Connection *conn, int which,
                                      unsigned *status)
{
    int details = may_see_details(h, conn);
    if (which == FQ_SNAPSHOT_METRICS && !details) {
        *status = MHD_HTTP_UNAUTHORIZED;
        static const char body[] = "{\"error\":\"/metrics needs FLEETQ_METRICS_TOKEN as a "
                                   "bearer token (Authorization: Bearer TOKEN)\"}\n";
        struct MHD_Response *r = fq_http_response(TYPE_JSON, body, sizeof(body) - 1);
        if (r == NULL)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"fleetq\"");
        enum MHD_Result ret = MHD_queue_response(conn, *status, r);
        MHD_destroy_response(r);
        return ret;
    }
    char *body;
    size_t len;
    if (fq_snapshot_get(h->snapshot, which, &body, &len, status) != 0) {
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return respond_error(conn, *status, "out of memory", NULL);
    }
    enum MHD_Result ret =
        !details ? respond_status_only(conn, *status, body)
                 : respond(conn, *status, which == FQ_SNAPSHOT_HEALTH ? TYPE_JSON : TYPE_PROMETHEUS,
                           body, len, NULL);
    free(body);
    return ret;
}

/* ========================================================================
 * Routing
 * ===================================================================== */

/* What con_cls points at for /health, /metrics and unknown paths; a
 * dashboard request has its own (fq_dash_request). */
static int plain_request;

static void log_request(const char *method, const char *url, unsigned status)
{
    fq_log(FQ_LOG_DEBUG, "http.request", FQ_LS, "method", method, FQ_LS, "path", url,
           FQ_LI, "status", (int64_t)status, FQ_LEND);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fq_http *h = cls;
    unsigned status;
    enum MHD_Result ret;
    if (*con_cls == NULL) {  /* headers only so far */
        if (h->dashboard != NULL && fq_dashboard_owns(url)) {
            fq_dash_request *r = fq_dashboard_begin(h->dashboard, conn, url, method);
            *con_cls = r;
            return r != NULL ? MHD_YES : MHD_NO;
        }
        *con_cls = &plain_request;
        return MHD_YES;
    }
    if (*con_cls != &plain_request) {  /* the dashboard's */
        ret = fq_dashboard_continue(*con_cls, upload_data, upload_data_size, &status);
        if (status != 0)
            log_request(method, url, status);
        return ret;
    }
    if (*upload_data_size > 0) {  /* a body nobody asked for */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        ret = respond_error(conn, status, "method not allowed: use GET (or HEAD)", "GET, HEAD");
    } else if (strcmp(url, "/health") == 0) {
        ret = serve_snapshot(h, conn, FQ_SNAPSHOT_HEALTH, &status);
    } else if (strcmp(url, "/metrics") == 0) {
        ret = serve_snapshot(h, conn, FQ_SNAPSHOT_METRICS, &status);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        ret = respond_error(conn, status, "not found: the coordinator serves /health and /metrics",
                            NULL);
    }
    log_request(method, url, status);
    return ret;
}

/* The dashboard's requests are freed once MHD is done with them. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    if (*con_cls != NULL && *con_cls != &plain_request)
        fq_dashboard_end(*con_cls);
    *con_cls = NULL;
}

/* ========================================================================
 * Life cycle
 * ===================================================================== */

/* Many connections need many descriptors: the soft limit goes up to the
 * hard one (as Redis does for maxclients). */
static void raise_open_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

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
    raise_open_files();
    int fd = listen_on(cfg->http_port, &h->port, err, errlen);
    if (fd < 0)
        goto err;
    if ((h->snapshot = fq_snapshot_start(cfg, health)) == NULL) {
        snprintf(err, errlen, "could not start the thread that reads the fleet for /health");
        close(fd);
        goto err;
    }
    h->dashboard = fq_dashboard_start(cfg, h->snapshot, err, errlen);
    if (h->dashboard == NULL && err[0] != '\0') {
        close(fd);
        fq_snapshot_stop(h->snapshot);
        goto err;
    }
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, on_request, h,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQUEST_MEMORY,
        MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "%s: the HTTP server could not start on port %d (out of "
                 "threads or memory?)", port_variable(), h->port);
        close(fd);
        fq_dashboard_stop(h->dashboard);
        fq_snapshot_stop(h->snapshot);
        goto err;
    }
    fq_log(FQ_LOG_INFO, "http.listening", FQ_LS, "address", "0.0.0.0", FQ_LI, "port",
           (int64_t)h->port, FQ_LS, "paths",
           h->dashboard != NULL ? "/health /metrics / (dashboard) /api" : "/health /metrics",
           FQ_LEND);
    return h;
err:
    free(h);
    return NULL;
}

void fq_http_stop(fq_http *h)
{
    if (h == NULL)
        return;
    fq_dashboard_stop(h->dashboard);  /* no connection left suspended */
    MHD_stop_daemon(h->daemon);  /* closes the listening socket too */
    fq_snapshot_stop(h->snapshot);
    fq_log(FQ_LOG_INFO, "http.stopped", FQ_LEND);
    free(h);
}
