/* mock_stream.h -- responses sent piece by piece: server-sent events, and
 * bodies that break off in the middle of the transfer.
 */
#ifndef MOCK_STREAM_H
#define MOCK_STREAM_H

#include <stddef.h>

#include <microhttpd.h>

#include <cjson/cJSON.h>

#include "mock_chat.h"
#include "mock_config.h"

/* How a streamed answer ends. */
typedef enum mock_stream_end {
    MOCK_STREAM_WHOLE,   /* a final chunk with finish_reason (and usage), then [DONE] */
    MOCK_STREAM_CUT,     /* the connection breaks after about half of the events */
    MOCK_STREAM_ERROR    /* the first content chunks, then an error event; no [DONE] */
} mock_stream_end;

/* Content chunks sent before the error event of MOCK_STREAM_ERROR. */
#define MOCK_STREAM_ERROR_AFTER 2

/* A text/event-stream response: a role chunk, content chunks, and the end
 * (see mock_stream_end): the final chunk carries usage as cfg shapes it
 * (mock_chat_add_usage), and with MOCK_STREAM_ERROR error_event, which it
 * consumes (NULL otherwise), is the last event. The content is cut into
 * pieces of a sixth of it plus one byte, at least 16 bytes, backed up to
 * the start of a UTF-8 character: about six content chunks (one for an
 * answer under 16 bytes). With stream_chunk_ms, each event after the role
 * chunk (content, final or error) waits that long before it goes out;
 * [DONE] follows the final chunk at once. NULL when out of memory. */
struct MHD_Response *mock_stream_sse(const mock_chat_req *req, const mock_chat_answer *a,
                                     const mock_config *cfg, mock_stream_end end,
                                     cJSON *error_event);

/* A response announcing len bytes of body (Content-Length) that sends the
 * first half and then breaks the connection. Takes over body (released
 * with cJSON_free). NULL when out of memory. */
struct MHD_Response *mock_stream_cut(char *body, size_t len);

#endif
