/* server.c -- the MHD daemon: accepting, reading uploads, routing, logging.
 *
 * The daemon runs one thread per connection (plus MHD's listening thread),
 * so a request that sleeps -- latency or a hang fault -- holds only its own
 * connection. MHD calls the access handler first with the headers (a
 * mock_req is made then), then once per piece of upload (appended to the
 * body, up to 4 MiB; beyond that the rest is discarded and the request gets
 * a 413), then once more with nothing left to read, when the route answers.
 * A Content-Length above the limit is refused at once, before any upload.
 * When MHD is done with the request, the completion callback writes the
 * verbose log line and frees the record.
 *
 * The log never contains request headers, so the Authorization key cannot
 * appear in it. MHD's own error log stays off, so that stderr holds JSON
 * lines only (MHD would report every injected reset as an internal error).
 */
#include "mock_server.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "mock_config.h"
#include "mock_reply.h"
#include "mock_stats.h"
#include "mock_timing.h"

static struct MHD_Daemon *daemon_handle;

int mock_server_client_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/* 0 while the setting models_endpoint is off: GET /v1/models is a 404. */
static int models_endpoint_on(void)
{
    mock_config cfg;
    mock_config_get(&cfg);
    return cfg.models_endpoint;
}

static enum MHD_Result not_found(struct MHD_Connection *c, mock_req *r)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "No route for %s %s. The mock serves POST /v1/chat/completions, "
             "%sGET /mock/stats, POST /mock/reset and POST /mock/config.", r->method, r->path,
             models_endpoint_on() ? "GET /v1/models, " : "");
    r->outcome = "no_route";
    return mock_reply_error(c, r, MOCK_ERR_NO_ROUTE, msg);
}

static enum MHD_Result route(struct MHD_Connection *c, mock_req *r, const char *url)
{
    int get = strcmp(r->method, "GET") == 0;
    int post = strcmp(r->method, "POST") == 0;

    if (r->chat) return mock_completions_handle(c, r);
    if (get && strcmp(url, "/v1/models") == 0 && models_endpoint_on())
        return mock_admin_models(c, r);
    if (get && strcmp(url, "/mock/stats") == 0) return mock_admin_stats(c, r);
    if (post && strcmp(url, "/mock/reset") == 0) return mock_admin_reset(c, r);
    if (post && strcmp(url, "/mock/config") == 0) return mock_admin_config(c, r);
    return not_found(c, r);
}

static int body_append(mock_req *r, const char *data, size_t n)
{
    if (r->too_large || r->len + n > MOCK_BODY_MAX) {
        r->too_large = 1;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return -1;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    mock_req *r = *con_cls;

    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r) return MHD_NO;
        *con_cls = r;
        r->start_ms = mock_timing_now_ms();
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->path, sizeof(r->path), "%s", url);
        r->chat = strcmp(method, "POST") == 0 && strcmp(url, "/v1/chat/completions") == 0;
        mock_config cfg;
        mock_config_get(&cfg);
        r->error_style = cfg.error_style;
        if (r->chat) mock_stats_begin();
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MOCK_BODY_MAX) {
            r->too_large = 1;
            if (r->chat) return mock_completions_handle(c, r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->status != 0) return MHD_YES;   /* already answered: discard */
        return body_append(r, upload_data, n) == 0 ? MHD_YES : MHD_NO;
    }
    if (r->status != 0) return MHD_YES;
    if (r->too_large && !r->chat) {
        r->outcome = "too_large";
        return mock_reply_error(c, r, MOCK_ERR_TOO_LARGE,
                                "The request body is larger than the 4 MiB limit.");
    }
    return route(c, r, url);
}

static void log_request(const mock_req *r, enum MHD_RequestTerminationCode toe)
{
    cJSON *line = cJSON_CreateObject();
    if (!line) return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(line, "ts", ts);
    cJSON_AddStringToObject(line, "method", r->method);
    cJSON_AddStringToObject(line, "path", r->path);
    cJSON_AddNumberToObject(line, "status", r->status);
    cJSON_AddStringToObject(line, "outcome", r->outcome ? r->outcome : "none");
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        cJSON_AddStringToObject(line, "connection", "closed early");
    if (r->model) cJSON_AddStringToObject(line, "model", r->model);
    if (r->status == 200 && r->chat) {
        cJSON_AddNumberToObject(line, "prompt_tokens", (double)r->prompt_tokens);
        cJSON_AddNumberToObject(line, "completion_tokens", (double)r->completion_tokens);
        cJSON_AddNumberToObject(line, "reasoning_tokens", (double)r->reasoning_tokens);
        cJSON_AddNumberToObject(line, "cost_ticks", (double)r->cost_ticks);
    }
    cJSON_AddNumberToObject(line, "ms", (double)(mock_timing_now_ms() - r->start_ms));
    if (r->request_id[0]) cJSON_AddStringToObject(line, "request_id", r->request_id);
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text) return;
    fprintf(stderr, "%s\n", text);
    cJSON_free(text);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mock_req *r = *con_cls;
    if (!r) return;
    mock_config cfg;
    mock_config_get(&cfg);
    if (cfg.verbose) log_request(r, toe);
    if (r->chat) mock_stats_end();
    free(r->body);
    free(r);
    *con_cls = NULL;
}

int mock_server_start(const char *bind_addr, unsigned port, unsigned *bound,
                      char *err, size_t errlen)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    char service[8];

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    int gai = getaddrinfo(bind_addr, service, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "--bind %s: %s; give an address such as 127.0.0.1 or ::1",
                 bind_addr, gai_strerror(gai));
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    daemon_handle = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                                     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                     MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!daemon_handle) {
        snprintf(err, errlen, "could not listen on %s port %u (in use, or not an address "
                 "of this host); choose another --port or --bind", bind_addr, port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_handle,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    *bound = info ? info->port : port;
    return 0;
}

void mock_server_stop(void)
{
    if (daemon_handle) MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
}
