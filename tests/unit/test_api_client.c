/* test_api_client.c -- the libcurl-multi-on-libuv client (common/api.c)
 * against a real HTTP server on loopback.
 *
 * An in-process libmicrohttpd server (a thread per connection) answers by
 * the "model" of each request body:
 *   ok          200 with a valid completion, rate-limit headers and a request
 *               id, after holding the request 300 ms (so concurrent calls
 *               overlap and the server can count them);
 *   slow        200 after 3 s;
 *   err         503 with an xAI error body;
 *   big         200 with a 9 MiB body;
 *   trunc       200 whose body breaks off half way;
 *   auth-check  200 when Authorization is "Bearer <expected key>", else 401;
 *   leak        400 whose message echoes the key it was sent.
 * Each test runs its own uv loop and ends by closing the client and
 * asserting uv_loop_close() == 0, which catches leaked handles.
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
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <uv.h>

#include "api.h"

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

typedef struct server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t mu;
    int active;
    int max_active;
    int requests;
    int stopping;
    char expected_key[128];
    char *big;
    size_t big_len;
} server;

static server srv;

typedef struct request {
    char *body;
    size_t len;
} request;

static const char *ok_json =
    "{\"id\":\"c0ffee\",\"object\":\"chat.completion\",\"model\":\"ok\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"pong\"},"
    "\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13,"
    "\"prompt_tokens_details\":{\"cached_tokens\":3},\"cost_in_usd_ticks\":42000}}";

static void server_sleep_ms(int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        pthread_mutex_lock(&srv.mu);
        int stop = srv.stopping;
        pthread_mutex_unlock(&srv.mu);
        if (stop)
            return;
        usleep(50 * 1000);
    }
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode, int rl_headers)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (rl_headers) {
        char id[64];
        pthread_mutex_lock(&srv.mu);
        snprintf(id, sizeof(id), "req-%d", srv.requests);
        pthread_mutex_unlock(&srv.mu);
        MHD_add_response_header(r, "X-RateLimit-Limit-Requests", "480");
        MHD_add_response_header(r, "x-ratelimit-remaining-requests", "479");
        MHD_add_response_header(r, "x-ratelimit-remaining-tokens", "junk");
        MHD_add_response_header(r, "X-Request-Id", id);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    if (pos > 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = strlen(ok_json) / 2;
    if (n > max)
        n = max;
    memcpy(buf, ok_json, n);
    return (ssize_t)n;
}

static enum MHD_Result respond(struct MHD_Connection *conn, const request *rq)
{
    char model[64] = "";
    cJSON *j = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (cJSON_IsString(m))
        snprintf(model, sizeof(model), "%s", m->valuestring);
    int well_formed = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "messages")) &&
                      cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "stream"));
    cJSON_Delete(j);

    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!well_formed || ctype == NULL || strcmp(ctype, "application/json") != 0) {
        static const char bad[] = "{\"code\":\"test\",\"error\":\"request body or type wrong\"}";
        return reply(conn, 400, bad, strlen(bad), MHD_RESPMEM_PERSISTENT, 0);
    }
    if (strcmp(model, "ok") == 0) {
        server_sleep_ms(300);
        return reply(conn, 200, ok_json, strlen(ok_json), MHD_RESPMEM_PERSISTENT, 1);
    }
    if (strcmp(model, "slow") == 0) {
        server_sleep_ms(3000);
        return reply(conn, 200, ok_json, strlen(ok_json), MHD_RESPMEM_PERSISTENT, 0);
    }
    if (strcmp(model, "err") == 0) {
        static const char e[] = "{\"code\":\"The service is currently unavailable\","
                                "\"error\":\"Upstream overloaded, try again shortly\"}";
        return reply(conn, 503, e, strlen(e), MHD_RESPMEM_PERSISTENT, 0);
    }
    if (strcmp(model, "big") == 0)
        return reply(conn, 200, srv.big, srv.big_len, MHD_RESPMEM_PERSISTENT, 0);
    if (strcmp(model, "trunc") == 0) {
        struct MHD_Response *r = MHD_create_response_from_callback(strlen(ok_json), 4096,
                                                                   trunc_reader, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (strcmp(model, "auth-check") == 0) {
        char want[160];
        pthread_mutex_lock(&srv.mu);
        snprintf(want, sizeof(want), "Bearer %s", srv.expected_key);
        pthread_mutex_unlock(&srv.mu);
        if (auth != NULL && strcmp(auth, want) == 0)
            return reply(conn, 200, ok_json, strlen(ok_json), MHD_RESPMEM_PERSISTENT, 0);
        static const char e[] = "{\"code\":\"Unauthenticated\",\"error\":\"wrong key\"}";
        return reply(conn, 401, e, strlen(e), MHD_RESPMEM_PERSISTENT, 0);
    }
    if (strcmp(model, "leak") == 0) {
        char e[512];
        const char *key = auth != NULL && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "";
        snprintf(e, sizeof(e), "{\"code\":\"Client specified an invalid argument\","
                 "\"error\":\"Incorrect API key provided: %s (really: %s)\"}", key, key);
        return reply(conn, 400, e, strlen(e), MHD_RESPMEM_MUST_COPY, 0);
    }
    static const char nf[] = "{\"code\":\"not found\",\"error\":\"no such model\"}";
    return reply(conn, 404, nf, strlen(nf), MHD_RESPMEM_PERSISTENT, 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    request *rq = *con_cls;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        *con_cls = rq;
        pthread_mutex_lock(&srv.mu);
        srv.requests++;
        if (++srv.active > srv.max_active)
            srv.max_active = srv.active;
        pthread_mutex_unlock(&srv.mu);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *b = realloc(rq->body, rq->len + *upload_data_size + 1);
        if (b == NULL)
            return MHD_NO;
        memcpy(b + rq->len, upload_data, *upload_data_size);
        rq->body = b;
        rq->len += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || strcmp(url, "/v1/chat/completions") != 0) {
        static const char nf[] = "wrong path";
        return reply(conn, 404, nf, strlen(nf), MHD_RESPMEM_PERSISTENT, 0);
    }
    return respond(conn, rq);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    if (rq == NULL)
        return;
    pthread_mutex_lock(&srv.mu);
    srv.active--;
    pthread_mutex_unlock(&srv.mu);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

static int group_setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    /* a valid-looking JSON prefix padded past the 8 MiB limit */
    srv.big_len = (9u << 20);
    srv.big = malloc(srv.big_len);
    if (srv.big == NULL)
        return -1;
    memset(srv.big, ' ', srv.big_len);
    memcpy(srv.big, ok_json, strlen(ok_json));

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                  0, NULL, NULL, handler, NULL,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                  MHD_OPTION_END);
    if (srv.daemon == NULL)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        return -1;
    srv.port = info->port;
    return 0;
}

static int group_teardown(void **state)
{
    pthread_mutex_lock(&srv.mu);
    srv.stopping = 1;
    pthread_mutex_unlock(&srv.mu);
    MHD_stop_daemon(srv.daemon);
    pthread_mutex_destroy(&srv.mu);
    free(srv.big);
    curl_global_cleanup();
    return 0;
}

/* ------------------------------------------------------------------------
 * The client side
 * ---------------------------------------------------------------------- */

typedef struct seen {
    int calls;
    fq_outcome outcome;
    long status;
    char *error;
    char *content;
    int64_t latency_ms;
    fq_ratelimit_headers rl;
    char request_id[128];
    fq_usage usage;
} seen;

typedef struct fixture {
    uv_loop_t loop;
    fq_api *api;
    char base[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || uv_loop_init(&f->loop) != 0)
        return -1;
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u/v1/", (unsigned)srv.port);
    f->api = fq_api_new(&f->loop, f->base);
    if (f->api == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fq_api_close(f->api);               /* NULL when the test closed it */
    uv_run(&f->loop, UV_RUN_DEFAULT);   /* runs the close callbacks */
    int rc = uv_loop_close(&f->loop);
    free(f);
    assert_int_equal(rc, 0);
    return 0;
}

static void record(fq_api_call *call, fq_api_result *r, void *data)
{
    seen *s = data;
    s->calls++;
    s->outcome = r->outcome;
    s->status = r->http_status;
    s->latency_ms = r->latency_ms;
    s->rl = r->rl;
    s->usage = r->usage;
    memcpy(s->request_id, r->request_id, sizeof(s->request_id));
    free(s->error);
    free(s->content);
    s->error = r->error;        /* steal the owned strings */
    s->content = r->content;
    r->error = NULL;
    r->content = NULL;
}

static void seen_free(seen *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].error);
        free(s[i].content);
    }
}

static char *body_for(const char *model)
{
    fq_api_request req = { .model = model, .prompt = "ping", .max_tokens = 16 };
    char *b = fq_api_build_request(&req);
    assert_non_null(b);
    return b;
}

static fq_api_call *post(fixture *f, const char *model, int timeout_s, seen *s)
{
    char *b = body_for(model);
    fq_api_call *c = fq_api_post(f->api, b, timeout_s, record, s);
    free(b);                    /* the client copied it */
    assert_non_null(c);
    return c;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

#define NCONC 20

typedef struct chain {
    fixture *f;
    seen *extra;
    seen *self;
} chain;

/* A callback that starts another call from inside the client. */
static void record_and_post(fq_api_call *call, fq_api_result *r, void *data)
{
    chain *ch = data;
    record(call, r, ch->self);
    char *b = body_for("ok");
    assert_non_null(fq_api_post(ch->f->api, b, 10, record, ch->extra));
    free(b);
}

static void test_concurrent_ok(void **state)
{
    fixture *f = *state;
    seen s[NCONC + 2];
    memset(s, 0, sizeof(s));
    pthread_mutex_lock(&srv.mu);
    srv.max_active = 0;
    pthread_mutex_unlock(&srv.mu);

    chain ch = { f, &s[NCONC + 1], &s[NCONC] };
    for (int i = 0; i < NCONC; i++)
        post(f, "ok", 10, &s[i]);
    char *b = body_for("ok");
    assert_non_null(fq_api_post(f->api, b, 10, record_and_post, &ch));
    free(b);
    assert_int_equal(fq_api_inflight(f->api), NCONC + 1);

    uint64_t t0 = uv_hrtime();
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000u;

    assert_int_equal(fq_api_inflight(f->api), 0);
    for (int i = 0; i < NCONC + 2; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].outcome, FQ_OUT_OK);
        assert_int_equal(s[i].status, 200);
        assert_null(s[i].error);
        assert_string_equal(s[i].content, "pong");
        assert_int_equal(s[i].usage.prompt_tokens, 11);
        assert_int_equal(s[i].usage.cached_tokens, 3);
        assert_int_equal(s[i].usage.cost_ticks, 42000);
        assert_int_equal(s[i].rl.limit_requests, 480);
        assert_int_equal(s[i].rl.remaining_requests, 479);
        assert_int_equal(s[i].rl.remaining_tokens, -1);
        assert_true(strncmp(s[i].request_id, "req-", 4) == 0);
        assert_true(s[i].latency_ms >= 280);
    }
    pthread_mutex_lock(&srv.mu);
    int max_active = srv.max_active;
    pthread_mutex_unlock(&srv.mu);
    assert_true(max_active >= 10);
    /* 22 calls of 300 ms each, two rounds deep: far less than serial */
    assert_true(elapsed_ms < 3000);
    seen_free(s, NCONC + 2);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    seen s = { 0 };
    post(f, "slow", 1, &s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.outcome, FQ_OUT_TIMEOUT);
    assert_string_equal(s.error, "timeout after 1 s");
    assert_null(s.content);
    assert_true(s.latency_ms >= 950 && s.latency_ms < 2500);
    seen_free(&s, 1);
}

static void test_server_error(void **state)
{
    fixture *f = *state;
    seen s = { 0 };
    post(f, "err", 10, &s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.outcome, FQ_OUT_SERVER_ERROR);
    assert_int_equal(s.status, 503);
    assert_string_equal(s.error, "HTTP 503 The service is currently unavailable: "
                                 "Upstream overloaded, try again shortly");
    seen_free(&s, 1);
}

static void test_connection_refused(void **state)
{
    fixture *f = *state;
    /* a port that was just free: bind, read it back, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1", (unsigned)ntohs(sa.sin_port));

    fq_api *api = fq_api_new(&f->loop, url);
    assert_non_null(api);
    seen s = { 0 };
    char *b = body_for("ok");
    assert_non_null(fq_api_post(api, b, 5, record, &s));
    free(b);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.outcome, FQ_OUT_NETWORK);
    assert_int_equal(s.status, 0);
    assert_non_null(s.error);
    assert_true(strncmp(s.error, "connection failed: ", 19) == 0);
    assert_true(s.latency_ms < 2000);
    fq_api_close(api);
    seen_free(&s, 1);
}

static void test_key_header(void **state)
{
    fixture *f = *state;
    seen s[4];
    memset(s, 0, sizeof(s));

    pthread_mutex_lock(&srv.mu);
    snprintf(srv.expected_key, sizeof(srv.expected_key), "xai-first-key-0001");
    pthread_mutex_unlock(&srv.mu);

    /* no key at all: 401 */
    post(f, "auth-check", 10, &s[0]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[0].outcome, FQ_OUT_KEY_REJECTED);
    assert_int_equal(s[0].status, 401);

    assert_int_equal(fq_api_set_key(f->api, "xai-first-key-0001"), 0);
    post(f, "auth-check", 10, &s[1]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[1].outcome, FQ_OUT_OK);

    /* a key that could inject a header is refused and the old one kept */
    assert_int_equal(fq_api_set_key(f->api, "xai-bad\r\nX-Evil: 1"), -1);
    assert_int_equal(fq_api_set_key(f->api, "xai bad"), -1);

    /* replaced (as on SIGHUP): the server still wants the first key */
    assert_int_equal(fq_api_set_key(f->api, "xai-second-key-0002"), 0);
    post(f, "auth-check", 10, &s[2]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[2].outcome, FQ_OUT_KEY_REJECTED);
    assert_string_equal(s[2].error, "HTTP 401 Unauthenticated: wrong key");

    pthread_mutex_lock(&srv.mu);
    snprintf(srv.expected_key, sizeof(srv.expected_key), "xai-second-key-0002");
    pthread_mutex_unlock(&srv.mu);
    post(f, "auth-check", 10, &s[3]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[3].outcome, FQ_OUT_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i].calls, 1);
    seen_free(s, 4);
}

static void test_key_never_in_error(void **state)
{
    fixture *f = *state;
    const char *key = "xai-Sup3r-Secret-KeyValue-9876543210";
    seen s = { 0 };
    assert_int_equal(fq_api_set_key(f->api, key), 0);
    post(f, "leak", 10, &s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 400);
    assert_non_null(s.error);
    assert_null(strstr(s.error, key));
    assert_null(strstr(s.error, "Sup3rSecret"));
    assert_non_null(strstr(s.error, "Incorrect API key provided: ****"));
    seen_free(&s, 1);
}

static void test_big_body(void **state)
{
    fixture *f = *state;
    seen s = { 0 };
    post(f, "big", 20, &s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.outcome, FQ_OUT_MALFORMED);
    assert_string_equal(s.error, "response body over 8 MiB");
    assert_null(s.content);
    seen_free(&s, 1);
}

static void test_truncated_body(void **state)
{
    fixture *f = *state;
    seen s = { 0 };
    post(f, "trunc", 10, &s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.outcome, FQ_OUT_MALFORMED);
    assert_non_null(s.error);
    assert_true(strncmp(s.error, "malformed response body (", 25) == 0);
    seen_free(&s, 1);
}

static void close_from_timer(uv_timer_t *t)
{
    fq_api_close(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_in_flight(void **state)
{
    fixture *f = *state;
    seen s[5];
    memset(s, 0, sizeof(s));
    for (int i = 0; i < 5; i++)
        post(f, "slow", 10, &s[i]);
    assert_int_equal(fq_api_inflight(f->api), 5);

    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    t.data = f->api;
    uv_timer_start(&t, close_from_timer, 300, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true((uv_hrtime() - t0) / 1000000u < 2000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].outcome, FQ_OUT_NETWORK);
        assert_string_equal(s[i].error, "aborted");
    }
    /* closed: the client is gone once the loop ran its close callbacks */
    f->api = NULL;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    seen_free(s, 5);
}

typedef struct closer {
    fq_api *api;
    seen *self;
    int posted_after_close;
} closer;

/* A callback that closes the client while other calls are in flight. */
static void record_and_close(fq_api_call *call, fq_api_result *r, void *data)
{
    closer *c = data;
    record(call, r, c->self);
    fq_api_close(c->api);
    fq_api_close(c->api);       /* twice is harmless */
    char *b = body_for("ok");
    c->posted_after_close = fq_api_post(c->api, b, 10, record, NULL) != NULL;
    free(b);
}

static void test_close_from_callback(void **state)
{
    fixture *f = *state;
    seen s[4];
    memset(s, 0, sizeof(s));
    closer c = { f->api, &s[0], -1 };
    char *b = body_for("err");
    assert_non_null(fq_api_post(f->api, b, 10, record_and_close, &c));
    free(b);
    for (int i = 1; i < 4; i++)
        post(f, "slow", 10, &s[i]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[0].calls, 1);
    assert_int_equal(s[0].outcome, FQ_OUT_SERVER_ERROR);
    assert_int_equal(c.posted_after_close, 0);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].outcome, FQ_OUT_NETWORK);
        assert_string_equal(s[i].error, "aborted");
    }
    f->api = NULL;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    seen_free(s, 4);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    assert_null(fq_api_new(&f->loop, "ftp://example.com"));
    assert_null(fq_api_new(&f->loop, ""));
    assert_null(fq_api_new(NULL, "http://127.0.0.1:1"));
    assert_null(fq_api_post(f->api, NULL, 10, record, NULL));
    assert_null(fq_api_post(f->api, "{}", 10, NULL, NULL));
    assert_int_equal(fq_api_inflight(f->api), 0);
    assert_int_equal(fq_api_inflight(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_never_in_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
