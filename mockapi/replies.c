/* replies.c -- response helpers shared by every route.
 *
 * Bodies printed by cJSON are released with cJSON_free by MHD itself once
 * sent (MHD_create_response_from_buffer_with_free_callback), so no copy is
 * made. The status of a chat request is counted here, once, when it is
 * queued.
 */
#include "mock_reply.h"

#include <stdlib.h>
#include <string.h>

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

enum MHD_Result mock_reply_error(struct MHD_Connection *c, mock_req *r, unsigned status,
                                 const char *code, const char *message)
{
    cJSON *obj = cJSON_CreateObject();
    if (obj && (!cJSON_AddStringToObject(obj, "code", code) ||
                !cJSON_AddStringToObject(obj, "error", message))) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    return mock_reply_json(c, r, status, obj);
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
