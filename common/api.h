/* api.h -- the chat-completions client: libcurl multi driven by a libuv loop.
 *
 * One fq_api per process holds a CURLM whose sockets and timeout are driven
 * by uv_poll/uv_timer handles (curl's multi-uv recipe), so any number of
 * calls run concurrently on the one loop with keep-alive reuse. Each call
 * posts one JSON body to {base_url}/chat/completions with the Bearer key,
 * bounded by its timeout, and reports an fq_api_result to its callback,
 * exactly once, on the loop thread. The body is built by
 * fq_api_build_request(), which sends a task's optional parameters only
 * to models that accept them (model_params.h).
 *
 * Streaming (FLEETQ_STREAM): a request built with stream set asks for
 * server-sent events. Whatever was asked, a 200 answered as
 * text/event-stream is read by the stream parser (sse.h) as it arrives and
 * becomes the same kind of fq_api_result as a whole body; anything else is
 * buffered and parsed whole as before. A stream that has begun and then
 * sends nothing for the stall timeout (30 s by default) fails as a timeout.
 * The content of a stream can be handed on piece by piece as it arrives
 * (fq_api_call_on_delta); every result says how long the first token
 * took (ttft_ms).
 */
#ifndef FQ_API_H
#define FQ_API_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cost.h"
#include "outcome.h"

#define FQ_API_MAX_RESPONSE (8u << 20)  /* bodies over 8 MiB fail as malformed */

typedef struct fq_ratelimit_headers {
    int64_t limit_requests;       /* -1 when absent */
    int64_t remaining_requests;
    int64_t limit_tokens;
    int64_t remaining_tokens;
    int64_t retry_after_ms;       /* -1 when absent or unparsable */
} fq_ratelimit_headers;

typedef struct fq_api_result {
    fq_outcome outcome;
    long http_status;             /* 0 when no response arrived */
    char *content;                /* choices[0].message.content, or a stream's deltas
                                     joined (owned), NULL if none */
    char *finish_reason;          /* owned, NULL if none */
    fq_usage usage;               /* zeros and cost_ticks -1 when absent */
    int usage_estimated;          /* a 200 that came without usage: the tokens are the
                                     caller's estimate (fq_cost_estimate_usage()) */
    char *error;                  /* one-line reason for a failed call (owned) */
    char request_id[128];         /* x-request-id, "" when absent */
    fq_ratelimit_headers rl;
    int64_t latency_ms;
    int64_t ttft_ms;              /* time to the first token: a stream's first content
                                     delta, else the first byte of a 200 body; -1 unknown */
} fq_api_result;

void fq_api_result_free(fq_api_result *r);

/* Sets out up for a response with this status: no content, reason, error
 * or usage yet (cost_ticks -1: unknown). Owns nothing before or after. */
void fq_api_result_reset(fq_api_result *out, long status);

/* Parses a response: status, body (not NUL-terminated), and classifies it
 * with fq_outcome_classify(). Fills content/finish_reason/usage on 200, and
 * error ("HTTP 429 resource-exhausted: Too many requests ...", bounded to
 * 300 bytes, control characters replaced) otherwise. transport and
 * transport_msg describe a failed transfer (0/NULL when it completed). */
void fq_api_parse_response(long status, const char *body, size_t len,
                           int transport, const char *transport_msg,
                           fq_api_result *out);

/* Classifies an error event that arrived inside a 200 event stream
 * (data: {"error": ...}, xAI's flat or OpenAI's nested form, or plain text):
 * sets out->outcome by the status the event names (a "status" or "code"
 * from 400 to 599), else 429 when it speaks of a rate limit or credits,
 * else 500; and out->error (any previous one freed) to
 * "stream error <code>: <message>", cleaned and bounded like the others. */
void fq_api_parse_stream_error(const char *data, size_t len, fq_api_result *out);

/* The bytes of text a request body sends (every message's content) and,
 * in *messages, how many messages: what an estimate of its prompt tokens
 * counts (fq_cost_estimate_usage()). 0 for a body that does not parse. */
size_t fq_api_request_text_bytes(const char *body, int *messages);

/* Reads an OpenAI/xAI "usage" object into u, normalised as for a whole
 * response (see api_parse.c); cost_in_usd_ticks is looked for in usage,
 * then in root. Every field of u is written. */
struct cJSON;
void fq_api_parse_usage(const struct cJSON *root, const struct cJSON *usage, fq_usage *u);

/* Parses one header line ("x-ratelimit-remaining-requests: 17\r\n") into rl;
 * names are case-insensitive; unknown headers are ignored. Also captures
 * x-request-id into request_id (bounded). */
void fq_api_parse_header(const char *line, size_t len, fq_ratelimit_headers *rl,
                         char *request_id, size_t request_id_len);

void fq_ratelimit_headers_init(fq_ratelimit_headers *rl);

typedef struct fq_api_request {
    const char *model;
    const char *system;           /* NULL or "" = no system message */
    const char *prompt;           /* either prompt ... */
    const char *messages;         /* ... or a JSON array of messages */
    int max_tokens;
    int has_temperature;
    double temperature;
    int stream;                   /* 1: "stream": true with the usage chunk */
    const char *params;           /* the task's model parameters, a JSON object, or NULL;
                                     only those the model accepts are sent (model_params.h) */
    char *dropped;                /* NULL, or filled with the names of the parameters left
                                     out ("" when none) */
    size_t dropped_len;
} fq_api_request;

/* Builds the JSON body (malloc'd, NUL-terminated) or NULL on failure. When
 * messages is given, system is prepended only if the array has no system
 * message of its own. The members come in a fixed order (model, messages,
 * max_tokens, temperature, the parameters, stream), so that the same
 * request always gives the same bytes: the response cache names an answer
 * by the body built with stream 0. */
char *fq_api_build_request(const fq_api_request *req);

/* Appends "Authorization: Bearer <key>" to *list (curl's header list),
 * through a scratch copy that is wiped once curl has its own. 0, or -1
 * when out of memory (*list unchanged). */
struct curl_slist;
int fq_api_add_auth(struct curl_slist **list, const char *key, size_t key_len);

typedef struct fq_api fq_api;
typedef struct fq_api_call fq_api_call;

typedef void (*fq_api_cb)(fq_api_call *call, fq_api_result *result, void *data);

/* Creates a client on loop for base_url ("http://127.0.0.1:8000/v1").
 * Returns NULL on failure. curl_global_init() is the caller's job. */
fq_api *fq_api_new(uv_loop_t *loop, const char *base_url);

/* Replaces the key used for later calls (SIGHUP); the copy is wiped on
 * replacement and on close. */
int fq_api_set_key(fq_api *api, const char *key);

/* Starts a call. body is copied. The callback runs exactly once unless
 * this returns NULL (then it never runs). result is only valid during the
 * callback; the callee may steal owned strings by setting them to NULL. */
fq_api_call *fq_api_post(fq_api *api, const char *body, int timeout_s,
                         fq_api_cb cb, void *data);

/* Hands each piece of a streamed answer's content to cb as it arrives
 * (on the loop thread, from inside the transfer: cb must not call back
 * into the client). Set it right after fq_api_post(). */
typedef void (*fq_api_delta_cb)(const char *text, size_t len, void *data);
void fq_api_call_on_delta(fq_api_call *call, fq_api_delta_cb cb);

/* A streamed answer that has begun fails as a timeout when no byte arrives
 * for this many seconds (default FQ_API_STALL_S; 0 turns the check off).
 * The time to the first byte is bounded by the call's timeout alone. */
#define FQ_API_STALL_S 30
void fq_api_set_stall_timeout(fq_api *api, int seconds);

/* Number of calls in flight. */
int fq_api_inflight(const fq_api *api);

/* Aborts every call (their callbacks run with a network outcome "aborted"),
 * closes the uv handles and frees the client once they are closed. */
void fq_api_close(fq_api *api);

#endif
