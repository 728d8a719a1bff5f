/* mock_reply.h -- building and sending responses.
 *
 * Every response leaves through mock_reply_send, which adds the
 * x-request-id header, records the status for the stats and the log, and
 * releases the response. Error bodies use xAI's flat form
 * {"code": "...", "error": "..."}.
 */
#ifndef MOCK_REPLY_H
#define MOCK_REPLY_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "mock_server.h"

/* xAI's "code" strings. */
#define MOCK_CODE_INVALID "Client specified an invalid argument"
#define MOCK_CODE_NOT_FOUND "Some requested entity was not found"
#define MOCK_CODE_EXHAUSTED "Some resource has been exhausted"

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

/* Sends {"code": code, "error": message}. */
enum MHD_Result mock_reply_error(struct MHD_Connection *c, mock_req *r, unsigned status,
                                 const char *code, const char *message);

/* Sends a constant text. */
enum MHD_Result mock_reply_static(struct MHD_Connection *c, mock_req *r, unsigned status,
                                  const char *content_type, const char *text);

#endif
