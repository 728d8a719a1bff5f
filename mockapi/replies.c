/* replies.c -- response helpers shared by every route.
 *
 * Bodies printed by cJSON are released with cJSON_free by MHD itself once
 * sent (MHD_create_response_from_buffer_with_free_callback), so no copy is
 * made. The status of a chat request is counted here, once, when it is
 * queued. Error bodies are built in one place from the table of words
 * below, in the style the request arrived under.
 */
#include "mock_reply.h"

#include <stdlib.h>
#include <string.h>

#include "mock_config.h"
#include "mock_faults.h"
#include "mock_stats.h"

struct MHD_Response *mock_reply_buffer(char *buf, size_t len, const char *content_type,
                                       void (*free_fn)(void *))
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, buf, free_fn);
    if (!resp) {
        free_fn(buf);
        return NULL;
    }
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
}

enum MHD_Result mock_reply_send(struct MHD_Connection *c, mock_req *r, unsigned status,
                                struct MHD_Response *resp)
{
    if (!resp) {
        r->outcome = "out_of_memory";
        return MHD_NO;
    }
    if (r->request_id[0] == '\0') mock_rand_uuid(r->request_id);
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES) {
        r->status = (int)status;
        if (r->chat) mock_stats_status((int)status);
    }
    return rc;
}

enum MHD_Result mock_reply_json(struct MHD_Connection *c, mock_req *r, unsigned status,
                                cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return mock_reply_send(c, r, status, NULL);
    return mock_reply_send(c, r, status,
                           mock_reply_buffer(text, strlen(text), "application/json", cJSON_free));
}

/* How each kind of error is worded: xAI's status and "code", OpenAI's
 * status, "type" and "code" (NULL: null). */
struct error_words {
    unsigned xai_status;
    const char *xai_code;
    unsigned openai_status;
    const char *openai_type;
    const char *openai_code;
};

#define XAI_INVALID "Client specified an invalid argument"
#define XAI_NOT_FOUND "Some requested entity was not found"
#define XAI_EXHAUSTED "Some resource has been exhausted"
#define OPENAI_INVALID "invalid_request_error"

static const struct error_words error_words[] = {
    [MOCK_ERR_NO_KEY] = { 401, "unauthenticated", 401, OPENAI_INVALID, "invalid_api_key" },
    [MOCK_ERR_WRONG_KEY] = { 400, XAI_INVALID, 401, OPENAI_INVALID, "invalid_api_key" },
    [MOCK_ERR_BLOCKED] = { 403, "permission-denied", 403, OPENAI_INVALID, "account_deactivated" },
    [MOCK_ERR_CREDITS_DENIED] = { 403, "permission-denied", 429, "insufficient_quota",
                                  "insufficient_quota" },
    [MOCK_ERR_CREDITS_EXHAUSTED] = { 429, "resource-exhausted", 429, "insufficient_quota",
                                     "insufficient_quota" },
    [MOCK_ERR_TOO_LARGE] = { 413, XAI_INVALID, 413, OPENAI_INVALID, NULL },
    [MOCK_ERR_BAD_REQUEST] = { 400, XAI_INVALID, 400, OPENAI_INVALID, NULL },
    [MOCK_ERR_NO_ROUTE] = { 404, XAI_NOT_FOUND, 404, OPENAI_INVALID, NULL },
    [MOCK_ERR_NO_MODEL] = { 404, XAI_NOT_FOUND, 404, OPENAI_INVALID, "model_not_found" },
    [MOCK_ERR_RATE_REQUESTS] = { 429, XAI_EXHAUSTED, 429, "requests", "rate_limit_exceeded" },
    [MOCK_ERR_RATE_TOKENS] = { 429, XAI_EXHAUSTED, 429, "tokens", "rate_limit_exceeded" },
    [MOCK_ERR_INTERNAL] = { 500, "Internal error", 500, "server_error", NULL },
    [MOCK_ERR_UNAVAILABLE] = { 503, "The service is currently unavailable", 503,
                               "server_error", NULL },
};

unsigned mock_reply_error_status(const mock_req *r, mock_error kind)
{
    const struct error_words *w = &error_words[kind];
    return r->error_style == MOCK_STYLE_OPENAI ? w->openai_status : w->xai_status;
}

/* {"error": {"message", "type", "param": null, "code"}} */
static cJSON *openai_body(const struct error_words *w, const char *message)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON *error = obj ? cJSON_AddObjectToObject(obj, "error") : NULL;
    if (!error || !cJSON_AddStringToObject(error, "message", message) ||
        !cJSON_AddStringToObject(error, "type", w->openai_type) ||
        !cJSON_AddNullToObject(error, "param") ||
        !(w->openai_code ? cJSON_AddStringToObject(error, "code", w->openai_code)
                         : cJSON_AddNullToObject(error, "code"))) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* {"code", "error"} */
static cJSON *xai_body(const struct error_words *w, const char *message)
{
    cJSON *obj = cJSON_CreateObject();
    if (obj && (!cJSON_AddStringToObject(obj, "code", w->xai_code) ||
                !cJSON_AddStringToObject(obj, "error", message))) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

cJSON *mock_reply_error_json(const mock_req *r, mock_error kind, const char *message)
{
    const struct error_words *w = &error_words[kind];
    return r->error_style == MOCK_STYLE_OPENAI ? openai_body(w, message) : xai_body(w, message);
}

struct MHD_Response *mock_reply_error_response(const mock_req *r, mock_error kind,
                                               const char *message)
{
    cJSON *obj = mock_reply_error_json(r, kind, message);
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return NULL;
    return mock_reply_buffer(text, strlen(text), "application/json", cJSON_free);
}

enum MHD_Result mock_reply_error(struct MHD_Connection *c, mock_req *r, mock_error kind,
                                 const char *message)
{
    return mock_reply_send(c, r, mock_reply_error_status(r, kind),
                           mock_reply_error_response(r, kind, message));
}

static void no_free(void *p)
{
    (void)p;
}

enum MHD_Result mock_reply_static(struct MHD_Connection *c, mock_req *r, unsigned status,
                                  const char *content_type, const char *text)
{
    return mock_reply_send(c, r, status,
                           mock_reply_buffer((char *)text, strlen(text), content_type, no_free));
}
