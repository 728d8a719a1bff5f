/* http_fixture.h -- a loopback HTTP server with scripted answers, and a
 * chat-completions client on its own libuv loop, for the unit tests of the
 * client (common/api.c) and its stream reader.
 *
 * The server is libmicrohttpd with a thread per connection, bound to
 * 127.0.0.1 on a port the kernel picks. It reads each request whole and
 * hands it to the test's handler, which answers with fx_reply(): a status,
 * a content type, a few more headers and a body, optionally after a delay,
 * sent in pieces (chunked) with pauses between them, or broken off after so
 * many bytes, with or without a silence first. The body is copied, so it may
 * live on the handler's stack. Every wait is cut short when the server
 * stops, so stopping never waits out a slow answer.
 *
 * The client side is a uv loop and an fq_api pointed at the server; a call
 * posts a small request for a model (the handlers pick their answer by the
 * model), runs the loop until nothing is left to do, and keeps what the
 * callback was given in an fx_seen. A test ends with fx_client_free(),
 * which closes the client and returns uv_loop_close()'s result, so leaked
 * handles fail the test.
 *
 * fx_server_start() also sets libcurl up (curl_global_init) for the
 * clients, and fx_server_stop() tears it down: start one server in the
 * group setup and stop it in the group teardown.
 */
#ifndef FQ_TEST_HTTP_FIXTURE_H
#define FQ_TEST_HTTP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "api.h"

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

typedef struct fx_server fx_server;

/* One request, as the handler sees it; valid during the handler only. */
typedef struct fx_request {
    const char *method;
    const char *url;
    const char *body;         /* the upload, NUL-terminated after len bytes */
    size_t len;
    const cJSON *json;        /* the body parsed, NULL when it is not JSON */
    const char *model;        /* json's "model", "" when it has none */
    int seq;                  /* 1 for the server's first request, then 2, ... */
} fx_request;

#define FX_MAX_HEADERS 8

/* An answer. Zero is a default throughout: status 200, content type
 * application/json, no more headers, an empty body sent whole at once. */
typedef struct fx_answer {
    unsigned status;
    const char *content_type;
    const char *headers[2 * FX_MAX_HEADERS + 1];  /* name, value, ..., NULL */
    const char *body;         /* copied */
    size_t len;               /* 0: strlen(body) */
    int delay_ms;             /* silence before the status line */
    size_t piece;             /* >0: chunked, at most this many bytes a piece */
    int piece_delay_ms;       /* silence before each piece */
    size_t cut_after;         /* >0: the connection breaks after this many bytes */
    int hang_ms;              /* silence before that break */
} fx_answer;

/* Answers rq; call it once from the handler and return what it returns:
 * 0, or -1 when the answer could not be queued (the connection is then
 * dropped). */
int fx_reply(fx_request *rq, const fx_answer *a);

/* fx_reply() with a status and a body, the rest the defaults. */
int fx_reply_body(fx_request *rq, unsigned status, const char *body);

/* A request header (case-insensitive name), NULL when absent. */
const char *fx_header(const fx_request *rq, const char *name);

/* Runs on the connection's thread for every request, after its body. */
typedef int (*fx_handler)(fx_request *rq, void *data);

/* Starts the server with handler (and libcurl). NULL on failure. */
fx_server *fx_server_start(fx_handler handler, void *data);

/* Stops the server, waiting for its connection threads (and cleans libcurl
 * up). NULL is ignored. */
void fx_server_stop(fx_server *srv);

/* Guards whatever the test shares with its handler. */
void fx_server_lock(fx_server *srv);
void fx_server_unlock(fx_server *srv);

/* The most requests that were open at once since the last
 * fx_server_peak_reset() (or the start). */
int fx_server_peak(fx_server *srv);
void fx_server_peak_reset(fx_server *srv);

/* ------------------------------------------------------------------------
 * The client
 * ---------------------------------------------------------------------- */

/* What the callback of one call was given; the strings are owned. */
typedef struct fx_seen {
    int calls;
    fq_outcome outcome;
    long status;
    char *error;
    char *content;
    char *finish;
    fq_usage usage;
    fq_ratelimit_headers rl;
    char request_id[128];
    int64_t latency_ms;
} fx_seen;

/* An fq_api_cb that records into the fx_seen it is given as data. */
void fx_record(fq_api_call *call, fq_api_result *result, void *data);

void fx_seen_free(fx_seen *s, size_t n);

typedef struct fx_client {
    uv_loop_t loop;
    fq_api *api;              /* set it to NULL after closing it in a test */
    int stream;               /* requests ask for a stream */
} fx_client;

/* A loop and a client of srv at base path ("/v1", "/v1/"). NULL on
 * failure. */
fx_client *fx_client_new(const fx_server *srv, const char *path, int stream);

/* Closes the client, runs the loop until it is closed, closes the loop and
 * frees c. Returns uv_loop_close()'s result: 0 unless a handle leaked. */
int fx_client_free(fx_client *c);

/* The request body for model (malloc'd): prompt "ping", 16 tokens at the
 * most, a stream when c asks for one. */
char *fx_body(const fx_client *c, const char *model);

/* Clears s and starts a call for model that records into s. */
fq_api_call *fx_post(fx_client *c, const char *model, int timeout_s, fx_seen *s);

/* fx_post(), then runs the loop until the call has completed, once, and
 * nothing is in flight. */
void fx_call(fx_client *c, const char *model, int timeout_s, fx_seen *s);

#endif
