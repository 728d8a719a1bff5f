/* mock_server.h -- the HTTP server and what it knows about one request.
 *
 * server.c owns the MHD daemon and routes requests; the route handlers
 * (completions.c, admin.c) answer through the helpers of mock_reply.h and
 * fill in the per-request record below, which the verbose log prints when
 * the request is done.
 */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#define MOCK_BODY_MAX (4u * 1024u * 1024u)

typedef struct mock_req {
    int chat;                  /* a POST /v1/chat/completions (counted in stats) */
    char *body;                /* the upload, up to MOCK_BODY_MAX */
    size_t len, cap;
    int too_large;             /* the upload went past MOCK_BODY_MAX */
    int64_t start_ms;
    char method[8];
    char path[96];
    char request_id[37];       /* x-request-id of the answer */
    int status;                /* HTTP status sent; 0 while none */
    int error_style;           /* the settings' error_style when the request came */
    const char *outcome;       /* short word for the log: "ok", "rate_limited", ... */
    const char *model;         /* model id once known (static storage) */
    int64_t prompt_tokens, completion_tokens, reasoning_tokens, cost_ticks;
} mock_req;

/* Starts the daemon on bind_addr:port (0 = any free port). Returns 0 and
 * the port actually bound in *bound, or -1 with a reason in err. */
int mock_server_start(const char *bind_addr, unsigned port, unsigned *bound,
                      char *err, size_t errlen);

/* Stops the daemon, waiting for request threads to finish. */
void mock_server_stop(void);

/* The socket of a connection, or -1. */
int mock_server_client_fd(struct MHD_Connection *c);

/* Route handlers, called once the whole upload is in r->body. */
enum MHD_Result mock_completions_handle(struct MHD_Connection *c, mock_req *r);
enum MHD_Result mock_admin_models(struct MHD_Connection *c, mock_req *r);
enum MHD_Result mock_admin_stats(struct MHD_Connection *c, mock_req *r);
enum MHD_Result mock_admin_reset(struct MHD_Connection *c, mock_req *r);
enum MHD_Result mock_admin_config(struct MHD_Connection *c, mock_req *r);

#endif
