/* admin.c -- the small routes: the model list (OpenAI's shape, the served
 * models only) and the /mock/ controls that tests use to read counters,
 * start afresh and change behaviour at runtime.
 */
#include <stdio.h>
#include <string.h>

#include "mock_cache.h"
#include "mock_config.h"
#include "mock_limiter.h"
#include "mock_prices.h"
#include "mock_reply.h"
#include "mock_server.h"
#include "mock_stats.h"

#define MODELS_CREATED 1735689600   /* 2025-01-01, a fixed listing date */

enum MHD_Result mock_admin_models(struct MHD_Connection *c, mock_req *r)
{
    mock_config cfg;
    mock_config_get(&cfg);
    cJSON *root = cJSON_CreateObject();
    if (!root) goto err;
    if (!cJSON_AddStringToObject(root, "object", "list")) goto err;
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    if (!data) goto err;
    for (size_t i = 0; i < mock_prices_count(); i++) {
        if (!mock_model_list_has(&cfg.models, mock_prices_at(i))) continue;
        cJSON *m = cJSON_CreateObject();
        if (!m) goto err;
        if (!cJSON_AddItemToArray(data, m)) {
            cJSON_Delete(m);
            goto err;
        }
        if (!cJSON_AddStringToObject(m, "id", mock_prices_at(i)->id) ||
            !cJSON_AddStringToObject(m, "object", "model") ||
            !cJSON_AddNumberToObject(m, "created", MODELS_CREATED) ||
            !cJSON_AddStringToObject(m, "owned_by",
                                     strncmp(mock_prices_at(i)->id, "gpt-", 4) == 0 ? "openai"
                                                                                   : "xai"))
            goto err;
    }
    r->outcome = "ok";
    return mock_reply_json(c, r, 200, root);
err:
    cJSON_Delete(root);
    return mock_reply_send(c, r, 500, NULL);
}

/* Adds the limiter's maxima to the counters: the key's max_in_window and
 * each by_model entry's. */
static int add_window_maxima(cJSON *root)
{
    if (!cJSON_AddNumberToObject(root, "max_in_window", (double)mock_limiter_max_in_window()))
        return -1;
    cJSON *by_model = cJSON_GetObjectItemCaseSensitive(root, "by_model");
    for (size_t i = 0; i < mock_prices_count(); i++) {
        const mock_model *m = mock_prices_at(i);
        cJSON *entry = cJSON_GetObjectItemCaseSensitive(by_model, m->id);
        if (!entry || !cJSON_AddNumberToObject(entry, "max_in_window",
                                               (double)mock_limiter_model_max_in_window(m)))
            return -1;
    }
    return 0;
}

enum MHD_Result mock_admin_stats(struct MHD_Connection *c, mock_req *r)
{
    cJSON *root = mock_stats_json();
    if (root && add_window_maxima(root) != 0) {
        cJSON_Delete(root);
        root = NULL;
    }
    r->outcome = "ok";
    return mock_reply_json(c, r, 200, root);
}

static enum MHD_Result reply_ok(struct MHD_Connection *c, mock_req *r)
{
    r->outcome = "ok";
    return mock_reply_static(c, r, 200, "application/json", "{\"ok\":true}");
}

enum MHD_Result mock_admin_reset(struct MHD_Connection *c, mock_req *r)
{
    mock_stats_reset();
    mock_limiter_reset();
    mock_cache_reset();
    return reply_ok(c, r);
}

enum MHD_Result mock_admin_config(struct MHD_Connection *c, mock_req *r)
{
    char err[256];
    cJSON *obj = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    if (!obj) {
        snprintf(err, sizeof(err), "the body is not valid JSON; send an object such as "
                 "{\"fail_rate\": 0.5}");
    } else if (mock_config_apply_json(obj, err, sizeof(err)) == 0) {
        cJSON_Delete(obj);
        return reply_ok(c, r);
    }
    cJSON_Delete(obj);
    cJSON *reply = cJSON_CreateObject();
    if (reply && (!cJSON_AddFalseToObject(reply, "ok") ||
                  !cJSON_AddStringToObject(reply, "error", err))) {
        cJSON_Delete(reply);
        reply = NULL;
    }
    r->outcome = "bad_config";
    return mock_reply_json(c, r, 400, reply);
}
