/* completions.c -- POST /v1/chat/completions, the way xAI answers it.
 *
 * The checks run in the provider's order and the first that fails
 * answers: body size (413), no key (401), wrong key (400; 401 in OpenAI's
 * error style), blocked key (403) -- none of these three with the setting
 * auth off --, credits spent (403 or 429; also while quota_exhausted is
 * on), a body that is not a valid request (400), an unknown model or one
 * not served (404), a parameter the model refuses (400), a request whose
 * prompt + max_tokens exceed request_token_limit (429, kept out of the
 * windows), the true rate limits of the model and of the key (429; refused
 * calls do not enter the windows). A request that passes is admitted and
 * may then meet an injected fault: a reset (closed at once, no answer), a
 * hang (hang_ms of sleep, then handled like any other admitted call,
 * unless the client has left by then), a 500, 502 or 503, a truncated 200
 * (billed like a whole one), or for a streamed call an error event after
 * the first chunks (not billed). Every admitted call that gets an answer
 * waits latency + jitter first; a 200 carries usage (unless the setting
 * usage is off), cost and the x-ratelimit headers.
 *
 * The settings are copied once at the start, so each request sees one
 * consistent configuration even while /mock/config changes it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mock_chat.h"
#include "mock_config.h"
#include "mock_faults.h"
#include "mock_limiter.h"
#include "mock_limits_reply.h"
#include "mock_rate_headers.h"
#include "mock_reply.h"
#include "mock_request_log.h"
#include "mock_server.h"
#include "mock_stats.h"
#include "mock_stream.h"
#include "mock_stream_error.h"
#include "mock_timing.h"

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer_token(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ') h++;
    return *h ? h : NULL;
}

/* "te***ey": the first and last two characters of what was sent; a token
 * shorter than 8 characters is shown as "***" alone, since four of its
 * characters would give most of it away. */
static void redact(const char *key, char *out, size_t outlen)
{
    size_t n = strlen(key);
    if (n < 8) {
        snprintf(out, outlen, "***");
        return;
    }
    char v[4] = { key[0], key[1], key[n - 2], key[n - 1] };
    for (int i = 0; i < 4; i++)
        if (v[i] < 0x21 || v[i] > 0x7e) v[i] = '?';
    snprintf(out, outlen, "%c%c***%c%c", v[0], v[1], v[2], v[3]);
}

static enum MHD_Result check_key(struct MHD_Connection *c, mock_req *r, const mock_config *cfg)
{
    if (!cfg->auth) return MHD_YES;
    const char *token = bearer_token(c);
    char msg[256];

    if (!token) {
        mock_stats_auth_failure();
        r->outcome = "no_key";
        return mock_reply_error(c, r, MOCK_ERR_NO_KEY,
            "No API key provided. Specify your API key in an Authorization header using "
            "Bearer auth (Authorization: Bearer <your API key>). You can obtain an API key "
            "from https://console.x.ai.");
    }
    if (cfg->key[0] != '\0' && strcmp(token, cfg->key) != 0) {
        char shown[16];
        redact(token, shown, sizeof(shown));
        snprintf(msg, sizeof(msg), "Incorrect API key provided: %s. You can obtain an API "
                 "key from https://console.x.ai.", shown);
        mock_stats_auth_failure();
        r->outcome = "wrong_key";
        return mock_reply_error(c, r, MOCK_ERR_WRONG_KEY, msg);
    }
    if (cfg->blocked) {
        mock_stats_auth_failure();
        r->outcome = "blocked";
        return mock_reply_error(c, r, MOCK_ERR_BLOCKED,
            "The API key you provided is blocked. Please contact support or create a new "
            "key at https://console.x.ai.");
    }
    return MHD_YES;
}

static enum MHD_Result server_error(struct MHD_Connection *c, mock_req *r)
{
    r->outcome = "server_error";
    switch (mock_rand_range(0, 2)) {
    case 0:
        return mock_reply_error(c, r, MOCK_ERR_INTERNAL, MOCK_MSG_INTERNAL);
    case 1:
        return mock_reply_static(c, r, 502, "text/html",
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n");
    default:
        return mock_reply_error(c, r, MOCK_ERR_UNAVAILABLE, MOCK_MSG_UNAVAILABLE);
    }
}

/* The streamed 200 of a call that met fault (none, truncate or a stream
 * error). */
static struct MHD_Response *streamed(const mock_req *r, const mock_config *cfg,
                                     const mock_chat_req *req, const mock_chat_answer *a,
                                     mock_fault fault)
{
    if (fault != MOCK_FAULT_STREAM_ERROR)
        return mock_stream_sse(req, a, cfg, fault == MOCK_FAULT_TRUNCATE ? MOCK_STREAM_CUT
                                                                         : MOCK_STREAM_WHOLE,
                               NULL);
    cJSON *event = mock_stream_error_event(r, cfg, req->model);
    return event ? mock_stream_sse(req, a, cfg, MOCK_STREAM_ERROR, event) : NULL;
}

/* The plain 200, whole or (truncate) cut. */
static struct MHD_Response *plain(const mock_config *cfg, const mock_chat_req *req,
                                  const mock_chat_answer *a, int truncate)
{
    size_t len = 0;
    char *body = mock_chat_body(req, a, cfg, &len);
    if (!body) return NULL;
    if (!truncate) return mock_reply_buffer(body, len, "application/json", cJSON_free);
    if (mock_rand_range(0, 1) == 0)   /* complete transfer of half a document: invalid JSON */
        return mock_reply_buffer(body, len / 2, "application/json", cJSON_free);
    return mock_stream_cut(body, len);   /* announces the whole length, breaks off halfway */
}

/* The 200 of a call that met fault (none, truncate or a stream error);
 * billed unless it is a stream error. */
static enum MHD_Result answer(struct MHD_Connection *c, mock_req *r, const mock_config *cfg,
                              const mock_chat_req *req, mock_fault fault)
{
    mock_chat_answer a;
    int truncate = fault == MOCK_FAULT_TRUNCATE;

    if (mock_chat_answer_make(req, cfg, &a) != 0) {
        r->outcome = "out_of_memory";
        return mock_reply_error(c, r, MOCK_ERR_INTERNAL, "The mock ran out of memory.");
    }
    if (fault == MOCK_FAULT_STREAM_ERROR) {
        r->outcome = "stream_error";
    } else {
        mock_limiter_charge(cfg, req->model, mock_timing_now_ms(),
                            a.prompt_tokens + a.completion_tokens + a.reasoning_tokens);
        mock_stats_billed(req->model, !truncate, a.prompt_tokens, a.completion_tokens,
                          a.reasoning_tokens, a.cached_tokens, a.cost_ticks);
        r->prompt_tokens = a.prompt_tokens;
        r->completion_tokens = a.completion_tokens;
        r->reasoning_tokens = a.reasoning_tokens;
        r->cost_ticks = a.cost_ticks;
        r->outcome = truncate ? "truncated" : "ok";
    }
    struct MHD_Response *resp = req->stream ? streamed(r, cfg, req, &a, fault)
                                            : plain(cfg, req, &a, truncate);
    mock_chat_answer_free(&a);
    if (resp) mock_rate_headers_add(resp, cfg, req->model, MOCK_LIMIT_OK, NULL);
    return mock_reply_send(c, r, 200, resp);
}

/* Sleeps for a latency or hang; MHD_NO (close) when the client left or the
 * mock is stopping, MHD_YES to go on. */
static enum MHD_Result pause_for(struct MHD_Connection *c, mock_req *r, int64_t ms)
{
    if (ms <= 0) return MHD_YES;
    int w = mock_timing_wait(mock_server_client_fd(c), ms);
    if (w == MOCK_WAIT_DONE) return MHD_YES;
    r->outcome = w == MOCK_WAIT_GONE ? "client_left" : "shutdown";
    return MHD_NO;
}

enum MHD_Result mock_completions_handle(struct MHD_Connection *c, mock_req *r)
{
    mock_config cfg;
    mock_chat_req req;
    char err[512];
    enum MHD_Result rc;

    mock_config_get(&cfg);
    if (r->too_large) {
        r->outcome = "too_large";
        return mock_reply_error(c, r, MOCK_ERR_TOO_LARGE,
            "The request body is larger than the 4 MiB limit. Send a shorter prompt.");
    }
    rc = check_key(c, r, &cfg);
    if (rc != MHD_YES || r->status != 0) return rc;
    int credits_spent = cfg.credits_ticks > 0 && mock_stats_spend() >= cfg.credits_ticks;
    if (cfg.quota_exhausted || credits_spent) return mock_limits_reply_credits(c, r, &cfg);

    int status = mock_chat_parse(r->body ? r->body : "", r->len, &cfg.models, &req, err,
                                 sizeof(err));
    if (status != 0) {
        r->outcome = status == 404 ? "unknown_model" : "bad_request";
        return mock_reply_error(c, r, status == 404 ? MOCK_ERR_NO_MODEL : MOCK_ERR_BAD_REQUEST,
                                err);
    }
    r->model = req.model->id;
    mock_request_log_write(r->body, r->len);

    long requested = (long)req.prompt_tokens + req.max_tokens;
    if (cfg.request_token_limit > 0 && requested > cfg.request_token_limit) {
        mock_stats_request_too_large();
        rc = mock_limits_reply_too_large(c, r, &cfg, req.model, requested);
        goto done;
    }

    mock_limit_hit hit;
    mock_stats_model_request(req.model);
    int limit = mock_limiter_admit(&cfg, req.model, mock_timing_now_ms(), req.prompt_tokens,
                                   &hit);
    if (limit == MOCK_LIMIT_NOMEM) {
        r->outcome = "out_of_memory";
        rc = mock_reply_error(c, r, MOCK_ERR_INTERNAL, "The mock ran out of memory.");
        goto done;
    }
    if (limit != MOCK_LIMIT_OK) {
        mock_stats_rate_limited(req.model, limit == MOCK_LIMIT_TOKENS);
        rc = mock_limits_reply_rate_limited(c, r, &cfg, req.model, limit, &hit);
        goto done;
    }
    mock_stats_admitted(req.model);

    mock_fault fault = mock_faults_draw(&cfg, req.stream);
    if (fault != MOCK_FAULT_NONE) mock_stats_fault(fault);
    if (fault == MOCK_FAULT_RESET) {
        int fd = mock_server_client_fd(c);
        struct linger lg = { 1, 0 };   /* close with RST */
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        r->outcome = "reset";
        rc = MHD_NO;
        goto done;
    }
    if (fault == MOCK_FAULT_HANG && (rc = pause_for(c, r, cfg.hang_ms)) != MHD_YES) goto done;
    int64_t latency = cfg.latency_ms + (cfg.jitter_ms > 0 ? mock_rand_range(0, cfg.jitter_ms) : 0);
    if ((rc = pause_for(c, r, latency)) != MHD_YES) goto done;

    if (fault == MOCK_FAULT_SERVER_ERROR)
        rc = server_error(c, r);
    else
        rc = answer(c, r, &cfg, &req, fault);
done:
    mock_chat_req_free(&req);
    return rc;
}
