/* test_api_client.c -- the libcurl-multi-on-libuv client (common/api.c)
 * against a real HTTP server on loopback.
 *
 * The server of http_fixture.h (a thread per connection) answers by the
 * "model" of each request body:
 *   ok          200 with a valid completion, rate-limit headers and a request
 *               id, after holding the request 300 ms (so concurrent calls
 *               overlap and the server can count them);
 *   slow        200 after 3 s;
 *   err         503 with an xAI error body;
 *   big         200 with a 9 MiB body;
 *   trunc       200 whose body breaks off half way;
 *   auth-check  200 when Authorization is "Bearer <expected key>", else 401;
 *   leak        400 whose message echoes the key it was sent;
 * and with 400 to a body that is no chat request or not sent as JSON, 404
 * to another path. Each test runs its own uv loop and ends by closing the
 * client and asserting uv_loop_close() == 0, which catches leaked handles.
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "api.h"
#include "http_fixture.h"

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

static fx_server *srv;
static char expected_key[128];  /* guarded by fx_server_lock() */
static char *big;               /* a valid-looking JSON prefix padded past 8 MiB */
static size_t big_len;

static const char ok_json[] =
    "{\"id\":\"c0ffee\",\"object\":\"chat.completion\",\"model\":\"ok\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"pong\"},"
    "\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13,"
    "\"prompt_tokens_details\":{\"cached_tokens\":3},\"cost_in_usd_ticks\":42000}}";

static int respond(fx_request *rq, void *data)
{
    if (strcmp(rq->method, "POST") != 0 || strcmp(rq->url, "/v1/chat/completions") != 0)
        return fx_reply_body(rq, 404, "wrong path");
    int well_formed = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(rq->json, "messages")) &&
                      cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rq->json, "stream"));
    const char *ctype = fx_header(rq, "Content-Type");
    if (!well_formed || ctype == NULL || strcmp(ctype, "application/json") != 0)
        return fx_reply_body(rq, 400,
                             "{\"code\":\"test\",\"error\":\"request body or type wrong\"}");

    const char *model = rq->model;
    if (strcmp(model, "ok") == 0) {
        char id[32];
        snprintf(id, sizeof(id), "req-%d", rq->seq);
        fx_answer a = {
            .body = ok_json,
            .delay_ms = 300,
            .headers = { "X-RateLimit-Limit-Requests", "480",
                         "x-ratelimit-remaining-requests", "479",
                         "x-ratelimit-remaining-tokens", "junk",
                         "X-Request-Id", id },
        };
        return fx_reply(rq, &a);
    }
    if (strcmp(model, "slow") == 0)
        return fx_reply(rq, &(fx_answer){ .body = ok_json, .delay_ms = 3000 });
    if (strcmp(model, "err") == 0)
        return fx_reply_body(rq, 503, "{\"code\":\"The service is currently unavailable\","
                                      "\"error\":\"Upstream overloaded, try again shortly\"}");
    if (strcmp(model, "big") == 0)
        return fx_reply(rq, &(fx_answer){ .body = big, .len = big_len });
    if (strcmp(model, "trunc") == 0)
        return fx_reply(rq, &(fx_answer){ .body = ok_json, .cut_after = strlen(ok_json) / 2 });
    const char *auth = fx_header(rq, "Authorization");
    if (strcmp(model, "auth-check") == 0) {
        char want[160];
        fx_server_lock(srv);
        snprintf(want, sizeof(want), "Bearer %s", expected_key);
        fx_server_unlock(srv);
        if (auth != NULL && strcmp(auth, want) == 0)
            return fx_reply_body(rq, 200, ok_json);
        return fx_reply_body(rq, 401, "{\"code\":\"Unauthenticated\",\"error\":\"wrong key\"}");
    }
    if (strcmp(model, "leak") == 0) {
        char e[512];
        const char *key = auth != NULL && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "";
        snprintf(e, sizeof(e), "{\"code\":\"Client specified an invalid argument\","
                 "\"error\":\"Incorrect API key provided: %s (really: %s)\"}", key, key);
        return fx_reply_body(rq, 400, e);
    }
    return fx_reply_body(rq, 404, "{\"code\":\"not found\",\"error\":\"no such model\"}");
}

/* The key the "auth-check" model wants. */
static void expect_key(const char *key)
{
    fx_server_lock(srv);
    snprintf(expected_key, sizeof(expected_key), "%s", key);
    fx_server_unlock(srv);
}

static int group_setup(void **state)
{
    big_len = (9u << 20);
    big = malloc(big_len);
    if (big == NULL)
        return -1;
    memset(big, ' ', big_len);
    memcpy(big, ok_json, strlen(ok_json));
    srv = fx_server_start(respond, NULL);
    return srv != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    fx_server_stop(srv);
    free(big);
    return 0;
}

/* ------------------------------------------------------------------------
 * The client side
 * ---------------------------------------------------------------------- */

static int setup(void **state)
{
    *state = fx_client_new(srv, "/v1/", 0);
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    assert_int_equal(fx_client_free(*state), 0);
    return 0;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

#define NCONC 20

typedef struct chain {
    fx_client *f;
    fx_seen *extra;
    fx_seen *self;
} chain;

/* A callback that starts another call from inside the client. */
static void record_and_post(fq_api_call *call, fq_api_result *r, void *data)
{
    chain *ch = data;
    fx_record(call, r, ch->self);
    char *b = fx_body(ch->f, "ok");
    assert_non_null(fq_api_post(ch->f->api, b, 10, fx_record, ch->extra));
    free(b);
}

static void test_concurrent_ok(void **state)
{
    fx_client *f = *state;
    fx_seen s[NCONC + 2];
    memset(s, 0, sizeof(s));
    fx_server_peak_reset(srv);

    chain ch = { f, &s[NCONC + 1], &s[NCONC] };
    for (int i = 0; i < NCONC; i++)
        fx_post(f, "ok", 10, &s[i]);
    char *b = fx_body(f, "ok");
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
    assert_true(fx_server_peak(srv) >= 10);
    /* 22 calls of 300 ms each, two rounds deep: far less than serial */
    assert_true(elapsed_ms < 3000);
    fx_seen_free(s, NCONC + 2);
}

static void test_timeout(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "slow", 1, &s);
    assert_int_equal(s.outcome, FQ_OUT_TIMEOUT);
    assert_string_equal(s.error, "timeout after 1 s");
    assert_null(s.content);
    assert_true(s.latency_ms >= 950 && s.latency_ms < 2500);
    fx_seen_free(&s, 1);
}

static void test_server_error(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "err", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_SERVER_ERROR);
    assert_int_equal(s.status, 503);
    assert_string_equal(s.error, "HTTP 503 The service is currently unavailable: "
                                 "Upstream overloaded, try again shortly");
    fx_seen_free(&s, 1);
}

static void test_connection_refused(void **state)
{
    fx_client *f = *state;
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
    fx_seen s = { 0 };
    char *b = fx_body(f, "ok");
    assert_non_null(fq_api_post(api, b, 5, fx_record, &s));
    free(b);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.outcome, FQ_OUT_NETWORK);
    assert_int_equal(s.status, 0);
    assert_non_null(s.error);
    assert_true(strncmp(s.error, "connection failed: ", 19) == 0);
    assert_true(s.latency_ms < 2000);
    fq_api_close(api);
    fx_seen_free(&s, 1);
}

static void test_key_header(void **state)
{
    fx_client *f = *state;
    fx_seen s[4];
    expect_key("xai-first-key-0001");

    /* no key at all: 401 */
    fx_call(f, "auth-check", 10, &s[0]);
    assert_int_equal(s[0].outcome, FQ_OUT_KEY_REJECTED);
    assert_int_equal(s[0].status, 401);

    assert_int_equal(fq_api_set_key(f->api, "xai-first-key-0001"), 0);
    fx_call(f, "auth-check", 10, &s[1]);
    assert_int_equal(s[1].outcome, FQ_OUT_OK);

    /* a key that could inject a header is refused and the old one kept */
    assert_int_equal(fq_api_set_key(f->api, "xai-bad\r\nX-Evil: 1"), -1);
    assert_int_equal(fq_api_set_key(f->api, "xai bad"), -1);

    /* replaced (as on SIGHUP): the server still wants the first key */
    assert_int_equal(fq_api_set_key(f->api, "xai-second-key-0002"), 0);
    fx_call(f, "auth-check", 10, &s[2]);
    assert_int_equal(s[2].outcome, FQ_OUT_KEY_REJECTED);
    assert_string_equal(s[2].error, "HTTP 401 Unauthenticated: wrong key");

    expect_key("xai-second-key-0002");
    fx_call(f, "auth-check", 10, &s[3]);
    assert_int_equal(s[3].outcome, FQ_OUT_OK);
    fx_seen_free(s, 4);
}

static void test_key_never_in_error(void **state)
{
    fx_client *f = *state;
    const char *key = "xai-Sup3r-Secret-KeyValue-9876543210";
    fx_seen s;
    assert_int_equal(fq_api_set_key(f->api, key), 0);
    fx_call(f, "leak", 10, &s);
    assert_int_equal(s.status, 400);
    assert_non_null(s.error);
    assert_null(strstr(s.error, key));
    assert_null(strstr(s.error, "Sup3rSecret"));
    assert_non_null(strstr(s.error, "Incorrect API key provided: ****"));
    fx_seen_free(&s, 1);
}

static void test_big_body(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "big", 20, &s);
    assert_int_equal(s.outcome, FQ_OUT_MALFORMED);
    assert_string_equal(s.error, "response body over 8 MiB");
    assert_null(s.content);
    fx_seen_free(&s, 1);
}

static void test_truncated_body(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "trunc", 10, &s);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.outcome, FQ_OUT_MALFORMED);
    assert_non_null(s.error);
    assert_true(strncmp(s.error, "malformed response body (", 25) == 0);
    fx_seen_free(&s, 1);
}

/* Calls cut off by closing the client: each reported once, as aborted.
 * The client is gone once the loop has run its close callbacks. */
static void assert_aborted(fx_client *f, const fx_seen *s, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].outcome, FQ_OUT_NETWORK);
        assert_string_equal(s[i].error, "aborted");
    }
    f->api = NULL;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
}

static void close_from_timer(uv_timer_t *t)
{
    fq_api_close(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_in_flight(void **state)
{
    fx_client *f = *state;
    fx_seen s[5];
    for (int i = 0; i < 5; i++)
        fx_post(f, "slow", 10, &s[i]);
    assert_int_equal(fq_api_inflight(f->api), 5);

    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    t.data = f->api;
    uv_timer_start(&t, close_from_timer, 300, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true((uv_hrtime() - t0) / 1000000u < 2000);
    assert_aborted(f, s, 5);
    fx_seen_free(s, 5);
}

typedef struct closer {
    fx_client *f;
    fx_seen *self;
    int posted_after_close;
} closer;

/* A callback that closes the client while other calls are in flight. */
static void record_and_close(fq_api_call *call, fq_api_result *r, void *data)
{
    closer *c = data;
    fx_record(call, r, c->self);
    fq_api_close(c->f->api);
    fq_api_close(c->f->api);    /* twice is harmless */
    char *b = fx_body(c->f, "ok");
    c->posted_after_close = fq_api_post(c->f->api, b, 10, fx_record, NULL) != NULL;
    free(b);
}

static void test_close_from_callback(void **state)
{
    fx_client *f = *state;
    fx_seen s[4];
    memset(s, 0, sizeof(s));
    closer c = { f, &s[0], -1 };
    char *b = fx_body(f, "err");
    assert_non_null(fq_api_post(f->api, b, 10, record_and_close, &c));
    free(b);
    for (int i = 1; i < 4; i++)
        fx_post(f, "slow", 10, &s[i]);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(s[0].calls, 1);
    assert_int_equal(s[0].outcome, FQ_OUT_SERVER_ERROR);
    assert_int_equal(c.posted_after_close, 0);
    assert_aborted(f, s + 1, 3);
    fx_seen_free(s, 4);
}

static void test_bad_arguments(void **state)
{
    fx_client *f = *state;
    assert_null(fq_api_new(&f->loop, "ftp://example.com"));
    assert_null(fq_api_new(&f->loop, ""));
    assert_null(fq_api_new(NULL, "http://127.0.0.1:1"));
    assert_null(fq_api_post(f->api, NULL, 10, fx_record, NULL));
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
