/* mock_stream_error.h -- the error event that breaks off a streamed answer.
 *
 * With --stream-error-rate, a share of streamed calls get a 200
 * text/event-stream that sends the first content chunks and then, instead
 * of the final chunk and [DONE], one event stating an error of the status
 * stream_error_status, in the request's error style -- as OpenAI's
 * streaming API does when it fails mid-answer:
 *   429: a token rate limit reached (rate_limit_exceeded, type "tokens")
 *   500: a server error (server_error)
 *   503: an overloaded server (server_error)
 */
#ifndef MOCK_STREAM_ERROR_H
#define MOCK_STREAM_ERROR_H

#include <cjson/cJSON.h>

#include "mock_config.h"
#include "mock_prices.h"
#include "mock_server.h"

/* The event's body for a call to m (NULL when out of memory). */
cJSON *mock_stream_error_event(const mock_req *r, const mock_config *cfg, const mock_model *m);

#endif
