/* http_fixture.c -- the loopback server with scripted answers and the client
 * on its own loop that the HTTP unit tests share (see http_fixture.h).
 *
 * libmicrohttpd calls the access handler first with a request's headers
 * (an exchange is made and counted then), then once per piece of upload
 * (appended to the body), then once more with nothing left to read: the
 * body is parsed as JSON and the test's handler answers through fx_reply().
 * Every answer, whole or in pieces, is a callback response reading from a
 * copy of its body, so one reader handles pieces, pauses and breaks: a
 * body of known size is sent with a Content-Length, a piecewise one
 * chunked; returning MHD_CONTENT_READER_END_WITH_ERROR closes the
 * connection mid-body. Sleeps on connection threads are taken 50 ms at a
 * time and end as soon as the server is stopping. The completion callback
 * frees the exchange and counts the request as no longer open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "http_fixture.h"

struct fx_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    int curl_ready;
    fx_handler handler;
    void *data;
    pthread_mutex_t mu;       /* guards the fields below and the test's data */
    int stopping;
    int seq;                  /* requests so far */
    int active;               /* requests open now */
    int peak;                 /* most open at once since the last reset */
};

/* A request from its headers to its completion. */
typedef struct exchange {
    fx_request rq;            /* first: fx_reply() finds the exchange from it */
    fx_server *srv;
    struct MHD_Connection *conn;
    char *body;
    size_t len;
    int answered;
} exchange;

/* An answer being sent. */
typedef struct sending {
    fx_server *srv;
    char *body;
    size_t len;
    size_t piece;
    int piece_delay_ms;
    size_t cut_after;
    int hang_ms;
} sending;

/* ------------------------------------------------------------------------
 * Answers
 * ---------------------------------------------------------------------- */

static void wait_ms(fx_server *srv, int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        pthread_mutex_lock(&srv->mu);
        int stop = srv->stopping;
        pthread_mutex_unlock(&srv->mu);
        if (stop)
            return;
        usleep(50 * 1000);
    }
}

static ssize_t send_piece(void *cls, uint64_t pos, char *buf, size_t max)
{
    sending *s = cls;
    size_t at = (size_t)pos;
    if (s->cut_after > 0 && at >= s->cut_after) {
        wait_ms(s->srv, s->hang_ms);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (at >= s->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    wait_ms(s->srv, s->piece_delay_ms);
    size_t n = s->len - at;
    if (s->piece > 0 && n > s->piece)
        n = s->piece;
    if (s->cut_after > 0 && n > s->cut_after - at)
        n = s->cut_after - at;
    if (n > max)
        n = max;
    memcpy(buf, s->body + at, n);
    return (ssize_t)n;
}

static void sending_free(void *cls)
{
    sending *s = cls;
    free(s->body);
    free(s);
}

int fx_reply(fx_request *rq, const fx_answer *a)
{
    exchange *x = (exchange *)rq;
    const char *body = a->body != NULL ? a->body : "";
    size_t len = a->len > 0 ? a->len : strlen(body);

    wait_ms(x->srv, a->delay_ms);
    sending *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->body = malloc(len + 1)) == NULL) {
        free(s);
        return -1;
    }
    memcpy(s->body, body, len);
    s->srv = x->srv;
    s->len = len;
    s->piece = a->piece;
    s->piece_delay_ms = a->piece_delay_ms;
    s->cut_after = a->cut_after;
    s->hang_ms = a->hang_ms;
    struct MHD_Response *r = MHD_create_response_from_callback(
        a->piece > 0 ? MHD_SIZE_UNKNOWN : len, 4096, send_piece, s, sending_free);
    if (r == NULL) {
        sending_free(s);
        return -1;
    }
    MHD_add_response_header(r, "Content-Type",
                            a->content_type != NULL ? a->content_type : "application/json");
    for (size_t i = 0; i < 2 * FX_MAX_HEADERS && a->headers[i] != NULL; i += 2)
        MHD_add_response_header(r, a->headers[i], a->headers[i + 1]);
    enum MHD_Result ret = MHD_queue_response(x->conn, a->status != 0 ? a->status : 200, r);
    MHD_destroy_response(r);
    x->answered = ret == MHD_YES;
    return x->answered ? 0 : -1;
}

int fx_reply_body(fx_request *rq, unsigned status, const char *body)
{
    return fx_reply(rq, &(fx_answer){ .status = status, .body = body });
}

const char *fx_header(const fx_request *rq, const char *name)
{
    const exchange *x = (const exchange *)rq;
    return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------- */

static enum MHD_Result answer(exchange *x, const char *url, const char *method)
{
    cJSON *json = cJSON_ParseWithLength(x->body != NULL ? x->body : "", x->len);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(json, "model");
    x->rq.method = method;
    x->rq.url = url;
    x->rq.body = x->body != NULL ? x->body : "";
    x->rq.len = x->len;
    x->rq.json = json;
    x->rq.model = cJSON_IsString(model) ? model->valuestring : "";
    int rc = x->srv->handler(&x->rq, x->srv->data);
    x->rq.json = NULL;
    x->rq.model = "";
    cJSON_Delete(json);
    /* a handler that did not answer drops the connection */
    return rc == 0 && x->answered ? MHD_YES : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    fx_server *srv = cls;
    exchange *x = *con_cls;
    if (x == NULL) {
        if ((x = calloc(1, sizeof(*x))) == NULL)
            return MHD_NO;
        x->srv = srv;
        x->conn = conn;
        pthread_mutex_lock(&srv->mu);
        x->rq.seq = ++srv->seq;
        if (++srv->active > srv->peak)
            srv->peak = srv->active;
        pthread_mutex_unlock(&srv->mu);
        *con_cls = x;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *b = realloc(x->body, x->len + *upload_data_size + 1);
        if (b == NULL)
            return MHD_NO;
        memcpy(b + x->len, upload_data, *upload_data_size);
        x->body = b;
        x->len += *upload_data_size;
        x->body[x->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(x, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    fx_server *srv = cls;
    exchange *x = *con_cls;
    if (x == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    srv->active--;
    pthread_mutex_unlock(&srv->mu);
    free(x->body);
    free(x);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

fx_server *fx_server_start(fx_handler handler, void *data)
{
    fx_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    pthread_mutex_init(&srv->mu, NULL);
    srv->handler = handler;
    srv->data = data;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto err;
    srv->curl_ready = 1;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                   0, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_END);
    if (srv->daemon == NULL)
        goto err;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        goto err;
    srv->port = info->port;
    return srv;

err:
    fx_server_stop(srv);
    return NULL;
}

void fx_server_stop(fx_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    pthread_mutex_unlock(&srv->mu);
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon);
    if (srv->curl_ready)
        curl_global_cleanup();
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

void fx_server_lock(fx_server *srv)
{
    pthread_mutex_lock(&srv->mu);
}

void fx_server_unlock(fx_server *srv)
{
    pthread_mutex_unlock(&srv->mu);
}

int fx_server_peak(fx_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    int peak = srv->peak;
    pthread_mutex_unlock(&srv->mu);
    return peak;
}

void fx_server_peak_reset(fx_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->peak = srv->active;
    pthread_mutex_unlock(&srv->mu);
}

/* ------------------------------------------------------------------------
 * The client
 * ---------------------------------------------------------------------- */

void fx_record(fq_api_call *call, fq_api_result *result, void *data)
{
    fx_seen *s = data;
    s->calls++;
    s->outcome = result->outcome;
    s->status = result->http_status;
    s->usage = result->usage;
    s->rl = result->rl;
    memcpy(s->request_id, result->request_id, sizeof(s->request_id));
    s->latency_ms = result->latency_ms;
    free(s->error);
    free(s->content);
    free(s->finish);
    s->error = result->error;             /* steal the owned strings */
    s->content = result->content;
    s->finish = result->finish_reason;
    result->error = result->content = result->finish_reason = NULL;
}

void fx_seen_free(fx_seen *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].error);
        free(s[i].content);
        free(s[i].finish);
    }
}

fx_client *fx_client_new(const fx_server *srv, const char *path, int stream)
{
    char base[128];
    fx_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (uv_loop_init(&c->loop) != 0) {
        free(c);
        return NULL;
    }
    c->stream = stream;
    snprintf(base, sizeof(base), "http://127.0.0.1:%u%s", (unsigned)srv->port, path);
    c->api = fq_api_new(&c->loop, base);
    if (c->api == NULL)
        goto err;
    return c;

err:
    fx_client_free(c);
    return NULL;
}

int fx_client_free(fx_client *c)
{
    fq_api_close(c->api);                 /* NULL when the test closed it */
    uv_run(&c->loop, UV_RUN_DEFAULT);     /* runs the close callbacks */
    int rc = uv_loop_close(&c->loop);
    free(c);
    return rc;
}

char *fx_body(const fx_client *c, const char *model)
{
    fq_api_request req = { .model = model, .prompt = "ping", .max_tokens = 16,
                           .stream = c->stream };
    char *b = fq_api_build_request(&req);
    assert_non_null(b);
    return b;
}

fq_api_call *fx_post(fx_client *c, const char *model, int timeout_s, fx_seen *s)
{
    char *b = fx_body(c, model);
    memset(s, 0, sizeof(*s));
    fq_api_call *call = fq_api_post(c->api, b, timeout_s, fx_record, s);
    free(b);                              /* the client copied it */
    assert_non_null(call);
    return call;
}

void fx_call(fx_client *c, const char *model, int timeout_s, fx_seen *s)
{
    fx_post(c, model, timeout_s, s);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(s->calls, 1);
    assert_int_equal(fq_api_inflight(c->api), 0);
}
