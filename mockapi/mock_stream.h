/* mock_stream.h -- responses sent piece by piece: server-sent events, and
 * bodies that break off in the middle of the transfer.
 */
#ifndef MOCK_STREAM_H
#define MOCK_STREAM_H

#include <stddef.h>

#include <microhttpd.h>

#include "mock_chat.h"

/* A text/event-stream response: a role chunk, content chunks, a final chunk
 * with finish_reason and usage, then "data: [DONE]". The content is cut
 * into pieces of a sixth of it plus one byte, at least 16 bytes, backed up
 * to the start of a UTF-8 character: about six content chunks (one for an
 * answer under 16 bytes). With the setting stream_chunk_ms, each chunk
 * after the role chunk (content and final) waits that long before it goes
 * out; [DONE] follows the final chunk at once. With cut set, the
 * connection breaks after about half of the events. NULL when out of
 * memory. */
struct MHD_Response *mock_stream_sse(const mock_chat_req *req, const mock_chat_answer *a,
                                     int with_cost, int cut);

/* A response announcing len bytes of body (Content-Length) that sends the
 * first half and then breaks the connection. Takes over body (released
 * with cJSON_free). NULL when out of memory. */
struct MHD_Response *mock_stream_cut(char *body, size_t len);

#endif
