/* api.c -- the chat-completions client on the process' libuv loop (see api.h).
 *
 * DESIGN
 *
 * One CURLM runs every call. curl tells us which sockets to watch through
 * CURLMOPT_SOCKETFUNCTION and when to wake it through CURLMOPT_TIMERFUNCTION;
 * each watched socket gets a uv_poll_t inside a small context (assigned to
 * the socket with curl_multi_assign, freed in the handle's close callback)
 * and one uv_timer_t carries curl's timeout. Poll and timer events go back
 * to curl with curl_multi_socket_action(), after which finished transfers
 * are drained from curl_multi_info_read() (curl's docs/examples/multi-uv.c
 * recipe).
 *
 * A call owns its easy handle, its header list, the response body (grown
 * up to FQ_API_MAX_RESPONSE; a larger body aborts the transfer) and the
 * result, whose rate-limit headers and request id the header callback fills
 * as they arrive. When the transfer ends the call is taken off the multi
 * handle and classified:
 *
 *  - completed: the status and body go to fq_api_parse_response();
 *  - timed out (CURLE_OPERATION_TIMEDOUT): transport 1, "timeout after N s";
 *  - failed after the status line arrived, while the body was being read
 *    (transfer closed early, reset, HTTP/2 stream error, broken gzip): the
 *    partial body is parsed as if the transfer had completed. The server did
 *    answer, so this is not an outage: for a 200 the truncated JSON fails to
 *    parse and the call is MALFORMED (retried, counted), which is what the
 *    outcome table asks of a truncated body, rather than NETWORK (which would
 *    feed the circuit breaker); an error status keeps its own meaning. A body
 *    that parses completely despite the early close is accepted;
 *  - any other failure (refused, DNS, TLS, reset before a response):
 *    transport 2, with curl's own message.
 *
 * Streams. The first body byte decides how a response is read: a 200 whose
 * Content-Type is text/event-stream goes, chunk by chunk, to an fq_sse
 * parser (sse.h) and is never buffered whole; anything else (a plain JSON
 * body, and every error status, which providers send as JSON even to a
 * streaming request) is buffered as above. The parser bounds its own memory
 * and, once it stops on a problem (an error event, bad JSON, a line or the
 * content over its limit), the write callback stops the transfer. A
 * finished stream is classified by fq_sse_result(): when the parser saw
 * [DONE] or stopped on a problem, that decides whatever the transport did
 * afterwards; otherwise a timeout is a timeout, a stream that broke off is
 * truncated (MALFORMED, retried) exactly like a cut body, and other
 * failures are NETWORK.
 *
 * Stalls. A stream that has begun but then sends nothing for stall_s
 * seconds (FQ_API_STALL_S by default) would otherwise hold its slot until
 * the whole REQUEST_TIMEOUT ran out. A watchdog timer, running once a
 * second only while streams are in flight (and unref'd, so it never keeps
 * the loop alive), takes such calls off the multi handle and reports them
 * as TIMEOUT "stream stalled: no data for N s". The clock starts at the
 * first body byte: time to first byte is bounded by the call's timeout
 * alone, so a model that thinks long before it answers is not cut off.
 *
 * Re-entrancy. User callbacks run only from process_done(), outside every
 * curl function, so they may start new calls or close the client. Finished
 * calls are first all taken off the multi handle and out of the in-flight
 * list, then their callbacks run one by one; a call is freed right after its
 * callback and never touched again. The watchdog reports stalled calls the
 * same way, from its own timer callback. fq_api_close() aborts what is
 * still in flight (each callback runs once with NETWORK "aborted"), cleans
 * up the multi handle and closes the timers and polls; the struct is freed
 * when the last close callback has run and no callback is on the stack.
 *
 * The key lives in one malloc'd buffer, wiped when replaced and on close.
 * The Authorization header is built per call, and both that buffer and
 * curl's copy in the header list are wiped when the call ends. Any echo of
 * the key in an error body is masked before the body is parsed; a stream is
 * never held whole, so its error line is masked instead (any run of 8 or
 * more characters of the key from its start). Nothing here logs, and
 * CURLOPT_VERBOSE is never set (it would print the header).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sse.h"

#ifndef FQ_VERSION
#define FQ_VERSION "0"
#endif

#define FQ_API_DEFAULT_TIMEOUT_S 90
#define FQ_API_CONNECT_TIMEOUT_MS 10000L
#define AUTH_PREFIX "Authorization: Bearer "
#define WATCHDOG_TICK_MS 1000

enum body_mode { BODY_UNKNOWN = 0, BODY_WHOLE, BODY_STREAM };

typedef struct poll_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    fq_api *api;
    struct poll_ctx *prev, *next;
} poll_ctx;

struct fq_api_call {
    fq_api *api;
    CURL *easy;
    struct curl_slist *headers;
    char *body;                 /* response bytes received so far (not for streams) */
    size_t len, cap;            /* len counts stream bytes too */
    int overflow;               /* body went over FQ_API_MAX_RESPONSE */
    enum body_mode mode;        /* decided by the first body byte */
    fq_sse *sse;                /* BODY_STREAM: the parser */
    fq_api_delta_cb on_delta;   /* BODY_STREAM: gets each new piece of content */
    size_t delta_sent;          /* content bytes handed to on_delta so far */
    uint64_t first_token_ns;    /* BODY_STREAM: when content first came; 0 not yet */
    uint64_t last_rx_ns;        /* BODY_STREAM: when the last bytes came */
    int stalled;                /* taken off by the watchdog; its stall_s */
    int timeout_s;
    CURLcode code;              /* how the transfer ended */
    uint64_t started_ns;
    fq_api_cb cb;
    void *data;
    fq_api_result result;
    char errbuf[CURL_ERROR_SIZE];
    fq_api_call *prev, *next;
};

struct fq_api {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t watchdog;        /* stalled streams; runs only while streams are in flight */
    int stall_s;                /* 0 = no stall check */
    char *url;                  /* base_url + "/chat/completions" */
    char *key;                  /* NULL when none */
    size_t key_len;
    fq_api_call *calls;         /* in flight */
    int inflight;
    poll_ctx *polls;
    int open_handles;           /* timers + polls not yet closed */
    int depth;                  /* callbacks on the stack */
    int closing;
};

static void maybe_free(fq_api *api)
{
    if (!api->closing || api->open_handles > 0 || api->depth > 0)
        return;
    free(api->url);
    free(api);
}

static void wipe_key(fq_api *api)
{
    if (api->key != NULL) {
        explicit_bzero(api->key, api->key_len);
        free(api->key);
    }
    api->key = NULL;
    api->key_len = 0;
}

/* ------------------------------------------------------------------------
 * Calls
 * ---------------------------------------------------------------------- */

static void call_link(fq_api *api, fq_api_call *c)
{
    c->prev = NULL;
    c->next = api->calls;
    if (api->calls != NULL)
        api->calls->prev = c;
    api->calls = c;
    api->inflight++;
}

static void call_unlink(fq_api *api, fq_api_call *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        api->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    api->inflight--;
}

/* The key this call sent, found in its own header list; NULL if none. */
static const char *call_key(const fq_api_call *c, size_t *len)
{
    size_t plen = strlen(AUTH_PREFIX);
    for (const struct curl_slist *h = c->headers; h != NULL; h = h->next) {
        if (strncmp(h->data, AUTH_PREFIX, plen) == 0) {
            *len = strlen(h->data + plen);
            return h->data + plen;
        }
    }
    return NULL;
}

/* Masks every copy of the key in the body with '*' so that no error text
 * built from it can carry the key. */
static void mask_key(fq_api_call *c)
{
    size_t klen = 0;
    const char *key = call_key(c, &klen);
    if (key == NULL || klen == 0 || c->body == NULL)
        return;
    char *p = c->body;
    size_t left = c->len;
    char *hit;
    while ((hit = memmem(p, left, key, klen)) != NULL) {
        memset(hit, '*', klen);
        left -= (size_t)(hit + klen - p);
        p = hit + klen;
    }
}

/* Masks the key in an error built from a stream, whose text never passed
 * through mask_key(): every run of at least 8 characters matching the key
 * from its start (a whole key, or one cut short by the length bound). */
static void mask_key_in_error(fq_api_call *c)
{
    size_t klen = 0;
    const char *key = call_key(c, &klen);
    char *e = c->result.error;
    if (key == NULL || e == NULL)
        return;
    size_t head = klen < 8 ? klen : 8;
    if (head == 0)
        return;
    char *hit;
    while ((hit = memmem(e, strlen(e), key, head)) != NULL) {
        size_t i = 0;
        while (i < klen && hit[i] == key[i])
            i++;
        memset(hit, '*', i);
        e = hit + i;
    }
}

static void call_free(fq_api_call *c)
{
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    for (struct curl_slist *h = c->headers; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(c->headers);
    free(c->body);
    fq_sse_free(c->sse);
    fq_api_result_free(&c->result);
    free(c);
}

/* Runs the callback and frees the call; the call is gone afterwards. */
static void call_report(fq_api_call *c)
{
    fq_api *api = c->api;
    c->result.latency_ms = (int64_t)((uv_hrtime() - c->started_ns) / 1000000u);
    c->result.ttft_ms = -1;
    if (c->first_token_ns != 0) {
        c->result.ttft_ms = (int64_t)((c->first_token_ns - c->started_ns) / 1000000u);
    } else if (c->sse == NULL && c->result.outcome == FQ_OUT_OK) {
        curl_off_t first_byte_us = 0;
        if (curl_easy_getinfo(c->easy, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us) ==
                CURLE_OK && first_byte_us > 0)
            c->result.ttft_ms = (int64_t)(first_byte_us / 1000);
    }
    api->depth++;
    c->cb(c, &c->result, c->data);
    api->depth--;
    call_free(c);
}

/* A curl code that means the response broke off while its body was being
 * read (the status line had arrived). */
static int body_phase_error(CURLcode code)
{
    switch (code) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return 1;
    default:
        return 0;
    }
}

static const char *failure_kind(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        return "connection failed";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "DNS lookup failed";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return "TLS error";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return "connection reset";
    default:
        return "network error";
    }
}

/* Appends curl's detail to the error of a call found MALFORMED after the
 * transfer broke off. */
static void add_detail(fq_api_call *c, const char *detail)
{
    char msg[CURL_ERROR_SIZE + 400];
    if (c->result.outcome != FQ_OUT_MALFORMED || c->result.error == NULL)
        return;
    snprintf(msg, sizeof(msg), "%s: %s", c->result.error, detail);
    free(c->result.error);
    c->result.error = strdup(msg);
}

/* A finished streamed response (see Streams in the DESIGN note). */
static void classify_stream(fq_api_call *c, long status, const char *detail)
{
    char msg[CURL_ERROR_SIZE + 96];

    if (fq_sse_done(c->sse) || fq_sse_get_state(c->sse) != FQ_SSE_OK) {
        fq_sse_result(c->sse, status, &c->result);
    } else if (c->stalled > 0) {
        snprintf(msg, sizeof(msg),
                 "stream stalled: no data for %d s (HTTP %ld, %zu body bytes received)",
                 c->stalled, status, c->len);
        fq_api_parse_response(status, NULL, 0, 1, msg, &c->result);
    } else if (c->code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(msg, sizeof(msg), "timeout after %d s (HTTP %ld, %zu body bytes received)",
                 c->timeout_s, status, c->len);
        fq_api_parse_response(status, NULL, 0, 1, msg, &c->result);
    } else if (c->code == CURLE_OK || body_phase_error(c->code)) {
        fq_sse_result(c->sse, status, &c->result);
        if (c->code != CURLE_OK)
            add_detail(c, detail);
    } else {
        snprintf(msg, sizeof(msg), "%s: %s", failure_kind(c->code), detail);
        fq_api_parse_response(status, NULL, 0, 2, msg, &c->result);
    }
}

/* Turns a finished transfer into its result (see the DESIGN note). */
static void call_classify(fq_api_call *c)
{
    long status = 0;
    char msg[CURL_ERROR_SIZE + 64];
    const char *detail = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(c->code);

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->sse != NULL) {
        classify_stream(c, status, detail);
        mask_key_in_error(c);
        return;
    }
    if (status != 200)
        mask_key(c);

    if (c->overflow && status == 200) {
        /* never accept a cut-off success, even if its prefix parses */
        fq_api_parse_response(status, NULL, 0, 0, NULL, &c->result);
        c->result.outcome = FQ_OUT_MALFORMED;
        free(c->result.error);
        c->result.error = strdup("response body over 8 MiB");
    } else if (c->overflow) {
        /* an error status keeps its meaning; its text is the first 8 MiB */
        fq_api_parse_response(status, c->body, c->len, 0, NULL, &c->result);
    } else if (c->code == CURLE_OK) {
        fq_api_parse_response(status, c->body, c->len, 0, NULL, &c->result);
    } else if (c->code == CURLE_OPERATION_TIMEDOUT) {
        if (status > 0)
            snprintf(msg, sizeof(msg), "timeout after %d s (HTTP %ld, %zu body bytes received)",
                     c->timeout_s, status, c->len);
        else
            snprintf(msg, sizeof(msg), "timeout after %d s", c->timeout_s);
        fq_api_parse_response(status, NULL, 0, 1, msg, &c->result);
    } else if (status > 0 && body_phase_error(c->code)) {
        fq_api_parse_response(status, c->body, c->len, 0, NULL, &c->result);
        add_detail(c, detail);
    } else {
        snprintf(msg, sizeof(msg), "%s: %s", failure_kind(c->code), detail);
        fq_api_parse_response(status, NULL, 0, 2, msg, &c->result);
    }
}

/* ------------------------------------------------------------------------
 * curl callbacks
 * ---------------------------------------------------------------------- */

static void watchdog_start(fq_api *api);

/* 1 when the response is a 200 with Content-Type text/event-stream. */
static int is_event_stream(CURL *easy)
{
    long status = 0;
    char *ct = NULL;
    static const char want[] = "text/event-stream";
    size_t n = sizeof(want) - 1;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
    if (status != 200 || ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The content the stream parser has joined since the last call goes to
 * the call's delta callback; the first of it marks the first token. */
static void hand_on_deltas(fq_api_call *c)
{
    size_t len = 0;
    const char *content = fq_sse_content(c->sse, &len);
    if (len <= c->delta_sent)
        return;
    if (c->first_token_ns == 0)
        c->first_token_ns = uv_hrtime();
    if (c->on_delta != NULL)
        c->on_delta(content + c->delta_sent, len - c->delta_sent, c->data);
    c->delta_sent = len;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fq_api_call *c = userdata;
    size_t n = size * nmemb;
    if (n == 0)
        return 0;
    if (c->mode == BODY_UNKNOWN) {
        c->mode = BODY_WHOLE;
        if (is_event_stream(c->easy)) {
            if ((c->sse = fq_sse_new()) == NULL)
                return 0;       /* out of memory: fails the transfer */
            c->mode = BODY_STREAM;
            watchdog_start(c->api);
        }
    }
    if (c->mode == BODY_STREAM) {
        c->len += n;
        c->last_rx_ns = uv_hrtime();
        if (fq_sse_feed(c->sse, ptr, n) != 0)
            return 0;           /* the parser stopped: so does the transfer */
        hand_on_deltas(c);
        return n;
    }
    if (n > FQ_API_MAX_RESPONSE - c->len) {
        c->overflow = 1;
        return 0;       /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (b == NULL)
            return 0;
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, ptr, n);
    c->len += n;
    c->body[c->len] = '\0';
    return n;
}

static size_t on_header(char *buffer, size_t size, size_t nitems, void *userdata)
{
    fq_api_call *c = userdata;
    size_t n = size * nitems;
    /* a new status line (after a 1xx or a proxy's answer) starts over */
    if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0) {
        fq_ratelimit_headers_init(&c->result.rl);
        c->result.request_id[0] = '\0';
    } else {
        fq_api_parse_header(buffer, n, &c->result.rl, c->result.request_id,
                            sizeof(c->result.request_id));
    }
    return n;
}

/* Classifies and reports calls already taken off the multi handle and out
 * of the in-flight list; a callback may post or close freely. */
static void report_done(fq_api *api, fq_api_call *done)
{
    api->depth++;
    while (done != NULL) {
        fq_api_call *c = done;
        done = c->next;
        c->next = NULL;
        call_classify(c);
        call_report(c);
    }
    api->depth--;
    maybe_free(api);
}

static void process_done(fq_api *api)
{
    fq_api_call *done = NULL;
    CURLMsg *msg;
    int pending;

    if (api->multi == NULL)
        return;
    /* First take every finished call off the multi handle ... */
    while ((msg = curl_multi_info_read(api->multi, &pending)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(api->multi, easy);
        fq_api_call *c = (fq_api_call *)priv;
        if (c == NULL)
            continue;
        c->code = code;
        call_unlink(api, c);
        c->next = done;
        done = c;
    }
    /* ... then report them; a callback may post or close freely. */
    report_done(api, done);
}

/* Stops stalled streams (see Stalls in the DESIGN note). */
static void on_watchdog(uv_timer_t *t)
{
    fq_api *api = t->data;
    fq_api_call *stalled = NULL;
    int streams = 0;
    uint64_t now = uv_hrtime();
    uint64_t limit = (uint64_t)api->stall_s * 1000000000u;

    if (api->multi == NULL)
        return;
    fq_api_call *next;
    for (fq_api_call *c = api->calls; c != NULL; c = next) {
        next = c->next;
        if (c->sse == NULL)
            continue;
        if (api->stall_s > 0 && now - c->last_rx_ns >= limit) {
            curl_multi_remove_handle(api->multi, c->easy);
            call_unlink(api, c);
            c->stalled = api->stall_s;
            c->code = CURLE_OPERATION_TIMEDOUT;
            c->next = stalled;
            stalled = c;
        } else {
            streams++;
        }
    }
    if (streams == 0 || api->stall_s == 0)
        uv_timer_stop(&api->watchdog);
    report_done(api, stalled);
}

static void watchdog_start(fq_api *api)
{
    if (api->closing || api->stall_s <= 0 || uv_is_active((uv_handle_t *)&api->watchdog))
        return;
    uv_timer_start(&api->watchdog, on_watchdog, WATCHDOG_TICK_MS, WATCHDOG_TICK_MS);
}

static void on_poll_close(uv_handle_t *h)
{
    poll_ctx *ctx = h->data;
    fq_api *api = ctx->api;
    if (ctx->prev != NULL)
        ctx->prev->next = ctx->next;
    else
        api->polls = ctx->next;
    if (ctx->next != NULL)
        ctx->next->prev = ctx->prev;
    free(ctx);
    api->open_handles--;
    maybe_free(api);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    poll_ctx *ctx = h->data;
    fq_api *api = ctx->api;
    int flags = 0;
    int running;
    if (api->multi == NULL)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(api->multi, ctx->fd, flags, &running);
    process_done(api);
}

static void poll_close(poll_ctx *ctx)
{
    if (!uv_is_closing((uv_handle_t *)&ctx->poll)) {
        uv_poll_stop(&ctx->poll);
        uv_close((uv_handle_t *)&ctx->poll, on_poll_close);
    }
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    fq_api *api = userp;
    poll_ctx *ctx = socketp;

    if (action == CURL_POLL_REMOVE) {
        if (ctx != NULL) {
            if (api->multi != NULL)
                curl_multi_assign(api->multi, s, NULL);
            poll_close(ctx);
        }
        return 0;
    }
    if (api->multi == NULL)
        return 0;
    if (ctx == NULL) {
        if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
            return -1;
        if (uv_poll_init_socket(api->loop, &ctx->poll, s) != 0) {
            free(ctx);
            return -1;
        }
        ctx->fd = s;
        ctx->api = api;
        ctx->poll.data = ctx;
        ctx->next = api->polls;
        if (api->polls != NULL)
            api->polls->prev = ctx;
        api->polls = ctx;
        api->open_handles++;
        curl_multi_assign(api->multi, s, ctx);
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    if (uv_poll_start(&ctx->poll, events, on_poll) != 0)
        return -1;
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    fq_api *api = t->data;
    int running;
    if (api->multi == NULL)
        return;
    curl_multi_socket_action(api->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    process_done(api);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    fq_api *api = userp;
    if (uv_is_closing((uv_handle_t *)&api->timer))
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&api->timer);
    else
        uv_timer_start(&api->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_timer_close(uv_handle_t *h)
{
    fq_api *api = h->data;
    api->open_handles--;
    maybe_free(api);
}

/* ------------------------------------------------------------------------
 * Public API
 * ---------------------------------------------------------------------- */

fq_api *fq_api_new(uv_loop_t *loop, const char *base_url)
{
    fq_api *api = NULL;
    size_t n;

    if (loop == NULL || base_url == NULL)
        return NULL;
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return NULL;
    if ((api = calloc(1, sizeof(*api))) == NULL)
        goto err;
    api->loop = loop;
    n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    if ((api->url = malloc(n + sizeof("/chat/completions"))) == NULL)
        goto err;
    memcpy(api->url, base_url, n);
    memcpy(api->url + n, "/chat/completions", sizeof("/chat/completions"));
    if ((api->multi = curl_multi_init()) == NULL)
        goto err;
    if (curl_multi_setopt(api->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(api->multi, CURLMOPT_SOCKETDATA, api) != CURLM_OK ||
        curl_multi_setopt(api->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(api->multi, CURLMOPT_TIMERDATA, api) != CURLM_OK)
        goto err;
    api->stall_s = FQ_API_STALL_S;
    /* uv_timer_init() cannot fail; both handles exist from here on */
    if (uv_timer_init(loop, &api->timer) != 0 || uv_timer_init(loop, &api->watchdog) != 0)
        goto err;
    api->timer.data = api;
    api->watchdog.data = api;
    uv_unref((uv_handle_t *)&api->watchdog);
    api->open_handles = 2;
    return api;
err:
    if (api != NULL) {
        if (api->multi != NULL)
            curl_multi_cleanup(api->multi);
        free(api->url);
        free(api);
    }
    return NULL;
}

int fq_api_set_key(fq_api *api, const char *key)
{
    if (api == NULL || api->closing)
        return -1;
    if (key == NULL || key[0] == '\0') {
        wipe_key(api);
        return 0;
    }
    size_t n = strlen(key);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return -1;      /* would break or inject into the header */
    }
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, key, n + 1);
    wipe_key(api);
    api->key = copy;
    api->key_len = n;
    return 0;
}

int fq_api_add_auth(struct curl_slist **list, const char *key, size_t key_len)
{
    size_t plen = strlen(AUTH_PREFIX);
    size_t n = plen + key_len + 1;
    char *auth = malloc(n);
    if (auth == NULL)
        return -1;
    memcpy(auth, AUTH_PREFIX, plen);
    memcpy(auth + plen, key, key_len);
    auth[plen + key_len] = '\0';
    struct curl_slist *t = curl_slist_append(*list, auth);
    explicit_bzero(auth, n);
    free(auth);
    if (t == NULL)
        return -1;
    *list = t;
    return 0;
}

/* Builds the header list; the Authorization line is assembled in a
 * scratch buffer that is wiped as soon as curl has its copy. */
static struct curl_slist *make_headers(const fq_api *api)
{
    struct curl_slist *list = NULL;
    struct curl_slist *t;
    static const char *const fixed[] = {
        "Content-Type: application/json",
        "Accept: application/json",
        "Expect:",          /* no 100-continue round trip for big bodies */
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if ((t = curl_slist_append(list, fixed[i])) == NULL)
            goto err;
        list = t;
    }
    if (api->key != NULL && fq_api_add_auth(&list, api->key, api->key_len) != 0)
        goto err;
    return list;
err:
    curl_slist_free_all(list);
    return NULL;
}

void fq_api_call_on_delta(fq_api_call *call, fq_api_delta_cb cb)
{
    if (call != NULL)
        call->on_delta = cb;
}

fq_api_call *fq_api_post(fq_api *api, const char *body, int timeout_s,
                         fq_api_cb cb, void *data)
{
    fq_api_call *c = NULL;

    if (api == NULL || api->closing || body == NULL || cb == NULL)
        return NULL;
    if (timeout_s <= 0)
        timeout_s = FQ_API_DEFAULT_TIMEOUT_S;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        goto err;
    c->api = api;
    c->cb = cb;
    c->data = data;
    c->timeout_s = timeout_s;
    c->result.usage.cost_ticks = -1;
    fq_ratelimit_headers_init(&c->result.rl);
    if ((c->headers = make_headers(api)) == NULL)
        goto err;
    if ((c->easy = curl_easy_init()) == NULL)
        goto err;

    CURL *e = c->easy;
    if (curl_easy_setopt(e, CURLOPT_URL, api->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "fleetq/" FQ_VERSION) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, FQ_API_CONNECT_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)c) != CURLE_OK)
        goto err;
    if (curl_multi_add_handle(api->multi, e) != CURLM_OK)
        goto err;
    c->started_ns = uv_hrtime();
    call_link(api, c);
    return c;
err:
    if (c != NULL)
        call_free(c);
    return NULL;
}

void fq_api_set_stall_timeout(fq_api *api, int seconds)
{
    if (api == NULL)
        return;
    api->stall_s = seconds > 0 ? seconds : 0;
    if (api->stall_s == 0 && !api->closing)
        uv_timer_stop(&api->watchdog);
}

int fq_api_inflight(const fq_api *api)
{
    return api != NULL ? api->inflight : 0;
}

void fq_api_close(fq_api *api)
{
    if (api == NULL || api->closing)
        return;
    api->closing = 1;
    wipe_key(api);

    /* Take every call out of curl first, so that no callback below can
     * find the multi handle half torn down. */
    fq_api_call *aborted = api->calls;
    api->calls = NULL;
    api->inflight = 0;
    for (fq_api_call *c = aborted; c != NULL; c = c->next)
        curl_multi_remove_handle(api->multi, c->easy);
    CURLM *multi = api->multi;
    api->multi = NULL;          /* socket callbacks during cleanup only close polls */
    curl_multi_cleanup(multi);

    uv_timer_stop(&api->timer);
    uv_close((uv_handle_t *)&api->timer, on_timer_close);
    uv_timer_stop(&api->watchdog);
    uv_close((uv_handle_t *)&api->watchdog, on_timer_close);
    for (poll_ctx *p = api->polls; p != NULL; p = p->next)
        poll_close(p);

    api->depth++;
    while (aborted != NULL) {
        fq_api_call *c = aborted;
        aborted = c->next;
        c->next = c->prev = NULL;
        fq_api_parse_response(0, NULL, 0, 2, "aborted", &c->result);
        c->result.outcome = FQ_OUT_NETWORK;
        call_report(c);
    }
    api->depth--;
    maybe_free(api);
}
