/* mock_reply.h -- building and sending responses.
 *
 * Every response leaves through mock_reply_send, which adds the
 * x-request-id header, records the status for the stats and the log, and
 * releases the response. Errors are named by kind; each kind has its
 * status and words in both error styles (see replies.c), so the request's
 * error_style is the one switch between xAI's flat body
 * {"code": "...", "error": "..."} and OpenAI's nested one
 * {"error": {"message": "...", "type": "...", "param": null, "code": ...}}.
 */
#ifndef MOCK_REPLY_H
#define MOCK_REPLY_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "mock_server.h"

/* What an error is about. */
typedef enum mock_error {
    MOCK_ERR_NO_KEY,            /* no Bearer key: 401 */
    MOCK_ERR_WRONG_KEY,         /* not the valid key: 400 (xAI), 401 (OpenAI) */
    MOCK_ERR_BLOCKED,           /* the key is blocked: 403 */
    MOCK_ERR_CREDITS_DENIED,    /* credits spent: 403 (xAI), 429 (OpenAI) */
    MOCK_ERR_CREDITS_EXHAUSTED, /* credits spent: 429 */
    MOCK_ERR_TOO_LARGE,         /* the body is over the limit: 413 */
    MOCK_ERR_BAD_REQUEST,       /* not a valid request: 400 */
    MOCK_ERR_NO_ROUTE,          /* no such path: 404 */
    MOCK_ERR_NO_MODEL,          /* no such model: 404 */
    MOCK_ERR_RATE_REQUESTS,     /* a request limit: 429 */
    MOCK_ERR_RATE_TOKENS,       /* a token limit: 429 */
    MOCK_ERR_INTERNAL,          /* 500 */
    MOCK_ERR_UNAVAILABLE        /* 503 */
} mock_error;

/* The words of a server that failed (500) or is overloaded (503). */
#define MOCK_MSG_INTERNAL "An internal error occurred while processing your request. " \
                          "Please try again later."
#define MOCK_MSG_UNAVAILABLE "The service is temporarily overloaded and cannot handle " \
                             "your request. Please try again later."

/* A response over buf (len bytes), which it takes over and frees with
 * free_fn; content_type may be NULL. On failure buf is freed and NULL
 * returned. */
struct MHD_Response *mock_reply_buffer(char *buf, size_t len, const char *content_type,
                                       void (*free_fn)(void *));

/* Queues resp with status, then destroys resp. NULL resp closes the
 * connection (out of memory). */
enum MHD_Result mock_reply_send(struct MHD_Connection *c, mock_req *r, unsigned status,
                                struct MHD_Response *resp);

/* Sends obj (consumed) as JSON. */
enum MHD_Result mock_reply_json(struct MHD_Connection *c, mock_req *r, unsigned status,
                                cJSON *obj);

/* The HTTP status of an error of this kind in r's error style. */
unsigned mock_reply_error_status(const mock_req *r, mock_error kind);

/* The body stating the error in r's error style (NULL when out of memory),
 * for a response or an event of a stream. */
cJSON *mock_reply_error_json(const mock_req *r, mock_error kind, const char *message);

/* A response stating the error in r's error style, for a caller that adds
 * headers before sending it with mock_reply_error_status (NULL when out of
 * memory). */
struct MHD_Response *mock_reply_error_response(const mock_req *r, mock_error kind,
                                               const char *message);

/* Sends the error with its status, in r's error style. */
enum MHD_Result mock_reply_error(struct MHD_Connection *c, mock_req *r, mock_error kind,
                                 const char *message);

/* Sends a constant text. */
enum MHD_Result mock_reply_static(struct MHD_Connection *c, mock_req *r, unsigned status,
                                  const char *content_type, const char *text);

#endif
