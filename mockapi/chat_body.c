/* chat_body.c -- the JSON of a chat answer: the "usage" object (xAI's
 * fields, which include OpenAI's) and the whole chat.completion body.
 * With the setting usage off an answer has no "usage" at all, as some
 * OpenAI-compatible servers answer; the mock still bills and counts it.
 */
#include "mock_chat.h"

#include <string.h>

static cJSON *usage_json(const mock_chat_answer *a, int with_cost)
{
    cJSON *u = cJSON_CreateObject();
    if (!u) return NULL;
    cJSON *pd = NULL, *cd = NULL;
    if (!cJSON_AddNumberToObject(u, "prompt_tokens", (double)a->prompt_tokens)) goto err;
    if (!cJSON_AddNumberToObject(u, "completion_tokens", (double)a->completion_tokens)) goto err;
    if (!cJSON_AddNumberToObject(u, "total_tokens", (double)(a->prompt_tokens +
                                 a->completion_tokens + a->reasoning_tokens))) goto err;
    if (!(pd = cJSON_AddObjectToObject(u, "prompt_tokens_details"))) goto err;
    if (!cJSON_AddNumberToObject(pd, "text_tokens", (double)a->prompt_tokens)) goto err;
    if (!cJSON_AddNumberToObject(pd, "audio_tokens", 0)) goto err;
    if (!cJSON_AddNumberToObject(pd, "image_tokens", 0)) goto err;
    if (!cJSON_AddNumberToObject(pd, "cached_tokens", (double)a->cached_tokens)) goto err;
    if (!(cd = cJSON_AddObjectToObject(u, "completion_tokens_details"))) goto err;
    if (!cJSON_AddNumberToObject(cd, "reasoning_tokens", (double)a->reasoning_tokens)) goto err;
    if (!cJSON_AddNumberToObject(cd, "audio_tokens", 0)) goto err;
    if (!cJSON_AddNumberToObject(cd, "accepted_prediction_tokens", 0)) goto err;
    if (!cJSON_AddNumberToObject(cd, "rejected_prediction_tokens", 0)) goto err;
    if (!cJSON_AddNumberToObject(u, "num_sources_used", 0)) goto err;
    if (with_cost && !cJSON_AddNumberToObject(u, "cost_in_usd_ticks", (double)a->cost_ticks))
        goto err;
    return u;
err:
    cJSON_Delete(u);
    return NULL;
}

int mock_chat_add_usage(cJSON *obj, const mock_chat_answer *a, const mock_config *cfg)
{
    if (!cfg->usage) return 0;
    cJSON *usage = usage_json(a, cfg->cost_ticks);
    if (!usage) return -1;
    if (!cJSON_AddItemToObject(obj, "usage", usage)) {
        cJSON_Delete(usage);
        return -1;
    }
    return 0;
}

char *mock_chat_body(const mock_chat_req *req, const mock_chat_answer *a,
                     const mock_config *cfg, size_t *len)
{
    char *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (!cJSON_AddStringToObject(root, "id", a->id)) goto done;
    if (!cJSON_AddStringToObject(root, "object", "chat.completion")) goto done;
    if (!cJSON_AddNumberToObject(root, "created", (double)a->created)) goto done;
    if (!cJSON_AddStringToObject(root, "model", req->model->id)) goto done;
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    if (!choices) goto done;
    cJSON *choice = cJSON_CreateObject();
    if (!choice) goto done;
    if (!cJSON_AddItemToArray(choices, choice)) {
        cJSON_Delete(choice);
        goto done;
    }
    if (!cJSON_AddNumberToObject(choice, "index", 0)) goto done;
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    if (!msg) goto done;
    if (!cJSON_AddStringToObject(msg, "role", "assistant")) goto done;
    if (!cJSON_AddStringToObject(msg, "content", a->content)) goto done;
    if (!cJSON_AddNullToObject(msg, "refusal")) goto done;
    if (!cJSON_AddStringToObject(choice, "finish_reason", a->cut_at_max ? "length" : "stop"))
        goto done;
    if (mock_chat_add_usage(root, a, cfg) != 0) goto done;
    if (!cJSON_AddStringToObject(root, "system_fingerprint", "fp_mock")) goto done;
    out = cJSON_PrintUnformatted(root);
    if (out) *len = strlen(out);
done:
    cJSON_Delete(root);
    return out;
}
