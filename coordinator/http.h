/* http.h -- the coordinator's HTTP server: GET /health and GET /metrics.
 *
 * libmicrohttpd serves on threads of its own (one per connection), so the
 * coordinator's libuv loop is never involved: each request reads the fleet
 * through connections of its own (metrics.h) and answers.
 *
 *   GET /health   JSON: Redis and SQLite reachability, the coordinator's
 *                 parts (intake, store, timer) and any failing with its
 *                 error, results waiting for SQLite, warnings, queue
 *                 depths, live workers, quota and budget. status "ok", or
 *                 "degraded" while a part fails; 200, or 503 when Redis or
 *                 SQLite cannot be reached or SQLite refuses the writes.
 *   GET /metrics  the Prometheus text exposition format 0.0.4.
 *
 * With FLEETQ_METRICS_TOKEN set, /metrics needs it as a bearer token (401
 * without), and /health without it answers its status alone, with the
 * same code: what a platform's health check needs, and nothing private.
 *
 * HEAD works as GET without the body; any other method gets 405, any other
 * path 404, both with a small JSON error.
 */
#ifndef FQ_HTTP_H
#define FQ_HTTP_H

#include <stddef.h>

#include "config.h"
#include "health.h"

typedef struct fq_http fq_http;
struct MHD_Response;

/* A response holding a copy of body, with its Content-Type and
 * Cache-Control: no-store (every answer of the server), or NULL when out
 * of memory. The dashboard's answers are made with it too. */
struct MHD_Response *fq_http_response(const char *type, const char *body, size_t len);

/* Listens on 0.0.0.0:cfg->http_port and starts serving; cfg must outlive
 * the server. Returns NULL with one line in err naming the variable (PORT
 * or FLEETQ_HTTP_PORT) when the port cannot be bound. */
fq_http *fq_http_start(const fq_config *cfg, fq_health *health, char *err, size_t errlen);

/* Stops listening, waits for the requests being answered, frees h.
 * NULL is accepted. */
void fq_http_stop(fq_http *h);

#endif
