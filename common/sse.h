/* sse.h -- an incremental parser for streamed chat completions: server-sent
 * events (text/event-stream) as OpenAI-compatible APIs send them when a
 * request says "stream": true.
 *
 * The stream is fed in chunks of any size, cut anywhere (inside a line, a
 * CRLF pair or a UTF-8 character). Lines end with LF, CRLF or CR; a blank
 * line ends an event; ':' starts a comment; the fields event, id and retry
 * are understood and the ones that carry nothing for a completion are
 * skipped. Each unnamed ("message") event's data is one JSON chunk:
 *
 *   data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}
 *   data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
 *   data: {"choices":[],"usage":{"prompt_tokens":9,...}}
 *   data: [DONE]
 *
 * The parser concatenates choices[0].delta.content, keeps the last
 * finish_reason and the last usage object (which may come with the finish
 * chunk, as fleetq-mockapi sends it, or on its own with empty choices, as
 * xAI and OpenAI do), and notes [DONE]. delta.reasoning_content is not part
 * of the answer and is skipped.
 *
 * It stops at the first problem and keeps a one-line reason: an error event
 * (data: {"error": ...}, or an event named "error"), data that is not a
 * JSON object, a line or an event over FQ_SSE_LINE_MAX, content over
 * FQ_API_MAX_RESPONSE, or memory running out. Memory is bounded by one
 * line, one event and the content cap. Input after [DONE] is ignored.
 *
 * Content bytes are passed on exactly as cJSON decodes them, invalid UTF-8
 * included, as for a whole (non-streamed) body: the streamed and the whole
 * answer are the same bytes.
 */
#ifndef FQ_SSE_H
#define FQ_SSE_H

#include <stddef.h>

#include "api.h"

#define FQ_SSE_LINE_MAX (1u << 20)   /* bytes of one line, and of one event's data */

typedef enum fq_sse_state {
    FQ_SSE_OK = 0,          /* no problem so far */
    FQ_SSE_ERROR_EVENT,     /* the provider sent an error event */
    FQ_SSE_MALFORMED,       /* data that is not a JSON object */
    FQ_SSE_LINE_TOO_LONG,   /* a line or an event's data over FQ_SSE_LINE_MAX */
    FQ_SSE_TOO_LARGE,       /* content over FQ_API_MAX_RESPONSE */
    FQ_SSE_NO_MEMORY
} fq_sse_state;

typedef struct fq_sse fq_sse;

/* A new parser, or NULL when out of memory. */
fq_sse *fq_sse_new(void);

void fq_sse_free(fq_sse *p);

/* Feeds len bytes. Returns 0, or -1 once the parser has stopped on a
 * problem (fq_sse_state() says which); input after that, or after [DONE],
 * is ignored. */
int fq_sse_feed(fq_sse *p, const char *buf, size_t len);

/* The end of the input. An event whose lines all ended but whose blank line
 * never came is still handled (a server that closes right after
 * "data: [DONE]\n" has said everything); a line cut short is dropped.
 * Calling it again does nothing. */
void fq_sse_finish(fq_sse *p);

fq_sse_state fq_sse_get_state(const fq_sse *p);

/* 1 once "data: [DONE]" has been seen. */
int fq_sse_done(const fq_sse *p);

/* The content so far (NUL-terminated, "" when none) and its length. */
const char *fq_sse_content(const fq_sse *p, size_t *len);

/* The last finish_reason, or NULL. */
const char *fq_sse_finish_reason(const fq_sse *p);

/* 1 with *u filled when a usage object came, else 0. */
int fq_sse_usage(const fq_sse *p, fq_usage *u);

/* The one-line reason of the problem (bounded, no control characters), or
 * NULL while the state is FQ_SSE_OK. */
const char *fq_sse_error(const fq_sse *p);

/* Turns the parser into a result for a response of HTTP status (200 for a
 * stream), after fq_sse_finish(). Fills outcome, http_status, content (taken
 * from the parser), finish_reason, usage and error, and leaves request_id,
 * rl and latency_ms alone, like fq_api_parse_response(); owned strings in
 * out must be freed or NULL. A 200 stream is FQ_OUT_OK only with [DONE], a
 * finish_reason, a usage object and no problem; a stream that ends early
 * (no [DONE] or no finish_reason) or has no usage is FQ_OUT_MALFORMED,
 * as a truncated or incomplete body is; an error event is classified by
 * fq_api_parse_stream_error(). content, finish_reason and usage are only
 * filled for FQ_OUT_OK. */
void fq_sse_result(fq_sse *p, long status, fq_api_result *out);

#endif
